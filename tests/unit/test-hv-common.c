/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/drivers/hv-common.c: detached spawn, liveness by pid
 * and socket path, listing, signal escalation, console readiness.  The
 * "hypervisors" are /bin/sh children that carry a socket path as argument.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <grp.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "hv-standin.h"
#include "util/fileio.h"

static char dir[] = "/tmp/banger-hvc-XXXXXX";

static void
setup(void)
{
	strcpy(dir, "/tmp/banger-hvc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char *const argv[] = { "rm", "-rf", dir, NULL };
	pid_t pid;

	/* Test cleanup only: the product never shells out. */
	pid = fork();
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	(void)waitpid(pid, NULL, 0);
}

/* Spawn the stand-in ("standin ACTIONS SOCK") detached, logging to dir/log. */
static pid_t
spawn_sh(const char *actions, const char *sock)
{
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	_cleanup_free_ char *a = xstrdup(actions), *k = xstrdup(sock);
	char *const argv[] = { "/proc/self/exe", "standin", a, k, NULL };
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(hv_spawn_detached(argv, log, &pid, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_gt(pid, 1);
	return pid;
}

static bool
alive(pid_t pid, const char *needle)
{
	struct error *err = NULL;
	bool a = true;

	ck_assert_int_eq(hv_process_alive(pid, needle, &a, &err), 0);
	ck_assert_ptr_null(err);
	return a;
}

static void
kill_wait(pid_t pid, const char *needle)
{
	struct error *err = NULL;

	ck_assert_int_eq(hv_signal_wait(pid, needle, SIGKILL, 5000, &err), 0);
	ck_assert_ptr_null(err);
}

static void
wait_for_file_text(const char *path, const char *text)
{
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ char *data = NULL;

		if (read_file(path, 1 << 20, &data, NULL) == 0 && strstr(data, text))
			return;
		usleep(10000);
	}
	ck_abort_msg("'%s' never showed '%s'", path, text);
}

START_TEST(test_spawn_detached)
{
	_cleanup_free_ char *sock = xasprintf("%s/vm1/api.sock", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	_cleanup_free_ char *fds = NULL;
	char link[PATH_MAX] = "";
	char path[64];
	ssize_t n;
	pid_t pid;
	int leak;

	/* An fd opened without O_CLOEXEC must still not reach the child. */
	leak = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(leak, 3);
	pid = spawn_sh("io", sock);
	(void)close(leak);

	wait_for_file_text(log, "stdin-eof");
	ck_assert(alive(pid, sock));
	/* Own session: it is its session's leader. */
	ck_assert_int_eq(getsid(pid), pid);
	(void)snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	n = readlink(path, link, sizeof(link) - 1);
	ck_assert_int_gt(n, 0);
	link[n] = '\0';
	ck_assert_str_eq(link, "/dev/null");
	ck_assert_int_eq(read_file(log, 1 << 20, &fds, NULL), 0);
	ck_assert_ptr_nonnull(strstr(fds, HV_START_LINE "\nto-stdout\nto-stderr\n"));
	/* Only 0, 1 and 2 are open in the child. */
	ck_assert_ptr_nonnull(strstr(fds, "fds ooo.............\nstdin-eof\n"));
	ck_assert_int_eq(access(log, F_OK), 0);
	kill_wait(pid, sock);
	ck_assert(!alive(pid, sock));
}
END_TEST

/* Alive as soon as spawn returns: no window where the fresh process reads
 * as exited (its command line empty while exec finishes). */
START_TEST(test_spawn_alive_at_once)
{
	_cleanup_free_ char *sock = xasprintf("%s/vm1/api.sock", dir);

	for (int i = 0; i < 20; i++) {
		pid_t pid = spawn_sh("", sock);

		ck_assert_msg(alive(pid, sock), "round %d: fresh process not alive", i);
		kill_wait(pid, sock);
		ck_assert(!alive(pid, sock));
	}
}
END_TEST

/* Each start appends the start line on a line of its own. */
START_TEST(test_spawn_start_line)
{
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	_cleanup_free_ char *data = NULL;
	char *const argv[] = { "/bin/true", NULL };
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(write_file_atomic(log, "unterminated", 12, 0640), 0);
	ck_assert_int_eq(hv_spawn_detached(argv, log, &pid, &err), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(hv_spawn_detached(argv, log, &pid, &err), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(read_file(log, 1 << 20, &data, NULL), 0);
	ck_assert_str_eq(data, "unterminated\n" HV_START_LINE "\n" HV_START_LINE "\n");
}
END_TEST

START_TEST(test_spawn_missing_binary)
{
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	char *const argv[] = { "/nonexistent/qemu", NULL };
	char *const argv2[] = { "banger-no-such-program-anywhere", NULL };
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(hv_spawn_detached(argv, log, &pid, &err), -ENOENT);
	ck_assert_int_eq(err->code, -ENOENT);
	err = error_free(err);
	/* A PATH of readable directories only: an unreadable one (root's, for
	 * another user) would make the search answer EACCES. */
	ck_assert_int_eq(setenv("PATH", "/usr/bin:/bin", 1), 0);
	ck_assert_int_eq(hv_spawn_detached(argv2, log, &pid, &err), -ENOENT);
	err = error_free(err);
	ck_assert_int_eq(pid, 0);
}
END_TEST

START_TEST(test_spawn_bad_log)
{
	char *const argv[] = { "/bin/true", NULL };
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(hv_spawn_detached(argv, "/nonexistent/dir/console.log", &pid, &err),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err->msg, "console log '/nonexistent/dir/console.log'"));
	error_free(err);
}
END_TEST

START_TEST(test_alive_needs_exact_socket)
{
	_cleanup_free_ char *sock = xasprintf("%s/vm1/api.sock", dir);
	_cleanup_free_ char *opt = xasprintf("unix:%s,server=on", sock);
	_cleanup_free_ char *other = xasprintf("%s/vm1/api.sock2", dir);
	_cleanup_free_ char *suffix = xstrdup("vm1/api.sock");
	_cleanup_free_ char *inner = xasprintf("%s/vm", dir);
	pid_t pid;

	pid = spawn_sh("", opt);
	for (int i = 0; i < 500 && !alive(pid, sock); i++)
		usleep(10000);
	ck_assert(alive(pid, sock));
	ck_assert(!alive(pid, other));
	ck_assert(!alive(pid, suffix));
	ck_assert(!alive(pid, inner));
	/* A pid that does not exist, and pid 1 (never a VM). */
	ck_assert(!alive(INT_MAX - 1, sock));
	ck_assert(!alive(1, "/sbin/init"));
	kill_wait(pid, sock);
}
END_TEST

START_TEST(test_signal_spares_other_process)
{
	_cleanup_free_ char *sock = xasprintf("%s/vm1/api.sock", dir);
	_cleanup_free_ char *other = xasprintf("%s/vm2/api.sock", dir);
	struct error *err = NULL;
	pid_t pid;

	pid = spawn_sh("", sock);
	for (int i = 0; i < 500 && !alive(pid, sock); i++)
		usleep(10000);
	/* The pid does not carry vm2's socket: it is not vm2's, leave it. */
	ck_assert_int_eq(hv_signal_wait(pid, other, SIGKILL, 100, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert(alive(pid, sock));
	kill_wait(pid, sock);
	/* Gone already: success. */
	ck_assert_int_eq(hv_signal_wait(pid, sock, SIGKILL, 100, &err), 0);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_signal_timeout_then_kill)
{
	_cleanup_free_ char *sock = xasprintf("%s/vm1/api.sock", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	struct error *err = NULL;
	pid_t pid;

	pid = spawn_sh("ignterm", sock);
	wait_for_file_text(log, "standin-up");
	ck_assert_int_eq(hv_signal_wait(pid, sock, SIGTERM, 200, &err), -ETIMEDOUT);
	ck_assert_int_eq(err->code, -ETIMEDOUT);
	ck_assert_ptr_nonnull(strstr(err->msg, "still running"));
	err = error_free(err);
	ck_assert(alive(pid, sock));
	ck_assert_int_eq(hv_signal_wait(pid, sock, SIGKILL, 5000, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert(!alive(pid, sock));
}
END_TEST

START_TEST(test_list_by_socket_dir)
{
	_cleanup_free_ char *s1 = xasprintf("%s/vms/a/api.sock", dir);
	_cleanup_free_ char *s2 = xasprintf("unix:%s/vms/b/qmp.sock,server=on,wait=off", dir);
	_cleanup_free_ char *s2path = xasprintf("%s/vms/b/qmp.sock", dir);
	_cleanup_free_ char *s3 = xasprintf("%s/other/c/api.sock", dir);
	_cleanup_free_ char *vms = xasprintf("%s/vms/", dir);
	_cleanup_free_ char *vms_prefix = xasprintf("%s/vm", dir);
	struct hv_proc *procs = NULL;
	struct error *err = NULL;
	size_t n = 0;
	pid_t p1, p2, p3;
	bool seen1 = false, seen2 = false;

	p1 = spawn_sh("", s1);
	p2 = spawn_sh("", s2);
	p3 = spawn_sh("", s3);
	for (int i = 0; i < 500 && !(alive(p1, s1) && alive(p2, s2path) && alive(p3, s3)); i++)
		usleep(10000);

	ck_assert_int_eq(hv_process_list(vms, &procs, &n, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (procs[i].pid == p1) {
			ck_assert_str_eq(procs[i].api_socket, s1);
			seen1 = true;
		} else if (procs[i].pid == p2) {
			ck_assert_str_eq(procs[i].api_socket, s2path);
			seen2 = true;
		}
	}
	ck_assert(seen1 && seen2);
	hv_procs_free(procs, n);

	/* "DIR/vm" is not a directory prefix of "DIR/vms/...". */
	ck_assert_int_eq(hv_process_list(vms_prefix, &procs, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	hv_procs_free(procs, n);

	ck_assert_int_eq(hv_process_list("relative", &procs, &n, &err), -EINVAL);
	err = error_free(err);
	ck_assert_int_eq(hv_process_list("/", &procs, &n, &err), -EINVAL);
	err = error_free(err);

	kill_wait(p1, s1);
	kill_wait(p2, s2path);
	kill_wait(p3, s3);
	ck_assert_int_eq(hv_process_list(vms, &procs, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	hv_procs_free(procs, n);
}
END_TEST

/* A command line naming a console log before the socket, in one dir. */
START_TEST(test_list_picks_the_socket)
{
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
	_cleanup_free_ char *d_log = xasprintf("file,path=%s/vms/d/console.log", dir);
	_cleanup_free_ char *d_qmp = xasprintf("unix:%s/vms/d/qmp.sock,server=on", dir);
	_cleanup_free_ char *d_sock = xasprintf("%s/vms/d/qmp.sock", dir);
	_cleanup_free_ char *e_dir = xasprintf("%s/vms/e", dir);
	_cleanup_free_ char *e_log = xasprintf("path=%s/vms/e/console.log", dir);
	_cleanup_free_ char *e_api = xasprintf("--api-sock=%s/vms/e/api", dir);
	_cleanup_free_ char *e_sock = xasprintf("%s/vms/e/api", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	char *const argv_d[] = { "/proc/self/exe", "standin", "", d_log, d_qmp, NULL };
	char *const argv_e[] = { "/proc/self/exe", "standin", "", e_log, e_api, NULL };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct hv_proc *procs = NULL;
	struct error *err = NULL;
	size_t n = 0;
	pid_t pd = 0, pe = 0;
	int fd;

	ck_assert_int_eq(mkdir_p(e_dir, 0755), 0);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, e_sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(hv_spawn_detached(argv_d, log, &pd, &err), 0);
	ck_assert_int_eq(hv_spawn_detached(argv_e, log, &pe, &err), 0);
	ck_assert_int_eq(hv_process_list(vms, &procs, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(procs[i].api_socket, procs[i].pid == pd ? d_sock : e_sock);
	hv_procs_free(procs, n);
	(void)close(fd);
	kill_wait(pd, d_sock);
	kill_wait(pe, e_sock);
}
END_TEST

/* "/bin/sh -c 'read x' sh ARG" as uid/gid 65534, blocked in the read (no
 * child of its own) until end_child. */
static pid_t
spawn_other_user(const char *arg, int *ret_hold)
{
	int p[2];
	pid_t pid;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		_cleanup_free_ char *a = xstrdup(arg);
		char *const argv[] = { "/bin/sh", "-c", "read x", "sh", a, NULL };

		if (dup2(p[0], 0) < 0 || setgroups(0, NULL) < 0 ||
		    setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	(void)close(p[0]);
	*ret_hold = p[1];
	return pid;
}

static void
end_child(pid_t pid, int hold)
{
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	(void)close(hold);
}

/*
 * Only a process of banger's own user, naming DIR/NAME/FILE, is a VM's
 * hypervisor: another user's process that names a VM's socket (to be killed
 * in its place, or to pass for it) is neither listed, alive nor signalled,
 * and neither is one naming a path that climbs out or goes deeper.
 */
START_TEST(test_only_our_processes)
{
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
	_cleanup_free_ char *s_other = xasprintf("%s/vms/a/api.sock", dir);
	_cleanup_free_ char *s_up = xasprintf("%s/vms/../../x/api.sock", dir);
	_cleanup_free_ char *s_deep = xasprintf("%s/vms/b/c/api.sock", dir);
	_cleanup_free_ char *s_label = xasprintf("%s/vms/Not_A_Label/api.sock", dir);
	_cleanup_free_ char *s_ok = xasprintf("%s/vms/d/api.sock", dir);
	struct hv_proc *procs = NULL;
	struct error *err = NULL;
	size_t n = 0;
	pid_t other, up, deep, label, ok;
	int hold;

	if (geteuid() != 0)
		return;	/* no other user to be */
	other = spawn_other_user(s_other, &hold);
	up = spawn_sh("", s_up);
	deep = spawn_sh("", s_deep);
	label = spawn_sh("", s_label);
	ok = spawn_sh("", s_ok);
	for (int i = 0;; i++) {
		_cleanup_free_ char *data = NULL, *path = xasprintf("/proc/%d/cmdline", (int)other);

		if (read_file(path, 4096, &data, NULL) == 0 && strcmp(data, "/bin/sh") == 0)
			break;
		ck_assert_msg(i < 500, "the other user's process never ran");
		usleep(10000);
	}
	{
		/* Each one past its exec: its command line names its path. */
		const pid_t pids[] = { up, deep, label, ok };
		const char *const socks[] = { s_up, s_deep, s_label, s_ok };

		for (size_t k = 0; k < ELEMENTSOF(pids); k++)
			for (int i = 0;; i++) {
				_cleanup_free_ char *data = NULL;
				_cleanup_free_ char *path = xasprintf("/proc/%d/cmdline", (int)pids[k]);
				size_t len = 0;
				bool named = false;

				if (read_file(path, 65536, &data, &len) == 0)
					for (size_t off = 0; off < len; off += strlen(data + off) + 1)
						named |= strcmp(data + off, socks[k]) == 0;
				if (named)
					break;
				ck_assert_msg(i < 500, "child %zu never ran", k);
				usleep(10000);
			}
	}

	ck_assert_int_eq(hv_process_list(vms, &procs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(procs[0].pid, ok);
	hv_procs_free(procs, n);

	ck_assert(!alive(other, s_other));
	ck_assert_int_eq(hv_signal_wait(other, s_other, SIGKILL, 200, &err), 0);
	ck_assert_int_eq(kill(other, 0), 0);	/* spared */

	end_child(other, hold);
	kill_wait(up, s_up);
	kill_wait(deep, s_deep);
	kill_wait(label, s_label);
	kill_wait(ok, s_ok);
}
END_TEST

static void
write_log(const char *path, const char *text)
{
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0600), 0);
}

START_TEST(test_console_ready)
{
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	struct error *err = NULL;
	char *tail = NULL;
	bool ready = true;

	/* No log yet: not ready, empty tail. */
	ck_assert_int_eq(hv_console_ready(log, &ready, &tail, 5, &err), 0);
	ck_assert(!ready);
	ck_assert_str_eq(tail, "");
	free(tail);

	/* The kernel echoing its command line is not the guest being ready. */
	write_log(log, "[ 0.0] Command line: console=ttyS0 x=banger-guest-ready\n"
		       "[ 0.1] Kernel command line: banger-guest-ready\n");
	ck_assert_int_eq(hv_console_ready(log, &ready, NULL, 0, &err), 0);
	ck_assert(!ready);

	write_log(log, "one\r\ntwo\nbanger-guest-ready ip=10.0.0.2\nthree\x01\x1b[0m\nfour");
	ck_assert_int_eq(hv_console_ready(log, &ready, &tail, 3, &err), 0);
	ck_assert(ready);
	ck_assert_str_eq(tail, "banger-guest-ready ip=10.0.0.2\nthree??[0m\nfour\n");
	free(tail);

	ck_assert_int_eq(hv_console_ready(log, &ready, &tail, 10, &err), 0);
	ck_assert_str_eq(tail, "one\ntwo\nbanger-guest-ready ip=10.0.0.2\nthree??[0m\nfour\n");
	free(tail);

	/* A restart: the earlier boot's marker no longer counts, nor its lines. */
	write_log(log, "old boot\nbanger-guest-ready ip=10.0.0.2\n" HV_START_LINE "\n"
		       "new boot\n");
	ck_assert_int_eq(hv_console_ready(log, &ready, &tail, 10, &err), 0);
	ck_assert(!ready);
	ck_assert_str_eq(tail, "new boot\n");
	free(tail);
	write_log(log, "old boot\n" HV_START_LINE "\nnew boot\nbanger-guest-ready ip=10.0.0.3\n");
	ck_assert_int_eq(hv_console_ready(log, &ready, &tail, 10, &err), 0);
	ck_assert(ready);
	ck_assert_str_eq(tail, "new boot\nbanger-guest-ready ip=10.0.0.3\n");
	free(tail);

	ck_assert_int_eq(hv_console_ready(dir, &ready, NULL, 0, &err), -EISDIR);
	ck_assert_int_eq(err->code, -EISDIR);
	error_free(err);
}
END_TEST

static Suite *
hv_common_suite(void)
{
	Suite *s = suite_create("hv-common");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_spawn_detached);
	tcase_add_test(tc, test_spawn_alive_at_once);
	tcase_add_test(tc, test_spawn_start_line);
	tcase_add_test(tc, test_spawn_missing_binary);
	tcase_add_test(tc, test_spawn_bad_log);
	tcase_add_test(tc, test_alive_needs_exact_socket);
	tcase_add_test(tc, test_signal_spares_other_process);
	tcase_add_test(tc, test_signal_timeout_then_kill);
	tcase_add_test(tc, test_list_by_socket_dir);
	tcase_add_test(tc, test_list_picks_the_socket);
	tcase_add_test(tc, test_only_our_processes);
	tcase_add_test(tc, test_console_ready);
	suite_add_tcase(s, tc);
	return s;
}

int
main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc > 1 && strcmp(argv[1], "standin") == 0)
		return standin_main(argc, argv);
	sr = srunner_create(hv_common_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
