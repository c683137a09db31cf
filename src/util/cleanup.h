/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scope-bound cleanup helpers (__attribute__((cleanup))).  Leaf header: no
 * other src/ header may be included here.
 */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void
freep(void *p)
{
	free(*(void **)p);
}

static inline void
closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void
fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* DEFINE_CLEANUP_FUNC(struct foo, foo_free) gives foo_freep() for _cleanup_(). */
#define DEFINE_CLEANUP_FUNC(type, func)                                                      \
	static inline void func##p(type **p)                                                 \
	{                                                                                    \
		if (*p)                                                                      \
			(void)func(*p);                                                      \
	}

/* Hand ownership out of a cleanup-managed variable. */
#define TAKE_PTR(p)                                                                          \
	({                                                                                   \
		__typeof__(p) _p_ = (p);                                                     \
		(p) = NULL;                                                                  \
		_p_;                                                                         \
	})

#define TAKE_FD(fd)                                                                          \
	({                                                                                   \
		int _fd_ = (fd);                                                             \
		(fd) = -EBADF;                                                               \
		_fd_;                                                                        \
	})

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
