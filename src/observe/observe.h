/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the host has: banger's status files plus one pass over each ops
 * table's list call (links, NAT rules, disk objects, hypervisor processes),
 * matched to VMs by their marks; banger-owned objects no VM claims are
 * orphans.  Reads the host only through the ops.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "drivers/host-ops.h"
#include "status/status.h"
#include "util/error.h"

struct observed_vm {
	char *name;
	struct vm_status status;	/* read, or rebuilt from marks; id "" when unknown */
	bool has_status;		/* the status file was read and valid */
	bool rebuilt;			/* status file lost: identity from the tap alias */
	char *status_error;		/* why the status file could not be used, or NULL */
	/* host facts */
	bool tap_present;
	bool tap_ok;			/* up and enslaved to a bridge */
	bool tap_carrier;		/* held open by a process (a running guest) */
	char *tap_master;
	bool nat_masq, nat_fwd;
	uint32_t nat_ip;		/* masquerade rule's address */
	char *nat_masq_uplink, *nat_fwd_uplink;	/* the rules' oifname; NULL: none */
	size_t n_nat_rules;
	bool dm_present;
	size_t n_loops;
	bool dir_present;
	/* A guest that does not run, whose record says its root disk file
	 * (copy, reflink) or work disk is made: the file is gone. */
	bool root_file_missing, work_missing;
	bool proc_alive;
	pid_t proc_pid;
};

enum orphan_kind {
	ORPHAN_PROC,
	ORPHAN_NAT_RULE,
	ORPHAN_TAP,
	ORPHAN_DM,
	ORPHAN_LOOP,
	ORPHAN_VM_DIR,
	_ORPHAN_KIND_MAX,
	_ORPHAN_KIND_INVALID = -EINVAL,
};

const char *orphan_kind_to_string(enum orphan_kind k);

struct observed_orphan {
	enum orphan_kind kind;
	char *name;		/* tap, dm, /dev/loopN, directory, api socket, nat chain */
	char *vm_name;		/* when a mark names one */
	char *vm_id;		/* when a mark carries one */
	char *backing;		/* loop */
	uint64_t handle;	/* nat rule */
	pid_t pid;		/* process */
};

struct observed {
	char *status_dir;
	struct observed_vm *vms;	/* sorted by name */
	size_t n_vms;
	struct observed_orphan *orphans;
	size_t n_orphans;
	uint32_t *nat_ips;		/* every masquerade address in banger's table */
	size_t n_nat_ips;
	char **problems;		/* strv: status files that could not be used */
};

/*
 * Read every status file under status_dir and list the host once through
 * ops.  claimed: names of VMs the declarations know (held ones included);
 * their host objects are rebuilt into an identity when the status file is
 * lost instead of being taken for orphans.  Caller owns *ret.
 */
/*
 * The disk files of the VMs names (those the plan may start: declared
 * running, their guest not running), which a guest that runs holds open
 * and a stopped VM may have lost: sets root_file_missing (a root disk copy
 * or clone) and work_missing.  Apart from observe_host so that a run never
 * looks at the disks of VMs that stay stopped.
 */
void observe_disk_files(struct observed *o, const struct host_ops *ops, char *const *names);
int observe_host(const char *status_dir, const struct host_ops *ops, char *const *claimed,
		 struct observed **ret, struct error **err);
/* The same from status files read beforehand (status_snapshot_read under the
 * run's lock); snap is taken over, freed whatever the result. */
int observe_host_from(const char *status_dir, const struct host_ops *ops, char *const *claimed,
		      struct status_snapshot *snap, struct observed **ret, struct error **err);

struct observed *observed_free(struct observed *o);
static inline void
observed_freep(struct observed **o)
{
	(void)observed_free(*o);
}

const struct observed_vm *observed_find(const struct observed *o, const char *name);
