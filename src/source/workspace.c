/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Workspaces (see workspace.h for the modes and rules).  A materialisation:
 *   1. full_copy, metadata_only: clone the repository into DIR (no checkout);
 *      shallow: open a local repository in place, or clone a URL bare into
 *      DIR.fetch, and init an empty repository in DIR;
 *   2. resolve ref to a commit: a branch (origin/REF in a clone, then
 *      refs/heads/REF), a tag (peeled), or a commit id of 7 to 40 hex digits;
 *      no ref: what HEAD names;
 *   3. walk the commit's tree: refuse escaping symlinks, report submodules
 *      and LFS pointers, and for shallow copy each tree and blob (then the
 *      commit itself) into DIR's object database, unchanged, so ids match;
 *   4. point HEAD at the local branch (or detach it) and check the work tree
 *      out (full_copy, shallow) or only write the index (metadata_only).
 * workspace_apply() does this in a private staging folder and copies the
 * result into the work disk image with disk_work_copy_tree().
 */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "source/git-util.h"
#include "source/workspace.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

/* Tree depth the work disk copy handles (its own limit is 64 levels). */
#define WALK_DEPTH_MAX 60
/* LFS pointer files are small; bigger blobs are not read to look. */
#define LFS_POINTER_MAX 1024

void
workspace_result_done(struct workspace_result *r)
{
	if (!r)
		return;
	free(r->commit);
	free(r->branch);
	strv_free(r->warnings);
	*r = (struct workspace_result){ 0 };
}

static int
credentials(git_credential **out, const char *url, const char *user_from_url,
	    unsigned int allowed, void *payload)
{
	(void)url;
	(void)payload;
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return sym_git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
	return GIT_PASSTHROUGH;
}

static int
clone_into(const char *url, const char *dir, bool bare, git_repository **ret, struct error **err)
{
	git_clone_options o;
	int gr;

	(void)sym_git_clone_options_init(&o, GIT_CLONE_OPTIONS_VERSION);
	o.bare = bare;
	o.local = GIT_CLONE_LOCAL_NO_LINKS;
	o.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	o.fetch_opts.callbacks.credentials = credentials;
	gr = sym_git_clone(ret, url, dir, &o);
	if (gr < 0)
		return error_set(err, git_errno(gr), "clone '%s': %s", url, git_msg());
	return 0;
}

static bool
is_hex_id(const char *s)
{
	size_t n = strlen(s);

	return n >= 7 && n <= GIT_OID_HEXSZ && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* A reference's commit; false when name is no reference. */
static bool
ref_commit(git_repository *repo, const char *name, git_oid *ret)
{
	_cleanup_(git_reference_freep) git_reference *ref = NULL;
	git_object *obj = NULL;
	bool ok;

	if (sym_git_reference_lookup(&ref, repo, name) < 0)
		return false;
	ok = sym_git_reference_peel(&obj, ref, GIT_OBJECT_COMMIT) == 0;
	if (ok)
		*ret = *sym_git_object_id(obj);
	sym_git_object_free(obj);
	return ok;
}

/*
 * The commit ref names in repo, and the branch to put HEAD on (NULL:
 * detached).  Branches first, then tags, then commit ids.
 */
static int
resolve_ref(git_repository *repo, const char *repo_name, const char *ref, git_oid *ret,
	    char **ret_branch, struct error **err)
{
	_cleanup_(git_reference_freep) git_reference *head = NULL;
	_cleanup_(git_object_freep) git_object *obj = NULL;
	_cleanup_free_ char *name = NULL;
	git_oid prefix;

	if (!ref || strcmp(ref, "HEAD") == 0) {
		if (sym_git_reference_lookup(&head, repo, "HEAD") < 0 ||
		    sym_git_reference_name_to_id(ret, repo, "HEAD") < 0)
			return error_set(err, -ENOENT, "repository '%s' has no commit on HEAD",
					 repo_name);
		*ret_branch = NULL;
		if (sym_git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
		    strncmp(sym_git_reference_symbolic_target(head), "refs/heads/", 11) == 0)
			*ret_branch = xstrdup(sym_git_reference_symbolic_target(head) + 11);
		return 0;
	}
	name = xasprintf("refs/remotes/origin/%s", ref);
	if (ref_commit(repo, name, ret))
		goto branch;
	free(name);
	name = xasprintf("refs/heads/%s", ref);
	if (ref_commit(repo, name, ret))
		goto branch;
	free(name);
	name = xasprintf("refs/tags/%s", ref);
	if (ref_commit(repo, name, ret)) {
		*ret_branch = NULL;
		return 0;
	}
	if (is_hex_id(ref) && sym_git_oid_fromstrn(&prefix, ref, strlen(ref)) == 0 &&
	    sym_git_object_lookup_prefix(&obj, repo, &prefix, strlen(ref), GIT_OBJECT_COMMIT) == 0) {
		*ret = *sym_git_object_id(obj);
		*ret_branch = NULL;
		return 0;
	}
	return error_set(err, -ENOENT, "ref '%s': no such branch, tag or commit in '%s'", ref,
			 repo_name);
branch:
	*ret_branch = xstrdup(ref);
	return 0;
}

/* Whether a symlink target, read in folder dir ("" for the root), stays in the tree. */
static bool
link_stays_inside(const char *dir, const char *target, size_t len)
{
	int depth = 0;
	size_t i = 0;

	if (len == 0 || target[0] == '/' || memchr(target, '\0', len))
		return false;
	for (const char *c = dir; *c; c++)
		if (*c == '/')
			depth++;
	if (*dir)
		depth++;
	while (i < len) {
		size_t n = 0;

		while (i + n < len && target[i + n] != '/')
			n++;
		if (n == 2 && target[i] == '.' && target[i + 1] == '.') {
			if (--depth < 0)
				return false;
		} else if (n > 0 && !(n == 1 && target[i] == '.')) {
			depth++;
		}
		i += n + 1;
	}
	return true;
}

struct walk {
	git_repository *src;
	git_odb *src_odb;
	git_odb *dst_odb;	/* shallow: objects are copied here; else NULL */
	struct workspace_result *res;
};

static int
copy_object(struct walk *w, const git_oid *id, const char *path, struct error **err)
{
	_cleanup_(git_odb_object_freep) git_odb_object *o = NULL;
	git_oid out;

	if (!w->dst_odb || sym_git_odb_exists(w->dst_odb, id))
		return 0;
	if (sym_git_odb_read(&o, w->src_odb, id) < 0)
		return error_set(err, -EIO, "read object of '%s': %s", path, git_msg());
	if (sym_git_odb_write(&out, w->dst_odb, sym_git_odb_object_data(o), sym_git_odb_object_size(o),
			  sym_git_odb_object_type(o)) < 0)
		return error_set(err, -EIO, "write object of '%s': %s", path, git_msg());
	if (!sym_git_oid_equal(&out, id))
		return error_set(err, -EIO, "object of '%s' changed id when copied", path);
	return 0;
}

static int
check_blob(struct walk *w, const git_tree_entry *e, const char *dir, const char *path,
	   struct error **err)
{
	_cleanup_(git_blob_freep) git_blob *blob = NULL;
	git_filemode_t mode = sym_git_tree_entry_filemode(e);
	const char *data;
	git_object_size_t size;

	if (sym_git_blob_lookup(&blob, w->src, sym_git_tree_entry_id(e)) < 0)
		return error_set(err, -EIO, "blob of '%s': %s", path, git_msg());
	size = sym_git_blob_rawsize(blob);
	data = sym_git_blob_rawcontent(blob);
	if (mode == GIT_FILEMODE_LINK) {
		if (!link_stays_inside(dir, data, (size_t)size))
			return error_set(err, -ELOOP,
					 "symlink '%s' points outside the repository ('%.*s')", path,
					 size > 200 ? 200 : (int)size, data);
	} else if (size <= LFS_POINTER_MAX && size >= sizeof(WORKSPACE_LFS_HEADER) - 1 &&
		   memcmp(data, WORKSPACE_LFS_HEADER, sizeof(WORKSPACE_LFS_HEADER) - 1) == 0) {
		char *line = xasprintf("LFS pointer '%s' copied as the pointer "
				       "(git-lfs objects are not fetched)",
				       path);

		w->res->warnings = strv_append_take(w->res->warnings, line);
	}
	return copy_object(w, sym_git_tree_entry_id(e), path, err);
}

static int
walk_tree(struct walk *w, const git_oid *tree_id, const char *dir, int level,
	  struct error **err)
{
	_cleanup_(git_tree_freep) git_tree *tree = NULL;
	size_t n;
	int r;

	if (level > WALK_DEPTH_MAX)
		return error_set(err, -ELOOP, "folder '%s' is nested more than %d deep", dir,
				 WALK_DEPTH_MAX);
	if (sym_git_tree_lookup(&tree, w->src, tree_id) < 0)
		return error_set(err, -EIO, "tree '%s': %s", *dir ? dir : "/", git_msg());
	r = copy_object(w, tree_id, *dir ? dir : "/", err);
	if (r < 0)
		return r;
	n = sym_git_tree_entrycount(tree);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = sym_git_tree_entry_byindex(tree, i);
		_cleanup_free_ char *path = NULL;

		path = *dir ? xasprintf("%s/%s", dir, sym_git_tree_entry_name(e))
			    : xstrdup(sym_git_tree_entry_name(e));
		switch (sym_git_tree_entry_type(e)) {
		case GIT_OBJECT_TREE:
			r = walk_tree(w, sym_git_tree_entry_id(e), path, level + 1, err);
			break;
		case GIT_OBJECT_COMMIT: {
			char hex[GIT_OID_HEXSZ + 1];

			sym_git_oid_tostr(hex, sizeof(hex), sym_git_tree_entry_id(e));
			w->res->warnings = strv_append_take(
				w->res->warnings,
				xasprintf("submodule '%s' (commit %.12s) left as an empty folder "
					  "(submodules are not fetched)",
					  path, hex));
			r = 0;
			break;
		}
		case GIT_OBJECT_BLOB:
			r = check_blob(w, e, dir, path, err);
			break;
		default:
			r = error_set(err, -EIO, "'%s': unexpected object in a tree", path);
			break;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

/* HEAD on refs/heads/BRANCH at id (created or moved), or detached at id. */
static int
point_head(git_repository *repo, const git_oid *id, const char *branch, struct error **err)
{
	_cleanup_(git_reference_freep) git_reference *ref = NULL;
	_cleanup_free_ char *name = NULL, *upstream = NULL, *tracking = NULL;
	git_oid t;

	if (!branch) {
		if (sym_git_repository_set_head_detached(repo, id) < 0)
			return error_set(err, -EIO, "detach HEAD: %s", git_msg());
		return 0;
	}
	name = xasprintf("refs/heads/%s", branch);
	if (sym_git_reference_create(&ref, repo, name, id, 1, "banger: workspace") < 0)
		return error_set(err, -EIO, "branch '%s': %s", branch, git_msg());
	tracking = xasprintf("refs/remotes/origin/%s", branch);
	if (sym_git_reference_name_to_id(&t, repo, tracking) == 0) {
		upstream = xasprintf("origin/%s", branch);
		if (sym_git_branch_set_upstream(ref, upstream) < 0)
			return error_set(err, -EIO, "branch '%s' upstream: %s", branch, git_msg());
	}
	if (sym_git_repository_set_head(repo, name) < 0)
		return error_set(err, -EIO, "HEAD on '%s': %s", branch, git_msg());
	return 0;
}

static int
checkout(git_repository *repo, struct error **err)
{
	git_checkout_options o;

	(void)sym_git_checkout_options_init(&o, GIT_CHECKOUT_OPTIONS_VERSION);
	o.checkout_strategy = GIT_CHECKOUT_FORCE;
	if (sym_git_checkout_head(repo, &o) < 0)
		return error_set(err, -EIO, "checkout: %s", git_msg());
	return 0;
}

static int
write_index(git_repository *repo, const git_commit *commit, struct error **err)
{
	_cleanup_(git_index_freep) git_index *idx = NULL;
	_cleanup_(git_tree_freep) git_tree *tree = NULL;

	if (sym_git_commit_tree(&tree, commit) < 0 || sym_git_repository_index(&idx, repo) < 0 ||
	    sym_git_index_read_tree(idx, tree) < 0 || sym_git_index_write(idx) < 0)
		return error_set(err, -EIO, "index: %s", git_msg());
	return 0;
}

static bool
is_local_path(const char *repo)
{
	return repo[0] == '/';
}

static int
materialise(const struct vm_workspace *ws, const char *dir, struct workspace_result *res,
	    struct error **err)
{
	_cleanup_(git_repository_freep) git_repository *dst = NULL, *src_own = NULL;
	_cleanup_(git_odb_freep) git_odb *src_odb = NULL, *dst_odb = NULL;
	_cleanup_(git_commit_freep) git_commit *commit = NULL;
	_cleanup_free_ char *branch = NULL, *fetch_dir = NULL;
	git_repository *src;
	char hex[GIT_OID_HEXSZ + 1];
	struct walk w = { .res = res };
	git_oid id;
	int r;

	if (ws->mode == WORKSPACE_SHALLOW) {
		_cleanup_(git_remote_freep) git_remote *origin = NULL;

		if (is_local_path(ws->repo)) {
			if (sym_git_repository_open_ext(&src_own, ws->repo, GIT_REPOSITORY_OPEN_NO_SEARCH,
						    NULL) < 0)
				return error_set(err, -ENOENT, "open repository '%s': %s", ws->repo,
						 git_msg());
		} else {
			fetch_dir = xasprintf("%s.fetch", dir);
			r = clone_into(ws->repo, fetch_dir, true, &src_own, err);
			if (r < 0)
				goto out;
		}
		if (sym_git_repository_init(&dst, dir, 0) < 0) {
			r = error_set(err, -EIO, "init '%s': %s", dir, git_msg());
			goto out;
		}
		if (sym_git_remote_create(&origin, dst, "origin", ws->repo) < 0) {
			r = error_set(err, -EIO, "remote 'origin': %s", git_msg());
			goto out;
		}
		src = src_own;
	} else {
		if (is_local_path(ws->repo)) {
			/* A clear error for a wrong path, not libgit2's "unsupported URL". */
			if (sym_git_repository_open_ext(&src_own, ws->repo, GIT_REPOSITORY_OPEN_NO_SEARCH,
						    NULL) < 0)
				return error_set(err, -ENOENT, "open repository '%s': %s", ws->repo,
						 git_msg());
			sym_git_repository_free(TAKE_PTR(src_own));
		}
		r = clone_into(ws->repo, dir, false, &dst, err);
		if (r < 0)
			return r;
		src = dst;
	}

	r = resolve_ref(src, ws->repo, ws->ref, &id, &branch, err);
	if (r < 0)
		goto out;
	sym_git_oid_tostr(hex, sizeof(hex), &id);
	if (sym_git_commit_lookup(&commit, src, &id) < 0) {
		r = error_set(err, -EIO, "commit %.12s: %s", hex, git_msg());
		goto out;
	}

	w.src = src;
	if (sym_git_repository_odb(&src_odb, src) < 0) {
		r = error_set(err, -EIO, "object database: %s", git_msg());
		goto out;
	}
	w.src_odb = src_odb;
	if (ws->mode == WORKSPACE_SHALLOW) {
		if (sym_git_repository_odb(&dst_odb, dst) < 0) {
			r = error_set(err, -EIO, "object database: %s", git_msg());
			goto out;
		}
		w.dst_odb = dst_odb;
	}
	r = walk_tree(&w, sym_git_commit_tree_id(commit), "", 0, err);
	if (r < 0)
		goto out;

	if (ws->mode == WORKSPACE_SHALLOW) {
		_cleanup_free_ char *shallow = xasprintf("%s/.git/shallow", dir);
		_cleanup_free_ char *line = xasprintf("%s\n", hex);

		r = copy_object(&w, &id, "the commit", err);
		if (r < 0)
			goto out;
		r = write_file_atomic(shallow, line, strlen(line), 0644);
		if (r < 0) {
			r = error_set(err, r, "write '%s': %s", shallow, strerror(-r));
			goto out;
		}
		sym_git_commit_free(TAKE_PTR(commit));
		if (sym_git_commit_lookup(&commit, dst, &id) < 0) {
			r = error_set(err, -EIO, "commit %.12s: %s", hex, git_msg());
			goto out;
		}
	}

	r = point_head(dst, &id, branch, err);
	if (r < 0)
		goto out;
	if (ws->mode == WORKSPACE_METADATA_ONLY)
		r = write_index(dst, commit, err);
	else
		r = checkout(dst, err);
	if (r < 0)
		goto out;
	res->commit = xstrdup(hex);
	res->branch = TAKE_PTR(branch);
	r = 0;
out:
	if (fetch_dir) {
		struct error *e = NULL;

		sym_git_repository_free(TAKE_PTR(src_own));
		if (disk_rm_rf(fetch_dir, &e) < 0) {
			/* Not fatal to the workspace: reported, and the caller's staging
			 * folder cleanup gets another go at it. */
			res->warnings = strv_append_take(res->warnings,
							 xasprintf("%s, ignoring", e->msg));
			error_free(e);
		}
	}
	return r;
}

int
workspace_materialise(const struct vm_workspace *ws, const char *dir,
		      struct workspace_result *ret, struct error **err)
{
	_cleanup_(libgit2_shutdownp) int init = git_dl_init();
	struct workspace_result res = { 0 };
	int r;

	assert(ws && ws->repo && dir);
	if (init < 0)
		return error_set(err, -EIO, "libgit2: %s", git_msg());
	r = materialise(ws, dir, &res, err);
	if (r < 0) {
		workspace_result_done(&res);
		return error_prefix(err, "workspace '%s'", ws->repo);
	}
	*ret = res;
	return 0;
}

/* Staging folders a run cut short left behind ("workspace-XXXXXX"). */
static int
remove_leftovers(const char *parent, struct workspace_result *res, struct error **err)
{
	DIR *d = opendir(parent);
	struct dirent *de;
	int r = 0;

	if (!d)
		return error_set(err, -errno, "workspace: open '%s': %s", parent, strerror(errno));
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		struct error *e = NULL;

		if (strncmp(de->d_name, "workspace-", 10) != 0 || strlen(de->d_name) != 16)
			continue;
		p = xasprintf("%s/%s", parent, de->d_name);
		if (disk_rm_rf(p, &e) < 0) {
			/* Only space is lost; the new staging folder has its own name. */
			res->warnings = strv_append_take(res->warnings,
							 xasprintf("%s, ignoring", e->msg));
			error_free(e);
		}
	}
	closedir(d);
	return r;
}

/*
 * Tell the guest where the workspace belongs: WORKSPACE_RECORD_DIR/path in
 * the work disk holds ws->path and a newline (the work disk is mounted
 * elsewhere in the guest, so its init bind-mounts the folder at that path).
 * Written through a staging folder like the tree itself.
 */
static int
record_guest_path(const struct vm_workspace *ws, const char *work_path, const char *staging,
		  struct error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/record", staging);
	_cleanup_free_ char *file = xasprintf("%s/path", dir);
	_cleanup_free_ char *text = xasprintf("%s\n", ws->path);
	int r;

	if (mkdir(dir, 0755) < 0)
		return error_set(err, -errno, "workspace: create '%s': %s", dir, strerror(errno));
	r = write_file_atomic(file, text, strlen(text), 0644);
	if (r < 0)
		return error_set(err, r, "workspace: write '%s'", file);
	r = disk_work_copy_tree(work_path, dir, WORKSPACE_RECORD_DIR, err);
	if (r < 0)
		return error_prefix(err, "workspace '%s'", ws->repo);
	return 0;
}

int
workspace_apply(const struct vm_workspace *ws, const char *work_path, const char *staging_parent,
		struct workspace_result *ret, struct error **err)
{
	_cleanup_free_ char *staging = NULL, *tree = NULL;
	struct workspace_result res = { 0 };
	struct error *e = NULL;
	int r;

	r = remove_leftovers(staging_parent, &res, err);
	if (r < 0)
		return r;
	staging = xasprintf("%s/workspace-XXXXXX", staging_parent);
	if (!mkdtemp(staging))
		return error_set(err, -errno, "workspace: staging folder under '%s': %s",
				 staging_parent, strerror(errno));
	tree = xasprintf("%s/tree", staging);
	r = workspace_materialise(ws, tree, &res, err);
	if (r >= 0) {
		r = disk_work_copy_tree(work_path, tree, ws->path, err);
		if (r < 0)
			(void)error_prefix(err, "workspace '%s'", ws->repo);
	}
	if (r >= 0)
		r = record_guest_path(ws, work_path, staging, err);
	if (disk_rm_rf(staging, &e) < 0) {
		/* The work disk is already right: a leftover staging folder only
		 * costs space, so it is a warning. */
		res.warnings = strv_append_take(res.warnings, xasprintf("%s, ignoring", e->msg));
		error_free(e);
	}
	if (r < 0) {
		workspace_result_done(&res);
		return r;
	}
	*ret = res;
	return 0;
}
