/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * TEMPORARY test-only stand-in for src/drivers/hv-common.c (written on the
 * qemu branch) so the Firecracker tests can run before that lands.  Removed
 * once the real one is merged.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

extern char **environ;

void
hv_procs_free(struct hv_proc *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].api_socket);
	free(p);
}

int
hv_spawn_detached(char *const argv[], const char *console_log, pid_t *ret_pid,
		  struct error **err)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, console_log, O_WRONLY | O_APPEND | O_CREAT,
					 0640);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return error_set(err, -r, "spawn '%s': %s", argv[0], strerror(r));
	*ret_pid = pid;
	return 0;
}

int
hv_process_alive(pid_t pid, const char *needle, bool *ret, struct error **err)
{
	_cleanup_free_ char *path = NULL, *data = NULL;
	size_t len = 0;
	int r;

	(void)err;
	*ret = false;
	path = xasprintf("/proc/%d/cmdline", (int)pid);
	r = read_file(path, 1 << 20, &data, &len);
	if (r < 0)
		return 0;
	for (size_t i = 0; i < len; i += strlen(data + i) + 1)
		if (strstr(data + i, needle)) {
			*ret = true;
			break;
		}
	return 0;
}

int
hv_process_list(const char *sock_dir, struct hv_proc **ret, size_t *ret_n, struct error **err)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	struct hv_proc *procs = NULL;
	size_t n = 0, dl = strlen(sock_dir);

	if (!d)
		return error_set(err, -errno, "open /proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *data = NULL;
		size_t len = 0;
		int pid = atoi(de->d_name);

		if (pid <= 0)
			continue;
		path = xasprintf("/proc/%d/cmdline", pid);
		if (read_file(path, 1 << 20, &data, &len) < 0)
			continue;
		for (size_t i = 0; i < len; i += strlen(data + i) + 1)
			if (strncmp(data + i, sock_dir, dl) == 0 && data[i + dl] == '/') {
				struct hv_proc *p;

				procs = xappend(procs, &n, sizeof(*procs), (void **)&p);
				p->pid = pid;
				p->api_socket = xstrdup(data + i);
				break;
			}
	}
	closedir(d);
	*ret = procs;
	*ret_n = n;
	return 0;
}

int
hv_signal_wait(pid_t pid, const char *needle, int sig, unsigned timeout_ms, struct error **err)
{
	bool alive;
	unsigned waited = 0;

	(void)hv_process_alive(pid, needle, &alive, err);
	if (!alive)
		return 0;
	if (kill(pid, sig) < 0 && errno != ESRCH)
		return error_set(err, -errno, "kill %d: %s", (int)pid, strerror(errno));
	for (;;) {
		(void)hv_process_alive(pid, needle, &alive, err);
		if (!alive)
			return 0;
		if (waited >= timeout_ms)
			return error_set(err, -ETIMEDOUT, "pid %d still running", (int)pid);
		(void)poll(NULL, 0, 10);
		waited += 10;
	}
}

int
hv_console_ready(const char *console_log, bool *ret_ready, char **ret_tail, unsigned max_lines,
		 struct error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	const char *p;
	unsigned lines = 0;
	int r;

	r = read_file(console_log, 64 << 20, &data, &len);
	if (r == -ENOENT) {
		*ret_ready = false;
		if (ret_tail)
			*ret_tail = xstrdup("");
		return 0;
	}
	if (r < 0)
		return error_set(err, r, "read '%s': %s", console_log, strerror(-r));
	*ret_ready = strstr(data, HV_READY_MARKER) != NULL;
	if (ret_tail) {
		p = data + len;
		if (p > data && p[-1] == '\n')
			p--;
		while (p > data) {
			if (p[-1] == '\n' && ++lines >= max_lines)
				break;
			p--;
		}
		*ret_tail = xstrdup(p);
	}
	return 0;
}
