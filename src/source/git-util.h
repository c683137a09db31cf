/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the libgit2 users of source/ share: cleanup helpers for libgit2's
 * objects, its last error text, and errno values for its error codes.
 */
#pragma once

#include <errno.h>
#include <git2.h>

#include "source/git-dl.h"

#include "util/cleanup.h"

/* git_foo_freep() for _cleanup_(), through the loaded git_foo_free(). */
#define GIT_CLEANUP_FUNC(type, func)                                                         \
	static inline void func##p(type **p)                                                 \
	{                                                                                    \
		if (*p)                                                                      \
			sym_##func(*p);                                                      \
	}

GIT_CLEANUP_FUNC(git_repository, git_repository_free)
GIT_CLEANUP_FUNC(git_remote, git_remote_free)
GIT_CLEANUP_FUNC(git_reference, git_reference_free)
GIT_CLEANUP_FUNC(git_object, git_object_free)
GIT_CLEANUP_FUNC(git_commit, git_commit_free)
GIT_CLEANUP_FUNC(git_tree, git_tree_free)
GIT_CLEANUP_FUNC(git_tree_entry, git_tree_entry_free)
GIT_CLEANUP_FUNC(git_blob, git_blob_free)
GIT_CLEANUP_FUNC(git_odb, git_odb_free)
GIT_CLEANUP_FUNC(git_odb_object, git_odb_object_free)
GIT_CLEANUP_FUNC(git_index, git_index_free)

/* For _cleanup_(libgit2_shutdownp) int init = git_dl_init(). */
static inline void
libgit2_shutdownp(int *initialised)
{
	if (*initialised > 0)
		(void)sym_git_libgit2_shutdown();
}

/* libgit2's last error text, or a generic one. */
static inline const char *
git_msg(void)
{
	const git_error *e = sym_git_error_last();

	return e && e->message ? e->message : "unknown libgit2 error";
}

/* A negative errno for a libgit2 error code. */
static inline int
git_errno(int gr)
{
	switch (gr) {
	case GIT_ENOTFOUND:
		return -ENOENT;
	case GIT_EEXISTS:
		return -EEXIST;
	case GIT_EAUTH:
	case GIT_ECERTIFICATE:
		return -EACCES;
	case GIT_ENONFASTFORWARD:
		return -ESTALE;
	default:
		return -EIO;
	}
}
