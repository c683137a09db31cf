/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NULL-terminated string vectors.  Leaf module.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

size_t strv_length(char *const *l);
/* Append a copy of s; returns the (possibly moved) vector. */
char **strv_append(char **l, const char *s);
/* Append s itself, taking ownership. */
char **strv_append_take(char **l, char *s);
/*
 * Append a copy of s to a vector of *n strings, and count it: amortised
 * constant time (the array grows by doubling), for loops that build long
 * vectors.  l must be NULL or built by strv_push alone, and *n its length.
 */
char **strv_push(char **l, size_t *n, const char *s);
bool strv_contains(char *const *l, const char *s);
char **strv_copy(char *const *l);
char **strv_free(char **l);

static inline void
strv_freep(char ***l)
{
	(void)strv_free(*l);
}

#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))
