/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Tests for src/drivers/hv-firecracker: the JSON bodies of the boot
 * sequence; the whole driver (spawn, boot, ready, alive, list, stop) against
 * tests/fakes/fake-firecracker, checking what the fake recorded; faults
 * coming back as error text; and the fake's own strictness, so it cannot
 * accept what the OpenAPI spec rejects.  No root, no network.
 */
#include <check.h>
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/fc-http.h"
#include "drivers/hv-common.h"
#include "drivers/hv-firecracker.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"

#define MIB (UINT64_C(1) << 20)

/* ---- fixture ------------------------------------------------------------ */

static char dir[64];
static char *binary, *kernel, *initrd, *rootfs, *work, *sock, *console, *record;
static struct hv_config cfg;
static struct hv_ops *ops;
static pid_t spawned[8];
static size_t n_spawned;

static char *
touch(const char *name)
{
	char *p = xasprintf("%s/%s", dir, name);

	ck_assert_int_eq(write_file_atomic(p, "x", 1, 0644), 0);
	return p;
}

static void
setup(void)
{
	struct hv_firecracker_options o = { .api_timeout_ms = 5000, .socket_wait_ms = 15000 };
	const char *src = getenv("top_srcdir");
	struct error *err = NULL;

	strcpy(dir, "/tmp/banger-fc-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	kernel = touch("vmlinux");
	initrd = touch("initrd.img");
	rootfs = touch("root.img");
	work = touch("work.img");
	/* As banger lays it out: DIR/NAME/SOCKET (the lists take DIR). */
	sock = xasprintf("%s/web1/fc.sock", dir);
	{
		_cleanup_free_ char *vm = xasprintf("%s/web1", dir);

		ck_assert_int_eq(mkdir(vm, 0700), 0);
	}
	console = xasprintf("%s/console.log", dir);
	record = xasprintf("%s.json", sock);
	binary = xasprintf("%s/tests/fakes/fake-firecracker", src ? src : ".");

	memset(&cfg, 0, sizeof(cfg));
	cfg.vm_name = "web1";
	cfg.vm_id = "0123456789abcdef0123456789abcdef";
	cfg.kind = HYPERVISOR_FIRECRACKER;
	cfg.binary = binary;
	cfg.vcpus = 2;
	cfg.memory = 256 * MIB;
	cfg.kernel = kernel;
	cfg.initrd = initrd;
	cfg.cmdline = "console=ttyS0 reboot=k panic=1 "
		      "ip=10.77.0.2::10.77.0.1:255.255.255.0::eth0:off";
	cfg.root_disk = rootfs;
	cfg.work_disk = work;
	cfg.tap = "bgr-01234567";
	memcpy(cfg.mac, (uint8_t[]){ 0x06, 0x00, 0x0a, 0x4d, 0x00, 0x02 }, 6);
	cfg.api_socket = sock;
	cfg.console_log = console;

	ck_assert_int_eq(hv_firecracker_new_with_options(&o, &ops, &err), 0);
	n_spawned = 0;
	/* A failing test skips teardown: the fakes end with this process. */
	{
		char pid[16];

		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		ck_assert_int_eq(setenv("FAKE_FIRECRACKER_WATCH_PID", pid, 1), 0);
	}
}

static void
teardown(void)
{
	/* End only what this test started and has not reaped, by pid. */
	for (size_t i = 0; i < n_spawned; i++) {
		if (spawned[i] <= 0)
			continue;
		(void)kill(spawned[i], SIGKILL);
		(void)waitpid(spawned[i], NULL, 0);
	}
	ops = hv_firecracker_free(ops);
	{
		_cleanup_free_ char *vmjson = xasprintf("%s/vm.json", dir);

		(void)unlink(vmjson);
	}
	for (const char *const *p = (const char *const[]){ kernel, initrd, rootfs, work, sock,
							  console, record, NULL };
	     *p; p++)
		(void)unlink(*p);
	{
		_cleanup_free_ char *vm = xasprintf("%s/web1", dir);	/* the socket's folder */

		(void)rmdir(vm);
	}
	(void)rmdir(dir);
	free(binary);
	free(kernel);
	free(initrd);
	free(rootfs);
	free(work);
	free(sock);
	free(console);
	free(record);
}

static pid_t
spawn_ok(void)
{
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_gt(pid, 0);
	ck_assert_uint_lt(n_spawned, ELEMENTSOF(spawned));
	spawned[n_spawned++] = pid;
	return pid;
}

static void
boot_ok(pid_t pid)
{
	struct error *err = NULL;
	int r = ops->boot(ops->userdata, &cfg, pid, &err);

	ck_assert_msg(r == 0, "boot: %d %s", r, err ? err->msg : "");
}

/* The child's exit status if it is ours to reap (hv-common may detach it
 * further, then -1). */
static int
reap(pid_t pid)
{
	int status = 0;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	for (size_t i = 0; i < n_spawned; i++)
		if (spawned[i] == pid)
			spawned[i] = 0;
	return status;
}

static char *
slurp(const char *path)
{
	char *data = NULL;
	size_t len = 0;

	ck_assert_int_eq(read_file(path, 1 << 20, &data, &len), 0);
	return data;
}

static json_t *
load_record(void)
{
	json_error_t je;
	json_t *j = json_load_file(record, 0, &je);

	ck_assert_msg(j != NULL, "record '%s': %s", record, je.text);
	return j;
}

static bool
wait_ready(pid_t pid, unsigned ms, char **ret_tail)
{
	for (unsigned waited = 0; waited < ms; waited += 20) {
		struct error *err = NULL;
		bool ready = false;
		char *tail = NULL;

		ck_assert_int_eq(ops->ready(ops->userdata, &cfg, pid, &ready, &tail, &err), 0);
		if (ready || tail) {
			*ret_tail = tail;
			return ready;
		}
		(void)poll(NULL, 0, 20);
	}
	*ret_tail = NULL;
	return false;
}

/* ---- bodies ------------------------------------------------------------- */

static json_t *
body_of(const struct fc_call *c)
{
	json_error_t je;
	json_t *j = json_loads(c->body, 0, &je);

	ck_assert_msg(j != NULL, "body of %s %s: %s", c->method, c->path, je.text);
	ck_assert(json_is_object(j));
	return j;
}

static void
assert_str(json_t *o, const char *key, const char *want)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_string(v), "'%s' is not a string", key);
	ck_assert_str_eq(json_string_value(v), want);
}

static void
assert_int(json_t *o, const char *key, json_int_t want)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_integer(v), "'%s' is not an integer", key);
	ck_assert_int_eq(json_integer_value(v), want);
}

static void
assert_bool(json_t *o, const char *key, bool want)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(json_is_boolean(v), "'%s' is not a boolean", key);
	ck_assert_int_eq(json_is_true(v), want);
}

static void
check_full_config(json_t *mc, json_t *bs, json_t *root, json_t *wk, json_t *net)
{
	ck_assert_uint_eq(json_object_size(mc), 2);
	assert_int(mc, "vcpu_count", 2);
	assert_int(mc, "mem_size_mib", 256);

	ck_assert_uint_eq(json_object_size(bs), 3);
	assert_str(bs, "kernel_image_path", kernel);
	assert_str(bs, "initrd_path", initrd);
	assert_str(bs, "boot_args", cfg.cmdline);

	ck_assert_uint_eq(json_object_size(root), 4);
	assert_str(root, "drive_id", "rootfs");
	assert_str(root, "path_on_host", rootfs);
	assert_bool(root, "is_root_device", true);
	assert_bool(root, "is_read_only", false);

	ck_assert_uint_eq(json_object_size(wk), 4);
	assert_str(wk, "drive_id", "work");
	assert_str(wk, "path_on_host", work);
	assert_bool(wk, "is_root_device", false);
	assert_bool(wk, "is_read_only", false);

	ck_assert_uint_eq(json_object_size(net), 3);
	assert_str(net, "iface_id", "eth0");
	assert_str(net, "host_dev_name", "bgr-01234567");
	assert_str(net, "guest_mac", "06:00:0a:4d:00:02");
}

START_TEST(test_calls_full)
{
	struct fc_call *c = NULL;
	struct error *err = NULL;
	size_t n = 0;
	static const char *const paths[] = { "/machine-config", "/boot-source", "/drives/rootfs",
					     "/drives/work", "/network-interfaces/eth0",
					     "/actions" };
	json_t *b[6];

	ck_assert_int_eq(fc_boot_calls(&cfg, &c, &n, &err), 0);
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		ck_assert_str_eq(c[i].method, "PUT");
		ck_assert_str_eq(c[i].path, paths[i]);
		b[i] = body_of(&c[i]);
	}
	check_full_config(b[0], b[1], b[2], b[3], b[4]);
	ck_assert_uint_eq(json_object_size(b[5]), 1);
	assert_str(b[5], "action_type", "InstanceStart");
	for (size_t i = 0; i < n; i++)
		json_decref(b[i]);
	fc_calls_free(c, n);
}
END_TEST

START_TEST(test_calls_minimal)
{
	struct fc_call *c = NULL;
	struct error *err = NULL;
	size_t n = 0;
	json_t *bs;

	cfg.initrd = NULL;
	cfg.work_disk = NULL;
	cfg.tap = NULL;
	cfg.cmdline = NULL;
	cfg.memory = 1 * MIB;
	cfg.vcpus = 1;
	ck_assert_int_eq(fc_boot_calls(&cfg, &c, &n, &err), 0);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(c[0].body, "{\"vcpu_count\":1,\"mem_size_mib\":1}");
	ck_assert_str_eq(c[1].path, "/boot-source");
	bs = body_of(&c[1]);
	ck_assert_uint_eq(json_object_size(bs), 1);
	assert_str(bs, "kernel_image_path", kernel);
	json_decref(bs);
	ck_assert_str_eq(c[2].path, "/drives/rootfs");
	ck_assert_str_eq(c[3].path, "/actions");
	ck_assert_str_eq(c[3].body, "{\"action_type\":\"InstanceStart\"}");
	fc_calls_free(c, n);
}
END_TEST

START_TEST(test_calls_bad_memory)
{
	struct fc_call *c = NULL;
	struct error *err = NULL;
	size_t n = 0;

	cfg.memory = 256 * MIB + 1;
	ck_assert_int_eq(fc_boot_calls(&cfg, &c, &n, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "memory 268435457 is not a whole number of MiB");
	err = error_free(err);
	cfg.memory = 0;
	ck_assert_int_eq(fc_boot_calls(&cfg, &c, &n, &err), -EINVAL);
	err = error_free(err);
	cfg.memory = MIB;
	cfg.root_disk = NULL;
	ck_assert_int_eq(fc_boot_calls(&cfg, &c, &n, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "no root disk given");
	error_free(err);
	ck_assert_ptr_null(c);
}
END_TEST

/* ---- driver against the fake ------------------------------------------- */

START_TEST(test_lifecycle)
{
	struct error *err = NULL;
	_cleanup_free_ char *tail = NULL, *log = NULL;
	struct hv_proc *procs = NULL;
	size_t n_procs = 0;
	bool alive = false, found = false;
	json_t *rec, *c, *reqs, *argv;
	struct stat st;
	pid_t pid;
	int status;
	static const char *const seq[] = { "GET /", "PUT /machine-config", "PUT /boot-source",
					   "PUT /drives/rootfs", "PUT /drives/work",
					   "PUT /network-interfaces/eth0", "PUT /actions" };

	pid = spawn_ok();
	boot_ok(pid);
	ck_assert_ptr_null(err);
	ck_assert(wait_ready(pid, 10000, &tail));
	ck_assert_ptr_null(tail);

	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(alive);
	/* A second VMM on a live socket is refused, the first keeps it. */
	{
		pid_t other = 0;
		_cleanup_free_ char *want = xasprintf("api socket '%s' is in use", sock);

		ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &other, &err), -EBUSY);
		ck_assert_str_eq(err->msg, want);
		ck_assert_int_eq(other, 0);
		err = error_free(err);
		ck_assert(fc_http_socket_ready(sock));
	}
	ck_assert_int_eq(ops->alive(ops->userdata, pid, "/tmp/banger-fc-none/fc.sock", &alive, &err),
			 0);
	ck_assert(!alive);
	ck_assert_int_eq(ops->list(ops->userdata, dir, &procs, &n_procs, &err), 0);
	for (size_t i = 0; i < n_procs; i++)
		if (procs[i].pid == pid) {
			ck_assert_str_eq(procs[i].api_socket, sock);
			found = true;
		}
	ck_assert(found);
	hv_procs_free(procs, n_procs);

	/* What the fake received: every field, right values, right order. */
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "Running");
	ck_assert_str_eq(json_string_value(json_object_get(rec, "id")), "web1");
	argv = json_object_get(rec, "argv");
	ck_assert_uint_eq(json_array_size(argv), 4);
	ck_assert_str_eq(json_string_value(json_array_get(argv, 0)), "--api-sock");
	ck_assert_str_eq(json_string_value(json_array_get(argv, 1)), sock);
	ck_assert_str_eq(json_string_value(json_array_get(argv, 2)), "--id");
	ck_assert_str_eq(json_string_value(json_array_get(argv, 3)), "web1");
	c = json_object_get(rec, "config");
	check_full_config(json_object_get(c, "machine-config"), json_object_get(c, "boot-source"),
			  json_object_get(json_object_get(c, "drives"), "rootfs"),
			  json_object_get(json_object_get(c, "drives"), "work"),
			  json_object_get(json_object_get(c, "network-interfaces"), "eth0"));
	ck_assert_uint_eq(json_object_size(json_object_get(c, "drives")), 2);
	ck_assert_uint_eq(json_object_size(json_object_get(c, "network-interfaces")), 1);
	ck_assert_ptr_null(json_object_get(c, "other"));
	reqs = json_object_get(rec, "requests");
	ck_assert_uint_eq(json_array_size(reqs), ELEMENTSOF(seq));
	for (size_t i = 0; i < ELEMENTSOF(seq); i++) {
		json_t *r = json_array_get(reqs, i);
		_cleanup_free_ char *s = xasprintf("%s %s",
			json_string_value(json_object_get(r, "method")),
			json_string_value(json_object_get(r, "path")));

		ck_assert_str_eq(s, seq[i]);
		ck_assert_int_eq(json_integer_value(json_object_get(r, "status")),
				 i == 0 ? 200 : 204);
	}
	json_decref(rec);

	/* Graceful stop: SendCtrlAltDel, the fake exits 0 by itself. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 5000, &err), 0);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	ck_assert_int_eq(lstat(sock, &st), -1);
	ck_assert_int_eq(errno, ENOENT);
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(rec, "actions"), 1)),
			 "SendCtrlAltDel");
	json_decref(rec);
	log = slurp(console);
	ck_assert_ptr_nonnull(strstr(log, "banger-guest-ready 10.77.0.2\n"));
	ck_assert_ptr_nonnull(strstr(log, "reboot: Restarting system\n"));
	ck_assert_ptr_null(strstr(log, "SIGTERM"));
	status = reap(pid);
	if (status != -1)
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* Stopping what is gone is success. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 1000, &err), 0);
}
END_TEST

static void
boot_fails_with(int code, const char *msg)
{
	struct error *err = NULL;
	pid_t pid = spawn_ok();
	json_t *rec;

	ck_assert_int_eq(ops->boot(ops->userdata, &cfg, pid, &err), code);
	ck_assert_ptr_nonnull(err);
	ck_assert_str_eq(err->msg, msg);
	ck_assert_int_eq(err->code, code);
	error_free(err);
	err = NULL;
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "Not started");
	ck_assert_uint_eq(json_array_size(json_object_get(rec, "actions")), 0);
	json_decref(rec);
	/* Not booted: SendCtrlAltDel is refused, the signals end it. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 3000, &err), 0);
}

START_TEST(test_fault_schema)
{
	cfg.vcpus = 33;
	boot_fails_with(-EINVAL, "PUT /machine-config: invalid body for PUT /machine-config: "
				 "vcpu_count: 33 is greater than the maximum of 32");
}
END_TEST

START_TEST(test_fault_kernel)
{
	_cleanup_free_ char *msg = NULL, *missing = xasprintf("%s/no-such-kernel", dir);

	cfg.kernel = missing;
	msg = xasprintf("PUT /boot-source: Kernel file '%s' cannot be opened: "
			"No such file or directory", missing);
	boot_fails_with(-EINVAL, msg);
}
END_TEST

START_TEST(test_fault_injected)
{
	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_FAIL", "PUT /drives/work", 1), 0);
	boot_fails_with(-EINVAL, "PUT /drives/work: injected failure for PUT /drives/work");
}
END_TEST

START_TEST(test_stale_socket)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct error *err = NULL;
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *tail = NULL;
	pid_t pid;

	/* A socket left by a dead VMM: removed, or the new one could not bind. */
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	pid = spawn_ok();
	boot_ok(pid);
	ck_assert(wait_ready(pid, 10000, &tail));
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 5000, &err), 0);
}
END_TEST

START_TEST(test_not_a_socket)
{
	struct error *err = NULL;
	pid_t pid = 0;

	ck_assert_int_eq(write_file_atomic(sock, "data", 4, 0600), 0);
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err->msg, "exists and is not a socket"));
	ck_assert_int_eq(pid, 0);
	error_free(err);
}
END_TEST

START_TEST(test_bad_args)
{
	struct error *err = NULL;
	pid_t pid = 0;
	char longsock[160];

	struct hv_ops *defaults = NULL;

	ck_assert_int_eq(hv_firecracker_new(&defaults, &err), 0);
	ck_assert(defaults->spawn && defaults->boot && defaults->ready && defaults->stop &&
		  defaults->alive && defaults->list && defaults->userdata);
	ck_assert_ptr_null(hv_firecracker_free(defaults));

	cfg.kind = HYPERVISOR_QEMU;
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), -EINVAL);
	ck_assert_str_eq(err->msg, "vm 'web1' does not use firecracker");
	err = error_free(err);
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_QEMU, 1, sock, 100, &err), -EINVAL);
	err = error_free(err);
	cfg.kind = HYPERVISOR_FIRECRACKER;
	memset(longsock, 'a', sizeof(longsock) - 1);
	longsock[0] = '/';
	longsock[sizeof(longsock) - 1] = '\0';
	cfg.api_socket = longsock;
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), -ENAMETOOLONG);
	err = error_free(err);
	cfg.api_socket = sock;
	cfg.vm_name = "Not_A_Label";
	ck_assert_int_eq(ops->spawn(ops->userdata, &cfg, &pid, &err), -EINVAL);
	error_free(err);
	ck_assert_int_eq(n_spawned, 0);
}
END_TEST

START_TEST(test_stop_escalates_to_term)
{
	struct error *err = NULL;
	_cleanup_free_ char *tail = NULL, *log = NULL;
	bool alive = true;
	json_t *rec;
	pid_t pid;
	int status;

	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_IGNORE_CAD", "1", 1), 0);
	pid = spawn_ok();
	boot_ok(pid);
	ck_assert(wait_ready(pid, 10000, &tail));
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 1500, &err), 0);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	log = slurp(console);
	ck_assert_ptr_nonnull(strstr(log, "fake-firecracker: SIGTERM\n"));
	ck_assert_ptr_null(strstr(log, "reboot: Restarting system"));
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(rec, "actions"), 1)),
			 "SendCtrlAltDel");
	json_decref(rec);
	status = reap(pid);
	if (status != -1)
		ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM);
}
END_TEST

START_TEST(test_stop_escalates_to_kill)
{
	struct error *err = NULL;
	_cleanup_free_ char *tail = NULL, *log = NULL;
	bool alive = true;
	pid_t pid;
	int status;

	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_IGNORE_CAD", "1", 1), 0);
	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_IGNORE_TERM", "1", 1), 0);
	pid = spawn_ok();
	boot_ok(pid);
	ck_assert(wait_ready(pid, 10000, &tail));
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 1500, &err), 0);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
	log = slurp(console);
	ck_assert_ptr_nonnull(strstr(log, "fake-firecracker: ignoring SIGTERM\n"));
	status = reap(pid);
	if (status != -1)
		ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}
END_TEST

START_TEST(test_stop_spares_others)
{
	struct error *err = NULL;

	/* Our own pid does not hold the socket: nothing is signalled. */
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, getpid(), sock, 500,
				   &err), 0);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_guest_panics)
{
	struct error *err = NULL;
	char *tail = NULL;
	bool alive = true;
	pid_t pid;

	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_PANIC", "1", 1), 0);
	pid = spawn_ok();
	boot_ok(pid);
	ck_assert(!wait_ready(pid, 10000, &tail));
	ck_assert_ptr_nonnull(tail);
	ck_assert_ptr_nonnull(strstr(tail, "Kernel panic - not syncing"));
	free(tail);
	ck_assert_int_eq(ops->alive(ops->userdata, pid, sock, &alive, &err), 0);
	ck_assert(!alive);
}
END_TEST

START_TEST(test_not_ready_yet)
{
	struct error *err = NULL;
	_cleanup_free_ char *sock_record = xasprintf("%s.json", sock);
	char *tail = NULL;
	bool ready = true;
	json_t *rec;
	pid_t pid;

	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_NO_READY", "1", 1), 0);
	/* The record goes where the environment says. */
	free(record);
	record = xasprintf("%s/elsewhere.json", dir);
	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_RECORD", record, 1), 0);
	pid = spawn_ok();
	boot_ok(pid);
	(void)poll(NULL, 0, 300);
	ck_assert_int_eq(ops->ready(ops->userdata, &cfg, pid, &ready, &tail, &err), 0);
	ck_assert(!ready);
	ck_assert_ptr_null(tail);
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "Running");
	json_decref(rec);
	ck_assert_int_eq(access(sock_record, F_OK), -1);
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 5000, &err), 0);
}
END_TEST

START_TEST(test_vmm_dies_early)
{
	struct error *err = NULL;
	_cleanup_free_ char *want = NULL;
	pid_t pid;

	/* The fake cannot load its spec and exits before making the socket. */
	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_SPEC", "/nonexistent/spec.yaml", 1), 0);
	pid = spawn_ok();
	ck_assert_int_eq(ops->boot(ops->userdata, &cfg, pid, &err), -ESRCH);
	want = xasprintf("firecracker (pid %d) exited before its api socket appeared: "
			 "fake-firecracker: cannot read the API spec '/nonexistent/spec.yaml': "
			 "No such file or directory", (int)pid);
	ck_assert_str_eq(err->msg, want);
	error_free(err);
}
END_TEST

START_TEST(test_socket_wait_timeout)
{
	struct hv_firecracker_options o = { .socket_wait_ms = 300 };
	struct hv_ops *quick = NULL;
	struct error *err = NULL;
	_cleanup_free_ char *want = NULL;
	pid_t pid;

	ck_assert_int_eq(setenv("FAKE_FIRECRACKER_DELAY_MS", "5000", 1), 0);
	pid = spawn_ok();
	ck_assert_int_eq(hv_firecracker_new_with_options(&o, &quick, &err), 0);
	ck_assert_int_eq(quick->boot(quick->userdata, &cfg, pid, &err), -ETIMEDOUT);
	want = xasprintf("api socket '%s' not ready after 300 ms", sock);
	ck_assert_str_eq(err->msg, want);
	error_free(err);
	hv_firecracker_free(quick);
}
END_TEST

/* ---- the fake's strictness ---------------------------------------------- */

/* Start the fake without booting and wait for its socket. */
static pid_t
fake_up(void)
{
	pid_t pid = spawn_ok();

	for (unsigned w = 0; !fc_http_socket_ready(sock); w += 20) {
		ck_assert_msg(w < 15000, "fake-firecracker did not come up");
		(void)poll(NULL, 0, 20);
	}
	return pid;
}

/* Send one request; return the status and, for errors, the fault_message. */
static int
send_raw(const char *method, const char *path, const char *body, char **ret_fault)
{
	struct fc_http_response r = { 0 };
	struct error *err = NULL;
	int status;

	ck_assert_int_eq(fc_http_call(sock, method, path, body, 5000, &r, &err), 0);
	status = r.status;
	if (ret_fault)
		*ret_fault = fc_http_fault_message(r.body, r.body_len);
	fc_http_response_done(&r);
	return status;
}

static void
expect(const char *method, const char *path, const char *body, int want_status,
       const char *want_fault)
{
	_cleanup_free_ char *fault = NULL;
	int status = send_raw(method, path, body, &fault);

	ck_assert_msg(status == want_status, "%s %s %s: status %d, want %d (%s)", method, path,
		      body ? body : "", status, want_status, fault ? fault : "");
	if (want_fault) {
		ck_assert_ptr_nonnull(fault);
		ck_assert_msg(strstr(fault, want_fault), "%s %s %s: fault '%s' lacks '%s'", method,
			      path, body ? body : "", fault, want_fault);
	}
}

#define INVALID(m, p, b, f) expect(m, p, b, 400, f)
#define OK(m, p, b) expect(m, p, b, 204, NULL)

START_TEST(test_fake_rejects)
{
	_cleanup_free_ char *d = NULL, *big = NULL;
	json_t *rec;

	fake_up();
	/* Missing required fields. */
	INVALID("PUT", "/machine-config", "{\"mem_size_mib\":128}",
		"'vcpu_count' is a required property");
	INVALID("PUT", "/boot-source", "{\"boot_args\":\"console=ttyS0\"}",
		"'kernel_image_path' is a required property");
	INVALID("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"path_on_host\":\"/x\"}",
		"'is_root_device' is a required property");
	INVALID("PUT", "/network-interfaces/eth0", "{\"iface_id\":\"eth0\"}",
		"'host_dev_name' is a required property");
	INVALID("PUT", "/actions", "{}", "'action_type' is a required property");
	/* Wrong types. */
	INVALID("PUT", "/machine-config", "{\"vcpu_count\":\"2\",\"mem_size_mib\":128}",
		"vcpu_count: '2' is not of type 'integer'");
	INVALID("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":true}",
		"mem_size_mib: True is not of type 'integer'");
	d = xasprintf("{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":\"yes\","
		      "\"is_read_only\":false}", rootfs);
	INVALID("PUT", "/drives/rootfs", d, "is_root_device: 'yes' is not of type 'boolean'");
	INVALID("PUT", "/boot-source", "{\"kernel_image_path\":42}",
		"kernel_image_path: 42 is not of type 'string'");
	INVALID("PUT", "/actions", "[\"InstanceStart\"]", "is not of type 'object'");
	/* Bad enums and bounds. */
	INVALID("PUT", "/actions", "{\"action_type\":\"Reboot\"}", "'Reboot' is not one of");
	INVALID("PUT", "/machine-config",
		"{\"vcpu_count\":2,\"mem_size_mib\":128,\"huge_pages\":\"1G\"}",
		"huge_pages: '1G' is not one of");
	INVALID("PUT", "/machine-config", "{\"vcpu_count\":0,\"mem_size_mib\":128}",
		"vcpu_count: 0 is less than the minimum of 1");
	INVALID("PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgr-1\",\"mtu\":67}",
		"mtu: 67 is less than the minimum of 68");
	INVALID("PUT", "/vsock", "{\"guest_cid\":2,\"uds_path\":\"/tmp/v.sock\"}",
		"guest_cid: 2 is less than the minimum of 3");
	INVALID("PUT", "/logger", "{\"level\":\"Loud\"}", "level: 'Loud' is not one of");
	/* Nested definitions are checked too. */
	INVALID("PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgr-1\","
		"\"rx_rate_limiter\":{\"bandwidth\":{\"size\":1000}}}",
		"rx_rate_limiter/bandwidth: 'refill_time' is a required property");
	/* Unknown fields (Firecracker denies them). */
	INVALID("PUT", "/machine-config", "{\"vcpu_count\":2,\"mem_size_mib\":128,\"vcpus\":2}",
		"'vcpus' was unexpected");
	/* Not JSON, no body, too big. */
	INVALID("PUT", "/boot-source", "{\"kernel_image_path\":", "deserializing the json body");
	INVALID("PUT", "/actions", NULL, "The body of the request is empty");
	big = xmalloc(60000);
	memset(big, ' ', 59999);
	big[0] = '{';
	big[59997] = '}';
	big[59998] = '\0';
	expect("PUT", "/logger", big, 413, "larger than the limit of 51200");
	/* Unknown routes and methods. */
	INVALID("PUT", "/no-such-thing", "{}", "Invalid request method and/or path");
	INVALID("DELETE", "/drives/rootfs", NULL, "Invalid request method and/or path");
	/* Semantics the spec leaves to prose. */
	INVALID("PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth1\",\"host_dev_name\":\"bgr-1\"}",
		"does not match the id from the body");
	INVALID("PUT", "/network-interfaces/eth0",
		"{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgr-1\",\"guest_mac\":\"06:00:0a\"}",
		"Invalid MAC address");
	INVALID("PUT", "/drives/rootfs", "{\"drive_id\":\"rootfs\",\"is_root_device\":true}",
		"needs path_on_host and is_read_only");
	/* Wrong order. */
	INVALID("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		"without kernel configuration");
	INVALID("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}",
		"not supported before starting");
	INVALID("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}",
		"not supported before starting");

	/* None of it reached the configuration. */
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "Not started");
	ck_assert_uint_eq(json_object_size(json_object_get(json_object_get(rec, "config"),
							   "drives")), 0);
	ck_assert(json_is_null(json_object_get(json_object_get(rec, "config"), "boot-source")));
	ck_assert_uint_eq(json_array_size(json_object_get(rec, "actions")), 0);
	json_decref(rec);
}
END_TEST

START_TEST(test_fake_accepts_spec_variants)
{
	_cleanup_free_ char *bs = NULL, *d1 = NULL, *d2 = NULL, *log = NULL;

	fake_up();
	expect("GET", "/", NULL, 200, NULL);
	expect("GET", "/version", NULL, 200, NULL);
	OK("PUT", "/machine-config", "{\"vcpu_count\":4,\"mem_size_mib\":512,\"smt\":true,"
	   "\"track_dirty_pages\":true,\"huge_pages\":\"2M\"}");
	OK("PUT", "/logger", "{\"level\":\"Debug\",\"show_level\":true}");
	OK("PUT", "/metrics", "{\"metrics_path\":\"/tmp/m\",\"properties\":{\"a\":\"b\"}}");
	OK("PUT", "/vsock", "{\"guest_cid\":3,\"uds_path\":\"/tmp/v.sock\"}");
	bs = xasprintf("{\"kernel_image_path\":\"%s\",\"initrd_path\":\"%s\"}", kernel, initrd);
	OK("PUT", "/boot-source", bs);
	d1 = xasprintf("{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
		       "\"is_read_only\":true,\"cache_type\":\"Writeback\",\"io_engine\":\"Async\","
		       "\"rate_limiter\":{\"bandwidth\":{\"size\":1000,\"refill_time\":100,"
		       "\"one_time_burst\":10},\"ops\":{\"size\":5,\"refill_time\":1}}}", rootfs);
	OK("PUT", "/drives/rootfs", d1);
	/* A second root device is refused. */
	d2 = xasprintf("{\"drive_id\":\"other\",\"path_on_host\":\"%s\",\"is_root_device\":true,"
		       "\"is_read_only\":false}", work);
	INVALID("PUT", "/drives/other", d2, "A root block device already exists");
	OK("PUT", "/network-interfaces/eth0",
	   "{\"iface_id\":\"eth0\",\"host_dev_name\":\"bgr-1\",\"guest_mac\":\"AA:FC:00:00:00:01\","
	   "\"mtu\":1500}");
	OK("PUT", "/actions", "{\"action_type\":\"FlushMetrics\"}");
	OK("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}");
	INVALID("PUT", "/actions", "{\"action_type\":\"InstanceStart\"}",
		"not supported after starting");
	INVALID("PUT", "/boot-source", bs, "not supported after starting");
	OK("PATCH", "/drives/rootfs", "{\"drive_id\":\"rootfs\"}");
	OK("PATCH", "/vm", "{\"state\":\"Paused\"}");
	INVALID("PATCH", "/vm", "{\"state\":\"Sleeping\"}", "is not one of");
	OK("PUT", "/actions", "{\"action_type\":\"SendCtrlAltDel\"}");
	for (unsigned w = 0; fc_http_socket_ready(sock) || w == 0; w += 20) {
		ck_assert_msg(w < 5000, "fake-firecracker still serving after SendCtrlAltDel");
		(void)poll(NULL, 0, 20);
	}
	log = slurp(console);
	ck_assert_ptr_nonnull(strstr(log, "banger-guest-ready\n"));
}
END_TEST

/* --config-file configures and boots at once; the fake checks it too. */
static pid_t
spawn_with_config(const char *json)
{
	_cleanup_free_ char *path = xasprintf("%s/vm.json", dir);
	struct error *err = NULL;
	pid_t pid = 0;
	char *argv[] = { binary, (char *)"--api-sock", sock, (char *)"--id", (char *)"web1",
			 (char *)"--config-file", path, NULL };

	ck_assert_int_eq(write_file_atomic(path, json, strlen(json), 0600), 0);
	ck_assert_int_eq(hv_spawn_detached(argv, console, &pid, &err), 0);
	spawned[n_spawned++] = pid;
	return pid;
}

START_TEST(test_fake_config_file)
{
	_cleanup_free_ char *json = NULL, *bad = NULL, *tail = NULL;
	struct error *err = NULL;
	json_t *rec;
	pid_t pid;

	json = xasprintf("{\"boot-source\":{\"kernel_image_path\":\"%s\",\"boot_args\":"
			 "\"ip=10.9.0.2::10.9.0.1:255.255.255.0::eth0:off\"},"
			 "\"drives\":[{\"drive_id\":\"rootfs\",\"path_on_host\":\"%s\","
			 "\"is_root_device\":true,\"is_read_only\":false}],"
			 "\"machine-config\":{\"vcpu_count\":1,\"mem_size_mib\":64}}",
			 kernel, rootfs);
	pid = spawn_with_config(json);
	ck_assert(wait_ready(pid, 10000, &tail));
	rec = load_record();
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "Running");
	assert_int(json_object_get(json_object_get(rec, "config"), "machine-config"),
		   "mem_size_mib", 64);
	json_decref(rec);
	ck_assert_int_eq(ops->stop(ops->userdata, HYPERVISOR_FIRECRACKER, pid, sock, 5000, &err), 0);
	(void)unlink(record);

	/* A config the spec rejects: the fake exits with the reason. */
	bad = xasprintf("{\"boot-source\":{\"boot_args\":\"x\"}}");
	pid = spawn_with_config(bad);
	ck_assert(!wait_ready(pid, 10000, &tail));
	ck_assert_ptr_nonnull(tail);
	ck_assert_ptr_nonnull(strstr(tail, "'kernel_image_path' is a required property"));
	ck_assert_ptr_null(strstr(tail, "banger-guest-ready"));
}
END_TEST

static Suite *
hv_firecracker_suite(void)
{
	Suite *s = suite_create("hv-firecracker");
	TCase *tc = tcase_create("bodies");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_calls_full);
	tcase_add_test(tc, test_calls_minimal);
	tcase_add_test(tc, test_calls_bad_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("driver");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_fault_schema);
	tcase_add_test(tc, test_fault_kernel);
	tcase_add_test(tc, test_fault_injected);
	tcase_add_test(tc, test_stale_socket);
	tcase_add_test(tc, test_not_a_socket);
	tcase_add_test(tc, test_bad_args);
	tcase_add_test(tc, test_stop_escalates_to_term);
	tcase_add_test(tc, test_stop_escalates_to_kill);
	tcase_add_test(tc, test_stop_spares_others);
	tcase_add_test(tc, test_guest_panics);
	tcase_add_test(tc, test_not_ready_yet);
	tcase_add_test(tc, test_vmm_dies_early);
	tcase_add_test(tc, test_socket_wait_timeout);
	suite_add_tcase(s, tc);

	tc = tcase_create("fake");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fake_rejects);
	tcase_add_test(tc, test_fake_accepts_spec_variants);
	tcase_add_test(tc, test_fake_config_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(hv_firecracker_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
