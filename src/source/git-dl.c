/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * libgit2 through dlopen: see git-dl.h.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>

#include "source/git-dl.h"

#define GIT_DL_DEFINE(f) __typeof__(f) *sym_##f;
GIT_DL_FUNCS(GIT_DL_DEFINE)
#undef GIT_DL_DEFINE

static __typeof__(git_libgit2_init) *init_fn;
static char dl_error[512];

const char *
git_dl_error(void)
{
	return dl_error[0] ? dl_error : NULL;
}

/* dlopen and every dlsym, once; false (dl_error set) when any fails. */
static bool
load(void)
{
	static bool loaded;
	void *h;

	if (loaded)
		return true;
	/* The soname this build was linked against (configure found it). */
	h = dlopen(GIT2_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(dl_error, sizeof(dl_error), "cannot load libgit2 (%s): %s", GIT2_SONAME,
			 dlerror());
		return false;
	}
#define GIT_DL_LOAD(f)                                                                       \
	sym_##f = (__typeof__(f) *)dlsym(h, #f);                                             \
	if (!sym_##f) {                                                                      \
		snprintf(dl_error, sizeof(dl_error), "libgit2 (%s) has no %s", GIT2_SONAME, #f); \
		(void)dlclose(h);                                                            \
		return false;                                                                \
	}
	GIT_DL_FUNCS(GIT_DL_LOAD)
#undef GIT_DL_LOAD
	init_fn = (__typeof__(git_libgit2_init) *)dlsym(h, "git_libgit2_init");
	if (!init_fn) {
		snprintf(dl_error, sizeof(dl_error), "libgit2 (%s) has no git_libgit2_init",
			 GIT2_SONAME);
		(void)dlclose(h);
		return false;
	}
	/* Loaded for the life of the process: never dlclosed. */
	loaded = true;
	dl_error[0] = '\0';
	return true;
}

int
git_dl_init(void)
{
	if (!load())
		return -1;
	return init_fn();
}
