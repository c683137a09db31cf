/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Whole-file reads and durable atomic writes.  Leaf module.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "fileio.h"

int
fsync_parent_dir(const char *path)
{
	_cleanup_free_ char *copy = xstrdup(path);
	_cleanup_close_ int dfd = -EBADF;

	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (fsync(dfd) < 0)
		return -errno;
	return 0;
}

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
write_file_whole_owned(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
		       gid_t gid, bool durable, bool fixed)
{
	_cleanup_free_ char *tmp = fixed ? xasprintf("%s.tmp", path)
					 : xasprintf("%s.tmp.%d", path, (int)getpid());
	_cleanup_close_ int fd = -EBADF;
	int r;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -errno;
	/* The owner first: a chown clears the set-id bits that fchmod sets. */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && fchown(fd, uid, gid) < 0) {
		r = -errno;
		goto fail;
	}
	/* The umask must not widen or narrow what the caller asked for. */
	if (fchmod(fd, mode) < 0) {
		r = -errno;
		goto fail;
	}
	r = write_all(fd, data, len);
	if (r < 0)
		goto fail;
	if (durable && fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(TAKE_FD(fd)) < 0) {
		r = -errno;
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		goto fail;
	}
	return durable ? fsync_parent_dir(path) : 0;
fail:
	(void)unlink(tmp);
	return r;
}

static int
write_file_whole(const char *path, const void *data, size_t len, mode_t mode, bool durable,
		 bool fixed)
{
	return write_file_whole_owned(path, data, len, mode, (uid_t)-1, (gid_t)-1, durable, fixed);
}

int
write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, true, false);
}

int
write_file_atomic_owned(const char *path, const void *data, size_t len, mode_t mode, uid_t uid,
			gid_t gid)
{
	return write_file_whole_owned(path, data, len, mode, uid, gid, true, false);
}

int
write_file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, false, false);
}

int
write_file_atomic_fixed(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, true, true);
}

int
write_file_replace_fixed(const char *path, const void *data, size_t len, mode_t mode)
{
	return write_file_whole(path, data, len, mode, false, true);
}

/* The writer's pid of a name "X.tmp.PID", or 0. */
static pid_t
temporary_pid(const char *name)
{
	const char *dot = strrchr(name, '.');
	char *end;
	long v;

	if (!dot || dot - name < 5 || strncmp(dot - 4, ".tmp", 4) != 0 || !dot[1] || dot[1] == '0')
		return 0;
	errno = 0;
	v = strtol(dot + 1, &end, 10);
	if (errno || *end || v <= 0 || v > INT_MAX)
		return 0;
	return (pid_t)v;
}

int
remove_dead_temporaries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid_t pid = temporary_pid(de->d_name);

		if (!pid || pid == getpid() || de->d_type == DT_DIR)
			continue;
		if (kill(pid, 0) == 0 || errno != ESRCH)
			continue;	/* alive (or not ours to signal): its writer may be at work */
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Read fd to its end into a buffer of cap bytes at first, grown by doubling,
 * never past max bytes of content.  size is what fstat said (0: unknown):
 * once that much is read with room left, the read that would return 0 is
 * skipped, as a regular file reads short only at its end.
 */
static int
read_fd_whole(int fd, size_t cap, size_t max, size_t size, char **ret_data, size_t *ret_len)
{
	_cleanup_free_ char *buf = xmalloc(cap);
	size_t len = 0;

	for (;;) {
		ssize_t n;

		if (len + 1 >= cap) {
			if (cap > max + 1)
				return -EFBIG;
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
		/* A file still growing fills the buffer and is read on. */
		if (size && len == size && len + 1 < cap)
			break;
	}
	buf[len] = '\0';
	*ret_data = TAKE_PTR(buf);
	if (ret_len)
		*ret_len = len;
	return 0;
}

int
read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	return read_fd_regular(fd, max, ret_data, ret_len);
}

int
read_fd_regular(int fd, size_t max, char **ret_data, size_t *ret_len)
{
	return read_fd_regular_mode(fd, max, ret_data, ret_len, NULL);
}

int
read_fd_regular_mode(int fd, size_t max, char **ret_data, size_t *ret_len, mode_t *ret_mode)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (ret_mode)
		*ret_mode = st.st_mode;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if ((size_t)st.st_size > max)
		return -EFBIG;
	/* The NUL, and room for the read that sees the end.  procfs and sysfs
	 * files say 0: start at a page, not at two bytes and a read per
	 * doubling. */
	return read_fd_whole(fd, st.st_size > 0 ? (size_t)st.st_size + 2 : 4096, max,
			     (size_t)st.st_size, ret_data, ret_len);
}

int
read_proc_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -errno;
	return read_fd_whole(fd, 4096, max, 0, ret_data, ret_len);
}

int
mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = NULL;

	/* Usually there already, or only its last part missing. */
	if (mkdir(path, mode) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	p = xstrdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
