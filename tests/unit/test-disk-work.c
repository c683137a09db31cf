/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Work disks and file syncs on real ext4 images (regular files, no root):
 * mkfs.ext4 once and never again, libext2fs writes read back with debugfs,
 * modes, directories, symlinks inside and outside the synced tree, missing
 * sources, re-sync after an edit, refusals; e2fsck must find the image clean.
 * A change in place cut short (a child leaves the undo file as a killed run
 * would) is undone by the next change or a recovery.
 * Skips (77) without mkfs.ext4, debugfs, e2fsck or e2undo.
 */
#include <check.h>
#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

extern char **environ;

static char tmp_root[] = "/tmp/banger-test-work-XXXXXX";
static char *status_dir, *vm_dir, *work, *host;

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
debugfs(const char *img, const char *cmd)
{
	_cleanup_free_ char *path = xstrdup(tool("debugfs")), *c = xstrdup(cmd), *i = xstrdup(img);
	char *out = NULL;
	char *const argv[] = { path, (char *)"-R", c, i, NULL };

	ck_assert_int_eq(run(argv, &out), 0);
	return out;
}

static char *
guest_cat(const char *img, const char *path)
{
	_cleanup_free_ char *cmd = xasprintf("cat %s", path);

	return debugfs(img, cmd);
}

/* The "Mode:  0640" of a guest path, or -1 when it does not exist. */
static int
guest_mode(const char *img, const char *path)
{
	_cleanup_free_ char *cmd = xasprintf("stat %s", path);
	_cleanup_free_ char *out = debugfs(img, cmd);
	const char *m = strstr(out, "Mode:");

	if (!m)
		return -1;
	return (int)strtol(m + 5, NULL, 8);
}

static bool
guest_exists(const char *img, const char *path)
{
	return guest_mode(img, path) >= 0;
}

static void
assert_fsck_clean(const char *img)
{
	_cleanup_free_ char *path = xstrdup(tool("e2fsck")), *i = xstrdup(img);
	char *const argv[] = { path, (char *)"-f", (char *)"-n", i, NULL };

	ck_assert_int_eq(run(argv, NULL), 0);
}

static void
put(const char *rel, const char *content, mode_t mode)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", host, rel);

	ck_assert_int_eq(write_file_atomic(p, content, strlen(content), mode), 0);
}

static void
setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	status_dir = xasprintf("%s/status", tmp_root);
	vm_dir = xasprintf("%s/vms/web1", status_dir);
	work = xasprintf("%s/work.ext4", vm_dir);
	host = xasprintf("%s/host", tmp_root);
	ck_assert_int_eq(mkdir_p(vm_dir, 0700), 0);
	ck_assert_int_eq(mkdir_p(host, 0755), 0);
}

static void
teardown(void)
{
	(void)disk_rm_rf(tmp_root, NULL);
	free(status_dir);
	free(vm_dir);
	free(work);
	free(host);
}

static struct disk_ops *
new_ops(void)
{
	struct disk_ops *ops = NULL;

	ck_assert_int_eq(disk_real_new(status_dir, &ops, NULL), 0);
	return ops;
}

START_TEST(test_work_created_once)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *tmp = NULL;
	struct filesync_entry e = { .host = (char *)"marker", .guest = (char *)"/marker", .mode = -1 };
	struct stat st1, st2;

	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(stat(work, &st1), 0);
	ck_assert_int_eq(st1.st_size, 8 << 20);
	tmp = xasprintf("%s.tmp", work);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	put("marker", "kept\n", 0644);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	/* Never recreated while it exists: same inode, data still there. */
	ck_assert_int_eq(ops->work_create(ops->userdata, work, 16 << 20, NULL), 0);
	ck_assert_int_eq(stat(work, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_int_eq(st2.st_size, 8 << 20);
	out = guest_cat(work, "/marker");
	ck_assert_str_eq(out, "kept\n");
	assert_fsck_clean(work);
	ck_assert_int_eq(ops->work_create(ops->userdata, tmp, 1024, NULL), -EINVAL);
}
END_TEST

/*
 * A file sync that fails part way (the disk fills up) leaves the disk as it
 * was before it: the entries before the failing one are undone too, and no
 * half-copied file or undo file is left.
 */
START_TEST(test_failed_sync_undone)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *big = NULL, *before = NULL, *after = NULL;
	_cleanup_free_ char *undo = xasprintf("%s.e2undo", work);
	struct filesync_entry first = { .host = (char *)"old", .guest = (char *)"/etc/motd",
					.mode = -1 };
	struct filesync_entry e[] = {
		{ .host = (char *)"new", .guest = (char *)"/etc/motd", .mode = -1 },
		{ .host = (char *)"big", .guest = (char *)"/opt/big", .mode = -1 },
	};
	struct error *err = NULL;

	put("old", "old motd\n", 0644);
	put("new", "new motd\n", 0644);
	big = xmalloc(12 << 20);
	memset(big, 'b', (12 << 20) - 1);
	big[(12 << 20) - 1] = '\0';
	put("big", big, 0644);
	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &first, 1, host, NULL), 0);
	before = debugfs(work, "stats");
	ck_assert_int_lt(ops->filesync_apply(ops->userdata, work, e, ELEMENTSOF(e), host, &err), 0);
	ck_assert_ptr_nonnull(strstr(err->msg, "/opt/big"));
	error_free(TAKE_PTR(err));
	out = guest_cat(work, "/etc/motd");
	ck_assert_str_eq(out, "old motd\n");
	ck_assert(!guest_exists(work, "/opt/big"));
	ck_assert(!guest_exists(work, "/opt"));
	ck_assert_int_eq(access(undo, F_OK), -1);
	after = debugfs(work, "stats");
	{
		const char *fb = strstr(before, "Free blocks:"), *fa = strstr(after, "Free blocks:");

		ck_assert(fb && fa);
		ck_assert_int_eq(strncmp(fb, fa, strcspn(fb, "\n")), 0);
	}
	assert_fsck_clean(work);
}
END_TEST

/* "Block count:" of an image's file system, as debugfs prints it. */
static unsigned long
block_count(const char *img)
{
	_cleanup_free_ char *out = debugfs(img, "stats");
	const char *b = strstr(out, "Block count:");

	ck_assert_ptr_nonnull(b);
	return strtoul(b + strlen("Block count:"), NULL, 10);
}

/* A work disk grows, file and file system, its data kept; it never shrinks. */
START_TEST(test_work_grow)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *undo = xasprintf("%s.e2undo", work);
	struct filesync_entry e = { .host = (char *)"data", .guest = (char *)"/data", .mode = -1 };
	struct error *err = NULL;
	unsigned long before;
	struct stat st;

	put("data", "precious\n", 0644);
	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	before = block_count(work);
	ck_assert_int_eq(ops->work_grow(ops->userdata, work, 24 << 20, NULL), 0);
	ck_assert_int_eq(stat(work, &st), 0);
	ck_assert_int_eq(st.st_size, 24 << 20);
	ck_assert_uint_eq(block_count(work), before * 3);
	out = guest_cat(work, "/data");
	ck_assert_str_eq(out, "precious\n");
	ck_assert_int_eq(access(undo, F_OK), -1);
	assert_fsck_clean(work);
	/* The same size again, or a smaller one (after a smaller size was
	 * recorded): nothing to do, never a shrink. */
	ck_assert_int_eq(ops->work_grow(ops->userdata, work, 24 << 20, NULL), 0);
	ck_assert_int_eq(ops->work_grow(ops->userdata, work, 16 << 20, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(stat(work, &st), 0);
	ck_assert_int_eq(st.st_size, 24 << 20);
	ck_assert_uint_eq(block_count(work), before * 3);
}
END_TEST

/* "Filesystem UUID:" of an image, as debugfs prints it. */
static char *
fs_uuid(const char *img)
{
	_cleanup_free_ char *out = debugfs(img, "stats");
	const char *u = strstr(out, "Filesystem UUID:");

	ck_assert_ptr_nonnull(u);
	u += strlen("Filesystem UUID:");
	while (*u == ' ')
		u++;
	return xstrndup(u, strcspn(u, "\n"));
}

/* "Filesystem UUID:" of the backup superblock at block sb (1 KiB blocks),
 * as dumpe2fs prints it, which also checks that copy's checksum. */
static char *
fs_uuid_backup(const char *img, unsigned sb)
{
	_cleanup_free_ char *path = xstrdup(tool("dumpe2fs")), *i = xstrdup(img);
	_cleanup_free_ char *o = xasprintf("superblock=%u", sb), *out = NULL;
	char *const argv[] = { path, (char *)"-o", o, (char *)"-o", (char *)"blocksize=1024",
			       (char *)"-h", i, NULL };
	const char *u;

	ck_assert_int_eq(run(argv, &out), 0);
	ck_assert_msg(!strstr(out, "does not match"), "%s", out);
	u = strstr(out, "Filesystem UUID:");
	ck_assert_ptr_nonnull(u);
	u += strlen("Filesystem UUID:");
	while (*u == ' ')
		u++;
	return xstrndup(u, strcspn(u, "\n"));
}

START_TEST(test_work_from_pristine)
{
	_cleanup_free_ char *a = xasprintf("%s/a.ext4", vm_dir), *b = xasprintf("%s/b.ext4", vm_dir);
	_cleanup_free_ char *c = xasprintf("%s/c.ext4", vm_dir);
	_cleanup_free_ char *ua = NULL, *ub = NULL, *uc = NULL;
	_cleanup_free_ char *out = NULL;
	unsigned runs = disk_work_mkfs_runs();

	/* One mkfs for two disks of one size; another size needs its own. */
	ck_assert_int_eq(disk_work_mkfs(a, 8 << 20, NULL, NULL, NULL), 0);
	ck_assert_int_eq(disk_work_mkfs(b, 8 << 20, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(disk_work_mkfs_runs(), runs + 1);
	ck_assert_int_eq(disk_work_mkfs(c, 16 << 20, NULL, NULL, NULL), 0);
	ck_assert_uint_eq(disk_work_mkfs_runs(), runs + 2);
	assert_fsck_clean(a);
	assert_fsck_clean(b);
	assert_fsck_clean(c);
	/* Each its own filesystem: its own UUID; the same label and size. */
	ua = fs_uuid(a);
	ub = fs_uuid(b);
	uc = fs_uuid(c);
	ck_assert_str_ne(ua, ub);
	ck_assert_str_ne(ua, uc);
	/* The backup superblocks (16M: groups 0 and 1) carry the new UUID too,
	 * each with its own checksum right. */
	{
		_cleanup_free_ char *d = xasprintf("%s/d.ext4", vm_dir);
		_cleanup_free_ char *ud = NULL, *uc1 = NULL, *ud1 = NULL;

		ck_assert_int_eq(disk_work_mkfs(d, 16 << 20, NULL, NULL, NULL), 0);
		ck_assert_uint_eq(disk_work_mkfs_runs(), runs + 2);
		assert_fsck_clean(d);
		ud = fs_uuid(d);
		ck_assert_str_ne(ud, uc);
		uc1 = fs_uuid_backup(c, 8193);
		ud1 = fs_uuid_backup(d, 8193);
		ck_assert_str_eq(uc1, uc);
		ck_assert_str_eq(ud1, ud);
	}
	out = debugfs(b, "stats");
	ck_assert_ptr_nonnull(strstr(out, "Filesystem volume name:   banger-work"));
	ck_assert_ptr_nonnull(strstr(out, "metadata_csum_seed"));
	/* And usable: a file sync writes into the copy like into the first. */
	put("hello", "hi\n", 0644);
	{
		_cleanup_free_ char *cat = NULL;

		ck_assert_int_eq(disk_work_copy_tree(b, host, "/srv", NULL), 0);
		cat = guest_cat(b, "/srv/hello");
		ck_assert_str_eq(cat, "hi\n");
	}
	assert_fsck_clean(b);
}
END_TEST

/* In a new process (this one keeps pristine images in memory): make a work
 * disk at path with cache; exit 0 when it took want_runs mkfs processes. */
static void
mkfs_in_child(const char *path, uint64_t size, const char *cache, unsigned want_runs)
{
	pid_t pid = fork();
	int status = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		unsigned before = disk_work_mkfs_runs();

		if (disk_work_mkfs(path, size, NULL, cache, NULL) < 0)
			_exit(2);
		_exit(disk_work_mkfs_runs() - before == want_runs ? 0 : 3);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(test_work_template_cache)
{
	_cleanup_free_ char *cache = xasprintf("%s/cache", status_dir);
	_cleanup_free_ char *tpl = xasprintf("%s/work-8388608.ext4", cache);
	_cleanup_free_ char *a = xasprintf("%s/a.ext4", vm_dir), *b = xasprintf("%s/b.ext4", vm_dir);
	_cleanup_free_ char *c = xasprintf("%s/c.ext4", vm_dir), *d = xasprintf("%s/d.ext4", vm_dir);
	_cleanup_free_ char *ua = NULL, *ub = NULL;
	struct stat st;
	int fd;

	/* The first run of a size makes it with mkfs and keeps the template. */
	mkfs_in_child(a, 8 << 20, cache, 1);
	ck_assert_int_eq(stat(tpl, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	/* A later run (another process) makes it from the template: no mkfs. */
	mkfs_in_child(b, 8 << 20, cache, 0);
	assert_fsck_clean(a);
	assert_fsck_clean(b);
	ua = fs_uuid(a);
	ub = fs_uuid(b);
	ck_assert_str_ne(ua, ub);
	/* A damaged template (its superblock checksum no longer matches) is
	 * not used: mkfs again, and a good template replaces it. */
	fd = open(tpl, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "\xff\xff", 2, 1024 + 0x60), 2);
	ck_assert_int_eq(close(fd), 0);
	mkfs_in_child(c, 8 << 20, cache, 1);
	assert_fsck_clean(c);
	assert_fsck_clean(tpl);
	mkfs_in_child(d, 8 << 20, cache, 0);
	assert_fsck_clean(d);
}
END_TEST

START_TEST(test_mkfs_seeded_from_staging)
{
	_cleanup_free_ char *staging = xasprintf("%s/staging", tmp_root);
	_cleanup_free_ char *f = NULL, *out = NULL;

	ck_assert_int_eq(mkdir_p(staging, 0755), 0);
	f = xasprintf("%s/seed.txt", staging);
	ck_assert_int_eq(write_file_atomic(f, "seeded\n", 7, 0644), 0);
	ck_assert_int_eq(disk_work_mkfs(work, 4 << 20, staging, NULL, NULL), 0);
	out = guest_cat(work, "/seed.txt");
	ck_assert_str_eq(out, "seeded\n");
	assert_fsck_clean(work);
}
END_TEST

START_TEST(test_filesync_tree)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *home = NULL, *big = NULL, *d = NULL, *p = NULL;
	struct filesync_entry e[] = {
		{ .host = (char *)"a.txt", .guest = (char *)"/root/.config/app/a.txt", .mode = 0640 },
		{ .host = (char *)"tree", .guest = (char *)"/opt/tree", .mode = -1 },
		{ .host = (char *)"~/.profile", .guest = (char *)"~/.profile", .mode = -1 },
		{ .host = (char *)"missing", .guest = (char *)"/missing", .mode = -1 },
	};

	put("a.txt", "hello\n", 0644);
	d = xasprintf("%s/tree/sub", host);
	ck_assert_int_eq(mkdir_p(d, 0755), 0);
	put("tree/run.sh", "#!/bin/sh\n", 0755);
	put("tree/sub/y", "y\n", 0644);
	p = xasprintf("%s/tree/in", host);
	ck_assert_int_eq(symlink("sub/y", p), 0);
	free(p);
	p = xasprintf("%s/tree/sub/up", host);
	ck_assert_int_eq(symlink("../run.sh", p), 0);
	free(p);
	p = xasprintf("%s/tree/out", host);
	ck_assert_int_eq(symlink("../a.txt", p), 0);
	free(p);
	p = xasprintf("%s/tree/abs", host);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	home = xasprintf("%s/home", tmp_root);
	ck_assert_int_eq(mkdir_p(home, 0755), 0);
	setenv("HOME", home, 1);
	free(p);
	p = xasprintf("%s/.profile", home);
	ck_assert_int_eq(write_file_atomic(p, "PS1=x\n", 6, 0644), 0);

	ck_assert_int_eq(ops->work_create(ops->userdata, work, 16 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, e, ELEMENTSOF(e), host, NULL), 0);

	out = guest_cat(work, "/root/.config/app/a.txt");
	ck_assert_str_eq(out, "hello\n");
	ck_assert_int_eq(guest_mode(work, "/root/.config/app/a.txt"), 0640);
	ck_assert_int_eq(guest_mode(work, "/root/.config/app"), 0755);
	ck_assert_int_eq(guest_mode(work, "/opt/tree"), 0755);
	ck_assert_int_eq(guest_mode(work, "/opt/tree/sub"), 0755);
	ck_assert_int_eq(guest_mode(work, "/opt/tree/run.sh"), 0700);
	ck_assert_int_eq(guest_mode(work, "/opt/tree/sub/y"), 0600);
	free(out);
	out = debugfs(work, "stat /opt/tree/in");
	ck_assert_ptr_nonnull(strstr(out, "Type: symlink"));
	ck_assert_ptr_nonnull(strstr(out, "\"sub/y\""));
	free(out);
	out = debugfs(work, "stat /opt/tree/sub/up");
	ck_assert_ptr_nonnull(strstr(out, "../run.sh"));
	ck_assert(!guest_exists(work, "/opt/tree/out"));
	ck_assert(!guest_exists(work, "/opt/tree/abs"));
	ck_assert(!guest_exists(work, "/missing"));
	free(out);
	out = guest_cat(work, "/root/.profile");
	ck_assert_str_eq(out, "PS1=x\n");
	ck_assert_int_eq(guest_mode(work, "/root/.profile"), 0600);
	assert_fsck_clean(work);

	/* Re-sync after edits: a big file shrinks, a mode changes. */
	big = xmalloc(300000);
	memset(big, 'z', 299999);
	big[299999] = '\0';
	put("a.txt", big, 0644);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, e, 1, host, NULL), 0);
	free(out);
	out = guest_cat(work, "/root/.config/app/a.txt");
	ck_assert_uint_eq(strlen(out), 299999);
	put("a.txt", "bye\n", 0644);
	e[0].mode = 0600;
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, e, ELEMENTSOF(e), host, NULL), 0);
	free(out);
	out = guest_cat(work, "/root/.config/app/a.txt");
	ck_assert_str_eq(out, "bye\n");
	ck_assert_int_eq(guest_mode(work, "/root/.config/app/a.txt"), 0600);
	assert_fsck_clean(work);
}
END_TEST

/* A new disk with its file syncs: written before the name, 1; an existing
 * one left alone, 0; a sync that fails leaves no disk and no temp file. */
START_TEST(test_work_create_seeded)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *tmp = xasprintf("%s.tmp", work);
	struct filesync_entry e[] = {
		{ .host = (char *)"a.txt", .guest = (char *)"/etc/a.txt", .mode = 0640 },
		{ .guest = (char *)"/banger/authorized_keys", .mode = 0600,
		  .content = "ssh-ed25519 AAAAk banger\n", .content_len = 25 },
	};
	struct filesync_entry bad = { .host = (char *)"a.txt", .guest = (char *)"/etc/../x",
				      .mode = -1 };
	struct error *err = NULL;
	struct stat st1, st2;

	put("a.txt", "hello\n", 0644);
	ck_assert_int_eq(ops->work_create_seeded(ops->userdata, work, 8 << 20, e, ELEMENTSOF(e),
						 host, NULL), 1);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	out = guest_cat(work, "/etc/a.txt");
	ck_assert_str_eq(out, "hello\n");
	ck_assert_int_eq(guest_mode(work, "/etc/a.txt"), 0640);
	free(out);
	out = guest_cat(work, "/banger/authorized_keys");
	ck_assert_str_eq(out, "ssh-ed25519 AAAAk banger\n");
	assert_fsck_clean(work);

	/* There already: nothing written. */
	ck_assert_int_eq(stat(work, &st1), 0);
	put("a.txt", "changed\n", 0644);
	ck_assert_int_eq(ops->work_create_seeded(ops->userdata, work, 8 << 20, e, 1, host, NULL), 0);
	ck_assert_int_eq(stat(work, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	free(out);
	out = guest_cat(work, "/etc/a.txt");
	ck_assert_str_eq(out, "hello\n");

	/* A refused entry: the error, and no disk. */
	ck_assert_int_eq(unlink(work), 0);
	ck_assert_int_eq(ops->work_create_seeded(ops->userdata, work, 8 << 20, &bad, 1, host, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "must be absolute, without '.' or '..'"));
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(access(work, F_OK), -1);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	/* And outside the status folder, refused before anything is made. */
	ck_assert_int_eq(ops->work_create_seeded(ops->userdata, "/tmp/w.ext4", 8 << 20, e, 1, host,
						 NULL), -EPERM);
}
END_TEST

/* What stderr received while fn ran, as a string. */
static char *
stderr_of(void (*fn)(void *), void *arg)
{
	_cleanup_free_ char *path = xasprintf("%s/stderr", host);
	char *text = NULL;
	size_t len = 0;
	int fd, saved;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	saved = dup(STDERR_FILENO);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_eq(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	ck_assert_int_eq(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	(void)close(saved);
	(void)close(fd);
	ck_assert_int_eq(read_file(path, 1 << 20, &text, &len), 0);
	return text;
}

struct seed_try {
	struct disk_ops *ops;
	struct filesync_entry *e;
	size_t n;
	int r;
};

static void
seed_try(void *arg)
{
	struct seed_try *t = arg;

	t->r = t->ops->work_create_seeded(t->ops->userdata, work, 8 << 20, t->e, t->n, host, NULL);
}

/* The seeded attempt's warnings are printed when it is kept, and dropped
 * when it fails (the file-sync step that follows gives them again). */
START_TEST(test_work_create_seeded_warnings)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *kept = NULL, *dropped = NULL;
	struct filesync_entry e[] = {
		{ .host = (char *)"missing.txt", .guest = (char *)"/etc/m.txt", .mode = -1 },
		{ .host = (char *)"a.txt", .guest = (char *)"/etc/../x", .mode = -1 },
	};
	struct seed_try t = { .ops = ops, .e = e, .n = 1 };
	const char *w;

	kept = stderr_of(seed_try, &t);
	ck_assert_int_eq(t.r, 1);
	w = strstr(kept, "host path");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_nonnull(strstr(w, "missing.txt' does not exist, ignoring\n"));
	ck_assert_ptr_null(strstr(w + 1, "host path"));	/* once */
	ck_assert_int_eq(unlink(work), 0);

	put("a.txt", "hello\n", 0644);
	t.n = 2;
	dropped = stderr_of(seed_try, &t);
	ck_assert_int_eq(t.r, -EINVAL);
	ck_assert_str_eq(dropped, "");
	ck_assert_int_eq(access(work, F_OK), -1);
}
END_TEST

/* An entry of bytes (the VM's keys): written, made a file again over
 * another kind, shrunk, given its mode; an empty one is an empty file. */
START_TEST(test_filesync_content)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *out = NULL, *big = xmalloc(200001);
	struct filesync_entry e = { .guest = (char *)"/banger/authorized_keys", .mode = 0600,
				    .content = "ssh-ed25519 AAAAk banger\n", .content_len = 25 };
	struct filesync_entry tree = { .host = (char *)"kt", .guest = (char *)"/banger",
				       .mode = -1 };
	_cleanup_free_ char *p = NULL;

	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	out = guest_cat(work, "/banger/authorized_keys");
	ck_assert_str_eq(out, "ssh-ed25519 AAAAk banger\n");
	ck_assert_int_eq(guest_mode(work, "/banger/authorized_keys"), 0600);
	ck_assert_int_eq(guest_mode(work, "/banger"), 0755);

	/* More than one write's worth (64 KiB), then fewer bytes again. */
	memset(big, 'k', 200000);
	big[200000] = '\0';
	e.content = big;
	e.content_len = 200000;
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	free(out);
	out = guest_cat(work, "/banger/authorized_keys");
	ck_assert_uint_eq(strlen(out), 200000);
	ck_assert_str_eq(out, big);
	e.content = "k2\n";
	e.content_len = 3;
	e.mode = 0640;
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	free(out);
	out = guest_cat(work, "/banger/authorized_keys");
	ck_assert_str_eq(out, "k2\n");
	ck_assert_int_eq(guest_mode(work, "/banger/authorized_keys"), 0640);

	/* A symlink at the guest path becomes the file. */
	p = xasprintf("%s/kt", host);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	put("kt/x", "x\n", 0644);
	p = xasprintf("%s/kt/authorized_keys2", host);
	ck_assert_int_eq(symlink("x", p), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &tree, 1, host, NULL), 0);
	free(out);
	out = debugfs(work, "stat /banger/authorized_keys2");
	ck_assert_ptr_nonnull(strstr(out, "Type: symlink"));
	e.guest = (char *)"/banger/authorized_keys2";
	e.content_len = 0;
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &e, 1, host, NULL), 0);
	free(out);
	out = debugfs(work, "stat /banger/authorized_keys2");
	ck_assert_ptr_nonnull(strstr(out, "Type: regular"));
	ck_assert_ptr_nonnull(strstr(out, "Size: 0"));
	assert_fsck_clean(work);
}
END_TEST

START_TEST(test_filesync_refusals)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	struct filesync_entry dotdot = { .host = (char *)"a", .guest = (char *)"/root/../etc/x",
					 .mode = -1 };
	struct filesync_entry dev = { .host = (char *)"/dev/null", .guest = (char *)"/x", .mode = -1 };
	struct filesync_entry dir = { .host = (char *)"a", .guest = (char *)"/root", .mode = -1 };
	struct error *err = NULL;
	_cleanup_free_ char *outside = xasprintf("%s/work.ext4", tmp_root);

	put("a", "a\n", 0644);
	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &dotdot, 1, host, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "file sync 'a' -> '/root/../etc/x': guest path '/root/../etc/x' "
				   "must be absolute, without '.' or '..'");
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &dev, 1, host, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "file sync '/dev/null' -> '/x': host path '/dev/null' is not a "
				   "regular file or directory");
	error_free(TAKE_PTR(err));
	/* mkfs made /root?  No: make it, then a file may not replace it. */
	{
		struct filesync_entry mk = { .host = (char *)"a", .guest = (char *)"/root/a",
					     .mode = -1 };

		ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &mk, 1, host, NULL), 0);
	}
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &dir, 1, host, NULL), -EISDIR);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, outside, &dir, 1, host, NULL), -EPERM);
	assert_fsck_clean(work);
}
END_TEST

/*
 * A relative host path stays beneath the state directory (or commit) even
 * through a symlink, and a FIFO, at the top or in a tree, never blocks the
 * run: the first is refused, the second passed over.
 */
START_TEST(test_filesync_host_paths)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *secret = xasprintf("%s/secret", tmp_root);
	_cleanup_free_ char *p = NULL, *out = NULL, *want = NULL;
	struct filesync_entry out_link = { .host = (char *)"out", .guest = (char *)"/out",
					   .mode = -1 };
	struct filesync_entry in_link = { .host = (char *)"in", .guest = (char *)"/in", .mode = -1 };
	struct filesync_entry fifo = { .host = (char *)"fifo", .guest = (char *)"/fifo",
				       .mode = -1 };
	struct filesync_entry tree = { .host = (char *)"tree", .guest = (char *)"/tree",
				       .mode = -1 };
	struct error *err = NULL;

	ck_assert_int_eq(write_file_atomic(secret, "root only\n", 10, 0600), 0);
	put("a", "a\n", 0644);
	p = xasprintf("%s/out", host);
	ck_assert_int_eq(symlink(secret, p), 0);
	free(p);
	p = xasprintf("%s/in", host);
	ck_assert_int_eq(symlink("a", p), 0);
	free(p);
	p = xasprintf("%s/fifo", host);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	p = xasprintf("%s/tree", host);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	free(p);
	put("tree/b", "b\n", 0644);
	p = xasprintf("%s/tree/fifo", host);
	ck_assert_int_eq(mkfifo(p, 0600), 0);

	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &out_link, 1, host, &err), -EXDEV);
	want = xasprintf("file sync 'out' -> '/out': host path 'out' leads out of '%s' (a symlink?)",
			 host);
	ck_assert_str_eq(err->msg, want);
	error_free(TAKE_PTR(err));
	ck_assert(!guest_exists(work, "/out"));
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &in_link, 1, host, NULL), 0);
	out = guest_cat(work, "/in");
	ck_assert_str_eq(out, "a\n");
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &fifo, 1, host, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err->msg, "is not a regular file or directory"));
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &tree, 1, host, NULL), 0);
	free(out);
	out = guest_cat(work, "/tree/b");
	ck_assert_str_eq(out, "b\n");
	ck_assert(!guest_exists(work, "/tree/fifo"));
	assert_fsck_clean(work);
}
END_TEST

/*
 * A change in place of work that a killed run left half made: a child opens
 * it through the undo manager, makes a folder (and writes the superblock and
 * group descriptors out when flush), and exits without closing.
 */
static void
half_change(bool flush)
{
	pid_t pid = fork();
	int status = 0;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ext2_filsys fs = NULL;

		if (disk_work_open_in_place(work, &fs, NULL) < 0 || ext2fs_read_bitmaps(fs) ||
		    ext2fs_mkdir(fs, EXT2_ROOT_INO, 0, "half"))
			_exit(1);
		if (flush && ext2fs_flush(fs))
			_exit(1);
		_exit(0);	/* no close: the undo file is left as it is */
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

START_TEST(test_in_place_undone)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *undo = xasprintf("%s" DISK_UNDO_SUFFIX, work), *out = NULL;
	struct filesync_entry a = { .guest = (char *)"/a", .mode = 0600, .content = "a\n",
				    .content_len = 2 };
	struct filesync_entry b = { .guest = (char *)"/b", .mode = 0600, .content = "b\n",
				    .content_len = 2 };
	_cleanup_close_ int fd = -EBADF;

	ck_assert_int_eq(ops->work_create(ops->userdata, work, 8 << 20, NULL), 0);
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &a, 1, host, NULL), 0);
	/* A change that completes leaves no undo file. */
	ck_assert_int_eq(access(undo, F_OK), -1);

	/* Cut short before the superblock was written again (_i 0), or after
	 * (_i 1): the next file sync puts the image back first. */
	half_change(_i);
	ck_assert_int_eq(access(undo, F_OK), 0);
	ck_assert(guest_exists(work, "/half"));
	ck_assert_int_eq(ops->filesync_apply(ops->userdata, work, &b, 1, host, NULL), 0);
	ck_assert_int_eq(access(undo, F_OK), -1);
	ck_assert(!guest_exists(work, "/half"));
	out = guest_cat(work, "/a");
	ck_assert_str_eq(out, "a\n");
	free(out);
	out = guest_cat(work, "/b");
	ck_assert_str_eq(out, "b\n");
	assert_fsck_clean(work);

	/* Or the recovery a start makes first. */
	half_change(_i);
	ck_assert_int_eq(ops->work_recover(ops->userdata, work, NULL), 0);
	ck_assert_int_eq(access(undo, F_OK), -1);
	ck_assert(!guest_exists(work, "/half"));
	assert_fsck_clean(work);
	/* Nothing to undo: no file, or one killed before it saved a block. */
	ck_assert_int_eq(ops->work_recover(ops->userdata, work, NULL), 0);
	fd = open(undo, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ops->work_recover(ops->userdata, work, NULL), 0);
	ck_assert_int_eq(access(undo, F_OK), -1);
	free(out);
	out = guest_cat(work, "/b");
	ck_assert_str_eq(out, "b\n");
	assert_fsck_clean(work);

	/* A retained disk is kept as it was before the change, too. */
	half_change(_i);
	{
		_cleanup_free_ char *dest = xasprintf("%s/retained/web1.ext4", status_dir);

		ck_assert_int_eq(ops->work_retain(ops->userdata, work, dest, NULL), 0);
		ck_assert_int_eq(access(undo, F_OK), -1);
		ck_assert(!guest_exists(dest, "/half"));
		assert_fsck_clean(dest);
	}
}
END_TEST

static Suite *
work_suite(void)
{
	Suite *s = suite_create("disk-work");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_work_created_once);
	tcase_add_test(tc, test_mkfs_seeded_from_staging);
	tcase_add_test(tc, test_work_from_pristine);
	tcase_add_test(tc, test_work_template_cache);
	tcase_add_test(tc, test_filesync_tree);
	tcase_add_test(tc, test_filesync_content);
	tcase_add_test(tc, test_work_create_seeded);
	tcase_add_test(tc, test_work_create_seeded_warnings);
	tcase_add_test(tc, test_filesync_refusals);
	tcase_add_test(tc, test_filesync_host_paths);
	tcase_add_test(tc, test_failed_sync_undone);
	tcase_add_test(tc, test_work_grow);
	tcase_add_loop_test(tc, test_in_place_undone, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (!tool("mkfs.ext4") || !tool("debugfs") || !tool("e2fsck") || !tool("e2undo"))
		return 77;
	sr = srunner_create(work_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
