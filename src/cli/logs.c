/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger logs NAME [-f]: a VM's console log (STATUS_DIR/vms/NAME/console.log),
 * whole or its last lines, optionally followed as it grows.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/core.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

enum {
	OPT_FOLLOW = CLI_OPT_FIRST_PRIVATE,
	OPT_LINES,
};

static void
help(FILE *f)
{
	fputs("Usage: banger logs [-f] [-n LINES] NAME\n"
	      "\n"
	      "Print the console log of VM NAME: what its kernel and init printed,\n"
	      "across starts (each start begins with a line from banger).\n"
	      "\n"
	      "Options:\n"
	      "  -f, --follow           keep printing what is appended, until interrupted\n"
	      "  -n, --lines LINES      only the last LINES lines\n",
	      f);
	cli_common_help(f, false);
	fputs("\nExit status: 0 printed, 1 no such log or unreadable, 64 usage.\n", f);
}

/* Offset of the start of the last n lines of fd's first size bytes. */
static off_t
tail_offset(int fd, off_t size, unsigned long n)
{
	char buf[4096];
	off_t pos = size;
	unsigned long seen = 0;

	if (n == 0)
		return size;
	while (pos > 0) {
		size_t chunk = pos > (off_t)sizeof(buf) ? sizeof(buf) : (size_t)pos;
		ssize_t r = pread(fd, buf, chunk, pos - (off_t)chunk);

		if (r <= 0)
			return 0;
		for (ssize_t i = r - 1; i >= 0; i--) {
			/* A final newline ends the last line; it does not start one. */
			if (buf[i] == '\n' && pos - (off_t)chunk + i != size - 1 && ++seen == n)
				return pos - (off_t)chunk + i + 1;
		}
		pos -= (off_t)chunk;
	}
	return 0;
}

/*
 * A guest's output for a terminal: control characters (but newline and tab)
 * as '?', carriage returns dropped, and C1 controls in UTF-8 (C2 80 to C2 9F)
 * as "??", so that what a guest printed cannot move the cursor, retitle the
 * window or answer back through the terminal.  Other bytes pass, UTF-8 text
 * included.  *c2: the buffer before ended with C2.
 */
static size_t
for_terminal(char *buf, size_t n, bool *c2)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (*c2) {
			*c2 = false;
			if (c >= 0x80 && c <= 0x9f) {
				buf[o++] = '?';
				buf[o++] = '?';
				continue;
			}
			buf[o++] = (char)0xc2;
		}
		if (c == 0xc2) {
			*c2 = true;
			continue;
		}
		if (c == '\r')
			continue;
		buf[o++] = (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f ? '?' : (char)c;
	}
	return o;
}

static int
copy_from(int fd, off_t *pos, bool tty)
{
	char buf[65536 + 1];
	bool c2 = false;

	for (;;) {
		ssize_t r = pread(fd, buf, sizeof(buf) - 1, *pos);	/* a C2 held back may precede */

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0) {
			if (c2 && fputc(0xc2, stdout) == EOF)
				return -EIO;
			return 0;
		}
		*pos += r;
		{
			size_t n = tty ? for_terminal(buf, (size_t)r, &c2) : (size_t)r;

			if (fwrite(buf, 1, n, stdout) != n)
				return -EIO;
		}
	}
}

static int
resolve_status_dir(const struct cli_common *common, char **ret, struct error **err)
{
	_cleanup_(source_freep) struct source *src = NULL;
	_cleanup_(spec_freep) struct spec *s = NULL;
	int r;

	if (common->status_dir) {
		*ret = cli_abs_path(common->status_dir);
		return 0;
	}
	/* host.yaml may move the status directory; a missing state is fine. */
	r = cli_source_read(common, &src, err);
	if (r == -ENOENT) {
		*ret = xstrdup(DEFAULT_STATUS_DIR);
		return 0;
	}
	if (r < 0)
		return r;
	r = spec_load(src, &s, err);
	if (r < 0)
		return r;
	*ret = cli_abs_path(s->host.status_dir ? s->host.status_dir : DEFAULT_STATUS_DIR);
	return 0;
}

int
cli_logs(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{ "follow", no_argument, NULL, 'f' },
		{ "lines", required_argument, NULL, 'n' },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_free_ char *status_dir = NULL, *path = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct cli_common common;
	bool follow = false, have_lines = false, tty = isatty(STDOUT_FILENO);
	unsigned long lines = 0;
	struct stat st;
	off_t pos;
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "fn:h", longopts, NULL)) != -1) {
		if (c != CLI_OPT_JSON && cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'h':
		case CLI_OPT_HELP:
			help(stdout);
			return EXIT_CONVERGED;
		case 'f':
			follow = true;
			break;
		case 'n': {
			char *end;

			errno = 0;
			lines = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-') {
				cli_errorf("logs: --lines: '%s' is not a number of lines", optarg);
				return EXIT_USAGE;
			}
			have_lines = true;
			break;
		}
		default:
			cli_errorf("logs: unknown or incomplete option '%s'; see 'banger logs --help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		cli_errorf("logs: expected one VM name; see 'banger logs --help'");
		return EXIT_USAGE;
	}
	if (!name_is_dns_label(argv[optind])) {
		cli_errorf("logs: '%s' is not a VM name (a DNS label: a-z, 0-9, '-')", argv[optind]);
		return EXIT_USAGE;
	}
	r = resolve_status_dir(&common, &status_dir, &err);
	if (r < 0) {
		cli_report(err);
		return EXIT_FAILED;
	}
	path = status_console_log(status_dir, argv[optind]);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		_cleanup_free_ char *record = status_path(status_dir, argv[optind]);

		if (errno == ENOENT && access(record, F_OK) < 0)
			cli_errorf("logs: no vm '%s' here (no record in '%s')", argv[optind],
				   status_dir);
		else if (errno == ENOENT)
			cli_errorf("logs: vm '%s' has no console log ('%s'): it never started here",
				   argv[optind], path);
		else
			cli_errorf("logs: '%s': %s", path, strerror(errno));
		return EXIT_FAILED;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		cli_errorf("logs: '%s': not a regular file", path);
		return EXIT_FAILED;
	}
	pos = have_lines ? tail_offset(fd, st.st_size, lines) : 0;
	for (;;) {
		r = copy_from(fd, &pos, tty);
		if (r < 0) {
			cli_errorf("logs: '%s': %s", path, strerror(-r));
			return EXIT_FAILED;
		}
		if (!follow)
			break;
		(void)fflush(stdout);
		/* Truncated (a purge and a new VM of that name): start over. */
		if (fstat(fd, &st) == 0 && st.st_size < pos)
			pos = 0;
		(void)usleep(200 * 1000);
	}
	return fflush(stdout) == 0 ? EXIT_CONVERGED : EXIT_FAILED;
}
