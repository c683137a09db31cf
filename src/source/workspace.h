/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Workspaces: one commit of a git repository (libgit2) materialised into a
 * host staging folder, then copied into a VM's work disk image at the
 * declared guest folder (disk_work_copy_tree, libext2fs).  The reconciler
 * reaches this through the disk ops' workspace_apply.
 *
 * Modes (enum workspace_mode in spec.h):
 *   full_copy      a clone: every branch and tag the repository has (as
 *                  origin/... remote branches), the work tree checked out at
 *                  the commit, HEAD on the local branch when ref names one
 *                  (detached for a tag or commit id), origin = the repo;
 *   shallow        the commit's files plus a .git holding only that commit,
 *                  its trees and blobs, with .git/shallow naming it (so git
 *                  in the guest treats it as a depth-1 clone and can fetch
 *                  more history from origin); the commit id is unchanged;
 *   metadata_only  the full_copy .git (its index at the commit) and no
 *                  work-tree files: `git checkout -f` in the guest fills it.
 * Refused, in every mode, with an error naming the file (-ELOOP): a symbolic
 * link of the commit whose target is absolute or climbs out of the tree with
 * "..".  Reported, in every mode, as warnings: submodules (left as empty
 * folders, their contents are not fetched) and Git LFS pointer files
 * ("version https://git-lfs.github.com/spec/v1" first line, copied as the
 * pointer: LFS objects are not fetched).
 */
#pragma once

#include "spec/spec.h"
#include "util/error.h"

/*
 * The work disk folder whose file "path" names the guest folder of the
 * workspace (one line), for the guest's init to mount the workspace there:
 * the work disk itself is mounted elsewhere (the demo image: /mnt/work).
 */
#define WORKSPACE_RECORD_DIR "/banger/workspace"

/* The first line of a Git LFS pointer file. */
#define WORKSPACE_LFS_HEADER "version https://git-lfs.github.com/spec/v1\n"

struct workspace_result {
	char *commit;		/* hex id of the commit materialised */
	char *branch;		/* local branch HEAD names; NULL when detached */
	char **warnings;	/* strv, one line each ("LFS pointer 'a/b.bin' ...") */
};

void workspace_result_done(struct workspace_result *r);

/*
 * Materialise ws (ws->repo: an absolute path of a work tree or bare
 * repository, or a URL libgit2 can fetch; ws->ref: branch, tag or commit id,
 * NULL for the repository's HEAD) into dir, which must not exist (its parent
 * must).  On failure dir may be left behind, partly written: the caller
 * removes it.  -ENOENT for an unknown ref or an empty repository, -ELOOP for
 * an escaping symlink, -EIO for libgit2 failures (fetch, checkout).
 */
int workspace_materialise(const struct vm_workspace *ws, const char *dir,
			  struct workspace_result *ret, struct error **err);

/*
 * Materialise ws into a fresh folder under staging_parent (an existing
 * directory private to this workspace: the VM's directory; leftover
 * "workspace-XXXXXX" folders of an interrupted run are removed first), replace ws->path in the ext4 work disk image work_path (no VM
 * may have it open) with it, record ws->path in WORKSPACE_RECORD_DIR/path
 * there, and remove the staging folder whatever
 * happened.  *ret is written only on success.
 */
int workspace_apply(const struct vm_workspace *ws, const char *work_path,
		    const char *staging_parent, struct workspace_result *ret, struct error **err);
