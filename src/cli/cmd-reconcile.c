/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger reconcile: take the lock, observe, plan, apply; print each step as
 * it happens and a summary.  Exit 0 converged, 1 failed, 2 partial (held or
 * failed VMs), 3 another run holds the lock.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apply/apply.h"
#include "cli/core.h"
#include "cli/idle.h"
#include "cli/ssh.h"
#include "drivers/guest.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

enum {
	OPT_ONLY = CLI_OPT_FIRST_PRIVATE,
	OPT_HOST_NAME,
	OPT_ALLOW_MASS_DELETE,
	OPT_DRY_RUN,
	OPT_LOCK_TIMEOUT,
	OPT_STOP_TIMEOUT,
	OPT_BOOT_TIMEOUT,
	OPT_JOBS,
};

#define JOBS_MAX 64

static void
help(FILE *f)
{
	fputs("Usage: banger reconcile [--dry-run] [--only NAME]... [--json] [--allow-mass-delete]\n"
	      "                        [--lock-timeout S] [--stop-timeout S] [--boot-timeout S]\n"
	      "                        [--host-name H] [--jobs N]\n"
	      "\n"
	      "Make the host match the declarations: observe, plan, then apply the plan\n"
	      "step by step.  A VM whose step fails is left there with its error recorded;\n"
	      "the others go on.  VMs with invalid declarations are held: nothing is done\n"
	      "to them.\n"
	      "\n"
	      "Options:\n"
	      "      --dry-run          print the plan, change nothing\n"
	      "      --only NAME        reconcile this VM only (repeatable); no orphan removal\n"
	      "      --allow-mass-delete  allow deleting more than half of the VMs at once\n"
	      "      --lock-timeout S   wait at most S seconds for another run (default 30)\n"
	      "      --stop-timeout S   give a guest S seconds to shut down before SIGTERM,\n"
	      "                         then SIGKILL (default 10)\n"
	      "      --boot-timeout S   a guest not ready after S seconds is an error (default 60)\n"
	      "      --host-name H      this host's name for 'host:' (default: the kernel's)\n"
	      "      --jobs N           work on up to N VMs at once (1-64, default 8): disk\n"
	      "                         and status file work, and waiting for guests to\n"
	      "                         boot or stop, overlap; the output's order is that\n"
	      "                         of --jobs 1\n",
	      f);
	cli_source_help(f);
	cli_common_help(f, true);
	fputs("\nExit status: 0 converged, 1 failed (or a refused mass delete), 2 partial\n"
	      "(held or failed VMs), 3 another run holds the lock, 64 usage error.\n",
	      f);
}

struct progress {
	const struct plan *plan;
	bool json;
	bool tty;
	json_t *steps;
	const char *last_vm;
};

static void
on_step(void *userdata, const struct plan_change *ch, const struct plan_action *a, int r,
	const struct error *e)
{
	struct progress *pr = userdata;
	_cleanup_free_ char *msg = r < 0 ? error_format(e) : NULL;
	if (pr->json) {
		json_t *s = json_object();

		json_object_set_new(s, "vm", ch->vm_name ? json_string(ch->vm_name) : json_null());
		json_object_set_new(s, "change", json_string(change_kind_to_string(ch->kind)));
		json_object_set_new(s, "action", json_string(action_kind_to_string(a->kind)));
		json_object_set_new(s, "text", json_string(a->text));
		json_object_set_new(s, "ok", json_boolean(r >= 0));
		json_object_set_new(s, "error", msg ? json_string(msg) : json_null());
		json_array_append_new(pr->steps, s);
		return;
	}
	if (ch->vm_name && (!pr->last_vm || strcmp(pr->last_vm, ch->vm_name) != 0)) {
		/* On a terminal, say how far the run is. */
		if (pr->tty)
			printf("[%zu/%zu] ", (size_t)(ch - pr->plan->changes) + 1, pr->plan->n_changes);
		/* Why, as the plan says it (a create's or delete's is long). */
		if (ch->detail && ch->kind != CHANGE_CREATE && ch->kind != CHANGE_DELETE)
			printf("%s %s (%s):\n", change_kind_to_string(ch->kind), ch->vm_name,
			       ch->detail);
		else
			printf("%s %s:\n", change_kind_to_string(ch->kind), ch->vm_name);
		pr->last_vm = ch->vm_name;
	}
	if (r >= 0)
		printf("  %-8s %s\n", "ok", a->text);
	else
		printf("  %-8s %s: %s\n", "FAILED", a->text, msg);
	fflush(stdout);
}

int
cli_reconcile(int argc, char **argv)
{
	return cli_reconcile_extra(argc, argv, NULL);
}

int
cli_reconcile_extra(int argc, char **argv, json_t *extra)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_SOURCE_LONGOPTS,
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		{ "allow-mass-delete", no_argument, NULL, OPT_ALLOW_MASS_DELETE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "lock-timeout", required_argument, NULL, OPT_LOCK_TIMEOUT },
		{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
		{ "boot-timeout", required_argument, NULL, OPT_BOOT_TIMEOUT },
		{ "jobs", required_argument, NULL, OPT_JOBS },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **only = NULL;
	struct apply_result res = { 0 };
	struct cli_common common;
	struct cli_run run;
	struct progress pr = { 0 };
	const char *host_name = NULL;
	bool allow_mass = false, dry_run = false;
	int lock_ms = 30000, stop_ms = 0, boot_ms = 0, c, r, ret;
	unsigned jobs = 0;
	size_t n_held;
	bool partial_source, broken;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'h':
		case CLI_OPT_HELP:
			help(stdout);
			return EXIT_CONVERGED;
		case OPT_ONLY:
			only = strv_append(only, optarg);
			break;
		case OPT_HOST_NAME:
			if (!spec_hostname_ok(optarg)) {
				cli_errorf("reconcile: --host-name: '%s' is not a host name (letters, "
					   "digits, '.' and '-')", optarg);
				return EXIT_USAGE;
			}
			host_name = optarg;
			break;
		case OPT_ALLOW_MASS_DELETE:
			allow_mass = true;
			break;
		case OPT_DRY_RUN:
			dry_run = true;
			break;
		case OPT_LOCK_TIMEOUT:
			if (cli_parse_seconds(optarg, &lock_ms) < 0) {
				cli_errorf("reconcile: --lock-timeout: '%s' is not a number of seconds "
					   "(0 to 86400)",
					   optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_STOP_TIMEOUT:
		case OPT_BOOT_TIMEOUT:
			if (cli_parse_seconds(optarg, c == OPT_STOP_TIMEOUT ? &stop_ms : &boot_ms) < 0 ||
			    (c == OPT_STOP_TIMEOUT ? stop_ms : boot_ms) == 0) {
				cli_errorf("reconcile: --%s: '%s' is not a number of seconds (1 to 86400)",
					   c == OPT_STOP_TIMEOUT ? "stop-timeout" : "boot-timeout", optarg);
				return EXIT_USAGE;
			}
			break;
		case OPT_JOBS: {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || v < 1 || v > JOBS_MAX) {
				cli_errorf("reconcile: --jobs: '%s' is not a number from 1 to %d", optarg,
					   JOBS_MAX);
				return EXIT_USAGE;
			}
			jobs = (unsigned)v;
			break;
		}
		default:
			cli_errorf("reconcile: unknown or incomplete option '%s'; see 'banger "
				   "reconcile --help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errorf("reconcile: unexpected argument '%s'; see 'banger reconcile --help'",
			   argv[optind]);
		return EXIT_USAGE;
	}

	r = cli_run_prepare(&run, &common, host_name, dry_run ? -1 : lock_ms, &err);
	if (r >= 0)
		r = cli_only_check(&run, only, &err);
	/* Samples and idle stops first, so the plan stops an idle VM (a dry
	 * run decides the same, and records nothing). */
	if (r >= 0 && run.host->stats)
		r = cli_idle_pass(&run, run.host->stats, only, dry_run, &err);
	if (r >= 0) {
		struct plan_options po = { .status_dir = run.status_dir,
					   .ssh_pubkey = run.ssh_pubkey,
					   .uplink = run.uplink,
					   .host_name = run.host_name,
					   .only = only,
					   .allow_mass_delete = allow_mass };

		memcpy(po.hv_missing, run.hv_missing, sizeof(po.hv_missing));

		r = plan_build(run.spec, run.obs, &po, &p, &err);
		if (r >= 0)
			cli_plan_note_uplink(&run, p);
	}
	if (r < 0) {
		cli_report(err);
		cli_run_done(&run);
		return r == -EBUSY ? EXIT_LOCKED : EXIT_FAILED;
	}
	/* A declaration that does not validate and holds no VM (a file name
	 * that is no DNS label) still makes the run partial. */
	n_held = strv_length(p->held);
	broken = run.spec->n_diags > 0;
	/* A failed fetch or a refused rewind: the last accepted commit is
	 * applied, and the run is partial. */
	partial_source = cli_source_warn(&run);
	if (!common.json)
		cli_source_print(&run, stdout);
	if (dry_run || p->refused) {
		if (common.json) {
			json_t *o = json_object();

			json_object_set_new(o, "plan", cli_plan_json(p));
			json_object_set_new(o, "source", cli_source_json(&run));
			json_object_set_new(o, "dry_run", json_boolean(dry_run));
			if (extra)
				json_object_update(o, extra);
			json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
			fputc('\n', stdout);
			json_decref(o);
		} else {
			_cleanup_free_ char *text = plan_format(p);

			fputs(text, stdout);
		}
		if (p->refused)
			cli_errorf("%s", p->refused);
		cli_run_done(&run);
		/* A refused mass delete changes nothing and needs the operator:
		 * a failure, as plan says, so that a timer's unit is marked
		 * failed (exit 2 is not). */
		return p->refused		   ? EXIT_FAILED
		       : n_held || broken || partial_source ? EXIT_PARTIAL
						  : EXIT_CONVERGED;
	}

	/*
	 * Temp files of writers killed part way: those of files any number of
	 * writers may write (the hosts fragment, known_hosts) are named by
	 * the writer's pid, and go once no such process is left.
	 */
	{
		static const char *const sub[] = { "", "/ssh" };

		for (size_t i = 0; i < ELEMENTSOF(sub); i++) {
			_cleanup_free_ char *dir = xasprintf("%s%s", run.status_dir, sub[i]);

			(void)remove_dead_temporaries(dir);
		}
	}
	pr.plan = p;
	pr.json = common.json;
	pr.tty = isatty(STDOUT_FILENO);
	pr.steps = json_array();
	if (!common.json) {
		for (size_t i = 0; p->held && p->held[i]; i++)
			printf("held %s\n", p->held[i]);
		for (size_t i = 0; p->notes && p->notes[i]; i++)
			printf("note: %s\n", p->notes[i]);
	}
	{
		struct apply_options ao = { .status_dir = run.status_dir,
					    .ready_timeout_ms = (unsigned)boot_ms,
					    .stop_timeout_ms = (unsigned)stop_ms,
					    .jobs = jobs,
					    .ssh_pubkey = run.ssh_pubkey,
					    .on_step = on_step,
					    .step_userdata = &pr };

		r = apply_plan(p, run.spec, &run.host->ops, &ao, &res, &err);
	}
	/* The fake host's state is saved whatever happened: a crash keeps what it did. */
	{
		struct error *e2 = NULL;

		if (cli_host_save(run.host, &e2) < 0) {
			cli_report(e2);
			error_free(e2);
		}
	}
	/* Names: the hosts fragment and block follow what the status files say now.
	 * A new root disk (or a deleted VM) means new guest host keys: its
	 * known_hosts entry goes, and the next ssh records the new key. */
	{
		struct error *e2 = NULL;

		for (size_t i = 0; i < p->n_actions; i++) {
			const struct plan_action *a = &p->actions[i];
			const char *vm_name = p->changes[a->change].vm_name;
			_cleanup_free_ char *alias = NULL;

			if ((a->kind != ACTION_ROOT && a->kind != ACTION_FORGET) || !vm_name)
				continue;
			alias = xasprintf("%s.%s", vm_name, run.spec->host.domain);
			if (ssh_known_hosts_forget(run.status_dir, alias, &e2) < 0) {
				_cleanup_free_ char *msg = error_format(e2);

				cli_errorf("warning: %s, ignoring", msg);
				error_free(e2);
				e2 = NULL;
			}
		}

		if (guest_hosts_refresh(run.status_dir, run.spec->host.domain,
					p->n_actions ? NULL : run.obs, &e2) < 0) {
			_cleanup_free_ char *msg = error_format(e2);

			cli_errorf("warning: hosts: %s, ignoring", msg);
			error_free(e2);
		}
	}
	if (r < 0) {
		cli_report(err);
		ret = EXIT_FAILED;
	} else if (res.n_failed && !res.n_ok && !p->n_unchanged)
		ret = EXIT_FAILED;
	else if (res.n_failed || n_held || broken || partial_source)
		ret = EXIT_PARTIAL;
	else
		ret = EXIT_CONVERGED;

	if (common.json) {
		json_t *o = json_object(), *sum = json_object(), *fails = json_array();

		for (size_t i = 0; res.failures && res.failures[i]; i++)
			json_array_append_new(fails, json_string(res.failures[i]));
		json_object_set_new(o, "plan", cli_plan_json(p));
		json_object_set_new(o, "source", cli_source_json(&run));
		json_object_set_new(o, "steps", pr.steps);
		pr.steps = NULL;
		json_object_set_new(sum, "changed", json_integer((json_int_t)res.n_ok));
		json_object_set_new(sum, "failed", json_integer((json_int_t)res.n_failed));
		json_object_set_new(sum, "held", json_integer((json_int_t)n_held));
		json_object_set_new(sum, "unchanged", json_integer((json_int_t)p->n_unchanged));
		json_object_set_new(sum, "failures", fails);
		json_object_set_new(sum, "exit", json_integer(ret));
		json_object_set_new(o, "summary", sum);
		if (extra)
			json_object_update(o, extra);
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		if (p->n_changes == 0)
			printf("Nothing to do: %zu vm%s up to date", p->n_unchanged,
			       p->n_unchanged == 1 ? "" : "s");
		else
			printf("Reconciled: %zu changed, %zu failed; %zu unchanged", res.n_ok,
			       res.n_failed, p->n_unchanged);
		printf(", %zu held.\n", n_held);
		for (size_t i = 0; res.failures && res.failures[i]; i++)
			cli_errorf("%s", res.failures[i]);
	}
	if (pr.steps)
		json_decref(pr.steps);
	apply_result_done(&res);
	cli_run_done(&run);
	return ret;
}
