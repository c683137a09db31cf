/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root disks without device-mapper: a FICLONE reflink of the image rootfs
 * (btrfs, xfs) or a sparse copy that keeps the image's holes.  Both write
 * DST.tmp and rename it over DST, so a crash never leaves a half disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define COPY_BUF (1U << 20)

static int
finish_tmp(int fd, const char *tmp, const char *dst, struct error **err)
{
	if (fsync(fd) < 0)
		return error_set(err, -errno, "fsync '%s': %s", tmp, strerror(errno));
	if (rename(tmp, dst) < 0)
		return error_set(err, -errno, "rename '%s': %s", tmp, strerror(errno));
	(void)fsync_parent_dir(dst);
	return 0;
}

int
disk_reflink(const char *src, const char *dst, struct error **err)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	_cleanup_free_ char *tmp = NULL;
	int r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return error_set(err, -errno, "open '%s': %s", src, strerror(errno));
	tmp = xasprintf("%s.tmp", dst);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0)
		return error_set(err, -errno, "create '%s': %s", tmp, strerror(errno));
	if (ioctl(out, FICLONE, in) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return error_set(err, r, "reflink '%s' to '%s': %s", src, dst, strerror(-r));
	}
	r = finish_tmp(out, tmp, dst, err);
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

static int
copy_range(int in, int out, off_t start, off_t end)
{
	_cleanup_free_ char *buf = NULL;

	while (start < end) {
		off_t in_off = start, out_off = start;
		ssize_t n;

		n = copy_file_range(in, &in_off, out, &out_off, (size_t)(end - start), 0);
		if (n > 0) {
			start += n;
			continue;
		}
		if (n == 0)
			return -EIO;	/* file shrank under us */
		if (errno != EXDEV && errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL)
			return -errno;
		/* Plain read/write when the kernel cannot copy between these files. */
		if (!buf)
			buf = xmalloc(COPY_BUF);
		size_t want = (size_t)(end - start) < COPY_BUF ? (size_t)(end - start) : COPY_BUF;
		ssize_t got = pread(in, buf, want, start);

		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		for (ssize_t w = 0; w < got;) {
			ssize_t k = pwrite(out, buf + w, (size_t)(got - w), start + w);

			if (k < 0)
				return -errno;
			w += k;
		}
		start += got;
	}
	return 0;
}

int
disk_sparse_copy(const char *src, const char *dst, mode_t mode, struct error **err)
{
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	_cleanup_free_ char *tmp = NULL;
	struct stat st;
	off_t pos = 0;
	int r;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return error_set(err, -errno, "open '%s': %s", src, strerror(errno));
	if (fstat(in, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", src, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a regular file", src);
	tmp = xasprintf("%s.tmp", dst);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		return error_set(err, -errno, "create '%s': %s", tmp, strerror(errno));
	/* Size first: every range not copied below stays a hole. */
	if (ftruncate(out, st.st_size) < 0) {
		r = -errno;
		goto fail;
	}
	while (pos < st.st_size) {
		off_t data, hole;

		data = lseek(in, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;	/* only a hole is left */
			if (errno != EINVAL && errno != EOPNOTSUPP) {
				r = -errno;
				goto fail;
			}
			data = pos;	/* no SEEK_DATA here: copy all of it */
			hole = st.st_size;
		} else {
			hole = lseek(in, data, SEEK_HOLE);
			if (hole < 0) {
				r = -errno;
				goto fail;
			}
		}
		if (hole > st.st_size)
			hole = st.st_size;
		r = copy_range(in, out, data, hole);
		if (r < 0)
			goto fail;
		pos = hole;
	}
	r = finish_tmp(out, tmp, dst, err);
	if (r < 0)
		(void)unlink(tmp);
	return r;
fail:
	(void)unlink(tmp);
	return error_set(err, r, "copy '%s' to '%s': %s", src, dst, strerror(-r));
}

/*
 * A probe file in dir: unnamed (O_TMPFILE) where the file system allows, so
 * that a run killed mid-probe leaves nothing behind; else a named one, which
 * *ret_name then holds for the caller to remove.
 */
static int
probe_file(const char *dir, char **ret_name)
{
	_cleanup_free_ char *name = NULL;
	int fd;

	*ret_name = NULL;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	name = xasprintf("%s/.banger-reflink-probe.XXXXXX", dir);
	fd = mkostemp(name, O_CLOEXEC);
	if (fd >= 0)
		*ret_name = TAKE_PTR(name);
	return fd;
}

bool
disk_reflink_works(const char *dir)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	_cleanup_close_ int fa = -EBADF, fb = -EBADF;
	char block[4096];
	bool ok = false;

	fa = probe_file(dir, &a);
	if (fa < 0)
		return false;
	fb = probe_file(dir, &b);
	if (fb < 0)
		goto out;
	memset(block, 0x5a, sizeof(block));
	if (write(fa, block, sizeof(block)) != (ssize_t)sizeof(block) || fsync(fa) < 0)
		goto out;
	ok = ioctl(fb, FICLONE, fa) == 0;
out:
	if (a)
		(void)unlink(a);
	if (b)
		(void)unlink(b);
	return ok;
}
