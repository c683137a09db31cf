/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The guard of the benchmark programs that make network objects: they run
 * only inside a private network namespace, never the one BANGER_OUTER_NETNS
 * names (the caller's) nor init's.
 */
#pragma once

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline bool
bench_in_private_netns(void)
{
	const char *outer = getenv("BANGER_OUTER_NETNS");
	char self[64] = "", init[64] = "";

	if (!outer || readlink("/proc/self/ns/net", self, sizeof(self) - 1) < 0)
		return false;
	if (strcmp(self, outer) == 0)
		return false;
	if (readlink("/proc/1/ns/net", init, sizeof(init) - 1) >= 0 && strcmp(self, init) == 0)
		return false;
	return true;
}
