/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by plan, reconcile and status: declarations, status directory,
 * host name, lock, observation; the plan as JSON.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/core.h"
#include "drivers/disk-internal.h"
#include "drivers/guest.h"
#include "drivers/image-pin.h"
#include "fakes/fake-host.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/path.h"
#include "util/sha256.h"
#include "util/strv.h"

int
cli_parse_seconds(const char *s, int *ret_ms)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 86400)
		return -EINVAL;
	*ret_ms = (int)v * 1000;
	return 0;
}

/*
 * The repository to read, or NULL: a plain directory without a source
 * block, or the work tree of the state (--worktree).  --worktree changes
 * nothing for a state that is no repository: its source block is followed.
 */
static const char *
git_url(const struct cli_common *common, const struct spec *local)
{
	bool repo = source_git_is_repository(common->state_dir);

	if (common->worktree && repo)
		return NULL;
	if (local->host.source_git)
		return local->host.source_git;
	return repo ? common->state_dir : NULL;
}

/*
 * As root, declarations anyone may change are refused: they name the
 * programs banger runs and the host files it copies into guests.  Neither
 * the state directory nor the folder of a kind in it may be world-writable
 * (a sticky bit does not help: anyone could still add a VM).
 */
static int
state_dir_check(const char *dir, struct error **err)
{
	static const char *const kinds[] = { "", "/images", "/vms", "/filesyncs" };

	if (geteuid() != 0)
		return 0;
	for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
		_cleanup_free_ char *path = xasprintf("%s%s", dir, kinds[i]);
		struct stat st;

		/* A missing or unreadable one is the reader's to report. */
		if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode) || !(st.st_mode & S_IWOTH))
			continue;
		return error_set(err, -EPERM,
				 "'%s' is world-writable (mode %04o): banger runs as root and does "
				 "not act on declarations anyone can change (chmod o-w '%s')",
				 path, (unsigned)(st.st_mode & 07777), path);
	}
	return 0;
}

/*
 * The status directory, and the folders in it that banger walks and removes
 * from, are banger's own: owned by its user, writable by no one else, and
 * (the folders inside) real folders, not symlinks.  Else a local user could
 * point vms/ elsewhere and have banger remove what is there as orphans.
 */
static int
status_dir_check(const char *dir, struct error **err)
{
	static const char *const subs[] = { "", "/vms", "/retained", "/cache", "/ssh",
					    "/source", "/source-files", "/images" };

	for (size_t i = 0; i < ELEMENTSOF(subs); i++) {
		_cleanup_free_ char *path = xasprintf("%s%s", dir, subs[i]);
		struct stat st;
		int r = i == 0 ? stat(path, &st) : lstat(path, &st);

		if (r < 0) {
			if (errno == ENOENT)
				continue;
			return error_set(err, -errno, "'%s': %s", path, strerror(errno));
		}
		if (!S_ISDIR(st.st_mode))
			return error_set(err, -EPERM, "'%s' is not a folder%s: banger keeps its own "
						      "files there",
					 path, S_ISLNK(st.st_mode) ? " (a symlink)" : "");
		if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)))
			return error_set(err, -EPERM,
					 "'%s' is %s (owner %u, mode %04o): banger does not work in "
					 "a status directory others can change",
					 path, st.st_uid != geteuid() ? "another user's" : "writable by others",
					 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

int
cli_source_read(const struct cli_common *common, struct source **ret, struct error **err)
{
	struct source_git_options o = { .url = common->state_dir };
	bool repo;
	int r;

	r = state_dir_check(common->state_dir, err);
	if (r < 0)
		return r;
	repo = source_git_is_repository(common->state_dir);

	if (repo && !common->worktree)
		return source_git_read(&o, ret, NULL, err);
	if (repo) {
		/* A bare repository's folder is no declarations: read as one,
		 * it would declare nothing and every VM would be deleted. */
		r = source_git_check_work_tree(common->state_dir, err);
		if (r < 0)
			return r;
		fprintf(stderr, "banger: note: reading the work tree of '%s', uncommitted edits "
				"included (--worktree)\n",
			common->state_dir);
	}
	return source_dir_read(common->state_dir, ret, err);
}

/*
 * The status files are read in a thread of their own while the declarations
 * are parsed: the two are independent, each about a fifth of a no-op run on
 * a host with many VMs, and a build host has more than one core.  The thread
 * starts once the lock is held (what it reads is then the state no other
 * run changes) and only reads files: the status files, then the fake host's
 * file when BANGER_FAKE_HOST names one (the tests' and benchmarks' host).
 */
struct status_preload {
	pthread_t thread;
	char *status_dir;
	struct status_snapshot *snap;
	struct fake_host *fake;	/* BANGER_FAKE_HOST's, read after the status files */
	struct error *err;
	int r;
};

static void *
preload_main(void *arg)
{
	struct status_preload *p = arg;

	p->r = status_snapshot_read(p->status_dir, &p->snap, &p->err);
	p->fake = cli_host_preload_fake();
	return NULL;
}

static void
preload_start(struct cli_run *r)
{
	struct status_preload *p = xcalloc(1, sizeof(*p));

	p->status_dir = xstrdup(r->status_dir);
	if (pthread_create(&p->thread, NULL, preload_main, p) != 0) {
		/* No thread: observe reads the files itself. */
		free(p->status_dir);
		free(p);
		return;
	}
	r->preload = p;
}

/* Wait for the thread; its snapshot (NULL when none) in *ret, or its error;
 * the fake host it read in *ret_fake when that is given (else freed). */
static int
preload_finish(struct cli_run *r, struct status_snapshot **ret, struct fake_host **ret_fake,
	       struct error **err)
{
	struct status_preload *p = TAKE_PTR(r->preload);
	int ret_r;

	*ret = NULL;
	if (ret_fake)
		*ret_fake = NULL;
	if (!p)
		return 0;
	if (pthread_join(p->thread, NULL) != 0)
		abort();
	if (ret_fake)
		*ret_fake = TAKE_PTR(p->fake);
	fake_host_free(p->fake);
	ret_r = p->r;
	if (ret_r < 0) {
		if (err)
			*err = TAKE_PTR(p->err);
	} else
		*ret = TAKE_PTR(p->snap);
	error_free(p->err);
	status_snapshot_free(p->snap);
	free(p->status_dir);
	free(p);
	return ret_r;
}

/* host.yaml alone, for the status directory before the rest is parsed. */
static int
host_spec_load(const struct source *all, struct spec **ret, struct error **err)
{
	struct source sub = { .root = all->root, .commit = all->commit };

	for (size_t i = 0; i < all->n_files; i++)
		if (strcmp(all->files[i].path, "host.yaml") == 0) {
			sub.files = &all->files[i];
			sub.n_files = 1;
		}
	return spec_load(&sub, ret, err);
}

/* Whether host.yaml's text has a status_dir key at its top level. */
static bool
names_status_dir(const struct source *src)
{
	for (size_t i = 0; i < src->n_files; i++) {
		const struct source_file *f = &src->files[i];
		const char *p, *end;

		if (strcmp(f->path, "host.yaml") != 0 || !f->data)
			continue;
		for (p = f->data, end = f->data + f->len; p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = (size_t)((nl ? nl : end) - p);

			if (n >= 11 && memcmp(p, "status_dir", 10) == 0 &&
			    (p[10] == ':' || p[10] == ' ' || p[10] == '\t'))
				return true;
			p = nl ? nl + 1 : end;
		}
	}
	return false;
}

int
cli_status_dir(const struct cli_common *common, const struct source *src, char **ret,
	       char **ret_domain, struct error **err)
{
	_cleanup_(spec_freep) struct spec *host = NULL;
	int r;

	if (src) {
		r = host_spec_load(src, &host, err);
		if (r < 0)
			return r;
	}
	if (ret_domain)
		*ret_domain = xstrdup(host && host->host_valid && host->host.domain
					      ? host->host.domain
					      : "vm");
	if (common->status_dir) {
		*ret = cli_abs_path(common->status_dir);
		return 0;
	}
	if (host && !host->host_valid && names_status_dir(src)) {
		_cleanup_free_ char *d = host->n_diags
						 ? spec_diag_format(&host->diags[0], src->root)
						 : xstrdup("host.yaml: invalid");

		if (ret_domain) {
			free(*ret_domain);
			*ret_domain = NULL;
		}
		return error_set(err, -EINVAL,
				 "%s: host.yaml is invalid, so its status_dir cannot be used; fix "
				 "it, or give --status-dir",
				 d);
	}
	*ret = host && host->host_valid && host->host.status_dir
		       ? cli_abs_path(host->host.status_dir)
		       : xstrdup(DEFAULT_STATUS_DIR);
	return 0;
}

/*
 * The folder, under STATUS_DIR/source-files, of what the file syncs of
 * commit name under the tree's folder subdir: COMMIT for the root of the
 * tree, COMMIT-PATHHASH (the first 16 hex digits of the SHA-256 of subdir)
 * for a folder of it, so that a run with another source.path never takes
 * the files another path wrote.  Caller frees.
 */
static char *
sync_files_name(const char *commit, const char *subdir)
{
	char hex[SHA256_HEX_SIZE];

	if (!subdir || !*subdir)
		return xstrdup(commit);
	sha256_hex_buf(subdir, strlen(subdir), hex);
	return xasprintf("%s-%.16s", commit, hex);
}

/* Remove what base (STATUS_DIR/source-files) holds but the folder keep
 * (NULL: all of it): other commits' and paths' folders, a run's unfinished
 * one. */
static void
sync_files_prune(const char *base, const char *keep)
{
	DIR *d = opendir(base);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *p = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    (keep && strcmp(de->d_name, keep) == 0))
			continue;
		p = xasprintf("%s/%s", base, de->d_name);
		(void)disk_rm_rf(p, NULL);
	}
	if (d)
		closedir(d);
}

int
cli_resolve_dirs(const struct cli_common *common, char **ret_status_dir, char **ret_domain,
		 struct error **err)
{
	_cleanup_(source_freep) struct source *src = NULL;
	int r;

	r = cli_source_read(common, &src, err);
	if (r == -ENOENT) {
		error_free(TAKE_PTR(*err));
		src = NULL;
	} else if (r < 0)
		return r;
	return cli_status_dir(common, src, ret_status_dir, ret_domain, err);
}

/*
 * File syncs whose host paths are relative name files of the commit, as the
 * declarations do, never of a work tree: what they name is written once
 * per commit and source path to STATUS_DIR/source-files/NAME/ (NAME from
 * sync_files_name(); through a temporary folder renamed when whole), and
 * the copies are made from there.  Every other folder there is removed,
 * all of them when no file sync names a relative path.
 */
static int
checkout_sync_files(struct cli_run *r, const struct source_git_options *o, const char *commit,
		    struct error **err)
{
	_cleanup_strv_free_ char **paths = NULL;
	_cleanup_free_ char *base = NULL, *name = NULL, *dest = NULL, *tmp = NULL;
	int ret;

	for (size_t i = 0; i < r->spec->n_filesyncs; i++)
		for (size_t j = 0; j < r->spec->filesyncs[i].n_entries; j++) {
			const char *h = r->spec->filesyncs[i].entries[j].host;

			if (h[0] != '/' && h[0] != '~' && !strv_contains(paths, h))
				paths = strv_append(paths, h);
		}
	if (!commit)
		return 0;
	base = xasprintf("%s/source-files", r->status_dir);
	if (!paths) {
		sync_files_prune(base, NULL);
		return 0;
	}
	name = sync_files_name(commit, o->subdir);
	dest = xasprintf("%s/%s", base, name);
	ret = mkdir_p(base, 0700);
	if (ret < 0)
		return error_set(err, ret, "create '%s': %s", base, strerror(-ret));
	if (access(dest, F_OK) < 0) {
		tmp = xasprintf("%s/.tmp-XXXXXX", base);
		if (!mkdtemp(tmp))
			return error_set(err, -errno, "create a folder in '%s': %s", base,
					 strerror(errno));
		ret = source_git_checkout(o, commit, paths, tmp, err);
		if (ret >= 0 && rename(tmp, dest) < 0)
			ret = error_set(err, -errno, "rename '%s': %s", tmp, strerror(errno));
		if (ret >= 0)
			(void)fsync_parent_dir(dest);	/* else the next run writes it again */
		if (ret < 0) {
			(void)disk_rm_rf(tmp, NULL);
			return ret;
		}
	}
	sync_files_prune(base, name);
	free(r->spec->root);
	r->spec->root = TAKE_PTR(dest);
	return 0;
}

/*
 * The declarations of a run:
 *   1. read the state directory (a repository: its branch tip, in place);
 *   2. from its host.yaml, the status directory;
 *   3. take the lock (reconcile);
 *   4. when the declarations live in git (the state is a repository, or
 *      host.yaml has a source block), fetch into STATUS_DIR/source and read
 *      the accepted commit; plan and status fetch and check but do not move
 *      the accepted commit.
 * With a source block and no host.yaml in the repository, the local one
 * still applies.
 */
static int
load(struct cli_run *r, const struct cli_common *common, int lock_timeout_ms, struct error **err)
{
	_cleanup_(source_freep) struct source *local = NULL, *remote = NULL;
	_cleanup_(spec_freep) struct spec *local_spec = NULL;
	_cleanup_free_ char *cache = NULL;
	struct source_git_options o = { 0 };
	const char *url;
	int ret;

	ret = cli_source_read(common, &local, err);
	if (ret < 0)
		return ret;
	ret = cli_status_dir(common, local, &r->status_dir, NULL, err);
	if (ret < 0)
		return ret;
	if (lock_timeout_ms >= 0) {
		ret = status_lock(r->status_dir, (unsigned)lock_timeout_ms, &r->lock_fd, err);
		if (ret < 0)
			return ret;
	}
	ret = status_dir_check(r->status_dir, err);
	if (ret < 0)
		return ret;
	preload_start(r);
	ret = spec_load(local, &local_spec, err);
	if (ret < 0)
		return ret;
	url = git_url(common, local_spec);
	if (!url) {
		r->src = TAKE_PTR(local);
		r->spec = TAKE_PTR(local_spec);
		return 0;
	}

	cache = xasprintf("%s/source", r->status_dir);
	o.url = url;
	o.cache_dir = cache;
	o.allow_rewind = common->allow_rewind;
	o.dry_run = lock_timeout_ms < 0;
	if (url != common->state_dir) {
		o.branch = local_spec->host.source_branch;
		o.subdir = local_spec->host.source_path;
	}
	ret = source_git_read(&o, &remote, &r->git, err);
	if (ret < 0)
		return error_prefix(err, "git source '%s'", url);
	r->from_git = true;
	if (url != common->state_dir) {
		bool has_host = false;

		for (size_t i = 0; i < remote->n_files; i++)
			has_host |= strcmp(remote->files[i].path, "host.yaml") == 0;
		for (size_t i = 0; !has_host && i < local->n_files; i++) {
			struct source_file *f;

			if (strcmp(local->files[i].path, "host.yaml") != 0)
				continue;
			/* host.yaml sorts first among the paths: keep the order. */
			remote->files = xrealloc(remote->files,
						 (remote->n_files + 1) * sizeof(*remote->files));
			memmove(remote->files + 1, remote->files,
				remote->n_files * sizeof(*remote->files));
			remote->n_files++;
			f = &remote->files[0];
			*f = local->files[i];
			local->files[i] = (struct source_file){ 0 };
		}
	}
	ret = spec_load(remote, &r->spec, err);
	if (ret < 0)
		return ret;
	if (!o.dry_run) {
		ret = checkout_sync_files(r, &o, remote->commit, err);
		if (ret < 0)
			return error_prefix(err, "git source '%s'", url);
	}
	r->src = TAKE_PTR(remote);
	return 0;
}

/*
 * Every image a VM uses must have readable files matching their sha256 pins
 * (hashed once per file version, cached in STATUS_DIR/images/pins.yaml); the
 * VMs of an image that fails are held, with the reason at the image's file.
 */
static void
check_images(struct cli_run *r)
{
	_cleanup_(image_pins_freep) struct image_pins *pins = NULL;
	struct error *e = NULL;

	if (image_pins_open(r->status_dir, &pins, &e) < 0) {
		/* A cache is never a reason to fail: the pins are checked without it. */
		error_free(TAKE_PTR(e));
	}
	for (size_t i = 0; i < r->spec->n_images; i++) {
		const struct image_spec *img = &r->spec->images[i];
		bool used = false;

		for (size_t j = 0; j < r->spec->n_vms && !used; j++)
			used = strcmp(r->spec->vms[j].image, img->name) == 0;
		if (!used || !pins)
			continue;
		if (image_pins_check_image(pins, img, &e) < 0) {
			(void)spec_hold_image(r->spec, img->name, e->msg);
			error_free(TAKE_PTR(e));
		}
	}
	/* Writing the cache is an optimisation; its failure is not reported. */
	if (pins && image_pins_save(pins, &e) < 0)
		error_free(TAKE_PTR(e));
}

static void resolve_uplink(struct cli_run *r);

int
cli_run_prepare(struct cli_run *r, const struct cli_common *common, const char *host_name,
		int lock_timeout_ms, struct error **err)
{
	struct utsname u;
	int ret;

	memset(r, 0, sizeof(*r));
	r->lock_fd = -EBADF;
	ret = load(r, common, lock_timeout_ms, err);
	if (ret < 0)
		return ret;
	if (host_name)
		r->host_name = xstrdup(host_name);
	else if (uname(&u) == 0)
		r->host_name = xstrdup(u.nodename);
	else
		r->host_name = xstrdup("localhost");
	{
		/* A run that may change the host makes banger's key pair on first
		 * need; the others only read it.  Without ssh-keygen the VMs still
		 * run, reachable by their declared keys only. */
		struct error *e = NULL;

		ret = lock_timeout_ms >= 0 ? ssh_key_ensure(r->status_dir, &r->ssh_pubkey, &e)
					   : ssh_pubkey_read(r->status_dir, &r->ssh_pubkey, &e);
		/* No pair yet: a plan (or dry run) plans what reconcile will do,
		 * which makes one and seeds it, so it plans with a stand-in. */
		if (ret == -ENOENT && lock_timeout_ms < 0 && ssh_keygen_available())
			r->ssh_pubkey = xstrdup("ssh-ed25519 (made by the next reconcile) banger");
		if (ret < 0 && !(ret == -ENOENT && lock_timeout_ms < 0)) {
			_cleanup_free_ char *msg = error_format(e);

			cli_errorf("warning: ssh key: %s, ignoring", msg);
		}
		error_free(e);
	}
	{
		struct status_snapshot *snap = NULL;
		struct fake_host *fake = NULL;

		ret = preload_finish(r, &snap, &fake, err);
		if (ret < 0)
			return ret;
		ret = cli_host_open(r->status_dir, r->spec, fake, &r->host, err);
		if (ret < 0) {
			status_snapshot_free(snap);
			return ret;
		}
		if (!r->host->fake)
			check_images(r);
		{
			size_t n = 0;

			for (size_t i = 0; r->spec->held_vms[i]; i++)
				r->claimed = strv_push(r->claimed, &n, r->spec->held_vms[i]);
			for (size_t i = 0; i < r->spec->n_vms; i++)
				r->claimed = strv_push(r->claimed, &n, r->spec->vms[i].name);
			if (!r->claimed)
				r->claimed = strv_copy(NULL);
		}
		/* Record writes a killed run never renamed into place: no host
		 * object was made after them (a record is written before what it
		 * names), so a run that holds the lock removes them. */
		for (size_t i = 0; snap && r->lock_fd >= 0 && snap->stale_temps &&
				   snap->stale_temps[i];
		     i++)
			(void)unlink(snap->stale_temps[i]);
		ret = snap ? observe_host_from(r->status_dir, &r->host->ops, r->claimed, snap,
					       &r->obs, err)
			   : observe_host(r->status_dir, &r->host->ops, r->claimed, &r->obs, err);
		if (ret >= 0) {
			_cleanup_strv_free_ char **start = plan_may_start(r->spec, r->host_name);

			observe_disk_files(r->obs, &r->host->ops, start);
		}
		if (ret >= 0)
			resolve_uplink(r);
		/* The hypervisor programs the declared VMs use, on a real host:
		 * each looked up once, not once per VM (a PATH search each). */
		if (ret >= 0 && !r->host->fake) {
			const struct host_spec *hs = &r->spec->host;
			bool used[_HYPERVISOR_MAX] = { false };

			for (size_t i = 0; i < r->spec->n_vms; i++)
				if (r->spec->vms[i].hypervisor >= 0 &&
				    r->spec->vms[i].hypervisor < _HYPERVISOR_MAX)
					used[r->spec->vms[i].hypervisor] = true;
			if (used[HYPERVISOR_QEMU])
				r->hv_missing[HYPERVISOR_QEMU] = !path_find_executable(
					hs->qemu_binary ? hs->qemu_binary : "qemu-system-x86_64");
			if (used[HYPERVISOR_FIRECRACKER])
				r->hv_missing[HYPERVISOR_FIRECRACKER] = !path_find_executable(
					hs->firecracker_binary ? hs->firecracker_binary : "firecracker");
		}
		return ret;
	}
}

/*
 * The uplink NAT rules go out through, as the nat step would resolve it
 * now, when a VM has nat: rules through another interface (the default
 * route moved, host.yaml's uplink changed) are redone.  Left NULL when it
 * cannot be resolved: the nat steps say why (cli_plan_note_uplink).
 */
static void
resolve_uplink(struct cli_run *r)
{
	const struct net_ops *net = r->host->ops.net;
	const struct host_spec *host = &r->spec->host;
	struct error *e = NULL;
	bool nat = false;

	for (size_t i = 0; i < r->spec->n_vms && !nat; i++)
		nat = r->spec->vms[i].nat;
	if (!nat || !net || !net->uplink_resolve)
		return;
	if (net->uplink_resolve(net->userdata, host->uplink ? host->uplink : "auto", &r->uplink,
				&e) < 0) {
		error_free(e);
		r->uplink = NULL;
	}
}

void
cli_run_done(struct cli_run *r)
{
	struct status_snapshot *snap = NULL;

	(void)preload_finish(r, &snap, NULL, NULL);
	status_snapshot_free(snap);
	source_free(r->src);
	spec_free(r->spec);
	source_git_info_done(&r->git);
	free(r->status_dir);
	free(r->host_name);
	strv_free(r->claimed);
	cli_host_free(r->host);
	observed_free(r->obs);
	free(r->ssh_pubkey);
	free(r->uplink);
	if (r->lock_fd >= 0)
		(void)close(r->lock_fd);
	memset(r, 0, sizeof(*r));
	r->lock_fd = -EBADF;
}

static json_t *
strv_json(char *const *l)
{
	json_t *a = json_array();

	for (size_t i = 0; l && l[i]; i++)
		json_array_append_new(a, json_string(l[i]));
	return a;
}

/*
 * The held lines ("NAME: FILE:LINE:COLUMN: MESSAGE", or "NAME: MESSAGE")
 * as objects: vm, file, line and column (null when the line names no
 * place), message.
 */
static json_t *
held_details(char *const *held)
{
	json_t *a = json_array();

	for (size_t i = 0; held && held[i]; i++) {
		const char *h = held[i], *colon = strstr(h, ": "), *rest;
		_cleanup_free_ char *vm = NULL, *file = NULL;
		json_t *e = json_object();
		unsigned long line = 0, col = 0;
		int used = 0;

		if (!colon) {
			json_object_set_new(e, "vm", json_null());
			rest = h;
		} else {
			vm = xstrndup(h, (size_t)(colon - h));
			json_object_set_new(e, "vm", json_string(vm));
			rest = colon + 2;
		}
		/* FILE:LINE:COLUMN: — a relative or absolute path, then numbers. */
		{
			const char *p = strstr(rest, ": ");
			const char *c2 = NULL, *c1 = NULL;

			for (const char *q = rest; p && q < p; q++)
				if (*q == ':') {
					c1 = c2;
					c2 = q;
				}
			if (c1 && c2 &&
			    sscanf(c1 + 1, "%lu:%lu:%n", &line, &col, &used) == 2 &&
			    c1 + 1 + used == p + 1 && line > 0) {
				file = xstrndup(rest, (size_t)(c1 - rest));
				rest = p + 2;
			}
		}
		json_object_set_new(e, "file", file ? json_string(file) : json_null());
		json_object_set_new(e, "line", file ? json_integer((json_int_t)line) : json_null());
		json_object_set_new(e, "column", file ? json_integer((json_int_t)col) : json_null());
		json_object_set_new(e, "message", json_string(rest));
		json_array_append_new(a, e);
	}
	return a;
}

json_t *
cli_plan_json(const struct plan *p)
{
	json_t *o = json_object(), *changes = json_array(), *orphans = json_array();

	for (size_t i = 0; i < p->n_changes; i++) {
		const struct plan_change *ch = &p->changes[i];
		json_t *c = json_object(), *acts = json_array();

		for (size_t j = ch->first; j < ch->first + ch->n; j++) {
			json_t *a = json_object();

			json_object_set_new(a, "action",
					    json_string(action_kind_to_string(p->actions[j].kind)));
			json_object_set_new(a, "text", json_string(p->actions[j].text));
			json_array_append_new(acts, a);
		}
		if (ch->kind == CHANGE_ORPHAN) {
			const struct observed_orphan *x = &p->actions[ch->first].orphan;

			json_object_set_new(c, "kind", json_string(orphan_kind_to_string(x->kind)));
			json_object_set_new(c, "name", json_string(x->name));
			json_object_set_new(c, "vm", x->vm_name ? json_string(x->vm_name) : json_null());
			json_object_set_new(c, "vm_id", x->vm_id ? json_string(x->vm_id) : json_null());
			json_object_set_new(c, "detail", json_string(ch->detail));
			json_array_append_new(orphans, c);
			json_decref(acts);
			continue;
		}
		json_object_set_new(c, "vm", json_string(ch->vm_name));
		json_object_set_new(c, "change", json_string(change_kind_to_string(ch->kind)));
		json_object_set_new(c, "detail", ch->detail ? json_string(ch->detail) : json_null());
		json_object_set_new(c, "actions", acts);
		json_array_append_new(changes, c);
	}
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "orphans", orphans);
	json_object_set_new(o, "held", strv_json(p->held));
	json_object_set_new(o, "held_details", held_details(p->held));
	json_object_set_new(o, "notes", strv_json(p->notes));
	json_object_set_new(o, "refused", p->refused ? json_string(p->refused) : json_null());
	json_object_set_new(o, "unchanged", json_integer((json_int_t)p->n_unchanged));
	json_object_set_new(o, "empty", json_boolean(plan_is_empty(p)));
	return o;
}

int
cli_only_check(const struct cli_run *r, char *const *only, struct error **err)
{
	for (size_t i = 0; only && only[i]; i++) {
		bool known = strv_contains(r->spec->held_vms, only[i]) ||
			     observed_find(r->obs, only[i]) != NULL;

		for (size_t j = 0; j < r->spec->n_vms && !known; j++)
			known = strcmp(r->spec->vms[j].name, only[i]) == 0;
		if (!known)
			return error_set(err, -ENOENT, "--only %s: no such vm declared or known "
					 "to this host", only[i]);
	}
	return 0;
}

void
cli_plan_note_uplink(struct cli_run *r, struct plan *p)
{
	const struct net_ops *net = r->host->ops.net;
	const struct host_spec *host = &r->spec->host;
	_cleanup_free_ char *name = NULL, *msg = NULL;
	struct error *e = NULL;
	bool nat = false;

	for (size_t i = 0; i < p->n_actions && !nat; i++)
		nat = p->actions[i].kind == ACTION_NAT;
	if (!nat || !net->uplink_resolve)
		return;
	if (net->uplink_resolve(net->userdata, host->uplink ? host->uplink : "auto", &name, &e) >= 0)
		return;
	msg = error_format(e);
	error_free(e);
	p->notes = strv_append_take(p->notes,
				    xasprintf("%s: %s: the nat steps will fail until that is "
					      "fixed (see banger doctor)",
					      host->path ? host->path : "host.yaml", msg));
}

json_t *
cli_source_json(const struct cli_run *r)
{
	json_t *o;

	if (!r->from_git)
		return json_null();
	o = json_object();
	json_object_set_new(o, "commit", r->git.commit ? json_string(r->git.commit) : json_null());
	json_object_set_new(o, "tip", r->git.tip ? json_string(r->git.tip) : json_null());
	json_object_set_new(o, "warning",
			    r->git.warning ? json_string(r->git.warning->msg) : json_null());
	return o;
}

void
cli_source_print(const struct cli_run *r, FILE *f)
{
	if (!r->from_git)
		return;
	if (r->git.tip && r->git.commit && strcmp(r->git.tip, r->git.commit) != 0)
		fprintf(f, "source: commit %.12s (tip seen %.12s)\n", r->git.commit, r->git.tip);
	else if (r->git.tip)
		fprintf(f, "source: commit %.12s (the tip)\n", r->git.commit);
	else
		fprintf(f, "source: commit %.12s (the last one fetched)\n", r->git.commit);
}

bool
cli_source_warn(const struct cli_run *r)
{
	_cleanup_free_ char *s = NULL;

	if (!r->git.warning)
		return false;
	s = error_format(r->git.warning);
	fprintf(stderr, "banger: warning: git source: %s\n", s);
	return true;
}
