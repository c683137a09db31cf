/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault injection: see fault.h.  Only compiled with BANGER_FAULT_INJECTION.
 */
#include "config.h"

#ifdef BANGER_FAULT_INJECTION

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/fault.h"

void
fault_init(struct fault *f)
{
	const char *s = getenv("BANGER_FAULT");
	const char *c = getenv("BANGER_FAULT_COUNT");
	char *end = NULL;
	unsigned long v;

	*f = (struct fault){ 0 };
	f->count_file = c && *c ? c : NULL;
	if (!s || !*s)
		return;
	if (strncmp(s, "before:", 7) == 0) {
		f->before = true;
		s += 7;
	} else if (strncmp(s, "after:", 6) == 0) {
		s += 6;
	}
	v = strtoul(s, &end, 10);
	if (end == s || *end || v == 0 || v > 1000000) {
		fprintf(stderr, "banger: BANGER_FAULT '%s' is not [before:|after:]N, ignoring\n",
			getenv("BANGER_FAULT"));
		return;
	}
	f->kill_at = (unsigned)v;
}

static void
die_now(void)
{
	/* No atexit, no destructors, no cleanup attributes: a crash. */
	(void)kill(getpid(), SIGKILL);
	for (;;)
		pause();
}

static void
write_count(const struct fault *f)
{
	char buf[32];
	int fd, n;

	if (!f->count_file)
		return;
	fd = open(f->count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	n = snprintf(buf, sizeof(buf), "%u\n", f->n);
	/* Test bookkeeping only: a short write shows as a wrong count. */
	(void)!write(fd, buf, (size_t)n);
	(void)close(fd);
}

void
fault_before(struct fault *f)
{
	f->n++;
	if (f->before && f->kill_at == f->n)
		die_now();
}

void
fault_after(struct fault *f)
{
	write_count(f);
	if (!f->before && f->kill_at == f->n)
		die_now();
}

#endif
