/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared between the files of spec/: one file's validation into the model.
 * Internal to spec/; no host access.
 */
#pragma once

#include <stdbool.h>

#include "spec/spec.h"
#include "spec/yaml-tree.h"
#include "util/name.h"

/* A VM while loading: the model plus the positions cross-file checks need. */
struct vm_work {
	struct vm_spec vm;
	struct spec_mark *filesync_marks; /* one per vm.filesyncs entry */
	size_t *filesync_items;		  /* its index in the file's list */
	bool held;
};

/* Where relative paths resolve ("/abs/state"). */
struct kind_ctx {
	struct diag_list *d;
	const char *root_abs;
	const struct host_spec *host; /* defaults for VMs */
	bool from_git;	/* the files come from a commit: relative host paths name its files */
};

/* Each returns true when the file is valid; diagnostics go to c->d. */
bool spec_parse_host(struct kind_ctx *c, const char *path, const char *data, size_t len,
		     struct host_spec *out);
bool spec_parse_image(struct kind_ctx *c, const char *name, const char *path, const char *data,
		      size_t len, struct image_spec *out);
bool spec_parse_vm(struct kind_ctx *c, const char *name, const char *path, const char *data,
		   size_t len, struct vm_work *out);
bool spec_parse_filesync(struct kind_ctx *c, const char *name, const char *path,
			 const char *data, size_t len, struct filesync_spec *out);

void host_spec_defaults(struct host_spec *h);
void host_spec_done(struct host_spec *h);
void image_spec_done(struct image_spec *i);
void vm_spec_done(struct vm_spec *v);
void filesync_spec_done(struct filesync_spec *f);
