/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarations read from a git commit's tree (libgit2), never from a work
 * tree, so a half-finished edit is never applied.  The repository (a local
 * path, file://, https or ssh URL) is fetched into a bare cache repository
 * under the status directory; the commit last accepted is kept there as
 * refs/banger/accepted/KEY (KEY a hash of the repository and branch), and a
 * new tip is accepted only when it descends from it (fast-forward) unless
 * rewinding is allowed.
 */
#pragma once

#include <stdbool.h>

#include "source/source.h"
#include "util/error.h"

/* The refs, inside the cache repository, of the commit last accepted, one
 * per repository and branch: source_git_applied_ref(). */
#define SOURCE_GIT_ACCEPTED_REF "refs/banger/accepted/"
/* The refs a fetch writes, one per repository and branch. */
#define SOURCE_GIT_FETCHED_REF "refs/banger/fetched/"
/* Where earlier versions kept the accepted commit: + branch, then
 * + URLHASH/branch.  Read once, taken over into SOURCE_GIT_ACCEPTED_REF. */
#define SOURCE_GIT_APPLIED_REF "refs/banger/applied/"

/*
 * SOURCE_GIT_ACCEPTED_REF + the first 32 hex digits of the SHA-256 of url (a
 * local path made absolute first), a NUL and branch: another repository
 * starts afresh, its first tip accepted, instead of reading as a rewind of
 * the last one's; one component, so no branch's name can be in the way of
 * another's.  Caller frees.
 */
char *source_git_applied_ref(const char *url, const char *branch);

struct source_git_options {
	const char *url;	/* repository: local path (work tree or bare) or URL */
	const char *branch;	/* NULL: the branch HEAD names (local) or "main" */
	const char *subdir;	/* NULL or "": the tree's root */
	const char *cache_dir;	/* STATUS_DIR/source: created when missing; NULL: read a
				 * local repository in place, no fetch and no history check */
	bool allow_rewind;	/* accept a tip that does not descend from the last one */
	bool dry_run;		/* fetch and check, but do not move the accepted commit */
};

/*
 * What a read saw besides the files.  When the fetch failed or the new tip
 * was refused, *ret still holds the files of the last accepted commit and
 * warning says why (the run must report it and exit "partial").
 */
struct source_git_info {
	char *commit;		/* hex id of the commit read */
	char *tip;		/* hex id of the remote tip seen, NULL when the fetch failed */
	struct error *warning;	/* fetch failure or refused rewind; NULL when none */
};

void source_git_info_done(struct source_git_info *i);

/* True when path is a git work tree or bare repository. */
bool source_git_is_repository(const char *path);

/*
 * Check that the repository path (source_git_is_repository()) is the top of
 * a work tree, as --worktree reads it: -EINVAL when it is a bare repository
 * or the git folder of a work tree elsewhere, -EIO when libgit2 cannot be
 * loaded or the repository not opened.
 */
int source_git_check_work_tree(const char *path, struct error **err);

/*
 * Fetch o->url into o->cache_dir, accept its branch tip (fast-forward only,
 * unless o->allow_rewind), and read the declaration files of that commit's
 * tree, under o->subdir, with the same rules as source_dir_read().  Fails
 * (and never returns an empty declaration) when nothing was ever fetched.
 * The source's root is o->url, its commit the hex id read.
 */
int source_git_read(const struct source_git_options *o, struct source **ret,
		    struct source_git_info *ret_info, struct error **err);

/*
 * Write what the tree of commit (hex) holds at each of paths, relative to
 * o->subdir, under the empty folder dir: files (0755 when git marks them
 * executable, else 0644; each synced), symbolic links as links, folders
 * with all they hold; a submodule is left out.  The commit is read from o->cache_dir
 * when set, else from the repository o->url in place.  A path the commit
 * does not hold is skipped; empty and '.' components are dropped
 * ("./files//a" is "files/a"); a path that is absolute or has a '..'
 * component is refused (-EINVAL).
 */
int source_git_checkout(const struct source_git_options *o, const char *commit, char *const *paths,
			const char *dir, struct error **err);
