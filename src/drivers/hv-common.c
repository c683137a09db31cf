/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Process plumbing shared by the hypervisor backends: detached spawn with
 * posix_spawn, liveness by pid AND api socket on /proc/PID/cmdline, listing
 * by socket directory, signal escalation through a pidfd, console readiness.
 * Depends on util/ and drivers/hv.h only.
 */
#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"

extern char **environ;

/* error_set() with -errno and its text appended, errno read once, first. */
#define errno_error(err, fmt, ...)                                                          \
	({                                                                                   \
		int _r_ = -errno;                                                            \
		error_set(err, _r_, fmt ": %s", ##__VA_ARGS__, strerror(-_r_));               \
	})

/* A hypervisor's command line is a few KiB; this bounds a hostile one. */
#define CMDLINE_MAX (1024 * 1024)

void
hv_procs_free(struct hv_proc *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(p[i].api_socket);
	free(p);
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Reap pid if it is our own child that has exited; anyone else's is left. */
static void
reap(pid_t pid)
{
	(void)waitpid(pid, NULL, WNOHANG);
}

static int read_cmdline(pid_t pid, char **ret, size_t *ret_len);

/* Append HV_START_LINE on a line of its own. */
static int
write_start_line(int fd)
{
	struct stat st;
	char last = '\n';
	const char *line = "\n" HV_START_LINE "\n";
	size_t len;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) != 1)
		last = 0;
	if (last == '\n')
		line++;
	len = strlen(line);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, line + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

/* 'Z' for a zombie, 0 when the process is gone or unreadable. */
static char
proc_state(pid_t pid)
{
	_cleanup_free_ char *stat = NULL;
	char path[64];
	const char *p;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file(path, 64 * 1024, &stat, NULL) < 0)
		return 0;
	/* "PID (COMM) S ...": COMM may hold anything, the state follows the
	 * last ')'. */
	p = strrchr(stat, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

/*
 * posix_spawn returns once the child's exec has replaced its memory, but
 * before the kernel has set up the new argument area: for that short while
 * /proc/PID/cmdline reads empty, which liveness would take for an exited
 * process.  Wait (bounded) until the command line is there, or the child has
 * already died.
 */
static void
wait_exec_done(pid_t pid)
{
	for (int i = 0; i < 2000; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;
		char st;

		if (read_cmdline(pid, &data, &len) == 0)
			return;
		st = proc_state(pid);
		if (st == 0 || st == 'Z' || st == 'X')
			return;
		sleep_ms(1);
	}
}

int
hv_spawn_detached(char *const argv[], const char *console_log, pid_t *ret_pid,
		  struct error **err)
{
	_cleanup_close_ int log_fd = -EBADF;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, deflt;
	pid_t pid;
	int r;

	assert(argv && argv[0]);
	assert(console_log);

	/* Read-write only so that write_start_line() can look at the last byte. */
	log_fd = open(console_log, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		      0640);
	if (log_fd < 0)
		return errno_error(err, "console log '%s'", console_log);
	r = write_start_line(log_fd);
	if (r < 0)
		return error_set(err, r, "console log '%s': %s", console_log, strerror(-r));

	r = posix_spawn_file_actions_init(&fa);
	if (r != 0)
		return error_set(err, -r, "spawn '%s': %s", argv[0], strerror(r));
	r = posix_spawnattr_init(&attr);
	if (r != 0) {
		(void)posix_spawn_file_actions_destroy(&fa);
		return error_set(err, -r, "spawn '%s': %s", argv[0], strerror(r));
	}

	/*
	 * Steps, in the child:
	 *  1. new session, so the hypervisor outlives us and our terminal;
	 *  2. default signal dispositions and an empty mask (we may block or
	 *     ignore some, e.g. SIGPIPE, which it must not inherit);
	 *  3. stdin from /dev/null, stdout and stderr appended to the log
	 *     (dup2 clears O_CLOEXEC on the copies);
	 *  4. every other fd closed, even one a caller left without O_CLOEXEC.
	 */
	(void)sigemptyset(&none);
	(void)sigfillset(&deflt);
	(void)sigdelset(&deflt, SIGKILL);
	(void)sigdelset(&deflt, SIGSTOP);
	r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
						    POSIX_SPAWN_SETSIGDEF);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&attr, &none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&attr, &deflt);
	if (r == 0)
		r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, log_fd, STDOUT_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
	if (r == 0)
		r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
	if (r == 0) {
		if (strchr(argv[0], '/'))
			r = posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
		else
			r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, environ);
	}
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (r != 0)
		return error_set(err, -r, "spawn '%s': %s", argv[0], strerror(r));

	wait_exec_done(pid);
	*ret_pid = pid;
	return 0;
}

/*
 * Does arg name needle as a whole value: at the start of arg or after one
 * of ":=,", and followed by the end of arg or ','?  So "unix:/run/x.sock,
 * server=on" names /run/x.sock while /run/x.sock2 and /a/run/x.sock do not.
 */
static bool
arg_names(const char *arg, const char *needle)
{
	size_t nl = strlen(needle);

	if (nl == 0)
		return false;
	for (const char *p = strstr(arg, needle); p; p = strstr(p + 1, needle)) {
		bool start = p == arg || strchr(":=,", p[-1]);
		bool end = p[nl] == '\0' || p[nl] == ',';

		if (start && end)
			return true;
	}
	return false;
}

/* Read /proc/PID/cmdline; -ESRCH when the process is gone (or a zombie,
 * whose command line is empty). */
static int
read_cmdline(pid_t pid, char **ret, size_t *ret_len)
{
	char path[64];
	char *data = NULL;
	size_t len = 0;
	int r;

	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	r = read_proc_file(path, CMDLINE_MAX, &data, &len);
	if (r == -ENOENT || r == -ESRCH)
		return -ESRCH;
	if (r < 0)
		return r;
	if (len == 0) {
		free(data);
		return -ESRCH;
	}
	*ret = data;
	*ret_len = len;
	return 0;
}

/*
 * Whether pid runs as banger's own user: real, effective and saved uid all
 * geteuid()'s (from /proc/PID/status; the owner of /proc/PID says root for
 * any process that made itself undumpable).  Another user's process that
 * names a VM's socket on its command line is not that VM's hypervisor: it is
 * neither listed, taken as the guest, nor signalled.
 */
static bool
runs_as_us(pid_t pid)
{
	_cleanup_free_ char *data = NULL;
	char path[64];
	const char *u;
	unsigned long id[3];
	size_t len = 0;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_proc_file(path, 64 * 1024, &data, &len) < 0)
		return false;
	u = strstr(data, "\nUid:");
	if (!u || sscanf(u + 5, "%lu %lu %lu", &id[0], &id[1], &id[2]) != 3)
		return false;
	for (size_t i = 0; i < 3; i++)
		if (id[i] != (unsigned long)geteuid())
			return false;
	return true;
}

static bool
cmdline_names(const char *data, size_t len, const char *needle)
{
	for (size_t off = 0; off < len; off += strlen(data + off) + 1)
		if (arg_names(data + off, needle))
			return true;
	return false;
}

int
hv_process_alive(pid_t pid, const char *needle, bool *ret, struct error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	assert(needle);
	if (pid <= 1) {
		*ret = false;
		return 0;
	}
	r = read_cmdline(pid, &data, &len);
	if (r == -ESRCH) {
		reap(pid);
		*ret = false;
		return 0;
	}
	if (r < 0)
		return error_set(err, r, "process %d: command line: %s", (int)pid, strerror(-r));
	*ret = cmdline_names(data, len, needle) && runs_as_us(pid);
	return 0;
}

/* Whether rel (a path below the socket directory) is NAME/FILE: NAME a DNS
 * label, FILE one plain name (no "..", no deeper folder). */
static bool
vm_file_path(const char *rel)
{
	const char *slash = strchr(rel, '/');
	_cleanup_free_ char *name = NULL;

	if (!slash || !slash[1] || strchr(slash + 1, '/') || strcmp(slash + 1, ".") == 0 ||
	    strcmp(slash + 1, "..") == 0)
		return false;
	name = xstrndup(rel, (size_t)(slash - rel));
	return name_is_dns_label(name);
}

/*
 * The api socket among the paths under dir/ that a command line names (see
 * arg_names): a hypervisor also names its console log or disks, which may
 * live in the same directory.  Rank: an existing socket, then a name ending
 * in ".sock" (a socket removed meanwhile), then the first path.  NULL when
 * there is none.
 */
static char *
cmdline_socket_under(const char *data, size_t len, const char *dir, size_t dl)
{
	_cleanup_free_ char *first = NULL, *dotsock = NULL;

	for (size_t off = 0; off < len; off += strlen(data + off) + 1) {
		const char *arg = data + off;

		for (const char *p = strstr(arg, dir); p; p = strstr(p + 1, dir)) {
			_cleanup_free_ char *path = NULL;
			struct stat st;
			size_t n;

			if (p != arg && !strchr(":=,", p[-1]))
				continue;
			if (p[dl] != '/')
				continue;
			n = strcspn(p, ",");
			if (n <= dl + 1)
				continue;
			path = xstrndup(p, n);
			if (!vm_file_path(path + dl + 1))
				continue;
			if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
				return TAKE_PTR(path);
			if (!dotsock && n > 5 && strcmp(path + n - 5, ".sock") == 0)
				dotsock = xstrdup(path);
			if (!first)
				first = TAKE_PTR(path);
		}
	}
	return dotsock ? TAKE_PTR(dotsock) : TAKE_PTR(first);
}

int
hv_process_list(const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
		struct error **err)
{
	_cleanup_free_ char *dir = NULL;
	struct hv_proc *procs = NULL;
	size_t n = 0, dl;
	DIR *d;
	struct dirent *de;
	pid_t self = getpid();

	assert(sock_dir);
	if (sock_dir[0] != '/')
		return error_set(err, -EINVAL, "socket directory '%s' is not absolute", sock_dir);
	dir = xstrdup(sock_dir);
	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dir[--dl] = '\0';
	if (dl <= 1)
		return error_set(err, -EINVAL, "socket directory '%s' is too broad", sock_dir);

	d = opendir("/proc");
	if (!d)
		return errno_error(err, "/proc");
	while ((errno = 0, de = readdir(d))) {
		_cleanup_free_ char *data = NULL;
		struct hv_proc *e;
		char *end, *sock = NULL;
		size_t len = 0;
		long v;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		errno = 0;
		v = strtol(de->d_name, &end, 10);
		if (errno || *end || v <= 1 || v > INT_MAX || (pid_t)v == self)
			continue;
		if (read_cmdline((pid_t)v, &data, &len) < 0)
			continue;	/* gone meanwhile, or unreadable: not a VM of ours */
		sock = cmdline_socket_under(data, len, dir, dl);
		if (!sock)
			continue;
		if (!runs_as_us((pid_t)v)) {
			free(sock);
			continue;
		}
		procs = xappend(procs, &n, sizeof(*procs), (void **)&e);
		e->pid = (pid_t)v;
		e->api_socket = sock;
	}
	if (errno) {
		int r = -errno;

		(void)closedir(d);
		hv_procs_free(procs, n);
		return error_set(err, r, "/proc: %s", strerror(-r));
	}
	(void)closedir(d);
	*ret = procs;
	*ret_n = n;
	return 0;
}

/*
 * Wait up to timeout_ms for pid to be gone for good: not just past the point
 * where its command line empties (early in exit), but exited, so that the
 * caller sees no process, and reaped when it is our child.  A pidfd polls
 * readable once the process has exited, also when it is not our child.
 */
static bool
wait_gone(int pidfd, pid_t pid, unsigned timeout_ms)
{
	uint64_t deadline = mono_ms() + timeout_ms;

	for (;;) {
		uint64_t now = mono_ms();
		int left = now >= deadline ? 0 : (int)(deadline - now);

		if (pidfd >= 0) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			int r = poll(&p, 1, left > 100 ? 100 : left);

			if (r > 0) {
				reap(pid);
				return true;
			}
		} else {
			/* No pidfd (old kernel): the pid itself must go. */
			reap(pid);
			if (kill(pid, 0) < 0 && errno == ESRCH)
				return true;
			sleep_ms(20);
		}
		if (mono_ms() >= deadline)
			return false;
	}
}

int
hv_signal_wait(pid_t pid, const char *needle, int sig, unsigned timeout_ms,
	       struct error **err)
{
	_cleanup_close_ int pidfd = -EBADF;
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	assert(needle);
	if (pid <= 1)
		return 0;
	/*
	 * Steps: pin the process with a pidfd, then check that it is the VM's
	 * (needle on its command line), then signal through the pidfd: a pid
	 * recycled after the check cannot receive the signal.
	 */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0 && errno == ESRCH) {
		reap(pid);
		return 0;
	}
	if (pidfd < 0 && errno != ENOSYS)
		return errno_error(err, "process %d: pidfd", (int)pid);
	r = read_cmdline(pid, &data, &len);
	if (r == -ESRCH) {
		/* Exiting already (or a zombie): let it finish. */
		if (!wait_gone(pidfd, pid, timeout_ms))
			return error_set(err, -ETIMEDOUT, "process %d: still exiting after %u ms",
					 (int)pid, timeout_ms);
		return 0;
	}
	if (r < 0)
		return error_set(err, r, "process %d: command line: %s", (int)pid, strerror(-r));
	if (!cmdline_names(data, len, needle) || !runs_as_us(pid))
		return 0;	/* not the VM's process: the VM is gone */

	if (pidfd >= 0)
		r = pidfd_send_signal(pidfd, sig, NULL, 0);
	else
		r = kill(pid, sig);
	if (r < 0) {
		if (errno == ESRCH) {
			reap(pid);
			return 0;
		}
		return errno_error(err, "process %d: signal %d", (int)pid, sig);
	}
	if (!wait_gone(pidfd, pid, timeout_ms))
		return error_set(err, -ETIMEDOUT, "process %d: still running %u ms after signal %d",
				 (int)pid, timeout_ms, sig);
	return 0;
}

/* Console text is untrusted guest output headed for status files and
 * terminals: keep printable ASCII, tabs and newlines only. */
static void
sanitize(char *s)
{
	for (char *p = s; *p; p++)
		if (*p != '\n' && *p != '\t' && (*p < 0x20 || *p > 0x7e))
			*p = '?';
}

/* A marker on the kernel's echo of its own command line does not count. */
static bool
line_has_marker(const char *line)
{
	if (!strstr(line, HV_READY_MARKER))
		return false;
	return !strstr(line, "ommand line:");
}

int
hv_console_ready(const char *console_log, bool *ret_ready, char **ret_tail,
		 unsigned max_lines, struct error **err)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *line = NULL;
	char **ring = NULL;
	size_t cap = 0, n = 0, next = 0, total = 0;
	bool ready = false;
	char *tail;
	int fd;

	assert(console_log);
	fd = open(console_log, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 && errno != ENOENT)
		return errno_error(err, "console log '%s'", console_log);
	if (fd >= 0) {
		struct stat st = { 0 };

		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			int r = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;

			(void)close(fd);
			return error_set(err, r, "console log '%s': not a regular file", console_log);
		}
		f = fdopen(fd, "re");
		if (!f) {
			int r = -errno;

			(void)close(fd);
			return error_set(err, r, "console log '%s': %s", console_log, strerror(-r));
		}
	}
	if (ret_tail && max_lines > 0)
		ring = xcalloc(max_lines, sizeof(char *));

	/* Lines may be long and the log large: stream it, keep a ring of the
	 * last max_lines lines. */
	while (f) {
		ssize_t l = getline(&line, &cap, f);

		if (l < 0)
			break;
		while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r'))
			line[--l] = '\0';
		if (strcmp(line, HV_START_LINE) == 0) {
			/* A new start: what came before is an earlier boot's. */
			ready = false;
			n = 0;
			continue;
		}
		if (!ready && line_has_marker(line))
			ready = true;
		if (ring) {
			free(ring[next]);
			ring[next] = xstrdup(line);
			next = (next + 1) % max_lines;
			if (n < max_lines)
				n++;
		}
	}
	if (f && ferror(f)) {
		int r = -EIO;

		if (ring)
			for (size_t i = 0; i < max_lines; i++)
				free(ring[i]);
		free(ring);
		return error_set(err, r, "console log '%s': read error", console_log);
	}

	if (ret_tail) {
		size_t first = (next + max_lines - n) % (max_lines ? max_lines : 1);

		for (size_t i = 0; i < n; i++)
			total += strlen(ring[(first + i) % max_lines]) + 1;
		tail = xmalloc(total + 1);
		total = 0;
		for (size_t i = 0; i < n; i++) {
			const char *s = ring[(first + i) % max_lines];
			size_t sl = strlen(s);

			memcpy(tail + total, s, sl);
			total += sl;
			tail[total++] = '\n';
		}
		tail[total] = '\0';
		sanitize(tail);
		for (size_t i = 0; i < max_lines && ring; i++)
			free(ring[i]);
		free(ring);
		*ret_tail = tail;
	}
	*ret_ready = ready;
	return 0;
}
