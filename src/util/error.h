/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error objects carried up the stack by every layer above util/.
 *
 * A failing function creates the error once, where the failure happens, with
 * error_set() (or error_set_at() when it knows a file position), and returns
 * the negative errno that error_set() hands back.  Callers add context with
 * error_prefix(); only cli/ prints an error, then frees it.
 */
#pragma once

#include <stdarg.h>

struct error {
	int code;	/* negative errno */
	char *msg;	/* context prefixes already applied */
	char *file;	/* NULL when the error has no source position */
	unsigned line;	/* 1-based; 0 when unknown */
	unsigned col;	/* 1-based; 0 when unknown */
};

/*
 * Record an error in *err (when err is not NULL and *err is still unset) and
 * return r, which must be negative.  An existing error is never overwritten.
 */
int error_set(struct error **err, int r, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int error_set_at(struct error **err, int r, const char *file, unsigned line, unsigned col,
		 const char *fmt, ...) __attribute__((format(printf, 6, 7)));
int error_setv(struct error **err, int r, const char *file, unsigned line, unsigned col,
	       const char *fmt, va_list ap) __attribute__((format(printf, 6, 0)));

/*
 * Prepend "context: " to the message of *err and return its code.  With no
 * error set (a programming mistake) returns -EINVAL.
 */
int error_prefix(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One line: "file:line:col: msg" or "msg".  Caller frees. */
char *error_format(const struct error *e);

struct error *error_free(struct error *e);

static inline void
error_freep(struct error **e)
{
	if (*e)
		(void)error_free(*e);
}
