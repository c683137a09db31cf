/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libgit2, loaded when first needed (dlopen), in the manner of systemd's
 * dlopen-libs: a run whose declarations are a plain folder never maps it
 * and the nineteen libraries it pulls in (TLS, SSH, Kerberos), which cost
 * more than half of banger's start-up.  Code calls sym_git_*(); each
 * pointer has the type of the libgit2 function it stands for.
 */
#pragma once

#include <git2.h>

#define GIT_DL_FUNCS(X) \
	X(git_blob_free) \
	X(git_blob_lookup) \
	X(git_blob_rawcontent) \
	X(git_blob_rawsize) \
	X(git_branch_set_upstream) \
	X(git_checkout_head) \
	X(git_checkout_options_init) \
	X(git_clone) \
	X(git_clone_options_init) \
	X(git_commit_free) \
	X(git_commit_lookup) \
	X(git_commit_tree) \
	X(git_commit_tree_id) \
	X(git_credential_ssh_key_from_agent) \
	X(git_error_last) \
	X(git_fetch_options_init) \
	X(git_graph_descendant_of) \
	X(git_index_free) \
	X(git_index_read_tree) \
	X(git_index_write) \
	X(git_libgit2_shutdown) \
	X(git_object_free) \
	X(git_object_id) \
	X(git_object_lookup_prefix) \
	X(git_odb_exists) \
	X(git_odb_free) \
	X(git_odb_object_data) \
	X(git_odb_object_free) \
	X(git_odb_object_size) \
	X(git_odb_object_type) \
	X(git_odb_read) \
	X(git_odb_write) \
	X(git_oid_equal) \
	X(git_oid_fromstrn) \
	X(git_oid_tostr) \
	X(git_reference_create) \
	X(git_reference_free) \
	X(git_reference_lookup) \
	X(git_reference_name_is_valid) \
	X(git_reference_name_to_id) \
	X(git_reference_peel) \
	X(git_reference_remove) \
	X(git_reference_symbolic_target) \
	X(git_reference_type) \
	X(git_remote_create) \
	X(git_remote_create_anonymous) \
	X(git_remote_create_with_fetchspec) \
	X(git_remote_fetch) \
	X(git_remote_free) \
	X(git_remote_lookup) \
	X(git_remote_set_url) \
	X(git_remote_url) \
	X(git_repository_free) \
	X(git_repository_index) \
	X(git_repository_init) \
	X(git_repository_is_bare) \
	X(git_repository_odb) \
	X(git_repository_open_bare) \
	X(git_repository_open_ext) \
	X(git_repository_set_head) \
	X(git_repository_set_head_detached) \
	X(git_repository_workdir) \
	X(git_tree_entry_byindex) \
	X(git_tree_entry_bypath) \
	X(git_tree_entry_filemode) \
	X(git_tree_entry_free) \
	X(git_tree_entry_id) \
	X(git_tree_entry_name) \
	X(git_tree_entry_type) \
	X(git_tree_entrycount) \
	X(git_tree_free) \
	X(git_tree_lookup)

#define GIT_DL_DECLARE(f) extern __typeof__(f) *sym_##f;
GIT_DL_FUNCS(GIT_DL_DECLARE)
#undef GIT_DL_DECLARE

/*
 * Load libgit2 (once) and git_libgit2_init() it: its result (> 0), or < 0
 * when the library cannot be loaded (git_dl_error() says why; no sym_*
 * may be called then).  Pair each success with sym_git_libgit2_shutdown().
 */
int git_dl_init(void);
/* Why the last git_dl_init() failed, or NULL. */
const char *git_dl_error(void);
