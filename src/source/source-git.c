/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarations from a git commit's tree through libgit2.  Depends on util/
 * and source.h only; knows nothing of YAML.
 *
 * A read:
 *   1. open (or create) the bare cache repository in cache_dir;
 *   2. remove refs/banger/fetched/KEY (KEY: a hash of url and branch) and
 *      fetch the branch from url into it, so that a branch the remote does
 *      not have is never read from an earlier fetch;
 *   3. accept the fetched tip when it is the accepted commit, descends from
 *      it, or rewinding is allowed; otherwise keep the accepted commit;
 *   4. move refs/banger/accepted/KEY to the accepted commit;
 *   5. read host.yaml and the *.yaml of each top folder from its tree.
 * A failed fetch or a refused tip leaves the last accepted commit in force
 * and is returned as a warning; with no accepted commit at all it is an
 * error, so a broken remote is never read as "nothing declared".
 */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source/git-util.h"
#include "source/git.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/sha256.h"
#include "util/strv.h"

void
source_git_info_done(struct source_git_info *i)
{
	if (!i)
		return;
	free(i->commit);
	free(i->tip);
	error_free(i->warning);
	*i = (struct source_git_info){ 0 };
}

static bool
repository_opens(const char *path)
{
	_cleanup_(libgit2_shutdownp) int init = git_dl_init();
	_cleanup_(git_repository_freep) git_repository *repo = NULL;

	/* Looks like one but libgit2 cannot be loaded: say yes, so that the
	 * read fails naming the library instead of applying the work tree. */
	if (init < 0)
		return true;
	return sym_git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) == 0;
}

bool
source_git_is_repository(const char *path)
{
	_cleanup_free_ char *dotgit = xasprintf("%s/.git", path);
	_cleanup_free_ char *head = xasprintf("%s/HEAD", path);
	struct stat st;

	/* A work tree has .git, a bare repository HEAD: without either, say no
	 * before starting libgit2, whose start (TLS certificates) costs more
	 * than the rest of a no-op reconcile of a small host. */
	if (lstat(dotgit, &st) < 0 && lstat(head, &st) < 0)
		return false;
	return repository_opens(path);
}

int
source_git_check_work_tree(const char *path, struct error **err)
{
	_cleanup_(libgit2_shutdownp) int init = git_dl_init();
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_free_ char *real = NULL, *real_wd = NULL;
	const char *wd;

	if (init < 0)
		return error_set(err, -EIO, "libgit2: %s",
				 git_dl_error() ? git_dl_error() : "cannot be started");
	if (sym_git_repository_open_ext(&repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return error_set(err, -EIO, "'%s': %s", path, git_msg());
	wd = sym_git_repository_is_bare(repo) ? NULL : sym_git_repository_workdir(repo);
	if (!wd)
		return error_set(err, -EINVAL,
				 "'%s' is a bare repository: it has no work tree to read (--worktree)",
				 path);
	real = realpath(path, NULL);
	real_wd = realpath(wd, NULL);
	if (!real || !real_wd || strcmp(real, real_wd) != 0)
		return error_set(err, -EINVAL,
				 "'%s' is the git folder of the work tree '%s': give that folder "
				 "(--worktree)",
				 path, wd);
	return 0;
}

static bool
branch_name_ok(const char *b)
{
	_cleanup_free_ char *ref = xasprintf("refs/heads/%s", b);
	int valid = 0;

	return sym_git_reference_name_is_valid(&valid, ref) == 0 && valid;
}

static int
cache_open(const char *cache_dir, git_repository **ret, struct error **err)
{
	git_repository *repo = NULL;
	int r;

	r = mkdir_p(cache_dir, 0700);
	if (r < 0)
		return error_set(err, r, "source cache '%s': %s", cache_dir, strerror(-r));
	if (sym_git_repository_open_bare(&repo, cache_dir) == 0) {
		*ret = repo;
		return 0;
	}
	if (sym_git_repository_init(&repo, cache_dir, 1) < 0)
		return error_set(err, -EIO, "source cache '%s': %s", cache_dir, git_msg());
	*ret = repo;
	return 0;
}

/*
 * The branch a local repository's HEAD names, in *ret (NULL when url is no
 * local repository or HEAD names no branch); -EINVAL when HEAD is detached:
 * no branch to read, and taking "main" for it would apply a commit no one
 * chose.
 */
static int
local_head_branch(const char *url, char **ret)
{
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_reference_freep) git_reference *head = NULL;
	const char *target;

	*ret = NULL;
	if (sym_git_repository_open_ext(&repo, url, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return 0;
	if (sym_git_reference_lookup(&head, repo, "HEAD") < 0)
		return 0;
	if (sym_git_reference_type(head) != GIT_REFERENCE_SYMBOLIC)
		return -EINVAL;
	target = sym_git_reference_symbolic_target(head);
	if (!target || strncmp(target, "refs/heads/", 11) != 0)
		return 0;
	*ret = xstrdup(target + 11);
	return 0;
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

/*
 * The name of what is kept per repository and branch: the first 32 hex
 * digits of the SHA-256 of url (a local path made absolute first), a NUL
 * and branch.  One component, so that no branch's ref is the folder of
 * another's ("release" and "release/v2").
 */
static void
source_key(const char *url, const char *branch, char ret[33])
{
	_cleanup_free_ char *real = strstr(url, "://") ? NULL : realpath(url, NULL);
	const char *u = real ? real : url;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char hex[SHA256_HEX_SIZE];
	struct sha256_ctx c;

	sha256_init(&c);
	sha256_update(&c, u, strlen(u) + 1);
	sha256_update(&c, branch, strlen(branch));
	sha256_final(&c, digest);
	sha256_hex(digest, hex);
	memcpy(ret, hex, 32);
	ret[32] = '\0';
}

/*
 * Fetch branch from url into fetched_ref, removed first; *ret_tip on
 * success.  A refspec whose source the remote lacks fetches nothing and
 * succeeds, so the ref left by an earlier fetch would read as the tip.
 * The remote is anonymous: nothing is written by a configured refspec.
 * Objects stay, so the next fetch of the branch is incremental.
 */
static int
fetch_tip(git_repository *repo, const char *url, const char *branch, const char *fetched_ref,
	  git_oid *ret_tip, struct error **err)
{
	_cleanup_(git_remote_freep) git_remote *remote = NULL;
	_cleanup_free_ char *spec = NULL;
	git_fetch_options fo;
	char *refspecs[1];
	git_strarray specs = { refspecs, 1 };
	int gr;

	gr = sym_git_reference_remove(repo, fetched_ref);
	if (gr < 0 && gr != GIT_ENOTFOUND)
		return error_set(err, git_errno(gr), "remove '%s': %s", fetched_ref, git_msg());
	if (sym_git_remote_create_anonymous(&remote, repo, url) < 0)
		return error_set(err, -EIO, "remote '%s': %s", url, git_msg());

	/* Forced: the tip is stored whatever it is; acceptance is decided below. */
	spec = xasprintf("+refs/heads/%s:%s", branch, fetched_ref);
	refspecs[0] = spec;
	(void)sym_git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks.credentials = credentials;
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	gr = sym_git_remote_fetch(remote, &specs, &fo, "banger fetch");
	if (gr < 0)
		return error_set(err, git_errno(gr), "fetch '%s': %s", url, git_msg());

	if (sym_git_reference_name_to_id(ret_tip, repo, fetched_ref) < 0)
		return error_set(err, -ENOENT, "fetch '%s': no branch '%s' there", url, branch);
	return 0;
}

char *
source_git_applied_ref(const char *url, const char *branch)
{
	char key[33];

	source_key(url, branch, key);
	return xasprintf(SOURCE_GIT_ACCEPTED_REF "%s", key);
}

static char *
fetched_ref_name(const char *url, const char *branch)
{
	char key[33];

	source_key(url, branch, key);
	return xasprintf(SOURCE_GIT_FETCHED_REF "%s", key);
}

/*
 * The ref of the version before, SOURCE_GIT_APPLIED_REF + the first 16 hex
 * digits of the SHA-256 of url + "/" + branch: a branch whose name had
 * another's as a prefix could not be recorded there.
 */
static char *
applied_ref_per_url(const char *url, const char *branch)
{
	_cleanup_free_ char *real = strstr(url, "://") ? NULL : realpath(url, NULL);
	const char *key = real ? real : url;
	char hex[SHA256_HEX_SIZE];

	sha256_hex_buf(key, strlen(key), hex);
	return xasprintf(SOURCE_GIT_APPLIED_REF "%.16s/%s", hex, branch);
}

/*
 * The accepted commit as earlier versions recorded it, taken over as
 * applied_ref when that is missing, so that an upgrade keeps the commit
 * accepted, and so the check against a rewind:
 *   - applied_ref_per_url(): of url and branch, taken as it is;
 *   - SOURCE_GIT_APPLIED_REF + branch, of the versions before that, when it
 *     came from url: the cache's remote "origin" is still url and the
 *     commit is the branch's last fetched tip (refs/remotes/origin/BRANCH)
 *     or one before it (those versions set the remote to a new url before
 *     fetching, so a commit of the old repository may sit under it).
 */
static void
applied_ref_take_over(git_repository *repo, const char *url, const char *branch,
		      const char *applied_ref)
{
	_cleanup_(git_remote_freep) git_remote *remote = NULL;
	_cleanup_free_ char *per_url = applied_ref_per_url(url, branch);
	_cleanup_free_ char *legacy = xasprintf(SOURCE_GIT_APPLIED_REF "%s", branch);
	_cleanup_free_ char *tracking = xasprintf("refs/remotes/origin/%s", branch);
	git_reference *ref = NULL;
	git_oid id, tip;

	if (sym_git_reference_name_to_id(&id, repo, applied_ref) == 0)
		return;
	if (sym_git_reference_name_to_id(&id, repo, per_url) < 0) {
		if (sym_git_reference_name_to_id(&id, repo, legacy) < 0 ||
		    sym_git_remote_lookup(&remote, repo, "origin") < 0 ||
		    !sym_git_remote_url(remote) || strcmp(sym_git_remote_url(remote), url) != 0 ||
		    sym_git_reference_name_to_id(&tip, repo, tracking) < 0)
			return;
		if (!sym_git_oid_equal(&id, &tip) &&
		    sym_git_graph_descendant_of(repo, &tip, &id) != 1)
			return;
	}
	if (sym_git_reference_create(&ref, repo, applied_ref, &id, 0, "banger: per repository") == 0)
		sym_git_reference_free(ref);
}

static int
read_blob(git_repository *repo, const git_tree_entry *e, const char *path, struct source *s)
{
	_cleanup_(git_blob_freep) git_blob *blob = NULL;
	struct source_file *f;
	git_object_size_t size;

	s->files = xappend(s->files, &s->n_files, sizeof(*s->files), (void **)&f);
	f->path = xstrdup(path);
	if (sym_git_tree_entry_filemode(e) == GIT_FILEMODE_LINK) {
		/* A link in a commit could point anywhere on the host: refused. */
		f->read_error = -ELOOP;
		return 0;
	}
	if (sym_git_blob_lookup(&blob, repo, sym_git_tree_entry_id(e)) < 0) {
		f->read_error = -EIO;
		return 0;
	}
	size = sym_git_blob_rawsize(blob);
	if (size > SOURCE_FILE_MAX) {
		f->read_error = -EFBIG;
		return 0;
	}
	f->len = (size_t)size;
	f->data = xmalloc(f->len + 1);
	memcpy(f->data, sym_git_blob_rawcontent(blob), f->len);
	f->data[f->len] = '\0';
	return 0;
}

static int
file_cmp(const void *a, const void *b)
{
	return strcmp(((const struct source_file *)a)->path, ((const struct source_file *)b)->path);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A declaration's name on something that is no file (a tree, a submodule):
 * unreadable, as the directory source finds such a folder. */
static void
not_a_file(const git_tree_entry *e, const char *path, struct source *s)
{
	struct source_file *f;

	s->files = xappend(s->files, &s->n_files, sizeof(*s->files), (void **)&f);
	f->path = xstrdup(path);
	f->read_error = sym_git_tree_entry_type(e) == GIT_OBJECT_TREE ? -EISDIR : -EINVAL;
}

/*
 * The YAML-looking entries under the sub-folder e (at path) of a kind folder,
 * as unread, SOURCE_UNREAD_DEPTH folders deep at most.  A best-effort list:
 * a tree that cannot be read, and what lies past *budget entries in all,
 * are passed over.
 */
static void
tree_unread(git_repository *repo, const git_tree_entry *e, const char *path, unsigned depth,
	    size_t *budget, struct source *s)
{
	_cleanup_(git_tree_freep) git_tree *t = NULL;
	size_t m;

	if (sym_git_tree_lookup(&t, repo, sym_git_tree_entry_id(e)) < 0)
		return;
	m = sym_git_tree_entrycount(t);
	for (size_t i = 0; i < m && *budget; i++) {
		const git_tree_entry *c = sym_git_tree_entry_byindex(t, i);
		const char *n = sym_git_tree_entry_name(c);
		_cleanup_free_ char *child = NULL;

		if (n[0] == '.')
			continue;
		(*budget)--;
		child = xasprintf("%s/%s", path, n);
		if (source_name_looks_yaml(n))
			s->unread = strv_append(s->unread, child);
		else if (depth < SOURCE_UNREAD_DEPTH && sym_git_tree_entry_type(c) == GIT_OBJECT_TREE)
			tree_unread(repo, c, child, depth + 1, budget, s);
	}
}

static int
read_tree(git_repository *repo, const git_tree *root, struct source *s, struct error **err)
{
	size_t n = sym_git_tree_entrycount(root), total = 0;
	size_t budget = SOURCE_DIR_MAX_ENTRIES;	/* of the unread listing */

	if (n > SOURCE_DIR_MAX_ENTRIES)
		return error_set(err, -E2BIG, "%zu entries at the top of the tree, more than %d",
				 n, SOURCE_DIR_MAX_ENTRIES);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *e = sym_git_tree_entry_byindex(root, i);
		const char *name = sym_git_tree_entry_name(e);
		_cleanup_(git_tree_freep) git_tree *sub = NULL;
		bool file = sym_git_tree_entry_type(e) == GIT_OBJECT_BLOB;
		size_t m;

		if (strcmp(name, "host.yaml") == 0) {
			if (file)
				read_blob(repo, e, name, s);
			else
				not_a_file(e, name, s);
			continue;
		}
		if (file) {
			/* Other files at the top are not declarations. */
			if (source_name_looks_yaml(name))
				s->unread = strv_append(s->unread, name);
			continue;
		}
		if (sym_git_tree_entry_type(e) != GIT_OBJECT_TREE || name[0] == '.')
			continue;
		if (sym_git_tree_lookup(&sub, repo, sym_git_tree_entry_id(e)) < 0)
			return error_set(err, -EIO, "tree '%s': %s", name, git_msg());
		m = sym_git_tree_entrycount(sub);
		total += m;
		if (m > SOURCE_DIR_MAX_ENTRIES || total > SOURCE_DIR_MAX_ENTRIES)
			return error_set(err, -E2BIG, "'%s': more than %d entries", name,
					 SOURCE_DIR_MAX_ENTRIES);
		for (size_t j = 0; j < m; j++) {
			const git_tree_entry *f = sym_git_tree_entry_byindex(sub, j);
			const char *fname = sym_git_tree_entry_name(f);
			_cleanup_free_ char *path = NULL;

			if (fname[0] == '.')
				continue;
			path = xasprintf("%s/%s", name, fname);
			if (source_name_is_yaml(fname)) {
				if (sym_git_tree_entry_type(f) == GIT_OBJECT_BLOB)
					read_blob(repo, f, path, s);
				else
					not_a_file(f, path, s);
			} else if (!source_folder_is_kind(name))
				continue;
			else if (source_name_looks_yaml(fname))
				s->unread = strv_append(s->unread, path);
			else if (sym_git_tree_entry_type(f) == GIT_OBJECT_TREE)
				tree_unread(repo, f, path, 1, &budget, s);
		}
	}
	if (s->n_files > 1)
		qsort(s->files, s->n_files, sizeof(*s->files), file_cmp);
	if (s->unread)
		qsort(s->unread, strv_length(s->unread), sizeof(char *), str_cmp);
	return 0;
}

static int
read_commit(git_repository *repo, const git_oid *id, const char *subdir, struct source *s,
	    struct error **err)
{
	_cleanup_(git_commit_freep) git_commit *commit = NULL;
	_cleanup_(git_tree_freep) git_tree *tree = NULL, *sub = NULL;
	_cleanup_(git_tree_entry_freep) git_tree_entry *entry = NULL;

	if (sym_git_commit_lookup(&commit, repo, id) < 0)
		return error_set(err, -EIO, "commit: %s", git_msg());
	if (sym_git_commit_tree(&tree, commit) < 0)
		return error_set(err, -EIO, "commit tree: %s", git_msg());
	if (!subdir || !*subdir)
		return read_tree(repo, tree, s, err);
	if (strstr(subdir, "..") || subdir[0] == '/')
		return error_set(err, -EINVAL, "path '%s': must be relative, without '..'", subdir);
	if (sym_git_tree_entry_bypath(&entry, tree, subdir) < 0)
		return error_set(err, -ENOENT, "path '%s': not in the commit", subdir);
	if (sym_git_tree_entry_type(entry) != GIT_OBJECT_TREE)
		return error_set(err, -ENOTDIR, "path '%s': not a directory in the commit", subdir);
	if (sym_git_tree_lookup(&sub, repo, sym_git_tree_entry_id(entry)) < 0)
		return error_set(err, -EIO, "path '%s': %s", subdir, git_msg());
	return read_tree(repo, sub, s, err);
}

/*
 * Decide which commit to read: the fetched tip when it fast-forwards from
 * the accepted one (or rewinding is allowed), else the accepted one.
 */
static int
accept_tip(git_repository *repo, const char *applied_ref, const git_oid *tip, bool allow_rewind,
	   git_oid *ret, struct error **warning, struct error **err)
{
	git_oid applied;
	char a[GIT_OID_HEXSZ + 1], t[GIT_OID_HEXSZ + 1];
	int d;

	if (sym_git_reference_name_to_id(&applied, repo, applied_ref) < 0) {
		*ret = *tip;
		return 0;
	}
	if (sym_git_oid_equal(&applied, tip)) {
		*ret = *tip;
		return 0;
	}
	d = sym_git_graph_descendant_of(repo, tip, &applied);
	if (d < 0)
		return error_set(err, -EIO, "history check: %s", git_msg());
	if (d || allow_rewind) {
		*ret = *tip;
		return 0;
	}
	sym_git_oid_tostr(a, sizeof(a), &applied);
	sym_git_oid_tostr(t, sizeof(t), tip);
	error_set(warning, -ESTALE,
		  "new tip %.12s does not descend from the applied commit %.12s (history rewritten?); "
		  "keeping %.12s, use --allow-rewind to accept it",
		  t, a, a);
	*ret = applied;
	return 0;
}

/* Read a local repository's branch tip in place: no cache, no history check. */
static int
read_in_place(const struct source_git_options *o, const char *branch, struct source **ret,
	      struct source_git_info *ret_info, struct error **err)
{
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *ref = xasprintf("refs/heads/%s", branch);
	char hex[GIT_OID_HEXSZ + 1];
	git_oid id;
	int r;

	if (sym_git_repository_open_ext(&repo, o->url, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return error_set(err, -ENOENT, "'%s': not a git repository: %s", o->url, git_msg());
	if (sym_git_reference_name_to_id(&id, repo, ref) < 0)
		return error_set(err, -ENOENT, "'%s': no branch '%s'", o->url, branch);
	sym_git_oid_tostr(hex, sizeof(hex), &id);
	s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(o->url);
	s->commit = xstrdup(hex);
	r = read_commit(repo, &id, o->subdir, s, err);
	if (r < 0)
		return error_prefix(err, "commit %.12s", hex);
	if (ret_info) {
		*ret_info = (struct source_git_info){ 0 };
		ret_info->commit = xstrdup(hex);
		ret_info->tip = xstrdup(hex);
	}
	*ret = TAKE_PTR(s);
	return 0;
}

int
source_git_read(const struct source_git_options *o, struct source **ret,
		struct source_git_info *ret_info, struct error **err)
{
	_cleanup_(libgit2_shutdownp) int init = git_dl_init();
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(source_freep) struct source *s = NULL;
	_cleanup_free_ char *branch = NULL, *applied_ref = NULL, *fetched_ref = NULL;
	struct source_git_info info = { 0 };
	git_oid tip, use;
	char hex[GIT_OID_HEXSZ + 1];
	bool have_tip = false;
	int r;

	if (init < 0)
		return error_set(err, -EIO, "libgit2: %s", git_msg());
	if (o->branch)
		branch = xstrdup(o->branch);
	else if (local_head_branch(o->url, &branch) < 0)
		return error_set(err, -EINVAL,
				 "'%s': HEAD is detached, no branch to read: check out a branch "
				 "(git switch BRANCH)",
				 o->url);
	if (!branch)
		branch = xstrdup("main");
	if (!branch_name_ok(branch))
		return error_set(err, -EINVAL, "branch '%s': not a valid branch name", branch);

	if (!o->cache_dir)
		return read_in_place(o, branch, ret, ret_info, err);
	applied_ref = source_git_applied_ref(o->url, branch);
	fetched_ref = fetched_ref_name(o->url, branch);
	r = cache_open(o->cache_dir, &repo, err);
	if (r < 0)
		return r;
	applied_ref_take_over(repo, o->url, branch, applied_ref);

	r = fetch_tip(repo, o->url, branch, fetched_ref, &tip, &info.warning);
	if (r >= 0) {
		have_tip = true;
		sym_git_oid_tostr(hex, sizeof(hex), &tip);
		info.tip = xstrdup(hex);
		r = accept_tip(repo, applied_ref, &tip, o->allow_rewind, &use, &info.warning, err);
		if (r < 0)
			goto fail;
	} else if (sym_git_reference_name_to_id(&use, repo, applied_ref) < 0) {
		/* Nothing was ever accepted: the fetch error is the whole story. */
		r = error_set(err, info.warning->code, "%s", info.warning->msg);
		goto fail;
	}

	if (have_tip && sym_git_oid_equal(&use, &tip) && !o->dry_run) {
		git_reference *ref = NULL;

		if (sym_git_reference_create(&ref, repo, applied_ref, &use, 1,
					 "banger: accept tip") < 0) {
			r = error_set(err, -EIO, "record accepted commit: %s", git_msg());
			goto fail;
		}
		sym_git_reference_free(ref);
	}

	s = xcalloc(1, sizeof(*s));
	s->root = xstrdup(o->url);
	sym_git_oid_tostr(hex, sizeof(hex), &use);
	s->commit = xstrdup(hex);
	r = read_commit(repo, &use, o->subdir, s, err);
	if (r < 0) {
		error_prefix(err, "commit %.12s", hex);
		goto fail;
	}
	info.commit = xstrdup(hex);
	*ret = TAKE_PTR(s);
	if (ret_info)
		*ret_info = info;
	else
		source_git_info_done(&info);
	return 0;
fail:
	source_git_info_done(&info);
	return r;
}

/* ---- the files of a commit, for file syncs ---- */

#define CHECKOUT_MAX_DEPTH 64

static int checkout_entry(git_repository *repo, int dfd, const char *name,
			  const git_tree_entry *e, const char *path, int depth, struct error **err);

static int
checkout_tree(git_repository *repo, int dfd, const char *name, const git_tree_entry *e,
	      const char *path, int depth, struct error **err)
{
	_cleanup_(git_tree_freep) git_tree *tree = NULL;
	_cleanup_close_ int sub = -EBADF;
	size_t n;
	int r;

	if (depth > CHECKOUT_MAX_DEPTH)
		return error_set(err, -ELOOP, "'%s': more than %d folders deep", path,
				 CHECKOUT_MAX_DEPTH);
	if (sym_git_tree_lookup(&tree, repo, sym_git_tree_entry_id(e)) < 0)
		return error_set(err, -EIO, "tree '%s': %s", path, git_msg());
	if (mkdirat(dfd, name, 0755) < 0)
		return error_set(err, -errno, "create '%s': %s", path, strerror(errno));
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return error_set(err, -errno, "open '%s': %s", path, strerror(errno));
	n = sym_git_tree_entrycount(tree);
	for (size_t i = 0; i < n; i++) {
		const git_tree_entry *f = sym_git_tree_entry_byindex(tree, i);
		_cleanup_free_ char *p = xasprintf("%s/%s", path, sym_git_tree_entry_name(f));

		r = checkout_entry(repo, sub, sym_git_tree_entry_name(f), f, p, depth + 1, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
checkout_entry(git_repository *repo, int dfd, const char *name, const git_tree_entry *e,
	       const char *path, int depth, struct error **err)
{
	_cleanup_(git_blob_freep) git_blob *blob = NULL;
	_cleanup_close_ int fd = -EBADF;
	git_filemode_t mode = sym_git_tree_entry_filemode(e);
	const char *data;
	size_t len;

	/* A crafted tree could name an entry '..' or 'a/../..': written
	 * relative to dfd, it would land outside dir. */
	if (!*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return error_set(err, -EINVAL, "'%s': an entry named '%s' in the commit", path,
				 name);
	if (mode == GIT_FILEMODE_TREE)
		return checkout_tree(repo, dfd, name, e, path, depth, err);
	if (mode == GIT_FILEMODE_COMMIT)
		return 0;	/* a submodule: nothing of it is in this commit */
	if (sym_git_blob_lookup(&blob, repo, sym_git_tree_entry_id(e)) < 0)
		return error_set(err, -EIO, "blob '%s': %s", path, git_msg());
	data = sym_git_blob_rawcontent(blob);
	len = (size_t)sym_git_blob_rawsize(blob);
	if (mode == GIT_FILEMODE_LINK) {
		/* Written as the link it is: the copy step keeps it only when
		 * it stays inside the synced folder. */
		_cleanup_free_ char *target = xstrndup(data, len);

		if (strlen(target) != len || !*target)
			return error_set(err, -EINVAL, "link '%s': not a path", path);
		if (symlinkat(target, dfd, name) < 0)
			return error_set(err, -errno, "create link '%s': %s", path, strerror(errno));
		return 0;
	}
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    mode == GIT_FILEMODE_BLOB_EXECUTABLE ? 0755 : 0644);
	if (fd < 0)
		return error_set(err, -errno, "create '%s': %s", path, strerror(errno));
	while (len > 0) {
		ssize_t k = write(fd, data, len);

		if (k < 0)
			return error_set(err, -errno, "write '%s': %s", path, strerror(errno));
		data += k;
		len -= (size_t)k;
	}
	/* Synced before the folder takes its commit's name: a folder there
	 * is taken as whole by every later run, power loss or not. */
	if (fsync(fd) < 0)
		return error_set(err, -errno, "fsync '%s': %s", path, strerror(errno));
	return 0;
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * path without its empty and '.' components ("./files//a" is "files/a"),
 * or NULL when it is absolute, has a '..' component or names the root.
 */
static char *
checkout_path_clean(const char *path)
{
	_cleanup_free_ char *out = xstrdup("");
	const char *p = path;

	if (*path == '/')
		return NULL;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return NULL;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			char *t = xasprintf("%s%s%.*s", out, *out ? "/" : "", (int)n, p);

			free(out);
			out = t;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	return *out ? TAKE_PTR(out) : NULL;
}

int
source_git_checkout(const struct source_git_options *o, const char *commit, char *const *paths,
		    const char *dir, struct error **err)
{
	_cleanup_(libgit2_shutdownp) int init = git_dl_init();
	_cleanup_(git_repository_freep) git_repository *repo = NULL;
	_cleanup_(git_commit_freep) git_commit *c = NULL;
	_cleanup_(git_tree_freep) git_tree *tree = NULL;
	_cleanup_close_ int root = -EBADF;
	_cleanup_strv_free_ char **sorted = strv_copy(NULL);
	_cleanup_free_ char *subdir = NULL;
	git_oid id;
	int r;

	if (init < 0)
		return error_set(err, -EIO, "libgit2: %s", git_msg());
	if (o->subdir && *o->subdir && !(subdir = checkout_path_clean(o->subdir)))
		return error_set(err, -EINVAL, "path '%s': must be relative, without '..'",
				 o->subdir);
	for (size_t i = 0; paths && paths[i]; i++) {
		char *clean = checkout_path_clean(paths[i]);

		if (!clean)
			return error_set(err, -EINVAL,
					 "'%s': not a path inside the repository (relative, without "
					 "'..')",
					 paths[i]);
		sorted = strv_append_take(sorted, clean);
	}
	/* A folder before what it holds: "files" is written whole, and
	 * "files/a" after it finds itself there already. */
	if (strv_length(sorted) > 1)
		qsort(sorted, strv_length(sorted), sizeof(char *), cmp_strp);
	paths = sorted;
	if (o->cache_dir ? sym_git_repository_open_bare(&repo, o->cache_dir) < 0
			 : sym_git_repository_open_ext(&repo, o->url, GIT_REPOSITORY_OPEN_NO_SEARCH,
						       NULL) < 0)
		return error_set(err, -ENOENT, "'%s': %s", o->cache_dir ? o->cache_dir : o->url,
				 git_msg());
	if (sym_git_oid_fromstrn(&id, commit, strlen(commit)) < 0 ||
	    sym_git_commit_lookup(&c, repo, &id) < 0 || sym_git_commit_tree(&tree, c) < 0)
		return error_set(err, -EIO, "commit %.12s: %s", commit, git_msg());
	root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (root < 0)
		return error_set(err, -errno, "open '%s': %s", dir, strerror(errno));
	for (size_t i = 0; paths && paths[i]; i++) {
		_cleanup_(git_tree_entry_freep) git_tree_entry *e = NULL;
		_cleanup_free_ char *full = NULL;
		_cleanup_close_ int dfd = -EBADF;
		const char *name, *p;

		full = subdir ? xasprintf("%s/%s", subdir, paths[i]) : xstrdup(paths[i]);
		if (sym_git_tree_entry_bypath(&e, tree, full) < 0)
			continue;	/* not in the commit: the copy step warns */
		/* The folders above it, made here. */
		dfd = fcntl(root, F_DUPFD_CLOEXEC, 3);
		if (dfd < 0)
			return error_set(err, -errno, "dup: %s", strerror(errno));
		for (p = paths[i]; (name = strchr(p, '/')); p = name + 1) {
			_cleanup_free_ char *part = xstrndup(p, (size_t)(name - p));
			int next;

			if (mkdirat(dfd, part, 0755) < 0 && errno != EEXIST)
				return error_set(err, -errno, "create '%s' in '%s': %s", part, dir,
						 strerror(errno));
			next = openat(dfd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0)
				return error_set(err, -errno, "open '%s' in '%s': %s", part, dir,
						 strerror(errno));
			close(dfd);
			dfd = next;
		}
		/* Already written as part of a folder named before it. */
		if (faccessat(dfd, p, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			continue;
		r = checkout_entry(repo, dfd, p, e, paths[i], 0, err);
		if (r < 0)
			return r;
	}
	return 0;
}
