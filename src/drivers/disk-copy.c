/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Root disks without device-mapper: a FICLONE reflink of the image rootfs
 * (btrfs, xfs) or a sparse copy that keeps the image's holes and makes
 * holes of its blocks of zeros.  Both write
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
#define COPY_BLOCK 4096U	/* the unit a hole is made of */

/* tmp's data durable, then its name dst; the folder's sync is the caller's. */
static int
finish_tmp(int fd, const char *tmp, const char *dst, struct error **err)
{
	if (fsync(fd) < 0)
		return error_set(err, -errno, "fsync '%s': %s", tmp, strerror(errno));
	if (rename(tmp, dst) < 0)
		return error_set(err, -errno, "rename '%s': %s", tmp, strerror(errno));
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

/* Whether the len bytes at p are all zero. */
static bool
all_zero(const char *p, size_t len)
{
	return len == 0 || (p[0] == 0 && memcmp(p, p + 1, len - 1) == 0);
}

static void
map_add(struct disk_copy_map *m, off_t start, off_t end)
{
	if (m->n && m->runs[m->n - 1].end == start) {
		m->runs[m->n - 1].end = end;
		return;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? 2 * m->cap : 16;
		m->runs = xrealloc(m->runs, m->cap * sizeof(*m->runs));
	}
	m->runs[m->n++] = (struct disk_copy_run){ start, end };
}

/* The blocks of [start, end) of in that are not all zeros, added to m. */
static int
map_range(struct disk_copy_map *m, int in, off_t start, off_t end, char *buf)
{
	while (start < end) {
		size_t want = (size_t)(end - start) < COPY_BUF ? (size_t)(end - start) : COPY_BUF;
		ssize_t got = pread(in, buf, want, start);

		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;	/* file shrank under us */
		for (size_t i = 0; i < (size_t)got;) {
			size_t n = (size_t)got - i < COPY_BLOCK ? (size_t)got - i : COPY_BLOCK;

			if (!all_zero(buf + i, n))
				map_add(m, start + (off_t)i, start + (off_t)(i + n));
			i += n;
		}
		start += got;
	}
	return 0;
}

static void
map_clear(struct disk_copy_map *m)
{
	free(m->runs);
	m->runs = NULL;
	m->n = m->cap = 0;
	m->valid = false;
}

static bool
map_matches(const struct disk_copy_map *m, const struct stat *st)
{
	return m->valid && m->dev == st->st_dev && m->ino == st->st_ino &&
	       m->size == st->st_size && m->mtime.tv_sec == st->st_mtim.tv_sec &&
	       m->mtime.tv_nsec == st->st_mtim.tv_nsec && m->ctime.tv_sec == st->st_ctim.tv_sec &&
	       m->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* Read the whole of in (of stat st) into m: its data, less its zero blocks. */
static int
map_build(struct disk_copy_map *m, int in, const struct stat *st)
{
	_cleanup_free_ char *buf = xmalloc(COPY_BUF);
	off_t pos = 0;
	int r;

	map_clear(m);
	while (pos < st->st_size) {
		off_t data, hole;

		data = lseek(in, pos, SEEK_DATA);
		if (data < 0) {
			if (errno == ENXIO)
				break;	/* only a hole is left */
			if (errno != EINVAL && errno != EOPNOTSUPP)
				return -errno;
			data = pos;	/* no SEEK_DATA here: read all of it */
			hole = st->st_size;
		} else {
			hole = lseek(in, data, SEEK_HOLE);
			if (hole < 0)
				return -errno;
		}
		if (hole > st->st_size)
			hole = st->st_size;
		r = map_range(m, in, data, hole, buf);
		if (r < 0) {
			map_clear(m);
			return r;
		}
		pos = hole;
	}
	m->dev = st->st_dev;
	m->ino = st->st_ino;
	m->size = st->st_size;
	m->mtime = st->st_mtim;
	m->ctime = st->st_ctim;
	m->valid = true;
	return 0;
}

void
disk_copy_maps_done(struct disk_copy_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		map_clear(&m->maps[i]);
	free(m->maps);
	m->maps = NULL;
	m->n = 0;
}

/* The map of the file of st in m (a new, empty one when there is none). */
static struct disk_copy_map *
maps_find(struct disk_copy_maps *m, const struct stat *st)
{
	struct disk_copy_map *x;

	for (size_t i = 0; i < m->n; i++)
		if (m->maps[i].dev == st->st_dev && m->maps[i].ino == st->st_ino)
			return &m->maps[i];
	m->maps = xappend(m->maps, &m->n, sizeof(*m->maps), (void **)&x);
	*x = (struct disk_copy_map){ .dev = st->st_dev, .ino = st->st_ino };
	return x;
}

int
disk_sparse_copy_map(const char *src, const char *dst, mode_t mode, struct disk_copy_maps *maps,
		     struct error **err)
{
	struct disk_copy_map *map;
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_free_ struct disk_copy_run *runs = NULL;
	size_t n = 0;
	struct stat st;
	int r = 0;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return error_set(err, -errno, "open '%s': %s", src, strerror(errno));
	if (fstat(in, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", src, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a regular file", src);
	/* The maps are shared: this copy works from its own copy of the runs. */
	pthread_mutex_lock(&maps->lock);
	map = maps_find(maps, &st);
	if (!map_matches(map, &st))
		r = map_build(map, in, &st);
	if (r >= 0 && map->n) {
		n = map->n;
		runs = xmalloc(n * sizeof(*runs));
		memcpy(runs, map->runs, n * sizeof(*runs));
	}
	pthread_mutex_unlock(&maps->lock);
	if (r < 0)
		return error_set(err, r, "read '%s': %s", src, strerror(-r));
	tmp = xasprintf("%s.tmp", dst);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (out < 0)
		return error_set(err, -errno, "create '%s': %s", tmp, strerror(errno));
	/* Size first: every range not copied below stays a hole. */
	if (ftruncate(out, st.st_size) < 0) {
		r = -errno;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		r = copy_range(in, out, runs[i].start, runs[i].end);
		if (r < 0)
			goto fail;
	}
	r = finish_tmp(out, tmp, dst, err);
	if (r < 0)
		(void)unlink(tmp);
	return r;
fail:
	(void)unlink(tmp);
	return error_set(err, r, "copy '%s' to '%s': %s", src, dst, strerror(-r));
}

int
disk_sparse_copy(const char *src, const char *dst, mode_t mode, struct error **err)
{
	struct disk_copy_maps maps = DISK_COPY_MAPS_INIT;
	int r;

	r = disk_sparse_copy_map(src, dst, mode, &maps, err);
	disk_copy_maps_done(&maps);
	if (r >= 0)
		(void)fsync_parent_dir(dst);
	return r;
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
disk_reflink_works_from(const char *src, const char *dir)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int in = -EBADF, out = -EBADF;
	bool ok;

	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return false;
	out = probe_file(dir, &name);
	if (out < 0)
		return false;
	/* The whole file, as root_create will: a clone copies no data. */
	ok = ioctl(out, FICLONE, in) == 0;
	if (name)
		(void)unlink(name);
	return ok;
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
