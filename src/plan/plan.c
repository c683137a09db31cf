/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The planner.  For each declared VM of this host, compare the declaration
 * with the facts observe found and list the steps, in the order a create
 * needs them (identity, bridge, tap, NAT, disks, file syncs, start, record);
 * then deletions of VMs no longer declared, then orphans.  Pure: everything
 * comes in through the arguments.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "plan/plan.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/sha256.h"
#include "util/strv.h"

static const char *const action_names[_ACTION_KIND_MAX] = {
	[ACTION_IDENTITY] = "identity",	  [ACTION_BRIDGE] = "bridge",
	[ACTION_TAP] = "tap",		  [ACTION_NAT] = "nat",
	[ACTION_NAT_DELETE] = "nat-delete", [ACTION_STOP] = "stop",
	[ACTION_VM_DIR] = "vm-dir",	  [ACTION_ROOT_REMOVE] = "root-remove",
	[ACTION_ROOT] = "root",		  [ACTION_WORK] = "work",
	[ACTION_WORK_GROW] = "work-grow",
	[ACTION_FILESYNC] = "filesync",	  [ACTION_WORKSPACE] = "workspace",
	[ACTION_START] = "start",
	[ACTION_RECORD] = "record",	  [ACTION_TAP_DELETE] = "tap-delete",
	[ACTION_WORK_RETAIN] = "work-retain", [ACTION_VM_DIR_REMOVE] = "vm-dir-remove",
	[ACTION_FORGET] = "forget",	  [ACTION_ORPHAN] = "orphan",
};

static const char *const change_names[_CHANGE_KIND_MAX] = {
	[CHANGE_CREATE] = "create",   [CHANGE_START] = "start",	  [CHANGE_STOP] = "stop",
	[CHANGE_RESTART] = "restart", [CHANGE_UPDATE] = "update", [CHANGE_REPAIR] = "repair",
	[CHANGE_DELETE] = "delete",   [CHANGE_ORPHAN] = "orphan",
};

const char *
action_kind_to_string(enum action_kind k)
{
	return k >= 0 && k < _ACTION_KIND_MAX ? action_names[k] : NULL;
}

const char *
change_kind_to_string(enum change_kind k)
{
	return k >= 0 && k < _CHANGE_KIND_MAX ? change_names[k] : NULL;
}

static void
orphan_done(struct observed_orphan *o)
{
	free(o->name);
	free(o->vm_name);
	free(o->vm_id);
	free(o->backing);
}

struct plan *
plan_free(struct plan *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_changes; i++) {
		free(p->changes[i].vm_name);
		free(p->changes[i].detail);
		vm_status_done(&p->changes[i].status);
	}
	free(p->changes);
	for (size_t i = 0; i < p->n_actions; i++) {
		free(p->actions[i].text);
		orphan_done(&p->actions[i].orphan);
	}
	free(p->actions);
	strv_free(p->held);
	strv_free(p->notes);
	free(p->refused);
	free(p);
	return NULL;
}

bool
plan_is_empty(const struct plan *p)
{
	return p->n_actions == 0;
}

static void
hash_str(struct sha256_ctx *c, const char *s)
{
	/* Length-prefixed so that ("ab","c") and ("a","bc") differ. */
	uint64_t n = s ? strlen(s) + 1 : 0;

	sha256_update(c, &n, sizeof(n));
	if (s)
		sha256_update(c, s, strlen(s));
}

void
plan_image_hash(const struct image_spec *img, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	hash_str(&c, img->kernel);
	hash_str(&c, img->rootfs);
	hash_str(&c, img->initrd);
	hash_str(&c, img->kernel_args);
	hash_str(&c, img->sha256_kernel);
	hash_str(&c, img->sha256_rootfs);
	hash_str(&c, img->sha256_initrd);
	sha256_final(&c, d);
	sha256_hex(d, out);
}

void
plan_image_root_hash(const struct image_spec *img, char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	hash_str(&c, "root");
	hash_str(&c, img->rootfs);
	hash_str(&c, img->sha256_rootfs);
	sha256_final(&c, d);
	sha256_hex(d, out);
}

static const struct image_spec *
find_image(const struct spec *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_images; i++)
		if (strcmp(s->images[i].name, name) == 0)
			return &s->images[i];
	return NULL;
}

static const struct filesync_spec *
find_filesync(const struct spec *s, const char *name)
{
	for (size_t i = 0; i < s->n_filesyncs; i++)
		if (strcmp(s->filesyncs[i].name, name) == 0)
			return &s->filesyncs[i];
	return NULL;
}

static size_t
n_seed_entries(const struct spec *s, const struct vm_spec *vm)
{
	size_t n = 0;

	for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++) {
		const struct filesync_spec *f = find_filesync(s, vm->filesyncs[i]);

		n += f ? f->n_entries : 0;
	}
	return n;
}

bool
plan_has_keys(const struct vm_spec *vm, const char *ssh_pubkey)
{
	return ssh_pubkey || (vm->ssh_authorized_keys && vm->ssh_authorized_keys[0]);
}

void
plan_seed_hash(const struct spec *s, const struct vm_spec *vm, char out[65])
{
	plan_seed_hash_keys(s, vm, NULL, out);
}

void
plan_seed_hash_keys(const struct spec *s, const struct vm_spec *vm, const char *ssh_pubkey,
		    char out[65])
{
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];

	sha256_init(&c);
	/* Without keys the hash is what it was before keys were seeded, so
	 * VMs made then are not re-seeded for nothing. */
	if (plan_has_keys(vm, ssh_pubkey)) {
		hash_str(&c, "authorized_keys");
		hash_str(&c, ssh_pubkey ? ssh_pubkey : "");
		for (size_t i = 0; vm->ssh_authorized_keys && vm->ssh_authorized_keys[i]; i++)
			hash_str(&c, vm->ssh_authorized_keys[i]);
	}
	for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++) {
		const struct filesync_spec *f = find_filesync(s, vm->filesyncs[i]);

		hash_str(&c, vm->filesyncs[i]);
		for (size_t j = 0; f && j < f->n_entries; j++) {
			char mode[16];

			snprintf(mode, sizeof(mode), "%d", f->entries[j].mode);
			hash_str(&c, f->entries[j].host);
			hash_str(&c, f->entries[j].guest);
			hash_str(&c, mode);
		}
	}
	sha256_final(&c, d);
	sha256_hex(d, out);
}

/* ---- building ---- */

struct ctx {
	const struct spec *d;
	const struct observed *obs;
	const struct plan_options *opt;
	struct plan *p;
	/* Addresses of the bridge's network taken (recorded, declared, or the
	 * derived MAC of which another VM declares), one bit each from net,
	 * and the first that may be free: allocation is in address order. */
	uint8_t *used;
	uint32_t net, n_addrs, next_free;
	/* Addresses a VM declares (network.ip), and those whose MAC (06:00 and
	 * the address) a VM declares: a VM that holds one without declaring it
	 * gives it up for a new one. */
	uint8_t *ip_claimed, *mac_claimed;
	enum plan_phase phase;	/* of the changes made now */
	/* VMs whose tap a guest of no status directory here holds (see
	 * tap_in_use_elsewhere): held, so their addresses stay taken. */
	char **taps_in_use;
	/* The last image hashed (most VMs share a few images). */
	const struct image_spec *hashed_img;
	char hashed_img_hash[65];
	char hashed_img_root_hash[65];
};

/* The bridge's network (a /8 at the widest: 2 MiB of bits; validation
 * refuses wider and narrower than /30, which have no room). */
static void
used_init(struct ctx *c)
{
	unsigned prefix = c->d->host.bridge_prefix;
	uint32_t mask;

	if (prefix < 8 || prefix > 30)
		return;
	mask = ~0U << (32 - prefix);
	c->net = c->d->host.bridge_addr & mask;
	c->n_addrs = ~mask + 1;
	c->used = xcalloc(c->n_addrs / 8 + 1, 1);
	c->ip_claimed = xcalloc(c->n_addrs / 8 + 1, 1);
	c->mac_claimed = xcalloc(c->n_addrs / 8 + 1, 1);
	c->next_free = 1;
}

static void
bit_set(const struct ctx *c, uint8_t *bits, uint32_t ip)
{
	uint32_t off = ip - c->net;

	if (bits && ip && off < c->n_addrs)
		bits[off / 8] |= (uint8_t)(1U << (off % 8));
}

static bool
bit_get(const struct ctx *c, const uint8_t *bits, uint32_t ip)
{
	uint32_t off = ip - c->net;

	return bits && off < c->n_addrs && (bits[off / 8] & (1U << (off % 8)));
}

static void
use_ip(struct ctx *c, uint32_t ip)
{
	bit_set(c, c->used, ip);
}

static bool
ip_used(const struct ctx *c, uint32_t ip)
{
	return bit_get(c, c->used, ip);
}

/* The address a VM declared MAC 06:00:a:b:c:d stands for. */
static uint32_t
mac_ip(const uint8_t mac[6])
{
	if (mac[0] != 0x06 || mac[1] != 0x00)
		return 0;
	return (uint32_t)mac[2] << 24 | (uint32_t)mac[3] << 16 | (uint32_t)mac[4] << 8 | mac[5];
}

/*
 * Whether vm, recorded at os_ip without declaring an address, must give it
 * up: another VM declares that address, or (its MAC being derived from the
 * address) the MAC that goes with it.
 */
static bool
address_claimed(const struct ctx *c, const struct vm_spec *vm, uint32_t os_ip)
{
	return !vm->has_ip && (bit_get(c, c->ip_claimed, os_ip) ||
			       (!vm->has_mac && bit_get(c, c->mac_claimed, os_ip)));
}

/* Is ip a host address of the bridge's network (the gateway excluded)? */
static bool
in_range(const struct ctx *c, uint32_t ip)
{
	unsigned prefix = c->d->host.bridge_prefix;
	uint32_t mask = prefix ? ~0U << (32 - prefix) : 0;
	uint32_t net = c->d->host.bridge_addr & mask, bcast = net | ~mask;

	return (ip & mask) == net && ip != net && ip != bcast && ip != c->d->host.bridge_addr;
}

/*
 * First free address of the bridge's range; 0 when the range is full.  The
 * addresses taken before are all marked before the first allocation, so the
 * search goes on from where the last one ended.
 */
static uint32_t
alloc_ip(struct ctx *c)
{
	if (!c->used)
		return 0;
	/* From net + 1 to the one before the broadcast address. */
	for (uint32_t off = c->next_free; off + 1 < c->n_addrs; off++) {
		uint32_t ip = c->net + off;

		if (ip != c->d->host.bridge_addr && !ip_used(c, ip)) {
			use_ip(c, ip);
			c->next_free = off + 1;
			return ip;
		}
	}
	c->next_free = c->n_addrs;
	return 0;
}

static struct plan_change *
new_change(struct ctx *c, enum change_kind kind, const char *vm_name)
{
	struct plan_change *ch;

	c->p->changes = xappend(c->p->changes, &c->p->n_changes, sizeof(*ch), (void **)&ch);
	ch->kind = kind;
	ch->phase = c->phase;
	ch->vm_name = vm_name ? xstrdup(vm_name) : NULL;
	ch->first = c->p->n_actions;
	return ch;
}

static struct plan_action *
add_action(struct ctx *c, enum action_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static struct plan_action *
add_action(struct ctx *c, enum action_kind kind, const char *fmt, ...)
{
	struct plan_action *a;
	va_list ap;

	c->p->actions = xappend(c->p->actions, &c->p->n_actions, sizeof(*a), (void **)&a);
	a->kind = kind;
	a->change = c->p->n_changes - 1;
	va_start(ap, fmt);
	a->text = xvasprintf(fmt, ap);
	va_end(ap);
	c->p->changes[c->p->n_changes - 1].n++;
	return a;
}

static bool
mine(const struct ctx *c, const struct vm_spec *vm)
{
	return !vm->host || (c->opt->host_name && strcasecmp(vm->host, c->opt->host_name) == 0);
}

char **
plan_may_start(const struct spec *d, const char *host_name)
{
	char **names = NULL;
	size_t n = 0;

	for (size_t i = 0; !spec_holds_all(d) && i < d->n_vms; i++) {
		const struct vm_spec *vm = &d->vms[i];

		if (vm->state == VM_STATE_RUNNING && !strv_contains(d->held_vms, vm->name) &&
		    (!vm->host || (host_name && strcasecmp(vm->host, host_name) == 0)))
			names = strv_push(names, &n, vm->name);
	}
	return names;
}

static bool
selected(const struct ctx *c, const char *name)
{
	return !c->opt->only || strv_contains(c->opt->only, name);
}

/*
 * Whether vm, observed as o, gives its address or MAC up in this run for
 * another (plan_declared's choice of address, without allocating one).
 */
static bool
moves_address(const struct ctx *c, const struct vm_spec *vm, const struct observed_vm *o)
{
	const struct vm_status *os = o ? &o->status : NULL;

	uint8_t mac[6];

	if (!os || !os->ip)
		return false;
	if (vm->has_ip ? vm->ip != os->ip
		       : !in_range(c, os->ip) || address_claimed(c, vm, os->ip))
		return true;
	/* The address stays: the MAC it will have, declared or derived. */
	if (vm->has_mac)
		memcpy(mac, vm->mac, 6);
	else
		mac_from_ip(os->ip, mac);
	return os->has_mac && memcmp(mac, os->mac, 6) != 0;
}

/*
 * The phase of vm's change: a VM moving to the address another VM has now
 * (which moves off it first) after those moving to free ones.  Two VMs
 * trading addresses, or a chain of them, all come in the second, where
 * apply stops every guest before it starts any.
 */
static enum plan_phase
phase_of(const struct ctx *c, const struct vm_spec *vm, const struct observed_vm *o)
{
	if (!moves_address(c, vm, o))
		return PLAN_PHASE_REST;
	for (size_t i = 0; vm->has_ip && i < c->obs->n_vms; i++)
		if (c->obs->vms[i].status.ip == vm->ip && strcmp(c->obs->vms[i].name, vm->name) != 0)
			return PLAN_PHASE_MOVE_ONTO;
	return PLAN_PHASE_MOVE;
}

/* Whether this run leaves observed VM name as it is: held, not among --only,
 * or declared for another host. */
static bool
left_alone(const struct ctx *c, const char *name)
{
	const struct vm_spec *vm = spec_find_vm(c->d, name);

	if (strv_contains(c->d->held_vms, name) || !selected(c, name) ||
	    strv_contains(c->taps_in_use, name))
		return true;
	return vm && !mine(c, vm);
}

/*
 * A declared address or MAC that a VM this run leaves alone has (recorded in
 * its status): vm is held, naming that VM; true then.  (A VM the run changes
 * or deletes gives the address up first: plan_build orders them.)
 */
static bool
address_left_alone(struct ctx *c, const struct vm_spec *vm, uint32_t ip, const uint8_t mac[6])
{
	for (size_t i = 0; i < c->obs->n_vms; i++) {
		const struct observed_vm *o = &c->obs->vms[i];
		char what[32];

		if (strcmp(o->name, vm->name) == 0 || !o->status.ip)
			continue;
		if (o->status.ip == ip)
			ipv4_format(ip, what);
		else if (o->status.has_mac && memcmp(o->status.mac, mac, 6) == 0)
			mac_format(mac, what);
		else
			continue;
		if (!left_alone(c, o->name))
			continue;
		c->p->held = strv_append_take(
			c->p->held, xasprintf("%s: %s: %s belongs to vm '%s', which this run leaves "
					      "alone (held, not among --only, or of another host)",
					      vm->name, vm->path, what, o->name));
		return true;
	}
	return false;
}

static bool
str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether the VM's NAT rules go out through the uplink this host has now
 * (true when that is unknown, or the VM has no rules). */
static bool
nat_uplink_ok(const struct ctx *c, const struct observed_vm *o)
{
	if (!c->opt->uplink || !o)
		return true;
	return (!o->nat_masq || str_eq(o->nat_masq_uplink, c->opt->uplink)) &&
	       (!o->nat_fwd || str_eq(o->nat_fwd_uplink, c->opt->uplink));
}

static void
diff_add(char ***diffs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
diff_add(char ***diffs, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*diffs = strv_append_take(*diffs, xvasprintf(fmt, ap));
	va_end(ap);
}

static char *
strv_join(char *const *l, const char *sep)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; l && l[i]; i++)
		len += strlen(l[i]) + strlen(sep);
	s = xcalloc(1, len);
	for (size_t i = 0; l && l[i]; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, l[i]);
	}
	return s;
}

/*
 * A tap of the VM's that a process holds open (its carrier is up) while no
 * guest of this status directory runs: a guest banger does not know, such
 * as the one a run with another status directory started, uses it.  A
 * second guest on the same addresses and disks, or a deletion under it,
 * would harm that one: the VM is held, naming the tap.  True then.
 */
static bool
tap_in_use_elsewhere(struct ctx *c, const struct observed_vm *o)
{
	if (!o || !o->tap_present || !o->tap_carrier || o->proc_alive)
		return false;
	c->p->held = strv_append_take(
		c->p->held,
		xasprintf("%s: its tap %s is held open by a process that is not a guest of this "
			  "status directory (another status directory's?); left alone",
			  o->name, o->status.tap[0] ? o->status.tap : "?"));
	return true;
}

static void
plan_declared(struct ctx *c, const struct vm_spec *vm, const struct observed_vm *o)
{
	const struct host_spec *host = &c->d->host;
	const struct image_spec *img = find_image(c->d, vm->image);
	const struct vm_status *os = o ? &o->status : NULL;
	_cleanup_strv_free_ char **diffs = NULL;
	struct plan_change *ch;
	char image_hash[65], root_hash[65], seed_hash[65], ipbuf[16], macbuf[18], a[32], b[32];
	uint8_t mac[6];
	uint32_t ip;
	bool fresh, creating, alive, tap_ok, dir, root_ok, work_ok, restart_diff = false;
	bool root_redo = false, need_seed, intent_start, restart, need_stop, need_start, moving;
	bool tap_lost, overlay_moot = false, work_moot = false, work_grow = false;
	uint64_t work_size = 0;
	/* Stopped for idleness at this generation: stays stopped (plan/idle.h). */
	bool idle_held = o && o->status.stopped_idle &&
			 strcmp(o->status.stopped_generation, vm->generation) == 0;
	bool want_run = vm->state == VM_STATE_RUNNING && !idle_held;
	size_t n_entries = n_seed_entries(c->d, vm) + (plan_has_keys(vm, c->opt->ssh_pubkey) ? 1 : 0);
	enum vm_phase want_phase = want_run ? VM_PHASE_RUNNING : VM_PHASE_STOPPED;

	if (!img) {
		c->p->held = strv_append_take(c->p->held,
					      xasprintf("%s: %s: image '%s' is not declared",
							vm->name, vm->path, vm->image));
		return;
	}
	if (c->hashed_img != img) {
		plan_image_hash(img, c->hashed_img_hash);
		plan_image_root_hash(img, c->hashed_img_root_hash);
		c->hashed_img = img;
	}
	memcpy(image_hash, c->hashed_img_hash, sizeof(image_hash));
	memcpy(root_hash, c->hashed_img_root_hash, sizeof(root_hash));
	plan_seed_hash_keys(c->d, vm, c->opt->ssh_pubkey, seed_hash);
	if (tap_in_use_elsewhere(c, o))
		return;
	fresh = !os || !os->id[0];
	creating = fresh || !os->generation[0];

	/* Address: declared, else recorded (unless another VM declares it),
	 * else the first free one. */
	if (vm->has_ip)
		ip = vm->ip;
	else if (os && os->ip && in_range(c, os->ip) && !address_claimed(c, vm, os->ip))
		ip = os->ip;
	else
		ip = alloc_ip(c);
	if (!ip) {
		c->p->held = strv_append_take(c->p->held,
					      xasprintf("%s: %s: no free address left in %s's range",
							vm->name, vm->path, host->bridge_name));
		return;
	}
	if (vm->has_mac)
		memcpy(mac, vm->mac, 6);
	else
		mac_from_ip(ip, mac);
	if ((vm->has_ip || vm->has_mac) && address_left_alone(c, vm, ip, mac))
		return;

	alive = o && o->proc_alive;
	tap_ok = o && o->tap_present && o->tap_ok && str_eq(o->tap_master, host->bridge_name);
	/* A running guest that holds no tap (its tap was deleted; one made
	 * again by that name is a new device it is not on) has no network
	 * until it starts again. */
	tap_lost = alive && (!o->tap_present || !o->tap_carrier);
	dir = o && o->dir_present;
	root_ok = dir && os->root_ready && !o->root_file_missing &&
		  (os->disk_strategy != DISK_STRATEGY_DM_SNAPSHOT || o->dm_present);
	work_ok = vm->work_disk == 0 || (dir && os->work_ready && !o->work_missing);
	if (o && o->work_missing && vm->work_disk)
		c->p->notes = strv_append_take(
			c->p->notes,
			xasprintf("%s: its work disk %s is missing (moved or removed by hand): a "
				  "new, empty one is made; put the old one back before this runs "
				  "to keep its data",
				  vm->name, os->work_path));

	if (!creating) {
		const struct vm_applied *ap = &os->applied;

		if (ap->vcpus != vm->vcpus)
			diff_add(&diffs, "vcpus %u -> %u", ap->vcpus, vm->vcpus);
		if (ap->memory != vm->memory) {
			size_format(ap->memory, a);
			size_format(vm->memory, b);
			diff_add(&diffs, "memory %s -> %s", a, b);
		}
		if (ap->hypervisor != vm->hypervisor)
			diff_add(&diffs, "hypervisor %s -> %s",
				 status_hypervisor_to_string(ap->hypervisor),
				 status_hypervisor_to_string(vm->hypervisor));
		if (!str_eq(ap->image, vm->image)) {
			diff_add(&diffs, "image %s -> %s", ap->image ? ap->image : "none", vm->image);
			root_redo = true;
		} else if (strcmp(ap->image_hash, image_hash) != 0) {
			diff_add(&diffs, "image %s changed", vm->image);
			/* A new kernel, initrd or kernel arguments restart the VM on
			 * the root disk it has; a new root file system needs a new
			 * one.  A record from before root hashes were kept cannot
			 * tell which changed: its root disk is made anew. */
			root_redo = !ap->root_hash[0] || strcmp(ap->root_hash, root_hash) != 0;
		}
		if (!str_eq(ap->kernel_args, vm->kernel_args))
			diff_add(&diffs, "kernel_args '%s' -> '%s'",
				 ap->kernel_args ? ap->kernel_args : "",
				 vm->kernel_args ? vm->kernel_args : "");
		/* The overlay is the room for the guest's changes under
		 * dm-snapshot; a copied or cloned root disk is the whole image,
		 * which a new size does not change (recorded, no restart). */
		if (ap->system_overlay != vm->system_overlay &&
		    (os->disk_strategy == DISK_STRATEGY_COPY ||
		     os->disk_strategy == DISK_STRATEGY_REFLINK) &&
		    root_ok) {
			overlay_moot = true;
		} else if (ap->system_overlay != vm->system_overlay) {
			size_format(ap->system_overlay, a);
			size_format(vm->system_overlay, b);
			diff_add(&diffs, "disks.system_overlay %s -> %s", a, b);
			root_redo = true;
		}
		/* A work disk is never made anew: its data is the user's.  A
		 * larger size grows it (the VM stopped); a smaller one is only
		 * recorded, the disk kept as it is. */
		/* The disk's size as made or grown (a record from before it
		 * was kept: the size last applied). */
		work_size = os->work_size ? os->work_size : ap->work_disk;
		if (ap->work_disk != vm->work_disk && ap->work_disk && vm->work_disk && work_ok &&
		    vm->work_disk <= work_size) {
			work_moot = true;
		} else if (ap->work_disk != vm->work_disk) {
			size_format(ap->work_disk, a);
			size_format(vm->work_disk, b);
			diff_add(&diffs, "disks.work %s -> %s", a, b);
			work_grow = ap->work_disk && vm->work_disk && work_ok;
		}
		if (os->ip != ip) {
			char old[16];

			ipv4_format(os->ip, old);
			ipv4_format(ip, ipbuf);
			diff_add(&diffs, "ip %s -> %s", old, ipbuf);
		}
		if (os->has_mac && memcmp(os->mac, mac, 6) != 0) {
			char old[18];

			mac_format(os->mac, old);
			mac_format(mac, macbuf);
			diff_add(&diffs, "mac %s -> %s", old, macbuf);
		}
		if (strcmp(ap->seed_hash, seed_hash) != 0)
			diff_add(&diffs, "file syncs changed");
		/* The generation covers every field that needs a restart: one the
		 * comparisons above do not name still counts. */
		if (!diffs && strcmp(os->generation, vm->generation) != 0) {
			char g[65];

			if (overlay_moot || work_moot)
				spec_vm_generation_with(vm, img,
							overlay_moot ? ap->system_overlay
								     : vm->system_overlay,
							work_moot ? ap->work_disk : vm->work_disk, g);
			if (!(overlay_moot || work_moot) || strcmp(os->generation, g) != 0)
				diff_add(&diffs, "declaration changed");
		}
		restart_diff = diffs != NULL;
		if (overlay_moot) {
			size_format(ap->system_overlay, a);
			size_format(vm->system_overlay, b);
			diff_add(&diffs, "disks.system_overlay %s -> %s, of no effect on a %s root disk", a, b,
				 disk_strategy_to_string(os->disk_strategy));
		}
		if (work_moot) {
			size_format(ap->work_disk, a);
			size_format(vm->work_disk, b);
			if (vm->work_disk < work_size)
				diff_add(&diffs, "disks.work %s -> %s: the work disk kept as it is, "
						 "never shrunk", a, b);
			else
				diff_add(&diffs, "disks.work %s -> %s: the work disk has that size "
						 "already", a, b);
		}
		if (ap->nat != vm->nat)
			diff_add(&diffs, "nat %s -> %s", ap->nat ? "on" : "off", vm->nat ? "on" : "off");
		if (ap->on_delete != vm->on_delete)
			diff_add(&diffs, "on_delete %s -> %s", status_on_delete_to_string(ap->on_delete),
				 status_on_delete_to_string(vm->on_delete));
	}
	need_seed = vm->work_disk && n_entries &&
		    (!work_ok || !os->seeded || strcmp(os->applied.seed_hash, seed_hash) != 0);
	intent_start = os && os->intent && strcmp(os->intent, "start") == 0;
	restart = alive && (creating || restart_diff || root_redo || !root_ok || !work_ok ||
			    need_seed || intent_start || tap_lost);
	need_stop = alive && (!want_run || restart);
	need_start = want_run && (!alive || restart);
	/* A running guest is stopped for a restart only when the start after it
	 * can happen: its hypervisor's program is there. */
	if (need_stop && need_start && vm->hypervisor >= 0 && vm->hypervisor < _HYPERVISOR_MAX &&
	    c->opt->hv_missing[vm->hypervisor]) {
		c->p->held = strv_append_take(
			c->p->held,
			xasprintf("%s: %s: its restart needs %s, whose program is not found; the "
				  "running guest is left as it is (see banger doctor)",
				  vm->name, vm->path, status_hypervisor_to_string(vm->hypervisor)));
		return;
	}
	/* The file syncs are copied in again at every start: the VM is
	 * stopped then, and gets the host files as they are now. */
	if (need_start && vm->work_disk && n_entries)
		need_seed = true;

	ch = new_change(c, CHANGE_CREATE, vm->name);
	ch->vm = vm;
	ch->image = img;
	ch->fresh = fresh;
	ch->idle_held = idle_held;
	memcpy(ch->image_hash, image_hash, sizeof(image_hash));
	memcpy(ch->root_hash, root_hash, sizeof(root_hash));
	memcpy(ch->seed_hash, seed_hash, sizeof(seed_hash));
	if (os) {
		vm_status_copy(&ch->status, os);
		ch->from_ip = os->ip;
		memcpy(ch->from_mac, os->mac, 6);
		ch->from_has_mac = os->has_mac;
	} else
		ch->status.name = xstrdup(vm->name);
	ch->status.ip = ip;
	memcpy(ch->status.mac, mac, 6);
	ch->status.has_mac = true;
	ch->status.pid = alive ? o->proc_pid : 0;
	/* A lost status does not say which hypervisor runs it: the declared
	 * one is the best guess for a graceful stop. */
	if (o && !o->has_status)
		ch->status.applied.hypervisor = vm->hypervisor;
	ipv4_format(ip, ipbuf);
	mac_format(mac, macbuf);

	if (fresh)
		add_action(c, ACTION_IDENTITY, "identity: new id, ip %s, mac %s", ipbuf, macbuf);
	/* The bridge is made sure of for a new tap, and for a VM moving to
	 * another address: bridge.address may have changed, which banger
	 * does not apply to an existing bridge (the step fails, saying so,
	 * before the VM is stopped). */
	if (!tap_ok || (os && os->ip && os->ip != ip)) {
		char gw[16];

		ipv4_format(host->bridge_addr, gw);
		add_action(c, ACTION_BRIDGE, "bridge %s %s/%u", host->bridge_name, gw,
			   host->bridge_prefix);
	}
	if (!tap_ok)
		add_action(c, ACTION_TAP, "tap %s on %s", fresh ? "(new)" : os->tap,
			   host->bridge_name);
	/* A running VM moving to another address keeps its rules until it
	 * stops: the record says the address its guest has until then. */
	moving = need_stop && os && os->ip && os->ip != ip;
	if (moving)
		add_action(c, ACTION_STOP, "stop pid %d", (int)o->proc_pid);
	if (vm->nat) {
		bool nat_ok = o && o->nat_masq && o->nat_fwd && o->nat_ip == ip &&
			      o->n_nat_rules == 2 && !fresh && nat_uplink_ok(c, o);

		if (!nat_ok && o && o->n_nat_rules)
			add_action(c, ACTION_NAT_DELETE, "delete stale nat rules");
		if (!nat_ok)
			add_action(c, ACTION_NAT, "nat for %s via %s", ipbuf,
				   host->uplink && strcmp(host->uplink, "auto") != 0
					   ? host->uplink
					   : "the default route's interface");
	} else if (o && o->n_nat_rules) {
		add_action(c, ACTION_NAT_DELETE, "delete nat rules");
	}
	if (need_stop && !moving)
		add_action(c, ACTION_STOP, "stop pid %d", (int)o->proc_pid);
	if (!dir)
		add_action(c, ACTION_VM_DIR, "create vm directory");
	if (root_redo && dir && os->root_ready)
		add_action(c, ACTION_ROOT_REMOVE, "remove root disk of image %s",
			   os->applied.image ? os->applied.image : "?");
	if (!root_ok || root_redo) {
		size_format(vm->system_overlay, a);
		switch (host->disk_strategy) {
		case DISK_STRATEGY_COPY:
			add_action(c, ACTION_ROOT, "root disk: a copy of %s", img->rootfs);
			break;
		case DISK_STRATEGY_REFLINK:
			add_action(c, ACTION_ROOT, "root disk: a clone of %s", img->rootfs);
			break;
		case DISK_STRATEGY_DM_SNAPSHOT:
			add_action(c, ACTION_ROOT, "root disk over %s (%s overlay)", img->rootfs, a);
			break;
		default:
			add_action(c, ACTION_ROOT,
				   "root disk from %s (strategy auto: a %s overlay under dm-snapshot, "
				   "else a clone or a copy)",
				   img->rootfs, a);
			break;
		}
	}
	if (vm->work_disk && !work_ok) {
		size_format(vm->work_disk, a);
		/* A record rebuilt from host marks: the disk there, if any, is
		 * taken as it is (work_create never makes one anew). */
		add_action(c, ACTION_WORK, "work disk %s%s", a,
			   o && o->rebuilt && dir ? " (one already there is kept, data and all)" : "");
	}
	if (work_grow) {
		size_format(work_size, a);
		size_format(vm->work_disk, b);
		add_action(c, ACTION_WORK_GROW, "grow the work disk %s -> %s (its data kept)", a, b);
	}
	if (need_seed) {
		/* The declared entries, and the authorized ssh keys (banger's and
		 * the VM's ssh_authorized_keys) that go there too. */
		size_t n_decl = n_seed_entries(c->d, vm);
		bool key = plan_has_keys(vm, c->opt->ssh_pubkey);

		if (!n_decl)
			add_action(c, ACTION_FILESYNC, "file syncs: the ssh keys");
		else
			add_action(c, ACTION_FILESYNC, "file syncs: %zu entr%s%s", n_decl,
				   n_decl == 1 ? "y" : "ies", key ? " and the ssh keys" : "");
	}
	/* The workspace is materialised again whenever the work disk is new or
	 * the VM is about to start (it is stopped then, so nothing has the work
	 * disk open); a running VM keeps what it has. */
	if (vm->workspace.repo && vm->work_disk && (need_start || !work_ok))
		add_action(c, ACTION_WORKSPACE, "workspace %s%s%s (%s) at %s", vm->workspace.repo,
			   vm->workspace.ref ? "@" : "", vm->workspace.ref ? vm->workspace.ref : "",
			   workspace_mode_to_string(vm->workspace.mode), vm->workspace.path);
	if (need_start)
		add_action(c, ACTION_START, "start (%s, %u vcpu%s, %s)",
			   status_hypervisor_to_string(vm->hypervisor), vm->vcpus,
			   vm->vcpus == 1 ? "" : "s", (size_format(vm->memory, a), a));
	if (ch->n || diffs || !os || strcmp(os->generation, vm->generation) != 0 ||
	    os->phase != want_phase ||
	    os->intent || os->last_error || os->applied.state != vm->state ||
	    (os->stopped_idle && !idle_held))
		add_action(c, ACTION_RECORD, "record generation %.12s", vm->generation);
	ch = &c->p->changes[c->p->n_changes - 1];
	if (!ch->n) {
		/* Nothing to do: drop the change. */
		vm_status_done(&ch->status);
		free(ch->vm_name);
		c->p->n_changes--;
		c->p->n_unchanged++;
		return;
	}
	if (creating) {
		ch->kind = CHANGE_CREATE;
		size_format(vm->memory, a);
		ch->detail = xasprintf("%s, %u vcpu%s, %s, ip %s", status_state_to_string(vm->state),
				       vm->vcpus, vm->vcpus == 1 ? "" : "s", a, ipbuf);
		if (!fresh) {
			free(ch->detail);
			ch->detail = xasprintf("%s, %s, ip %s",
					       o && o->rebuilt ? "identity rebuilt from host marks"
							       : "resumed",
					       status_state_to_string(vm->state), ipbuf);
		}
	} else if (need_stop && need_start) {
		ch->kind = CHANGE_RESTART;
		if (diffs)
			ch->detail = strv_join(diffs, ", ");
		else if (intent_start)
			ch->detail = xstrdup("an earlier start did not finish");
		else if (tap_lost)
			ch->detail = xstrdup(o->tap_present ? "the guest is not on its tap"
							    : "tap missing under the running guest");
		else
			ch->detail = xstrdup("disks need repair");
	} else if (need_start) {
		bool died = os->applied.state == VM_STATE_RUNNING && os->phase == VM_PHASE_RUNNING;

		ch->kind = died ? CHANGE_REPAIR : CHANGE_START;
		ch->detail = died ? xstrdup("process is gone") : diffs ? strv_join(diffs, ", ") : NULL;
	} else if (need_stop) {
		ch->kind = CHANGE_STOP;
		ch->detail = diffs	 ? strv_join(diffs, ", ")
			     : idle_held ? xstrdup("idle: stopped for idleness")
					 : NULL;
	} else if (diffs) {
		ch->kind = CHANGE_UPDATE;
		ch->detail = strv_join(diffs, ", ");
	} else if (ch->n > 1) {
		_cleanup_strv_free_ char **what = NULL;

		ch->kind = CHANGE_REPAIR;
		for (size_t i = ch->first; i < ch->first + ch->n; i++) {
			enum action_kind k = c->p->actions[i].kind;

			if (k == ACTION_TAP)
				what = strv_append(what, o && o->tap_present ? "tap detached"
									     : "tap missing");
			else if (k == ACTION_NAT && o && o->n_nat_rules && !nat_uplink_ok(c, o))
				what = strv_append_take(
					what, xasprintf("nat via %s, not the uplink %s",
							o->nat_masq_uplink ? o->nat_masq_uplink
									   : o->nat_fwd_uplink,
							c->opt->uplink));
			else if (k == ACTION_NAT)
				what = strv_append(what, "nat rules missing");
			else if (k == ACTION_VM_DIR)
				what = strv_append(what, "vm directory missing");
			else if (k == ACTION_ROOT && !strv_contains(what, "vm directory missing"))
				what = strv_append(what, "root disk missing");
			else if (k == ACTION_WORK && !strv_contains(what, "vm directory missing"))
				what = strv_append(what, "work disk missing");
		}
		ch->detail = what ? strv_join(what, ", ") : NULL;
	} else {
		ch->kind = CHANGE_UPDATE;
		if (os->phase != want_phase)
			ch->detail = xasprintf("phase %s -> %s", vm_phase_to_string(os->phase),
					       vm_phase_to_string(want_phase));
		else if (os->last_error)
			ch->detail = xstrdup("clear the last error");
	}
}

static bool
plan_delete(struct ctx *c, const struct observed_vm *o)
{
	const struct vm_status *s = &o->status;
	bool retain = s->applied.on_delete == ON_DELETE_RETAIN;
	struct plan_change *ch;

	if (tap_in_use_elsewhere(c, o))
		return false;
	ch = new_change(c, CHANGE_DELETE, o->name);
	vm_status_copy(&ch->status, s);
	ch->status.pid = o->proc_alive ? o->proc_pid : 0;
	/* An unusable record says nothing of the work disk: the record this
	 * delete writes says it may be there, so that a run cut short (or a
	 * retain that failed) is followed by one that still keeps it. */
	if (!o->has_status && o->dir_present && retain)
		ch->status.work_ready = true;
	if (o->proc_alive)
		add_action(c, ACTION_STOP, "stop pid %d", (int)o->proc_pid);
	if (o->n_nat_rules)
		add_action(c, ACTION_NAT_DELETE, "delete nat rules");
	if (o->tap_present)
		add_action(c, ACTION_TAP_DELETE, "delete tap %s", s->tap);
	if (s->root_ready || o->dm_present || o->n_loops)
		add_action(c, ACTION_ROOT_REMOVE, "remove root disk");
	if (o->dir_present && retain && (s->work_ready || !o->has_status)) {
		_cleanup_free_ char *dest = status_retained_path(c->opt->status_dir, o->name,
								  s->id[0] ? s->id : "unknown-INODE");

		/* The driver names a disk whose VM id is lost by its inode. */
		add_action(c, ACTION_WORK_RETAIN, "keep the work disk as %s", dest);
	}
	if (o->dir_present)
		add_action(c, ACTION_VM_DIR_REMOVE, "remove vm directory");
	add_action(c, ACTION_FORGET, "forget the status file");
	ch = &c->p->changes[c->p->n_changes - 1];
	if (!o->has_status)
		ch->detail = xstrdup("its status file is unusable");
	else if (s->work_ready)
		ch->detail = xstrdup(retain ? "work disk kept" : "work disk purged");
	return true;
}

static void
plan_orphan(struct ctx *c, const struct observed_orphan *x)
{
	struct plan_action *a;
	char *desc;

	new_change(c, CHANGE_ORPHAN, NULL);
	if (x->kind == ORPHAN_NAT_RULE && x->vm_id)
		desc = xasprintf("nat rule %s handle %" PRIu64 " (id %.8s)", x->name, x->handle,
				 x->vm_id);
	else if (x->kind == ORPHAN_NAT_RULE)
		desc = xasprintf("nat rule %s handle %" PRIu64 " (no vm id: not made by banger)",
				 x->name, x->handle);
	else if (x->kind == ORPHAN_PROC)
		desc = xasprintf("process %d (%s)", (int)x->pid, x->name);
	else if (x->vm_name)
		desc = xasprintf("%s %s (vm '%s')", orphan_kind_to_string(x->kind), x->name,
				 x->vm_name);
	else
		desc = xasprintf("%s %s", orphan_kind_to_string(x->kind), x->name);
	a = add_action(c, ACTION_ORPHAN, "remove %s", desc);
	c->p->changes[c->p->n_changes - 1].detail = desc;
	a->orphan = *x;
	a->orphan.name = xstrdup(x->name);
	a->orphan.vm_name = x->vm_name ? xstrdup(x->vm_name) : NULL;
	a->orphan.vm_id = x->vm_id ? xstrdup(x->vm_id) : NULL;
	a->orphan.backing = x->backing ? xstrdup(x->backing) : NULL;
}

static int
cmp_vm_ptr(const void *a, const void *b)
{
	const struct vm_spec *x = *(const struct vm_spec *const *)a;
	const struct vm_spec *y = *(const struct vm_spec *const *)b;

	return strcmp(x->name, y->name);
}

static int
cmp_name_vm_ptr(const void *key, const void *elem)
{
	return strcmp(key, (*(const struct vm_spec *const *)elem)->name);
}

/* order: d's VMs sorted by name (a binary search, so a host of many VMs
 * does not pay the square of their number). */
static bool
declared_anywhere(const struct spec *d, const struct vm_spec *const *order, const char *name)
{
	if (bsearch(name, order, d->n_vms, sizeof(*order), cmp_name_vm_ptr))
		return true;
	return strv_contains(d->held_vms, name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Whether file ("vms/web.yml", "vms/old/web.yaml", "vms/Web.yaml") is an
 * unread or misnamed file of VM name. */
static bool
diag_names_vm_file(const char *file, const char *name)
{
	const char *base, *ext;
	size_t n = strlen(name);

	if (!file || strncmp(file, "vms/", 4) != 0)
		return false;
	base = strrchr(file, '/') + 1;
	if (strncasecmp(base, name, n) != 0 || base[n] != '.')
		return false;
	ext = base + n;
	return strcasecmp(ext, ".yml") == 0 || strcasecmp(ext, ".yaml") == 0;
}

static void
plan_held(struct ctx *c)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ bool *used = xcalloc(c->d->n_diags + 1, sizeof(bool));

	if (spec_holds_all(c->d))
		for (size_t i = 0; i < c->d->n_vms; i++)
			names = strv_append(names, c->d->vms[i].name);
	for (size_t i = 0; c->d->held_vms && c->d->held_vms[i]; i++)
		if (!strv_contains(names, c->d->held_vms[i]))
			names = strv_append(names, c->d->held_vms[i]);
	if (names)
		qsort(names, strv_length(names), sizeof(char *), cmp_str);
	for (size_t i = 0; names && names[i]; i++) {
		_cleanup_free_ char *own = xasprintf("vms/%s.yaml", names[i]);
		const struct spec_diag *dg = NULL;

		if (!selected(c, names[i]))
			continue;
		for (size_t j = 0; j < c->d->n_diags && !dg; j++) {
			const char *f = c->d->diags[j].file;
			size_t fl = f ? strlen(f) : 0, ol = strlen(own);

			if (fl >= ol && strcmp(f + fl - ol, own) == 0 &&
			    (fl == ol || f[fl - ol - 1] == '/')) {
				dg = &c->d->diags[j];
				used[j] = true;
			}
		}
		/* Held by a file of its name that is not read: vms/web.yml,
		 * vms/old/web.yaml. */
		for (size_t j = 0; j < c->d->n_diags && !dg && !spec_holds_all(c->d); j++)
			if (diag_names_vm_file(c->d->diags[j].file, names[i])) {
				dg = &c->d->diags[j];
				used[j] = true;
			}
		if (dg)
			c->p->held = strv_append_take(c->p->held,
						      xasprintf("%s: %s:%u:%u: %s", names[i], dg->file,
								dg->line, dg->col, dg->msg));
		else if (!c->d->host_valid)
			c->p->held = strv_append_take(c->p->held,
						      xasprintf("%s: host.yaml is invalid", names[i]));
		else if (c->d->hold_all_by)
			c->p->held = strv_append_take(
				c->p->held, xasprintf("%s: %s is not read, and there is no host.yaml",
						      names[i], c->d->hold_all_by));
		else
			c->p->held = strv_append_take(
				c->p->held,
				xasprintf("%s: a file it depends on is invalid", names[i]));
	}
	for (size_t j = 0; j < c->d->n_diags; j++)
		if (!used[j])
			c->p->notes = strv_append_take(
				c->p->notes, xasprintf("error: %s:%u:%u: %s", c->d->diags[j].file,
						       c->d->diags[j].line, c->d->diags[j].col,
						       c->d->diags[j].msg));
}

int
plan_build(const struct spec *desired, const struct observed *obs,
	   const struct plan_options *opt, struct plan **ret, struct error **err)
{
	_cleanup_(plan_freep) struct plan *p = xcalloc(1, sizeof(*p));
	_cleanup_free_ const struct vm_spec **order = NULL;
	_cleanup_free_ const struct observed_vm **found = NULL;
	_cleanup_free_ int *phases = NULL;
	struct ctx c = { .d = desired, .obs = obs, .opt = opt, .p = p };
	size_t n_deletes = 0;

	if (!opt || !opt->status_dir)
		return error_set(err, -EINVAL, "plan: no status directory");
	p->held = strv_copy(NULL);
	p->notes = strv_copy(NULL);
	for (size_t i = 0; obs->problems && obs->problems[i]; i++)
		p->notes = strv_append(p->notes, obs->problems[i]);
	plan_held(&c);

	/* Every address already taken, recorded or declared, is skipped; so
	 * is one whose MAC (06:00 and the address) a VM declares as its own. */
	used_init(&c);
	for (size_t i = 0; i < obs->n_vms; i++) {
		const struct observed_vm *o = &obs->vms[i];

		use_ip(&c, o->status.ip);
		if (o->tap_present && o->tap_carrier && !o->proc_alive)
			c.taps_in_use = strv_append(c.taps_in_use, o->name);
	}
	for (size_t i = 0; i < obs->n_nat_ips; i++)
		use_ip(&c, obs->nat_ips[i]);
	for (size_t i = 0; i < desired->n_vms; i++) {
		const struct vm_spec *v = &desired->vms[i];

		if (v->has_ip) {
			use_ip(&c, v->ip);
			bit_set(&c, c.ip_claimed, v->ip);
		}
		if (v->has_mac && mac_ip(v->mac)) {
			use_ip(&c, mac_ip(v->mac));
			bit_set(&c, c.mac_claimed, mac_ip(v->mac));
		}
	}

	/*
	 * Orphans go first: nothing claims them, and removing them first frees
	 * what a VM's own steps might otherwise trip over (a dm target over a
	 * loop device of a VM being deleted whose id is unknown).
	 */
	if (!spec_holds_all(desired) && !opt->only)
		for (int k = 0; k < _ORPHAN_KIND_MAX; k++)
			for (size_t i = 0; i < obs->n_orphans; i++)
				if ((int)obs->orphans[i].kind == k)
					plan_orphan(&c, &obs->orphans[i]);
	order = xcalloc(desired->n_vms + 1, sizeof(*order));
	for (size_t i = 0; i < desired->n_vms; i++)
		order[i] = &desired->vms[i];
	qsort(order, desired->n_vms, sizeof(*order), cmp_vm_ptr);
	/*
	 * Deletions next, then the VMs that leave their address or MAC for
	 * another, then the rest: what one gives up is free before another
	 * takes it (a renamed VM, an address declared that another VM had
	 * been given).  apply runs each of these phases to its end before the
	 * next begins.
	 */
	c.phase = PLAN_PHASE_DELETE;
	for (size_t i = 0; !spec_holds_all(desired) && i < obs->n_vms; i++) {
		const struct observed_vm *o = &obs->vms[i];

		if (declared_anywhere(desired, order, o->name) || !selected(&c, o->name))
			continue;
		if (plan_delete(&c, o))
			n_deletes++;
	}
	/* Each declared VM's phase once (-1: not planned), then phase by phase. */
	phases = xcalloc(desired->n_vms + 1, sizeof(*phases));
	found = xcalloc(desired->n_vms + 1, sizeof(*found));
	for (size_t i = 0; i < desired->n_vms; i++) {
		const struct vm_spec *vm = order[i];

		phases[i] = -1;
		found[i] = observed_find(obs, vm->name);
		if (spec_holds_all(desired) || strv_contains(desired->held_vms, vm->name) ||
		    !selected(&c, vm->name))
			continue;
		if (!mine(&c, vm)) {
			if (found[i])
				p->notes = strv_append_take(
					p->notes, xasprintf("%s: declared for host '%s', not this host "
							    "('%s'): left alone",
							    vm->name, vm->host,
							    opt->host_name ? opt->host_name : "?"));
			continue;
		}
		phases[i] = (int)phase_of(&c, vm, found[i]);
	}
	for (c.phase = PLAN_PHASE_MOVE; c.phase <= PLAN_PHASE_REST; c.phase++)
		for (size_t i = 0; i < desired->n_vms; i++)
			if (phases[i] == (int)c.phase)
				plan_declared(&c, order[i], found[i]);
	if (n_deletes > 1 && n_deletes * 2 > obs->n_vms && !opt->allow_mass_delete)
		p->refused = xasprintf("this run would delete %zu of the %zu existing vms; "
				       "refusing without --allow-mass-delete",
				       n_deletes, obs->n_vms);
	free(c.used);
	free(c.ip_claimed);
	free(c.mac_claimed);
	strv_free(c.taps_in_use);
	*ret = TAKE_PTR(p);
	return 0;
}

/* ---- text ---- */

static char
change_sign(enum change_kind k)
{
	switch (k) {
	case CHANGE_CREATE:
		return '+';
	case CHANGE_DELETE:
	case CHANGE_ORPHAN:
		return '-';
	default:
		return '~';
	}
}

char *
plan_format(const struct plan *p)
{
	char *buf = NULL;
	size_t len = 0, n_create = 0, n_change = 0, n_delete = 0, n_orphan = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; i < p->n_changes; i++) {
		const struct plan_change *ch = &p->changes[i];

		if (ch->kind == CHANGE_ORPHAN) {
			fprintf(f, "- orphan %s\n", ch->detail);
			n_orphan++;
			continue;
		}
		fprintf(f, "%c %s %s", change_sign(ch->kind), change_kind_to_string(ch->kind),
			ch->vm_name);
		if (ch->detail)
			fprintf(f, " (%s)", ch->detail);
		fputc('\n', f);
		for (size_t j = ch->first; j < ch->first + ch->n; j++)
			fprintf(f, "    %s\n", p->actions[j].text);
		if (ch->kind == CHANGE_CREATE)
			n_create++;
		else if (ch->kind == CHANGE_DELETE)
			n_delete++;
		else
			n_change++;
	}
	for (size_t i = 0; p->held && p->held[i]; i++) {
		const char *colon = strchr(p->held[i], ':');

		/* "NAME: file:line:col: msg" prints as "! held: file:line:col: msg (NAME)". */
		fprintf(f, "! held: %s (vm '%.*s')\n", colon ? colon + 2 : p->held[i],
			colon ? (int)(colon - p->held[i]) : 0, p->held[i]);
	}
	for (size_t i = 0; p->notes && p->notes[i]; i++)
		fprintf(f, "! %s\n", p->notes[i]);
	if (p->refused)
		fprintf(f, "! refused: %s\n", p->refused);
	if (p->n_changes == 0 && p->held && p->held[0])
		/* Held VMs make the plan's exit partial: say how many. */
		fprintf(f, "No changes: %zu vm%s up to date, %zu held.\n", p->n_unchanged,
			p->n_unchanged == 1 ? "" : "s", strv_length(p->held));
	else if (p->n_changes == 0)
		fprintf(f, "No changes: %zu vm%s up to date.\n", p->n_unchanged,
			p->n_unchanged == 1 ? "" : "s");
	else
		fprintf(f, "Plan: %zu to create, %zu to change, %zu to delete, %zu orphan%s to remove; "
			   "%zu unchanged, %zu held.\n",
			n_create, n_change, n_delete, n_orphan, n_orphan == 1 ? "" : "s",
			p->n_unchanged, strv_length(p->held));
	if (fclose(f) != 0)
		abort();
	return buf;
}
