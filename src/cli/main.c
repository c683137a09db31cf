/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger: keep this host's microVMs in the state YAML files declare.
 * Dispatches to one subcommand per file in cli/.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

static const struct cli_command commands[] = {
	{ "validate", "check the declarations and list what they declare", cli_validate, false },
	{ "plan", "show what reconcile would change", cli_plan, false },
	{ "reconcile", "make the host match the declarations", cli_reconcile, false },
	{ "status", "show each VM's declared and observed state", cli_status, false },
	{ "logs", "print a VM's console log, or follow it", cli_logs, false },
	{ "image", "import an image's files and pin them", cli_image, false },
	{ "doctor", "check what this host offers banger and what to fix", cli_doctor, false },
	{ "ssh", "run ssh to a vm as root with banger's key", cli_ssh, false },
	{ "ssh-config", "print or install ssh Host entries for the vms", cli_ssh_config, false },
	{ "start", "start a vm stopped for idleness, then reconcile it", cli_start, false },
	{ NULL, NULL, NULL, false },
};

static void
usage(FILE *f)
{
	fputs("Usage: banger [--help] [--version] [--state DIR] [--status-dir DIR] COMMAND [OPTIONS]\n"
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

/*
 * How many arguments from argv[1] on are --state DIR and --status-dir DIR
 * (or --state=DIR, --status-dir=DIR) given before the command: those every
 * command takes.  -1 when one lacks its value.
 */
static int
leading_common_options(int argc, char **argv)
{
	int i = 1;

	while (i < argc) {
		const char *a = argv[i];

		if (strncmp(a, "--state=", 8) == 0 || strncmp(a, "--status-dir=", 13) == 0)
			i++;
		else if (strcmp(a, "--state") == 0 || strcmp(a, "--status-dir") == 0) {
			if (i + 1 >= argc)
				return -1;
			i += 2;
		} else
			break;
	}
	return i - 1;
}

int
main(int argc, char **argv)
{
	_cleanup_free_ char **moved = NULL;
	int lead;

	/*
	 * banger --state DIR plan: the options move after the command, where
	 * the command reads them (to the end for image, whose subcommand
	 * comes first).
	 */
	lead = leading_common_options(argc, argv);
	if (lead < 0) {
		cli_errorf("option '%s' needs a value; see 'banger --help'", argv[argc - 1]);
		return EXIT_USAGE;
	}
	if (lead > 0 && 1 + lead < argc) {
		int cmd = 1 + lead, words = 1, k = 0;

		if (strcmp(argv[cmd], "image") == 0)
			words = argc - cmd;
		moved = xcalloc((size_t)argc + 1, sizeof(*moved));
		moved[k++] = argv[0];
		for (int i = 0; i < words; i++)
			moved[k++] = argv[cmd + i];
		for (int i = 1; i <= lead; i++)
			moved[k++] = argv[i];
		for (int i = cmd + words; i < argc; i++)
			moved[k++] = argv[i];
		argv = moved;
	} else if (lead > 0) {
		cli_errorf("no command after the options; see 'banger --help'");
		return EXIT_USAGE;
	}
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
	for (size_t i = 0; commands[i].name; i++)
		if (!commands[i].hidden && edit_distance(argv[1], commands[i].name) <= 2) {
			cli_errorf("unknown command '%s', did you mean '%s'? see 'banger --help'",
				   argv[1], commands[i].name);
			return EXIT_USAGE;
		}
	cli_errorf("unknown command '%s'; see 'banger --help'", argv[1]);
	return EXIT_USAGE;
}
