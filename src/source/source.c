/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What every source shares: freeing the file list.
 */
#include <stdlib.h>

#include "source/source.h"

struct source *
source_free(struct source *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n_files; i++) {
		free(s->files[i].path);
		free(s->files[i].data);
	}
	free(s->files);
	free(s->root);
	free(s->commit);
	free(s);
	return NULL;
}
