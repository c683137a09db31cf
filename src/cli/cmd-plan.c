/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger plan: what reconcile would do, terraform-like or as JSON.
 * Changes nothing.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/core.h"
#include "cli/idle.h"
#include "util/cleanup.h"
#include "util/strv.h"

enum {
	OPT_ONLY = CLI_OPT_FIRST_PRIVATE,
	OPT_HOST_NAME,
	OPT_ALLOW_MASS_DELETE,
};

static void
help(FILE *f)
{
	fputs("Usage: banger plan [--json] [--only NAME]... [--host-name H] [--allow-mass-delete]\n"
	      "\n"
	      "Compare the declarations with the host and print what 'banger reconcile'\n"
	      "would do: + create, ~ change (restart, start, stop, update, repair),\n"
	      "- delete, - orphan (banger's objects no VM claims), ! held VMs whose\n"
	      "declarations are invalid.  Changes nothing.\n"
	      "\n"
	      "Options:\n"
	      "      --only NAME        plan for this VM only (repeatable); no orphan removal\n"
	      "      --host-name H      this host's name for 'host:' (default: the kernel's)\n"
	      "      --allow-mass-delete  plan deleting more than half of the VMs\n",
	      f);
	cli_source_help(f);
	cli_common_help(f, true);
	fputs("\nExit status: 0 planned, 1 error or refused plan, 2 some VMs held, 64 usage.\n", f);
}

int
cli_plan(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_SOURCE_LONGOPTS,
		{ "only", required_argument, NULL, OPT_ONLY },
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		{ "allow-mass-delete", no_argument, NULL, OPT_ALLOW_MASS_DELETE },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **only = NULL;
	struct cli_common common;
	struct cli_run run;
	const char *host_name = NULL;
	bool allow_mass = false;
	int c, r, ret;

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
				cli_errorf("plan: --host-name: '%s' is not a host name (letters, "
					   "digits, '.' and '-')", optarg);
				return EXIT_USAGE;
			}
			host_name = optarg;
			break;
		case OPT_ALLOW_MASS_DELETE:
			allow_mass = true;
			break;
		default:
			cli_errorf("plan: unknown or incomplete option '%s'; see 'banger plan --help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cli_errorf("plan: unexpected argument '%s'; see 'banger plan --help'", argv[optind]);
		return EXIT_USAGE;
	}
	r = cli_run_prepare(&run, &common, host_name, -1, &err);
	if (r >= 0)
		r = cli_only_check(&run, only, &err);
	/* What a run now would decide for idle VMs, recording nothing. */
	if (r >= 0 && run.host->stats)
		r = cli_idle_pass(&run, run.host->stats, only, true, &err);
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
		return EXIT_FAILED;
	}
	if (common.json) {
		json_t *o = cli_plan_json(p);

		json_object_set_new(o, "source", cli_source_json(&run));
		json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(o);
	} else {
		_cleanup_free_ char *text = plan_format(p);

		cli_source_print(&run, stdout);
		fputs(text, stdout);
	}
	ret = p->refused		 ? EXIT_FAILED
	      : strv_length(p->held) || run.spec->n_diags || cli_source_warn(&run) ? EXIT_PARTIAL
							      : EXIT_CONVERGED;
	cli_run_done(&run);
	return ret;
}
