/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Idle auto-stop on the command line's side: the sampling pass reconcile
 * runs before planning, and the record banger start clears.
 */
#pragma once

#include <stdbool.h>

#include "cli/core.h"
#include "drivers/guest.h"

/*
 * Sample every running VM (restricted to only when not NULL) through stats,
 * decide with plan_idle_decide, and write the samples, idle_since and, for
 * a VM idle for its idle_stop_after, the idle stop into its status file
 * and into run->obs (so the plan sees it).  Errors only for status writes.
 */
int cli_idle_pass(struct cli_run *run, const struct stats_ops *stats, char *const *only, bool dry,
		  struct error **err);

/* Clear NAME's idle stop in its status file; *ret_was: whether it had one.
 * -ENOENT without a status file. */
int cli_idle_clear(const char *status_dir, const char *name, bool *ret_was, struct error **err);
