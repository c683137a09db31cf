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
 * A guest's output for a terminal, byte by byte through a UTF-8 decoder
 * whose state lasts across reads (and follow polls): control characters
 * (but newline and tab) as '?', carriage returns dropped, a C1 control as
 * UTF-8 (C2 80 to C2 9F) as '?', and any byte that is not part of a whole,
 * valid UTF-8 character (a lone 0x9B is a CSI to some terminals) as '?'.
 * So what a guest printed cannot move the cursor, retitle the window or
 * answer back through the terminal; UTF-8 text passes.
 *
 * Valid is RFC 3629's: no overlong form (E0 82 9B would be a CSI to a
 * lenient decoder), no UTF-16 surrogate, nothing above U+10FFFF.  Each
 * maximal start of a character that cannot be completed is one '?', and the
 * byte that broke it is read afresh, as Unicode's U+FFFD practice has it.
 */
struct term_filter {
	unsigned char seq[4];	/* the character under way */
	size_t have, need;	/* its bytes so far, and all it takes */
};

/* Whether c may follow the bytes of t's character so far. */
static bool
term_continues(const struct term_filter *t, unsigned char c)
{
	unsigned char lo = 0x80, hi = 0xbf;

	/* The lead byte's own limits bound only the second byte. */
	if (t->have == 1) {
		switch (t->seq[0]) {
		case 0xe0:	/* below: overlong, fits in two bytes */
			lo = 0xa0;
			break;
		case 0xed:	/* above: U+D800 to U+DFFF, surrogates */
			hi = 0x9f;
			break;
		case 0xf0:	/* below: overlong, fits in three bytes */
			lo = 0x90;
			break;
		case 0xf4:	/* above: past U+10FFFF */
			hi = 0x8f;
			break;
		}
	}
	return c >= lo && c <= hi;
}

static size_t
term_byte(struct term_filter *t, unsigned char c, char *out)
{
	size_t o = 0;

	if (t->have) {
		if (term_continues(t, c)) {
			t->seq[t->have++] = c;
			if (t->have < t->need)
				return 0;
			if (t->seq[0] == 0xc2 && t->seq[1] <= 0x9f) {
				out[o++] = '?';	/* a C1 control, one character */
			} else {
				memcpy(out, t->seq, t->have);
				o = t->have;
			}
			t->have = t->need = 0;
			return o;
		}
		/* Cut short, or never valid: what came of it is no character. */
		out[o++] = '?';
		t->have = t->need = 0;
	}
	/* C0 and C1 lead only overlong forms, F5 to FF only past U+10FFFF. */
	if (c >= 0xc2 && c <= 0xf4) {
		t->seq[0] = c;
		t->have = 1;
		t->need = c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
	} else if (c == '\r') {
		;
	} else if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
		out[o++] = '?';
	} else {
		out[o++] = (char)c;
	}
	return o;
}

/*
 * The file ends (or is replaced) in the middle of a character: forget it.
 * Returns whether one was under way, whose '?' is due.
 */
static bool
term_cut(struct term_filter *t)
{
	bool cut = t->have > 0;

	t->have = t->need = 0;
	return cut;
}

/* Copy what fd holds from *pos on to stdout, through t for a terminal. */
static int
copy_from(int fd, off_t *pos, struct term_filter *t)
{
	char buf[65536], out[2 * sizeof(buf)];

	for (;;) {
		ssize_t r = pread(fd, buf, sizeof(buf), *pos);
		size_t n = (size_t)r;
		const char *w = buf;

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return 0;
		*pos += r;
		if (t) {
			n = 0;
			for (ssize_t i = 0; i < r; i++)
				n += term_byte(t, (unsigned char)buf[i], out + n);
			w = out;
		}
		if (fwrite(w, 1, n, stdout) != n)
			return -EIO;
	}
}

/*
 * While following: the file path names now, if that is no longer fd's.  A
 * purge and a new VM of that name, or a log renamed into place, leave a new
 * file at the same path, perhaps as long as the old one.  fd is held open
 * all along, so its inode cannot be freed and its number reused: device and
 * inode tell the two apart.  Returns 1 with the new file in *ret_fd; 0 while
 * path still names fd's file, or names nothing (a purge under way: the new
 * log is waited for); a negative errno, set in err, when what path names
 * cannot be read as a log.
 */
static int
log_replaced(int fd, const char *path, int *ret_fd, struct error **err)
{
	_cleanup_close_ int nfd = -EBADF;
	struct stat held, now;

	if (fstat(fd, &held) < 0)
		return error_set(err, -errno, "logs: '%s': %s", path, strerror(errno));
	if (lstat(path, &now) < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return error_set(err, -errno, "logs: '%s': %s", path, strerror(errno));
	}
	if (now.st_dev == held.st_dev && now.st_ino == held.st_ino)
		return 0;
	/* Checked before opening too: a FIFO would block the open. */
	if (!S_ISREG(now.st_mode))
		return error_set(err, -EINVAL, "logs: '%s': not a regular file", path);
	nfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
	if (nfd < 0) {
		/* Gone again since the lstat: wait on. */
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return error_set(err, -errno, "logs: '%s': %s", path, strerror(errno));
	}
	if (fstat(nfd, &now) < 0)
		return error_set(err, -errno, "logs: '%s': %s", path, strerror(errno));
	if (!S_ISREG(now.st_mode))
		return error_set(err, -EINVAL, "logs: '%s': not a regular file", path);
	*ret_fd = TAKE_FD(nfd);
	return 1;
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
	_cleanup_close_ int fd = -EBADF, nfd = -EBADF;
	struct cli_common common;
	bool follow = false, have_lines = false, tty = isatty(STDOUT_FILENO);
	struct term_filter term = { .have = 0 };
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
	r = cli_resolve_dirs(&common, &status_dir, NULL, &err);
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
		r = copy_from(fd, &pos, tty ? &term : NULL);
		if (r < 0) {
			cli_errorf("logs: '%s': %s", path, strerror(-r));
			return EXIT_FAILED;
		}
		if (!follow) {
			/* A character the log ends in the middle of. */
			if (term_cut(&term) && fputc('?', stdout) == EOF)
				return EXIT_FAILED;
			break;
		}
		(void)fflush(stdout);
		(void)usleep(200 * 1000);
		r = log_replaced(fd, path, &nfd, &err);
		if (r < 0) {
			cli_report(err);
			return EXIT_FAILED;
		}
		if (r > 0) {
			/* What the old file got since the last copy, then the new one. */
			r = copy_from(fd, &pos, tty ? &term : NULL);
			if (r < 0) {
				cli_errorf("logs: '%s': %s", path, strerror(-r));
				return EXIT_FAILED;
			}
			if (term_cut(&term) && fputc('?', stdout) == EOF)
				return EXIT_FAILED;
			(void)close(fd);
			fd = TAKE_FD(nfd);
			pos = 0;
		} else if (fstat(fd, &st) == 0 && st.st_size < pos) {
			/* Truncated in place: start over. */
			if (term_cut(&term) && fputc('?', stdout) == EOF)
				return EXIT_FAILED;
			pos = 0;
		}
	}
	return fflush(stdout) == 0 ? EXIT_CONVERGED : EXIT_FAILED;
}
