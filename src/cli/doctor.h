/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger doctor: checks of what this host offers banger, each with a status,
 * a one-line message and, when something is wrong, a one-line fix.  The
 * checks reach the host only through driver ops (doctor probes, net ops,
 * disk ops), so tests run them against fakes.
 */
#pragma once

#include <errno.h>
#include <jansson.h>
#include <stdio.h>

#include "drivers/disk.h"
#include "drivers/doctor-probe.h"
#include "drivers/net.h"
#include "spec/spec.h"

enum doctor_status {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_ERROR,
	DOCTOR_SKIP,
	_DOCTOR_STATUS_MAX,
	_DOCTOR_STATUS_INVALID = -EINVAL,
};

const char *doctor_status_to_string(enum doctor_status s);
enum doctor_status doctor_status_from_string(const char *s);

/* Check names, in the order doctor_run reports them. */
extern const char *const doctor_check_names[];
#define DOCTOR_N_CHECKS 16

struct doctor_check {
	const char *name;	/* static: one of doctor_check_names */
	enum doctor_status status;
	char *message;
	char *fix;		/* NULL when there is nothing to fix */
};

struct doctor_report {
	struct doctor_check *checks;
	size_t n_checks;
};

/* What the checks look at.  Borrowed; ops other than probe may be NULL when
 * they could not be opened, with the reason in *_error. */
struct doctor_ctx {
	const struct doctor_probe_ops *probe;
	const struct net_ops *net;
	const char *net_error;
	const struct disk_ops *disk;
	const char *disk_error;
	const struct spec *spec;	/* never NULL: host defaults when nothing is declared */
	const char *spec_error;		/* why the declarations were unreadable, or NULL */
	const char *state_dir;
	const char *status_dir;
	/* Where reconcile publishes the guests' names (guest_hosts_file,
	 * guest_dnsmasq_dir): NULL when it does not. */
	const char *hosts_file;
	const char *dnsmasq_dir;
};

/* Run every check, in doctor_check_names order.  Cannot fail. */
void doctor_run(const struct doctor_ctx *c, struct doctor_report *ret);
void doctor_report_done(struct doctor_report *r);
/* 1 (EXIT_FAILED) when any check is an error, else 0. */
int doctor_report_exit_code(const struct doctor_report *r);
/* {"state_dir", "status_dir", "ok", "errors", "warnings",
 *  "checks": [{"name", "status", "message", "fix" (string or null)}]} */
json_t *doctor_report_json(const struct doctor_report *r, const char *state_dir,
			   const char *status_dir);
/* One aligned line per check: "STATUS  NAME  MESSAGE[; fix: FIX]". */
void doctor_report_print(const struct doctor_report *r, FILE *f);
