/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Per-VM cost of tap + NAT setup and teardown through banger's drivers
 * (netlink + libnftables, in-process) against a baseline that runs one
 * process per step (ip tuntap add, ip link set master, ip link set up,
 * nft add rule x2).  Run by bench/net-cost.sh inside a private network
 * namespace; refuses to run anywhere else.
 *
 * Usage: net-cost N    (prints ms/VM for each, median of 3 runs, and the ratio)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "private-netns.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/name.h"
#include "util/strv.h"

extern char **environ;

#define BRIDGE "brbench0"
#define UPLINK "lo"
#define RUNS 3

struct vm {
	char id[VM_ID_LEN + 1];
	char tap[16];
	char ip[16];
	uint32_t addr;
};

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/*
 * posix_spawnp with an argv; its stdout into *ret_out when not NULL (caller
 * frees), discarded otherwise.  0 when it exited 0.
 */
static int
spawn_out(char **ret_out, const char *const cargv[])
{
	char *argv[16], *buf = xstrdup("");
	posix_spawn_file_actions_t fa;
	int status, r, pipefd[2];
	size_t n = 0, len = 0;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	for (; cargv[n] && n < ELEMENTSOF(argv) - 1; n++)
		argv[n] = xstrdup(cargv[n]);
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	if (ret_out)
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	else
		posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	r = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	for (size_t i = 0; i < n; i++)
		free(argv[i]);
	close(pipefd[1]);
	while (r == 0) {
		char chunk[4096];
		ssize_t k = read(pipefd[0], chunk, sizeof(chunk));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		buf = xrealloc(buf, len + (size_t)k + 1);
		memcpy(buf + len, chunk, (size_t)k);
		len += (size_t)k;
		buf[len] = 0;
	}
	close(pipefd[0]);
	if (r != 0) {
		free(buf);
		return -r;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(buf);
			return -errno;
		}
	if (ret_out)
		*ret_out = buf;
	else
		free(buf);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

#define SPAWN(...) spawn_out(NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define SPAWN_OUT(out, ...) spawn_out(out, (const char *const[]){ __VA_ARGS__, NULL })

static int
fail(struct error *err, const char *what)
{
	_cleanup_free_ char *s = err ? error_format(err) : xstrdup("error");

	fprintf(stderr, "net-cost: %s: %s\n", what, s);
	error_free(err);
	return -1;
}

static int
drivers_setup(struct net_ops *net, struct nat_ops *nat, struct vm *vms, size_t n)
{
	struct error *err = NULL;

	for (size_t i = 0; i < n; i++) {
		if (net->tap_ensure(net->userdata, vms[i].tap, BRIDGE, "bench", vms[i].id, &err) < 0)
			return fail(err, "tap_ensure");
		if (nat->vm_add(nat->userdata, vms[i].id, vms[i].tap, vms[i].addr, UPLINK, &err) < 0)
			return fail(err, "vm_add");
	}
	return 0;
}

static int
drivers_teardown(struct net_ops *net, struct nat_ops *nat, struct vm *vms, size_t n)
{
	struct error *err = NULL;

	for (size_t i = 0; i < n; i++) {
		if (nat->vm_delete(nat->userdata, vms[i].id, &err) < 0)
			return fail(err, "vm_delete");
		if (net->tap_delete(net->userdata, vms[i].tap, vms[i].id, &err) < 0)
			return fail(err, "tap_delete");
	}
	if (nat->flush && nat->flush(nat->userdata, &err) < 0)
		return fail(err, "nat flush");
	if (net->tap_flush(net->userdata, &err) < 0)
		return fail(err, "tap_flush");
	return 0;
}

static int
baseline_setup(struct vm *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *comment = xasprintf("\"banger id=%s\"", vms[i].id);
		const char *t = vms[i].tap;

		if (SPAWN("ip", "tuntap", "add", "dev", t, "mode", "tap") < 0 ||
		    SPAWN("ip", "link", "set", "dev", t, "master", BRIDGE) < 0 ||
		    SPAWN("ip", "link", "set", "dev", t, "up") < 0 ||
		    SPAWN("nft", "add", "rule", "inet", "banger", "postrouting", "ip", "saddr",
			  vms[i].ip, "oifname", UPLINK, "masquerade", "comment", comment) < 0 ||
		    SPAWN("nft", "add", "rule", "inet", "banger", "forward", "iifname", t,
			  "oifname", UPLINK, "accept", "comment", comment) < 0) {
			fprintf(stderr, "net-cost: baseline setup of '%s' failed\n", t);
			return -1;
		}
	}
	return 0;
}

/*
 * The handles of the rules whose comment names id in `nft -a list table`
 * output, as a script would grep them: "chain NAME {" opens a chain, a rule
 * line ends in `comment "banger id=ID" # handle N`.  Appends "CHAIN N" pairs.
 */
static char **
text_handles(const char *out, const char *id)
{
	_cleanup_free_ char *tail = xasprintf("comment \"banger id=%s\" # handle ", id);
	_cleanup_free_ char *chain = NULL;
	char **ret = NULL;
	const char *p = out;

	while (*p) {
		size_t len = strcspn(p, "\n");
		_cleanup_free_ char *line = xstrndup(p, len);
		const char *t = line + strspn(line, "\t ");
		char *h;

		if (strncmp(t, "chain ", 6) == 0) {
			free(chain);
			chain = xstrndup(t + 6, strcspn(t + 6, " {"));
		} else if (chain && (h = strstr(t, tail))) {
			ret = strv_append(ret, chain);
			ret = strv_append(ret, h + strlen(tail));
		}
		p += len + (p[len] == '\n');
	}
	return ret;
}

/*
 * What a script does without banger's drivers: per VM `ip link del`, one
 * `nft -a list table` to find the VM's rule handles and one `nft delete
 * rule` per rule.
 */
static int
baseline_teardown(struct vm *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *out = NULL;
		_cleanup_strv_free_ char **h = NULL;
		int r = 0;

		if (SPAWN("ip", "link", "del", "dev", vms[i].tap) < 0 ||
		    SPAWN_OUT(&out, "nft", "-a", "list", "table", "inet", "banger") < 0) {
			fprintf(stderr, "net-cost: baseline teardown of '%s' failed\n",
				vms[i].tap);
			return -1;
		}
		h = text_handles(out, vms[i].id);
		if (strv_length(h) != 4) {
			fprintf(stderr, "net-cost: baseline found %zu rules of '%s', not 2\n",
				strv_length(h) / 2, vms[i].tap);
			return -1;
		}
		for (size_t j = 0; h[j] && r == 0; j += 2)
			r = SPAWN("nft", "delete", "rule", "inet", "banger", h[j], "handle",
				  h[j + 1]);
		if (r < 0) {
			fprintf(stderr, "net-cost: baseline rule delete of '%s' failed\n",
				vms[i].tap);
			return -1;
		}
	}
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double
median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

int
main(int argc, char **argv)
{
	double d_set[RUNS], d_del[RUNS], b_set[RUNS], b_del[RUNS];
	struct net_ops *net = NULL;
	struct nat_ops *nat = NULL;
	struct error *err = NULL;
	struct vm *vms;
	long n;
	int ret = EXIT_FAILURE;

	n = argc > 1 ? strtol(argv[1], NULL, 10) : 50;
	if (n < 1 || n > 4096) {
		fprintf(stderr, "usage: net-cost N (1..4096)\n");
		return 2;
	}
	if (geteuid() != 0 || !bench_in_private_netns()) {
		fprintf(stderr, "net-cost: run through bench/net-cost.sh (root, private netns)\n");
		return 77;
	}
	vms = xcalloc((size_t)n, sizeof(*vms));
	for (long i = 0; i < n; i++) {
		snprintf(vms[i].id, sizeof(vms[i].id), "%08lx%024x", (unsigned long)i + 0xb0000000UL,
			 0);
		name_tap_from_id(vms[i].id, vms[i].tap);
		vms[i].addr = (10u << 24) | (99u << 16) | (uint32_t)(i + 2);
		ipv4_format(vms[i].addr, vms[i].ip);
	}
	if (net_netlink_new(&net, &err) < 0 || nat_nft_new(&nat, &err) < 0) {
		fail(err, "drivers");
		goto out;
	}
	if (net->bridge_ensure(net->userdata, BRIDGE, (10u << 24) | (99u << 16) | 1u, 16, &err) <
	    0) {
		fail(err, "bridge_ensure");
		goto out;
	}
	for (int r = 0; r < RUNS; r++) {
		double t0, t1, t2;

		if (nat->table_ensure(nat->userdata, &err) < 0) {
			fail(err, "table_ensure");
			goto out;
		}
		t0 = now_ms();
		if (drivers_setup(net, nat, vms, (size_t)n) < 0)
			goto out;
		t1 = now_ms();
		if (drivers_teardown(net, nat, vms, (size_t)n) < 0)
			goto out;
		t2 = now_ms();
		d_set[r] = (t1 - t0) / (double)n;
		d_del[r] = (t2 - t1) / (double)n;

		t0 = now_ms();
		if (baseline_setup(vms, (size_t)n) < 0)
			goto out;
		t1 = now_ms();
		if (baseline_teardown(vms, (size_t)n) < 0)
			goto out;
		t2 = now_ms();
		b_set[r] = (t1 - t0) / (double)n;
		b_del[r] = (t2 - t1) / (double)n;
	}
	{
		double ds = median(d_set, RUNS), dd = median(d_del, RUNS);
		double bs = median(b_set, RUNS), bd = median(b_del, RUNS);

		printf("net-cost: N=%ld VMs, median of %d runs (tap + masquerade + forward rule)\n",
		       n, RUNS);
		printf("drivers:  setup %8.3f ms/VM  teardown %8.3f ms/VM  total %8.3f ms/VM\n", ds,
		       dd, ds + dd);
		printf("baseline: setup %8.3f ms/VM  teardown %8.3f ms/VM  total %8.3f ms/VM "
		       "(5 + 4 processes per VM)\n",
		       bs, bd, bs + bd);
		printf("ratio baseline/drivers: setup %.1fx  teardown %.1fx  total %.1fx\n", bs / ds,
		       bd / dd, (bs + bd) / (ds + dd));
	}
	ret = EXIT_SUCCESS;
out:
	(void)net_netlink_free(net);
	(void)nat_nft_free(nat);
	free(vms);
	return ret;
}
