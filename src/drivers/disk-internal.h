/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the real disk driver, shared by disk-*.c and the unit tests:
 * path and name checks, the device-mapper and loop-device seams (real
 * backends in disk-dm.c and disk-loop.c, a recording fake in the tests),
 * file cloning and copying, and work-disk helpers.  Library headers
 * (libdevmapper, libext2fs) stay in the .c files.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "drivers/disk.h"
#include "util/error.h"

/* File names inside a VM's directory. */
#define DISK_ROOT_FILE "root.img"	/* reflink / copy root disk */
#define DISK_COW_FILE "cow.img"		/* dm-snapshot exception store */
/* dm-snapshot chunk size in 512-byte sectors (4 KiB). */
#define DISK_DM_CHUNK 8

/* Absolute, no empty, "." or ".." component, no trailing slash. */
bool disk_path_is_clean(const char *path);
/*
 * Lexical check that path is absolute, has no "." or ".." component and no
 * empty one, and lies strictly under dir (itself absolute).  -EPERM with a
 * message naming the path otherwise.
 */
int disk_path_check(const char *dir, const char *path, struct error **err);
/* vm_dir must be exactly STATUS_DIR/vms/NAME with NAME a DNS label; -EPERM. */
int disk_vm_dir_check(const char *status_dir, const char *vm_dir, struct error **err);
/* DM_PREFIX followed by exactly 12 lower-case hex digits; -EPERM otherwise. */
int disk_dm_name_check(const char *name, struct error **err);
/* Guest path of a file sync: absolute, no "." / ".." / empty component; -EINVAL. */
int disk_guest_path_check(const char *guest, struct error **err);
/*
 * Resolve a file-sync host path: absolute as is, "~/x" under $HOME, anything
 * else relative to state_root.  Caller owns *ret.  -EINVAL for "~user".
 */
int disk_host_path_resolve(const char *host, const char *state_root, char **ret,
			   struct error **err);
/*
 * Open a file-sync host path for reading, once: the caller looks at what it
 * opened (fstat), never at the path again.  A relative path is resolved
 * beneath state_root (a symlink on the way may not lead out of it); an
 * absolute or "~/" one, the declaration's own, is followed.  Never blocks on
 * a FIFO.  -ENOENT, with no error set, when there is nothing there.
 */
int disk_host_open(const char *host, const char *state_root, char **ret_path, int *ret_fd,
		   struct error **err);

/* A warning the caller carries on past (stderr, "banger: warning: ..."). */
void disk_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Device-mapper seam.  The real backend (disk-dm.c) talks to libdevmapper;
 * the unit tests record the calls.  table is one dm table line,
 * "START LENGTH TARGET PARAMS".  create of an existing name is -EEXIST;
 * remove of a missing one succeeds.
 */
struct dm_backend {
	bool (*available)(void *userdata);
	int (*create)(void *userdata, const char *name, const char *table, struct error **err);
	int (*remove)(void *userdata, const char *name, struct error **err);
	/* Every dm device name on the host (a strv; caller frees). */
	int (*list)(void *userdata, char ***ret_names, struct error **err);
	void *userdata;
};

/* The libdevmapper backend. */
extern const struct dm_backend dm_backend_libdevmapper;

/*
 * Split one table line "START LENGTH TARGET PARAMS" (what the libdevmapper
 * backend hands to dm_task_add_target); *ret_params points into table.
 * -EINVAL for anything else (no params, zero length, target over 63 chars).
 */
int dm_table_parse(const char *table, uint64_t *ret_start, uint64_t *ret_len, char ret_type[64],
		   const char **ret_params);

/* "0 SECTORS snapshot ORIGIN COW P 8".  Caller frees. */
char *dm_snapshot_table(uint64_t sectors, const char *origin_dev, const char *cow_dev);

/*
 * Loop-device seam.  attach binds path to a free loop device with autoclear
 * (read-only when asked) and returns its node and an open fd: the device
 * vanishes when that fd and every later user (a dm target) are gone.
 */
struct loop_backend {
	int (*attach)(void *userdata, const char *path, bool read_only, char **ret_dev,
		      int *ret_fd, struct error **err);
	/* Loop devices whose backing file lies under dir (DISK_OBJ_LOOP objects). */
	int (*list)(void *userdata, const char *dir, struct disk_obj **ret, size_t *ret_n,
		    struct error **err);
	/* Detach dev (LOOP_CLR_FD; when busy the kernel clears it on last close). */
	int (*detach)(void *userdata, const char *dev, struct error **err);
	/* Release an fd returned by attach. */
	void (*release)(void *userdata, int fd);
	void *userdata;
};

/* The real backend: /dev/loop-control, LOOP_CONFIGURE, /sys/block/loopN. */
extern const struct loop_backend loop_backend_kernel;

int loop_attach(const char *path, bool read_only, char **ret_dev, int *ret_fd,
		struct error **err);
/* The same with legacy forcing LOOP_SET_FD + LOOP_SET_STATUS64 (pre-5.8 kernels). */
int loop_attach_legacy(const char *path, bool read_only, bool legacy, char **ret_dev,
		       int *ret_fd, struct error **err);
int loop_list(const char *dir, struct disk_obj **ret, size_t *ret_n, struct error **err);
int loop_detach(const char *dev, struct error **err);
/* Backing file of /dev/loopN from sysfs; -ENXIO when unbound.  Caller frees. */
int loop_backing_file(const char *dev, char **ret, struct error **err);

/* The real driver over chosen seams (tests pass fakes).  Caller frees with disk_real_free. */
int disk_real_new_with(const char *status_dir, const struct dm_backend *dm,
		       const struct loop_backend *loop, struct disk_ops **ret, struct error **err);

/* FICLONE src into dst (created 0600, replaced atomically through dst.tmp;
 * synced, but not dst's folder: the caller syncs it, see disk_ops.vm_dir_sync). */
int disk_reflink(const char *src, const char *dst, struct error **err);
/*
 * Sparse copy src into dst, atomically through dst.tmp: the image's holes
 * are kept, and its blocks of zeros become holes too (as cp --sparse=always
 * does), so only blocks with data are written.
 */
int disk_sparse_copy(const char *src, const char *dst, mode_t mode, struct error **err);

/*
 * Where a sparse copy of a file writes: its blocks that are not all zeros,
 * merged into runs, for the file of that identity.  Kept, one per image, by
 * a caller that copies images many times (every VM's root disk of a run),
 * so that each image is read through once, not once per copy.
 */
struct disk_copy_run {
	off_t start, end;
};
struct disk_copy_map {
	bool valid;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;	/* any write to the file changes ctime */
	struct disk_copy_run *runs;
	size_t n, cap;
};
struct disk_copy_maps {
	pthread_mutex_t lock;	/* copies in several threads share the maps */
	struct disk_copy_map *maps;	/* by file (dev, ino) */
	size_t n;
};
#define DISK_COPY_MAPS_INIT { .lock = PTHREAD_MUTEX_INITIALIZER }
void disk_copy_maps_done(struct disk_copy_maps *m);
/* disk_sparse_copy through the map of src in maps: made when there is none,
 * or made again when src changed since.  dst's folder is not synced (the
 * caller syncs it, see disk_ops.vm_dir_sync); disk_sparse_copy syncs it. */
int disk_sparse_copy_map(const char *src, const char *dst, mode_t mode,
			 struct disk_copy_maps *maps, struct error **err);
/* Whether FICLONE works in dir: clones a small temp file there. */
bool disk_reflink_works(const char *dir);
/* Whether the file src can be cloned (FICLONE) into a new file in dir: the
 * same file system, one that clones (btrfs also across its subvolumes). */
bool disk_reflink_works_from(const char *src, const char *dir);

/*
 * Create an ext4 image of size bytes at path unless path exists: mkfs.ext4
 * (posix_spawn, argv) on path.tmp seeded from staging (NULL: empty), then
 * link.  -EEXIST never: an existing path is success and is left alone.
 * Without staging, a pristine image of that size made earlier (by this
 * process, or kept in cache_dir as work-SIZE.ext4; cache_dir NULL: none) is
 * written instead, with a new UUID.  The image is synced before it takes its
 * name; the name's folder is the caller's to sync (disk_ops.vm_dir_sync).
 */
int disk_work_mkfs(const char *path, uint64_t size, const char *staging, const char *cache_dir,
		   struct error **err);
/* disk_work_mkfs without staging, the file-sync entries e written into a
 * new image before it is synced and named: 1 when made, 0 when path existed
 * (left alone, nothing written). */
int disk_work_mkfs_seeded(const char *path, uint64_t size, const char *cache_dir,
			  const struct filesync_entry *e, size_t n, const char *state_root,
			  struct error **err);
/* mkfs.ext4 processes this process ran: the second work disk of a size (with
 * no staging folder) is written from the first one's pristine image. */
unsigned disk_work_mkfs_runs(void);
/* Copy file-sync entries into the ext4 image at work_path through libext2fs. */
/*
 * A change to an existing work disk image (file syncs, a workspace) is
 * made on a clone, IMAGE DISK_COW_SUFFIX, that then takes the image's name,
 * where the file system clones; elsewhere in place, with an undo file,
 * IMAGE DISK_UNDO_SUFFIX, every block the change overwrites saved there
 * first.  disk_work_recover: a clone a killed run left is removed, and when
 * it left an undo file, the image is put back as it was before that change
 * (e2undo) and the file removed; 0 when there was neither.  It must run
 * before the image is used for anything else (a start, a retain): nothing
 * but banger's change wrote the image since the file was made.
 * disk_work_open_in_place: recover, then open read-write through the undo
 * manager, one image at a time in the process until its close (tests use
 * it to leave an undo file as a killed run would).
 */
#define DISK_UNDO_SUFFIX ".e2undo"
#define DISK_COW_SUFFIX ".cow"
int disk_work_recover(const char *image, struct error **err);
/* Grow the work disk image to size bytes, file and file system (on a copy:
 * e2fsck -f -p, resize2fs, then the copy takes its name); one as large or
 * larger already is left as it is (never shrunk). */
int disk_work_grow(const char *image, uint64_t size, struct error **err);
#ifdef EXT2_FLAG_RW
int disk_work_open_in_place(const char *image, ext2_filsys *ret, struct error **err);
#endif
int disk_filesync_apply(const char *work_path, const struct filesync_entry *e, size_t n,
			const char *state_root, struct error **err);

/*
 * Replace the folder guest_dir (absolute, not "/") in the ext4 image at
 * work_path with a copy of the host directory host_dir, through libext2fs:
 * whatever guest_dir held is removed first; missing parents are created 0755.
 * Directories get 0755, files 0755 when executable by their owner on the
 * host and 0644 otherwise, all owned by root.  Symlinks are copied as links
 * when they stay inside host_dir and refused (-ELOOP, naming the file)
 * otherwise; sockets, fifos and devices are refused (-EINVAL).
 */
int disk_work_copy_tree(const char *work_path, const char *host_dir, const char *guest_dir,
			struct error **err);

/* Remove a directory tree without following symlinks; a missing path is success. */
int disk_rm_rf(const char *path, struct error **err);
