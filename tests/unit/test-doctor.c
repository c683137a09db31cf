/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for banger doctor: every check's outcomes against faked probes,
 * net and disk ops; the JSON shape and the human lines; the real
 * program-version runner (spawn, timeout, exit status); systemd-resolved's
 * configuration files read from a folder tree.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/doctor.h"
#include "drivers/disk-internal.h"
#include "drivers/guest.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define GIB (1024ULL * 1024 * 1024)
#define STATE "/srv/state"
#define STATUS "/srv/status"

/* ---- the fakes ---- */

struct fake {
	struct doctor_kvm kvm;
	int tun, dm, loop;
	int nft_r;
	bool nft_has;
	int bridge_r;
	struct doctor_bridge bridge;
	int qemu_r, fc_r;
	int state_r, status_r;
	mode_t state_mode, status_mode;
	uid_t state_uid, status_uid;
	int free_r;
	uint64_t free;
	char free_path[256];
	uid_t euid;
	int uplink_r;
	int fwd_r;
	bool fwd;
	int strat_r;
	enum disk_strategy strat;
	const char *image_yaml;		/* images/base.yaml, or none */
	const char *strat_copies;	/* an image rootfs that cannot be cloned */
	enum disk_strategy strat_want;
	char strat_dir[256];
	struct doctor_resolved resolved;
	const char *hosts_file, *dnsmasq_dir;
	const char *state_dir;	/* NULL: STATE */
	int head_r;
	const char *head;
	char head_path[256];
};

static struct fake F;

static void
f_kvm(void *u, struct doctor_kvm *ret)
{
	(void)u;
	*ret = F.kvm;
}

static int
f_dev_open(void *u, const char *path)
{
	(void)u;
	if (strcmp(path, DOCTOR_TUN_PATH) == 0)
		return F.tun;
	if (strcmp(path, DOCTOR_DM_CONTROL_PATH) == 0)
		return F.dm;
	if (strcmp(path, DOCTOR_LOOP_CONTROL_PATH) == 0)
		return F.loop;
	ck_abort_msg("unexpected device %s", path);
	return -EINVAL;
}

static int
f_nft(void *u, bool *ret, struct error **err)
{
	(void)u;
	if (F.nft_r < 0)
		return error_set(err, F.nft_r, "nft list ruleset: %s", strerror(-F.nft_r));
	*ret = F.nft_has;
	return 0;
}

static int
f_bridge(void *u, const char *name, struct doctor_bridge *ret, struct error **err)
{
	(void)u;
	ck_assert_str_eq(name, "banger0");
	if (F.bridge_r < 0)
		return error_set(err, F.bridge_r, "link get: %s", strerror(-F.bridge_r));
	*ret = F.bridge;
	return 0;
}

static int
f_program(void *u, const char *program, char **ret_path, char **ret_version,
	  struct error **err)
{
	bool fc = strcmp(program, "firecracker") == 0;
	int r = fc ? F.fc_r : F.qemu_r;

	(void)u;
	if (!fc)
		ck_assert_str_eq(program, "qemu-system-x86_64");
	if (r == -ENOENT)
		return error_set(err, r, "'%s' not found in PATH", program);
	if (r < 0)
		return error_set(err, r, "'%s --version' gave no answer within 5000 ms", program);
	*ret_path = xasprintf("/usr/bin/%s", program);
	*ret_version = xstrdup(fc ? "Firecracker v1.7.0" : "QEMU emulator version 7.2.22");
	return 0;
}

static int
f_dir_stat(void *u, const char *path, struct stat *ret)
{
	bool state = strcmp(path, F.state_dir ? F.state_dir : STATE) == 0;
	bool status = strcmp(path, STATUS) == 0;

	(void)u;
	memset(ret, 0, sizeof(*ret));
	if (state || status) {
		int r = state ? F.state_r : F.status_r;

		if (r < 0)
			return r;
		ret->st_mode = state ? F.state_mode : F.status_mode;
		ret->st_uid = state ? F.state_uid : F.status_uid;
		return 0;
	}
	/* Parents exist. */
	ret->st_mode = S_IFDIR | 0755;
	return 0;
}

static int
f_free(void *u, const char *path, uint64_t *ret, struct error **err)
{
	(void)u;
	snprintf(F.free_path, sizeof(F.free_path), "%s", path);
	if (F.free_r < 0)
		return error_set(err, F.free_r, "statvfs '%s': %s", path, strerror(-F.free_r));
	*ret = F.free;
	return 0;
}

static uid_t
f_euid(void *u)
{
	(void)u;
	return F.euid;
}

static int
f_uplink(void *u, const char *uplink, char **ret, struct error **err)
{
	(void)u;
	if (F.uplink_r == -ENETUNREACH)
		return error_set(err, F.uplink_r, "uplink 'auto': no IPv4 default route");
	if (F.uplink_r < 0)
		return error_set(err, F.uplink_r, "uplink '%s': no such interface", uplink);
	*ret = xstrdup(strcmp(uplink, "auto") == 0 ? "eth0" : uplink);
	return 0;
}

static int
f_fwd(void *u, bool *ret, struct error **err)
{
	(void)u;
	if (F.fwd_r < 0)
		return error_set(err, F.fwd_r, "open /proc/sys/net/ipv4/ip_forward: %s",
				 strerror(-F.fwd_r));
	*ret = F.fwd;
	return 0;
}

static int
f_strategy(void *u, enum disk_strategy want, const char *vm_dir, const char *image_rootfs,
	   enum disk_strategy *ret, struct error **err)
{
	(void)u;
	F.strat_want = want;
	snprintf(F.strat_dir, sizeof(F.strat_dir), "%s", vm_dir);
	if (F.strat_r < 0)
		return error_set(err, F.strat_r,
				 "dm-snapshot: device-mapper is not available on this host");
	if (image_rootfs && F.strat_copies && strcmp(image_rootfs, F.strat_copies) == 0) {
		if (want == DISK_STRATEGY_REFLINK)
			return error_set(err, -EXDEV, "reflink: image '%s' cannot be cloned",
					 image_rootfs);
		if (want == DISK_STRATEGY_AUTO) {
			*ret = DISK_STRATEGY_COPY;
			return 0;
		}
	}
	*ret = want == DISK_STRATEGY_AUTO ? F.strat : want;
	return 0;
}

static void
f_resolved(void *u, struct doctor_resolved *ret)
{
	(void)u;
	*ret = F.resolved;
}

static int
f_read_head(void *u, const char *path, char *buf, size_t size)
{
	(void)u;
	snprintf(F.head_path, sizeof(F.head_path), "%s", path);
	if (F.head_r < 0)
		return F.head_r;
	snprintf(buf, size, "%s", F.head);
	return 0;
}

static struct doctor_probe_ops probe_ops = {
	.kvm = f_kvm,
	.dev_open = f_dev_open,
	.nft_ruleset = f_nft,
	.bridge_get = f_bridge,
	.program_version = f_program,
	.dir_stat = f_dir_stat,
	.free_bytes = f_free,
	.euid = f_euid,
	.resolved = f_resolved,
	.read_head = f_read_head,
};
static struct net_ops net_ops = {
	.uplink_resolve = f_uplink,
	.forwarding_get = f_fwd,
};
static struct disk_ops disk_ops = {
	.strategy_probe = f_strategy,
};

/* Everything healthy: KVM without PVM, dm present, bridge up with its address. */
static void
setup(void)
{
	memset(&F, 0, sizeof(F));
	F.kvm.api_version = DOCTOR_KVM_API_VERSION;
	F.nft_has = true;
	F.bridge = (struct doctor_bridge){ .exists = true, .is_bridge = true, .up = true,
					   .n_addrs = 1, .addrs = { 10u << 24 | 77u << 16 | 1 },
					   .prefixes = { 24 } };
	F.state_mode = S_IFDIR | 0755;
	F.status_mode = S_IFDIR | 0700;
	F.free = 50 * GIB;
	F.fwd = true;
	F.strat = DISK_STRATEGY_DM_SNAPSHOT;
	F.hosts_file = "/etc/hosts";
	F.resolved.read_etc_hosts = true;
	F.head_r = -ENOENT;
}

/* ---- helpers ---- */

/* A spec from an in-memory host.yaml (NULL: none). */
static struct spec *
load(const char *host_yaml)
{
	struct source src = { .root = (char *)STATE };
	struct source_file f[2] = { 0 };
	_cleanup_free_ char *data = host_yaml ? xstrdup(host_yaml) : NULL;
	_cleanup_free_ char *img = F.image_yaml ? xstrdup(F.image_yaml) : NULL;
	struct spec *s = NULL;
	struct error *err = NULL;

	src.files = f;
	if (host_yaml) {
		f[src.n_files].path = (char *)"host.yaml";
		f[src.n_files].data = data;
		f[src.n_files++].len = strlen(host_yaml);
	}
	if (img) {
		f[src.n_files].path = (char *)"images/base.yaml";
		f[src.n_files].data = img;
		f[src.n_files++].len = strlen(img);
	}
	ck_assert_int_eq(spec_load(&src, &s, &err), 0);
	ck_assert_ptr_null(err);
	return s;
}

struct result {
	struct spec *spec;
	struct doctor_report rep;
};

static void
run_with(struct result *res, const char *host_yaml, bool with_net, bool with_disk,
	 const char *spec_error)
{
	struct doctor_ctx c = {
		.probe = &probe_ops,
		.net = with_net ? &net_ops : NULL,
		.net_error = with_net ? NULL : "rtnetlink connect: Permission denied",
		.disk = with_disk ? &disk_ops : NULL,
		.disk_error = with_disk ? NULL : "status directory 'x' is not absolute",
		.spec_error = spec_error,
		.state_dir = F.state_dir ? F.state_dir : STATE,
		.status_dir = STATUS,
		.hosts_file = F.hosts_file,
		.dnsmasq_dir = F.dnsmasq_dir,
	};

	res->spec = load(host_yaml);
	c.spec = res->spec;
	doctor_run(&c, &res->rep);
	ck_assert_uint_eq(res->rep.n_checks, DOCTOR_N_CHECKS);
	for (size_t i = 0; i < DOCTOR_N_CHECKS; i++) {
		ck_assert_str_eq(res->rep.checks[i].name, doctor_check_names[i]);
		ck_assert_ptr_nonnull(res->rep.checks[i].message);
		/* A fix exactly when something is wrong. */
		enum doctor_status st = res->rep.checks[i].status;

		if (st == DOCTOR_WARN || st == DOCTOR_ERROR)
			ck_assert_ptr_nonnull(res->rep.checks[i].fix);
		else
			ck_assert_ptr_null(res->rep.checks[i].fix);
	}
}

static void
run(struct result *res, const char *host_yaml)
{
	run_with(res, host_yaml, true, true, NULL);
}

static void
result_done(struct result *res)
{
	doctor_report_done(&res->rep);
	spec_free(res->spec);
}

static const struct doctor_check *
get(const struct result *res, const char *name)
{
	for (size_t i = 0; i < res->rep.n_checks; i++)
		if (strcmp(res->rep.checks[i].name, name) == 0)
			return &res->rep.checks[i];
	ck_abort_msg("no check %s", name);
	return NULL;
}

/* Run, then expect one check's status and a piece of its message (and fix). */
static void
expect(const char *host_yaml, const char *name, enum doctor_status st, const char *msg_part,
       const char *fix_part)
{
	struct result res = { 0 };
	const struct doctor_check *ck;

	run(&res, host_yaml);
	ck = get(&res, name);
	ck_assert_msg(ck->status == st, "%s: status %s, expected %s (%s)", name,
		      doctor_status_to_string(ck->status), doctor_status_to_string(st),
		      ck->message);
	if (msg_part)
		ck_assert_msg(strstr(ck->message, msg_part), "%s: '%s' lacks '%s'", name,
			      ck->message, msg_part);
	if (fix_part)
		ck_assert_msg(ck->fix && strstr(ck->fix, fix_part), "%s: fix '%s' lacks '%s'", name,
			      ck->fix ? ck->fix : "(null)", fix_part);
	ck_assert_int_eq(doctor_report_exit_code(&res.rep), st == DOCTOR_ERROR ? EXIT_FAILED : 0);
	result_done(&res);
}

#define FC_HOST "hypervisor: firecracker\n"
#define NAT_HOST "defaults:\n  nat: true\n"

/* ---- tests ---- */

START_TEST(test_status_names)
{
	for (int i = 0; i < _DOCTOR_STATUS_MAX; i++)
		ck_assert_int_eq(doctor_status_from_string(doctor_status_to_string(i)), i);
	ck_assert_int_eq(doctor_status_from_string("fine"), -EINVAL);
	ck_assert_ptr_null(doctor_status_to_string(_DOCTOR_STATUS_MAX));
}
END_TEST

START_TEST(test_all_ok_and_json)
{
	struct result res = { 0 };
	json_t *j, *checks;
	_cleanup_free_ char *dump = NULL;
	size_t i;
	json_t *v;

	/* The firecracker binary is found too, so nothing is skipped. */
	run(&res, "bridge:\n  name: banger0\n");
	for (i = 0; i < res.rep.n_checks; i++)
		ck_assert_msg(res.rep.checks[i].status == DOCTOR_OK, "%s: %s",
			      res.rep.checks[i].name, res.rep.checks[i].message);
	ck_assert_int_eq(doctor_report_exit_code(&res.rep), 0);
	ck_assert_str_eq(get(&res, "host-config")->message, "'/srv/state/host.yaml' is valid");
	ck_assert_str_eq(get(&res, "kvm")->message,
			 "/dev/kvm usable (API 12), a test guest ran under it");
	ck_assert_str_eq(get(&res, "bridge")->message, "bridge 'banger0' up with 10.77.0.1/24");
	ck_assert_str_eq(get(&res, "disk-strategy")->message, "auto picks dm-snapshot");
	ck_assert_str_eq(F.strat_dir, STATUS "/vms/doctor");
	ck_assert_int_eq(F.strat_want, DISK_STRATEGY_AUTO);
	ck_assert_str_eq(get(&res, "qemu")->message,
			 "/usr/bin/qemu-system-x86_64: QEMU emulator version 7.2.22");
	ck_assert_str_eq(get(&res, "disk-space")->message, "50.0 GiB free under '/srv/status'");

	j = doctor_report_json(&res.rep, STATE, STATUS);
	dump = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ck_assert_str_eq(json_string_value(json_object_get(j, "state_dir")), STATE);
	ck_assert_str_eq(json_string_value(json_object_get(j, "status_dir")), STATUS);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "errors")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "warnings")), 0);
	checks = json_object_get(j, "checks");
	ck_assert(json_is_array(checks));
	ck_assert_uint_eq(json_array_size(checks), DOCTOR_N_CHECKS);
	json_array_foreach(checks, i, v) {
		ck_assert_uint_eq(json_object_size(v), 4);
		ck_assert_str_eq(json_string_value(json_object_get(v, "name")),
				 doctor_check_names[i]);
		ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "ok");
		ck_assert(json_is_string(json_object_get(v, "message")));
		ck_assert(json_is_null(json_object_get(v, "fix")));
	}
	ck_assert(strstr(dump, "{\"name\":\"tun\",\"status\":\"ok\",\"message\":\"/dev/net/tun "
			       "usable\",\"fix\":null}"));
	json_decref(j);
	result_done(&res);
}
END_TEST

START_TEST(test_json_counts_and_print)
{
	struct result res = { 0 };
	json_t *j, *tun;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	F.tun = -ENOENT;
	F.dm = -ENOENT;
	F.strat = DISK_STRATEGY_COPY;
	run(&res, NULL);
	j = doctor_report_json(&res.rep, STATE, STATUS);
	ck_assert(json_is_false(json_object_get(j, "ok")));
	ck_assert_int_eq(json_integer_value(json_object_get(j, "errors")), 1);
	/* device-mapper and disk-strategy. */
	ck_assert_int_eq(json_integer_value(json_object_get(j, "warnings")), 2);
	tun = json_array_get(json_object_get(j, "checks"), 5);
	ck_assert_str_eq(json_string_value(json_object_get(tun, "name")), "tun");
	ck_assert_str_eq(json_string_value(json_object_get(tun, "status")), "error");
	ck_assert_str_eq(json_string_value(json_object_get(tun, "fix")), "modprobe tun");
	json_decref(j);

	f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	doctor_report_print(&res.rep, f);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert(strstr(buf, "ok     host-config    no host.yaml in '/srv/state': "
			      "defaults apply\n"));
	ck_assert(strstr(buf, "\nerror  tun            no /dev/net/tun: taps cannot be created; "
			      "fix: modprobe tun\n"));
	ck_assert(strstr(buf, "\nok     ip-forward     IPv4 forwarding is on\n"));
	free(buf);
	result_done(&res);
}
END_TEST

START_TEST(test_host_config)
{
	struct result res = { 0 };

	expect("bridge:\n  nme: x\n", "host-config", DOCTOR_ERROR, "host.yaml is invalid",
	       "banger validate --state /srv/state");
	run_with(&res, NULL, true, true, "open '/srv/state': Permission denied");
	ck_assert_int_eq(get(&res, "host-config")->status, DOCTOR_ERROR);
	ck_assert_str_eq(get(&res, "host-config")->message,
			 "declarations in '/srv/state' unreadable: open '/srv/state': Permission "
			 "denied; checking with defaults");
	result_done(&res);
}
END_TEST

START_TEST(test_state_dir)
{
	expect(NULL, "state-dir", DOCTOR_OK, "'/srv/state': mode 0755, owner uid 0", NULL);
	F.state_r = -ENOENT;
	/* Missing: an error when named, a warning for the default on a host
	 * not set up yet. */
	expect(NULL, "state-dir", DOCTOR_ERROR, "does not exist: nothing is declared", "create");
	F.state_dir = DEFAULT_STATE_DIR;
	expect(NULL, "state-dir", DOCTOR_WARN, "does not exist: nothing is declared", "create");
	F.state_dir = NULL;
	F.state_r = -EACCES;
	expect(NULL, "state-dir", DOCTOR_ERROR, "Permission denied", "permissions");
	F.state_r = 0;
	F.state_mode = S_IFDIR | 0777;
	expect(NULL, "state-dir", DOCTOR_ERROR, "'/srv/state' is world-writable (mode 0777)",
	       "chmod o-w '/srv/state'");
	/* World-writable is an error for any user, not only root. */
	F.euid = 1000;
	F.state_uid = 1000;
	expect(NULL, "state-dir", DOCTOR_ERROR, "world-writable", NULL);
	F.state_mode = S_IFDIR | 0755;
	expect(NULL, "state-dir", DOCTOR_OK, "owner uid 1000", NULL);
	F.euid = 0;
	expect(NULL, "state-dir", DOCTOR_ERROR, "owned by uid 1000, not root",
	       "chown root:root '/srv/state'");
	F.state_uid = 0;
	F.state_mode = S_IFDIR | 0775;
	expect(NULL, "state-dir", DOCTOR_WARN, "group-writable", "chmod g-w");
	F.state_mode = S_IFREG | 0644;
	expect(NULL, "state-dir", DOCTOR_ERROR, "is not a directory", NULL);
}
END_TEST

START_TEST(test_status_dir)
{
	F.status_mode = S_IFDIR | 0755;
	expect(NULL, "status-dir", DOCTOR_WARN, "mode 0755, expected 0700",
	       "chmod 0700 '/srv/status'");
	F.status_mode = S_IFDIR | 0707;
	expect(NULL, "status-dir", DOCTOR_ERROR, "world-writable", "chmod 0700");
	F.status_mode = S_IFDIR | 0700;
	F.status_uid = 5;
	expect(NULL, "status-dir", DOCTOR_ERROR, "owned by uid 5", "chown root:root");
	F.status_uid = 0;
	F.status_r = -ENOENT;
	expect(NULL, "status-dir", DOCTOR_WARN, "does not exist yet", "install -d -m 0700");
}
END_TEST

START_TEST(test_disk_space)
{
	F.free = 512ULL << 20;
	expect(NULL, "disk-space", DOCTOR_WARN, "512.0 MiB free under '/srv/status'", "free space");
	F.free = 2 * GIB;
	expect(NULL, "disk-space", DOCTOR_OK, "2.0 GiB free", NULL);
	/* A status directory not created yet: its nearest existing parent. */
	F.status_r = -ENOENT;
	expect(NULL, "disk-space", DOCTOR_OK, "under '/srv'", NULL);
	ck_assert_str_eq(F.free_path, "/srv");
	F.free_r = -EIO;
	expect(NULL, "disk-space", DOCTOR_ERROR, "statvfs '/srv'", "mounted");
}
END_TEST

START_TEST(test_kvm)
{
	F.kvm.open_error = -ENOENT;
	expect(NULL, "kvm", DOCTOR_WARN, "no /dev/kvm: qemu will use TCG", "kvm_intel");
	expect(FC_HOST, "kvm", DOCTOR_ERROR, "no /dev/kvm: firecracker needs it",
	       "hypervisor: qemu");
	expect("qemu:\n  accel: kvm\n", "kvm", DOCTOR_ERROR, "qemu accel is kvm", NULL);
	F.kvm.open_error = -EACCES;
	expect(NULL, "kvm", DOCTOR_WARN, "cannot open /dev/kvm: Permission denied", "root");
	F.kvm.open_error = 0;
	F.kvm.api_version = 11;
	expect(NULL, "kvm", DOCTOR_WARN, "KVM API version 11, not 12", NULL);
	F.kvm.api_version = DOCTOR_KVM_API_VERSION;
	F.kvm.guest_error = -EIO;
	snprintf(F.kvm.guest_detail, sizeof(F.kvm.guest_detail), "unexpected guest exit 17");
	expect(NULL, "kvm", DOCTOR_WARN, "a test guest did not run (unexpected guest exit 17)",
	       "dmesg");
	expect(FC_HOST, "kvm", DOCTOR_ERROR, "did not run", NULL);
	F.kvm.guest_error = 0;
	F.kvm.pvm = true;
	expect(NULL, "kvm", DOCTOR_WARN, "PVM", "accel auto");
	expect(NULL, "kvm", DOCTOR_WARN, "so TCG will be used", NULL);
	expect(FC_HOST, "kvm", DOCTOR_ERROR, "firecracker cannot run", "hypervisor: qemu");
}
END_TEST

START_TEST(test_tun)
{
	expect(NULL, "tun", DOCTOR_OK, "/dev/net/tun usable", NULL);
	F.tun = -ENOENT;
	expect(NULL, "tun", DOCTOR_ERROR, "no /dev/net/tun", "modprobe tun");
	F.tun = -EPERM;
	expect(NULL, "tun", DOCTOR_ERROR, "Operation not permitted", "root");
}
END_TEST

START_TEST(test_nftables)
{
	expect(NULL, "nftables", DOCTOR_OK, "table inet banger present", NULL);
	F.nft_has = false;
	expect(NULL, "nftables", DOCTOR_OK, "table inet banger absent", NULL);
	F.nft_r = -EPERM;
	expect(NULL, "nftables", DOCTOR_WARN, "only VMs with nat need it", "root");
	expect(NAT_HOST, "nftables", DOCTOR_ERROR, "nft list ruleset: Operation not permitted",
	       NULL);
	F.nft_r = -EIO;
	expect(NAT_HOST, "nftables", DOCTOR_ERROR, "Input/output error", "nf_tables");
}
END_TEST

START_TEST(test_device_mapper_and_strategy)
{
	expect(NULL, "device-mapper", DOCTOR_OK, "/dev/mapper/control present", NULL);
	F.dm = -ENOENT;
	F.strat = DISK_STRATEGY_REFLINK;
	expect(NULL, "device-mapper", DOCTOR_WARN, "dm-snapshot is unavailable", "optional");
	/* The node there, no driver behind it: a kernel matter, not a lack of
	 * privilege. */
	F.dm = -ENODEV;
	expect(NULL, "device-mapper", DOCTOR_WARN, "the kernel has no device-mapper driver",
	       "modprobe dm_snapshot");
	expect("disk_strategy: dm-snapshot\n", "device-mapper", DOCTOR_ERROR,
	       "but host.yaml asks for it", "disk_strategy: auto");
	F.dm = -EACCES;
	expect(NULL, "device-mapper", DOCTOR_WARN, "Permission denied", "as root");
	F.dm = -ENOENT;
	expect(NULL, "disk-strategy", DOCTOR_OK, "auto picks reflink", NULL);
	F.strat = DISK_STRATEGY_COPY;
	expect(NULL, "disk-strategy", DOCTOR_WARN, "auto picks copy", "btrfs or xfs");
	F.strat_r = -EOPNOTSUPP;
	expect("disk_strategy: dm-snapshot\n", "device-mapper", DOCTOR_ERROR,
	       "but host.yaml asks for it", "disk_strategy: auto");
	expect("disk_strategy: dm-snapshot\n", "disk-strategy", DOCTOR_ERROR,
	       "disk_strategy dm-snapshot: dm-snapshot: device-mapper is not available",
	       "disk_strategy: auto");
	ck_assert_int_eq(F.strat_want, DISK_STRATEGY_DM_SNAPSHOT);
	F.strat_r = 0;
	expect("disk_strategy: copy\n", "disk-strategy", DOCTOR_OK, "copy", NULL);

	/* An image that cannot be cloned into the status directory. */
	F.strat = DISK_STRATEGY_REFLINK;
	F.image_yaml = "kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n";
	expect(NULL, "disk-strategy", DOCTOR_OK, "auto picks reflink", NULL);
	F.strat_copies = "/img/rootfs.ext4";
	expect(NULL, "disk-strategy", DOCTOR_WARN, "image base cannot be cloned", STATUS);
	expect("disk_strategy: reflink\n", "disk-strategy", DOCTOR_ERROR,
	       "disk_strategy reflink: image base", "disk_strategy: auto");
}
END_TEST

START_TEST(test_disk_driver_missing)
{
	struct result res = { 0 };

	run_with(&res, NULL, true, false, NULL);
	ck_assert_int_eq(get(&res, "disk-strategy")->status, DOCTOR_ERROR);
	ck_assert(strstr(get(&res, "disk-strategy")->message, "disk driver unavailable"));
	result_done(&res);
}
END_TEST

START_TEST(test_loop)
{
	expect(NULL, "loop", DOCTOR_OK, "/dev/loop-control usable", NULL);
	F.loop = -ENOENT;
	/* auto picks dm-snapshot here: it needs loop devices. */
	expect(NULL, "loop", DOCTOR_ERROR, "dm-snapshot root disks need loop devices",
	       "modprobe loop");
	F.strat = DISK_STRATEGY_REFLINK;
	expect(NULL, "loop", DOCTOR_WARN, "would need", "modprobe loop");
	F.loop = -EACCES;
	expect(NULL, "loop", DOCTOR_WARN, "Permission denied", "root");
}
END_TEST

START_TEST(test_programs)
{
	expect(NULL, "firecracker", DOCTOR_OK, "/usr/bin/firecracker: Firecracker v1.7.0", NULL);
	F.fc_r = -ENOENT;
	expect(NULL, "firecracker", DOCTOR_SKIP, "'firecracker' not found; no VM uses firecracker",
	       NULL);
	expect(FC_HOST, "firecracker", DOCTOR_ERROR, "'firecracker' not found in PATH",
	       "firecracker.binary");
	F.fc_r = -ETIMEDOUT;
	expect(NULL, "firecracker", DOCTOR_WARN, "within 5000 ms; no VM uses it", "working");
	F.qemu_r = -ENOENT;
	expect(NULL, "qemu", DOCTOR_ERROR, "not found in PATH", "install qemu");
	/* With firecracker the default, qemu is not needed. */
	F.fc_r = 0;
	expect(FC_HOST, "qemu", DOCTOR_SKIP, "no VM uses qemu", NULL);
}
END_TEST

START_TEST(test_bridge)
{
	expect("bridge:\n  address: 10.9.0.1/16\n", "bridge", DOCTOR_ERROR,
	       "has 10.77.0.1/24, not 10.9.0.1/16", "ip address del 10.77.0.1/24 dev banger0");
	F.bridge.addrs[1] = 192u << 24 | 168u << 16 | 1;
	F.bridge.prefixes[1] = 24;
	F.bridge.n_addrs = 2;
	expect(NULL, "bridge", DOCTOR_ERROR, "has 192.168.0.1/24", "bridge.address");
	F.bridge.n_addrs = 0;
	expect(NULL, "bridge", DOCTOR_WARN, "has no IPv4 address", "reconcile");
	F.bridge.n_addrs = 1;
	F.bridge.up = false;
	expect(NULL, "bridge", DOCTOR_WARN, "is down", "ip link set banger0 up");
	F.bridge.is_bridge = false;
	expect(NULL, "bridge", DOCTOR_ERROR, "exists but is not a bridge", "bridge.name");
	F.bridge.exists = false;
	expect(NULL, "bridge", DOCTOR_WARN, "does not exist yet", "10.77.0.1/24");
	F.bridge_r = -EIO;
	expect(NULL, "bridge", DOCTOR_ERROR, "link get: Input/output error", NULL);
}
END_TEST

START_TEST(test_uplink)
{
	struct result res = { 0 };

	expect(NULL, "uplink", DOCTOR_OK, "uplink auto resolves to 'eth0'", NULL);
	expect("uplink: wan0\n", "uplink", DOCTOR_OK, "uplink 'wan0' exists", NULL);
	F.uplink_r = -ENETUNREACH;
	expect(NULL, "uplink", DOCTOR_WARN, "no IPv4 default route (only VMs with nat need it)",
	       "default route");
	expect(NAT_HOST, "uplink", DOCTOR_ERROR, "no IPv4 default route", NULL);
	F.uplink_r = -ENODEV;
	expect("uplink: wan0\n" NAT_HOST, "uplink", DOCTOR_ERROR, "'wan0': no such interface",
	       "existing interface");
	run_with(&res, NULL, false, true, NULL);
	ck_assert_int_eq(get(&res, "uplink")->status, DOCTOR_WARN);
	ck_assert(strstr(get(&res, "uplink")->message, "netlink unavailable"));
	ck_assert_int_eq(get(&res, "ip-forward")->status, DOCTOR_SKIP);
	result_done(&res);
}
END_TEST

START_TEST(test_forwarding)
{
	expect(NULL, "ip-forward", DOCTOR_OK, "IPv4 forwarding is on", NULL);
	F.fwd = false;
	expect(NULL, "ip-forward", DOCTOR_OK, "off (no VM uses nat", NULL);
	expect(NAT_HOST, "ip-forward", DOCTOR_WARN, "VMs with nat cannot reach", "ip_forward=1");
	F.fwd_r = -EACCES;
	expect(NULL, "ip-forward", DOCTOR_ERROR, "Permission denied", "/proc");
	net_ops.forwarding_get = NULL;
	expect(NULL, "ip-forward", DOCTOR_SKIP, "cannot read IPv4 forwarding", NULL);
	net_ops.forwarding_get = f_fwd;
}
END_TEST

START_TEST(test_names)
{
	/* glibc alone. */
	expect(NULL, "names", DOCTOR_OK, "NAME.vm in the block of '/etc/hosts'", NULL);
	expect("domain: lab.test\n", "names", DOCTOR_OK, "NAME.lab.test", NULL);
	/* systemd-resolved reads /etc/hosts by default. */
	F.resolved.present = true;
	expect(NULL, "names", DOCTOR_OK,
	       "NAME.vm in the block of '/etc/hosts'; systemd-resolved reads it (ReadEtcHosts=yes)",
	       NULL);
	snprintf(F.resolved.where, sizeof(F.resolved.where), "/etc/systemd/resolved.conf");
	expect(NULL, "names", DOCTOR_OK, "(ReadEtcHosts=yes in /etc/systemd/resolved.conf)", NULL);
	F.resolved.read_etc_hosts = false;
	snprintf(F.resolved.where, sizeof(F.resolved.where), "/run/systemd/resolved.conf.d/x.conf");
	expect(NULL, "names", DOCTOR_WARN,
	       "systemd-resolved ignores /etc/hosts (ReadEtcHosts=no in "
	       "'/run/systemd/resolved.conf.d/x.conf')",
	       "set ReadEtcHosts=yes in '/run/systemd/resolved.conf.d/x.conf'");
	F.resolved.read_etc_hosts = true;
	F.hosts_file = "/srv/hosts";
	expect(NULL, "names", DOCTOR_OK, "systemd-resolved reads /etc/hosts, not that file", NULL);
	F.resolved.present = false;

	/* dnsmasq: no drop-in yet, banger's, someone else's, unreadable. */
	F.hosts_file = "/etc/hosts";
	F.dnsmasq_dir = "/etc/dnsmasq.d";
	expect(NULL, "names", DOCTOR_OK,
	       "dnsmasq: banger writes '/etc/dnsmasq.d/banger.conf' when a VM has an address",
	       NULL);
	ck_assert_str_eq(F.head_path, "/etc/dnsmasq.d/banger.conf");
	F.head_r = 0;
	F.head = DNSMASQ_MARK ": the guests' names\nhostsdir=/etc/dnsmasq.d/banger-hosts.d\n";
	expect(NULL, "names", DOCTOR_OK,
	       "dnsmasq: drop-in '/etc/dnsmasq.d/banger.conf' (hostsdir "
	       "'/etc/dnsmasq.d/banger-hosts.d'",
	       NULL);
	F.head = "hostsdir=/srv\n";
	expect(NULL, "names", DOCTOR_WARN, "was not written by banger",
	       "move '/etc/dnsmasq.d/banger.conf' away");
	F.head_r = -EACCES;
	expect(NULL, "names", DOCTOR_WARN, "cannot read '/etc/dnsmasq.d/banger.conf'", "as root");
	/* A private status directory: only the fragment. */
	F.hosts_file = NULL;
	F.dnsmasq_dir = NULL;
	expect(NULL, "names", DOCTOR_SKIP, "only in '/srv/status/hosts'", NULL);
}
END_TEST

static char rtmp[64];

static void
put(const char *rel, const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", rtmp, rel);
	_cleanup_free_ char *dir = xstrdup(p);

	*strrchr(dir, '/') = '\0';
	ck_assert_int_eq(mkdir_p(dir, 0755), 0);
	ck_assert_int_eq(write_file_atomic(p, text, strlen(text), 0644), 0);
}

START_TEST(test_resolved_read)
{
	struct doctor_resolved r;
	_cleanup_free_ char *want = NULL;
	struct error *err = NULL;

	snprintf(rtmp, sizeof(rtmp), "/tmp/banger-resolved-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(rtmp));
	/* Nothing at all: not running, the default. */
	doctor_resolved_read(rtmp, &r);
	ck_assert(!r.present && r.read_etc_hosts);
	ck_assert_str_eq(r.where, "");

	put("run/systemd/resolve/stub-resolv.conf", "nameserver 127.0.0.53\n");
	put("etc/systemd/resolved.conf", "[Resolve]\n#ReadEtcHosts=yes\n ReadEtcHosts = no \n"
					 "[Other]\nReadEtcHosts=yes\n");
	doctor_resolved_read(rtmp, &r);
	ck_assert(r.present && !r.read_etc_hosts);
	want = xasprintf("%s/etc/systemd/resolved.conf", rtmp);
	ck_assert_str_eq(r.where, want);
	free(want);

	/* Drop-ins by name across folders: 10-a (etc) says yes, 20-b (usr/lib) no. */
	put("etc/systemd/resolved.conf.d/10-a.conf", "[Resolve]\nReadEtcHosts=true\n");
	put("usr/lib/systemd/resolved.conf.d/20-b.conf", "[Resolve]\nReadEtcHosts=off\n");
	put("usr/lib/systemd/resolved.conf.d/05-c.conf", "[Resolve]\nReadEtcHosts=1\n");
	put("etc/systemd/resolved.conf.d/30-d.conf.disabled", "[Resolve]\nReadEtcHosts=yes\n");
	doctor_resolved_read(rtmp, &r);
	ck_assert(!r.read_etc_hosts);
	want = xasprintf("%s/usr/lib/systemd/resolved.conf.d/20-b.conf", rtmp);
	ck_assert_str_eq(r.where, want);
	free(want);
	/* The same name in /etc hides the vendor's file. */
	put("etc/systemd/resolved.conf.d/20-b.conf", "# masked\n");
	doctor_resolved_read(rtmp, &r);
	ck_assert(r.read_etc_hosts);
	want = xasprintf("%s/etc/systemd/resolved.conf.d/10-a.conf", rtmp);
	ck_assert_str_eq(r.where, want);
	free(want);
	/* A bad value is ignored, an empty one resets to yes. */
	put("run/systemd/resolved.conf.d/40-e.conf", "[Resolve]\nReadEtcHosts=maybe\n");
	put("run/systemd/resolved.conf.d/50-f.conf", "[Resolve]\nReadEtcHosts=no\n");
	put("run/systemd/resolved.conf.d/60-g.conf", "[Resolve]\nReadEtcHosts=\n");
	doctor_resolved_read(rtmp, &r);
	ck_assert(r.read_etc_hosts);
	want = xasprintf("%s/run/systemd/resolved.conf.d/60-g.conf", rtmp);
	ck_assert_str_eq(r.where, want);
	ck_assert_str_eq(r.unreadable, "");
	ck_assert_int_eq(disk_rm_rf(rtmp, &err), 0);
}
END_TEST

/* ---- the real version runner ---- */

static char tmpdir[64];

static char *
write_script(const char *name, const char *body)
{
	char *p = xasprintf("%s/%s", tmpdir, name);

	ck_assert_int_eq(write_file_atomic(p, body, strlen(body), 0755), 0);
	return p;
}

START_TEST(test_program_version_real)
{
	_cleanup_free_ char *path = NULL, *version = NULL, *slow = NULL, *bad = NULL, *ok = NULL;
	struct error *err = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/banger-doctor-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ok = write_script("ok", "#!/bin/sh\necho\necho \"  tool 1.2 $1  \"\necho second\n");
	slow = write_script("slow", "#!/bin/sh\nexec sleep 30\n");
	bad = write_script("bad", "#!/bin/sh\necho broken >&2\nexit 3\n");

	ck_assert_int_eq(doctor_program_version(ok, 2000, &path, &version, &err), 0);
	ck_assert_str_eq(path, ok);
	ck_assert_str_eq(version, "tool 1.2 --version");
	free(TAKE_PTR(path));
	free(TAKE_PTR(version));

	ck_assert_int_eq(doctor_program_version(slow, 300, &path, &version, &err), -ETIMEDOUT);
	ck_assert_ptr_null(path);
	ck_assert(strstr(err->msg, "gave no answer within 300 ms"));
	err = error_free(err);

	ck_assert_int_eq(doctor_program_version(bad, 2000, &path, &version, &err), -EIO);
	ck_assert(strstr(err->msg, "exited with status 3: broken"));
	err = error_free(err);

	ck_assert_int_eq(doctor_program_version("banger-no-such-program-x", 2000, &path, &version,
						&err),
			 -ENOENT);
	ck_assert_str_eq(err->msg, "'banger-no-such-program-x' not found in PATH");
	err = error_free(err);

	/* A PATH search finds the script; an empty PATH entry (cwd) is never searched. */
	{
		_cleanup_free_ char *p = NULL, *env = xasprintf("::%s", tmpdir);

		ck_assert_int_eq(setenv("PATH", env, 1), 0);
		ck_assert_int_eq(doctor_find_program("ok", &p), 0);
		ck_assert_str_eq(p, ok);
		ck_assert_int_eq(chdir(tmpdir), 0);
		ck_assert_int_eq(setenv("PATH", ":/nonexistent", 1), 0);
		ck_assert_int_eq(doctor_find_program("ok", &p), -ENOENT);
	}
	ck_assert_int_eq(unlink(ok), 0);
	ck_assert_int_eq(unlink(slow), 0);
	ck_assert_int_eq(unlink(bad), 0);
	ck_assert_int_eq(rmdir(tmpdir), 0);
}
END_TEST

static Suite *
doctor_suite(void)
{
	Suite *s = suite_create("doctor");
	TCase *tc = tcase_create("checks");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_status_names);
	tcase_add_test(tc, test_all_ok_and_json);
	tcase_add_test(tc, test_json_counts_and_print);
	tcase_add_test(tc, test_host_config);
	tcase_add_test(tc, test_state_dir);
	tcase_add_test(tc, test_status_dir);
	tcase_add_test(tc, test_disk_space);
	tcase_add_test(tc, test_kvm);
	tcase_add_test(tc, test_tun);
	tcase_add_test(tc, test_nftables);
	tcase_add_test(tc, test_device_mapper_and_strategy);
	tcase_add_test(tc, test_disk_driver_missing);
	tcase_add_test(tc, test_loop);
	tcase_add_test(tc, test_programs);
	tcase_add_test(tc, test_bridge);
	tcase_add_test(tc, test_uplink);
	tcase_add_test(tc, test_forwarding);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_resolved_read);
	suite_add_tcase(s, tc);

	tc = tcase_create("real");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_program_version_real);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(doctor_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
