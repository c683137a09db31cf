/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The helpers every driver shares (ops-common.c), the real proc ops
 * (proc-sys.c), helper programs (spawn-tied.c), and the fake host's own
 * contract: failure injection, crash, save/load.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/hv-dispatch.h"
#include "drivers/proc-sys.h"
#include "drivers/spawn-tied.h"
#include "fakes/fake-host.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"

#define ID "0123456789abcdef0123456789abcdef"

START_TEST(test_alias)
{
	_cleanup_free_ char *a = net_alias_format("web", ID);
	char *name = NULL, *id = NULL;

	ck_assert_str_eq(a, "banger vm=web id=" ID);
	ck_assert_int_eq(net_alias_parse(a, &name, &id), 0);
	ck_assert_str_eq(name, "web");
	ck_assert_str_eq(id, ID);
	free(name);
	free(id);
	ck_assert_int_eq(net_alias_parse(NULL, &name, &id), -EINVAL);
	ck_assert_int_eq(net_alias_parse("uplink to the lab", &name, &id), -EINVAL);
	ck_assert_int_eq(net_alias_parse("banger vm=Web id=" ID, &name, &id), -EINVAL);
	ck_assert_int_eq(net_alias_parse("banger vm=web id=0123", &name, &id), -EINVAL);
	ck_assert_int_eq(net_alias_parse("banger vm=web", &name, &id), -EINVAL);
}
END_TEST

START_TEST(test_proc_sys)
{
	char a[33], b[33];
	uint64_t t0, t1;

	ck_assert_int_eq(proc_sys_ops.random_id(NULL, a, NULL), 0);
	ck_assert_int_eq(proc_sys_ops.random_id(NULL, b, NULL), 0);
	ck_assert(name_is_vm_id(a));
	ck_assert(name_is_vm_id(b));
	ck_assert_str_ne(a, b);
	t0 = proc_sys_ops.mono_ms(NULL);
	proc_sys_ops.sleep_ms(NULL, 20);
	t1 = proc_sys_ops.mono_ms(NULL);
	ck_assert_uint_ge(t1 - t0, 20);
	ck_assert_uint_gt(proc_sys_ops.now_ms(NULL), 1600000000000ULL);
}
END_TEST

START_TEST(test_fake_fail_and_crash)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	struct error *e = NULL;

	/* Fail the 2nd call, whatever it is. */
	h->fail_call = 2;
	h->fail_errno = EIO;
	ck_assert_int_eq(h->net.bridge_ensure(h, "banger0", 0x0a4d0001, 24, NULL), 0);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "web", ID, &e), -EIO);
	ck_assert_str_eq(e->msg, "net.tap_ensure: Input/output error");
	e = error_free(e);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	/* Idempotent: a second ensure is no side effect. */
	ck_assert_uint_eq(h->effects, 2);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	ck_assert_uint_eq(h->effects, 2);
	/* Not banger's namespace, or another VM's tap: refused. */
	ck_assert_int_eq(h->net.tap_ensure(h, "eth0", "banger0", "web", ID, NULL), -EPERM);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "db",
					   "ffffffffffffffffffffffffffffffff", NULL),
			 -EEXIST);
	/* Crash after the next side effect: it happens, then everything fails. */
	h->crash_after = 3;
	ck_assert_int_eq(h->nat.table_ensure(h, NULL), FAKE_CRASH);
	ck_assert(h->nat_table);
	ck_assert(fake_host_crashed(h));
	ck_assert_int_eq(h->net.forwarding_ensure(h, NULL), FAKE_CRASH);
	ck_assert(!h->forwarding);
}
END_TEST

START_TEST(test_fake_save_load)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new(), *g = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	pid_t pid = 0;
	struct hv_config cfg = { .vm_name = "web", .vcpus = 1, .memory = 1 << 29,
				 .tap = "bgr-01234567", .api_socket = "/s/vms/web/api.sock",
				 .root_disk = "/dev/x" };

	ck_assert_int_eq(h->net.bridge_ensure(h, "banger0", 0x0a4d0001, 24, NULL), 0);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	ck_assert_int_eq(h->nat.table_ensure(h, NULL), 0);
	ck_assert_int_eq(h->nat.vm_add(h, ID, "bgr-01234567", 0x0a4d0002, "eth0", NULL), 0);
	ck_assert_int_eq(h->hv.spawn(h, &cfg, &pid, NULL), 0);
	ck_assert_int_eq(pid, 1000);
	a = fake_host_save(h);
	ck_assert_int_eq(fake_host_load(a, &g), 0);
	b = fake_host_save(g);
	ck_assert_str_eq(a, b);
	ck_assert_uint_eq(fake_host_count(g, FAKE_RULE), 2);
	ck_assert_int_eq(g->hv.spawn(g, &cfg, &pid, NULL), -EADDRINUSE);
	ck_assert_int_eq(fake_host_load("bogus\tline\n", &g), -EBADMSG);
}
END_TEST

START_TEST(test_hv_dispatch)
{
	_cleanup_(fake_host_freep) struct fake_host *q = fake_host_new(), *f = fake_host_new();
	struct hv_dispatch d = { 0 };
	struct hv_config cfg = { .vm_name = "web", .vcpus = 1, .memory = 1 << 29,
				 .tap = "bgr-01234567", .api_socket = "/s/vms/web/api.sock",
				 .root_disk = "/dev/x", .kind = HYPERVISOR_FIRECRACKER };
	struct hv_proc *procs = NULL;
	struct error *e = NULL;
	size_t n = 0;
	pid_t pid = 0;
	bool alive = false;

	hv_dispatch_init(&d);
	d.by_kind[HYPERVISOR_QEMU] = &q->hv;
	/* No firecracker on this host. */
	ck_assert_int_eq(d.ops.spawn(d.ops.userdata, &cfg, &pid, &e), -EOPNOTSUPP);
	ck_assert_str_eq(e->msg, "hypervisor 'firecracker' is not available on this host");
	e = error_free(e);
	d.by_kind[HYPERVISOR_FIRECRACKER] = &f->hv;
	ck_assert_int_eq(f->net.bridge_ensure(f, "banger0", 0x0a4d0001, 24, NULL), 0);
	ck_assert_int_eq(f->net.tap_ensure(f, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	ck_assert_int_eq(d.ops.spawn(d.ops.userdata, &cfg, &pid, NULL), 0);
	ck_assert_uint_eq(fake_host_count(f, FAKE_PROC), 1);
	ck_assert_uint_eq(fake_host_count(q, FAKE_PROC), 0);
	ck_assert_int_eq(d.ops.boot(d.ops.userdata, &cfg, pid, NULL), 0);
	/* Listing merges every backend's processes. */
	ck_assert_int_eq(d.ops.list(d.ops.userdata, "/s/vms", &procs, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(procs[0].api_socket, "/s/vms/web/api.sock");
	hv_procs_free(procs, n);
	ck_assert_int_eq(d.ops.stop(d.ops.userdata, HYPERVISOR_FIRECRACKER, pid, cfg.api_socket, 10,
				    NULL),
			 0);
	ck_assert_int_eq(f->hv.alive(f, pid, cfg.api_socket, &alive, NULL), 0);
	ck_assert(!alive);
}
END_TEST

static unsigned list_all_calls;

static int
count_list_all(const char *sock_dir, struct hv_proc **ret, size_t *ret_n, struct error **err)
{
	struct hv_proc *p = xcalloc(1, sizeof(*p));

	(void)err;
	list_all_calls++;
	p->pid = 4242;
	p->api_socket = xasprintf("%s/x/api.sock", sock_dir);
	*ret = p;
	*ret_n = 1;
	return 0;
}

/* With list_all (the real backends share one /proc scan), a listing asks
 * it once and no backend. */
START_TEST(test_hv_dispatch_list_all)
{
	_cleanup_(fake_host_freep) struct fake_host *q = fake_host_new(), *f = fake_host_new();
	struct hv_dispatch d = { 0 };
	struct hv_config cfg = { .vm_name = "web", .vcpus = 1, .memory = 1 << 29,
				 .tap = "bgr-01234567", .api_socket = "/s/vms/web/api.sock",
				 .root_disk = "/dev/x", .kind = HYPERVISOR_FIRECRACKER };
	struct hv_proc *procs = NULL;
	size_t n = 0;
	pid_t pid = 0;

	d.by_kind[HYPERVISOR_QEMU] = &q->hv;
	d.by_kind[HYPERVISOR_FIRECRACKER] = &f->hv;
	d.list_all = count_list_all;
	hv_dispatch_init(&d);
	/* Parallel waits only when every backend allows them. */
	ck_assert(!d.ops.parallel);
	q->hv.parallel = true;
	hv_dispatch_init(&d);
	ck_assert(!d.ops.parallel);
	f->hv.parallel = true;
	hv_dispatch_init(&d);
	ck_assert(d.ops.parallel);
	d.by_kind[HYPERVISOR_QEMU] = NULL;
	hv_dispatch_init(&d);
	ck_assert(d.ops.parallel);
	d.by_kind[HYPERVISOR_QEMU] = &q->hv;
	ck_assert_int_eq(f->net.bridge_ensure(f, "banger0", 0x0a4d0001, 24, NULL), 0);
	ck_assert_int_eq(f->net.tap_ensure(f, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	ck_assert_int_eq(d.ops.spawn(d.ops.userdata, &cfg, &pid, NULL), 0);
	list_all_calls = 0;
	ck_assert_int_eq(d.ops.list(d.ops.userdata, "/s/vms", &procs, &n, NULL), 0);
	ck_assert_uint_eq(list_all_calls, 1);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(procs[0].pid, 4242);
	ck_assert_str_eq(procs[0].api_socket, "/s/vms/x/api.sock");
	hv_procs_free(procs, n);
}
END_TEST

START_TEST(test_fake_busy)
{
	/* What a running VM holds cannot be torn down under it. */
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	struct disk_root_req req = { .strategy = DISK_STRATEGY_DM_SNAPSHOT, .vm_id = ID,
				     .vm_dir = "/s/vms/web", .image_rootfs = "/img/root",
				     .overlay_size = 1 << 30, .dm_name = "banger-0123456789ab" };
	_cleanup_free_ char *dev = NULL;
	struct hv_config cfg = { .vm_name = "web", .vcpus = 1, .memory = 1 << 29,
				 .tap = "bgr-01234567", .api_socket = "/s/vms/web/api.sock",
				 .work_disk = "/s/vms/web/work.ext4" };
	pid_t pid = 0;

	ck_assert_int_eq(h->net.bridge_ensure(h, "banger0", 0x0a4d0001, 24, NULL), 0);
	ck_assert_int_eq(h->net.tap_ensure(h, "bgr-01234567", "banger0", "web", ID, NULL), 0);
	ck_assert_int_eq(h->disk.vm_dir_create(h, "/s/vms/web", NULL), 0);
	ck_assert_int_eq(h->disk.root_create(h, &req, &dev, NULL), 0);
	ck_assert_str_eq(dev, "/dev/mapper/banger-0123456789ab");
	ck_assert_int_eq(h->disk.work_create(h, cfg.work_disk, 1 << 30, NULL), 0);
	cfg.root_disk = dev;
	ck_assert_int_eq(h->hv.spawn(h, &cfg, &pid, NULL), 0);
	ck_assert_int_eq(h->disk.root_remove(h, &req, NULL), -EBUSY);
	ck_assert_int_eq(h->disk.vm_dir_remove(h, "/s/vms/web", NULL), -EBUSY);
	ck_assert_int_eq(h->disk.filesync_apply(h, cfg.work_disk, NULL, 0, "/state", NULL), -EBUSY);
	ck_assert_int_eq(h->disk.work_retain(h, cfg.work_disk, "/s/retained/w.ext4", NULL), -EBUSY);
	ck_assert_int_eq(h->hv.stop(h, HYPERVISOR_QEMU, pid, cfg.api_socket, 10, NULL), 0);
	ck_assert_int_eq(h->disk.root_remove(h, &req, NULL), 0);
	ck_assert_int_eq(h->disk.vm_dir_remove(h, "/s/vms/web", NULL), 0);
	ck_assert_uint_eq(fake_host_count(h, FAKE_LOOP) + fake_host_count(h, FAKE_DM) +
				  fake_host_count(h, FAKE_FILE) + fake_host_count(h, FAKE_DIR),
			  0);
}
END_TEST

/* Helpers run and waited for: exit status, no stray fd, and dead with us. */
static bool
proc_gone(pid_t pid)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *data = NULL;
	const char *close;
	size_t len = 0;

	if (read_file(path, 4096, &data, &len) < 0)
		return true;
	close = strrchr(data, ')');
	return close && (close[2] == 'Z' || close[2] == 'X');
}

START_TEST(test_spawn_tied)
{
	char dir[] = "/tmp/banger-test-XXXXXX";
	char *t[] = { (char *)"true", NULL }, *f[] = { (char *)"false", NULL };
	char *none[] = { (char *)"banger-no-such-program", NULL };
	_cleanup_free_ char *pidfile = NULL, *script = NULL, *fdcheck = NULL;
	struct error *e = NULL;
	pid_t runner, helper = 0;
	int fd, status;

	ck_assert_int_eq(spawn_wait_tied(t, true, NULL), 0);
	ck_assert_int_eq(spawn_wait_tied(f, true, &e), -EIO);
	ck_assert_ptr_nonnull(strstr(e->msg, "exited with status 1"));
	e = error_free(e);
	ck_assert_int_eq(spawn_wait_tied(none, true, &e), -ENOENT);
	e = error_free(e);

	/* An fd the caller left without O_CLOEXEC is not the helper's. */
	fd = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(fd, 3);
	fdcheck = xasprintf("[ ! -e /proc/$$/fd/%d ]", fd);
	{
		char *argv[] = { (char *)"/bin/sh", (char *)"-c", fdcheck, NULL };

		ck_assert_int_eq(spawn_wait_tied(argv, true, NULL), 0);
	}
	close(fd);

	/* The runner dies: its helper is killed too. */
	ck_assert_ptr_nonnull(mkdtemp(dir));
	pidfile = xasprintf("%s/pid", dir);
	script = xasprintf("echo $$ >%s.new && mv %s.new %s && exec sleep 30", pidfile, pidfile,
			   pidfile);
	runner = fork();
	ck_assert_int_ge(runner, 0);
	if (runner == 0) {
		char *argv[] = { (char *)"/bin/sh", (char *)"-c", script, NULL };

		_exit(spawn_wait_tied(argv, true, NULL) == 0 ? 0 : 1);
	}
	for (int i = 0; i < 200 && !helper; i++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;

		if (read_file(pidfile, 64, &data, &len) == 0)
			helper = (pid_t)atoi(data);
		else
			usleep(10000);
	}
	ck_assert_int_gt(helper, 0);
	ck_assert(!proc_gone(helper));
	ck_assert_int_eq(kill(runner, SIGKILL), 0);
	ck_assert_int_eq(waitpid(runner, &status, 0), runner);
	for (int i = 0; i < 200 && !proc_gone(helper); i++)
		usleep(10000);
	ck_assert_msg(proc_gone(helper), "helper %d outlived its runner", (int)helper);
	ck_assert_int_eq(unlink(pidfile), 0);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
ops_suite(void)
{
	Suite *s = suite_create("ops-common");
	TCase *tc = tcase_create("ops");

	tcase_add_test(tc, test_alias);
	tcase_add_test(tc, test_proc_sys);
	tcase_add_test(tc, test_fake_fail_and_crash);
	tcase_add_test(tc, test_fake_save_load);
	tcase_add_test(tc, test_hv_dispatch);
	tcase_add_test(tc, test_hv_dispatch_list_all);
	tcase_add_test(tc, test_fake_busy);
	tcase_add_test(tc, test_spawn_tied);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(ops_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
