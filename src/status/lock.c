/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * STATUS_DIR/lock: flock(2) with a bounded wait; the holder writes its pid
 * into the file so a waiting run can say who holds it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
status_lock(const char *status_dir, unsigned timeout_ms, int *ret_fd, struct error **err)
{
	_cleanup_free_ char *path = xasprintf("%s/lock", status_dir);
	_cleanup_close_ int fd = -EBADF;
	uint64_t deadline;
	struct stat st;
	char buf[32];
	size_t len;
	int r;

	r = mkdir_p(status_dir, 0700);
	if (r < 0)
		return error_set(err, r, "status directory '%s': %s", status_dir, strerror(-r));
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	deadline = mono_ms() + timeout_ms;
	for (;;) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK)
			return error_set(err, -errno, "%s: %s", path, strerror(errno));
		if (mono_ms() >= deadline) {
			ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
			long pid = 0;

			if (n > 0) {
				buf[n] = '\0';
				pid = strtol(buf, NULL, 10);
			}
			if (pid > 0)
				return error_set(err, -EBUSY,
						 "another run holds '%s' (pid %ld); gave up after %u ms",
						 path, pid, timeout_ms);
			return error_set(err, -EBUSY, "another run holds '%s'; gave up after %u ms",
					 path, timeout_ms);
		}
		(void)usleep(50 * 1000);
	}
	/*
	 * The holder's pid, always as long: written over the last holder's in
	 * place.  Truncating the file each run freed its block, which a file
	 * system mounted with discard discards then and there (0.2-0.5 ms of
	 * a run here); only a longer file, left by another writer, is cut.
	 */
	len = (size_t)snprintf(buf, sizeof(buf), "%20ld\n", (long)getpid());
	if (fstat(fd, &st) < 0 || (st.st_size > (off_t)len && ftruncate(fd, (off_t)len) < 0) ||
	    pwrite(fd, buf, len, 0) != (ssize_t)len)
		return error_set(err, -errno, "%s: %s", path, strerror(errno));
	*ret_fd = TAKE_FD(fd);
	return 0;
}
