/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the real disk driver's logic: path and name checks, the
 * dm-snapshot steps against recording dm/loop fakes (tables, names, order of
 * creation and teardown, failure rollback), sparse copies, strategy probing,
 * orphan listing and the image pin cache.  No root needed.
 */
#include <check.h>
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "disk-fake.h"
#include "drivers/disk-internal.h"
#include "drivers/image-pin.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/strv.h"

#define VM_ID "0123456789abcdef0123456789abcdef"
#define DM_NAME "banger-0123456789ab"

static char tmp_root[] = "/tmp/banger-test-disk-XXXXXX";
static char *status_dir, *vm_dir, *image;
static struct disk_fake fake;

static void
write_bytes(const char *path, off_t off, const char *s, size_t len)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, s, len, off), (ssize_t)len);
}

static void
setup(void)
{
	_cleanup_free_ char *vms = NULL;

	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	status_dir = xasprintf("%s/status", tmp_root);
	vms = xasprintf("%s/vms", status_dir);
	ck_assert_int_eq(mkdir_p(vms, 0700), 0);
	vm_dir = xasprintf("%s/vms/web1", status_dir);
	image = xasprintf("%s/rootfs.img", tmp_root);
	/* 10240 bytes: 20 sectors. */
	write_bytes(image, 10239, "", 1);
	disk_fake_init(&fake);
}

static void
teardown(void)
{
	(void)disk_rm_rf(tmp_root, NULL);
	disk_fake_done(&fake);
	free(status_dir);
	free(vm_dir);
	free(image);
}

static struct disk_ops *
new_ops(void)
{
	struct dm_backend dm = disk_fake_dm(&fake);
	struct loop_backend loop = disk_fake_loop(&fake);
	struct disk_ops *ops = NULL;

	ck_assert_int_eq(disk_real_new_with(status_dir, &dm, &loop, &ops, NULL), 0);
	return ops;
}

START_TEST(test_path_check)
{
	struct error *err = NULL;

	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger/vms/a", NULL), 0);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger/x", NULL), 0);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/bangerx/a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger/../etc", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger/./a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger//a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "/var/lib/banger/a/", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger", "var/lib/banger/a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/var/lib/banger/", "/var/lib/banger/a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("relative", "relative/a", NULL), -EPERM);
	ck_assert_int_eq(disk_path_check("/", "/a", NULL), 0);
	ck_assert_int_eq(disk_path_check("/s", "/etc/passwd", &err), -EPERM);
	ck_assert_str_eq(err->msg, "path '/etc/passwd' is outside '/s'");
	error_free(err);

	ck_assert_int_eq(disk_vm_dir_check("/s", "/s/vms/web1", NULL), 0);
	ck_assert_int_eq(disk_vm_dir_check("/s", "/s/vms/Web1", NULL), -EPERM);
	ck_assert_int_eq(disk_vm_dir_check("/s", "/s/vms/web1/x", NULL), -EPERM);
	ck_assert_int_eq(disk_vm_dir_check("/s", "/s/vms", NULL), -EPERM);
	ck_assert_int_eq(disk_vm_dir_check("/s", "/s/images/web1", NULL), -EPERM);
	ck_assert_int_eq(disk_vm_dir_check("/s", "/t/vms/web1", NULL), -EPERM);
}
END_TEST

START_TEST(test_name_and_guest_checks)
{
	_cleanup_free_ char *p = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(disk_dm_name_check(DM_NAME, NULL), 0);
	ck_assert_int_eq(disk_dm_name_check("banger-0123456789a", NULL), -EPERM);
	ck_assert_int_eq(disk_dm_name_check("banger-0123456789abc", NULL), -EPERM);
	ck_assert_int_eq(disk_dm_name_check("banger-0123456789AB", NULL), -EPERM);
	ck_assert_int_eq(disk_dm_name_check("docker-0123456789ab", NULL), -EPERM);
	ck_assert_int_eq(disk_dm_name_check(NULL, NULL), -EPERM);

	ck_assert_int_eq(disk_guest_path_check("/root/.ssh/config", NULL), 0);
	ck_assert_int_eq(disk_guest_path_check("/root/../etc/shadow", &err), -EINVAL);
	ck_assert_str_eq(err->msg,
			 "guest path '/root/../etc/shadow' must be absolute, without '.' or '..'");
	error_free(err);
	ck_assert_int_eq(disk_guest_path_check("/", NULL), -EINVAL);
	ck_assert_int_eq(disk_guest_path_check("etc/x", NULL), -EINVAL);

	setenv("HOME", "/home/u", 1);
	ck_assert_int_eq(disk_host_path_resolve("~/.gitconfig", "/etc/banger", &p, NULL), 0);
	ck_assert_str_eq(p, "/home/u/.gitconfig");
	free(TAKE_PTR(p));
	ck_assert_int_eq(disk_host_path_resolve("files/motd", "/etc/banger", &p, NULL), 0);
	ck_assert_str_eq(p, "/etc/banger/files/motd");
	free(TAKE_PTR(p));
	ck_assert_int_eq(disk_host_path_resolve("/srv/x", "/etc/banger", &p, NULL), 0);
	ck_assert_str_eq(p, "/srv/x");
	free(TAKE_PTR(p));
	ck_assert_int_eq(disk_host_path_resolve("~bob/x", "/etc/banger", &p, NULL), -EINVAL);
	ck_assert_int_eq(disk_host_path_resolve("", "/etc/banger", &p, NULL), -EINVAL);
	/* No HOME (a systemd service has none): the user's home folder from the
	 * user database. */
	unsetenv("HOME");
	{
		struct passwd *pw = getpwuid(geteuid());
		_cleanup_free_ char *want = NULL;

		ck_assert_ptr_nonnull(pw);
		want = xasprintf("%s/.gitconfig", pw->pw_dir);
		ck_assert_int_eq(disk_host_path_resolve("~/.gitconfig", "/etc/banger", &p, NULL), 0);
		ck_assert_str_eq(p, want);
		free(TAKE_PTR(p));
	}
	setenv("HOME", "/home/u", 1);
}
END_TEST

START_TEST(test_dm_table_string)
{
	_cleanup_free_ char *t = dm_snapshot_table(2097152, "/dev/loop3", "/dev/loop4");

	uint64_t start = 1, len = 0;
	char type[64];
	const char *params = NULL;

	ck_assert_str_eq(t, "0 2097152 snapshot /dev/loop3 /dev/loop4 P 8");
	/* What the libdevmapper backend passes to dm_task_add_target. */
	ck_assert_int_eq(dm_table_parse(t, &start, &len, type, &params), 0);
	ck_assert_uint_eq(start, 0);
	ck_assert_uint_eq(len, 2097152);
	ck_assert_str_eq(type, "snapshot");
	ck_assert_str_eq(params, "/dev/loop3 /dev/loop4 P 8");
	ck_assert_int_eq(dm_table_parse("0 10 snapshot", &start, &len, type, &params), -EINVAL);
	ck_assert_int_eq(dm_table_parse("0 0 linear /dev/x 0", &start, &len, type, &params),
			 -EINVAL);
	ck_assert_int_eq(dm_table_parse("-1 10 linear /dev/x 0", &start, &len, type, &params),
			 -EINVAL);
	ck_assert_int_eq(dm_table_parse("zero", &start, &len, type, &params), -EINVAL);
}
END_TEST

START_TEST(test_dm_create_and_teardown_order)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *dev = NULL, *dev2 = NULL, *t = NULL, *expect = NULL, *cow = NULL;
	struct disk_root_req req = {
		.strategy = DISK_STRATEGY_DM_SNAPSHOT,
		.vm_id = VM_ID,
		.vm_dir = vm_dir,
		.image_rootfs = image,
		.overlay_size = 1 << 20,
		.dm_name = DM_NAME,
	};
	struct stat st;

	fake.dm_available = true;
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), 0);
	ck_assert_str_eq(dev, "/dev/mapper/" DM_NAME);
	cow = xasprintf("%s/cow.img", vm_dir);
	ck_assert_int_eq(stat(cow, &st), 0);
	ck_assert_int_eq(st.st_size, 1 << 20);
	ck_assert_int_eq(st.st_blocks, 0);	/* sparse */
	ck_assert_uint_eq(st.st_mode & 0777, 0600);

	t = disk_fake_transcript(&fake);
	expect = xasprintf("dm list\n"
			   "loop attach ro %s\n"
			   "loop attach rw %s\n"
			   "dm create " DM_NAME ": 0 20 snapshot /dev/loop40 /dev/loop41 P 8\n"
			   "loop release /dev/loop41\n"
			   "loop release /dev/loop40\n",
			   image, cow);
	ck_assert_str_eq(t, expect);

	/* A second create adopts the existing target: no new devices. */
	strv_free(TAKE_PTR(fake.transcript));
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev2, NULL), 0);
	ck_assert_str_eq(dev2, dev);
	free(t);
	t = disk_fake_transcript(&fake);
	ck_assert_str_eq(t, "dm list\n");

	/* Teardown: target first, then the COW loop, then the COW file. */
	strv_free(TAKE_PTR(fake.transcript));
	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), 0);
	free(t);
	t = disk_fake_transcript(&fake);
	free(expect);
	expect = xasprintf("dm remove " DM_NAME "\n"
			   "loop list %s\n"
			   "loop detach /dev/loop41\n",
			   status_dir);
	ck_assert_str_eq(t, expect);
	ck_assert_int_eq(access(cow, F_OK), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(fake.dm_names ? fake.dm_names[0] : NULL);
}
END_TEST

START_TEST(test_dm_create_failure_releases_loops)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *dev = NULL, *t = NULL, *s = NULL;
	struct error *err = NULL;
	struct disk_root_req req = {
		.strategy = DISK_STRATEGY_DM_SNAPSHOT,
		.vm_id = VM_ID,
		.vm_dir = vm_dir,
		.image_rootfs = image,
		.overlay_size = 1 << 20,
		.dm_name = DM_NAME,
	};

	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	fake.fail_call = "dm create";
	fake.fail_errno = -EBUSY;
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, &err), -EBUSY);
	ck_assert_ptr_null(dev);
	s = error_format(err);
	ck_assert_ptr_nonnull(strstr(s, "injected failure: dm create " DM_NAME));
	error_free(err);
	t = disk_fake_transcript(&fake);
	ck_assert_ptr_nonnull(strstr(t, "loop release /dev/loop41\nloop release /dev/loop40\n"));

	/* The second loop attach failing releases the first. */
	strv_free(TAKE_PTR(fake.transcript));
	fake.fail_call = "loop attach rw";
	fake.fail_errno = -ENOSPC;
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), -ENOSPC);
	free(t);
	t = disk_fake_transcript(&fake);
	ck_assert_ptr_nonnull(strstr(t, "loop release /dev/loop42\n"));
	ck_assert_ptr_null(strstr(t, "dm create"));
}
END_TEST

START_TEST(test_refuses_foreign_paths_and_names)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *dev = NULL, *t = NULL;
	struct disk_root_req req = {
		.strategy = DISK_STRATEGY_DM_SNAPSHOT,
		.vm_id = VM_ID,
		.vm_dir = "/etc",
		.image_rootfs = image,
		.overlay_size = 1 << 20,
		.dm_name = DM_NAME,
	};
	struct disk_obj o = { .kind = DISK_OBJ_DM, .name = (char *)"vg0-root" };
	struct disk_obj od = { .kind = DISK_OBJ_VM_DIR, .name = (char *)"/etc" };

	fake.dm_available = true;
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), -EPERM);
	req.vm_dir = vm_dir;
	req.dm_name = "vg0-root";
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), -EPERM);
	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), -EPERM);
	ck_assert_int_eq(ops->obj_remove(ops->userdata, &o, NULL), -EPERM);
	ck_assert_int_eq(ops->obj_remove(ops->userdata, &od, NULL), -EPERM);
	ck_assert_int_eq(ops->vm_dir_remove(ops->userdata, "/tmp", NULL), -EPERM);
	ck_assert_int_eq(ops->vm_dir_sync(ops->userdata, "/tmp", NULL), -EPERM);
	ck_assert_int_eq(ops->work_create(ops->userdata, "/tmp/work.ext4", 1 << 20, NULL), -EPERM);
	ck_assert_int_eq(ops->work_retain(ops->userdata, "/tmp/a", "/tmp/b", NULL), -EPERM);
	/* Nothing reached the host seams. */
	t = disk_fake_transcript(&fake);
	ck_assert_str_eq(t, "");
}
END_TEST

START_TEST(test_list_and_orphans)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *other = NULL, *cow = NULL, *dev = NULL, *foreign = NULL;
	struct disk_obj *objs = NULL;
	size_t n = 0;
	int fd = -1;
	char *vm2;

	fake.dm_available = true;
	fake.dm_names = strv_append(fake.dm_names, DM_NAME);
	fake.dm_names = strv_append(fake.dm_names, "vg0-root");
	fake.dm_names = strv_append(fake.dm_names, "banger-xyz");
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	vm2 = xasprintf("%s/vms/NotALabel", status_dir);
	ck_assert_int_eq(mkdir(vm2, 0700), 0);
	free(vm2);
	cow = xasprintf("%s/cow.img", vm_dir);
	foreign = xasprintf("%s/foreign.img", tmp_root);
	struct loop_backend lb = disk_fake_loop(&fake);
	ck_assert_int_eq(lb.attach(lb.userdata, cow, false, &dev, &fd, NULL), 0);
	free(TAKE_PTR(dev));
	ck_assert_int_eq(lb.attach(lb.userdata, foreign, false, &dev, &fd, NULL), 0);

	ck_assert_int_eq(ops->list(ops->userdata, "/elsewhere", &objs, &n, NULL), -EPERM);
	ck_assert_int_eq(ops->list(ops->userdata, status_dir, &objs, &n, NULL), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(objs[0].kind, DISK_OBJ_DM);
	ck_assert_str_eq(objs[0].name, DM_NAME);
	ck_assert_int_eq(objs[1].kind, DISK_OBJ_LOOP);
	ck_assert_str_eq(objs[1].name, "/dev/loop40");
	ck_assert_str_eq(objs[1].backing, cow);
	ck_assert_int_eq(objs[2].kind, DISK_OBJ_VM_DIR);
	ck_assert_str_eq(objs[2].name, vm_dir);
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(ops->obj_remove(ops->userdata, &objs[i], NULL), 0);
	disk_objs_free(objs, n);
	ck_assert_int_eq(access(vm_dir, F_OK), -1);
	ck_assert(strv_contains(fake.dm_names, "vg0-root"));
	ck_assert(!strv_contains(fake.dm_names, DM_NAME));
	/* The loop backed outside the status dir is untouched. */
	ck_assert_str_eq(fake.loop_devs[0], "/dev/loop41");
	ck_assert_ptr_null(fake.loop_devs[1]);
	other = disk_fake_transcript(&fake);
	ck_assert_ptr_null(strstr(other, "detach /dev/loop41"));
}
END_TEST

/* ops' strategy for a root disk in dir from any image. */
static int
probe(const struct disk_ops *ops, enum disk_strategy want, const char *dir,
      enum disk_strategy *ret, struct error **err)
{
	return ops->strategy_probe(ops->userdata, want, dir, NULL, ret, err);
}

START_TEST(test_strategy_probe)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	enum disk_strategy s = _DISK_STRATEGY_INVALID;
	bool reflink = disk_reflink_works(tmp_root);
	struct error *err = NULL;

	fake.dm_available = true;
	ck_assert_int_eq(probe(ops, DISK_STRATEGY_AUTO, vm_dir, &s, NULL), 0);
	ck_assert_int_eq(s, DISK_STRATEGY_DM_SNAPSHOT);
	fake.dm_available = false;
	ck_assert_int_eq(probe(ops, DISK_STRATEGY_AUTO, vm_dir, &s, NULL), 0);
	ck_assert_int_eq(s, reflink ? DISK_STRATEGY_REFLINK : DISK_STRATEGY_COPY);
	ck_assert_int_eq(probe(ops, DISK_STRATEGY_DM_SNAPSHOT, vm_dir, &s, &err), -EOPNOTSUPP);
	error_free(err);
	ck_assert_int_eq(probe(ops, DISK_STRATEGY_COPY, vm_dir, &s, NULL), 0);
	ck_assert_int_eq(s, DISK_STRATEGY_COPY);
	ck_assert_int_eq(probe(ops, DISK_STRATEGY_AUTO, "/etc", &s, NULL), -EPERM);
	/* The probe (run in vms/, vm_dir does not exist yet) leaves no files behind. */
	{
		_cleanup_free_ char *vms = xasprintf("%s/vms", status_dir);

		ck_assert_int_eq(rmdir(vms), 0);
	}
}
END_TEST

static void
fill(const char *path, off_t off, char c, size_t len)
{
	_cleanup_free_ char *buf = xmalloc(len);

	memset(buf, c, len);
	write_bytes(path, off, buf, len);
}

static void
assert_same_content(const char *a, const char *b)
{
	_cleanup_free_ char *da = NULL, *db = NULL;
	size_t la = 0, lb = 0;

	ck_assert_int_eq(read_file(a, 64 << 20, &da, &la), 0);
	ck_assert_int_eq(read_file(b, 64 << 20, &db, &lb), 0);
	ck_assert_uint_eq(la, lb);
	ck_assert(memcmp(da, db, la) == 0);
}

START_TEST(test_sparse_copy_keeps_holes)
{
	_cleanup_free_ char *src = xasprintf("%s/sparse.img", tmp_root);
	_cleanup_free_ char *dst = xasprintf("%s/copy.img", tmp_root);
	struct stat ss, ds;

	/* 16 MiB with 64 KiB of data at 0, 5 MiB and the last 4 KiB. */
	fill(src, 0, 'a', 65536);
	fill(src, 5 << 20, 'b', 65536);
	fill(src, (16 << 20) - 4096, 'c', 4096);
	ck_assert_int_eq(disk_sparse_copy(src, dst, 0600, NULL), 0);
	assert_same_content(src, dst);
	ck_assert_int_eq(stat(src, &ss), 0);
	ck_assert_int_eq(stat(dst, &ds), 0);
	ck_assert_int_eq(ds.st_size, 16 << 20);
	ck_assert_uint_eq(ds.st_mode & 0777, 0600);
	/* Holes kept: far fewer blocks than the 32768 a full copy needs. */
	ck_assert_int_le(ds.st_blocks, ss.st_blocks + 64);
	ck_assert_int_lt(ds.st_blocks, 2048);
	/* A file ending in a hole keeps its size. */
	ck_assert_int_eq(truncate(src, 32 << 20), 0);
	ck_assert_int_eq(disk_sparse_copy(src, dst, 0600, NULL), 0);
	ck_assert_int_eq(stat(dst, &ds), 0);
	ck_assert_int_eq(ds.st_size, 32 << 20);
	assert_same_content(src, dst);
	ck_assert_int_eq(disk_sparse_copy("/nonexistent/x", dst, 0600, NULL), -ENOENT);
	ck_assert_int_eq(disk_sparse_copy(tmp_root, dst, 0600, NULL), -EINVAL);
}
END_TEST

/* Blocks of zeros the image has allocated (an unused ext4 journal) are not
 * written: they become holes of the copy, which reads back the same. */
START_TEST(test_sparse_copy_zero_blocks)
{
	_cleanup_free_ char *src = xasprintf("%s/zeros.img", tmp_root);
	_cleanup_free_ char *dst = xasprintf("%s/zeros-copy.img", tmp_root);
	struct stat ss, ds;

	/* 4 MiB of allocated zeros, with one byte set at the end of a block in
	 * its middle and at the start of the block after that one, a zero
	 * region crossing the copy buffer's 1 MiB boundary, data at 2 MiB, and
	 * a file size that is not a multiple of the block size, its last
	 * partial block set. */
	fill(src, 0, 0, 4 << 20);
	fill(src, 2 << 20, 'd', 8192);
	fill(src, 4096 * 300 - 1, 'e', 1);
	fill(src, 4096 * 300, 'f', 1);
	fill(src, 4 << 20, 'g', 100);
	ck_assert_int_eq(stat(src, &ss), 0);
	ck_assert_int_ge(ss.st_blocks, (4 << 20) / 512);
	ck_assert_int_eq(disk_sparse_copy(src, dst, 0600, NULL), 0);
	assert_same_content(src, dst);
	ck_assert_int_eq(stat(dst, &ds), 0);
	ck_assert_int_eq(ds.st_size, (4 << 20) + 100);
	/* Four data blocks and the tail: at most a few more blocks for the file
	 * system's own metadata, nothing like the 4 MiB of the source. */
	ck_assert_int_lt(ds.st_blocks, 64 * 8);
	/* All zeros: all hole. */
	fill(src, 0, 0, (4 << 20) + 100);
	ck_assert_int_eq(disk_sparse_copy(src, dst, 0600, NULL), 0);
	assert_same_content(src, dst);
	ck_assert_int_eq(stat(dst, &ds), 0);
	ck_assert_int_lt(ds.st_blocks, 8 * 8);
}
END_TEST

/* One map per image for many copies of it; a change to the image is seen. */
START_TEST(test_sparse_copy_map)
{
	_cleanup_free_ char *src = xasprintf("%s/mapped.img", tmp_root);
	_cleanup_free_ char *a = xasprintf("%s/a.img", tmp_root);
	_cleanup_free_ char *b = xasprintf("%s/b.img", tmp_root);
	struct disk_copy_maps maps = DISK_COPY_MAPS_INIT;
	const struct disk_copy_map *map;

	fill(src, 0, 0, 1 << 20);
	fill(src, 8192, 'a', 4096);
	fill(src, 65536, 'b', 10000);
	ck_assert_int_eq(disk_sparse_copy_map(src, a, 0600, &maps, NULL), 0);
	assert_same_content(src, a);
	ck_assert_uint_eq(maps.n, 1);
	map = &maps.maps[0];
	ck_assert(map->valid);
	ck_assert_uint_eq(map->n, 2);
	ck_assert_int_eq(map->runs[0].start, 8192);
	ck_assert_int_eq(map->runs[0].end, 12288);
	ck_assert_int_eq(map->runs[1].start, 65536);
	ck_assert_int_eq(map->runs[1].end, 65536 + 3 * 4096);
	ck_assert_int_eq(disk_sparse_copy_map(src, b, 0600, &maps, NULL), 0);
	assert_same_content(src, b);
	ck_assert_uint_eq(maps.n, 1);
	ck_assert_uint_eq(maps.maps[0].n, 2);
	/* Data written where the map saw zeros, size and mtime kept as they
	 * were: the copy still has it (ctime moved). */
	{
		struct stat st;
		struct timespec keep[2];

		ck_assert_int_eq(stat(src, &st), 0);
		keep[0] = st.st_atim;
		keep[1] = st.st_mtim;
		usleep(10000);
		fill(src, 512 * 1024, 'c', 1);
		ck_assert_int_eq(utimensat(AT_FDCWD, src, keep, 0), 0);
	}
	ck_assert_int_eq(disk_sparse_copy_map(src, b, 0600, &maps, NULL), 0);
	assert_same_content(src, b);
	ck_assert_uint_eq(maps.n, 1);
	ck_assert_uint_eq(maps.maps[0].n, 3);
	/* Another file: a map of its own; the first one is kept. */
	ck_assert_int_eq(disk_sparse_copy_map(a, b, 0600, &maps, NULL), 0);
	assert_same_content(a, b);
	ck_assert_uint_eq(maps.n, 2);
	ck_assert_uint_eq(maps.maps[1].n, 2);
	ck_assert_uint_eq(maps.maps[0].n, 3);
	ck_assert_int_eq(disk_sparse_copy_map(src, a, 0600, &maps, NULL), 0);
	assert_same_content(src, a);
	ck_assert_uint_eq(maps.n, 2);
	disk_copy_maps_done(&maps);
	ck_assert(!maps.maps && !maps.n);
}
END_TEST

START_TEST(test_copy_strategy_root_disk)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *dev = NULL, *dev2 = NULL, *t = NULL;
	struct disk_root_req req = {
		.strategy = DISK_STRATEGY_COPY,
		.vm_id = VM_ID,
		.vm_dir = vm_dir,
		.image_rootfs = image,
	};
	struct stat st1, st2;

	fill(image, 0, 'r', 512);
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), 0);
	t = xasprintf("%s/root.img", vm_dir);
	ck_assert_str_eq(dev, t);
	assert_same_content(image, dev);
	ck_assert_int_eq(stat(dev, &st1), 0);
	/* Adopted, not rewritten: the VM's changes survive. */
	fill(dev, 0, 'w', 1);
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev2, NULL), 0);
	ck_assert_int_eq(stat(dev2, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	{
		uint64_t used = 0;

		/* The copy holds 512 bytes of data in a 10240-byte file: one block or so. */
		ck_assert_int_eq(ops->usage(ops->userdata, vm_dir, &used, NULL), 0);
		ck_assert_uint_ge(used, 512);
		ck_assert_uint_le(used, 64 * 1024);
		ck_assert_int_eq(ops->usage(ops->userdata, "/etc", &used, NULL), -EPERM);
	}
	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), 0);
	ck_assert_int_eq(access(dev, F_OK), -1);
	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), 0);	/* idempotent */
	req.strategy = DISK_STRATEGY_AUTO;
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev2, NULL), -EINVAL);
}
END_TEST

START_TEST(test_pin_cache)
{
	_cleanup_free_ char *f = xasprintf("%s/kernel", tmp_root), *s = NULL;
	_cleanup_free_ char *cache = NULL;
	char hex[SHA256_HEX_SIZE], hex2[SHA256_HEX_SIZE];
	struct image_pins *p = NULL;
	struct error *err = NULL;
	const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

	write_bytes(f, 0, "abc", 3);
	ck_assert_int_eq(image_pins_open(status_dir, &p, NULL), 0);
	ck_assert_int_eq(image_pins_digest(p, f, hex, NULL), 0);
	ck_assert_str_eq(hex, abc);
	ck_assert_uint_eq(image_pins_hashed(p), 1);
	ck_assert_int_eq(image_pins_verify(p, f, abc, NULL), 0);
	ck_assert_uint_eq(image_pins_hashed(p), 1);	/* served from the cache */
	ck_assert_int_eq(image_pins_save(p, NULL), 0);
	image_pins_free(p);

	/* A new run loads the cache: an unchanged file is not hashed again. */
	cache = xasprintf("%s/images/pins.yaml", status_dir);
	ck_assert_int_eq(access(cache, F_OK), 0);
	ck_assert_int_eq(image_pins_open(status_dir, &p, NULL), 0);
	ck_assert_int_eq(image_pins_verify(p, f, abc, NULL), 0);
	ck_assert_uint_eq(image_pins_hashed(p), 0);

	/* A changed file (size, mtime) is hashed again and a mismatch is reported. */
	write_bytes(f, 3, "d", 1);
	ck_assert_int_eq(image_pins_verify(p, f, abc, &err), -EBADMSG);
	ck_assert_uint_eq(image_pins_hashed(p), 1);
	s = xasprintf("'%s': sha256 mismatch: expected %s, found "
		      "88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589",
		      f, abc);
	ck_assert_str_eq(err->msg, s);
	error_free(TAKE_PTR(err));
	ck_assert_int_eq(image_pins_digest(p, f, hex2, NULL), 0);
	ck_assert_uint_eq(image_pins_hashed(p), 1);
	ck_assert_int_eq(image_pins_verify(p, f, "ABC", NULL), -EINVAL);
	ck_assert_int_eq(image_pins_verify(p, tmp_root, abc, NULL), -EINVAL);
	ck_assert_int_eq(image_pins_save(p, NULL), 0);
	image_pins_free(p);

	/* A corrupt cache is ignored, not fatal. */
	ck_assert_int_eq(write_file_atomic(cache, "files: [ {", 10, 0644), 0);
	ck_assert_int_eq(image_pins_open(status_dir, &p, NULL), 0);
	ck_assert_int_eq(image_pins_digest(p, f, hex, NULL), 0);
	ck_assert_str_eq(hex, hex2);
	ck_assert_uint_eq(image_pins_hashed(p), 1);
	image_pins_free(p);
}
END_TEST

START_TEST(test_pin_check_image)
{
	_cleanup_free_ char *k = xasprintf("%s/kernel", tmp_root), *s = NULL;
	_cleanup_(image_pins_freep) struct image_pins *p = NULL;
	struct image_spec img = { .name = (char *)"demo", .kernel = k, .rootfs = image };
	struct error *err = NULL;
	const char *abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

	write_bytes(k, 0, "abc", 3);
	ck_assert_int_eq(image_pins_open(status_dir, &p, NULL), 0);
	/* Unpinned: only existence and readability. */
	ck_assert_int_eq(image_pins_check_image(p, &img, NULL), 0);
	ck_assert_uint_eq(image_pins_hashed(p), 0);
	memcpy(img.sha256_kernel, abc, 65);
	ck_assert_int_eq(image_pins_check_image(p, &img, NULL), 0);
	ck_assert_uint_eq(image_pins_hashed(p), 1);
	img.sha256_kernel[0] = 'c';
	ck_assert_int_eq(image_pins_check_image(p, &img, &err), -EBADMSG);
	ck_assert_uint_eq(image_pins_hashed(p), 1);	/* mismatch found from the cache */
	s = xasprintf("image 'demo': kernel: '%s': sha256 mismatch: expected c%s, found %s", k,
		      abc + 1, abc);
	ck_assert_str_eq(err->msg, s);
	error_free(TAKE_PTR(err));
	img.initrd = (char *)"/nonexistent/initrd";
	img.sha256_kernel[0] = 'b';
	ck_assert_int_eq(image_pins_check_image(p, &img, &err), -ENOENT);
	ck_assert_str_eq(err->msg,
			 "image 'demo': initrd '/nonexistent/initrd': No such file or directory");
	error_free(err);
}
END_TEST

START_TEST(test_vm_dir_remove_stays_inside)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *outside = xasprintf("%s/outside", tmp_root);
	_cleanup_free_ char *keep = NULL, *link = NULL, *deep = NULL;
	struct stat st;

	ck_assert_int_eq(mkdir(outside, 0755), 0);
	keep = xasprintf("%s/keep", outside);
	write_bytes(keep, 0, "k", 1);
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	ck_assert_int_eq(stat(vm_dir, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);	/* idempotent */
	ck_assert_int_eq(ops->vm_dir_sync(ops->userdata, vm_dir, NULL), 0);
	{
		/* The VM folders' folder is a top directory where the file
		 * system has the flag (ext4: the test's /tmp here and in CI). */
		_cleanup_free_ char *vms = xasprintf("%s/vms", status_dir);
		_cleanup_close_ int fd = open(vms, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct statfs sf;
		int flags = 0;

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fstatfs(fd, &sf), 0);
		if (sf.f_type == EXT4_SUPER_MAGIC) {
			ck_assert_int_eq(ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
			ck_assert(flags & FS_TOPDIR_FL);
		}
	}
	link = xasprintf("%s/escape", vm_dir);
	ck_assert_int_eq(symlink(outside, link), 0);
	deep = xasprintf("%s/a/b/c", vm_dir);
	ck_assert_int_eq(mkdir_p(deep, 0700), 0);
	ck_assert_int_eq(ops->vm_dir_remove(ops->userdata, vm_dir, NULL), 0);
	ck_assert_int_eq(access(vm_dir, F_OK), -1);
	ck_assert_int_eq(access(keep, F_OK), 0);	/* the symlink was not followed */
	ck_assert_int_eq(ops->vm_dir_remove(ops->userdata, vm_dir, NULL), 0);	/* gone already */
}
END_TEST

START_TEST(test_work_retain)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = new_ops();
	_cleanup_free_ char *work = NULL, *dest = NULL, *data = NULL, *data2 = NULL;
	size_t len = 0;

	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm_dir, NULL), 0);
	work = xasprintf("%s/work.ext4", vm_dir);
	dest = xasprintf("%s/retained/web1-20260101T000000.ext4", status_dir);
	write_bytes(work, 0, "data", 4);
	ck_assert_int_eq(ops->work_retain(ops->userdata, work, dest, NULL), 0);
	ck_assert_int_eq(access(work, F_OK), -1);
	ck_assert_int_eq(read_file(dest, 100, &data, &len), 0);
	ck_assert_str_eq(data, "data");
	/* Again: already moved. */
	ck_assert_int_eq(ops->work_retain(ops->userdata, work, dest, NULL), 0);
	/* Never overwrites a retained disk. */
	write_bytes(work, 0, "new!", 4);
	ck_assert_int_eq(ops->work_retain(ops->userdata, work, dest, NULL), -EEXIST);
	ck_assert_int_eq(read_file(dest, 100, &data2, &len), 0);
	ck_assert_str_eq(data2, "data");
	/* A run cut short after the link, before the unlink: both names are
	 * the one disk, and the next run finishes the move. */
	ck_assert_int_eq(unlink(work), 0);
	ck_assert_int_eq(link(dest, work), 0);
	ck_assert_int_eq(ops->work_retain(ops->userdata, work, dest, NULL), 0);
	ck_assert_int_eq(access(work, F_OK), -1);
	ck_assert_int_eq(access(dest, F_OK), 0);

	/* A VM whose id is lost: NAME-unknown.ext4 becomes NAME-unknown-INODE,
	 * so a second such disk of that name is kept too (it collided), and a
	 * retry keeps it once. */
	{
		_cleanup_free_ char *unk = xasprintf("%s/retained/web1-unknown.ext4", status_dir);
		_cleanup_free_ char *first = NULL, *second = NULL;
		struct stat st;

		for (int i = 0; i < 2; i++) {
			write_bytes(work, 0, i ? "two!" : "one!", 4);
			ck_assert_int_eq(stat(work, &st), 0);
			if (i)
				second = xasprintf("%s/retained/web1-unknown-%ju.ext4", status_dir,
						   (uintmax_t)st.st_ino);
			else
				first = xasprintf("%s/retained/web1-unknown-%ju.ext4", status_dir,
						  (uintmax_t)st.st_ino);
			ck_assert_int_eq(ops->work_retain(ops->userdata, work, unk, NULL), 0);
			ck_assert_int_eq(ops->work_retain(ops->userdata, work, unk, NULL), 0);
			ck_assert_int_eq(access(work, F_OK), -1);
		}
		ck_assert_str_ne(first, second);
		free(TAKE_PTR(data));
		ck_assert_int_eq(read_file(first, 100, &data, &len), 0);
		ck_assert_str_eq(data, "one!");
		free(TAKE_PTR(data));
		ck_assert_int_eq(read_file(second, 100, &data, &len), 0);
		ck_assert_str_eq(data, "two!");
		ck_assert_int_eq(access(unk, F_OK), -1);
	}
}
END_TEST

static Suite *
disk_suite(void)
{
	Suite *s = suite_create("disk");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_path_check);
	tcase_add_test(tc, test_name_and_guest_checks);
	tcase_add_test(tc, test_dm_table_string);
	tcase_add_test(tc, test_dm_create_and_teardown_order);
	tcase_add_test(tc, test_dm_create_failure_releases_loops);
	tcase_add_test(tc, test_refuses_foreign_paths_and_names);
	tcase_add_test(tc, test_list_and_orphans);
	tcase_add_test(tc, test_strategy_probe);
	tcase_add_test(tc, test_sparse_copy_keeps_holes);
	tcase_add_test(tc, test_sparse_copy_zero_blocks);
	tcase_add_test(tc, test_sparse_copy_map);
	tcase_add_test(tc, test_copy_strategy_root_disk);
	tcase_add_test(tc, test_pin_cache);
	tcase_add_test(tc, test_pin_check_image);
	tcase_add_test(tc, test_vm_dir_remove_stays_inside);
	tcase_add_test(tc, test_work_retain);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(disk_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
