/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Loop devices without losetup: LOOP_CTL_GET_FREE on /dev/loop-control, then
 * LOOP_CONFIGURE (or LOOP_SET_FD + LOOP_SET_STATUS64 on older kernels), always
 * with LO_FLAGS_AUTOCLEAR so a device vanishes with its last user.  Devices
 * are recognised as banger's only by their backing file in sysfs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"

/* Another process can take the device GET_FREE handed us; try again. */
#define LOOP_ATTACH_TRIES 16

static int
loop_configure(int dev_fd, int file_fd, const char *path, bool read_only, bool legacy)
{
	struct loop_config cfg;
	struct loop_info64 info;

	if (!legacy) {
		memset(&cfg, 0, sizeof(cfg));
		cfg.fd = (uint32_t)file_fd;
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR | (read_only ? LO_FLAGS_READ_ONLY : 0);
		strncpy((char *)cfg.info.lo_file_name, path, LO_NAME_SIZE - 1);
		if (ioctl(dev_fd, LOOP_CONFIGURE, &cfg) == 0)
			return 0;
		if (errno != EINVAL && errno != ENOTTY)
			return -errno;
	}

	/* Kernels before 5.8: a read-only backing fd makes the device read-only. */
	if (ioctl(dev_fd, LOOP_SET_FD, file_fd) < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	info.lo_flags = LO_FLAGS_AUTOCLEAR;
	strncpy((char *)info.lo_file_name, path, LO_NAME_SIZE - 1);
	if (ioctl(dev_fd, LOOP_SET_STATUS64, &info) < 0) {
		int r = -errno;

		(void)ioctl(dev_fd, LOOP_CLR_FD, 0);
		return r;
	}
	return 0;
}

int
loop_attach_legacy(const char *path, bool read_only, bool legacy, char **ret_dev, int *ret_fd,
		   struct error **err)
{
	_cleanup_close_ int ctl = -EBADF, file_fd = -EBADF;
	int r = -EBUSY;

	file_fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (file_fd < 0)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return error_set(err, -errno, "open /dev/loop-control: %s", strerror(errno));

	for (int i = 0; i < LOOP_ATTACH_TRIES; i++) {
		_cleanup_close_ int dev_fd = -EBADF;
		_cleanup_free_ char *dev = NULL;
		int n;

		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0)
			return error_set(err, -errno, "loop-control: get free device: %s",
					 strerror(errno));
		dev = xasprintf("/dev/loop%d", n);
		dev_fd = open(dev, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (dev_fd < 0)
			return error_set(err, -errno, "open '%s': %s", dev, strerror(errno));
		r = loop_configure(dev_fd, file_fd, path, read_only, legacy);
		if (r == -EBUSY)
			continue;
		if (r < 0)
			return error_set(err, r, "'%s': configure for '%s': %s", dev, path,
					 strerror(-r));
		*ret_dev = TAKE_PTR(dev);
		*ret_fd = TAKE_FD(dev_fd);
		return 0;
	}
	return error_set(err, r, "no free loop device for '%s'", path);
}

int
loop_attach(const char *path, bool read_only, char **ret_dev, int *ret_fd, struct error **err)
{
	return loop_attach_legacy(path, read_only, false, ret_dev, ret_fd, err);
}

int
loop_backing_file(const char *dev, char **ret, struct error **err)
{
	_cleanup_free_ char *p = NULL, *data = NULL;
	const char *base;
	size_t len = 0;
	int r;

	if (strncmp(dev, "/dev/loop", 9) != 0 || strspn(dev + 9, "0123456789") != strlen(dev + 9) ||
	    dev[9] == '\0')
		return error_set(err, -EINVAL, "'%s' is not a loop device", dev);
	base = dev + 5;
	p = xasprintf("/sys/block/%s/loop/backing_file", base);
	r = read_file(p, PATH_MAX + 64, &data, &len);
	if (r == -ENOENT)
		return error_set(err, -ENXIO, "'%s' has no backing file", dev);
	if (r < 0)
		return error_set(err, r, "read '%s': %s", p, strerror(-r));
	while (len > 0 && data[len - 1] == '\n')
		data[--len] = '\0';
	*ret = TAKE_PTR(data);
	return 0;
}

/*
 * Whether backing is the overlay of a VM under dir: exactly
 * dir/vms/NAME/cow.img, NAME a DNS label (sysfs appends " (deleted)" once the
 * file is unlinked).  Anything else under dir is not a loop banger made: the
 * base of an imported image (its autoclear loop goes with the snapshot), or
 * a file of another banger whose status directory lies below this one.
 */
static bool
is_vm_overlay(const char *dir, const char *backing)
{
	static const char deleted[] = " (deleted)";
	size_t dl = strcmp(dir, "/") == 0 ? 0 : strlen(dir), bl = strlen(backing);
	const char *name, *slash;
	_cleanup_free_ char *label = NULL;

	if (bl > sizeof(deleted) - 1 && strcmp(backing + bl - (sizeof(deleted) - 1), deleted) == 0)
		bl -= sizeof(deleted) - 1;
	if (strncmp(backing, dir, dl) != 0 || strncmp(backing + dl, "/vms/", 5) != 0)
		return false;
	name = backing + dl + 5;
	slash = memchr(name, '/', bl - (size_t)(name - backing));
	if (!slash)
		return false;
	label = xstrndup(name, (size_t)(slash - name));
	if (!name_is_dns_label(label))
		return false;
	return bl - (size_t)(slash + 1 - backing) == strlen(DISK_COW_FILE) &&
	       strncmp(slash + 1, DISK_COW_FILE, strlen(DISK_COW_FILE)) == 0;
}

int
loop_list(const char *dir, struct disk_obj **ret, size_t *ret_n, struct error **err)
{
	_cleanup_free_ char *canon = NULL;
	struct disk_obj *objs = NULL;
	size_t n = 0;
	DIR *d;
	struct dirent *de;

	/* sysfs shows the resolved path; compare against the resolved dir too. */
	canon = realpath(dir, NULL);
	d = opendir("/sys/block");
	if (!d)
		return error_set(err, -errno, "open /sys/block: %s", strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *dev = NULL, *backing = NULL;
		struct disk_obj *o;

		if (strncmp(de->d_name, "loop", 4) != 0 || de->d_name[4] == '\0' ||
		    strspn(de->d_name + 4, "0123456789") != strlen(de->d_name + 4))
			continue;
		dev = xasprintf("/dev/%s", de->d_name);
		if (loop_backing_file(dev, &backing, NULL) < 0)
			continue;
		if (!is_vm_overlay(dir, backing) && (!canon || !is_vm_overlay(canon, backing)))
			continue;
		objs = xappend(objs, &n, sizeof(*objs), (void **)&o);
		o->kind = DISK_OBJ_LOOP;
		o->name = TAKE_PTR(dev);
		o->backing = TAKE_PTR(backing);
	}
	closedir(d);
	*ret = objs;
	*ret_n = n;
	return 0;
}

int
loop_detach(const char *dev, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;

	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENXIO)
			return 0;
		return error_set(err, -errno, "open '%s': %s", dev, strerror(errno));
	}
	/* Busy devices get autoclear instead and go with their last user. */
	if (ioctl(fd, LOOP_CLR_FD, 0) < 0 && errno != ENXIO)
		return error_set(err, -errno, "'%s': detach: %s", dev, strerror(errno));
	return 0;
}

static int
kernel_attach(void *userdata, const char *path, bool read_only, char **ret_dev, int *ret_fd,
	      struct error **err)
{
	(void)userdata;
	return loop_attach(path, read_only, ret_dev, ret_fd, err);
}

static int
kernel_list(void *userdata, const char *dir, struct disk_obj **ret, size_t *ret_n,
	    struct error **err)
{
	(void)userdata;
	return loop_list(dir, ret, ret_n, err);
}

static int
kernel_detach(void *userdata, const char *dev, struct error **err)
{
	(void)userdata;
	return loop_detach(dev, err);
}

static void
kernel_release(void *userdata, int fd)
{
	(void)userdata;
	if (fd >= 0)
		(void)close(fd);
}

const struct loop_backend loop_backend_kernel = {
	.attach = kernel_attach,
	.list = kernel_list,
	.detach = kernel_detach,
	.release = kernel_release,
	.userdata = NULL,
};
