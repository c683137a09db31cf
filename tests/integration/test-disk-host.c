/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Integration tests of the disk driver on this host's kernel (root only,
 * else 77): loop devices through loop-control (create, list, read-only,
 * autoclear on last close, never touching devices backed outside the status
 * directory) and reflink root disks on btrfs and xfs images the test makes
 * and mounts itself.  The whole program runs in a private mount namespace,
 * so its mounts vanish with it even when a check fails midway; the loop
 * devices under them have autoclear.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sched.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

extern char **environ;

static char tmp_root[] = "/tmp/banger-test-disk-host-XXXXXX";
static char *status_dir;

static void
setup(void)
{
	_cleanup_free_ char *vm = NULL;

	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	status_dir = xasprintf("%s/status", tmp_root);
	vm = xasprintf("%s/vms/web1", status_dir);
	ck_assert_int_eq(mkdir_p(vm, 0700), 0);
}

static void
teardown(void)
{
	(void)disk_rm_rf(tmp_root, NULL);
	free(status_dir);
}

static char *
make_file(const char *rel, off_t size)
{
	char *p = xasprintf("%s/%s", tmp_root, rel);
	_cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, size), 0);
	ck_assert_int_eq(pwrite(fd, "banger", 6, 0), 6);
	return p;
}

/* Wait (up to 5 s) until dev has no backing file. */
static bool
wait_cleared(const char *dev)
{
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *b = NULL;

		if (loop_backing_file(dev, &b, NULL) == -ENXIO)
			return true;
		usleep(10000);
	}
	return false;
}

static bool
listed(struct disk_obj *objs, size_t n, const char *dev, const char *backing)
{
	for (size_t i = 0; i < n; i++)
		if (objs[i].kind == DISK_OBJ_LOOP && strcmp(objs[i].name, dev) == 0 &&
		    (!backing || strcmp(objs[i].backing, backing) == 0))
			return true;
	return false;
}

START_TEST(test_loop_attach_list_autoclear)
{
	_cleanup_free_ char *ours = make_file("status/vms/web1/cow.img", 1 << 20);
	_cleanup_free_ char *foreign = make_file("foreign.img", 1 << 20);
	_cleanup_free_ char *dev = NULL, *fdev = NULL, *rdev = NULL, *b = NULL, *ro = NULL;
	_cleanup_free_ char *ro_path = NULL, *real = NULL;
	struct disk_obj *objs = NULL;
	size_t n = 0;
	int fd = -1, ffd = -1, rfd = -1;
	size_t len = 0;

	ck_assert_int_eq(loop_attach(ours, false, &dev, &fd, NULL), 0);
	ck_assert_int_eq(loop_attach(foreign, false, &fdev, &ffd, NULL), 0);
	ck_assert_int_eq(loop_attach(ours, true, &rdev, &rfd, NULL), 0);
	ck_assert_str_ne(dev, fdev);
	real = realpath(ours, NULL);
	ck_assert_int_eq(loop_backing_file(dev, &b, NULL), 0);
	ck_assert_str_eq(b, real);

	/* Read-only device for the base image. */
	ro_path = xasprintf("/sys/block/%s/ro", rdev + 5);
	ck_assert_int_eq(read_file(ro_path, 8192, &ro, &len), 0);
	ck_assert_str_eq(ro, "1\n");

	ck_assert_int_eq(loop_list(status_dir, &objs, &n, NULL), 0);
	ck_assert(listed(objs, n, dev, real));
	ck_assert(listed(objs, n, rdev, real));
	ck_assert(!listed(objs, n, fdev, NULL));
	disk_objs_free(objs, n);

	/* Autoclear: closing our fd releases the device. */
	close(fd);
	close(rfd);
	ck_assert(wait_cleared(dev));
	ck_assert(wait_cleared(rdev));
	ck_assert_int_eq(loop_list(status_dir, &objs, &n, NULL), 0);
	ck_assert(!listed(objs, n, dev, NULL));
	disk_objs_free(objs, n);
	close(ffd);
	ck_assert(wait_cleared(fdev));
	ck_assert_int_eq(loop_attach("/nonexistent/x", false, &dev, &fd, NULL), -ENOENT);
}
END_TEST

/*
 * Only a VM's overlay (vms/NAME/cow.img) is a loop banger made: the base of an
 * imported image under images/, another file in a VM directory, and the disks
 * of another banger whose status directory lies below this one are not.
 */
START_TEST(test_loop_list_only_overlays)
{
	static const char *const rel[] = {
		"status/vms/web1/cow.img",	 /* ours */
		"status/vms/web2/cow.img",	 /* ours, unlinked below */
		"status/images/base/rootfs.ext4",
		"status/vms/web1/work.ext4",
		"status/vms/web1/x/cow.img",
		"status/other/vms/web3/cow.img", /* another banger's status dir */
		"status/vms/Bad_Name/cow.img",
	};
	const size_t n_rel = sizeof(rel) / sizeof(rel[0]);
	char *dev[sizeof(rel) / sizeof(rel[0])] = { NULL };
	int fd[sizeof(rel) / sizeof(rel[0])];
	struct disk_obj *objs = NULL;
	size_t n = 0;

	for (size_t i = 0; i < n_rel; i++) {
		_cleanup_free_ char *path = xasprintf("%s/%s", tmp_root, rel[i]);
		_cleanup_free_ char *dir = xstrndup(path, (size_t)(strrchr(path, '/') - path));
		_cleanup_free_ char *p = NULL;

		ck_assert_int_eq(mkdir_p(dir, 0700), 0);
		p = make_file(rel[i], 1 << 20);
		ck_assert_int_eq(loop_attach(p, false, &dev[i], &fd[i], NULL), 0);
	}
	{
		_cleanup_free_ char *p = xasprintf("%s/%s", tmp_root, rel[1]);

		ck_assert_int_eq(unlink(p), 0);
	}
	ck_assert_int_eq(loop_list(status_dir, &objs, &n, NULL), 0);
	ck_assert(listed(objs, n, dev[0], NULL));
	ck_assert(listed(objs, n, dev[1], NULL));
	for (size_t i = 2; i < n_rel; i++)
		ck_assert_msg(!listed(objs, n, dev[i], NULL), "%s listed", rel[i]);
	disk_objs_free(objs, n);
	for (size_t i = 0; i < n_rel; i++) {
		close(fd[i]);
		ck_assert(wait_cleared(dev[i]));
		free(dev[i]);
	}
}
END_TEST

START_TEST(test_loop_legacy_ioctls)
{
	_cleanup_free_ char *ours = make_file("status/vms/web1/cow.img", 1 << 20);
	_cleanup_free_ char *dev = NULL, *rdev = NULL, *ro = NULL, *ro_path = NULL, *b = NULL;
	struct loop_info64 info;
	int fd = -1, rfd = -1;
	size_t len = 0;

	/* LOOP_SET_FD + LOOP_SET_STATUS64: autoclear set, read-only from the fd. */
	ck_assert_int_eq(loop_attach_legacy(ours, false, true, &dev, &fd, NULL), 0);
	ck_assert_int_eq(ioctl(fd, LOOP_GET_STATUS64, &info), 0);
	ck_assert(info.lo_flags & LO_FLAGS_AUTOCLEAR);
	ck_assert(!(info.lo_flags & LO_FLAGS_READ_ONLY));
	ck_assert_int_eq(loop_attach_legacy(ours, true, true, &rdev, &rfd, NULL), 0);
	ck_assert_int_eq(ioctl(rfd, LOOP_GET_STATUS64, &info), 0);
	ck_assert(info.lo_flags & LO_FLAGS_AUTOCLEAR);
	ck_assert(info.lo_flags & LO_FLAGS_READ_ONLY);
	ro_path = xasprintf("/sys/block/%s/ro", rdev + 5);
	ck_assert_int_eq(read_file(ro_path, 8192, &ro, &len), 0);
	ck_assert_str_eq(ro, "1\n");
	ck_assert_int_eq(loop_backing_file(dev, &b, NULL), 0);
	close(fd);
	close(rfd);
	ck_assert(wait_cleared(dev));
	ck_assert(wait_cleared(rdev));
}
END_TEST

static bool
no_dm(void *userdata)
{
	(void)userdata;
	return false;
}

START_TEST(test_orphan_removal_spares_foreign_loops)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = NULL;
	_cleanup_free_ char *ours = make_file("status/vms/web1/cow.img", 1 << 20);
	_cleanup_free_ char *foreign = make_file("foreign.img", 1 << 20);
	_cleanup_free_ char *dev = NULL, *fdev = NULL, *b = NULL;
	struct dm_backend dm = dm_backend_libdevmapper;
	struct disk_obj *objs = NULL;
	size_t n = 0, loops = 0;
	int fd = -1, ffd = -1;

	dm.available = no_dm;
	ck_assert_int_eq(disk_real_new_with(status_dir, &dm, &loop_backend_kernel, &ops, NULL), 0);
	ck_assert_int_eq(loop_attach(ours, false, &dev, &fd, NULL), 0);
	ck_assert_int_eq(loop_attach(foreign, false, &fdev, &ffd, NULL), 0);
	/* Drop our fd: a busy device only gets autoclear, an idle one must stay bound. */
	{
		struct loop_info64 info;

		ck_assert_int_eq(ioctl(fd, LOOP_GET_STATUS64, &info), 0);
		info.lo_flags &= ~(uint32_t)LO_FLAGS_AUTOCLEAR;
		ck_assert_int_eq(ioctl(fd, LOOP_SET_STATUS64, &info), 0);
	}
	close(fd);
	ck_assert_int_eq(loop_backing_file(dev, &b, NULL), 0);	/* no autoclear now: still bound */

	ck_assert_int_eq(ops->list(ops->userdata, status_dir, &objs, &n, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		ck_assert(objs[i].kind != DISK_OBJ_LOOP || strcmp(objs[i].name, fdev) != 0);
		if (objs[i].kind == DISK_OBJ_LOOP)
			loops++;
		if (objs[i].kind == DISK_OBJ_LOOP)
			ck_assert_int_eq(ops->obj_remove(ops->userdata, &objs[i], NULL), 0);
	}
	ck_assert_uint_eq(loops, 1);
	disk_objs_free(objs, n);
	ck_assert(wait_cleared(dev));
	free(TAKE_PTR(b));
	ck_assert_int_eq(loop_backing_file(fdev, &b, NULL), 0);	/* foreign one untouched */
	close(ffd);
	ck_assert(wait_cleared(fdev));
}
END_TEST

static const char *
tool(const char *name)
{
	static char buf[256];
	const char *dirs[] = { "/usr/sbin", "/sbin", "/usr/bin", "/bin" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		snprintf(buf, sizeof(buf), "%s/%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return NULL;
}

static int
run(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int status;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ) != 0)
		return -1;
	posix_spawn_file_actions_destroy(&fa);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Whether any extent of path is shared (FIEMAP_EXTENT_SHARED). */
static bool
has_shared_extent(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ struct fiemap *fm = NULL;
	size_t sz = sizeof(*fm) + 32 * sizeof(struct fiemap_extent);

	ck_assert_int_ge(fd, 0);
	fm = xcalloc(1, sz);
	fm->fm_length = FIEMAP_MAX_OFFSET;
	fm->fm_flags = FIEMAP_FLAG_SYNC;
	fm->fm_extent_count = 32;
	ck_assert_int_eq(ioctl(fd, FS_IOC_FIEMAP, fm), 0);
	for (unsigned i = 0; i < fm->fm_mapped_extents; i++)
		if (fm->fm_extents[i].fe_flags & FIEMAP_EXTENT_SHARED)
			return true;
	return false;
}

/*
 * Make a file system of fstype (mkfs and its options extra) in an image of
 * size, and loop-mount it on tmp_root/mnt, returned; *ret_dev and *ret_fd
 * its loop device, held.  NULL (said on stderr) when this host cannot.
 */
static char *
mount_scratch(const char *fstype, const char *mkfs, const char *const extra[], off_t size,
	      char **ret_dev, int *ret_fd)
{
	_cleanup_free_ char *img = make_file("fs.img", size), *mnt = xasprintf("%s/mnt", tmp_root);
	char *argv[8];
	size_t k = 0;

	if (!tool(mkfs)) {
		fprintf(stderr, "no %s: nothing on %s tested\n", mkfs, fstype);
		return NULL;
	}
	argv[k++] = xstrdup(tool(mkfs));
	for (size_t i = 0; extra[i]; i++)
		argv[k++] = xstrdup(extra[i]);
	argv[k++] = xstrdup(img);
	argv[k] = NULL;
	ck_assert_int_eq(run(argv), 0);
	for (size_t i = 0; i < k; i++)
		free(argv[i]);

	ck_assert_int_eq(loop_attach(img, false, ret_dev, ret_fd, NULL), 0);
	ck_assert_int_eq(mkdir(mnt, 0755), 0);
	if (mount(*ret_dev, mnt, fstype, 0, NULL) < 0) {
		fprintf(stderr, "mount %s: %s: nothing on %s tested\n", fstype, strerror(errno),
			fstype);
		close(*ret_fd);
		return NULL;
	}
	return TAKE_PTR(mnt);
}

/*
 * On a loop-mounted file system of fstype, check a reflink root disk:
 * probe picks reflink, the clone has the image's bytes and shares extents;
 * for an image on another file system, probe picks copy.
 */
/* Entries of folder dir, "." and ".." left out. */
static size_t
count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
check_reflink_on(const char *fstype, const char *mkfs, const char *const extra[], off_t size)
{
	_cleanup_free_ char *mnt = NULL;
	_cleanup_free_ char *st = NULL, *vm = NULL, *base = NULL, *dev = NULL, *root = NULL;
	_cleanup_(disk_real_freep) struct disk_ops *ops = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	struct dm_backend dm = dm_backend_libdevmapper;
	enum disk_strategy s = _DISK_STRATEGY_INVALID;
	size_t la = 0, lb = 0;
	int fd = -1;

	mnt = mount_scratch(fstype, mkfs, extra, size, &dev, &fd);
	if (!mnt)
		return;
	st = xasprintf("%s/status", mnt);
	vm = xasprintf("%s/vms/web1", st);
	base = xasprintf("%s/base.img", mnt);
	{
		_cleanup_free_ char *data = xmalloc(1 << 20);

		for (size_t i = 0; i < (1 << 20); i++)
			data[i] = (char)(i * 7);
		ck_assert_int_eq(write_file_atomic(base, data, 1 << 20, 0644), 0);
	}
	dm.available = no_dm;
	/* A status directory not made yet (doctor before the first run) is
	 * probed on the nearest folder that exists: the file system it will
	 * be made on.  Nothing is made or left there. */
	{
		_cleanup_(disk_real_freep) struct disk_ops *later = NULL;
		_cleanup_free_ char *st2 = xasprintf("%s/not/yet/status", mnt);
		_cleanup_free_ char *vm2 = xasprintf("%s/vms/web1", st2);
		_cleanup_free_ char *not = xasprintf("%s/not", mnt);
		enum disk_strategy o = _DISK_STRATEGY_INVALID;
		size_t before = count_entries(mnt);

		ck_assert_int_eq(disk_real_new_with(st2, &dm, &loop_backend_kernel, &later, NULL),
				 0);
		ck_assert_int_eq(later->strategy_probe(later->userdata, DISK_STRATEGY_AUTO, vm2,
						       base, &o, NULL),
				 0);
		ck_assert_int_eq(o, DISK_STRATEGY_REFLINK);
		ck_assert_int_eq(access(not, F_OK), -1);
		ck_assert_uint_eq(count_entries(mnt), before);
	}
	ck_assert_int_eq(disk_real_new_with(st, &dm, &loop_backend_kernel, &ops, NULL), 0);
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm, NULL), 0);
	ck_assert_int_eq(ops->strategy_probe(ops->userdata, DISK_STRATEGY_AUTO, vm, base, &s, NULL),
			 0);
	ck_assert_int_eq(s, DISK_STRATEGY_REFLINK);
	/* An image on another file system (this host's /tmp) cannot be cloned
	 * in: auto copies it, reflink asked for says why not. */
	{
		_cleanup_free_ char *outside = make_file("outside.img", 1 << 20);
		enum disk_strategy o = _DISK_STRATEGY_INVALID;
		struct error *e = NULL;

		ck_assert_int_eq(ops->strategy_probe(ops->userdata, DISK_STRATEGY_AUTO, vm, outside,
						     &o, NULL), 0);
		ck_assert_int_eq(o, DISK_STRATEGY_COPY);
		ck_assert_int_eq(ops->strategy_probe(ops->userdata, DISK_STRATEGY_REFLINK, vm,
						     outside, &o, &e), -EXDEV);
		ck_assert_ptr_nonnull(strstr(e->msg, "same file system"));
		error_free(e);
	}
	struct disk_root_req req = {
		.strategy = s, .vm_dir = vm, .image_rootfs = base,
	};
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &root, NULL), 0);
	ck_assert_int_eq(read_file(base, 2 << 20, &a, &la), 0);
	ck_assert_int_eq(read_file(root, 2 << 20, &b, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(a, b, la) == 0);
	ck_assert(has_shared_extent(root));
	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), 0);
	ck_assert_int_eq(access(root, F_OK), -1);
	ck_assert_int_eq(umount2(mnt, 0), 0);
	close(fd);
	ck_assert(wait_cleared(dev));
}

START_TEST(test_reflink_btrfs)
{
	static const char *const extra[] = { "-q", "-f", NULL };

	check_reflink_on("btrfs", "mkfs.btrfs", extra, 256 << 20);
}
END_TEST

START_TEST(test_reflink_xfs)
{
	static const char *const extra[] = { "-q", "-f", "-m", "reflink=1", NULL };

	check_reflink_on("xfs", "mkfs.xfs", extra, (off_t)512 << 20);
}
END_TEST

/* The guest file path of the ext4 image img, as debugfs dumps it; NULL
 * when it has none. */
static char *
guest_file(const char *img, const char *path)
{
	_cleanup_free_ char *out = xasprintf("%s/dumped", tmp_root);
	_cleanup_free_ char *prog = xstrdup(tool("debugfs")), *r = xstrdup("-R");
	_cleanup_free_ char *cmd = xasprintf("dump %s %s", path, out), *i = xstrdup(img);
	char *argv[] = { prog, r, cmd, i, NULL };
	char *data = NULL;
	size_t len = 0;

	(void)unlink(out);
	ck_assert_int_eq(run(argv), 0);
	if (read_file(out, 1 << 20, &data, &len) < 0 || len == 0) {
		free(data);
		return NULL;
	}
	return data;
}

/*
 * A file sync into an existing work disk on a file system that clones: made
 * on a clone that takes the disk's name (a new inode, the disk's mode; no
 * undo file, no clone left).  One that fails leaves the disk as it was, the
 * very file, byte for byte; a workspace's copy is made on a clone too.  A
 * disk with a second name is changed in place; one behind a symlink is
 * refused.
 */
START_TEST(test_filesync_on_clone_xfs)
{
	static const char *const extra[] = { "-q", "-f", "-m", "reflink=1", NULL };
	_cleanup_free_ char *mnt = NULL, *dev = NULL, *work = NULL, *cow = NULL, *undo = NULL;
	_cleanup_free_ char *fifo = xasprintf("%s/fifo", tmp_root), *motd = NULL;
	_cleanup_free_ char *before = NULL, *after = NULL;
	struct filesync_entry good = { .guest = (char *)"/etc/motd", .mode = 0644,
				       .content = "hello\n", .content_len = 6 };
	/* The second fails after the first was written into the clone. */
	struct filesync_entry bad[] = {
		{ .guest = (char *)"/etc/issue", .mode = 0644, .content = "banger\n",
		  .content_len = 7 },
		{ .host = fifo, .guest = (char *)"/etc/fifo", .mode = -1 },
	};
	struct error *err = NULL;
	struct stat a, b;
	size_t la = 0, lb = 0;
	int fd = -1;

	if (!tool("mkfs.ext4") || !tool("debugfs")) {
		fprintf(stderr, "no mkfs.ext4 or debugfs: file syncs on a clone not tested\n");
		return;
	}
	mnt = mount_scratch("xfs", "mkfs.xfs", extra, (off_t)512 << 20, &dev, &fd);
	if (!mnt)
		return;
	work = xasprintf("%s/work.ext4", mnt);
	cow = xasprintf("%s" DISK_COW_SUFFIX, work);
	undo = xasprintf("%s" DISK_UNDO_SUFFIX, work);
	ck_assert_int_eq(disk_work_mkfs(work, 64 << 20, NULL, NULL, NULL), 0);
	ck_assert_int_eq(chmod(work, 0640), 0);
	ck_assert_int_eq(stat(work, &a), 0);

	ck_assert_int_eq(disk_filesync_apply(work, &good, 1, tmp_root, &err), 0);
	ck_assert_int_eq(stat(work, &b), 0);
	ck_assert_uint_ne(a.st_ino, b.st_ino);
	ck_assert_uint_eq(b.st_mode & 07777, 0640);
	ck_assert_int_eq(access(cow, F_OK), -1);
	ck_assert_int_eq(access(undo, F_OK), -1);
	motd = guest_file(work, "/etc/motd");
	ck_assert_ptr_nonnull(motd);
	ck_assert_str_eq(motd, "hello\n");

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	ck_assert_int_eq(read_file(work, 128 << 20, &before, &la), 0);
	ck_assert_int_lt(disk_filesync_apply(work, bad, 2, tmp_root, &err), 0);
	err = error_free(err);
	ck_assert_int_eq(stat(work, &a), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_int_eq(read_file(work, 128 << 20, &after, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(before, after, la) == 0);
	ck_assert_int_eq(access(cow, F_OK), -1);
	ck_assert_int_eq(access(undo, F_OK), -1);
	ck_assert_ptr_null(guest_file(work, "/etc/issue"));

	/* A workspace's folder copied in: on a clone too. */
	{
		_cleanup_free_ char *ws = xasprintf("%s/ws", tmp_root), *f = NULL;
		_cleanup_free_ char *got = NULL;

		ck_assert_int_eq(mkdir(ws, 0755), 0);
		f = xasprintf("%s/a", ws);
		ck_assert_int_eq(write_file_atomic(f, "x\n", 2, 0644), 0);
		ck_assert_int_eq(disk_work_copy_tree(work, ws, "/opt/ws", &err), 0);
		ck_assert_int_eq(stat(work, &b), 0);
		ck_assert_uint_ne(a.st_ino, b.st_ino);
		ck_assert_int_eq(access(cow, F_OK), -1);
		ck_assert_int_eq(access(undo, F_OK), -1);
		got = guest_file(work, "/opt/ws/a");
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, "x\n");
	}

	/* A clone a killed run left, or its temp file, goes before the disk is
	 * used again. */
	{
		_cleanup_free_ char *cow_tmp = xasprintf("%s.tmp", cow);

		ck_assert_int_eq(write_file_atomic(cow, "half", 4, 0600), 0);
		ck_assert_int_eq(write_file_atomic(cow_tmp, "half", 4, 0600), 0);
		ck_assert_int_eq(disk_work_recover(work, NULL), 0);
		ck_assert_int_eq(access(cow, F_OK), -1);
		ck_assert_int_eq(access(cow_tmp, F_OK), -1);
	}

	/* A disk with a second name (a retain cut short) is changed in place:
	 * both names keep one disk. */
	{
		_cleanup_free_ char *other = xasprintf("%s/retained.ext4", mnt);
		struct stat c;

		ck_assert_int_eq(link(work, other), 0);
		ck_assert_int_eq(disk_filesync_apply(work, &good, 1, tmp_root, &err), 0);
		ck_assert_int_eq(stat(work, &a), 0);
		ck_assert_int_eq(stat(other, &c), 0);
		ck_assert_uint_eq(a.st_ino, b.st_ino);
		ck_assert_uint_eq(c.st_ino, b.st_ino);
		ck_assert_int_eq(access(undo, F_OK), -1);
		ck_assert_int_eq(unlink(other), 0);
	}

	/* A disk behind a symlink is refused before anything is written: the
	 * link stays one, its target as it was. */
	{
		_cleanup_free_ char *real = xasprintf("%s/real.ext4", mnt);
		struct filesync_entry more = { .guest = (char *)"/etc/more", .mode = 0644,
					       .content = "more\n", .content_len = 5 };
		struct stat l;

		ck_assert_int_eq(rename(work, real), 0);
		ck_assert_int_eq(symlink(real, work), 0);
		ck_assert_int_eq(disk_filesync_apply(work, &more, 1, tmp_root, &err), -EINVAL);
		err = error_free(err);
		ck_assert_int_eq(lstat(work, &l), 0);
		ck_assert(S_ISLNK(l.st_mode));
		ck_assert_ptr_null(guest_file(real, "/etc/more"));
		ck_assert_int_eq(access(cow, F_OK), -1);
		ck_assert_int_eq(access(undo, F_OK), -1);
	}
	ck_assert_int_eq(umount2(mnt, 0), 0);
	close(fd);
	ck_assert(wait_cleared(dev));
}
END_TEST

static Suite *
host_suite(void)
{
	Suite *s = suite_create("disk-host");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_loop_attach_list_autoclear);
	tcase_add_test(tc, test_loop_list_only_overlays);
	tcase_add_test(tc, test_loop_legacy_ioctls);
	tcase_add_test(tc, test_orphan_removal_spares_foreign_loops);
	tcase_add_test(tc, test_reflink_btrfs);
	tcase_add_test(tc, test_reflink_xfs);
	tcase_add_test(tc, test_filesync_on_clone_xfs);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0 || access("/dev/loop-control", W_OK) < 0)
		return 77;
	/* A private mount namespace: our mounts die with us, whatever happens. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	sr = srunner_create(host_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
