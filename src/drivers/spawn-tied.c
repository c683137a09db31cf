/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helper programs run and waited for, tied to the thread that runs them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/spawn-tied.h"
#include "util/alloc.h"
#include "util/cleanup.h"

/* argv0 as a path to execute: itself when it has a '/', else the first
 * executable of that name in PATH; NULL when there is no such executable. */
static char *
resolve(const char *argv0)
{
	const char *path = getenv("PATH");
	const char *p;

	if (strchr(argv0, '/'))
		return access(argv0, X_OK) == 0 ? xstrdup(argv0) : NULL;
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
	for (p = path;; p++) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		/* An empty entry (the current folder to execvp) is skipped. */
		if (len) {
			_cleanup_free_ char *cand = xasprintf("%.*s/%s", (int)len, p, argv0);

			if (access(cand, X_OK) == 0)
				return TAKE_PTR(cand);
		}
		if (!end)
			return NULL;
		p = end;
	}
}

/* Run argv tied to this thread; *ret_status: its wait status.  stdout (and
 * stderr when silent) to /dev/null when quiet. */
static int
spawn_tied(char *const argv[], bool quiet, bool silent, int *ret_status, struct error **err)
{
	_cleanup_free_ char *prog = resolve(argv[0]);
	pid_t parent = getpid(), pid;
	int status;

	if (!prog)
		return error_set(err, -ENOENT, "run '%s': no such executable", argv[0]);
	pid = fork();
	if (pid < 0)
		return error_set(err, -errno, "run '%s': %s", argv[0], strerror(errno));
	if (pid == 0) {
		/* The child of a threaded process: async-signal-safe calls only. */
		int fd;

		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
			_exit(127);
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0 || dup2(fd, STDIN_FILENO) < 0 ||
		    ((quiet || silent) && dup2(fd, STDOUT_FILENO) < 0) ||
		    (silent && dup2(fd, STDERR_FILENO) < 0))
			_exit(127);
		(void)close_range(STDERR_FILENO + 1, UINT_MAX, 0);
		execv(prog, argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return error_set(err, -errno, "wait for '%s': %s", argv[0], strerror(errno));
	*ret_status = status;
	return 0;
}

int
spawn_wait_tied(char *const argv[], bool quiet, struct error **err)
{
	int status = 0, r;

	r = spawn_tied(argv, quiet, false, &status, err);
	if (r < 0)
		return r;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return error_set(err, -EIO, "'%s' exited with status %d", argv[0],
				 WEXITSTATUS(status));
	return error_set(err, -EIO, "'%s' killed by signal %d", argv[0], WTERMSIG(status));
}

int
spawn_wait_tied_exit(char *const argv[], int *ret_code, struct error **err)
{
	int status = 0, r;

	r = spawn_tied(argv, true, true, &status, err);
	if (r < 0)
		return r;
	if (!WIFEXITED(status))
		return error_set(err, -EIO, "'%s' killed by signal %d", argv[0], WTERMSIG(status));
	*ret_code = WEXITSTATUS(status);
	return 0;
}
