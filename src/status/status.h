/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger's own records: one status file per VM (STATUS_DIR/vms/NAME.yaml),
 * written whole and atomically, read back with validation, and the lock
 * that keeps runs one at a time.  Knows nothing of drivers or of the spec
 * parser; it only borrows the spec's enums.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

/* Status files larger than this are corrupt. */
#define STATUS_FILE_MAX (64 * 1024)

enum vm_phase {
	VM_PHASE_CREATING,	/* identity recorded, host objects being made */
	VM_PHASE_STOPPED,
	VM_PHASE_RUNNING,
	VM_PHASE_FAILED,	/* last step failed: see last_error */
	VM_PHASE_DELETING,
	_VM_PHASE_MAX,
	_VM_PHASE_INVALID = -EINVAL,
};

const char *vm_phase_to_string(enum vm_phase p);
enum vm_phase vm_phase_from_string(const char *s);

/* The configuration a VM was last started (or recorded) with, so a plan can
 * say what changed ("memory 1G -> 2G"). */
struct vm_applied {
	enum vm_state state;
	unsigned vcpus;
	uint64_t memory;
	enum hypervisor_kind hypervisor;
	char *image;		/* image name */
	char image_hash[65];	/* hash of the image's kernel, rootfs, initrd, args */
	/* Hash of what the root disk was made from (the image's rootfs and its
	 * pin); "" in records written before it was kept. */
	char root_hash[65];
	char *kernel_args;	/* NULL when none */
	uint64_t system_overlay;
	uint64_t work_disk;	/* size; 0 = none */
	bool nat;
	char seed_hash[65];	/* hash of file syncs + ssh keys applied to the work disk */
	enum on_delete on_delete;
};

struct vm_status {
	char *name;
	char id[33];		/* "" until allocated */
	char generation[65];	/* spec generation last applied; "" = never completed */
	enum vm_phase phase;
	char *intent;		/* step under way, NULL when none */
	char tap[16];		/* "" when none */
	uint8_t mac[6];
	bool has_mac;
	uint32_t ip;		/* host order; 0 when none */
	pid_t pid;		/* 0 when none */
	char *api_socket;
	/* disk identity */
	enum disk_strategy disk_strategy;	/* AUTO: not chosen yet */
	char dm_name[20];	/* "" unless dm-snapshot */
	char *root_device;	/* what the hypervisor opens; NULL until made */
	char *image_rootfs;	/* base the root disk was made over */
	bool root_ready;
	char *work_path;	/* NULL when the VM has no work disk */
	bool work_ready;
	uint64_t work_size;	/* bytes of the work disk as made or grown; 0: not known */
	bool seeded;		/* file syncs applied (seed_hash in applied) */
	struct vm_applied applied;
	char *source_commit;
	char *workspace_commit;	/* commit last materialised in the work disk, NULL: none */
	char *last_error;
	uint64_t created_ms, updated_ms, started_ms;
	/* Statistics and idle auto-stop (plan/idle.h); every field 0 when unset,
	 * and left out of the file then. */
	uint64_t cpu_ticks;		/* last sample of the hypervisor's utime+stime */
	uint64_t cpu_start_ticks;	/* its process start time, to tell a new process */
	uint64_t cpu_sample_ms;		/* when that sample was taken; 0: none */
	int cpu_permille;		/* CPU use over the last interval; -1 unknown */
	uint64_t idle_since_ms;		/* start of the current idle run; 0: not idle */
	bool stopped_idle;		/* stopped for idleness: stays stopped */
	uint64_t stopped_ms;		/* when */
	char stopped_generation[65];	/* the generation it was stopped at */
	uint64_t spawned_ms;	/* hypervisor spawned (started_ms: guest ready) */
};

void vm_status_done(struct vm_status *s);
struct vm_status *vm_status_free(struct vm_status *s);
void vm_status_copy(struct vm_status *dst, const struct vm_status *src);
static inline void
vm_status_freep(struct vm_status **s)
{
	(void)vm_status_free(*s);
}

/* "STATUS_DIR/vms/NAME.yaml".  Caller frees. */
char *status_path(const char *status_dir, const char *name);
/* Per-VM artifact paths, all under STATUS_DIR/vms/NAME/.  Caller frees. */
char *status_vm_dir(const char *status_dir, const char *name);
char *status_api_socket(const char *status_dir, const char *name);
char *status_console_log(const char *status_dir, const char *name);
char *status_work_path(const char *status_dir, const char *name);
/* Where a deleted VM's work disk is kept: STATUS_DIR/retained/NAME-ID.ext4 */
char *status_retained_path(const char *status_dir, const char *name, const char *id);

/* Serialise to YAML text (caller frees) and back.  status_parse validates every
 * field: -EBADMSG with a message naming the field for anything wrong. */
char *status_format(const struct vm_status *s);
int status_parse(const char *text, size_t len, const char *path, struct vm_status *ret,
		 struct error **err);
/* The two readers status_parse tries in turn, apart for the differential
 * fuzz test: the fast one for the exact shape status_format writes (-EAGAIN
 * for anything else, never an error), and the libyaml one for everything. */
int status_parse_fast(const char *text, size_t len, struct vm_status *ret);
int status_parse_yaml(const char *text, size_t len, const char *path, struct vm_status *ret,
		      struct error **err);

/* Write STATUS_DIR/vms/NAME.yaml whole, atomically and durably (0600);
 * creates STATUS_DIR/vms when missing. */
int status_write(const char *status_dir, const struct vm_status *s, struct error **err);
/* The same without the fsyncs: atomic for every reader and for a process
 * that dies, durable at the next status_sync.  For reconcile's write-ahead
 * records, which guard kernel objects and processes (a power loss takes
 * them too) and files at paths derived from the VM's name. */
int status_write_nosync(const char *status_dir, const struct vm_status *s, struct error **err);
/* Make the status files of names (written or removed without sync) durable:
 * an fsync of each that exists, then one of STATUS_DIR/vms. */
int status_sync(const char *status_dir, char *const *names, struct error **err);
/* Read and validate.  -ENOENT when missing; -EBADMSG when truncated or
 * corrupt (err says why); the name in the file must match. */
int status_read(const char *status_dir, const char *name, struct vm_status *ret,
		struct error **err);
/* Remove a VM's status file (idempotent). */
int status_remove(const char *status_dir, const char *name, struct error **err);
int status_remove_nosync(const char *status_dir, const char *name, struct error **err);
/* Names of every vms/NAME.yaml (sorted, names that are not DNS labels skipped);
 * an absent directory is an empty list.  Caller owns *ret (strv). */
int status_list(const char *status_dir, char ***ret, struct error **err);

/* Every status file of STATUS_DIR/vms, read and parsed: what observe starts
 * from.  An entry that could not be used has r < 0 and error (its message). */
struct status_entry {
	char *name;
	struct vm_status status;	/* when r == 0 */
	int r;
	char *error;
};

struct status_snapshot {
	struct status_entry *entries;	/* sorted by name */
	size_t n;
	/* vms/NAME.yaml.tmp files (paths): writes a killed run left, never
	 * renamed into place; a run that holds the lock removes them. */
	char **stale_temps;
};

int status_snapshot_read(const char *status_dir, struct status_snapshot **ret,
			 struct error **err);
struct status_snapshot *status_snapshot_free(struct status_snapshot *s);
static inline void
status_snapshot_freep(struct status_snapshot **s)
{
	(void)status_snapshot_free(*s);
}

/*
 * Take STATUS_DIR/lock (created 0600) with flock, waiting up to timeout_ms,
 * and write our pid into it.  -EBUSY after the wait, with a message naming
 * the holder's pid.  *ret_fd holds the lock until closed.
 */
int status_lock(const char *status_dir, unsigned timeout_ms, int *ret_fd, struct error **err);

/* Hex MAC "06:00:0a:4d:00:02" -> bytes (mac_format in util/name.h). */
int mac_parse(const char *s, uint8_t ret[6]);

/* Size as people write it: "512M", "2G", or bytes. */
void size_format(uint64_t bytes, char out[32]);

/* Our own names for spec enums, so status does not depend on the spec parser. */
const char *status_strategy_to_string(enum disk_strategy s);
const char *status_hypervisor_to_string(enum hypervisor_kind k);
const char *status_state_to_string(enum vm_state s);
const char *status_on_delete_to_string(enum on_delete o);
