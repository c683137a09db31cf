/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Options and reporting shared by the subcommands.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/path.h"

void
cli_common_init(struct cli_common *c)
{
	const char *s;

	s = getenv("BANGER_STATE");
	c->state_dir = s && *s ? s : DEFAULT_STATE_DIR;
	s = getenv("BANGER_STATUS_DIR");
	c->status_dir = s && *s ? s : NULL;
	c->json = false;
	c->worktree = false;
	c->allow_rewind = false;
}

bool
cli_common_option(struct cli_common *c, int opt, const char *arg)
{
	switch (opt) {
	case CLI_OPT_STATE:
		c->state_dir = arg;
		return true;
	case CLI_OPT_STATUS_DIR:
		c->status_dir = arg;
		return true;
	case CLI_OPT_JSON:
		c->json = true;
		return true;
	case CLI_OPT_WORKTREE:
		c->worktree = true;
		return true;
	case CLI_OPT_ALLOW_REWIND:
		c->allow_rewind = true;
		return true;
	default:
		return false;
	}
}

char *
cli_abs_path(const char *p)
{
	_cleanup_free_ char *cwd = NULL, *joined = NULL;

	if (p[0] == '/')
		return path_normalize(p);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrdup(p);
	joined = xasprintf("%s/%s", cwd, p);
	return path_normalize(joined);
}

void
cli_common_help(FILE *f, bool json)
{
	fputs("      --state DIR        declarations (default $BANGER_STATE or " DEFAULT_STATE_DIR ")\n"
	      "      --status-dir DIR   banger's own records (default $BANGER_STATUS_DIR,\n"
	      "                         host.yaml's status_dir, or " DEFAULT_STATUS_DIR ")\n",
	      f);
	if (json)
		fputs("      --json             print data as JSON\n", f);
	fputs("  -h, --help             show this help\n", f);
}

void
cli_source_help(FILE *f)
{
	fputs("      --worktree         when the state is a git work tree, read its files\n"
	      "                         (uncommitted edits included) instead of its branch tip\n"
	      "      --allow-rewind     accept a branch tip that does not descend from the\n"
	      "                         commit last applied (a force push)\n",
	      f);
}

void
cli_report(const struct error *e)
{
	_cleanup_free_ char *s = error_format(e);

	fprintf(stderr, "banger: %s\n", s);
}

void
cli_errorf(const char *fmt, ...)
{
	va_list ap;

	fputs("banger: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
