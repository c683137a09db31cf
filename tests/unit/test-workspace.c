/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Workspaces end to end without root: repositories built here with libgit2,
 * each mode materialised into a real ext4 work image through the real disk
 * driver's tree_copy, read back with debugfs (cat, stat, rdump) and the
 * dumped .git opened with libgit2; refs as branch, tag, commit id and HEAD;
 * escaping symlinks refused; LFS pointers and submodules reported; unknown
 * refs; a second materialisation replacing the first; e2fsck clean after
 * each.  Skips (77) without mkfs.ext4, debugfs or e2fsck.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "source/workspace.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/strv.h"

extern char **environ;

static char tmp_root[] = "/tmp/banger-test-ws-XXXXXX";
static char *repo_path, *work, *staging, *dump;
static struct disk_ops *disk;
static git_oid c1, c2, cdev;

static const char *
tool(const char *name)
{
	static char buf[256];
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

/* Run argv, return its exit status; stdout into *out when out is set. */
static int
run(char *const argv[], char **out)
{
	posix_spawn_file_actions_t fa;
	int pipefd[2], status;
	pid_t pid;
	char *buf = NULL;
	size_t len = 0;

	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	for (;;) {
		char chunk[4096];
		ssize_t n = read(pipefd[0], chunk, sizeof(chunk));

		if (n <= 0)
			break;
		buf = xrealloc(buf, len + (size_t)n + 1);
		memcpy(buf + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	close(pipefd[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (!buf)
		buf = xstrdup("");
	buf[len] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static char *
debugfs(const char *cmd)
{
	_cleanup_free_ char *path = xstrdup(tool("debugfs")), *c = xstrdup(cmd), *i = xstrdup(work);
	char *out = NULL;
	char *const argv[] = { path, (char *)"-R", c, i, NULL };

	ck_assert_int_eq(run(argv, &out), 0);
	return out;
}

static char *
guest_cat(const char *path)
{
	_cleanup_free_ char *cmd = xasprintf("cat %s", path);

	return debugfs(cmd);
}

/* The "Mode:  0640" of a guest path, or -1 when it does not exist. */
static int
guest_mode(const char *path)
{
	_cleanup_free_ char *cmd = xasprintf("stat %s", path);
	_cleanup_free_ char *out = debugfs(cmd);
	const char *m = strstr(out, "Mode:");

	if (!m)
		return -1;
	return (int)strtol(m + 5, NULL, 8);
}

static void
assert_fsck_clean(void)
{
	_cleanup_free_ char *path = xstrdup(tool("e2fsck")), *i = xstrdup(work);
	char *const argv[] = { path, (char *)"-f", (char *)"-n", i, NULL };

	ck_assert_int_eq(run(argv, NULL), 0);
}

static void
rm_rf(const char *p)
{
	struct error *e = NULL;

	ck_assert_int_eq(disk_rm_rf(p, &e), 0);
}

/* Copy the guest folder out of the image into dump/NAME (replacing it); the host path. */
static char *
guest_dump(const char *guest)
{
	_cleanup_free_ char *cmd = xasprintf("rdump %s %s", guest, dump);
	_cleanup_free_ char *out = NULL;
	const char *base = strrchr(guest, '/') + 1;
	char *host = xasprintf("%s/%s", dump, base);

	rm_rf(host);
	out = debugfs(cmd);
	return host;
}

static size_t
dir_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

struct tfile {
	const char *path;
	const char *data;	/* the link target for links, hex id for submodules */
	unsigned mode;		/* 0: regular */
};

static void
commit_files(git_repository *repo, const char *branch, const struct tfile *files,
	     const git_oid *parent_id, git_oid *ret)
{
	git_index *idx = NULL;
	git_oid tree_id;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_signature *sig = NULL;
	git_reference *r = NULL;
	_cleanup_free_ char *ref = xasprintf("refs/heads/%s", branch);

	ck_assert_int_eq(git_repository_index(&idx, repo), 0);
	ck_assert_int_eq(git_index_clear(idx), 0);
	for (const struct tfile *f = files; f->path; f++) {
		git_index_entry e = { 0 };

		e.path = f->path;
		e.mode = f->mode ? f->mode : GIT_FILEMODE_BLOB;
		if (f->mode == GIT_FILEMODE_COMMIT) {
			ck_assert_int_eq(git_oid_fromstr(&e.id, f->data), 0);
			ck_assert_int_eq(git_index_add(idx, &e), 0);
		} else {
			ck_assert_int_eq(git_index_add_from_buffer(idx, &e, f->data,
								   strlen(f->data)),
					 0);
		}
	}
	ck_assert_int_eq(git_index_write_tree_to(&tree_id, idx, repo), 0);
	ck_assert_int_eq(git_tree_lookup(&tree, repo, &tree_id), 0);
	ck_assert_int_eq(git_signature_new(&sig, "t", "t@example.invalid", 1700000000, 0), 0);
	if (parent_id)
		ck_assert_int_eq(git_commit_lookup(&parent, repo, parent_id), 0);
	{
		const git_commit *parents[1] = { parent };

		ck_assert_int_eq(git_commit_create(ret, repo, NULL, sig, sig, NULL, "c", tree,
						   parent ? 1 : 0, parents),
				 0);
	}
	ck_assert_int_eq(git_reference_create(&r, repo, ref, ret, 1, "t"), 0);
	git_reference_free(r);
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_index_free(idx);
}

static const char lfs_pointer[] =
	"version https://git-lfs.github.com/spec/v1\n"
	"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\n"
	"size 12345\n";

static void
setup(void)
{
	git_repository *repo = NULL;
	git_reference *tag = NULL;
	struct error *err = NULL;
	static const struct tfile one[] = {
		{ "README", "one\n", 0 },
		{ "bin/run.sh", "#!/bin/sh\necho hi\n", GIT_FILEMODE_BLOB_EXECUTABLE },
		{ "docs/readme-link", "../README", GIT_FILEMODE_LINK },
		{ NULL, NULL, 0 },
	};
	static const struct tfile two[] = {
		{ "README", "two\n", 0 },
		{ "bin/run.sh", "#!/bin/sh\necho hi\n", GIT_FILEMODE_BLOB_EXECUTABLE },
		{ "docs/readme-link", "../README", GIT_FILEMODE_LINK },
		{ "data/big.bin", lfs_pointer, 0 },
		{ "vendor/lib", "0123456789abcdef0123456789abcdef01234567", GIT_FILEMODE_COMMIT },
		{ NULL, NULL, 0 },
	};
	static const struct tfile dev[] = {
		{ "README", "one\n", 0 },
		{ "dev.txt", "on dev\n", 0 },
		{ NULL, NULL, 0 },
	};

	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	git_libgit2_init();
	repo_path = xasprintf("%s/app", tmp_root);
	work = xasprintf("%s/work.img", tmp_root);
	staging = xasprintf("%s/staging", tmp_root);
	dump = xasprintf("%s/dump", tmp_root);
	ck_assert_int_eq(mkdir(staging, 0700), 0);
	ck_assert_int_eq(mkdir(dump, 0700), 0);

	ck_assert_int_eq(git_repository_init(&repo, repo_path, 0), 0);
	ck_assert_int_eq(git_repository_set_head(repo, "refs/heads/main"), 0);
	commit_files(repo, "main", one, NULL, &c1);
	commit_files(repo, "dev", dev, &c1, &cdev);
	commit_files(repo, "main", two, &c1, &c2);
	ck_assert_int_eq(git_reference_create(&tag, repo, "refs/tags/v1", &c1, 0, "t"), 0);
	git_reference_free(tag);
	git_repository_free(repo);

	ck_assert_int_eq(disk_work_mkfs(work, 64ULL << 20, NULL, NULL, &err), 0);
	ck_assert_int_eq(disk_real_new(tmp_root, &disk, &err), 0);
}

static void
teardown(void)
{
	disk = disk_real_free(disk);
	rm_rf(tmp_root);
	git_libgit2_shutdown();
	free(repo_path);
	free(work);
	free(staging);
	free(dump);
}

static void
apply_ok(const struct vm_workspace *ws, struct workspace_result *res)
{
	struct error *err = NULL;
	int r = workspace_apply(ws, work, staging, res, &err);

	if (r < 0)
		ck_abort_msg("workspace_apply: %s", err->msg);
	ck_assert_uint_eq(dir_entries(staging), 0);
	assert_fsck_clean();
}

static char *
hex(const git_oid *id)
{
	char buf[GIT_OID_HEXSZ + 1];

	git_oid_tostr(buf, sizeof(buf), id);
	return xstrdup(buf);
}

static int
count_commit(const git_oid *id, void *payload)
{
	struct { git_odb *odb; size_t commits, all; } *c = payload;
	git_object_t type;
	size_t len;

	ck_assert_int_eq(git_odb_read_header(&len, &type, c->odb, id), 0);
	c->all++;
	if (type == GIT_OBJECT_COMMIT)
		c->commits++;
	return 0;
}

/* Commits in the object database of the repository at path; all objects in *ret_all. */
static size_t
commits_in(const char *path, size_t *ret_all)
{
	git_repository *repo = NULL;
	struct { git_odb *odb; size_t commits, all; } c = { NULL, 0, 0 };

	ck_assert_int_eq(git_repository_open(&repo, path), 0);
	ck_assert_int_eq(git_repository_odb(&c.odb, repo), 0);
	ck_assert_int_eq(git_odb_foreach(c.odb, count_commit, &c), 0);
	git_odb_free(c.odb);
	git_repository_free(repo);
	if (ret_all)
		*ret_all = c.all;
	return c.commits;
}

/* The commit HEAD names and whether it is detached. */
static char *
head_of(const char *path, bool *ret_detached, char **ret_branch)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	git_oid id;

	ck_assert_int_eq(git_repository_open(&repo, path), 0);
	ck_assert_int_eq(git_reference_name_to_id(&id, repo, "HEAD"), 0);
	*ret_detached = git_repository_head_detached(repo) == 1;
	if (ret_branch) {
		ck_assert_int_eq(git_repository_head(&head, repo), 0);
		*ret_branch = xstrdup(git_reference_shorthand(head));
		git_reference_free(head);
	}
	git_repository_free(repo);
	return hex(&id);
}

static bool
has_warning(char **w, const char *needle)
{
	for (size_t i = 0; w && w[i]; i++)
		if (strstr(w[i], needle))
			return true;
	return false;
}

START_TEST(test_full_copy_head)
{
	struct vm_workspace ws = { .repo = repo_path, .path = "/root/app",
				   .mode = WORKSPACE_FULL_COPY };
	struct workspace_result res = { 0 };
	_cleanup_free_ char *h2 = hex(&c2), *readme = NULL, *host = NULL, *head = NULL;
	_cleanup_free_ char *branch = NULL, *link = NULL, *run_sh = NULL;
	char target[64];
	ssize_t n;
	bool detached;
	size_t all;

	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h2);
	ck_assert_str_eq(res.branch, "main");
	ck_assert(has_warning(res.warnings, "LFS pointer 'data/big.bin'"));
	ck_assert(has_warning(res.warnings, "submodule 'vendor/lib'"));
	ck_assert_uint_eq(strv_length(res.warnings), 2);
	workspace_result_done(&res);

	readme = guest_cat("/root/app/README");
	ck_assert_str_eq(readme, "two\n");
	/* The guest's init learns where to mount it. */
	{
		_cleanup_free_ char *rec = guest_cat(WORKSPACE_RECORD_DIR "/path");

		ck_assert_str_eq(rec, "/root/app\n");
	}
	ck_assert_int_eq(guest_mode("/root/app/README"), 0644);
	ck_assert_int_eq(guest_mode("/root/app/bin/run.sh"), 0755);
	ck_assert_int_eq(guest_mode("/root/app"), 0755);
	/* The LFS pointer is copied as it is. */
	{
		_cleanup_free_ char *p = guest_cat("/root/app/data/big.bin");

		ck_assert_str_eq(p, lfs_pointer);
	}

	host = guest_dump("/root/app");
	/* The link inside the tree stays a link; the submodule is an empty folder. */
	link = xasprintf("%s/docs/readme-link", host);
	n = readlink(link, target, sizeof(target) - 1);
	ck_assert_int_eq(n, 9);
	target[n] = '\0';
	ck_assert_str_eq(target, "../README");
	{
		_cleanup_free_ char *sub = xasprintf("%s/vendor/lib", host);

		ck_assert_uint_eq(dir_entries(sub), 0);
	}
	/* History: all three commits, HEAD on main at c2. */
	ck_assert_uint_eq(commits_in(host, &all), 3);
	head = head_of(host, &detached, &branch);
	ck_assert_str_eq(head, h2);
	ck_assert(!detached);
	ck_assert_str_eq(branch, "main");
	run_sh = xasprintf("%s/bin/run.sh", host);
	ck_assert_int_eq(access(run_sh, F_OK), 0);
}
END_TEST

START_TEST(test_refs)
{
	struct vm_workspace ws = { .repo = repo_path, .ref = "dev", .path = "/srv/code/app",
				   .mode = WORKSPACE_FULL_COPY };
	struct workspace_result res = { 0 };
	_cleanup_free_ char *h1 = hex(&c1), *hdev = hex(&cdev), *short_id = NULL;
	_cleanup_free_ char *t = NULL, *host = NULL, *head = NULL, *branch = NULL;
	bool detached;

	/* A branch: HEAD on it, tracking origin. */
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, hdev);
	ck_assert_str_eq(res.branch, "dev");
	ck_assert_uint_eq(strv_length(res.warnings), 0);
	workspace_result_done(&res);
	t = guest_cat("/srv/code/app/dev.txt");
	ck_assert_str_eq(t, "on dev\n");
	free(t);
	host = guest_dump("/srv/code/app");
	head = head_of(host, &detached, &branch);
	ck_assert_str_eq(head, hdev);
	ck_assert_str_eq(branch, "dev");
	ck_assert(!detached);
	free(host);
	free(head);

	/* An abbreviated commit id: detached HEAD; the old files are gone. */
	short_id = xstrndup(h1, 10);
	ws.ref = short_id;
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h1);
	ck_assert_ptr_null(res.branch);
	workspace_result_done(&res);
	ck_assert_int_eq(guest_mode("/srv/code/app/dev.txt"), -1);
	t = guest_cat("/srv/code/app/README");
	ck_assert_str_eq(t, "one\n");
	host = guest_dump("/srv/code/app");
	head = head_of(host, &detached, NULL);
	ck_assert_str_eq(head, h1);
	ck_assert(detached);

	/* A full commit id and a tag; a staging folder an interrupted run left
	 * behind is removed (apply_ok checks staging is empty after). */
	{
		_cleanup_free_ char *left = xasprintf("%s/workspace-AbC123", staging);
		_cleanup_free_ char *inner = xasprintf("%s/tree", left);

		ck_assert_int_eq(mkdir(left, 0700), 0);
		ck_assert_int_eq(mkdir(inner, 0700), 0);
	}
	ws.ref = h1;
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h1);
	workspace_result_done(&res);
	ws.ref = "v1";
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h1);
	ck_assert_ptr_null(res.branch);
	workspace_result_done(&res);
	/* "HEAD" is the repository's HEAD branch. */
	ws.ref = "HEAD";
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.branch, "main");
	workspace_result_done(&res);
}
END_TEST

START_TEST(test_shallow)
{
	_cleanup_free_ char *url = xasprintf("file://%s", repo_path);
	struct vm_workspace ws = { .repo = repo_path, .path = "/root/app",
				   .mode = WORKSPACE_FULL_COPY };
	struct workspace_result res = { 0 };
	_cleanup_free_ char *h2 = hex(&c2), *hdev = hex(&cdev), *host = NULL, *head = NULL;
	_cleanup_free_ char *t = NULL, *shallow = NULL, *shallow_path = NULL, *branch = NULL;
	size_t len, all;
	bool detached;

	/* A full copy first: the shallow one must replace its .git entirely. */
	apply_ok(&ws, &res);
	workspace_result_done(&res);

	ws.mode = WORKSPACE_SHALLOW;
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h2);
	ck_assert(has_warning(res.warnings, "LFS pointer 'data/big.bin'"));
	ck_assert(has_warning(res.warnings, "submodule 'vendor/lib'"));
	workspace_result_done(&res);
	t = guest_cat("/root/app/README");
	ck_assert_str_eq(t, "two\n");
	ck_assert_int_eq(guest_mode("/root/app/bin/run.sh"), 0755);
	host = guest_dump("/root/app");
	/* One commit, its trees (root, bin, docs, data, vendor) and blobs (4). */
	ck_assert_uint_eq(commits_in(host, &all), 1);
	ck_assert_uint_eq(all, 1 + 5 + 4);
	head = head_of(host, &detached, &branch);
	ck_assert_str_eq(head, h2);
	ck_assert_str_eq(branch, "main");
	shallow_path = xasprintf("%s/.git/shallow", host);
	ck_assert_int_eq(read_file(shallow_path, 4096, &shallow, &len), 0);
	ck_assert_uint_eq(len, 41);
	ck_assert_int_eq(strncmp(shallow, h2, 40), 0);
	free(host);
	free(head);
	free(branch);

	/* Over a URL (a bare fetch first), at a branch. */
	ws.repo = url;
	ws.ref = "dev";
	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, hdev);
	workspace_result_done(&res);
	host = guest_dump("/root/app");
	ck_assert_uint_eq(commits_in(host, NULL), 1);
	head = head_of(host, &detached, &branch);
	ck_assert_str_eq(head, hdev);
	ck_assert_str_eq(branch, "dev");
}
END_TEST

START_TEST(test_metadata_only)
{
	struct vm_workspace ws = { .repo = repo_path, .path = "/root/meta",
				   .mode = WORKSPACE_METADATA_ONLY };
	struct workspace_result res = { 0 };
	_cleanup_free_ char *h2 = hex(&c2), *host = NULL, *head = NULL, *git = NULL;
	git_repository *repo = NULL;
	git_index *idx = NULL;
	bool detached;

	apply_ok(&ws, &res);
	ck_assert_str_eq(res.commit, h2);
	workspace_result_done(&res);
	ck_assert_int_eq(guest_mode("/root/meta/README"), -1);
	ck_assert_int_eq(guest_mode("/root/meta/.git"), 0755);
	host = guest_dump("/root/meta");
	/* Only .git: no work-tree files. */
	ck_assert_uint_eq(dir_entries(host), 1);
	git = xasprintf("%s/.git", host);
	ck_assert_int_eq(access(git, F_OK), 0);
	ck_assert_uint_eq(commits_in(host, NULL), 3);
	head = head_of(host, &detached, NULL);
	ck_assert_str_eq(head, h2);
	/* The index holds the commit's files, ready for a checkout in the guest. */
	ck_assert_int_eq(git_repository_open(&repo, host), 0);
	ck_assert_int_eq(git_repository_index(&idx, repo), 0);
	ck_assert_ptr_nonnull(git_index_get_bypath(idx, "README", 0));
	git_index_free(idx);
	git_repository_free(repo);
}
END_TEST

/* A repository whose one commit holds files; its path. */
static char *
repo_with(const char *name, const struct tfile *files)
{
	char *path = xasprintf("%s/%s", tmp_root, name);
	git_repository *repo = NULL;
	git_oid id;

	ck_assert_int_eq(git_repository_init(&repo, path, 0), 0);
	ck_assert_int_eq(git_repository_set_head(repo, "refs/heads/main"), 0);
	commit_files(repo, "main", files, NULL, &id);
	git_repository_free(repo);
	return path;
}

static void
apply_fails(const struct vm_workspace *ws, int code, const char *needle)
{
	struct workspace_result res = { 0 };
	struct error *err = NULL;

	int r = workspace_apply(ws, work, staging, &res, &err);

	ck_assert_ptr_nonnull(err);
	ck_assert_msg(r == code, "%d instead of %d: %s", r, code, err->msg);
	if (!strstr(err->msg, needle))
		ck_abort_msg("'%s' not in '%s'", needle, err->msg);
	ck_assert_ptr_null(res.commit);
	error_free(err);
	ck_assert_uint_eq(dir_entries(staging), 0);
}

START_TEST(test_refusals)
{
	static const struct tfile climbs[] = {
		{ "README", "x\n", 0 },
		{ "a/b/up", "../../../etc/passwd", GIT_FILEMODE_LINK },
		{ NULL, NULL, 0 },
	};
	static const struct tfile absolute[] = {
		{ "README", "x\n", 0 },
		{ "etc-link", "/etc", GIT_FILEMODE_LINK },
		{ NULL, NULL, 0 },
	};
	static const struct tfile inside[] = {
		{ "a/b/c", "x\n", 0 },
		{ "a/b/up", "../../a/./b/c", GIT_FILEMODE_LINK },
		{ NULL, NULL, 0 },
	};
	_cleanup_free_ char *p1 = repo_with("climbs", climbs), *p2 = repo_with("absolute", absolute);
	_cleanup_free_ char *p3 = repo_with("inside", inside), *empty = NULL;
	_cleanup_free_ char *missing = xasprintf("%s/none", tmp_root);
	struct vm_workspace ws = { .repo = p1, .path = "/root/x", .mode = WORKSPACE_FULL_COPY };
	struct workspace_result res = { 0 };
	git_repository *repo = NULL;

	for (int m = 0; m < _WORKSPACE_MODE_MAX; m++) {
		ws.mode = (enum workspace_mode)m;
		ws.repo = p1;
		apply_fails(&ws, -ELOOP,
			    "symlink 'a/b/up' points outside the repository ('../../../etc/passwd')");
		ws.repo = p2;
		apply_fails(&ws, -ELOOP, "symlink 'etc-link' points outside the repository ('/etc')");
	}
	/* Nothing was written for the refused ones. */
	ck_assert_int_eq(guest_mode("/root/x"), -1);
	ws.repo = p3;
	ws.mode = WORKSPACE_SHALLOW;
	apply_ok(&ws, &res);
	workspace_result_done(&res);

	/* Unknown refs and repositories, empty repositories. */
	ws.repo = repo_path;
	ws.ref = "nope";
	apply_fails(&ws, -ENOENT, "ref 'nope': no such branch, tag or commit in");
	ws.mode = WORKSPACE_FULL_COPY;
	apply_fails(&ws, -ENOENT, "ref 'nope': no such branch, tag or commit in");
	ws.ref = "abcdef0123";
	apply_fails(&ws, -ENOENT, "ref 'abcdef0123': no such branch");
	ws.ref = NULL;
	ws.repo = missing;
	apply_fails(&ws, -ENOENT, "open repository");
	ws.mode = WORKSPACE_SHALLOW;
	apply_fails(&ws, -ENOENT, "open repository");
	empty = xasprintf("%s/empty", tmp_root);
	ck_assert_int_eq(git_repository_init(&repo, empty, 0), 0);
	git_repository_free(repo);
	ws.repo = empty;
	apply_fails(&ws, -ENOENT, "has no commit on HEAD");
	/* The guest folder must be a real folder below /. */
	ws.repo = repo_path;
	ws.path = "/root/../x";
	apply_fails(&ws, -EINVAL, "'/root/../x'");
	/* Through the real disk ops: paths must lie under the status directory. */
	{
		_cleanup_free_ char *commit = NULL, *h2 = hex(&c2);
		_cleanup_strv_free_ char **warnings = NULL;
		struct error *err = NULL;

		ws.path = "/root/x";
		ws.mode = WORKSPACE_SHALLOW;
		ck_assert_int_eq(disk->workspace_apply(disk->userdata, "/tmp/elsewhere.img", &ws,
						       staging, &commit, &warnings, &err),
				 -EPERM);
		err = error_free(err);
		ck_assert_int_eq(disk->workspace_apply(disk->userdata, work, &ws, staging, &commit,
						       &warnings, &err),
				 0);
		ck_assert_str_eq(commit, h2);
		ck_assert_uint_eq(strv_length(warnings), 2);
		ck_assert_uint_eq(dir_entries(staging), 0);
	}
	assert_fsck_clean();
}
END_TEST

/* The copy into the image refuses what a workspace never holds. */
START_TEST(test_copy_tree_refusals)
{
	_cleanup_free_ char *dir = xasprintf("%s/tree", tmp_root);
	_cleanup_free_ char *file = xasprintf("%s/tree/f", tmp_root);
	_cleanup_free_ char *link = xasprintf("%s/tree/up", tmp_root);
	_cleanup_free_ char *fifo = xasprintf("%s/tree/pipe", tmp_root);
	struct error *err = NULL;

	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(write_file_atomic(file, "x", 1, 0644), 0);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/", &err), -EINVAL);
	err = error_free(err);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/../etc", &err), -EINVAL);
	err = error_free(err);
	ck_assert_int_eq(disk_work_copy_tree(work, file, "/root/t", &err), -ENOTDIR);
	err = error_free(err);
	ck_assert_int_eq(symlink("../../etc/passwd", link), 0);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t", &err), -ELOOP);
	ck_assert_ptr_nonnull(strstr(err->msg, "symlink '"));
	ck_assert_ptr_nonnull(strstr(err->msg, "/tree/up' points outside the copied tree"));
	err = error_free(err);
	ck_assert_int_eq(unlink(link), 0);
	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t", &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "is not a file, directory or symlink"));
	err = error_free(err);
	ck_assert_int_eq(unlink(fifo), 0);
	/* A file where the folder goes is replaced by the folder; a file on the
	 * way to it is not. */
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t", &err), 0);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t/f/g", &err), -ENOTDIR);
	err = error_free(err);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t/f", &err), 0);
	ck_assert_int_eq(guest_mode("/root/t/f/f"), 0644);
	ck_assert_int_eq(disk_work_copy_tree(work, dir, "/root/t", &err), 0);
	{
		_cleanup_free_ char *t = guest_cat("/root/t/f");

		ck_assert_str_eq(t, "x");
	}
	assert_fsck_clean();
}
END_TEST

static Suite *
ws_suite(void)
{
	Suite *s = suite_create("workspace");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_full_copy_head);
	tcase_add_test(tc, test_refs);
	tcase_add_test(tc, test_shallow);
	tcase_add_test(tc, test_metadata_only);
	tcase_add_test(tc, test_refusals);
	tcase_add_test(tc, test_copy_tree_refusals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (!tool("mkfs.ext4") || !tool("debugfs") || !tool("e2fsck"))
		return 77;
	sr = srunner_create(ws_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
