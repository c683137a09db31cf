/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger: keep this host's microVMs in the state YAML files declare.
 * Dispatches to one subcommand per file in cli/.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/cleanup.h"

static const struct cli_command commands[] = {
	{ "validate", "check the declarations and list what they declare", cli_validate, false },
	{ "plan", "show what reconcile would change", cli_plan, false },
	{ "reconcile", "make the host match the declarations", cli_reconcile, false },
	{ "status", "show each VM's declared and observed state", cli_status, false },
	{ "logs", "print a VM's console log, or follow it", cli_logs, false },
	{ "image", "import an image's files and pin them", cli_image, false },
	{ "doctor", "check what this host offers banger and what to fix", cli_doctor, false },
	{ NULL, NULL, NULL, false },
};

static void
usage(FILE *f)
{
	fputs("Usage: banger [--help] [--version] COMMAND [OPTIONS]\n"
	      "\n"
	      "Keep this host's microVMs in the state that YAML files declare.\n"
	      "\n"
	      "Commands:\n",
	      f);
	for (size_t i = 0; commands[i].name; i++)
		if (!commands[i].hidden)
			fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
	fputs("\nRun 'banger COMMAND --help' for a command's options; see banger(8).\n", f);
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("banger %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; commands[i].name; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	cli_errorf("unknown command '%s'; see 'banger --help'", argv[1]);
	return EXIT_USAGE;
}
