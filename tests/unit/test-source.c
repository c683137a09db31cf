/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/source: reading a state directory (which files, in what
 * order, size and entry limits, symbolic links, FIFOs).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/source.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static char tmp[64];

static void
setup(void)
{
	strcpy(tmp, "/tmp/banger-test-source-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void
teardown(void)
{
	(void)nftw(tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
put(const char *rel, const char *content)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", tmp, rel);
	_cleanup_free_ char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	ck_assert_int_eq(write_file_atomic(p, content, strlen(content), 0644), 0);
}

static const struct source_file *
find(const struct source *s, const char *path)
{
	for (size_t i = 0; i < s->n_files; i++)
		if (strcmp(s->files[i].path, path) == 0)
			return &s->files[i];
	return NULL;
}

START_TEST(test_reads_sorted_and_filters)
{
	_cleanup_(source_freep) struct source *s = NULL;
	struct error *err = NULL;
	static const char *const want[] = {
		"filesyncs/dots.yaml", "host.yaml", "images/base.yaml", "other/x.yaml",
		"vms/a.yaml", "vms/b.yaml",
	};

	put("vms/b.yaml", "image: base\n");
	put("vms/a.yaml", "image: base\n");
	put("vms/notes.txt", "not yaml\n");
	put("vms/c.yml", "ignored: yml\n");
	put("vms/.hidden.yaml", "ignored: hidden\n");
	put("vms/deep/d.yaml", "ignored: nested\n");
	put("images/base.yaml", "kernel: k\nrootfs: r\n");
	put("filesyncs/dots.yaml", "entries: []\n");
	put("other/x.yaml", "a: 1\n");
	put("host.yaml", "{}\n");
	put("README.yaml", "top-level files other than host.yaml are ignored\n");
	put(".git/config.yaml", "hidden folders are ignored\n");
	ck_assert_int_eq(source_dir_read(tmp, &s, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(s->root, tmp);
	ck_assert_ptr_null(s->commit);
	ck_assert_uint_eq(s->n_files, ELEMENTSOF(want));
	for (size_t i = 0; i < ELEMENTSOF(want); i++) {
		ck_assert_str_eq(s->files[i].path, want[i]);
		ck_assert_int_eq(s->files[i].read_error, 0);
		ck_assert_ptr_nonnull(s->files[i].data);
	}
	ck_assert_str_eq(find(s, "vms/a.yaml")->data, "image: base\n");
	ck_assert_uint_eq(find(s, "vms/a.yaml")->len, 12);
	/* Not read, but listed for the spec layer to report. */
	ck_assert_ptr_nonnull(s->unread);
	ck_assert_str_eq(s->unread[0], "README.yaml");
	ck_assert_str_eq(s->unread[1], "vms/c.yml");
	ck_assert_str_eq(s->unread[2], "vms/deep/d.yaml");
	ck_assert_ptr_null(s->unread[3]);
}
END_TEST

START_TEST(test_unread)
{
	_cleanup_(source_freep) struct source *s = NULL;
	struct error *err = NULL;
	static const char *const want[] = {
		"Host.YML", "images/base.YAML", "link.yaml", "mkdocs.yml", "vms/a.yml",
		"vms/old/deeper/z.yaml",
		"vms/old/web.yaml", "vms/old/x.yml", "vms/web.yml",
	};
	size_t n = 0;

	put("vms/web.yml", "image: base\n");
	put("vms/web.yaml~", "an editor's backup\n");
	put("vms/old/web.yaml", "image: base\n");
	put("vms/old/x.yml", "image: base\n");
	put("vms/old/notes.txt", "not yaml\n");
	put("vms/old/.y.yaml", "hidden\n");
	put("vms/old/deeper/z.yaml", "deeper too\n");
	put("vms/a.yml/notes", "a folder named like a declaration\n");
	put("vms/b/c/d/e/f/g/h/i/k/l/j.yaml", "past SOURCE_UNREAD_DEPTH\n");
	{
		_cleanup_free_ char *l = xasprintf("%s/link.yaml", tmp);

		/* At the top, a link is listed by its name, whatever it points at. */
		ck_assert_int_eq(symlink("/nonexistent", l), 0);
	}
	put("images/base.YAML", "kernel: k\nrootfs: r\n");
	put("other/sub/y.yaml", "not a kind folder\n");
	put("other/z.yml", "not a kind folder\n");
	put("Host.YML", "{}\n");
	put("mkdocs.yml", "site_name: x\n");
	put("notes.txt", "not yaml\n");
	ck_assert_int_eq(source_dir_read(tmp, &s, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(s->n_files, 0);
	for (; s->unread && s->unread[n]; n++) {
		ck_assert_uint_lt(n, ELEMENTSOF(want));
		ck_assert_str_eq(s->unread[n], want[n]);
	}
	ck_assert_uint_eq(n, ELEMENTSOF(want));
}
END_TEST

START_TEST(test_missing_root)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *p = xasprintf("%s/none", tmp);
	_cleanup_free_ char *f = xasprintf("%s/file", tmp);
	struct error *err = NULL;

	ck_assert_int_eq(source_dir_read(p, &s, &err), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(err);
	ck_assert(strstr(err->msg, "state directory '") == err->msg);
	error_free(err);
	err = NULL;
	put("file", "x");
	ck_assert_int_eq(source_dir_read(f, &s, &err), -ENOTDIR);
	error_free(err);
}
END_TEST

START_TEST(test_empty_root)
{
	_cleanup_(source_freep) struct source *s = NULL;

	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	ck_assert_uint_eq(s->n_files, 0);
}
END_TEST

START_TEST(test_size_limit)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *big = xmalloc(SOURCE_FILE_MAX + 2);

	memset(big, 'a', SOURCE_FILE_MAX + 1);
	big[SOURCE_FILE_MAX + 1] = '\0';
	put("vms/big.yaml", big);
	big[SOURCE_FILE_MAX] = '\0';
	put("vms/exact.yaml", big);
	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	ck_assert_int_eq(find(s, "vms/big.yaml")->read_error, -EFBIG);
	ck_assert_ptr_null(find(s, "vms/big.yaml")->data);
	ck_assert_int_eq(find(s, "vms/exact.yaml")->read_error, 0);
	ck_assert_uint_eq(find(s, "vms/exact.yaml")->len, SOURCE_FILE_MAX);
}
END_TEST

START_TEST(test_entry_limit)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *dir = xasprintf("%s/vms", tmp);
	struct error *err = NULL;

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	for (int i = 0; i < SOURCE_DIR_MAX_ENTRIES; i++) {
		_cleanup_free_ char *p = xasprintf("%s/v%d.txt", dir, i);
		int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);

		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	/* Exactly the limit is fine. */
	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	s = source_free(s);
	put("vms/one-more.yaml", "image: base\n");
	ck_assert_int_eq(source_dir_read(tmp, &s, &err), -E2BIG);
	ck_assert_ptr_null(s);
	ck_assert(strstr(err->msg, "holds more than 10000 entries, refusing to read it"));
	error_free(err);
}
END_TEST

START_TEST(test_symlinks)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *outside = xasprintf("%s-outside.yaml", tmp);
	_cleanup_free_ char *l1 = xasprintf("%s/vms/out.yaml", tmp);
	_cleanup_free_ char *l2 = xasprintf("%s/vms/in.yaml", tmp);
	_cleanup_free_ char *l3 = xasprintf("%s/vms/dangling.yaml", tmp);
	_cleanup_free_ char *l4 = xasprintf("%s/vms/up.yaml", tmp);

	ck_assert_int_eq(write_file_atomic(outside, "image: secret\n", 14, 0644), 0);
	put("vms/real.yaml", "image: base\n");
	put("shared/x.yaml", "image: shared\n");
	ck_assert_int_eq(symlink(outside, l1), 0);
	ck_assert_int_eq(symlink("real.yaml", l2), 0);
	ck_assert_int_eq(symlink("nowhere.yaml", l3), 0);
	ck_assert_int_eq(symlink("../shared/x.yaml", l4), 0);
	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	ck_assert_int_eq(find(s, "vms/out.yaml")->read_error, -EXDEV);
	ck_assert_ptr_null(find(s, "vms/out.yaml")->data);
	ck_assert_int_eq(find(s, "vms/in.yaml")->read_error, 0);
	ck_assert_str_eq(find(s, "vms/in.yaml")->data, "image: base\n");
	ck_assert_int_eq(find(s, "vms/dangling.yaml")->read_error, -ENOENT);
	ck_assert_str_eq(find(s, "vms/up.yaml")->data, "image: shared\n");
	(void)unlink(outside);
}
END_TEST

START_TEST(test_symlinked_folder_outside)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *outside = xasprintf("%s-outdir", tmp);
	_cleanup_free_ char *link = xasprintf("%s/vms", tmp);
	_cleanup_free_ char *link2 = xasprintf("%s/images", tmp);
	struct error *err = NULL;

	put("real-images/base.yaml", "kernel: k\n");
	ck_assert_int_eq(symlink("real-images", link2), 0);
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(source_dir_read(tmp, &s, &err), -EXDEV);
	ck_assert(strstr(err->msg, "is a symbolic link out of the state directory"));
	error_free(err);
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(rmdir(outside), 0);
	/* A link to a folder inside the root is followed. */
	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	ck_assert_ptr_nonnull(find(s, "images/base.yaml"));
	ck_assert_ptr_nonnull(find(s, "real-images/base.yaml"));
}
END_TEST

START_TEST(test_special_files)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *fifo = xasprintf("%s/vms/fifo.yaml", tmp);
	_cleanup_free_ char *dir = xasprintf("%s/vms/dir.yaml", tmp);

	put("vms/a.yaml", "image: base\n");
	ck_assert_int_eq(mkfifo(fifo, 0644), 0);
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	/* Must not block on the FIFO. */
	ck_assert_int_eq(source_dir_read(tmp, &s, NULL), 0);
	ck_assert_int_eq(find(s, "vms/fifo.yaml")->read_error, -EINVAL);
	ck_assert_int_eq(find(s, "vms/dir.yaml")->read_error, -EISDIR);
	ck_assert_int_eq(find(s, "vms/a.yaml")->read_error, 0);
}
END_TEST

START_TEST(test_root_is_a_link)
{
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *link = xasprintf("%s-link", tmp);

	put("vms/a.yaml", "image: base\n");
	ck_assert_int_eq(symlink(tmp, link), 0);
	/* The root may itself be a link (/etc/banger -> /srv/banger); files inside it are fine. */
	ck_assert_int_eq(source_dir_read(link, &s, NULL), 0);
	ck_assert_str_eq(s->root, link);
	ck_assert_uint_eq(s->n_files, 1);
	ck_assert_int_eq(s->files[0].read_error, 0);
	ck_assert_int_eq(unlink(link), 0);
}
END_TEST

static Suite *
source_suite(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("dir");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_reads_sorted_and_filters);
	tcase_add_test(tc, test_unread);
	tcase_add_test(tc, test_missing_root);
	tcase_add_test(tc, test_empty_root);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_entry_limit);
	tcase_add_test(tc, test_symlinks);
	tcase_add_test(tc, test_symlinked_folder_outside);
	tcase_add_test(tc, test_special_files);
	tcase_add_test(tc, test_root_is_a_link);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(source_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
