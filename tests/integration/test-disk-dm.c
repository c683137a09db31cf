/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A real dm-snapshot root disk through libdevmapper: create it over loop
 * devices, read the image through it, write to it without touching the
 * image, list it as banger's, tear it down and see the loops go.  Skips (77)
 * unless root and /dev/mapper/control exists.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

static char tmp_root[] = "/tmp/banger-test-disk-dm-XXXXXX";

START_TEST(test_dm_snapshot_root_disk)
{
	_cleanup_(disk_real_freep) struct disk_ops *ops = NULL;
	_cleanup_free_ char *status = NULL, *vm = NULL, *image = NULL, *dev = NULL, *data = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct disk_obj *objs = NULL;
	enum disk_strategy s;
	char buf[4096], name[20];
	size_t n = 0, len = 0;
	bool seen_dm = false, seen_loop = false;

	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	status = xasprintf("%s/status", tmp_root);
	vm = xasprintf("%s/vms/dmtest", status);
	image = xasprintf("%s/rootfs.img", tmp_root);
	data = xmalloc(8 << 20);
	for (size_t i = 0; i < (8 << 20); i++)
		data[i] = (char)(i % 251);
	ck_assert_int_eq(write_file_atomic(image, data, 8 << 20, 0644), 0);
	/* A throwaway id that cannot clash with a real VM's target. */
	snprintf(name, sizeof(name), "banger-%012x", (unsigned)getpid() & 0xffffff);

	ck_assert_int_eq(disk_real_new(status, &ops, NULL), 0);
	ck_assert_int_eq(ops->vm_dir_create(ops->userdata, vm, NULL), 0);
	ck_assert_int_eq(ops->strategy_probe(ops->userdata, DISK_STRATEGY_AUTO, vm, NULL, &s, NULL), 0);
	ck_assert_int_eq(s, DISK_STRATEGY_DM_SNAPSHOT);
	struct disk_root_req req = {
		.strategy = s, .vm_dir = vm, .image_rootfs = image,
		.overlay_size = 4 << 20, .dm_name = name,
	};
	ck_assert_int_eq(ops->root_create(ops->userdata, &req, &dev, NULL), 0);
	fd = open(dev, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, sizeof(buf), 4096), (ssize_t)sizeof(buf));
	ck_assert(memcmp(buf, data + 4096, sizeof(buf)) == 0);
	memset(buf, 'w', sizeof(buf));
	ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	ck_assert_int_eq(fsync(fd), 0);
	close(TAKE_FD(fd));
	free(TAKE_PTR(data));
	ck_assert_int_eq(read_file(image, 16 << 20, &data, &len), 0);
	ck_assert_int_eq(data[0], 0);	/* the image is never written */

	ck_assert_int_eq(ops->list(ops->userdata, status, &objs, &n, NULL), 0);
	for (size_t i = 0; i < n; i++) {
		seen_dm |= objs[i].kind == DISK_OBJ_DM && strcmp(objs[i].name, name) == 0;
		seen_loop |= objs[i].kind == DISK_OBJ_LOOP;
	}
	disk_objs_free(objs, n);
	ck_assert(seen_dm);
	ck_assert(seen_loop);

	ck_assert_int_eq(ops->root_remove(ops->userdata, &req, NULL), 0);
	for (int i = 0; i < 500; i++) {
		seen_loop = false;
		ck_assert_int_eq(loop_list(status, &objs, &n, NULL), 0);
		seen_loop = n > 0;
		disk_objs_free(objs, n);
		if (!seen_loop)
			break;
		usleep(10000);
	}
	ck_assert(!seen_loop);
	ck_assert_int_eq(ops->vm_dir_remove(ops->userdata, vm, NULL), 0);
	(void)disk_rm_rf(tmp_root, NULL);
}
END_TEST

int
main(void)
{
	SRunner *sr;
	Suite *s;
	TCase *tc;
	int failed;

	if (geteuid() != 0 || access("/dev/mapper/control", F_OK) < 0 ||
	    !dm_backend_libdevmapper.available(NULL))
		return 77;
	s = suite_create("disk-dm");
	tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_dm_snapshot_root_disk);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
