/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declaration files as (path, bytes): from a directory today, from a git
 * commit's tree later.  Knows nothing of YAML or of the host.
 */
#pragma once

#include <stddef.h>

#include "util/error.h"

/* Files larger than this are refused (the spec layer reports them). */
#define SOURCE_FILE_MAX (1024 * 1024)
/* A directory holding more entries than this is refused. */
#define SOURCE_DIR_MAX_ENTRIES 10000

struct source_file {
	char *path;	/* relative to the state root: "vms/web.yaml" */
	char *data;	/* NUL-terminated; NULL when too_big or unreadable */
	size_t len;
	int read_error;	/* 0, or -errno the file could not be read with (-EFBIG: over the limit) */
};

struct source {
	char *root;	/* the state directory as given, for messages and relative paths */
	char *commit;	/* git commit id the files come from; NULL for a plain directory */
	struct source_file *files;
	size_t n_files;	/* sorted by path */
};

/*
 * Read root/host.yaml and root/{images,vms,filesyncs}/<x>.yaml, plus every
 * *.yaml in any other direct subdirectory (so the spec layer can reject it).
 * Missing kind folders are fine; a missing root is -ENOENT.
 */
int source_dir_read(const char *root, struct source **ret, struct error **err);

struct source *source_free(struct source *s);
static inline void
source_freep(struct source **s)
{
	(void)source_free(*s);
}
