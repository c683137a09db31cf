/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One reconcile cycle on the fake host for the core tests: observe, plan,
 * and optionally apply; plus the plan corpus's drift commands.
 */
#pragma once

#include <stdbool.h>

#include "apply/apply.h"
#include "fakes/fake-host.h"
#include "plan/plan.h"

struct cycle_options {
	const char *host_name;
	char **only;
	bool allow_mass_delete;
	bool apply;
	bool hv_missing[_HYPERVISOR_MAX];	/* plan_options.hv_missing */
};

struct cycle {
	char *text;		/* plan_format, with the status dir shown as $STATUS */
	bool empty;
	bool refused;
	size_t n_orphans_after;	/* orphans observed by a fresh observation after apply */
	int apply_r;
	struct apply_result res;
};

void cycle_done(struct cycle *c);

/* Names the declarations know (vms and held ones). */
char **harness_claimed(const struct spec *s);

int harness_cycle(const char *status_dir, struct fake_host *h, const struct spec *d,
		  const struct cycle_options *o, struct cycle *ret);

/* Apply one drift command ("kill web", "rm-tap web", ...) to host and status dir. */
int harness_drift(const char *status_dir, struct fake_host *h, const char *cmd);

/* Replace every occurrence of from in s by to.  Caller frees. */
char *harness_replace(const char *s, const char *from, const char *to);
