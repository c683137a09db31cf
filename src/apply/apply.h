/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Apply: run a plan's actions in order through the ops tables.  Every side
 * effect goes through one function that (1) writes the step under way and
 * the identity it will create into the VM's status file, (2) acts, (3)
 * records the result.  A failed step records last_error and stops work on
 * that VM; the run goes on with the others.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "drivers/host-ops.h"
#include "plan/plan.h"
#include "spec/spec.h"
#include "util/error.h"

/* Changes worked on at once when apply_options.jobs is 0: more than the
 * cores of a small host, as most of a change's time is spent waiting for
 * fsyncs, the kernel's locks and guests. */
#define APPLY_JOBS_DEFAULT 8

struct apply_options {
	const char *status_dir;
	/* Changes worked on at once (0: APPLY_JOBS_DEFAULT).  Only the disk
	 * driver's file system steps, status writes, waits for guests to be
	 * ready or to stop, and one net with one nat step overlap (see apply.c);
	 * the order of the output is that of one job.  1 where the disk driver
	 * cannot run in parallel, and with the test hooks below. */
	unsigned jobs;
	unsigned ready_timeout_ms;	/* how long a guest may take to be ready; 0: 60 s */
	unsigned stop_timeout_ms;	/* graceful stop bound; 0: 10 s */
	/* banger's public key (as in plan_options, the same value): written
	 * with the VM's ssh_authorized_keys into the work disk at
	 * PLAN_KEYS_GUEST_PATH by the file-sync step.  NULL: none. */
	const char *ssh_pubkey;
	/* Test hooks: checkpoint() runs after every status write (a negative
	 * return ends the run at once, as a crash would); crashed() is asked
	 * after every failed op (true ends the run at once, recording nothing). */
	int (*checkpoint)(void *userdata);
	bool (*crashed)(void *userdata);
	void *hook_userdata;
	/* Progress: called after each action with its result (0 or -errno). */
	void (*on_step)(void *userdata, const struct plan_change *ch, const struct plan_action *a,
			int r, const struct error *e);
	void *step_userdata;
};

struct apply_result {
	size_t n_ok;		/* changes completed */
	size_t n_failed;	/* changes stopped by a failed step */
	size_t n_actions;	/* actions that ran to completion */
	bool aborted;		/* the run was cut short (crash hook) */
	char **failures;	/* strv: "NAME: error" */
};

void apply_result_done(struct apply_result *r);

/*
 * Run p against the host.  desired must be the spec p was built from.
 * Returns 0 when the run went through (ret says which VMs failed), -EPERM
 * for a refused plan (ret untouched), -ECANCELED when a test hook ended the
 * run (ret then holds what was done up to there, with aborted set).
 */
int apply_plan(const struct plan *p, const struct spec *desired, const struct host_ops *ops,
	       const struct apply_options *opt, struct apply_result *ret, struct error **err);

/* The guest kernel command line for a VM (ip= included).  Caller frees. */
char *apply_cmdline(const struct spec *desired, const struct image_spec *img,
		    const struct vm_spec *vm, uint32_t ip);
