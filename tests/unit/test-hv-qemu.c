/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/drivers/hv-qemu.c: the accel rule, the TSC parse, the
 * kernel command line, argv building and validation, and the ops against a
 * fake QMP server (a thread) with a /bin/sh child standing in for QEMU.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "drivers/hv-qemu.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/strv.h"
#include "hv-standin.h"

static char dir[] = "/tmp/banger-hvq-XXXXXX";

static void
setup(void)
{
	strcpy(dir, "/tmp/banger-hvq-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	char *const argv[] = { "rm", "-rf", dir, NULL };
	pid_t pid = fork();

	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	(void)waitpid(pid, NULL, 0);
}

static const struct hv_qemu_host tcg_host = { .tsc_khz = 2596120 };

/* ---- accel rule --------------------------------------------------------- */

START_TEST(test_accel_rule)
{
	static const struct {
		enum qemu_accel want;
		struct hv_qemu_host host;
		enum qemu_accel expect;
		bool probe;
	} cases[] = {
		/* No /dev/kvm: TCG. */
		{ QEMU_ACCEL_AUTO, { 0 }, QEMU_ACCEL_TCG, false },
		/* /dev/kvm, not yet probed: probe first, TCG until it ran. */
		{ QEMU_ACCEL_AUTO, { .kvm_dev = true }, QEMU_ACCEL_TCG, true },
		/* Probe guest ran: KVM. */
		{ QEMU_ACCEL_AUTO, { .kvm_dev = true, .kvm_probed = true, .kvm_runs = true },
		  QEMU_ACCEL_KVM, false },
		/* Probe guest failed: TCG. */
		{ QEMU_ACCEL_AUTO, { .kvm_dev = true, .kvm_probed = true }, QEMU_ACCEL_TCG, false },
		/* PVM: TCG even when the tiny probe ran, and no probe needed. */
		{ QEMU_ACCEL_AUTO, { .kvm_dev = true, .pvm = true }, QEMU_ACCEL_TCG, false },
		{ QEMU_ACCEL_AUTO,
		  { .kvm_dev = true, .pvm = true, .kvm_probed = true, .kvm_runs = true },
		  QEMU_ACCEL_TCG, false },
		/* Explicit choices are taken as asked. */
		{ QEMU_ACCEL_KVM, { .pvm = true }, QEMU_ACCEL_KVM, false },
		{ QEMU_ACCEL_TCG, { .kvm_dev = true, .kvm_probed = true, .kvm_runs = true },
		  QEMU_ACCEL_TCG, false },
		{ (enum qemu_accel)7, { 0 }, _QEMU_ACCEL_INVALID, false },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ck_assert_msg(hv_qemu_accel_resolve(cases[i].want, &cases[i].host) ==
				      cases[i].expect,
			      "case %zu", i);
		ck_assert_msg(hv_qemu_accel_needs_probe(cases[i].want, &cases[i].host) ==
				      cases[i].probe,
			      "probe case %zu", i);
	}
}
END_TEST

START_TEST(test_host_probe)
{
	struct hv_qemu_host h;

	hv_qemu_host_probe(&h);
	ck_assert_int_eq(h.pvm, access("/sys/module/kvm_pvm", F_OK) == 0);
	ck_assert(!h.kvm_probed);
	if (access("/dev/kvm", F_OK) != 0)
		ck_assert(!h.kvm_dev);
}
END_TEST

START_TEST(test_tsc_parse)
{
	unsigned khz = 0;

	ck_assert_int_eq(hv_qemu_tsc_khz_parse("processor\t: 0\n"
					       "model name\t: Intel Xeon\n"
					       "cpu MHz\t\t: 2596.120\n"
					       "cache size\t: 1 KB\n"
					       "cpu MHz\t\t: 1000.000\n",
					       &khz),
			 0);
	ck_assert_uint_eq(khz, 2596120);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz : 3000\n", &khz), 0);
	ck_assert_uint_eq(khz, 3000000);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("processor : 0\n", &khz), -ENOENT);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("", &khz), -ENOENT);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz : fast\n", &khz), -EINVAL);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz : 0\n", &khz), -EINVAL);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz : -5\n", &khz), -EINVAL);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz 2000\n", &khz), -EINVAL);
	ck_assert_int_eq(hv_qemu_tsc_khz_parse("cpu MHz : 2000x\n", &khz), -EINVAL);
	ck_assert_uint_eq(khz, 3000000);
}
END_TEST

START_TEST(test_opt_escape)
{
	_cleanup_free_ char *a = hv_qemu_opt_escape("/a,b/c,,d");
	_cleanup_free_ char *b = hv_qemu_opt_escape("/plain/path");
	_cleanup_free_ char *c = hv_qemu_opt_escape("");

	ck_assert_str_eq(a, "/a,,b/c,,,,d");
	ck_assert_str_eq(b, "/plain/path");
	ck_assert_str_eq(c, "");
}
END_TEST

START_TEST(test_kernel_cmdline)
{
	struct hv_qemu_host none = { 0 };
	char *s;

	s = hv_qemu_kernel_cmdline("ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off", &tcg_host);
	ck_assert_str_eq(s, "console=ttyS0 ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off "
			    "panic=-1 tsc_early_khz=2596120");
	free(s);
	s = hv_qemu_kernel_cmdline(NULL, &tcg_host);
	ck_assert_str_eq(s, "console=ttyS0 panic=-1 tsc_early_khz=2596120");
	free(s);
	/* The caller's own values win; "xconsole=" is not "console=". */
	s = hv_qemu_kernel_cmdline("xconsole=1 console=hvc0 panic=5 tsc_early_khz=1000000",
				   &tcg_host);
	ck_assert_str_eq(s, "xconsole=1 console=hvc0 panic=5 tsc_early_khz=1000000");
	free(s);
	s = hv_qemu_kernel_cmdline("quiet", &none);
	ck_assert_str_eq(s, "console=ttyS0 quiet panic=-1");
	free(s);
}
END_TEST

/* ---- argv ----------------------------------------------------------- */

static struct hv_config
base_config(void)
{
	return (struct hv_config){
		.vm_name = "web1",
		.vm_id = "0123456789abcdef0123456789abcdef",
		.kind = HYPERVISOR_QEMU,
		.accel = QEMU_ACCEL_AUTO,
		.vcpus = 2,
		.memory = 256ULL << 20,
		.kernel = "/img/vmlinux",
		.initrd = "/img/initrd.gz",
		.cmdline = "ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off",
		.root_disk = "/var/lib/banger/vms/web1/root,1.img",
		.work_disk = "/var/lib/banger/vms/web1/work.img",
		.tap = "bgr-01234567",
		.mac = { 0x06, 0x00, 0x0a, 0x00, 0x00, 0x02 },
		.api_socket = "/run/banger/web1/qmp.sock",
		.console_log = "/var/lib/banger/vms/web1/console.log",
	};
}

START_TEST(test_argv_full)
{
	static const char *const expect[] = {
		"qemu-system-x86_64",
		"-name", "banger-web1",
		"-M", "microvm",
		"-accel", "tcg",
		"-cpu", "max",
		"-smp", "2",
		"-m", "256M",
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-no-reboot",
		"-chardev", "file,id=console,path=/var/lib/banger/vms/web1/console.log,append=on",
		"-serial", "chardev:console",
		"-kernel", "/img/vmlinux",
		"-initrd", "/img/initrd.gz",
		"-append",
		"console=ttyS0 ip=10.0.0.2::10.0.0.1:255.255.255.0::eth0:off panic=-1 "
		"tsc_early_khz=2596120",
		"-drive", "file=/var/lib/banger/vms/web1/root,,1.img,format=raw,if=none,id=root",
		"-device", "virtio-blk-device,drive=root",
		"-drive", "file=/var/lib/banger/vms/web1/work.img,format=raw,if=none,id=work",
		"-device", "virtio-blk-device,drive=work",
		"-netdev", "tap,id=net0,ifname=bgr-01234567,script=no,downscript=no",
		"-device", "virtio-net-device,netdev=net0,mac=06:00:0a:00:00:02",
		"-qmp", "unix:/run/banger/web1/qmp.sock,server=on,wait=off",
		NULL,
	};
	struct hv_config cfg = base_config();
	struct error *err = NULL;
	char **argv = NULL;
	size_t i;

	ck_assert_int_eq(hv_qemu_build_argv(&cfg, &tcg_host, QEMU_ACCEL_TCG, &argv, &err), 0);
	ck_assert_ptr_null(err);
	for (i = 0; expect[i]; i++) {
		ck_assert_msg(argv[i], "argv too short at %zu", i);
		ck_assert_str_eq(argv[i], expect[i]);
	}
	ck_assert_ptr_null(argv[i]);
	strv_free(argv);
}
END_TEST

START_TEST(test_argv_minimal_kvm)
{
	static const char *const expect[] = {
		"/opt/qemu/bin/qemu-system-x86_64",
		"-name", "banger-web1",
		"-M", "microvm",
		"-accel", "kvm",
		"-cpu", "host",
		"-smp", "1",
		"-m", "1024M",
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-no-reboot",
		"-chardev", "file,id=console,path=/var/lib/banger/vms/web1/console.log,append=on",
		"-serial", "chardev:console",
		"-kernel", "/img/vmlinux",
		"-append", "console=hvc0 panic=-1",
		"-drive", "file=/var/lib/banger/vms/web1/root,,1.img,format=raw,if=none,id=root",
		"-device", "virtio-blk-device,drive=root",
		"-qmp", "unix:/run/banger/web1/qmp.sock,server=on,wait=off",
		NULL,
	};
	struct hv_qemu_host host = { .kvm_dev = true };
	struct hv_config cfg = base_config();
	struct error *err = NULL;
	char **argv = NULL;
	size_t i;

	cfg.binary = "/opt/qemu/bin/qemu-system-x86_64";
	cfg.vcpus = 1;
	cfg.memory = 1ULL << 30;
	cfg.initrd = NULL;
	cfg.work_disk = NULL;
	cfg.tap = NULL;
	cfg.cmdline = "console=hvc0";
	ck_assert_int_eq(hv_qemu_build_argv(&cfg, &host, QEMU_ACCEL_KVM, &argv, &err), 0);
	for (i = 0; expect[i]; i++) {
		ck_assert_msg(argv[i], "argv too short at %zu", i);
		ck_assert_str_eq(argv[i], expect[i]);
	}
	ck_assert_ptr_null(argv[i]);
	strv_free(argv);
}
END_TEST

static void
expect_invalid(const struct hv_config *cfg, enum qemu_accel accel, int code, const char *text)
{
	struct error *err = NULL;
	char **argv = NULL;

	ck_assert_int_eq(hv_qemu_build_argv(cfg, &tcg_host, accel, &argv, &err), code);
	ck_assert_ptr_null(argv);
	ck_assert_ptr_nonnull(err);
	ck_assert_int_eq(err->code, code);
	ck_assert_msg(strstr(err->msg, text), "'%s' lacks '%s'", err->msg, text);
	error_free(err);
}

START_TEST(test_argv_validation)
{
	static const char long_sock[] =
		"/run/banger/a-very-long-directory-name-that-goes-on-and-on/and-on-and-on/"
		"until-it-no-longer-fits-into-sun-path/qmp.sock";
	struct hv_config c;

	c = base_config();
	c.kind = HYPERVISOR_FIRECRACKER;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "not a qemu vm");
	c = base_config();
	expect_invalid(&c, QEMU_ACCEL_AUTO, -EINVAL, "accel");
	c = base_config();
	c.vm_name = "Web_1";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "vm name 'Web_1'");
	c = base_config();
	c.vcpus = 0;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "vcpus 0");
	c = base_config();
	c.memory = (256ULL << 20) + 1;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "whole number of MiB");
	c = base_config();
	c.memory = 16ULL << 20;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "out of range");
	c = base_config();
	c.kernel = "vmlinux";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "kernel 'vmlinux': not an absolute path");
	c = base_config();
	c.kernel = "/img/vm,linux";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "kernel '/img/vm,linux': comma");
	c = base_config();
	c.initrd = "/img/init,rd";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "initrd");
	c = base_config();
	c.kernel = NULL;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "kernel: missing");
	c = base_config();
	c.root_disk = "/img/root\n.img";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "root disk: control character");
	c = base_config();
	c.work_disk = "work.img";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "work disk 'work.img'");
	c = base_config();
	c.console_log = "";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "console log: missing");
	c = base_config();
	c.api_socket = "/run/banger/a,b/qmp.sock";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "qmp socket '/run/banger/a,b/qmp.sock': comma");
	c = base_config();
	c.api_socket = long_sock;
	expect_invalid(&c, QEMU_ACCEL_TCG, -ENAMETOOLONG, "path too long");
	c = base_config();
	c.cmdline = "quiet\ninit=/bin/sh";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "kernel command line");
	c = base_config();
	{
		char big[2100];

		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		c.cmdline = big;
		expect_invalid(&c, QEMU_ACCEL_TCG, -E2BIG, "longer than 2047");
	}
	c = base_config();
	c.tap = "eth0";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "tap 'eth0'");
	c = base_config();
	c.tap = "bgr-0123456789ab";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "not a banger tap name");
	c = base_config();
	c.tap = "bgr-0,id=x";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "bad character");
	c = base_config();
	c.tap = "bgr-";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "not a banger tap name");
	c = base_config();
	c.mac[0] = 0x01;
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "multicast");
	c = base_config();
	c.binary = "";
	expect_invalid(&c, QEMU_ACCEL_TCG, -EINVAL, "qemu binary");
}
END_TEST

/* ---- ops against a fake QMP server ---------------------------------- */

struct fake_qmp {
	char path[108];
	int listen_fd;
	const char *status;	/* query-status answer */
	pid_t victim;		/* killed on system_powerdown, as a guest powering off */
	bool ignore_powerdown;
	char seen[512];		/* commands received, space separated */
	pthread_t thread;
};

static void
send_line(int fd, const char *s)
{
	size_t len = strlen(s);

	ck_assert_int_eq(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
	ck_assert_int_eq(send(fd, "\n", 1, MSG_NOSIGNAL), 1);
}

static void *
fake_qmp_serve(void *arg)
{
	struct fake_qmp *f = arg;

	for (;;) {
		_cleanup_fclose_ FILE *in = NULL;
		char line[1024];
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return NULL;
		in = fdopen(dup(fd), "r");
		send_line(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}");
		while (fgets(line, sizeof(line), in)) {
			json_t *j = json_loads(line, 0, NULL);
			const char *cmd = json_string_value(json_object_get(j, "execute"));
			char buf[256];

			ck_assert_ptr_nonnull(cmd);
			strncat(f->seen, cmd, sizeof(f->seen) - strlen(f->seen) - 2);
			strcat(f->seen, " ");
			if (strcmp(cmd, "query-status") == 0) {
				/* An event first: clients must skip it. */
				send_line(fd, "{\"event\": \"RESUME\", \"timestamp\": {}}");
				snprintf(buf, sizeof(buf),
					 "{\"return\": {\"status\": \"%s\", \"running\": true}}",
					 f->status);
				send_line(fd, buf);
			} else if (strcmp(cmd, "system_powerdown") == 0) {
				send_line(fd, "{\"event\": \"POWERDOWN\", \"timestamp\": {}}");
				send_line(fd, "{\"return\": {}}");
				if (!f->ignore_powerdown && f->victim > 0)
					(void)kill(f->victim, SIGKILL);
			} else if (strcmp(cmd, "qmp_capabilities") == 0) {
				send_line(fd, "{\"return\": {}}");
			} else {
				send_line(fd, "{\"error\": {\"class\": \"CommandNotFound\", "
					      "\"desc\": \"The command nope has not been found\"}}");
			}
			json_decref(j);
		}
		(void)close(fd);
	}
}

static void
fake_qmp_start(struct fake_qmp *f, const char *path, const char *status)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	memset(f, 0, sizeof(*f));
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->status = status;
	strcpy(sa.sun_path, path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(f->listen_fd, 0);
	ck_assert_int_eq(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(f->listen_fd, 4), 0);
	ck_assert_int_eq(pthread_create(&f->thread, NULL, fake_qmp_serve, f), 0);
}

/* A stand-in QEMU whose command line names the qmp socket. */
static pid_t
spawn_standin(const char *sock, const char *script)
{
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	_cleanup_free_ char *opt = xasprintf("unix:%s,server=on,wait=off", sock);
	_cleanup_free_ char *s = xstrdup(script);
	char *const argv[] = { "/proc/self/exe", "standin", s, "-qmp", opt, NULL };
	struct error *err = NULL;
	pid_t pid = 0;
	bool alive = false;

	ck_assert_int_eq(hv_spawn_detached(argv, log, &pid, &err), 0);
	ck_assert_int_eq(hv_process_alive(pid, sock, &alive, &err), 0);
	ck_assert(alive);
	return pid;
}

static struct hv_ops *
new_ops(void)
{
	struct hv_ops *ops = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(hv_qemu_new_with_host(&tcg_host, &ops, &err), 0);
	return ops;
}

START_TEST(test_ops_boot_ready_stop)
{
	/* As banger lays it out: DIR/NAME/SOCKET (the list takes DIR). */
	_cleanup_free_ char *vm = xasprintf("%s/web1", dir);
	_cleanup_free_ char *sock = xasprintf("%s/web1/qmp.sock", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	struct hv_config cfg = base_config();
	struct hv_ops *ops = new_ops();
	struct hv_proc *procs = NULL;
	struct error *err = NULL;
	struct fake_qmp f;
	char sentinel = 0;
	char *tail = &sentinel;
	bool ready = true, alive = false;
	size_t n = 0;
	pid_t pid;

	ck_assert_int_eq(mkdir(vm, 0700), 0);
	cfg.api_socket = sock;
	cfg.console_log = log;
	fake_qmp_start(&f, sock, "running");
	pid = spawn_standin(sock, "ready1");
	f.victim = pid;

	ck_assert_int_eq(ops->boot(ops->userdata, &cfg, pid, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(f.seen, "qmp_capabilities query-status ");

	ck_assert_int_eq(ops->ready(ops->userdata, &cfg, pid, &ready, &tail, &err), 0);
	ck_assert(!ready);
	ck_assert_ptr_null(tail);
	for (int i = 0; i < 500 && !ready; i++) {
		ck_assert_int_eq(ops->ready(ops->userdata, &cfg, pid, &ready, &tail, &err), 0);
		usleep(10000);
	}
	ck_assert(ready);

	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(alive);
	ck_assert_int_eq(ops->list(ops->userdata, dir, &procs, &n, &err), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(procs[0].pid, pid);
	ck_assert_str_eq(procs[0].api_socket, sock);
	hv_procs_free(procs, n);

	/* The guest "powers off" on system_powerdown; the socket goes too. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_QEMU, pid, sock, 5000, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_str_eq(f.seen, "qmp_capabilities query-status qmp_capabilities "
				 "system_powerdown ");
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	ck_assert_int_eq(access(sock, F_OK), -1);
	/* Stopping a stopped VM succeeds. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_QEMU, pid, sock, 5000, &err), 0);
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 5000, &err),
			 -EINVAL);
	error_free(err);
	hv_qemu_free(ops);
}
END_TEST

START_TEST(test_ops_stop_escalates)
{
	_cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir);
	struct hv_ops *ops = new_ops();
	struct error *err = NULL;
	struct fake_qmp f;
	bool alive = true;
	pid_t pid;

	fake_qmp_start(&f, sock, "running");
	f.ignore_powerdown = true;
	/* Ignores SIGTERM too: only SIGKILL ends it. */
	pid = spawn_standin(sock, "ignterm");
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_QEMU, pid, sock, 400, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_ptr_nonnull(strstr(f.seen, "system_powerdown"));
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	hv_qemu_free(ops);
}
END_TEST

START_TEST(test_ops_stop_without_qmp)
{
	_cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir);
	struct hv_ops *ops = new_ops();
	struct error *err = NULL;
	bool alive = true;
	pid_t pid;

	/* No QMP server at all: straight to SIGTERM. */
	pid = spawn_standin(sock, "");
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_QEMU, pid, sock, 2000, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	hv_qemu_free(ops);
}
END_TEST

START_TEST(test_ops_boot_not_running)
{
	_cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	struct hv_config cfg = base_config();
	struct hv_ops *ops = new_ops();
	struct error *err = NULL;
	struct fake_qmp f;
	pid_t pid;

	cfg.api_socket = sock;
	cfg.console_log = log;
	fake_qmp_start(&f, sock, "guest-panicked");
	pid = spawn_standin(sock, "");
	ck_assert_int_eq(ops->boot(ops->userdata, &cfg, pid, &err), -EIO);
	ck_assert_str_eq(err->msg, "qemu status 'guest-panicked', not running");
	error_free(err);
	err = NULL;
	ck_assert_int_eq(hv_signal_wait(pid, sock, SIGKILL, 5000, &err), 0);
	hv_qemu_free(ops);
}
END_TEST

/* spawn runs the configured binary with the argv built; /bin/echo prints
 * it into the console log and exits, which ready then reports. */
START_TEST(test_ops_spawn_and_death)
{
	_cleanup_free_ char *sock = xasprintf("%s/qmp.sock", dir);
	_cleanup_free_ char *log = xasprintf("%s/console.log", dir);
	_cleanup_free_ char *data = NULL;
	struct hv_config cfg = base_config();
	struct hv_ops *ops = new_ops();
	struct error *err = NULL;
	char *tail = NULL;
	bool ready = true, alive = true;
	pid_t pid = 0;
	int fd;

	cfg.binary = "/bin/echo";
	cfg.api_socket = sock;
	cfg.console_log = log;
	/* A stale socket is removed first. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		strcpy(sa.sun_path, sock);
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	}
	(void)close(fd);
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_gt(pid, 0);
	ck_assert_int_eq(access(sock, F_OK), -1);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	ck_assert_int_eq(ops->ready(ops->userdata, &cfg, pid, &ready, &tail, &err), 0);
	ck_assert(!ready);
	ck_assert_ptr_nonnull(tail);
	ck_assert_ptr_nonnull(strstr(tail, "-M microvm -accel tcg"));
	ck_assert_ptr_nonnull(strstr(tail, "-qmp unix:"));
	free(tail);
	/* boot of a dead QEMU says so, with its console. */
	ck_assert_int_eq(ops->boot(ops->userdata, &cfg, pid, &err), -ESRCH);
	ck_assert_ptr_nonnull(strstr(err->msg, "qemu exited; console:\n"));
	err = error_free(err);

	/* Something that is not a socket at the socket path is not ours. */
	ck_assert_int_eq(write_file_atomic(sock, "x", 1, 0600), 0);
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), -EEXIST);
	ck_assert_int_eq(read_file(sock, 10, &data, NULL), 0);
	ck_assert_str_eq(data, "x");
	error_free(err);
	hv_qemu_free(ops);
}
END_TEST

static Suite *
hv_qemu_suite(void)
{
	Suite *s = suite_create("hv-qemu");
	TCase *pure = tcase_create("pure");
	TCase *ops = tcase_create("ops");

	tcase_add_test(pure, test_accel_rule);
	tcase_add_test(pure, test_host_probe);
	tcase_add_test(pure, test_tsc_parse);
	tcase_add_test(pure, test_opt_escape);
	tcase_add_test(pure, test_kernel_cmdline);
	tcase_add_test(pure, test_argv_full);
	tcase_add_test(pure, test_argv_minimal_kvm);
	tcase_add_test(pure, test_argv_validation);
	suite_add_tcase(s, pure);

	tcase_add_checked_fixture(ops, setup, teardown);
	tcase_set_timeout(ops, 30);
	tcase_add_test(ops, test_ops_boot_ready_stop);
	tcase_add_test(ops, test_ops_stop_escalates);
	tcase_add_test(ops, test_ops_stop_without_qmp);
	tcase_add_test(ops, test_ops_boot_not_running);
	tcase_add_test(ops, test_ops_spawn_and_death);
	suite_add_tcase(s, ops);
	return s;
}

int
main(int argc, char **argv)
{
	SRunner *sr;
	int failed;

	if (argc > 1 && strcmp(argv[1], "standin") == 0)
		return standin_main(argc, argv);
	sr = srunner_create(hv_qemu_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
