/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk ops: copy-on-write root disks over a read-only image rootfs
 * (dm-snapshot over loop devices, reflink clone, or sparse copy), per-VM
 * ext4 work disks seeded with file syncs, and the VM's directory.  The real
 * backend is disk-*.c; tests use the fake.  Ops only touch paths under the
 * status directory and dm targets named DM_PREFIX*.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/error.h"

struct disk_root_req {
	enum disk_strategy strategy;	/* never AUTO here: probe first */
	const char *vm_id;
	const char *vm_dir;		/* STATUS_DIR/vms/NAME */
	const char *image_rootfs;	/* read-only base */
	uint64_t overlay_size;		/* dm-snapshot COW size */
	const char *dm_name;		/* dm-snapshot only: DM_PREFIX + 12 hex */
};

/* What exists on the host for banger's disks, for observation and orphans. */
enum disk_obj_kind {
	DISK_OBJ_DM,		/* dm target named DM_PREFIX* */
	DISK_OBJ_LOOP,		/* loop device backed by a file under the status dir */
	DISK_OBJ_VM_DIR,	/* STATUS_DIR/vms/NAME/ */
	_DISK_OBJ_KIND_MAX,
	_DISK_OBJ_KIND_INVALID = -EINVAL,
};

struct disk_obj {
	enum disk_obj_kind kind;
	char *name;		/* dm name, /dev/loopN, or directory path */
	char *backing;		/* loop backing file */
};

void disk_obj_done(struct disk_obj *o);
void disk_objs_free(struct disk_obj *o, size_t n);

struct disk_ops {
	/* Resolve AUTO to the first strategy that works for vm_dir on this host,
	 * for a root disk from image_rootfs (NULL: any image; a clone needs the
	 * image on a file system that clones into vm_dir's). */
	int (*strategy_probe)(void *userdata, enum disk_strategy want, const char *vm_dir,
			      const char *image_rootfs, enum disk_strategy *ret,
			      struct error **err);
	/* Create the VM's directory (0700). */
	int (*vm_dir_create)(void *userdata, const char *vm_dir, struct error **err);
	/* Remove the VM's directory and everything in it (a missing directory is
	 * success); the work disk, when kept, was moved first.  -EBUSY while a
	 * loop device is still backed by a file inside it. */
	int (*vm_dir_remove)(void *userdata, const char *vm_dir, struct error **err);
	/* Create (or adopt: a run cut short may have made part of it) the root
	 * disk; every file it makes lies inside vm_dir, so that list() ties its
	 * loop devices to the VM.  *ret_device is what the hypervisor opens. */
	int (*root_create)(void *userdata, const struct disk_root_req *req, char **ret_device,
			   struct error **err);
	/* Release the root disk: dm target, loop devices, COW/clone files. */
	int (*root_remove)(void *userdata, const struct disk_root_req *req, struct error **err);
	/* Create an ext4 work disk of size at path unless it exists (never recreated). */
	int (*work_create)(void *userdata, const char *path, uint64_t size, struct error **err);
	/* work_create for a disk whose file syncs follow: a new disk gets the
	 * entries e (host paths relative to state_root) written before it is
	 * synced and takes its name, and returns 1; an existing one is left as
	 * it is and returns 0 (the caller applies them with filesync_apply).  A
	 * failure leaves no disk.  Optional: NULL in backends without it. */
	int (*work_create_seeded)(void *userdata, const char *path, uint64_t size,
				  const struct filesync_entry *e, size_t n, const char *state_root,
				  struct error **err);
	/* root_create and work_create sync what they write, but leave the new
	 * names in vm_dir to this (an fsync of the folder): apply calls it once
	 * after a change's last disk step, before a record says the disks are
	 * there and before a VM starts on them.  Optional: NULL in backends
	 * with nothing to make durable. */
	int (*vm_dir_sync)(void *userdata, const char *vm_dir, struct error **err);
	/* Put the work disk at path back as it was before a change in place
	 * (file syncs, a workspace) a killed run left half made, when it
	 * left one; called before a VM starts on it.  Optional: NULL in
	 * backends whose changes cannot be cut short. */
	int (*work_recover)(void *userdata, const char *path, struct error **err);
	/* Copy the file-sync entries into the work disk image (not mounted by a VM). */
	int (*filesync_apply)(void *userdata, const char *work_path, const struct filesync_entry *e,
			      size_t n, const char *state_root, struct error **err);
	/* Materialise ws (a git commit, see source/workspace.h) into the work
	 * disk image at work_path (no VM has it open), replacing the folder
	 * ws->path there, staging in a private folder under vm_dir that is
	 * removed afterwards.  *ret_commit: the commit's hex id; *ret_warnings:
	 * a strv (LFS pointers, submodules) or NULL.  Optional: NULL in
	 * backends without it. */
	int (*workspace_apply)(void *userdata, const char *work_path, const struct vm_workspace *ws,
			       const char *vm_dir, char **ret_commit, char ***ret_warnings,
			       struct error **err);
	/* Grow the work disk at path (no hypervisor has it open) to size bytes,
	 * its file system with it, its data kept; a crash part way is undone as
	 * a change in place is (work_recover).  Optional. */
	int (*work_grow)(void *userdata, const char *path, uint64_t size, struct error **err);
	/* Move a work disk aside to keep it after its VM is deleted; dest's
	 * directory (STATUS_DIR/retained) is created 0700 when missing, a missing
	 * path is success (already moved), an existing dest is replaced. */
	int (*work_retain)(void *userdata, const char *path, const char *dest, struct error **err);
	/* banger's dm targets (DM_PREFIX*), loop devices backed by a file under
	 * status_dir/vms/NAME/, and the directories status_dir/vms/NAME/. */
	int (*list)(void *userdata, const char *status_dir, struct disk_obj **ret, size_t *ret_n,
		    struct error **err);
	/* Remove one orphan object found by list. */
	int (*obj_remove)(void *userdata, const struct disk_obj *o, struct error **err);
	/* Bytes the VM's directory really uses on the host (allocated blocks, holes
	 * not counted), for status.  Optional: NULL in backends without it. */
	int (*usage)(void *userdata, const char *vm_dir, uint64_t *ret_bytes, struct error **err);
	/* Whether the root disk file (copy, reflink) or work disk at path, one
	 * of a VM's under status_dir/vms/, is there.  Optional: NULL in
	 * backends without it (then taken as there). */
	int (*file_present)(void *userdata, const char *path, bool *ret, struct error **err);
	/* Whether vm_dir_create, vm_dir_remove, root_create and root_remove
	 * (strategies copy and reflink), work_create (and _seeded), vm_dir_sync, filesync_apply
	 * and work_retain may run in several threads at once, each for another VM
	 * (apply's jobs).  False: apply calls the ops from one thread. */
	bool parallel;
	void *userdata;
};

/*
 * The real backend (disk-real.c): loop devices, libdevmapper, FICLONE,
 * sparse copies, mkfs.ext4 and libext2fs.  Every path it is given must lie
 * under status_dir (absolute), or the op fails with -EPERM; the image rootfs
 * is only ever opened read-only and may live anywhere.  Caller frees *ret
 * with disk_real_free().
 */
int disk_real_new(const char *status_dir, struct disk_ops **ret, struct error **err);
struct disk_ops *disk_real_free(struct disk_ops *ops);

static inline void
disk_real_freep(struct disk_ops **ops)
{
	(void)disk_real_free(*ops);
}
