/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger doctor: explain what this host offers banger and what to fix.  The
 * checks see the host only through driver ops (drivers/doctor-probe.h,
 * net.h, disk.h) and the declarations through spec/; they change nothing.
 */
#include <assert.h>
#include <getopt.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/doctor.h"
#include "cli/ssh.h"
#include "drivers/guest.h"
#include "drivers/nat.h"
#include "source/source.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

#define GIB (1024ULL * 1024 * 1024)
#define DOCTOR_FREE_WARN GIB

const char *const doctor_check_names[DOCTOR_N_CHECKS + 1] = {
	"host-config", "state-dir", "status-dir", "disk-space", "kvm",
	"tun", "nftables", "device-mapper", "disk-strategy", "loop",
	"qemu", "firecracker", "bridge", "uplink", "ip-forward",
	"names", NULL,
};

static const char *const status_names[_DOCTOR_STATUS_MAX] = {
	[DOCTOR_OK] = "ok",
	[DOCTOR_WARN] = "warn",
	[DOCTOR_ERROR] = "error",
	[DOCTOR_SKIP] = "skip",
};

const char *
doctor_status_to_string(enum doctor_status s)
{
	if (s < 0 || s >= _DOCTOR_STATUS_MAX)
		return NULL;
	return status_names[s];
}

enum doctor_status
doctor_status_from_string(const char *s)
{
	for (int i = 0; s && i < _DOCTOR_STATUS_MAX; i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum doctor_status)i;
	return _DOCTOR_STATUS_INVALID;
}

/* What the declarations use, to weigh missing pieces. */
struct usage {
	bool firecracker;	/* the default or any VM */
	bool qemu;
	bool nat;
	bool kvm_required;	/* firecracker, or qemu with accel: kvm */
};

struct run {
	const struct doctor_ctx *c;
	const struct host_spec *host;
	struct usage use;
	struct doctor_report *rep;
	enum disk_strategy strategy;	/* from the disk-strategy check; AUTO if unknown */
};

static void
add(struct run *run, const char *name, enum doctor_status st, char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Record one check; takes fix (may be NULL). */
static void
add(struct run *run, const char *name, enum doctor_status st, char *fix, const char *fmt, ...)
{
	struct doctor_check *ck;
	va_list ap;

	run->rep->checks = xappend(run->rep->checks, &run->rep->n_checks, sizeof(*ck),
				   (void **)&ck);
	ck->name = name;
	ck->status = st;
	va_start(ap, fmt);
	ck->message = xvasprintf(fmt, ap);
	va_end(ap);
	ck->fix = fix;
}

static char *
fixf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static char *
fixf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

static char *
errtext(const struct error *e)
{
	return e ? error_format(e) : xstrdup("unknown error");
}

static void
usage_of(const struct spec *s, struct usage *u)
{
	memset(u, 0, sizeof(*u));
	u->firecracker = s->host.hypervisor == HYPERVISOR_FIRECRACKER;
	u->qemu = s->host.hypervisor == HYPERVISOR_QEMU;
	u->nat = s->host.defaults.nat;
	for (size_t i = 0; i < s->n_vms; i++) {
		if (s->vms[i].hypervisor == HYPERVISOR_FIRECRACKER)
			u->firecracker = true;
		else
			u->qemu = true;
		if (s->vms[i].nat)
			u->nat = true;
	}
	u->kvm_required = u->firecracker || (u->qemu && s->host.qemu_accel == QEMU_ACCEL_KVM);
}

static void
check_host_config(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	const struct spec *s = c->spec;

	if (c->spec_error) {
		add(run, "host-config", DOCTOR_ERROR,
		    fixf("make '%s' readable, or point --state at the declarations", c->state_dir),
		    "declarations in '%s' unreadable: %s; checking with defaults", c->state_dir,
		    c->spec_error);
		return;
	}
	if (!s->host_valid) {
		_cleanup_free_ char *first = NULL;

		for (size_t i = 0; i < s->n_diags; i++)
			if (s->diags[i].file && strcmp(s->diags[i].file, "host.yaml") == 0) {
				first = spec_diag_format(&s->diags[i], c->state_dir);
				break;
			}
		add(run, "host-config", DOCTOR_ERROR,
		    fixf("run 'banger validate --state %s' and correct host.yaml", c->state_dir),
		    "host.yaml is invalid (%s); checks below use what parsed",
		    first ? first : "see banger validate");
		return;
	}
	if (!s->host.path) {
		add(run, "host-config", DOCTOR_OK, NULL, "no host.yaml in '%s': defaults apply",
		    c->state_dir);
		return;
	}
	add(run, "host-config", DOCTOR_OK, NULL, "'%s/host.yaml' is valid", c->state_dir);
}

/*
 * A directory banger runs root actions from (the declarations) or keeps
 * disks and keys in (status): world-writable is an error, and so is an owner
 * other than root when banger runs as root.  The status directory should
 * also be 0700.
 */
static void
check_dir(struct run *run, const char *name, const char *path, bool is_status)
{
	const struct doctor_ctx *c = run->c;
	struct stat st;
	uid_t euid = c->probe->euid(c->probe->userdata);
	int r;

	r = c->probe->dir_stat(c->probe->userdata, path, &st);
	if (r == -ENOENT) {
		if (is_status)
			add(run, name, DOCTOR_WARN,
			    fixf("run 'banger reconcile' (it creates it), or "
				 "'install -d -m 0700 %s'",
				 path),
			    "'%s' does not exist yet", path);
		else
			/* The default on a host not set up yet: a warning; a folder
			 * named (--state, BANGER_STATE) that is missing: an error, as
			 * for every other command. */
			add(run, name,
			    strcmp(path, DEFAULT_STATE_DIR) == 0 ? DOCTOR_WARN : DOCTOR_ERROR,
			    fixf("create '%s' (mode 0755, owned by root) and declare host.yaml, "
				 "images/ and vms/ in it",
				 path),
			    "'%s' does not exist: nothing is declared", path);
		return;
	}
	if (r < 0) {
		add(run, name, DOCTOR_ERROR, fixf("check the path and its parents' permissions"),
		    "'%s': %s", path, strerror(-r));
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		add(run, name, DOCTOR_ERROR, fixf("move it away or choose another directory"),
		    "'%s' is not a directory", path);
		return;
	}
	if (st.st_mode & S_IWOTH) {
		add(run, name, DOCTOR_ERROR,
		    fixf("chmod %s '%s'", is_status ? "0700" : "o-w", path),
		    "'%s' is world-writable (mode %04o): anyone could %s", path,
		    (unsigned)(st.st_mode & 07777),
		    is_status ? "tamper with VM disks and records" : "declare what banger runs");
		return;
	}
	if (euid == 0 && st.st_uid != 0) {
		add(run, name, DOCTOR_ERROR, fixf("chown root:root '%s'", path),
		    "'%s' is owned by uid %u, not root, and banger runs as root", path,
		    (unsigned)st.st_uid);
		return;
	}
	if (is_status && (st.st_mode & 0077)) {
		add(run, name, DOCTOR_WARN, fixf("chmod 0700 '%s'", path),
		    "'%s' has mode %04o, expected 0700 (it holds VM disks and keys)", path,
		    (unsigned)(st.st_mode & 07777));
		return;
	}
	if (!is_status && (st.st_mode & S_IWGRP)) {
		add(run, name, DOCTOR_WARN, fixf("chmod g-w '%s'", path),
		    "'%s' is group-writable (mode %04o): its group can declare what banger runs",
		    path, (unsigned)(st.st_mode & 07777));
		return;
	}
	add(run, name, DOCTOR_OK, NULL, "'%s': mode %04o, owner uid %u", path,
	    (unsigned)(st.st_mode & 07777), (unsigned)st.st_uid);
}

static void
check_disk_space(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	_cleanup_free_ char *dir = xstrdup(c->status_dir);
	_cleanup_(error_freep) struct error *err = NULL;
	struct stat st;
	uint64_t avail = 0;
	int r;

	/* The status directory, or the nearest parent that exists. */
	while (c->probe->dir_stat(c->probe->userdata, dir, &st) < 0 && strcmp(dir, "/") != 0) {
		char *parent = xstrdup(dirname(dir));

		free(dir);
		dir = parent;
	}
	r = c->probe->free_bytes(c->probe->userdata, dir, &avail, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "disk-space", DOCTOR_ERROR,
		    fixf("check that '%s' is mounted and readable", dir),
		    "%s", m);
		return;
	}
	if (avail < DOCTOR_FREE_WARN) {
		add(run, "disk-space", DOCTOR_WARN,
		    fixf("free space on the filesystem of '%s' or move the status directory "
			 "(status_dir in host.yaml)",
			 dir),
		    "%.1f MiB free under '%s' (less than 1 GiB: root and work disks need room)",
		    (double)avail / (1024.0 * 1024.0), dir);
		return;
	}
	add(run, "disk-space", DOCTOR_OK, NULL, "%.1f GiB free under '%s'", (double)avail / GIB,
	    dir);
}

static void
check_kvm(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	struct doctor_kvm k;
	enum doctor_status bad = run->use.kvm_required ? DOCTOR_ERROR : DOCTOR_WARN;
	const char *why = run->use.firecracker ? "firecracker needs it"
			  : run->use.kvm_required ? "qemu accel is kvm"
						  : "qemu will use TCG (slower)";

	c->probe->kvm(c->probe->userdata, &k);
	if (k.open_error == -ENOENT) {
		add(run, "kvm", bad,
		    fixf("enable virtualisation in the firmware and load kvm_intel or kvm_amd "
			 "(modprobe)%s",
			 run->use.kvm_required ? ", or use hypervisor: qemu with accel auto" : ""),
		    "no %s: %s", DOCTOR_KVM_PATH, why);
		return;
	}
	if (k.open_error < 0) {
		add(run, "kvm", bad, fixf("run banger as root (or a member of group kvm)"),
		    "cannot open %s: %s; %s", DOCTOR_KVM_PATH, strerror(-k.open_error), why);
		return;
	}
	if (k.api_version != DOCTOR_KVM_API_VERSION) {
		add(run, "kvm", bad, fixf("use a kernel with the stable KVM API (version %d)",
					  DOCTOR_KVM_API_VERSION),
		    "%s reports KVM API version %d, not %d; %s", DOCTOR_KVM_PATH, k.api_version,
		    DOCTOR_KVM_API_VERSION, why);
		return;
	}
	if (k.guest_error < 0) {
		add(run, "kvm", bad,
		    fixf("check dmesg for KVM errors%s",
			 run->use.kvm_required ? "; or use hypervisor: qemu with accel auto" : ""),
		    "%s opens but a test guest did not run (%s); %s", DOCTOR_KVM_PATH,
		    k.guest_detail[0] ? k.guest_detail : strerror(-k.guest_error), why);
		return;
	}
	if (k.pvm) {
		add(run, "kvm", bad,
		    run->use.kvm_required
			    ? fixf("declare hypervisor: qemu with qemu.accel auto or tcg")
			    : fixf("keep qemu.accel auto or tcg here; KVM speed needs a host without PVM"),
		    "KVM API %d, a test guest ran, but this host's KVM is PVM (%s): a stock guest "
		    "kernel fails under it, so TCG will be used%s",
		    k.api_version, DOCTOR_PVM_PATH,
		    run->use.firecracker ? " and firecracker cannot run" : "");
		return;
	}
	add(run, "kvm", DOCTOR_OK, NULL, "%s usable (API %d), a test guest ran under it",
	    DOCTOR_KVM_PATH, k.api_version);
}

static void
check_tun(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	int r = c->probe->dev_open(c->probe->userdata, DOCTOR_TUN_PATH);

	if (r == -ENOENT)
		add(run, "tun", DOCTOR_ERROR, fixf("modprobe tun"),
		    "no %s: taps cannot be created", DOCTOR_TUN_PATH);
	else if (r < 0)
		add(run, "tun", DOCTOR_ERROR, fixf("run banger as root (CAP_NET_ADMIN)"),
		    "cannot open %s: %s", DOCTOR_TUN_PATH, strerror(-r));
	else
		add(run, "tun", DOCTOR_OK, NULL, "%s usable", DOCTOR_TUN_PATH);
}

static void
check_nftables(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	_cleanup_(error_freep) struct error *err = NULL;
	bool has = false;
	int r;

	r = c->probe->nft_ruleset(c->probe->userdata, &has, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "nftables", run->use.nat ? DOCTOR_ERROR : DOCTOR_WARN,
		    r == -EPERM ? fixf("run banger as root (CAP_NET_ADMIN)")
				: fixf("modprobe nf_tables, and install libnftables1"),
		    "%s%s", m, run->use.nat ? "" : " (only VMs with nat need it)");
		return;
	}
	add(run, "nftables", DOCTOR_OK, NULL,
	    has ? "ruleset readable through libnftables and nf_tables netlink; table inet %s "
		  "present"
		: "ruleset readable through libnftables and nf_tables netlink; table inet %s "
		  "absent (created for the first VM with nat)",
	    NAT_TABLE);
}

static void
check_device_mapper(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	bool wanted = run->host->disk_strategy == DISK_STRATEGY_DM_SNAPSHOT;
	int r = c->probe->dev_open(c->probe->userdata, DOCTOR_DM_CONTROL_PATH);

	if (r == -ENOENT)
		add(run, "device-mapper", wanted ? DOCTOR_ERROR : DOCTOR_WARN,
		    wanted ? fixf("modprobe dm_snapshot, or set disk_strategy: auto in host.yaml")
			   : fixf("modprobe dm_snapshot for dm-snapshot root disks (optional)"),
		    "no %s: dm-snapshot is unavailable%s", DOCTOR_DM_CONTROL_PATH,
		    wanted ? " but host.yaml asks for it" : "");
	else if (r == -ENODEV || r == -ENXIO)
		/* The node is there, the driver is not (not built, not loaded). */
		add(run, "device-mapper", wanted ? DOCTOR_ERROR : DOCTOR_WARN,
		    wanted ? fixf("modprobe dm_snapshot, or set disk_strategy: auto in host.yaml")
			   : fixf("modprobe dm_snapshot for dm-snapshot root disks (optional)"),
		    "%s is there but the kernel has no device-mapper driver (%s): "
		    "dm-snapshot is unavailable%s",
		    DOCTOR_DM_CONTROL_PATH, strerror(-r), wanted ? " but host.yaml asks for it" : "");
	else if (r < 0)
		add(run, "device-mapper", wanted ? DOCTOR_ERROR : DOCTOR_WARN,
		    fixf("run banger as root (CAP_SYS_ADMIN)"), "cannot open %s: %s",
		    DOCTOR_DM_CONTROL_PATH, strerror(-r));
	else
		add(run, "device-mapper", DOCTOR_OK, NULL, "%s present", DOCTOR_DM_CONTROL_PATH);
}

static void
check_disk_strategy(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *vm_dir = NULL;
	enum disk_strategy want = run->host->disk_strategy, got = DISK_STRATEGY_AUTO;
	int r;

	run->strategy = DISK_STRATEGY_AUTO;
	if (!c->disk) {
		add(run, "disk-strategy", DOCTOR_ERROR,
		    fixf("give an absolute status directory (--status-dir or status_dir)"),
		    "disk driver unavailable: %s", c->disk_error ? c->disk_error : "unknown");
		return;
	}
	/* Probe where a VM's disks would live: a VM directory name no VM can take. */
	vm_dir = xasprintf("%s/vms/doctor", strcmp(c->status_dir, "/") == 0 ? "" : c->status_dir);
	r = c->disk->strategy_probe(c->disk->userdata, want, vm_dir, NULL, &got, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "disk-strategy", DOCTOR_ERROR,
		    fixf("set disk_strategy: auto in host.yaml, or make '%s' usable",
			 disk_strategy_to_string(want)),
		    "disk_strategy %s: %s", disk_strategy_to_string(want), m);
		return;
	}
	run->strategy = got;
	if (got == DISK_STRATEGY_REFLINK) {
		/* Clones need each image on a file system that clones into the
		 * status directory's: the VMs of one that does not get copies
		 * (auto), or fail (reflink asked for). */
		_cleanup_free_ char *names = NULL;

		for (size_t i = 0; i < c->spec->n_images; i++) {
			const struct image_spec *img = &c->spec->images[i];
			enum disk_strategy g = DISK_STRATEGY_AUTO;
			struct error *e = NULL;
			char *t;

			r = c->disk->strategy_probe(c->disk->userdata, want, vm_dir, img->rootfs,
						    &g, &e);
			error_free(e);
			if (r >= 0 && g == DISK_STRATEGY_REFLINK)
				continue;
			t = xasprintf("%s%s%s", names ? names : "", names ? ", " : "", img->name);
			free(names);
			names = t;
		}
		if (names && want == DISK_STRATEGY_AUTO) {
			add(run, "disk-strategy", DOCTOR_WARN,
			    fixf("keep the images on the file system of '%s'", c->status_dir),
			    "auto picks reflink, but image %s cannot be cloned into the status "
			    "directory (another file system): its VMs' root disks are copies",
			    names);
			return;
		}
		if (names) {
			add(run, "disk-strategy", DOCTOR_ERROR,
			    fixf("set disk_strategy: auto in host.yaml, or keep the images on the "
				 "file system of '%s'", c->status_dir),
			    "disk_strategy reflink: image %s cannot be cloned into the status "
			    "directory (another file system): its VMs fail", names);
			return;
		}
	}
	if (want == DISK_STRATEGY_AUTO && got == DISK_STRATEGY_COPY) {
		add(run, "disk-strategy", DOCTOR_WARN,
		    fixf("load dm_snapshot, or put the status directory on btrfs or xfs "
			 "(reflink) for fast copy-on-write root disks"),
		    "auto picks copy: each root disk is a full (sparse) copy of its image");
		return;
	}
	add(run, "disk-strategy", DOCTOR_OK, NULL, "%s%s",
	    want == DISK_STRATEGY_AUTO ? "auto picks " : "", disk_strategy_to_string(got));
}

static void
check_loop(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	bool needed = run->strategy == DISK_STRATEGY_DM_SNAPSHOT;
	int r = c->probe->dev_open(c->probe->userdata, DOCTOR_LOOP_CONTROL_PATH);

	if (r == -ENOENT)
		add(run, "loop", needed ? DOCTOR_ERROR : DOCTOR_WARN, fixf("modprobe loop"),
		    "no %s: %s", DOCTOR_LOOP_CONTROL_PATH,
		    needed ? "dm-snapshot root disks need loop devices"
			   : "dm-snapshot root disks would need loop devices");
	else if (r < 0)
		add(run, "loop", needed ? DOCTOR_ERROR : DOCTOR_WARN,
		    fixf("run banger as root (CAP_SYS_ADMIN)"), "cannot open %s: %s",
		    DOCTOR_LOOP_CONTROL_PATH, strerror(-r));
	else
		add(run, "loop", DOCTOR_OK, NULL, "%s usable", DOCTOR_LOOP_CONTROL_PATH);
}

static void
check_program(struct run *run, const char *name, const char *program, bool used,
	      const char *key)
{
	const struct doctor_ctx *c = run->c;
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *path = NULL, *version = NULL;
	int r;

	r = c->probe->program_version(c->probe->userdata, program, &path, &version, &err);
	if (r == -ENOENT && !used) {
		add(run, name, DOCTOR_SKIP, NULL, "'%s' not found; no VM uses %s", program, name);
		return;
	}
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, name, used ? DOCTOR_ERROR : DOCTOR_WARN,
		    r == -ENOENT ? fixf("install %s, or set %s.binary in host.yaml", name, key)
				 : fixf("check that '%s' is a working %s binary", program, name),
		    "%s%s", m, used ? "" : "; no VM uses it");
		return;
	}
	add(run, name, DOCTOR_OK, NULL, "%s: %s", path, version[0] ? version : "(no version text)");
}

static bool
bridge_has(const struct doctor_bridge *b, uint32_t addr, unsigned prefix)
{
	for (size_t i = 0; i < b->n_addrs; i++)
		if (b->addrs[i] == addr && b->prefixes[i] == prefix)
			return true;
	return false;
}

static void
check_bridge(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	const struct host_spec *h = run->host;
	_cleanup_(error_freep) struct error *err = NULL;
	struct doctor_bridge b;
	char want[16], have[16];
	int r;

	ipv4_format(h->bridge_addr, want);
	r = c->probe->bridge_get(c->probe->userdata, h->bridge_name, &b, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "bridge", DOCTOR_ERROR, fixf("run banger as root, or fix bridge.name"),
		    "bridge '%s': %s", h->bridge_name, m);
		return;
	}
	if (!b.exists) {
		add(run, "bridge", DOCTOR_WARN,
		    fixf("run 'banger reconcile': it creates the bridge with %s/%u", want,
			 h->bridge_prefix),
		    "bridge '%s' does not exist yet", h->bridge_name);
		return;
	}
	if (!b.is_bridge) {
		add(run, "bridge", DOCTOR_ERROR,
		    fixf("remove or rename that link, or set another bridge.name in host.yaml"),
		    "'%s' exists but is not a bridge", h->bridge_name);
		return;
	}
	for (size_t i = 0; i < b.n_addrs; i++) {
		if (b.addrs[i] == h->bridge_addr && b.prefixes[i] == h->bridge_prefix)
			continue;
		ipv4_format(b.addrs[i], have);
		add(run, "bridge", DOCTOR_ERROR,
		    fixf("ip address del %s/%u dev %s, or set bridge.address: %s/%u in host.yaml",
			 have, b.prefixes[i], h->bridge_name, have, b.prefixes[i]),
		    "bridge '%s' has %s/%u, not %s/%u (reconcile does not rewrite it)",
		    h->bridge_name, have, b.prefixes[i], want, h->bridge_prefix);
		return;
	}
	if (!bridge_has(&b, h->bridge_addr, h->bridge_prefix)) {
		add(run, "bridge", DOCTOR_WARN,
		    fixf("run 'banger reconcile': it adds %s/%u", want, h->bridge_prefix),
		    "bridge '%s' has no IPv4 address", h->bridge_name);
		return;
	}
	if (!b.up) {
		add(run, "bridge", DOCTOR_WARN,
		    fixf("run 'banger reconcile' (or ip link set %s up)", h->bridge_name),
		    "bridge '%s' has %s/%u but is down", h->bridge_name, want, h->bridge_prefix);
		return;
	}
	add(run, "bridge", DOCTOR_OK, NULL, "bridge '%s' up with %s/%u", h->bridge_name, want,
	    h->bridge_prefix);
}

static void
check_uplink(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	const char *uplink = run->host->uplink;
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *name = NULL;
	enum doctor_status bad = run->use.nat ? DOCTOR_ERROR : DOCTOR_WARN;
	int r;

	if (!c->net) {
		add(run, "uplink", bad, fixf("run banger as root"), "netlink unavailable: %s",
		    c->net_error ? c->net_error : "unknown");
		return;
	}
	r = c->net->uplink_resolve(c->net->userdata, uplink, &name, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "uplink", bad,
		    r == -ENETUNREACH
			    ? fixf("add an IPv4 default route, or name the uplink in host.yaml")
			    : fixf("set uplink in host.yaml to an existing interface (or auto)"),
		    "%s%s", m, run->use.nat ? "" : " (only VMs with nat need it)");
		return;
	}
	if (strcmp(uplink, "auto") == 0)
		add(run, "uplink", DOCTOR_OK, NULL, "uplink auto resolves to '%s'", name);
	else
		add(run, "uplink", DOCTOR_OK, NULL, "uplink '%s' exists", name);
}

static void
check_forwarding(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	_cleanup_(error_freep) struct error *err = NULL;
	bool on = false;
	int r;

	if (!c->net || !c->net->forwarding_get) {
		add(run, "ip-forward", DOCTOR_SKIP, NULL, "cannot read IPv4 forwarding: %s",
		    c->net_error ? c->net_error : "no probe");
		return;
	}
	r = c->net->forwarding_get(c->net->userdata, &on, &err);
	if (r < 0) {
		_cleanup_free_ char *m = errtext(err);

		add(run, "ip-forward", DOCTOR_ERROR, fixf("check that /proc is mounted"), "%s", m);
		return;
	}
	if (on)
		add(run, "ip-forward", DOCTOR_OK, NULL, "IPv4 forwarding is on");
	else if (run->use.nat)
		add(run, "ip-forward", DOCTOR_WARN,
		    fixf("run 'banger reconcile' (it turns forwarding on), or sysctl -w "
			 "net.ipv4.ip_forward=1"),
		    "IPv4 forwarding is off: VMs with nat cannot reach beyond the host yet");
	else
		add(run, "ip-forward", DOCTOR_OK, NULL,
		    "IPv4 forwarding is off (no VM uses nat; reconcile turns it on when one does)");
}

static char *
joinf(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* s (taken), "; " and the formatted text. */
static char *
joinf(char *s, const char *fmt, ...)
{
	_cleanup_free_ char *t = NULL;
	va_list ap;
	char *out;

	va_start(ap, fmt);
	t = xvasprintf(fmt, ap);
	va_end(ap);
	out = xasprintf("%s%s%s", s ? s : "", s && *s ? "; " : "", t);
	free(s);
	return out;
}

/*
 * How NAME.DOMAIN reaches the host's resolvers: the marked block of the
 * hosts file (glibc, and systemd-resolved when its ReadEtcHosts= is on) and
 * banger's dnsmasq drop-in.
 */
static void
check_names(struct run *run)
{
	const struct doctor_ctx *c = run->c;
	const char *dom = run->host->domain;
	struct doctor_resolved res = { .read_etc_hosts = true };
	enum doctor_status st = DOCTOR_OK;
	_cleanup_free_ char *msg = NULL;
	char *fix = NULL;

	if (c->probe->resolved)
		c->probe->resolved(c->probe->userdata, &res);
	if (!c->hosts_file && !c->dnsmasq_dir) {
		add(run, "names", DOCTOR_SKIP, NULL,
		    "NAME.%s only in '%s/hosts': no system hosts file or dnsmasq conf dir "
		    "for a status directory other than " DEFAULT_STATUS_DIR,
		    dom, c->status_dir);
		return;
	}
	if (c->hosts_file)
		msg = joinf(msg, "NAME.%s in the block of '%s'", dom, c->hosts_file);
	if (res.present && !res.read_etc_hosts) {
		st = DOCTOR_WARN;
		fix = fixf("set ReadEtcHosts=yes in '%s' (or remove that line) and restart "
			   "systemd-resolved",
			   res.where);
		msg = joinf(msg,
			    "systemd-resolved ignores /etc/hosts (ReadEtcHosts=no in '%s'): "
			    "programs asking it do not find NAME.%s",
			    res.where, dom);
	} else if (res.present && c->hosts_file && strcmp(c->hosts_file, "/etc/hosts") != 0)
		msg = joinf(msg, "systemd-resolved reads /etc/hosts, not that file");
	else if (res.present && c->hosts_file)
		msg = joinf(msg, "systemd-resolved reads it (ReadEtcHosts=yes%s%s)",
			    *res.where ? " in " : "", res.where);
	else if (res.present)
		msg = joinf(msg, "systemd-resolved runs but no hosts file block is kept");
	if (res.present && *res.unreadable)
		msg = joinf(msg, "cannot read '%s'", res.unreadable);

	if (c->dnsmasq_dir) {
		_cleanup_free_ char *dropin = xasprintf("%s/" DNSMASQ_DROPIN, c->dnsmasq_dir);
		char head[256];
		int r = c->probe->read_head ? c->probe->read_head(c->probe->userdata, dropin, head,
								  sizeof(head))
					    : -ENOSYS;

		if (r == -ENOENT)
			msg = joinf(msg,
				    "dnsmasq: banger writes '%s' when a VM has an address "
				    "(restart dnsmasq once then)",
				    dropin);
		else if (r < 0) {
			if (st == DOCTOR_OK) {
				st = DOCTOR_WARN;
				fix = fixf("run banger doctor as root");
			}
			msg = joinf(msg, "dnsmasq: cannot read '%s': %s", dropin, strerror(-r));
		} else if (strncmp(head, DNSMASQ_MARK, strlen(DNSMASQ_MARK)) != 0) {
			if (st == DOCTOR_OK) {
				st = DOCTOR_WARN;
				fix = fixf("move '%s' away; the next reconcile writes banger's", dropin);
			}
			msg = joinf(msg,
				    "dnsmasq: '%s' was not written by banger: banger leaves it "
				    "alone and dnsmasq does not learn the names",
				    dropin);
		} else
			msg = joinf(msg,
				    "dnsmasq: drop-in '%s' (hostsdir '%s/" DNSMASQ_HOSTS_DIR
				    "', read by a dnsmasq started after it was written)",
				    dropin, c->dnsmasq_dir);
	}
	add(run, "names", st, fix, "%s", msg);
}

void
doctor_run(const struct doctor_ctx *c, struct doctor_report *ret)
{
	struct run run = { .c = c, .host = &c->spec->host, .rep = ret };

	assert(c->probe && c->spec && c->state_dir && c->status_dir);
	memset(ret, 0, sizeof(*ret));
	usage_of(c->spec, &run.use);
	check_host_config(&run);
	check_dir(&run, "state-dir", c->state_dir, false);
	check_dir(&run, "status-dir", c->status_dir, true);
	check_disk_space(&run);
	check_kvm(&run);
	check_tun(&run);
	check_nftables(&run);
	check_device_mapper(&run);
	check_disk_strategy(&run);
	check_loop(&run);
	check_program(&run, "qemu", run.host->qemu_binary, run.use.qemu, "qemu");
	check_program(&run, "firecracker", run.host->firecracker_binary, run.use.firecracker,
		      "firecracker");
	check_bridge(&run);
	check_uplink(&run);
	check_forwarding(&run);
	check_names(&run);
	assert(ret->n_checks == DOCTOR_N_CHECKS);
}

void
doctor_report_done(struct doctor_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_checks; i++) {
		free(r->checks[i].message);
		free(r->checks[i].fix);
	}
	free(r->checks);
	r->checks = NULL;
	r->n_checks = 0;
}

int
doctor_report_exit_code(const struct doctor_report *r)
{
	for (size_t i = 0; i < r->n_checks; i++)
		if (r->checks[i].status == DOCTOR_ERROR)
			return EXIT_FAILED;
	return 0;
}

json_t *
doctor_report_json(const struct doctor_report *r, const char *state_dir, const char *status_dir)
{
	json_t *o = json_object(), *arr = json_array();
	size_t errors = 0, warnings = 0;

	for (size_t i = 0; i < r->n_checks; i++) {
		const struct doctor_check *ck = &r->checks[i];
		json_t *j = json_object();

		errors += ck->status == DOCTOR_ERROR;
		warnings += ck->status == DOCTOR_WARN;
		json_object_set_new(j, "name", json_string(ck->name));
		json_object_set_new(j, "status", json_string(doctor_status_to_string(ck->status)));
		json_object_set_new(j, "message", json_string(ck->message));
		json_object_set_new(j, "fix", ck->fix ? json_string(ck->fix) : json_null());
		json_array_append_new(arr, j);
	}
	json_object_set_new(o, "state_dir", json_string(state_dir));
	json_object_set_new(o, "status_dir", json_string(status_dir));
	json_object_set_new(o, "ok", json_boolean(errors == 0));
	json_object_set_new(o, "errors", json_integer((json_int_t)errors));
	json_object_set_new(o, "warnings", json_integer((json_int_t)warnings));
	json_object_set_new(o, "checks", arr);
	return o;
}

void
doctor_report_print(const struct doctor_report *r, FILE *f)
{
	size_t width = 0;

	for (size_t i = 0; i < r->n_checks; i++)
		if (strlen(r->checks[i].name) > width)
			width = strlen(r->checks[i].name);
	for (size_t i = 0; i < r->n_checks; i++) {
		const struct doctor_check *ck = &r->checks[i];

		fprintf(f, "%-5s  %-*s  %s", doctor_status_to_string(ck->status), (int)width,
			ck->name, ck->message);
		if (ck->fix)
			fprintf(f, "; fix: %s", ck->fix);
		fputc('\n', f);
	}
}

/* ---- the subcommand ---- */

static void
help(FILE *f)
{
	fputs("Usage: banger doctor [--state DIR] [--status-dir DIR] [--json]\n"
	      "\n"
	      "Check what this host offers banger: KVM, /dev/net/tun, nftables,\n"
	      "device-mapper and the disk strategy, loop devices, hypervisor binaries,\n"
	      "the bridge and uplink of host.yaml, IPv4 forwarding, the state and status\n"
	      "directories, free disk space, and how the guests' names reach the\n"
	      "resolvers (hosts file block, systemd-resolved, dnsmasq).  One line per\n"
	      "check: ok, warn, error or skip, with a fix for what is wrong.  Changes\n"
	      "nothing.\n"
	      "\n"
	      "Options:\n",
	      f);
	cli_common_help(f, true);
	fputs("\nExit status: 0 no check is an error (warnings allowed), 1 an error,\n"
	      "64 usage error.\n",
	      f);
}

static void
net_netlink_freep(struct net_ops **n)
{
	(void)net_netlink_free(*n);
}

int
cli_doctor(int argc, char **argv)
{
	static const struct option longopts[] = { CLI_COMMON_LONGOPTS, { NULL, 0, NULL, 0 } };
	struct cli_common common;
	_cleanup_(source_freep) struct source *src = NULL;
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_(doctor_probe_real_freep) struct doctor_probe_ops *probe = NULL;
	_cleanup_(net_netlink_freep) struct net_ops *net = NULL;
	_cleanup_(disk_real_freep) struct disk_ops *disk = NULL;
	_cleanup_(error_freep) struct error *err = NULL, *net_err = NULL, *disk_err = NULL;
	_cleanup_free_ char *spec_error = NULL, *net_error = NULL, *disk_error = NULL;
	struct doctor_report rep = { 0 };
	struct doctor_ctx ctx = { 0 };
	_cleanup_free_ char *status_dir = NULL;
	int opt, r, rc;

	cli_common_init(&common);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, opt, optarg))
			continue;
		switch (opt) {
		case 'h':
		case CLI_OPT_HELP:
			help(stdout);
			return 0;
		default:
			cli_errorf("doctor: unknown or incomplete option '%s'; see 'banger doctor "
				   "--help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errorf("doctor: unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}

	/* The declarations as plan reads them (a repository's branch tip), for
	 * host.yaml; a missing state directory means defaults. */
	r = cli_source_read(&common, &src, &err);
	if (r == -ENOENT) {
		err = error_free(err);
		src = xcalloc(1, sizeof(*src));
		src->root = xstrdup(common.state_dir);
		r = 0;
	} else if (r < 0) {
		spec_error = errtext(err);
		err = error_free(err);
		src = xcalloc(1, sizeof(*src));
		src->root = xstrdup(common.state_dir);
		r = 0;
	}
	r = spec_load(src, &s, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}

	/* Absolute, as every other command makes it (a relative one would
	 * make the disk driver refuse it, a false error). */
	status_dir = cli_abs_path(common.status_dir			      ? common.status_dir
				  : s->host_valid && s->host.status_dir ? s->host.status_dir
									: DEFAULT_STATUS_DIR);

	r = doctor_probe_real_new(&probe, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	if (net_netlink_new(&net, &net_err) < 0)
		net_error = errtext(net_err);
	if (disk_real_new(status_dir, &disk, &disk_err) < 0)
		disk_error = errtext(disk_err);

	ctx = (struct doctor_ctx){
		.probe = probe,
		.net = net,
		.net_error = net_error,
		.disk = disk,
		.disk_error = disk_error,
		.spec = s,
		.spec_error = spec_error,
		.state_dir = common.state_dir,
		.status_dir = status_dir,
		.hosts_file = guest_hosts_file(status_dir),
		.dnsmasq_dir = guest_dnsmasq_dir(status_dir),
	};
	doctor_run(&ctx, &rep);
	if (common.json) {
		_cleanup_(json_decrefp) json_t *j = doctor_report_json(&rep, common.state_dir,
								      status_dir);

		if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
			r = -EIO;
		fputc('\n', stdout);
	} else
		doctor_report_print(&rep, stdout);
	rc = doctor_report_exit_code(&rep);
	doctor_report_done(&rep);
	if (fflush(stdout) != 0 || r < 0) {
		cli_errorf("doctor: writing the report: %s", strerror(errno ? errno : EIO));
		return EXIT_FAILED;
	}
	return rc;
}
