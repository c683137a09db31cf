/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fault injection (test builds only, configure --enable-fault-injection):
 * BANGER_FAULT=N (or after:N) makes the process SIGKILL itself right after
 * its Nth side effect in apply's step(), BANGER_FAULT=before:N right before
 * it, so no cleanup of any kind runs.  BANGER_FAULT_COUNT=FILE has the
 * number of side effects done so far written to FILE after each one, to find
 * how many fault points a scenario has.  Normal builds compile none of it.
 */
#pragma once

#include <stdbool.h>

struct fault {
	unsigned n;		/* side effects seen so far */
	unsigned kill_at;	/* 0: never */
	bool before;		/* kill before kill_at rather than after it */
	const char *count_file;
};

#ifdef BANGER_FAULT_INJECTION
void fault_init(struct fault *f);
void fault_before(struct fault *f);
void fault_after(struct fault *f);
#else
static inline void
fault_init(struct fault *f)
{
	(void)f;
}

static inline void
fault_before(struct fault *f)
{
	(void)f;
}

static inline void
fault_after(struct fault *f)
{
	(void)f;
}
#endif
