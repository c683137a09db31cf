/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NULL-terminated string vectors.  Leaf module.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "strv.h"

size_t
strv_length(char *const *l)
{
	size_t n = 0;

	while (l && l[n])
		n++;
	return n;
}

char **
strv_append_take(char **l, char *s)
{
	size_t n = strv_length(l);

	l = xrealloc(l, (n + 2) * sizeof(char *));
	l[n] = s;
	l[n + 1] = NULL;
	return l;
}

char **
strv_append(char **l, const char *s)
{
	return strv_append_take(l, xstrdup(s));
}

char **
strv_push(char **l, size_t *n, const char *s)
{
	size_t k = *n;

	/* k + 1 slots are in use (the NULL too); the array holds the next
	 * power of two of them, so it is full when k + 1 is one. */
	if (((k + 1) & k) == 0)
		l = xrealloc(l, 2 * (k + 1) * sizeof(char *));
	l[k] = xstrdup(s);
	l[k + 1] = NULL;
	*n = k + 1;
	return l;
}

bool
strv_contains(char *const *l, const char *s)
{
	for (size_t i = 0; l && l[i]; i++)
		if (strcmp(l[i], s) == 0)
			return true;
	return false;
}

char **
strv_copy(char *const *l)
{
	char **r = xcalloc(strv_length(l) + 1, sizeof(char *));

	for (size_t i = 0; l && l[i]; i++)
		r[i] = xstrdup(l[i]);
	return r;
}

char **
strv_free(char **l)
{
	for (size_t i = 0; l && l[i]; i++)
		free(l[i]);
	free(l);
	return NULL;
}
