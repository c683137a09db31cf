/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-VM statistics from the host: CPU time and RSS of the hypervisor
 * process (/proc/PID/stat, /proc/PID/status), allocated bytes of the disk
 * files (st_blocks) and established TCP connections to a guest
 * (/proc/net/tcp).  Read only; the parsers are pure for the tests.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "drivers/guest.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define PROC_FILE_MAX (4 * 1024 * 1024)

int
stats_parse_stat(const char *text, uint64_t *ret_cpu_ticks, uint64_t *ret_start_ticks)
{
	/* The command (field 2) may hold spaces and parentheses: fields
	 * restart after the last ')'. */
	const char *p = strrchr(text, ')');
	unsigned long long v[20];
	unsigned field = 3;

	if (!p)
		return -EBADMSG;
	p++;
	while (field <= 22) {
		char *end;

		while (*p == ' ')
			p++;
		if (field == 3) {
			if (!*p || *p == ' ')
				return -EBADMSG;
			p++;
			field++;
			continue;
		}
		if (!(*p >= '0' && *p <= '9') && *p != '-')
			return -EBADMSG;
		errno = 0;
		v[field - 4 < 20 ? field - 4 : 0] = strtoull(p, &end, 10);
		if (errno || end == p)
			return -EBADMSG;
		p = end;
		field++;
	}
	/* v[i] holds field i + 4: utime 14, stime 15, starttime 22. */
	*ret_cpu_ticks = (uint64_t)v[10] + (uint64_t)v[11];
	*ret_start_ticks = (uint64_t)v[18];
	return 0;
}

unsigned
stats_count_established(const char *text, uint32_t ip, uint16_t port)
{
	unsigned n = 0;

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		unsigned lip, lport, rip, rport, st;

		if (sscanf(line, " %*u: %8X:%4X %8X:%4X %2X", &lip, &lport, &rip, &rport, &st) == 5) {
			/* The kernel prints the address's bytes in memory order as
			 * one native integer: on little-endian hosts, reversed. */
			uint32_t raw = (uint32_t)rip, host_order;
			uint8_t b[4];

			memcpy(b, &raw, 4);
			host_order = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 |
				     b[3];
			if (host_order == ip && rport == port && st == 0x01)
				n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return n;
}

static int
real_proc_sample(void *userdata, pid_t pid, struct proc_sample *ret, struct error **err)
{
	_cleanup_free_ char *path = xasprintf("/proc/%d/stat", (int)pid);
	_cleanup_free_ char *spath = xasprintf("/proc/%d/status", (int)pid);
	_cleanup_free_ char *text = NULL, *status = NULL;
	struct proc_sample s = { 0 };
	size_t len;
	int r;

	(void)userdata;
	if (pid <= 0)
		return error_set(err, -ESRCH, "no process");
	r = read_file(path, PROC_FILE_MAX, &text, &len);
	if (r == -ENOENT)
		return error_set(err, -ESRCH, "process %d is gone", (int)pid);
	if (r < 0)
		return error_set(err, r, "read '%s'", path);
	r = stats_parse_stat(text, &s.cpu_ticks, &s.start_ticks);
	if (r < 0)
		return error_set(err, r, "'%s': unexpected format", path);
	r = read_file(spath, PROC_FILE_MAX, &status, &len);
	if (r == -ENOENT)
		return error_set(err, -ESRCH, "process %d is gone", (int)pid);
	if (r < 0)
		return error_set(err, r, "read '%s'", spath);
	for (const char *l = status; l && *l;) {
		unsigned long long kb;

		if (sscanf(l, "VmRSS: %llu kB", &kb) == 1) {
			s.rss_bytes = (uint64_t)kb * 1024;
			break;
		}
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	*ret = s;
	return 0;
}

static int
real_file_usage(void *userdata, const char *path, uint64_t *ret, struct error **err)
{
	struct stat st;

	(void)userdata;
	if (stat(path, &st) < 0)
		return error_set(err, -errno, "stat '%s'", path);
	*ret = (uint64_t)st.st_blocks * 512;
	return 0;
}

static int
real_tcp_established(void *userdata, uint32_t ip, uint16_t port, unsigned *ret,
		     struct error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	(void)userdata;
	r = read_file("/proc/net/tcp", PROC_FILE_MAX, &text, &len);
	if (r < 0)
		return error_set(err, r, "read /proc/net/tcp");
	*ret = stats_count_established(text, ip, port);
	return 0;
}

static long
real_ticks(void *userdata)
{
	long t = sysconf(_SC_CLK_TCK);

	(void)userdata;
	return t > 0 ? t : 100;
}

const struct stats_ops stats_ops_real = {
	.proc_sample = real_proc_sample,
	.file_usage = real_file_usage,
	.tcp_established = real_tcp_established,
	.ticks_per_second = real_ticks,
	.userdata = NULL,
};
