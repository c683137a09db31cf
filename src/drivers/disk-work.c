/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Work disks: an ext4 image made once by mkfs.ext4 (an argv, never a
 * shell; spawn_wait_tied), and file syncs written into that image with
 * libext2fs, never by mounting it.  Only this file includes the libext2fs
 * headers.
 *
 * File-sync rules: a file entry gets its declared mode (default 0600); a
 * directory entry's directories get the declared mode (default 0755) and its
 * files 0600, or 0700 when the host file is executable by its owner.
 * Symlinks inside a synced directory are copied as links when their target
 * stays inside that directory, and skipped with a warning otherwise; a
 * top-level host path that is a symlink is followed.  A missing host path is
 * a warning; a host path that is neither a regular file nor a directory, or a
 * guest path with "..", is an error.  Everything is owned by root in the
 * guest.  A change to an existing image (file syncs, a workspace) is made on
 * a clone of it, IMAGE.cow, where the file system clones (btrfs, XFS), which
 * then takes the image's name: the image itself is never written, so
 * neither a killed run nor a power loss leaves it half changed.  Elsewhere
 * the change is made in place, every block it overwrites saved first in
 * IMAGE.e2undo beside it (libext2fs's undo manager): a run killed part way
 * leaves what the next one replays (e2undo, an argv) to put the image back
 * as it was before.  disk_work_copy_tree() copies a whole host folder the
 * same way with modes 0644/0755 and refuses (instead of skipping) escaping
 * links.
 */
#include <dirent.h>
#include <errno.h>
#include <et/com_err.h>
#include <ext2fs/ext2fs.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "drivers/spawn-tied.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"


#define WORK_MIN_SIZE (1ULL << 20)
#define WORK_LABEL "banger-work"
#define SYNC_DEPTH_MAX 64

/* An e2fsprogs program: /usr/sbin or /sbin (often not in PATH), else PATH. */
static char *
find_sbin(const char *name)
{
	static const char *const dirs[] = { "/usr/sbin", "/sbin" };

	for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
		char *p = xasprintf("%s/%s", dirs[i], name);

		if (access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return xstrdup(name);
}

static int ext_error(struct error **err, errcode_t e, const char *what, const char *path);

/*
 * The undo manager's settings are global to the process, and so is the
 * list of exit functions its channels join at open and leave at close,
 * whose removal (libext2fs 1.47) misses an entry placed after a free slot:
 * with two undo channels open at once, a closed one can stay listed and be
 * called at exit on freed memory.  So one change in place at a time, held
 * from disk_work_open_in_place to close_in_place (they are rare: file syncs
 * and workspaces of existing disks).
 */
static pthread_mutex_t undo_lock = PTHREAD_MUTEX_INITIALIZER;

/* The undo file of a change in place of image: beside it, named after it. */
static char *
undo_path(const char *image)
{
	return xasprintf("%s" DISK_UNDO_SUFFIX, image);
}

/* Put image back as its undo file says it was, if it says anything; what
 * was undone (a killed run's change, a failed one's) for the warning. */
static int
undo_replay(const char *image, const char *what, struct error **err)
{
	_cleanup_free_ char *u = undo_path(image);
	_cleanup_close_ int fd = -EBADF;
	unsigned char hdr[512] = { 0 };
	uint64_t keys;
	uint32_t block_size;
	bool replay;
	ssize_t n;
	int r, checked = 0;

	fd = open(u, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, -errno, "undo file '%s': %s", u, strerror(errno));
	}
	/*
	 * e2undo's header: magic "E2UNDO02", then the number of blocks saved
	 * (le64 at 8) and the undo file's block size (le32 at 32).  A file
	 * killed before its first block was saved holds nothing to undo: the
	 * image was not written yet.
	 */
	n = pread(fd, hdr, sizeof(hdr), 0);
	memcpy(&keys, hdr + 8, sizeof(keys));	/* zero or not in any byte order */
	memcpy(&block_size, hdr + 32, sizeof(block_size));
	replay = n == (ssize_t)sizeof(hdr) && memcmp(hdr, "E2UNDO02", 8) == 0 && keys != 0 &&
		 block_size != 0;
	(void)close(TAKE_FD(fd));
	if (replay) {
		/* -f: the header of a killed run's undo file is not final, and
		 * its copy of the superblock may predate the last one written.
		 * Nothing else wrote the image since: the undo file goes before
		 * the image is used for anything else (a start, a retain). */
		_cleanup_free_ char *prog = find_sbin("e2undo"), *f = xstrdup("-f");
		_cleanup_free_ char *fsck = find_sbin("e2fsck"), *p = xstrdup("-p");
		_cleanup_free_ char *img = xstrdup(image);
		char *argv[] = { prog, f, u, img, NULL };
		char *fsck_argv[] = { fsck, p, img, NULL };
		_cleanup_close_ int ifd = -EBADF;
		int code = 0;

		r = spawn_wait_tied_exit(argv, &code, err);
		if (r >= 0 && code != 0)
			r = error_set(err, -EIO, "e2undo exited with status %d", code);
		if (r < 0)
			return error_prefix(err, "work disk '%s': undo %s (%s)", image, what, u);
		/* e2undo -f marks the file system unchecked: the check that
		 * marks it clean again, fixing only what is safe to (-p: exit
		 * 0, or 1 when it fixed something).  One it cannot pass is left
		 * as it is for its owner, with the undo file gone. */
		r = spawn_wait_tied_exit(fsck_argv, &code, err);
		if (r >= 0 && code > 1)
			r = error_set(err, -EUCLEAN, "e2fsck -p exited with status %d: run "
				      "e2fsck on it by hand", code);
		if (r < 0)
			(void)error_prefix(err, "work disk '%s': check after undoing %s", image,
					   what);
		checked = r;
		ifd = open(image, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if ((ifd < 0 || fsync(ifd) < 0) && checked >= 0)
			return error_set(err, -errno, "fsync '%s': %s", image, strerror(errno));
	}
	/* Undone: gone even when the check failed, or replaying it again
	 * would undo what its owner's own check fixes. */
	if (unlink(u) < 0 && errno != ENOENT && checked >= 0)
		return error_set(err, -errno, "remove '%s': %s", u, strerror(errno));
	(void)fsync_parent_dir(u);
	if (checked < 0)
		return checked;
	if (replay)
		disk_warn("work disk '%s': %s was undone", image, what);
	return 0;
}

static void grow_paths(const char *image, char **ret_grow, char **ret_tmp);

int
disk_work_recover(const char *image, struct error **err)
{
	_cleanup_free_ char *grow = NULL, *tmp = NULL;

	/* A grow or a change on a clone a killed run left (copies: the disk
	 * was never touched). */
	grow_paths(image, &grow, &tmp);
	(void)unlink(tmp);
	(void)unlink(grow);
	free(grow);
	grow = xasprintf("%s" DISK_COW_SUFFIX, image);
	free(tmp);
	tmp = xasprintf("%s" DISK_COW_SUFFIX ".tmp", image);
	(void)unlink(tmp);
	(void)unlink(grow);
	return undo_replay(image, "a change a killed run left half made", err);
}


/* Where disk_work_grow makes the grown disk, and the copy's own temp file. */
static void
grow_paths(const char *image, char **ret_grow, char **ret_tmp)
{
	*ret_grow = xasprintf("%s.grow", image);
	*ret_tmp = xasprintf("%s.grow.tmp", image);
}

int
disk_work_grow(const char *image, uint64_t size, struct error **err)
{
	_cleanup_free_ char *grow = NULL, *tmp = NULL;
	_cleanup_free_ char *fsck = find_sbin("e2fsck"), *resize = find_sbin("resize2fs");
	_cleanup_free_ char *f = xstrdup("-f"), *p = xstrdup("-p");
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r, code = 0;

	/* A change a killed run left half made first; a grow it left is
	 * dropped (the disk itself was never touched). */
	r = disk_work_recover(image, err);
	if (r < 0)
		return r;
	grow_paths(image, &grow, &tmp);
	(void)unlink(tmp);
	(void)unlink(grow);
	if (lstat(image, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", image, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a regular file", image);
	/* As large already (a smaller size was declared and recorded in
	 * between, the disk kept): nothing to do, never a shrink. */
	if ((uint64_t)st.st_size >= size)
		return 0;
	/*
	 * Grown on a copy (a clone where the file system can), which then
	 * takes the disk's name: a run killed part way leaves the disk as it
	 * was.  resize2fs's own undo file is no help: with 1 KiB blocks,
	 * e2fsprogs 1.47.0 leaves a bad resize inode when it keeps one.
	 */
	if (disk_reflink(image, grow, NULL) < 0) {
		r = disk_sparse_copy(image, grow, 0600, err);
		if (r < 0)
			return error_prefix(err, "work disk '%s': copy to grow it", image);
	}
	fd = open(grow, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
		r = error_set(err, -errno, "grow '%s': %s", grow, strerror(errno));
		goto fail;
	}
	{
		/* resize2fs wants a file system checked just now (-f); -p fixes
		 * only what is safe (exit 1 when it did). */
		char *argv[] = { fsck, f, p, grow, NULL };

		r = spawn_wait_tied_exit(argv, &code, err);
		if (r >= 0 && code > 1)
			r = error_set(err, -EUCLEAN, "e2fsck -f -p exited with status %d", code);
		if (r < 0) {
			(void)error_prefix(err, "work disk '%s': check before growing it", image);
			goto fail;
		}
	}
	{
		char *argv[] = { resize, grow, NULL };

		r = spawn_wait_tied_exit(argv, &code, err);
		if (r >= 0 && code != 0)
			r = error_set(err, -EIO, "resize2fs exited with status %d", code);
		if (r < 0) {
			(void)error_prefix(err, "work disk '%s': grow its file system", image);
			goto fail;
		}
	}
	if (fsync(fd) < 0 || rename(grow, image) < 0) {
		r = error_set(err, -errno, "grow '%s': %s", image, strerror(errno));
		goto fail;
	}
	(void)fsync_parent_dir(image);
	return 0;
fail:
	(void)unlink(grow);
	return r;
}

static int open_undo(const char *image, ext2_filsys *ret, struct error **err);

int
disk_work_open_in_place(const char *image, ext2_filsys *ret, struct error **err)
{
	int r = disk_work_recover(image, err);

	return r < 0 ? r : open_undo(image, ret, err);
}

/* image opened read-write through the undo manager, once recovered; holds
 * undo_lock until close_in_place. */
static int
open_undo(const char *image, ext2_filsys *ret, struct error **err)
{
	_cleanup_free_ char *u = undo_path(image);
	errcode_t ec;

	pthread_mutex_lock(&undo_lock);
	set_undo_io_backing_manager(unix_io_manager);
	set_undo_io_backup_file(u);
	ec = ext2fs_open2(image, NULL, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, undo_io_manager, ret);
	if (ec) {
		pthread_mutex_unlock(&undo_lock);
		(void)unlink(u);
		return ext_error(err, ec, "open ext4 image", image);
	}
	return 0;	/* undo_lock held until close_in_place */
}

/*
 * Pristine work disks by size, kept by this process: a run that makes many
 * work disks of one size runs mkfs.ext4 once, keeps the image's few non-hole
 * extents (about 400 KiB of a 64M disk, since mkfs writes neither inode
 * tables nor journal on a new sparse file), and writes the next ones from
 * them with a new UUID and directory-hash seed.  metadata_csum_seed (given
 * to mkfs) lets the UUID change without rewriting every checksum.
 */
#define PRISTINE_MAX (8U << 20)

struct pristine_extent {
	off_t off;
	size_t len;
	char *data;
};

struct pristine {
	uint64_t size;
	struct pristine_extent *ext;
	size_t n_ext;
	off_t *sb;	/* byte offsets of the superblock and its backups */
	size_t n_sb;
};

/* Kept for the life of the process, never moved once kept: a pointer
 * pristine_find returned stays good without the lock.  The lock covers
 * finding or making one, so that work disks made in several threads at
 * once (apply's jobs) run mkfs.ext4 once per size. */
static struct pristine **pristine;
static size_t n_pristine;
static pthread_mutex_t pristine_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned mkfs_runs;

static void
unlockp(pthread_mutex_t **m)
{
	if (*m)
		pthread_mutex_unlock(*m);
}

/* com_err's table list is global and unlocked: registered once per process
 * (file syncs run in several threads with apply's jobs). */
static pthread_once_t error_table_once = PTHREAD_ONCE_INIT;

static void
error_table_init(void)
{
	initialize_ext2_error_table();
}

unsigned
disk_work_mkfs_runs(void)
{
	return __atomic_load_n(&mkfs_runs, __ATOMIC_RELAXED);
}

static const struct pristine *
pristine_find(uint64_t size)
{
	for (size_t i = 0; i < n_pristine; i++)
		if (pristine[i]->size == size)
			return pristine[i];
	return NULL;
}

/* The extent of p holding the whole superblock copy at off, or NULL. */
static const struct pristine_extent *
pristine_extent_of(const struct pristine *p, off_t off)
{
	for (size_t i = 0; i < p->n_ext; i++)
		if (off >= p->ext[i].off &&
		    off + SUPERBLOCK_SIZE <= p->ext[i].off + (off_t)p->ext[i].len)
			return &p->ext[i];
	return NULL;
}

/*
 * Where the image at path keeps its superblock and backups (libext2fs's own
 * placement: sparse_super, sparse_super2, meta_bg), each checked to lie in
 * p's data with the ext4 magic.  False when any is not: such an image is
 * not kept, since a copy whose backups keep the old UUID is not made.
 */
static bool
pristine_find_superblocks(const char *path, struct pristine *p)
{
	ext2_filsys fs = NULL;
	bool ok = true;

	if (ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs))
		return false;
	if (!ext2fs_has_feature_csum_seed(fs->super))
		ok = false;
	for (dgrp_t g = 0; ok && g < fs->group_desc_count; g++) {
		const struct pristine_extent *e;
		struct ext2_super_block sb;
		off_t off;

		if (!ext2fs_bg_has_super(fs, g))
			continue;
		off = g == 0 ? SUPERBLOCK_OFFSET
			     : (off_t)ext2fs_group_first_block2(fs, g) * (off_t)fs->blocksize;
		e = pristine_extent_of(p, off);
		if (!e) {
			ok = false;
			break;
		}
		memcpy(&sb, e->data + (off - e->off), sizeof(sb));
		if (ext2fs_le16_to_cpu(sb.s_magic) != EXT2_SUPER_MAGIC) {
			ok = false;
			break;
		}
		p->sb = xrealloc(p->sb, (p->n_sb + 1) * sizeof(*p->sb));
		p->sb[p->n_sb++] = off;
	}
	(void)ext2fs_close_free(&fs);
	return ok && p->n_sb > 0;
}

/* Keep fd's data extents (fd is open on path) as the pristine image of
 * size (best effort: an image too large to keep, or a read error, keeps
 * nothing). */
static void
pristine_keep(int fd, const char *path, uint64_t size)
{
	struct pristine p = { .size = size };
	size_t total = 0;
	off_t off = 0;

	for (;;) {
		struct pristine_extent *e;
		off_t data = lseek(fd, off, SEEK_DATA), hole;

		if (data < 0)
			break;	/* ENXIO: no data past off */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole <= data || (total += (size_t)(hole - data)) > PRISTINE_MAX)
			goto drop;
		p.ext = xappend(p.ext, &p.n_ext, sizeof(*p.ext), (void **)&e);
		e->off = data;
		e->len = (size_t)(hole - data);
		e->data = xmalloc(e->len);
		if (pread(fd, e->data, e->len, data) != (ssize_t)e->len)
			goto drop;
		off = hole;
	}
	if (errno != ENXIO || !p.n_ext || !pristine_find_superblocks(path, &p))
		goto drop;
	pristine = xrealloc(pristine, (n_pristine + 1) * sizeof(*pristine));
	pristine[n_pristine] = xmalloc(sizeof(p));
	*pristine[n_pristine++] = p;
	return;
drop:
	for (size_t i = 0; i < p.n_ext; i++)
		free(p.ext[i].data);
	free(p.ext);
	free(p.sb);
}

static int
pristine_write(int fd, const struct pristine *p, const char *tmp, struct error **err)
{
	for (size_t i = 0; i < p->n_ext; i++) {
		const struct pristine_extent *e = &p->ext[i];

		if (pwrite(fd, e->data, e->len, e->off) != (ssize_t)e->len)
			return error_set(err, errno ? -errno : -EIO, "write '%s': %s", tmp,
					 strerror(errno ? errno : EIO));
	}
	return 0;
}

/* A random (version 4) UUID. */
static int
uuid_random(uint8_t u[16])
{
	if (getrandom(u, 16, 0) != 16)
		return -EIO;
	u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
	u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
	return 0;
}

/*
 * Write p into fd as a file system of its own: a new UUID and directory hash
 * seed in the superblock and every backup, each copy's checksum made again.
 * metadata_csum_seed keeps every other checksum valid.  No fsync here: the
 * caller syncs the image before it takes its name.
 */
static int
pristine_write_new(int fd, const struct pristine *p, const char *tmp, struct error **err)
{
	uint8_t uuid[16], seed[16];

	if (uuid_random(uuid) < 0 || uuid_random(seed) < 0)
		return error_set(err, -EIO, "'%s': cannot give it a new uuid", tmp);
	for (size_t i = 0; i < p->n_ext; i++) {
		const struct pristine_extent *e = &p->ext[i];
		_cleanup_free_ char *copy = NULL;
		const char *data = e->data;

		for (size_t j = 0; j < p->n_sb; j++) {
			struct ext2_super_block sb;
			off_t at = p->sb[j] - e->off;

			if (p->sb[j] < e->off || p->sb[j] >= e->off + (off_t)e->len)
				continue;
			if (!copy) {
				copy = xmalloc(e->len);
				memcpy(copy, e->data, e->len);
				data = copy;
			}
			memcpy(&sb, copy + at, sizeof(sb));
			memcpy(sb.s_uuid, uuid, sizeof(uuid));
			memcpy(sb.s_hash_seed, seed, sizeof(seed));
			sb.s_checksum = ext2fs_cpu_to_le32(
				ext2fs_crc32c_le(~0U, (unsigned char *)&sb,
						 offsetof(struct ext2_super_block, s_checksum)));
			memcpy(copy + at, &sb, sizeof(sb));
		}
		if (pwrite(fd, data, e->len, e->off) != (ssize_t)e->len)
			return error_set(err, errno ? -errno : -EIO, "write '%s': %s", tmp,
					 strerror(errno ? errno : EIO));
	}
	return 0;
}

/*
 * The pristine image of a size also lives across runs, in
 * CACHE_DIR/work-SIZE.ext4 (0600, written whole and durably), so that even
 * a run that makes one work disk runs no mkfs.ext4 once that size was made
 * before.  A template is used only when libext2fs opens it with every
 * checksum right, and it has the size, label and features banger gives it;
 * anything else is made again.
 */
static char *
template_path(const char *cache_dir, uint64_t size)
{
	return xasprintf("%s/work-%llu.ext4", cache_dir, (unsigned long long)size);
}

static bool
template_valid(const char *path, uint64_t size)
{
	ext2_filsys fs = NULL;
	bool ok;

	if (ext2fs_open(path, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs))
		return false;
	ok = ext2fs_has_feature_csum_seed(fs->super) &&
	     ext2fs_has_feature_metadata_csum(fs->super) &&
	     ext2fs_blocks_count(fs->super) * (uint64_t)fs->blocksize == size &&
	     strncmp((const char *)fs->super->s_volume_name, WORK_LABEL,
		     sizeof(fs->super->s_volume_name)) == 0 &&
	     fs->super->s_mnt_count == 0;
	(void)ext2fs_close_free(&fs);
	return ok;
}

static const struct pristine *
template_load(const char *cache_dir, uint64_t size)
{
	_cleanup_free_ char *path = template_path(cache_dir, size);
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) || (uint64_t)st.st_size != size || !template_valid(path, size))
		return NULL;
	pristine_keep(fd, path, size);
	return pristine_find(size);
}

/* Best effort: a template that cannot be written is made again next time. */
static void
template_save(const char *cache_dir, const struct pristine *p)
{
	_cleanup_free_ char *path = template_path(cache_dir, p->size);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	_cleanup_close_ int fd = -EBADF;
	struct error *e = NULL;

	if (mkdir_p(cache_dir, 0700) < 0)
		return;
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	if (ftruncate(fd, (off_t)p->size) < 0 || pristine_write(fd, p, tmp, &e) < 0 ||
	    fsync(fd) < 0 || rename(tmp, path) < 0) {
		error_free(e);
		(void)unlink(tmp);
		return;
	}
	(void)fsync_parent_dir(path);
}

static int filesync_apply(const char *work_path, const struct filesync_entry *e, size_t n,
			  const char *state_root, bool sync, char ***ret_warnings,
			  struct error **err);

/* disk_work_mkfs, the n_seed entries of seed written into a new image: 1
 * when made, 0 when path existed. */
static int
work_mkfs(const char *path, uint64_t size, const char *staging, const char *cache_dir,
	  const struct filesync_entry *seed, size_t n_seed, const char *state_root,
	  struct error **err)
{
	_cleanup_(unlockp) pthread_mutex_t *held = NULL;
	const struct pristine *p = NULL;
	_cleanup_free_ char *tmp = NULL;
	_cleanup_strv_free_ char **argv = NULL, **warnings = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	int r;

	if (lstat(path, &st) == 0) {
		_cleanup_free_ char *left = NULL;

		if (!S_ISREG(st.st_mode))
			return error_set(err, -EEXIST, "work disk '%s' exists and is not a file",
					 path);
		/* A run killed between the link and the unlink below left the
		 * temp name too (one more link to the disk): not kept. */
		left = xasprintf("%s.tmp", path);
		(void)unlink(left);
		return 0;	/* never recreated: it holds the VM's data */
	}
	if (errno != ENOENT)
		return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
	if (size < WORK_MIN_SIZE)
		return error_set(err, -EINVAL, "work disk size %llu is below 1M",
				 (unsigned long long)size);

	if (!staging) {
		pthread_mutex_lock(&pristine_lock);
		held = &pristine_lock;
		p = pristine_find(size);
	}
	tmp = xasprintf("%s.tmp", path);
	(void)unlink(tmp);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_set(err, -errno, "create '%s': %s", tmp, strerror(errno));
	if (ftruncate(fd, (off_t)size) < 0) {
		r = error_set(err, -errno, "size '%s': %s", tmp, strerror(errno));
		goto fail;
	}

	if (!p && !staging && cache_dir)
		p = template_load(cache_dir, size);
	if (p) {
		pthread_mutex_unlock(TAKE_PTR(held));
		r = pristine_write_new(fd, p, tmp, err);
		if (r < 0) {
			(void)error_prefix(err, "work disk '%s'", path);
			goto fail;
		}
		goto made;
	}

	argv = strv_append_take(argv, find_sbin("mkfs.ext4"));
	argv = strv_append(argv, "-F");
	argv = strv_append(argv, "-q");
	argv = strv_append(argv, "-t");
	argv = strv_append(argv, "ext4");
	argv = strv_append(argv, "-m");
	argv = strv_append(argv, "0");
	argv = strv_append(argv, "-L");
	argv = strv_append(argv, WORK_LABEL);
	argv = strv_append(argv, "-O");
	argv = strv_append(argv, "metadata_csum_seed");
	argv = strv_append(argv, "-E");
	/* The image is a new sparse file: its inode tables and journal read as
	 * zeros already, so mkfs need not write them (4 MiB less per 64M disk). */
	argv = strv_append(argv, "root_owner=0:0,nodiscard,lazy_itable_init=1,lazy_journal_init=1");
	if (staging) {
		argv = strv_append(argv, "-d");
		argv = strv_append(argv, staging);
	}
	argv = strv_append(argv, tmp);
	__atomic_add_fetch(&mkfs_runs, 1, __ATOMIC_RELAXED);
	r = spawn_wait_tied(argv, false, err);
	if (r < 0) {
		(void)error_prefix(err, "mkfs '%s'", path);
		goto fail;
	}
	if (!staging) {
		pristine_keep(fd, tmp, size);
		if (cache_dir && pristine_find(size))
			template_save(cache_dir, pristine_find(size));
	}
	if (held)	/* a staging mkfs took no lock */
		pthread_mutex_unlock(TAKE_PTR(held));
made:
	/* The file syncs go in before the one fsync and the name. */
	/* Their warnings only once the disk is kept: when it is not, the
	 * caller makes a bare disk whose file-sync step warns the same. */
	if (n_seed) {
		r = filesync_apply(tmp, seed, n_seed, state_root, false, &warnings, err);
		if (r < 0)
			goto fail;
	}
	if (fsync(fd) < 0) {
		r = error_set(err, -errno, "fsync '%s': %s", tmp, strerror(errno));
		goto fail;
	}
	/* link(), not rename(): a work disk that appeared meanwhile is never replaced. */
	if (link(tmp, path) < 0) {
		r = -errno;
		if (r == -EEXIST)
			r = 0;
		else
			(void)error_set(err, r, "link '%s': %s", path, strerror(-r));
		goto fail;
	}
	(void)unlink(tmp);
	for (size_t i = 0; warnings && warnings[i]; i++)
		disk_warn("%s", warnings[i]);
	return 1;
fail:
	(void)unlink(tmp);
	return r;
}

int
disk_work_mkfs(const char *path, uint64_t size, const char *staging, const char *cache_dir,
	       struct error **err)
{
	int r = work_mkfs(path, size, staging, cache_dir, NULL, 0, NULL, err);

	return r < 0 ? r : 0;
}

int
disk_work_mkfs_seeded(const char *path, uint64_t size, const char *cache_dir,
		      const struct filesync_entry *e, size_t n, const char *state_root,
		      struct error **err)
{
	return work_mkfs(path, size, NULL, cache_dir, e, n, state_root, err);
}

/* libext2fs: system errors are errno values, the rest are com_err codes. */
static int
ext_error(struct error **err, errcode_t e, const char *what, const char *path)
{
	/* error_message formats an unknown code into a static buffer. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	int r = (e > 0 && e < 4096) ? -(int)e : -EIO;

	pthread_mutex_lock(&lock);
	(void)error_set(err, r, "%s '%s': %s", what, path, error_message(e));
	pthread_mutex_unlock(&lock);
	return r;
}

struct sync {
	ext2_filsys fs;
	const char *image;
	char *cow;		/* the clone the change is made on (change_open), or NULL */
	time_t now;
	mode_t file_mode;	/* tree files: 0600 (file sync) or 0644 (tree copy) */
	mode_t exec_mode;	/* tree files executable by their owner: 0700 or 0755 */
	bool strict;		/* tree copy: escaping links and odd files are errors */
	char **warnings;	/* entries passed over, printed or dropped by the caller */
};

static void sync_warn(struct sync *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
sync_warn(struct sync *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	s->warnings = strv_append_take(s->warnings, xvasprintf(fmt, ap));
	va_end(ap);
}

/*
 * Close s->fs, its writes durable: libext2fs's own flush would fsync twice
 * (its blocks, then the superblock), so it closes without and the image is
 * synced once here.  On error the image is left as far as it got.
 */
static int
sync_close(ext2_filsys *fs, const char *path, bool sync, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	errcode_t ec;

	ec = ext2fs_close2(*fs, EXT2_FLAG_FLUSH_NO_SYNC);
	if (ec) {
		ext2fs_free(*fs);
		*fs = NULL;
		return ext_error(err, ec, "close", path);
	}
	*fs = NULL;
	if (!sync)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fsync(fd) < 0)
		return error_set(err, -errno, "fsync '%s': %s", path, strerror(errno));
	return 0;
}

/* sync_close of an image opened by disk_work_open_in_place: once the image
 * is closed and synced, its undo file has served (a close that failed
 * leaves it, for the next run to put the image back). */
static int
close_in_place(ext2_filsys *fs, const char *image, struct error **err)
{
	_cleanup_free_ char *u = undo_path(image);
	int r;

	r = sync_close(fs, image, true, err);
	pthread_mutex_unlock(&undo_lock);	/* taken by disk_work_open_in_place */
	if (r < 0)
		return r;
	if (unlink(u) < 0 && errno != ENOENT)
		return error_set(err, -errno, "remove '%s': %s", u, strerror(errno));
	(void)fsync_parent_dir(u);
	return 0;
}

/*
 * A change to the existing image s->image: s->fs opened read-write on a
 * clone of it (s->cow, IMAGE DISK_COW_SUFFIX) where the file system
 * clones, else in place through the undo manager (s->cow NULL).  Either
 * way a change a killed run left is dealt with first (disk_work_recover).
 */
static int
change_open(struct sync *s, struct error **err)
{
	_cleanup_free_ char *cow = xasprintf("%s" DISK_COW_SUFFIX, s->image);
	struct stat st;
	errcode_t ec;
	int r;

	r = disk_work_recover(s->image, err);
	if (r < 0)
		return r;
	if (lstat(s->image, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", s->image, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "work disk '%s' is not a regular file", s->image);
	/* A second name (a retain cut short) would be split from the disk by
	 * the clone's rename: such a disk is changed in place. */
	if (st.st_nlink != 1 || disk_reflink(s->image, cow, NULL) < 0)
		return open_undo(s->image, &s->fs, err);
	/* The disk's mode goes with its name (the clone is made 0600). */
	if (chmod(cow, st.st_mode & 07777) < 0) {
		r = -errno;
		(void)unlink(cow);
		return error_set(err, r, "chmod '%s': %s", cow, strerror(-r));
	}
	ec = ext2fs_open(cow, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &s->fs);
	if (ec) {
		(void)unlink(cow);
		return ext_error(err, ec, "open ext4 image", s->image);
	}
	s->cow = TAKE_PTR(cow);
	return 0;
}

/*
 * The end of change_open's change.  keep: the change stands (on a clone,
 * the clone synced takes the image's name; in place, the image is synced
 * and its undo file goes).  Not keep: the image as it was before (the
 * clone dropped; in place, its undo file replayed, what the warning calls
 * `what`).
 */
static int
change_close(struct sync *s, bool keep, const char *what, struct error **err)
{
	_cleanup_free_ char *cow = TAKE_PTR(s->cow);
	int r;

	if (!cow) {
		struct error *e2 = NULL;

		if (keep)
			return close_in_place(&s->fs, s->image, err);
		r = sync_close(&s->fs, s->image, true, &e2);
		pthread_mutex_unlock(&undo_lock);	/* taken by disk_work_open_in_place */
		if (r >= 0)
			r = undo_replay(s->image, what, &e2);
		if (r < 0) {
			_cleanup_free_ char *msg = error_format(e2);

			disk_warn("work disk '%s': %s was not undone: %s (the next run tries "
				  "again)", s->image, what, msg);
		}
		error_free(e2);
		return 0;
	}
	r = sync_close(&s->fs, cow, keep, err);
	if (r >= 0 && keep && rename(cow, s->image) < 0)
		r = error_set(err, -errno, "rename '%s' to '%s': %s", cow, s->image,
			      strerror(errno));
	if (r < 0 || !keep) {
		(void)unlink(cow);
		return r;
	}
	r = fsync_parent_dir(s->image);
	if (r < 0)
		return error_set(err, r, "sync the folder of '%s': %s", s->image, strerror(-r));
	return 0;
}


static int
lookup(struct sync *s, ext2_ino_t dir, const char *name, ext2_ino_t *ret)
{
	errcode_t e = ext2fs_lookup(s->fs, dir, name, (int)strlen(name), NULL, ret);

	if (e == EXT2_ET_FILE_NOT_FOUND)
		return -ENOENT;
	return e ? -EIO : 0;
}

static int
set_mode(struct sync *s, ext2_ino_t ino, mode_t mode, const char *guest, struct error **err)
{
	struct ext2_inode in;
	errcode_t e;

	e = ext2fs_read_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "read inode of", guest);
	in.i_mode = (uint16_t)((in.i_mode & LINUX_S_IFMT) | (mode & 07777));
	in.i_uid = in.i_gid = 0;
	in.i_ctime = (uint32_t)s->now;
	e = ext2fs_write_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "write inode of", guest);
	return 0;
}

/* Drop one link to ino from dir; frees the inode and its blocks at zero links. */
static int
remove_entry(struct sync *s, ext2_ino_t dir, const char *name, ext2_ino_t ino,
	     const char *guest, struct error **err)
{
	struct ext2_inode in;
	errcode_t e;

	e = ext2fs_unlink(s->fs, dir, name, ino, 0);
	if (e)
		return ext_error(err, e, "unlink", guest);
	e = ext2fs_read_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "read inode of", guest);
	if (in.i_links_count > 0)
		in.i_links_count--;
	if (in.i_links_count == 0) {
		if (ext2fs_inode_has_valid_blocks2(s->fs, &in)) {
			e = ext2fs_punch(s->fs, ino, &in, NULL, 0, ~0ULL);
			if (e)
				return ext_error(err, e, "free blocks of", guest);
		}
		in.i_dtime = (uint32_t)s->now;
	}
	e = ext2fs_write_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "write inode of", guest);
	if (in.i_links_count == 0)
		ext2fs_inode_alloc_stats2(s->fs, ino, -1, 0);
	return 0;
}

/*
 * Directory name in parent: created with mode when missing; an existing one
 * gets mode too when set_existing.
 */
static int
ensure_dir(struct sync *s, ext2_ino_t parent, const char *name, mode_t mode, bool set_existing,
	   const char *guest, ext2_ino_t *ret, struct error **err)
{
	struct ext2_inode in;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	r = lookup(s, parent, name, &ino);
	if (r == 0) {
		e = ext2fs_read_inode(s->fs, ino, &in);
		if (e)
			return ext_error(err, e, "read inode of", guest);
		if (!LINUX_S_ISDIR(in.i_mode))
			return error_set(err, -ENOTDIR, "guest path '%s' exists and is not a directory",
					 guest);
		if (set_existing) {
			r = set_mode(s, ino, mode, guest, err);
			if (r < 0)
				return r;
		}
		*ret = ino;
		return 0;
	}
	if (r != -ENOENT)
		return error_set(err, r, "look up '%s' in '%s'", guest, s->image);
	e = ext2fs_mkdir(s->fs, parent, 0, name);
	if (e == EXT2_ET_DIR_NO_SPACE) {
		e = ext2fs_expand_dir(s->fs, parent);
		if (!e)
			e = ext2fs_mkdir(s->fs, parent, 0, name);
	}
	if (e)
		return ext_error(err, e, "mkdir", guest);
	r = lookup(s, parent, name, &ino);
	if (r < 0)
		return error_set(err, r, "look up new directory '%s'", guest);
	r = set_mode(s, ino, mode, guest, err);
	if (r < 0)
		return r;
	*ret = ino;
	return 0;
}

/* Walk guest's parent directories from /, creating missing ones 0755; returns the last name. */
static int
guest_parent(struct sync *s, const char *guest, ext2_ino_t *ret_parent, char **ret_name,
	     struct error **err)
{
	_cleanup_free_ char *copy = xstrdup(guest);
	ext2_ino_t dir = EXT2_ROOT_INO;
	char *p = copy + 1, *slash;
	int r;

	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		r = ensure_dir(s, dir, p, 0755, false, guest, &dir, err);
		if (r < 0)
			return r;
		p = slash + 1;
	}
	*ret_parent = dir;
	*ret_name = xstrdup(p);
	return 0;
}

static int
link_new(struct sync *s, ext2_ino_t parent, const char *name, ext2_ino_t ino, int type,
	 const char *guest, struct error **err)
{
	errcode_t e;

	e = ext2fs_link(s->fs, parent, name, ino, type);
	if (e == EXT2_ET_DIR_NO_SPACE) {
		e = ext2fs_expand_dir(s->fs, parent);
		if (!e)
			e = ext2fs_link(s->fs, parent, name, ino, type);
	}
	if (e)
		return ext_error(err, e, "link", guest);
	return 0;
}

static int
new_file_inode(struct sync *s, ext2_ino_t parent, const char *name, mode_t mode,
	       const char *guest, ext2_ino_t *ret, struct error **err)
{
	struct ext2_inode in;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	e = ext2fs_new_inode(s->fs, parent, LINUX_S_IFREG | 0600, NULL, &ino);
	if (e)
		return ext_error(err, e, "allocate inode for", guest);
	r = link_new(s, parent, name, ino, EXT2_FT_REG_FILE, guest, err);
	if (r < 0)
		return r;
	ext2fs_inode_alloc_stats2(s->fs, ino, +1, 0);
	memset(&in, 0, sizeof(in));
	in.i_mode = (uint16_t)(LINUX_S_IFREG | (mode & 07777));
	in.i_links_count = 1;
	in.i_atime = in.i_ctime = in.i_mtime = (uint32_t)s->now;
	if (ext2fs_has_feature_inline_data(s->fs->super)) {
		in.i_flags |= EXT4_INLINE_DATA_FL;
	} else if (ext2fs_has_feature_extents(s->fs->super)) {
		ext2_extent_handle_t h;

		e = ext2fs_extent_open2(s->fs, ino, &in, &h);
		if (e)
			return ext_error(err, e, "extent tree of", guest);
		ext2fs_extent_free(h);
	}
	e = ext2fs_write_new_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "write inode of", guest);
	if (in.i_flags & EXT4_INLINE_DATA_FL) {
		e = ext2fs_inline_data_init(s->fs, ino);
		if (e)
			return ext_error(err, e, "inline data of", guest);
	}
	*ret = ino;
	return 0;
}

/* Write an ext2 file's content: bytes read from fd, or when fd is negative,
 * the len bytes at data. */
static int
write_content(struct sync *s, ext2_ino_t ino, int fd, const char *data, size_t len,
	      const char *host, const char *guest, struct error **err)
{
	ext2_file_t f = NULL;
	_cleanup_free_ char *buf = fd >= 0 ? xmalloc(1U << 16) : NULL;
	uint64_t total = 0;
	errcode_t e;
	int r = 0;

	e = ext2fs_file_open(s->fs, ino, EXT2_FILE_WRITE, &f);
	if (e)
		return ext_error(err, e, "open", guest);
	e = ext2fs_file_set_size2(f, 0);
	if (e) {
		r = ext_error(err, e, "truncate", guest);
		goto out;
	}
	for (;;) {
		const char *chunk = buf;
		unsigned int done = 0;
		ssize_t n;

		if (fd < 0) {
			size_t left = len - (size_t)total;

			chunk = data + total;
			n = (ssize_t)(left < (1U << 16) ? left : (1U << 16));
		} else {
			n = read(fd, buf, 1U << 16);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = error_set(err, -errno, "read '%s': %s", host, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		while (done < (unsigned int)n) {
			unsigned int w = 0;

			e = ext2fs_file_write(f, chunk + done, (unsigned int)n - done, &w);
			if (e) {
				r = ext_error(err, e, "write", guest);
				goto out;
			}
			done += w;
		}
		total += (uint64_t)n;
	}
	e = ext2fs_file_set_size2(f, total);
	if (e)
		r = ext_error(err, e, "size", guest);
out:
	e = ext2fs_file_close(f);
	if (e && r == 0)
		r = ext_error(err, e, "close", guest);
	return r;
}

/* The guest file parent/name made a regular file holding the bytes of fd
 * (the host file host, opened), or when fd < 0, the len bytes at data. */
static int
sync_file(struct sync *s, ext2_ino_t parent, const char *name, int fd, const char *host,
	  const char *data, size_t len, mode_t mode, const char *guest, struct error **err)
{
	struct ext2_inode in;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	r = lookup(s, parent, name, &ino);
	if (r == 0) {
		e = ext2fs_read_inode(s->fs, ino, &in);
		if (e)
			return ext_error(err, e, "read inode of", guest);
		if (LINUX_S_ISDIR(in.i_mode))
			return error_set(err, -EISDIR, "guest path '%s' is a directory", guest);
		if (!LINUX_S_ISREG(in.i_mode)) {
			r = remove_entry(s, parent, name, ino, guest, err);
			if (r < 0)
				return r;
			r = -ENOENT;
		}
	}
	if (r == -ENOENT)
		r = new_file_inode(s, parent, name, mode, guest, &ino, err);
	else if (r < 0)
		return error_set(err, r, "look up '%s' in '%s'", guest, s->image);
	if (r < 0)
		return r;
	r = write_content(s, ino, fd, data, len, host, guest, err);
	if (r < 0)
		return r;
	return set_mode(s, ino, mode, guest, err);
}

static int
sync_symlink(struct sync *s, ext2_ino_t parent, const char *name, const char *target,
	     const char *guest, struct error **err)
{
	struct ext2_inode in;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	r = lookup(s, parent, name, &ino);
	if (r == 0) {
		e = ext2fs_read_inode(s->fs, ino, &in);
		if (e)
			return ext_error(err, e, "read inode of", guest);
		if (LINUX_S_ISDIR(in.i_mode))
			return error_set(err, -EISDIR, "guest path '%s' is a directory", guest);
		r = remove_entry(s, parent, name, ino, guest, err);
		if (r < 0)
			return r;
	}
	e = ext2fs_symlink(s->fs, parent, 0, name, target);
	if (e == EXT2_ET_DIR_NO_SPACE) {
		e = ext2fs_expand_dir(s->fs, parent);
		if (!e)
			e = ext2fs_symlink(s->fs, parent, 0, name, target);
	}
	if (e)
		return ext_error(err, e, "symlink", guest);
	return 0;
}

/*
 * Whether a relative symlink target, read in directory rel (relative to the
 * synced tree's root, "" for the root), stays inside the tree.
 */
static bool
link_stays_inside(const char *rel, const char *target)
{
	_cleanup_free_ char *t = xstrdup(target);
	int depth = 0;
	char *save = NULL;

	if (target[0] == '/' || target[0] == '\0')
		return false;
	for (const char *c = rel; *c; c++)
		if (*c == '/')
			depth++;
	if (*rel)
		depth++;
	for (char *p = strtok_r(t, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (strcmp(p, ".") == 0)
			continue;
		if (strcmp(p, "..") == 0) {
			if (--depth < 0)
				return false;
		} else {
			depth++;
		}
	}
	return true;
}

/*
 * Open entry name of the host folder dfd as what fstatat saw it be (a
 * folder, or a regular file): never through a symlink, never blocking on a
 * FIFO, and checked again on the descriptor, so an entry swapped meanwhile
 * is not read.  -EAGAIN when it changed or went (the caller passes it over).
 */
static int
open_entry(int dfd, const char *name, bool dir, const char *hp, int *ret_fd, struct stat *st,
	   struct error **err)
{
	int fd = openat(dfd, name,
			O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC |
				(dir ? O_DIRECTORY : 0));

	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR || errno == ENXIO)
			return -EAGAIN;
		return error_set(err, -errno, "open '%s': %s", hp, strerror(errno));
	}
	if (fstat(fd, st) < 0) {
		int r = -errno;

		(void)close(fd);
		return error_set(err, r, "stat '%s': %s", hp, strerror(-r));
	}
	if (dir ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		(void)close(fd);
		return -EAGAIN;
	}
	*ret_fd = fd;
	return 0;
}

/* Copy the host folder dfd (taken, closed here; host_dir its name) into the
 * guest folder dir_ino, entry by entry through descriptors. */
static int
sync_tree(struct sync *s, ext2_ino_t dir_ino, int dfd, const char *host_dir, const char *rel,
	  const char *guest_dir, mode_t dir_mode, int level, struct error **err)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (level > SYNC_DEPTH_MAX) {
		(void)close(dfd);
		return error_set(err, -ELOOP, "'%s' is nested too deep", host_dir);
	}
	d = fdopendir(dfd);
	if (!d) {
		r = -errno;
		(void)close(dfd);
		return error_set(err, r, "open '%s': %s", host_dir, strerror(-r));
	}
	while ((de = readdir(d))) {
		_cleanup_free_ char *hp = NULL, *gp = NULL, *rp = NULL;
		struct stat st;
		int fd = -EBADF;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		hp = xasprintf("%s/%s", host_dir, de->d_name);
		gp = xasprintf("%s/%s", guest_dir, de->d_name);
		rp = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			sync_warn(s, "file sync: '%s' vanished, ignoring", hp);
			continue;
		}
		if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
			r = open_entry(dirfd(d), de->d_name, S_ISDIR(st.st_mode), hp, &fd, &st, err);
			if (r == -EAGAIN) {
				r = 0;
				if (s->strict) {
					r = error_set(err, -EAGAIN, "'%s' changed while it was copied",
						      hp);
					break;
				}
				sync_warn(s, "file sync: '%s' changed while it was copied, ignoring",
					  hp);
				continue;
			}
			if (r < 0)
				break;
		}
		if (S_ISDIR(st.st_mode)) {
			ext2_ino_t sub;

			r = ensure_dir(s, dir_ino, de->d_name, dir_mode, true, gp, &sub, err);
			if (r >= 0)
				r = sync_tree(s, sub, TAKE_FD(fd), hp, rp, gp, dir_mode, level + 1,
					      err);
			else
				(void)close(fd);
		} else if (S_ISREG(st.st_mode)) {
			r = sync_file(s, dir_ino, de->d_name, fd, hp, NULL, 0,
				      (st.st_mode & S_IXUSR) ? s->exec_mode : s->file_mode, gp, err);
			(void)close(fd);
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

			if (n < 0) {
				r = error_set(err, -errno, "readlink '%s': %s", hp, strerror(errno));
				break;
			}
			target[n] = '\0';
			if (!link_stays_inside(rel, target)) {
				if (s->strict) {
					r = error_set(err, -ELOOP,
						      "symlink '%s' points outside the copied tree ('%s')",
						      hp, target);
					break;
				}
				sync_warn(s, "file sync: symlink '%s' points outside the synced tree, ignoring",
					  hp);
				continue;
			}
			r = sync_symlink(s, dir_ino, de->d_name, target, gp, err);
		} else if (s->strict) {
			r = error_set(err, -EINVAL, "'%s' is not a file, directory or symlink", hp);
		} else {
			sync_warn(s, "file sync: '%s' is not a file, directory or symlink, ignoring", hp);
		}
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int
sync_entry(struct sync *s, const struct filesync_entry *e, const char *state_root,
	   struct error **err)
{
	_cleanup_free_ char *host = NULL, *guest = NULL, *name = NULL;
	_cleanup_close_ int fd = -EBADF;
	ext2_ino_t parent, ino;
	struct stat st;
	int r;

	if (e->guest && strcmp(e->guest, "~") == 0)
		guest = xstrdup("/root");
	else if (e->guest && strncmp(e->guest, "~/", 2) == 0)
		guest = xasprintf("/root/%s", e->guest + 2);
	else
		guest = xstrdup(e->guest ? e->guest : "");
	r = disk_guest_path_check(guest, err);
	if (r < 0)
		return r;
	if (e->content) {
		r = guest_parent(s, guest, &parent, &name, err);
		if (r < 0)
			return r;
		return sync_file(s, parent, name, -EBADF, NULL, e->content, e->content_len,
				 e->mode >= 0 ? (mode_t)e->mode : 0600, guest, err);
	}
	/* Opened once; what is copied is what was opened. */
	r = disk_host_open(e->host, state_root, &host, &fd, err);
	if (r == -ENOENT && (!err || !*err)) {
		_cleanup_free_ char *p = NULL;

		(void)disk_host_path_resolve(e->host, state_root, &p, NULL);
		sync_warn(s, "file sync: host path '%s' does not exist, ignoring", p ? p : e->host);
		return 0;
	}
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", host, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return error_set(err, -EINVAL, "host path '%s' is not a regular file or directory",
				 host);
	r = guest_parent(s, guest, &parent, &name, err);
	if (r < 0)
		return r;
	if (S_ISREG(st.st_mode))
		return sync_file(s, parent, name, fd, host, NULL, 0,
				 e->mode >= 0 ? (mode_t)e->mode : 0600, guest, err);
	r = ensure_dir(s, parent, name, e->mode >= 0 ? (mode_t)e->mode : 0755, true, guest, &ino,
		       err);
	if (r < 0)
		return r;
	return sync_tree(s, ino, TAKE_FD(fd), host, "", guest,
			 e->mode >= 0 ? (mode_t)e->mode : 0755, 0, err);
}

/* disk_filesync_apply; durable only when sync (else the caller syncs).  The
 * entries passed over go to *ret_warnings, or are printed without it. */
static int
filesync_apply(const char *work_path, const struct filesync_entry *e, size_t n,
	       const char *state_root, bool sync, char ***ret_warnings, struct error **err)
{
	struct sync s = { .image = work_path, .now = time(NULL), .file_mode = 0600,
			  .exec_mode = 0700 };
	errcode_t ec;
	int r = 0;

	(void)pthread_once(&error_table_once, error_table_init);
	/* A new disk's temp file (not sync) has no before to go back to. */
	if (sync) {
		r = change_open(&s, err);
		if (r < 0)
			return r;
	} else {
		ec = ext2fs_open(work_path, EXT2_FLAG_RW | EXT2_FLAG_64BITS, 0, 0, unix_io_manager,
				 &s.fs);
		if (ec)
			return ext_error(err, ec, "open ext4 image", work_path);
	}
	ec = ext2fs_read_bitmaps(s.fs);
	if (ec) {
		r = ext_error(err, ec, "read bitmaps of", work_path);
		if (sync)
			(void)change_close(&s, true, NULL, NULL);	/* nothing written */
		else
			(void)ext2fs_close_free(&s.fs);
		return r;
	}
	for (size_t i = 0; i < n && r >= 0; i++) {
		r = sync_entry(&s, &e[i], state_root, err);
		if (r < 0)
			(void)error_prefix(err, "file sync '%s' -> '%s'", e[i].host ? e[i].host : "",
					   e[i].guest ? e[i].guest : "");
	}
	/*
	 * After an error, an existing disk is left as it was before this sync
	 * (its clone dropped, or its undo file replayed): a half-copied entry
	 * or a full disk is not left to the guest.  A new disk's temp file is
	 * its caller's to drop.
	 */
	if (r < 0 && sync)
		(void)change_close(&s, false, "the failed file sync", NULL);
	else if (r < 0)
		(void)sync_close(&s.fs, work_path, false, NULL);
	else
		r = sync ? change_close(&s, true, NULL, err)
			 : sync_close(&s.fs, work_path, false, err);
	if (ret_warnings)
		*ret_warnings = TAKE_PTR(s.warnings);
	for (size_t i = 0; s.warnings && s.warnings[i]; i++)
		disk_warn("%s", s.warnings[i]);
	strv_free(s.warnings);
	return r < 0 ? r : 0;
}

int
disk_filesync_apply(const char *work_path, const struct filesync_entry *e, size_t n,
		    const char *state_root, struct error **err)
{
	return filesync_apply(work_path, e, n, state_root, true, NULL, err);
}

struct dir_list {
	char **names;
};

static int
collect_entry(ext2_ino_t dir, int entry, struct ext2_dir_entry *de, int offset, int blocksize,
	      char *buf, void *priv)
{
	struct dir_list *l = priv;
	_cleanup_free_ char *name = NULL;

	(void)dir;
	(void)offset;
	(void)blocksize;
	(void)buf;
	if (entry == DIRENT_DOT_FILE || entry == DIRENT_DOT_DOT_FILE || de->inode == 0)
		return 0;
	name = xstrndup(de->name, (size_t)ext2fs_dirent_name_len(de));
	l->names = strv_append(l->names, name);
	return 0;
}

/* Remove the directory ino (empty by now), named name in parent. */
static int
remove_dir(struct sync *s, ext2_ino_t parent, const char *name, ext2_ino_t ino,
	   const char *guest, struct error **err)
{
	struct ext2_inode in;
	errcode_t e;

	e = ext2fs_unlink(s->fs, parent, name, ino, 0);
	if (e)
		return ext_error(err, e, "unlink", guest);
	e = ext2fs_read_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "read inode of", guest);
	if (ext2fs_inode_has_valid_blocks2(s->fs, &in) || (in.i_flags & EXT4_INLINE_DATA_FL)) {
		e = ext2fs_punch(s->fs, ino, &in, NULL, 0, ~0ULL);
		if (e)
			return ext_error(err, e, "free blocks of", guest);
	}
	in.i_links_count = 0;
	in.i_dtime = (uint32_t)s->now;
	e = ext2fs_write_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "write inode of", guest);
	ext2fs_inode_alloc_stats2(s->fs, ino, -1, 1);
	/* The parent loses the link its child's ".." held. */
	e = ext2fs_read_inode(s->fs, parent, &in);
	if (e)
		return ext_error(err, e, "read inode of parent of", guest);
	if (in.i_links_count > 2)
		in.i_links_count--;
	e = ext2fs_write_inode(s->fs, parent, &in);
	if (e)
		return ext_error(err, e, "write inode of parent of", guest);
	return 0;
}

/* Remove name (and everything under it) from parent; a missing name is success. */
static int
remove_tree(struct sync *s, ext2_ino_t parent, const char *name, const char *guest, int level,
	    struct error **err)
{
	struct dir_list l = { NULL };
	struct ext2_inode in;
	ext2_ino_t ino;
	errcode_t e;
	int r;

	if (level > SYNC_DEPTH_MAX)
		return error_set(err, -ELOOP, "guest path '%s' is nested too deep", guest);
	r = lookup(s, parent, name, &ino);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return error_set(err, r, "look up '%s' in '%s'", guest, s->image);
	e = ext2fs_read_inode(s->fs, ino, &in);
	if (e)
		return ext_error(err, e, "read inode of", guest);
	if (!LINUX_S_ISDIR(in.i_mode))
		return remove_entry(s, parent, name, ino, guest, err);
	e = ext2fs_dir_iterate2(s->fs, ino, 0, NULL, collect_entry, &l);
	if (e) {
		strv_free(l.names);
		return ext_error(err, e, "read directory", guest);
	}
	r = 0;
	for (size_t i = 0; l.names && l.names[i] && r >= 0; i++) {
		_cleanup_free_ char *sub = xasprintf("%s/%s", guest, l.names[i]);

		r = remove_tree(s, ino, l.names[i], sub, level + 1, err);
	}
	strv_free(l.names);
	if (r < 0)
		return r;
	return remove_dir(s, parent, name, ino, guest, err);
}

int
disk_work_copy_tree(const char *work_path, const char *host_dir, const char *guest_dir,
		    struct error **err)
{
	struct sync s = { .image = work_path, .now = time(NULL), .file_mode = 0644,
			  .exec_mode = 0755, .strict = true };
	_cleanup_free_ char *name = NULL;
	ext2_ino_t parent, ino;
	struct stat st;
	errcode_t ec;
	int r;

	r = disk_guest_path_check(guest_dir, err);
	if (r < 0)
		return r;
	if (strcmp(guest_dir, "/") == 0)
		return error_set(err, -EINVAL, "guest path '/': expected a folder below it");
	if (lstat(host_dir, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", host_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return error_set(err, -ENOTDIR, "'%s' is not a directory", host_dir);

	(void)pthread_once(&error_table_once, error_table_init);
	r = change_open(&s, err);
	if (r < 0)
		return r;
	ec = ext2fs_read_bitmaps(s.fs);
	if (ec) {
		r = ext_error(err, ec, "read bitmaps of", work_path);
		(void)change_close(&s, true, NULL, NULL);	/* nothing written */
		return r;
	}
	r = guest_parent(&s, guest_dir, &parent, &name, err);
	if (r >= 0)
		r = remove_tree(&s, parent, name, guest_dir, 0, err);
	if (r >= 0)
		r = ensure_dir(&s, parent, name, 0755, true, guest_dir, &ino, err);
	if (r >= 0) {
		int fd = open(host_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		r = fd < 0 ? error_set(err, -errno, "open '%s': %s", host_dir, strerror(errno))
			   : sync_tree(&s, ino, fd, host_dir, "", guest_dir, 0755, 0, err);
	}
	if (r < 0)
		(void)error_prefix(err, "copy '%s' to '%s' in '%s'", host_dir, guest_dir, work_path);
	/* Kept even after an error: what was done so far leaves a consistent fs. */
	if (r < 0)
		(void)change_close(&s, true, NULL, NULL);
	else
		r = change_close(&s, true, NULL, err);
	for (size_t i = 0; s.warnings && s.warnings[i]; i++)
		disk_warn("%s", s.warnings[i]);
	strv_free(s.warnings);
	return r < 0 ? r : 0;
}
