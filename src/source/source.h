/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declaration files as (path, bytes): from a directory today, from a git
 * commit's tree later.  Knows nothing of YAML or of the host.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "util/error.h"

/* Files larger than this are refused (the spec layer reports them). */
#define SOURCE_FILE_MAX (1024 * 1024)
/* A directory holding more entries than this is refused. */
#define SOURCE_DIR_MAX_ENTRIES 10000
/* How deep below a kind folder unread files are looked for. */
#define SOURCE_UNREAD_DEPTH 8

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
	/*
	 * Files that look like declarations but are not read, so that the
	 * spec layer can say so: at the top, *.yaml and *.yml other than
	 * host.yaml; in images/, vms/ and filesyncs/, names ending in .yml
	 * or in .yaml spelled in other case ("vms/web.yml"), and the YAML
	 * files of their sub-folders ("vms/old/web.yaml"), SOURCE_UNREAD_DEPTH
	 * deep and SOURCE_DIR_MAX_ENTRIES entries at most, unreadable
	 * folders passed over.  Sorted.
	 */
	char **unread;
};

/* A name read as a declaration: not hidden, ending in ".yaml". */
static inline bool
source_name_is_yaml(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && n > 5 && strcmp(name + n - 5, ".yaml") == 0;
}

/* A folder of declarations. */
static inline bool
source_folder_is_kind(const char *name)
{
	return strcmp(name, "images") == 0 || strcmp(name, "vms") == 0 ||
	       strcmp(name, "filesyncs") == 0;
}

/* A name that looks like YAML: not hidden, ending in .yaml or .yml in any case. */
static inline bool
source_name_looks_yaml(const char *name)
{
	size_t n = strlen(name);

	return name[0] != '.' && ((n > 5 && strcasecmp(name + n - 5, ".yaml") == 0) ||
				  (n > 4 && strcasecmp(name + n - 4, ".yml") == 0));
}

/*
 * Read root/host.yaml and root/{images,vms,filesyncs}/<x>.yaml, plus every
 * *.yaml in any other direct subdirectory (so the spec layer can reject it),
 * and list the unread ones that look like declarations (see unread).
 * Missing kind folders are fine; a missing root is -ENOENT.
 */
int source_dir_read(const char *root, struct source **ret, struct error **err);

struct source *source_free(struct source *s);
static inline void
source_freep(struct source **s)
{
	(void)source_free(*s);
}
