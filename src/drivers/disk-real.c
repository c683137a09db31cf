/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real disk ops: VM directories, root disks by strategy (dm-snapshot over
 * loop devices, reflink, sparse copy), work disks and file syncs, and the
 * listing of banger's disk objects for orphan removal.  Every path is checked
 * against the status directory before the host is touched; dm names must be
 * DM_PREFIX + 12 hex.  Device-mapper and loop devices go through seams
 * (disk-internal.h) so the unit tests can record the calls.
 *
 * dm-snapshot layout: a plain "snapshot" target (no snapshot-origin: the
 * origin is a read-only loop device nobody writes, so no origin target is
 * needed to keep snapshots coherent):
 *     0 SECTORS snapshot BASE_LOOP COW_LOOP P 8
 * BASE_LOOP is the image rootfs (read-only loop), COW_LOOP the sparse file
 * VM_DIR/cow.img of the overlay size.  Both loops have autoclear and our fds
 * are closed right after the target is created, so the loops live exactly as
 * long as the target: a crash before that leaves nothing behind.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "source/workspace.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

struct disk_real {
	struct disk_ops ops;
	char *status_dir;
	struct dm_backend dm;
	struct loop_backend loop;
	/* reflink_works_cached: the answer for filesystem reflink_dev */
	bool reflink_known, reflink_ok;
	dev_t reflink_dev;
	/* reflink_from_cached: the answer for images on from_dev cloned into
	 * reflink_dev's file system */
	bool from_known, from_ok;
	dev_t from_dev, from_to_dev;
	/* The data of each image copied (strategy copy): every VM of a run
	 * that uses one copies the same blocks. */
	struct disk_copy_maps copy_maps;
	bool vms_marked;	/* mark_vms_top: done (read and set atomically) */
};

static int
check_vm_dir(struct disk_real *d, const char *vm_dir, struct error **err)
{
	return disk_vm_dir_check(d->status_dir, vm_dir, err);
}

/* disk_reflink_works, asked once per filesystem by this driver: the probe
 * makes and removes two files, and every VM of a run lives on the same one. */
static bool
reflink_works_cached(struct disk_real *d, const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return disk_reflink_works(dir);
	if (d->reflink_known && d->reflink_dev == st.st_dev)
		return d->reflink_ok;
	d->reflink_ok = disk_reflink_works(dir);
	d->reflink_dev = st.st_dev;
	d->reflink_known = true;
	return d->reflink_ok;
}

/* Whether image clones into dir: asked once per pair of file systems. */
static bool
reflink_from_cached(struct disk_real *d, const char *image, const char *dir)
{
	struct stat si, sd;

	if (!reflink_works_cached(d, dir))
		return false;
	/* No image, or none there: root_create reports a missing one. */
	if (!image || stat(image, &si) < 0)
		return true;
	if (stat(dir, &sd) < 0)
		return false;
	if (!(d->from_known && d->from_dev == si.st_dev && d->from_to_dev == sd.st_dev)) {
		d->from_ok = disk_reflink_works_from(image, dir);
		d->from_dev = si.st_dev;
		d->from_to_dev = sd.st_dev;
		d->from_known = true;
	}
	return d->from_ok;
}

static int
real_strategy_probe(void *userdata, enum disk_strategy want, const char *vm_dir,
		    const char *image_rootfs, enum disk_strategy *ret, struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *vms = NULL, *up = NULL;
	const char *probe_dir;
	struct stat st;
	int r;

	r = check_vm_dir(d, vm_dir, err);
	if (r < 0)
		return r;
	/* Probe where the disk will live, or the nearest directory that exists:
	 * a status directory not made yet (doctor before the first run) is
	 * made on its parent's file system. */
	vms = xasprintf("%s/vms", d->status_dir);
	if (stat(vm_dir, &st) == 0 && S_ISDIR(st.st_mode))
		probe_dir = vm_dir;
	else if (stat(vms, &st) == 0 && S_ISDIR(st.st_mode))
		probe_dir = vms;
	else {
		char *slash;

		up = xstrdup(d->status_dir);
		while ((stat(up, &st) < 0 || !S_ISDIR(st.st_mode)) && (slash = strrchr(up, '/')))
			slash[slash == up] = '\0';	/* "/a" -> "/", "/a/b" -> "/a" */
		probe_dir = up;
	}

	switch (want) {
	case DISK_STRATEGY_AUTO:
		if (d->dm.available(d->dm.userdata))
			*ret = DISK_STRATEGY_DM_SNAPSHOT;
		else if (reflink_from_cached(d, image_rootfs, probe_dir))
			*ret = DISK_STRATEGY_REFLINK;
		else
			*ret = DISK_STRATEGY_COPY;
		return 0;
	case DISK_STRATEGY_DM_SNAPSHOT:
		if (!d->dm.available(d->dm.userdata))
			return error_set(err, -EOPNOTSUPP,
					 "dm-snapshot: device-mapper is not available on this host "
					 "(/dev/mapper/control)");
		*ret = want;
		return 0;
	case DISK_STRATEGY_REFLINK:
		if (!reflink_works_cached(d, probe_dir))
			return error_set(err, -EOPNOTSUPP,
					 "reflink: the filesystem of '%s' cannot clone files",
					 probe_dir);
		if (!reflink_from_cached(d, image_rootfs, probe_dir))
			return error_set(err, -EXDEV,
					 "reflink: image '%s' cannot be cloned into '%s' (a clone "
					 "needs the image on the same file system)",
					 image_rootfs, probe_dir);
		*ret = want;
		return 0;
	case DISK_STRATEGY_COPY:
		*ret = want;
		return 0;
	default:
		return error_set(err, -EINVAL, "unknown disk strategy %d", (int)want);
	}
}

/*
 * STATUS_DIR/vms marked as a top directory (FS_TOPDIR_FL, what chattr +T
 * sets), once per driver: ext4 then places the VM folders made in it over
 * its block groups, as it does home folders, and each VM's files (root and
 * work disk, their temp names) in its folder's group.  Packed into one
 * group, every file a VM's steps make had its inode searched for past every
 * inode freed in that group lately, which ext4 without a journal skips for
 * a minute or more: creating VMs soon after others were deleted took about
 * half again as much CPU.  A hint only: where the file system has no such
 * flag (XFS, btrfs, tmpfs), nothing changes and nothing fails.
 */
static void
mark_vms_top(struct disk_real *d)
{
	_cleanup_free_ char *vms = NULL;
	_cleanup_close_ int fd = -EBADF;
	int flags = 0;

	if (__atomic_load_n(&d->vms_marked, __ATOMIC_ACQUIRE))
		return;
	vms = xasprintf("%s/vms", d->status_dir);
	if (mkdir_p(vms, 0700) < 0)
		return;		/* vm_dir_create reports it */
	fd = open(vms, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		(void)ioctl(fd, FS_IOC_SETFLAGS, &flags);
	}
	__atomic_store_n(&d->vms_marked, true, __ATOMIC_RELEASE);
}

static int
real_vm_dir_create(void *userdata, const char *vm_dir, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = check_vm_dir(d, vm_dir, err);
	if (r < 0)
		return r;
	mark_vms_top(d);
	r = mkdir_p(vm_dir, 0700);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", vm_dir, strerror(-r));
	if (chmod(vm_dir, 0700) < 0)
		return error_set(err, -errno, "chmod '%s': %s", vm_dir, strerror(errno));
	return 0;
}

static int
real_vm_dir_remove(void *userdata, const char *vm_dir, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = check_vm_dir(d, vm_dir, err);
	if (r < 0)
		return r;
	return disk_rm_rf(vm_dir, err);
}

/* Detach every loop device backed by path (after the dm target let go of it). */
static int
detach_loops_of(struct disk_real *d, const char *path, struct error **err)
{
	struct disk_obj *objs = NULL;
	size_t n = 0;
	int r;

	r = d->loop.list(d->loop.userdata, d->status_dir, &objs, &n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r >= 0; i++)
		if (objs[i].backing && strcmp(objs[i].backing, path) == 0)
			r = d->loop.detach(d->loop.userdata, objs[i].name, err);
	disk_objs_free(objs, n);
	return r < 0 ? r : 0;
}

static int
dm_exists(struct disk_real *d, const char *name, bool *ret, struct error **err)
{
	_cleanup_strv_free_ char **names = NULL;
	int r;

	r = d->dm.list(d->dm.userdata, &names, err);
	if (r < 0)
		return r;
	*ret = strv_contains(names, name);
	return 0;
}

/*
 * dm-snapshot root disk:
 * 1. adopt the target when it already exists;
 * 2. create VM_DIR/cow.img, sparse, of the overlay size (kept when present:
 *    it is a persistent exception store);
 * 3. attach the image rootfs read-only and cow.img read-write (autoclear);
 * 4. create the snapshot target over both;
 * 5. close our loop fds: the target now holds the devices.
 */
static int
root_create_dm(struct disk_real *d, const struct disk_root_req *req, char **ret_device,
	       struct error **err)
{
	_cleanup_free_ char *cow = NULL, *base_dev = NULL, *cow_dev = NULL, *table = NULL;
	_cleanup_close_ int fd = -EBADF;
	int base_fd = -EBADF, cow_fd = -EBADF;
	struct stat st, base_st;
	bool exists;
	int r;

	r = disk_dm_name_check(req->dm_name, err);
	if (r < 0)
		return r;
	r = dm_exists(d, req->dm_name, &exists, err);
	if (r < 0)
		return r;
	if (exists) {
		*ret_device = xasprintf("/dev/mapper/%s", req->dm_name);
		return 0;
	}
	if (stat(req->image_rootfs, &base_st) < 0)
		return error_set(err, -errno, "stat '%s': %s", req->image_rootfs, strerror(errno));
	if (!S_ISREG(base_st.st_mode) || base_st.st_size < 512)
		return error_set(err, -EINVAL, "image rootfs '%s' is not a regular file of at least 512 bytes",
				 req->image_rootfs);
	if (req->overlay_size < 512)
		return error_set(err, -EINVAL, "overlay size %llu is too small",
				 (unsigned long long)req->overlay_size);

	cow = xasprintf("%s/%s", req->vm_dir, DISK_COW_FILE);
	fd = open(cow, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return error_set(err, -errno, "create '%s': %s", cow, strerror(errno));
	if (fstat(fd, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", cow, strerror(errno));
	/* A new overlay, sized and synced (its name: vm_dir_sync). */
	if (st.st_size == 0 && (ftruncate(fd, (off_t)req->overlay_size) < 0 || fsync(fd) < 0))
		return error_set(err, -errno, "size '%s': %s", cow, strerror(errno));
	(void)close(TAKE_FD(fd));

	r = d->loop.attach(d->loop.userdata, req->image_rootfs, true, &base_dev, &base_fd, err);
	if (r < 0)
		return r;
	r = d->loop.attach(d->loop.userdata, cow, false, &cow_dev, &cow_fd, err);
	if (r < 0)
		goto out;
	table = dm_snapshot_table((uint64_t)base_st.st_size / 512, base_dev, cow_dev);
	r = d->dm.create(d->dm.userdata, req->dm_name, table, err);
	if (r < 0)
		goto out;
	*ret_device = xasprintf("/dev/mapper/%s", req->dm_name);
out:
	/* Autoclear: after a failure the loops go with these fds. */
	if (cow_fd >= 0)
		d->loop.release(d->loop.userdata, cow_fd);
	if (base_fd >= 0)
		d->loop.release(d->loop.userdata, base_fd);
	return r < 0 ? r : 0;
}

static int
real_root_create(void *userdata, const struct disk_root_req *req, char **ret_device,
		 struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *dst = NULL;
	int r;

	r = check_vm_dir(d, req->vm_dir, err);
	if (r < 0)
		return r;
	if (!req->image_rootfs || req->image_rootfs[0] != '/')
		return error_set(err, -EINVAL, "image rootfs '%s' is not absolute",
				 req->image_rootfs ? req->image_rootfs : "");
	if (req->strategy == DISK_STRATEGY_DM_SNAPSHOT)
		return root_create_dm(d, req, ret_device, err);
	if (req->strategy != DISK_STRATEGY_REFLINK && req->strategy != DISK_STRATEGY_COPY)
		return error_set(err, -EINVAL, "root disk: strategy %d must be probed first",
				 (int)req->strategy);

	dst = xasprintf("%s/%s", req->vm_dir, DISK_ROOT_FILE);
	if (access(dst, F_OK) == 0) {
		*ret_device = TAKE_PTR(dst);
		return 0;	/* adopt: written whole through rename */
	}
	if (req->strategy == DISK_STRATEGY_REFLINK)
		r = disk_reflink(req->image_rootfs, dst, err);
	else
		r = disk_sparse_copy_map(req->image_rootfs, dst, 0600, &d->copy_maps, err);
	if (r < 0)
		return r;
	*ret_device = TAKE_PTR(dst);
	return 0;
}

static int
unlink_in(const char *dir, const char *name, struct error **err)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);

	if (unlink(p) < 0 && errno != ENOENT)
		return error_set(err, -errno, "remove '%s': %s", p, strerror(errno));
	return 0;
}

static int
real_root_remove(void *userdata, const struct disk_root_req *req, struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *cow = NULL;
	int r;

	r = check_vm_dir(d, req->vm_dir, err);
	if (r < 0)
		return r;
	if (req->strategy == DISK_STRATEGY_DM_SNAPSHOT) {
		r = disk_dm_name_check(req->dm_name, err);
		if (r < 0)
			return r;
		r = d->dm.remove(d->dm.userdata, req->dm_name, err);
		if (r < 0)
			return r;
		cow = xasprintf("%s/%s", req->vm_dir, DISK_COW_FILE);
		r = detach_loops_of(d, cow, err);
		if (r < 0)
			return r;
		return unlink_in(req->vm_dir, DISK_COW_FILE, err);
	}
	r = unlink_in(req->vm_dir, DISK_ROOT_FILE ".tmp", err);
	if (r < 0)
		return r;
	return unlink_in(req->vm_dir, DISK_ROOT_FILE, err);
}

static int
real_work_create(void *userdata, const char *path, uint64_t size, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = disk_path_check(d->status_dir, path, err);
	if (r < 0)
		return r;
	{
		_cleanup_free_ char *cache = xasprintf("%s/cache", d->status_dir);

		return disk_work_mkfs(path, size, NULL, cache, err);
	}
}

static int
real_work_create_seeded(void *userdata, const char *path, uint64_t size,
			const struct filesync_entry *e, size_t n, const char *state_root,
			struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *cache = NULL;
	int r;

	r = disk_path_check(d->status_dir, path, err);
	if (r < 0)
		return r;
	cache = xasprintf("%s/cache", d->status_dir);
	return disk_work_mkfs_seeded(path, size, cache, e, n, state_root, err);
}

/* The names root_create and work_create made in vm_dir, durable. */
static int
real_vm_dir_sync(void *userdata, const char *vm_dir, struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_close_ int fd = -EBADF;
	int r;

	r = check_vm_dir(d, vm_dir, err);
	if (r < 0)
		return r;
	fd = open(vm_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0)
		return error_set(err, -errno, "sync '%s': %s", vm_dir, strerror(errno));
	return 0;
}

static int
real_filesync_apply(void *userdata, const char *work_path, const struct filesync_entry *e,
		    size_t n, const char *state_root, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = disk_path_check(d->status_dir, work_path, err);
	if (r < 0)
		return r;
	return disk_filesync_apply(work_path, e, n, state_root, err);
}

static int
real_workspace_apply(void *userdata, const char *work_path, const struct vm_workspace *ws,
		     const char *vm_dir, char **ret_commit, char ***ret_warnings,
		     struct error **err)
{
	struct disk_real *d = userdata;
	struct workspace_result res = { 0 };
	int r;

	r = disk_path_check(d->status_dir, work_path, err);
	if (r < 0)
		return r;
	r = disk_path_check(d->status_dir, vm_dir, err);
	if (r < 0)
		return r;
	r = workspace_apply(ws, work_path, vm_dir, &res, err);
	if (r < 0)
		return r;
	*ret_commit = TAKE_PTR(res.commit);
	*ret_warnings = TAKE_PTR(res.warnings);
	workspace_result_done(&res);
	return 0;
}

static int
real_work_recover(void *userdata, const char *path, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = disk_path_check(d->status_dir, path, err);
	if (r < 0)
		return r;
	return disk_work_recover(path, err);
}

static int
real_work_grow(void *userdata, const char *path, uint64_t size, struct error **err)
{
	struct disk_real *d = userdata;
	int r;

	r = disk_path_check(d->status_dir, path, err);
	if (r < 0)
		return r;
	return disk_work_grow(path, size, err);
}

static int
real_work_retain(void *userdata, const char *path, const char *given_dest, struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *parent = NULL, *named = NULL;
	const char *dest = given_dest;
	size_t n = strlen(given_dest);
	char *slash;
	int r;

	r = disk_path_check(d->status_dir, path, err);
	if (r < 0)
		return r;
	r = disk_path_check(d->status_dir, dest, err);
	if (r < 0)
		return r;
	/* Kept as it was before a change a killed run left half made. */
	r = disk_work_recover(path, err);
	if (r < 0)
		return r;
	/*
	 * A VM whose id is lost (its record was unusable) comes as
	 * NAME-unknown.ext4: kept under the disk's inode number instead, unique
	 * among the files there and the same for a run that retries, so that a
	 * second such VM of that name never collides with the first's disk.
	 */
	if (n > 13 && strcmp(given_dest + n - 13, "-unknown.ext4") == 0) {
		struct stat st;

		if (stat(path, &st) < 0) {
			if (errno == ENOENT)
				return 0;	/* none, or kept already */
			return error_set(err, -errno, "'%s': %s", path, strerror(errno));
		}
		named = xasprintf("%.*s-unknown-%ju.ext4", (int)(n - 13), given_dest,
				  (uintmax_t)st.st_ino);
		dest = named;
	}
	if (access(path, F_OK) < 0 && errno == ENOENT && access(dest, F_OK) == 0)
		return 0;	/* moved already */
	parent = xstrdup(dest);
	slash = strrchr(parent, '/');
	*slash = '\0';
	r = mkdir_p(parent, 0700);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", parent, strerror(-r));
	/*
	 * Never overwrite a retained disk: link, make the new name durable
	 * (its directory, and that one's entry, which may be new), and only
	 * then unlink the old name: a power loss in between leaves both names,
	 * never neither.  A link made by a run cut short is taken as made.
	 */
	if (link(path, dest) < 0) {
		struct stat a, b;

		r = -errno;
		if (r != -EEXIST || stat(path, &a) < 0 || stat(dest, &b) < 0 ||
		    a.st_dev != b.st_dev || a.st_ino != b.st_ino)
			return error_set(err, r, "retain '%s' as '%s': %s", path, dest,
					 strerror(-r));
	}
	r = fsync_parent_dir(dest);
	if (r >= 0)
		r = fsync_parent_dir(parent);
	if (r < 0)
		return error_set(err, r, "sync '%s': %s", parent, strerror(-r));
	if (unlink(path) < 0)
		return error_set(err, -errno, "remove '%s': %s", path, strerror(errno));
	return 0;
}

static int
real_list(void *userdata, const char *status_dir, struct disk_obj **ret, size_t *ret_n,
	  struct error **err)
{
	struct disk_real *d = userdata;
	_cleanup_free_ char *vms = NULL;
	struct disk_obj *objs = NULL, *loops = NULL, *o;
	size_t n = 0, n_loops = 0;
	DIR *dir;
	struct dirent *de;
	int r;

	if (strcmp(status_dir, d->status_dir) != 0)
		return error_set(err, -EPERM, "'%s' is not this driver's status directory '%s'",
				 status_dir, d->status_dir);
	if (d->dm.available(d->dm.userdata)) {
		_cleanup_strv_free_ char **names = NULL;

		r = d->dm.list(d->dm.userdata, &names, err);
		if (r < 0)
			return r;
		for (size_t i = 0; names && names[i]; i++) {
			if (disk_dm_name_check(names[i], NULL) < 0)
				continue;
			objs = xappend(objs, &n, sizeof(*objs), (void **)&o);
			o->kind = DISK_OBJ_DM;
			o->name = xstrdup(names[i]);
		}
	}
	r = d->loop.list(d->loop.userdata, d->status_dir, &loops, &n_loops, err);
	if (r < 0) {
		disk_objs_free(objs, n);
		return r;
	}
	for (size_t i = 0; i < n_loops; i++) {
		objs = xappend(objs, &n, sizeof(*objs), (void **)&o);
		*o = loops[i];
	}
	free(loops);

	vms = xasprintf("%s/vms", d->status_dir);
	dir = opendir(vms);
	if (!dir && errno != ENOENT) {
		r = error_set(err, -errno, "open '%s': %s", vms, strerror(errno));
		disk_objs_free(objs, n);
		return r;
	}
	while (dir && (de = readdir(dir))) {
		struct stat st;

		if (!name_is_dns_label(de->d_name))
			continue;
		/* The entry's type, where the file system gives it (no stat). */
		if (de->d_type != DT_DIR &&
		    (de->d_type != DT_UNKNOWN ||
		     fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		     !S_ISDIR(st.st_mode)))
			continue;
		objs = xappend(objs, &n, sizeof(*objs), (void **)&o);
		o->kind = DISK_OBJ_VM_DIR;
		o->name = xasprintf("%s/%s", vms, de->d_name);
	}
	if (dir)
		closedir(dir);
	*ret = objs;
	*ret_n = n;
	return 0;
}

static int
real_obj_remove(void *userdata, const struct disk_obj *o, struct error **err)
{
	struct disk_real *d = userdata;
	struct disk_obj *loops = NULL;
	size_t n = 0;
	bool ours = false;
	int r;

	switch (o->kind) {
	case DISK_OBJ_DM:
		r = disk_dm_name_check(o->name, err);
		if (r < 0)
			return r;
		return d->dm.remove(d->dm.userdata, o->name, err);
	case DISK_OBJ_LOOP:
		/* Look again: the device may have been reused since it was listed. */
		r = d->loop.list(d->loop.userdata, d->status_dir, &loops, &n, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if (strcmp(loops[i].name, o->name) == 0)
				ours = true;
		disk_objs_free(loops, n);
		if (!ours)
			return 0;	/* gone, or no longer backed under the status dir */
		return d->loop.detach(d->loop.userdata, o->name, err);
	case DISK_OBJ_VM_DIR:
		r = check_vm_dir(d, o->name, err);
		if (r < 0)
			return r;
		return disk_rm_rf(o->name, err);
	default:
		return error_set(err, -EINVAL, "unknown disk object kind %d", (int)o->kind);
	}
}

static int
real_file_present(void *userdata, const char *path, bool *ret, struct error **err)
{
	struct stat st;

	(void)userdata;
	if (lstat(path, &st) == 0) {
		*ret = S_ISREG(st.st_mode) || S_ISBLK(st.st_mode);
		return 0;
	}
	if (errno == ENOENT || errno == ENOTDIR) {
		*ret = false;
		return 0;
	}
	return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
}

static int
usage_at(int dfd, const char *name, const char *path, int level, uint64_t *sum,
	 struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
	}
	*sum += (uint64_t)st.st_blocks * 512;
	if (!S_ISDIR(st.st_mode) || level > 16)
		return 0;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	d = fdopendir(fd);
	if (!d)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	fd = -EBADF;	/* owned by d now */
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		r = usage_at(dirfd(d), de->d_name, sub, level + 1, sum, err);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int
real_usage(void *userdata, const char *vm_dir, uint64_t *ret_bytes, struct error **err)
{
	struct disk_real *d = userdata;
	uint64_t sum = 0;
	int r;

	r = check_vm_dir(d, vm_dir, err);
	if (r < 0)
		return r;
	r = usage_at(AT_FDCWD, vm_dir, vm_dir, 0, &sum, err);
	if (r < 0)
		return r;
	*ret_bytes = sum;
	return 0;
}

int
disk_real_new_with(const char *status_dir, const struct dm_backend *dm,
		   const struct loop_backend *loop, struct disk_ops **ret, struct error **err)
{
	struct disk_real *d;

	if (!disk_path_is_clean(status_dir))
		return error_set(err, -EINVAL, "status directory '%s' is not a clean absolute path",
				 status_dir ? status_dir : "");
	d = xcalloc(1, sizeof(*d));
	d->status_dir = xstrdup(status_dir);
	d->dm = *dm;
	d->loop = *loop;
	d->copy_maps = (struct disk_copy_maps)DISK_COPY_MAPS_INIT;
	d->ops = (struct disk_ops){
		.strategy_probe = real_strategy_probe,
		.vm_dir_create = real_vm_dir_create,
		.vm_dir_remove = real_vm_dir_remove,
		.root_create = real_root_create,
		.root_remove = real_root_remove,
		.work_create = real_work_create,
		.work_create_seeded = real_work_create_seeded,
		.vm_dir_sync = real_vm_dir_sync,
		.filesync_apply = real_filesync_apply,
		.workspace_apply = real_workspace_apply,
		.work_retain = real_work_retain,
		.work_grow = real_work_grow,
		.work_recover = real_work_recover,
		.list = real_list,
		.obj_remove = real_obj_remove,
		.usage = real_usage,
		.file_present = real_file_present,
		.parallel = true,
		.userdata = d,
	};
	*ret = &d->ops;
	return 0;
}

int
disk_real_new(const char *status_dir, struct disk_ops **ret, struct error **err)
{
	return disk_real_new_with(status_dir, &dm_backend_libdevmapper, &loop_backend_kernel, ret,
				  err);
}

struct disk_ops *
disk_real_free(struct disk_ops *ops)
{
	struct disk_real *d;

	if (!ops)
		return NULL;
	d = ops->userdata;
	free(d->status_dir);
	disk_copy_maps_done(&d->copy_maps);
	pthread_mutex_destroy(&d->copy_maps.lock);
	free(d);
	return NULL;
}

static int
rm_rf_at(int dfd, const char *name, const char *path, int level, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return error_set(err, -errno, "remove '%s': %s", path, strerror(errno));
		return 0;
	}
	if (level > 64)
		return error_set(err, -ELOOP, "'%s' is nested too deep", path);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	d = fdopendir(fd);
	if (!d)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	fd = -EBADF;	/* owned by d now */
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		sub = xasprintf("%s/%s", path, de->d_name);
		r = rm_rf_at(dirfd(d), de->d_name, sub, level + 1, err);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		return r;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_set(err, -errno, "remove '%s': %s", path, strerror(errno));
	return 0;
}

int
disk_rm_rf(const char *path, struct error **err)
{
	return rm_rf_at(AT_FDCWD, path, path, 0, err);
}
