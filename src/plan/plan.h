/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The planner: a pure function from the declared state and the observed
 * host to an ordered list of actions, grouped into one change per VM (or
 * orphan).  No I/O, no clock, no randomness, no globals: fresh VM ids are
 * drawn by apply when it runs the identity step.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "observe/observe.h"
#include "spec/spec.h"
#include "status/status.h"
#include "util/error.h"

enum action_kind {
	ACTION_IDENTITY,	/* draw the id, record id, tap, ip, mac, paths */
	ACTION_BRIDGE,		/* net.bridge_ensure */
	ACTION_TAP,		/* net.tap_ensure */
	ACTION_NAT,		/* forwarding, uplink, table, the VM's rules */
	ACTION_NAT_DELETE,	/* the VM's rules */
	ACTION_STOP,		/* hv.stop */
	ACTION_VM_DIR,		/* disk.vm_dir_create */
	ACTION_ROOT_REMOVE,	/* disk.root_remove */
	ACTION_ROOT,		/* disk.strategy_probe + disk.root_create */
	ACTION_WORK,		/* disk.work_create */
	ACTION_WORK_GROW,	/* disk.work_grow: a larger work disk, its data kept */
	ACTION_FILESYNC,	/* disk.filesync_apply */
	ACTION_WORKSPACE,	/* disk.workspace_apply: at creation and before each start */
	ACTION_START,		/* hv.spawn, hv.boot, hv.ready */
	ACTION_RECORD,		/* generation and applied config into the status file */
	ACTION_TAP_DELETE,
	ACTION_WORK_RETAIN,	/* move the work disk aside */
	ACTION_VM_DIR_REMOVE,
	ACTION_FORGET,		/* remove the status file */
	ACTION_ORPHAN,		/* remove one orphan object */
	_ACTION_KIND_MAX,
	_ACTION_KIND_INVALID = -EINVAL,
};

const char *action_kind_to_string(enum action_kind k);

enum change_kind {
	CHANGE_CREATE,
	CHANGE_START,
	CHANGE_STOP,
	CHANGE_RESTART,
	CHANGE_UPDATE,		/* no restart: recorded, repaired in place */
	CHANGE_REPAIR,		/* drift: dead process, missing tap or rule, lost disk */
	CHANGE_DELETE,
	CHANGE_ORPHAN,
	_CHANGE_KIND_MAX,
	_CHANGE_KIND_INVALID = -EINVAL,
};

const char *change_kind_to_string(enum change_kind k);

struct plan_action {
	enum action_kind kind;
	size_t change;		/* index into plan->changes */
	char *text;		/* "tap bgr-0a1b2c3d on banger0" */
	struct observed_orphan orphan;	/* ACTION_ORPHAN */
};

/* The order apply runs changes in: each phase to its end before the next. */
enum plan_phase {
	PLAN_PHASE_ORPHAN,	/* one after another */
	PLAN_PHASE_DELETE,
	PLAN_PHASE_MOVE,	/* VMs leaving their address or MAC for a free one */
	PLAN_PHASE_MOVE_ONTO,	/* VMs moving to the address a mover leaves */
	PLAN_PHASE_REST,
};

struct plan_change {
	enum change_kind kind;
	enum plan_phase phase;	/* changes[] are in phase order */
	char *vm_name;		/* NULL for an orphan */
	char *detail;		/* "memory 1G -> 2G", NULL when none */
	const struct vm_spec *vm;	/* borrowed from the spec; NULL for delete and orphans */
	const struct image_spec *image;
	struct vm_status status;	/* starting point: observed, rebuilt or blank, with the
					 * planned ip and mac filled in */
	char image_hash[65];
	char root_hash[65];	/* plan_image_root_hash of the image */
	char seed_hash[65];
	bool fresh;		/* no id yet: ACTION_IDENTITY draws it */
	/* The address and MAC the VM had when observed (0: none): a change
	 * that fails while its guest still runs puts them back. */
	uint32_t from_ip;
	uint8_t from_mac[6];
	bool from_has_mac;
	bool idle_held;		/* stopped for idleness at this generation: kept stopped */
	size_t first, n;	/* its actions: plan->actions[first .. first+n) */
};

struct plan {
	struct plan_change *changes;
	size_t n_changes;
	struct plan_action *actions;
	size_t n_actions;
	char **held;		/* strv: "NAME: file:line:col: message" */
	char **notes;		/* strv: other hosts' VMs, unusable status files, ... */
	char *refused;		/* why the whole plan was refused (mass delete), or NULL */
	size_t n_unchanged;	/* declared VMs already in their state */
};

struct plan_options {
	const char *status_dir;
	const char *host_name;	/* VMs naming another host are left alone */
	char *const *only;	/* strv: restrict to these VMs (no orphan removal); NULL: all */
	bool allow_mass_delete;
	/* banger's public key, seeded with each VM's ssh_authorized_keys into
	 * its work disk (banger/authorized_keys); NULL: none. */
	const char *ssh_pubkey;
	/* The uplink's name as resolved on this host now ("auto": the default
	 * route's interface): NAT rules through another one are redone.  NULL:
	 * unknown (not resolvable), the rules' uplink is not compared. */
	const char *uplink;
	/* A hypervisor whose program is not found (by kind): a running guest
	 * that would be restarted under it is held, left running. */
	bool hv_missing[_HYPERVISOR_MAX];
};

/*
 * Compute what makes the host match desired.  Pure.  *ret borrows from
 * desired (keep it alive while the plan is).  err only for programming
 * mistakes such as a missing status_dir.
 */
int plan_build(const struct spec *desired, const struct observed *obs,
	       const struct plan_options *opt, struct plan **ret, struct error **err);

struct plan *plan_free(struct plan *p);
static inline void
plan_freep(struct plan **p)
{
	(void)plan_free(*p);
}

/* No action at all. */
bool plan_is_empty(const struct plan *p);

/* The terraform-like text ("+ create web (...)", step lines, a summary).
 * Caller frees. */
char *plan_format(const struct plan *p);

/* Hash helpers the planner and apply share. */
void plan_image_hash(const struct image_spec *img, char out[65]);
/* Of what a root disk is made from: the image's rootfs and its pin.  The
 * kernel, initrd and kernel arguments are not in it: changing them restarts
 * a VM, and keeps its root disk. */
void plan_image_root_hash(const struct image_spec *img, char out[65]);
void plan_seed_hash(const struct spec *s, const struct vm_spec *vm, char out[65]);
/* The same covering the authorized keys too: ssh_pubkey (may be NULL) and
 * vm->ssh_authorized_keys; equal to plan_seed_hash when there are none. */
void plan_seed_hash_keys(const struct spec *s, const struct vm_spec *vm, const char *ssh_pubkey,
			 char out[65]);
/* The VMs a plan for host_name may start (declared running, not held), for
 * observe_disk_files; NULL when none. */
char **plan_may_start(const struct spec *d, const char *host_name);
/* Whether the VM's work disk gets an authorized_keys file. */
bool plan_has_keys(const struct vm_spec *vm, const char *ssh_pubkey);
/* Where that file lies in the work disk (the guest sees it under /mnt/work). */
#define PLAN_KEYS_GUEST_PATH "/banger/authorized_keys"
/* Where in the work disk the guest paths of a VM's declared file syncs are
 * listed, a line each, for its init to put them in place. */
#define PLAN_SYNCS_GUEST_PATH "/banger/filesyncs"
