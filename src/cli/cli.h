/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The command line: one file per subcommand, dispatched from main.c.  Only
 * cli/ prints errors; it prints each once, then frees it.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "util/error.h"

/* Exit codes (banger(8)). */
enum {
	EXIT_CONVERGED = 0,
	EXIT_FAILED = 1,
	EXIT_PARTIAL = 2,
	EXIT_LOCKED = 3,
	EXIT_USAGE = 64,
};

#define DEFAULT_STATE_DIR "/etc/banger"
#define DEFAULT_STATUS_DIR "/var/lib/banger"

/* Options every subcommand that reads the state accepts. */
struct cli_common {
	const char *state_dir;	/* --state, $BANGER_STATE, DEFAULT_STATE_DIR */
	const char *status_dir;	/* --status-dir, $BANGER_STATUS_DIR, host.yaml, default */
	bool json;		/* --json */
	bool worktree;		/* --worktree: a repository's work tree, uncommitted edits too */
	bool allow_rewind;	/* --allow-rewind: accept a tip that does not fast-forward */
};

/* Long option values shared by subcommands (above any short option). */
enum {
	CLI_OPT_STATE = 0x100,
	CLI_OPT_STATUS_DIR,
	CLI_OPT_JSON,
	CLI_OPT_HELP,
	CLI_OPT_WORKTREE,
	CLI_OPT_ALLOW_REWIND,
	CLI_OPT_FIRST_PRIVATE = 0x200,
};

#define CLI_COMMON_LONGOPTS                                                                  \
	{ "state", required_argument, NULL, CLI_OPT_STATE },                                  \
	{ "status-dir", required_argument, NULL, CLI_OPT_STATUS_DIR },                        \
	{ "json", no_argument, NULL, CLI_OPT_JSON },                                          \
	{ "help", no_argument, NULL, CLI_OPT_HELP }

/* Options of the commands that read declarations from a git repository too. */
#define CLI_SOURCE_LONGOPTS                                                                  \
	{ "worktree", no_argument, NULL, CLI_OPT_WORKTREE },                                  \
	{ "allow-rewind", no_argument, NULL, CLI_OPT_ALLOW_REWIND }

/* Fill defaults from the environment. */
void cli_common_init(struct cli_common *c);
/* Handle a common option; returns true when c was one of them. */
bool cli_common_option(struct cli_common *c, int opt, const char *arg);

/* Print "banger: " + the error, once. */
void cli_report(const struct error *e);
/* Print a message to stderr with the "banger: " prefix. */
void cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Help text shared by the subcommands for the common options. */
/* The shared options' help; --json only for commands that print data. */
void cli_common_help(FILE *f, bool json);
/* p made absolute (against the working directory) and normalised.  Caller frees. */
char *cli_abs_path(const char *p);

/* Help text for CLI_SOURCE_LONGOPTS. */
void cli_source_help(FILE *f);

struct source;
/*
 * The declaration files of common->state_dir as they stand, without a
 * cache: a repository's branch tip read in place (its work tree with
 * --worktree), else the directory.
 */
int cli_source_read(const struct cli_common *common, struct source **ret, struct error **err);
/*
 * The status directory, absolute: --status-dir (or $BANGER_STATUS_DIR), else
 * host.yaml's status_dir in src, else the default.  A host.yaml that is
 * invalid and names a status_dir is an error (its value cannot be trusted,
 * and the default would be the wrong place); *ret_domain (when not NULL)
 * gets host.yaml's domain, "vm" when it gives none or is invalid.
 */
int cli_status_dir(const struct cli_common *common, const struct source *src, char **ret,
		   char **ret_domain, struct error **err);
/* cli_status_dir of the declarations cli_source_read gives, for the commands
 * that need no more of them (a missing state directory: the defaults). */
int cli_resolve_dirs(const struct cli_common *common, char **ret_status_dir, char **ret_domain,
		     struct error **err);

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
	bool hidden;
};

/* Subcommands (one file each).  argv[0] is the subcommand name. */
int cli_validate(int argc, char **argv);
int cli_plan(int argc, char **argv);
int cli_reconcile(int argc, char **argv);
/* reconcile, its --json output with the members of extra (may be NULL) added
 * at the top; argv as for cli_reconcile. */
int cli_reconcile_extra(int argc, char **argv, json_t *extra);
int cli_status(int argc, char **argv);
int cli_image(int argc, char **argv);
int cli_doctor(int argc, char **argv);
int cli_logs(int argc, char **argv);
int cli_ssh(int argc, char **argv);
int cli_ssh_config(int argc, char **argv);
int cli_start(int argc, char **argv);
