/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Error objects carried up the stack by every layer above util/.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "error.h"

int
error_setv(struct error **err, int r, const char *file, unsigned line, unsigned col,
	   const char *fmt, va_list ap)
{
	struct error *e;

	assert(r < 0);
	if (!err || *err)
		return r;
	e = xcalloc(1, sizeof(*e));
	e->code = r;
	e->msg = xvasprintf(fmt, ap);
	e->file = file ? xstrdup(file) : NULL;
	e->line = line;
	e->col = col;
	*err = e;
	return r;
}

int
error_set(struct error **err, int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = error_setv(err, r, NULL, 0, 0, fmt, ap);
	va_end(ap);
	return r;
}

int
error_set_at(struct error **err, int r, const char *file, unsigned line, unsigned col,
	     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	r = error_setv(err, r, file, line, col, fmt, ap);
	va_end(ap);
	return r;
}

int
error_prefix(struct error **err, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *msg;

	if (!err || !*err)
		return -EINVAL;
	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	msg = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = msg;
	return (*err)->code;
}

char *
error_format(const struct error *e)
{
	if (!e)
		return xstrdup("unknown error");
	if (e->file && e->line)
		return xasprintf("%s:%u:%u: %s", e->file, e->line, e->col, e->msg);
	if (e->file)
		return xasprintf("%s: %s", e->file, e->msg);
	return xstrdup(e->msg);
}

struct error *
error_free(struct error *e)
{
	if (!e)
		return NULL;
	free(e->msg);
	free(e->file);
	free(e);
	return NULL;
}
