/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Integration tests of the real net (netlink) and nat (libnftables writes,
 * nf_tables netlink reads) drivers.
 * Run only by net-drivers.sh, inside a private network namespace that has an
 * uplink (veth into a second namespace) and a default route.  The drivers
 * act; `ip -d -j` and `nft -j` (spawned with an argv) check the result.
 * Refuses to run in the namespace of pid 1.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/name.h"
#include "util/strv.h"

extern char **environ;

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define TAP1 "bgr-01234567"
#define TAP2 "bgr-fedcba98"
#define BRIDGE "brtest0"
#define UPLINK "veth-up"

#include "../data/net/ruleset-want.h"

/* Run argv; its stdout into *ret_out when not NULL.  Returns the exit status. */
static int
run(char **ret_out, const char *const cargv[])
{
	_cleanup_strv_free_ char **argv = NULL;
	posix_spawn_file_actions_t fa;
	int pipefd[2], status = 0;
	char *buf = xstrdup("");
	size_t len = 0;
	pid_t pid;

	for (size_t i = 0; cargv[i]; i++)
		argv = strv_append(argv, cargv[i]);
	ck_assert_int_eq(pipe2(pipefd, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[1], STDOUT_FILENO);
	ck_assert_int_eq(posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[1]);
	for (;;) {
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
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (ret_out)
		*ret_out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

#define RUN(out, ...) run(out, (const char *const[]){ __VA_ARGS__, NULL })

/* `ip -d -j link show dev NAME`: the link object (caller decrefs), NULL when absent. */
static json_t *
link_json(const char *name)
{
	_cleanup_free_ char *out = NULL;
	json_t *root, *l;

	if (RUN(&out, "ip", "-d", "-j", "link", "show", "dev", name) != 0)
		return NULL;
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	l = json_incref(json_array_get(root, 0));
	json_decref(root);
	return l;
}

/* The link's group number (`ip -d -j` prints the number when
 * /etc/iproute2/group names none), -1 when absent. */
static long long
link_group(const char *name)
{
	_cleanup_free_ char *out = NULL;
	json_t *root, *g;
	long long v = -1;

	if (RUN(&out, "ip", "-d", "-j", "link", "show", "dev", name) != 0)
		return -1;
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	g = json_object_get(json_array_get(root, 0), "group");
	if (json_is_string(g))
		v = strcmp(json_string_value(g), "default") == 0
			    ? 0
			    : strtoll(json_string_value(g), NULL, 0);
	else if (json_is_integer(g))
		v = json_integer_value(g);
	json_decref(root);
	return v;
}

static const char *
jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool
link_has_flag(json_t *l, const char *flag)
{
	size_t i;
	json_t *v;

	json_array_foreach(json_object_get(l, "flags"), i, v)
		if (strcmp(json_string_value(v), flag) == 0)
			return true;
	return false;
}

/* `ip -j addr show dev NAME`: "a.b.c.d/p" of every IPv4 address, space-separated. */
static char *
link_addrs(const char *name)
{
	_cleanup_free_ char *out = NULL;
	char *s = xstrdup("");
	json_t *root, *ai, *a;
	size_t i;

	ck_assert_int_eq(RUN(&out, "ip", "-j", "addr", "show", "dev", name), 0);
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	ai = json_object_get(json_array_get(root, 0), "addr_info");
	json_array_foreach(ai, i, a) {
		char *n;

		if (!jstr(a, "family") || strcmp(jstr(a, "family"), "inet") != 0)
			continue;
		n = xasprintf("%s%s%s/%lld", s, s[0] ? " " : "", jstr(a, "local"),
			      json_integer_value(json_object_get(a, "prefixlen")));
		free(s);
		s = n;
	}
	json_decref(root);
	return s;
}

/* `nft -j list ruleset`: rules of family/table whose comment is comment (NULL: any). */
static int
count_rules(const char *family, const char *table, const char *comment)
{
	_cleanup_free_ char *out = NULL;
	json_t *root, *item;
	size_t i;
	int n = 0;

	ck_assert_int_eq(RUN(&out, "nft", "-j", "list", "ruleset"), 0);
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	json_array_foreach(json_object_get(root, "nftables"), i, item) {
		json_t *r = json_object_get(item, "rule");

		if (!r || strcmp(jstr(r, "family"), family) != 0 ||
		    strcmp(jstr(r, "table"), table) != 0)
			continue;
		if (comment && (!jstr(r, "comment") || strcmp(jstr(r, "comment"), comment) != 0))
			continue;
		n++;
	}
	json_decref(root);
	return n;
}

static bool
nft_has(const char *what)
{
	_cleanup_free_ char *out = NULL;

	(void)RUN(&out, "nft", "list", "ruleset");
	return strstr(out, what) != NULL;
}

static struct net_ops *net;
static struct nat_ops *nat;

static void
setup(void)
{
	struct error *err = NULL;

	/* A test that failed left its rules behind: start from none. */
	ck_assert_int_eq(RUN(NULL, "nft", "flush", "ruleset"), 0);
	ck_assert_int_eq(net_netlink_new(&net, &err), 0);
	ck_assert_int_eq(nat_nft_new(&nat, &err), 0);
}

/* Leave the namespace as the wrapper made it: no bridge, no bgr-*, no tables. */
static void
teardown(void)
{
	_cleanup_free_ char *out = NULL;
	json_t *root, *l;
	size_t i;

	net = net_netlink_free(net);
	nat = nat_nft_free(nat);
	ck_assert_int_eq(RUN(NULL, "nft", "flush", "ruleset"), 0);
	ck_assert_int_eq(RUN(&out, "ip", "-j", "link", "show"), 0);
	root = json_loads(out, 0, NULL);
	json_array_foreach(root, i, l) {
		const char *name = jstr(l, "ifname");

		if (strncmp(name, TAP_PREFIX, strlen(TAP_PREFIX)) == 0 ||
		    strcmp(name, BRIDGE) == 0)
			ck_assert_int_eq(RUN(NULL, "ip", "link", "del", "dev", name), 0);
	}
	json_decref(root);
}

static uint32_t
ip4(const char *s)
{
	uint32_t a;

	ck_assert_int_eq(ipv4_parse(s, &a), 0);
	return a;
}

static void
expect_err(int r, int code, struct error **err)
{
	ck_assert_int_eq(r, code);
	ck_assert_ptr_nonnull(*err);
	ck_assert_int_eq((*err)->code, code);
	*err = error_free(*err);
}

START_TEST(test_bridge)
{
	struct error *err = NULL;
	_cleanup_free_ char *a = NULL, *b = NULL;
	json_t *l;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	l = link_json(BRIDGE);
	ck_assert_ptr_nonnull(l);
	ck_assert_str_eq(jstr(json_object_get(l, "linkinfo"), "info_kind"), "bridge");
	ck_assert(link_has_flag(l, "UP"));
	json_decref(l);
	a = link_addrs(BRIDGE);
	ck_assert_str_eq(a, "10.77.0.1/24");

	/* Idempotent. */
	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_ptr_null(err);
	/* Another address is reported, not rewritten. */
	expect_err(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.9"), 24, &err), -EEXIST,
		   &err);
	expect_err(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 16, &err), -EEXIST,
		   &err);
	b = link_addrs(BRIDGE);
	ck_assert_str_eq(b, "10.77.0.1/24");
	/* Not a bridge; reserved prefix; bad name. */
	expect_err(net->bridge_ensure(net->userdata, UPLINK, ip4("10.77.0.1"), 24, &err), -EEXIST,
		   &err);
	expect_err(net->bridge_ensure(net->userdata, "bgr-br", ip4("10.77.0.1"), 24, &err), -EPERM,
		   &err);
	expect_err(net->bridge_ensure(net->userdata, "br\"0", ip4("10.77.0.1"), 24, &err),
		   -EINVAL, &err);
	ck_assert_ptr_null(link_json("bgr-br"));
}
END_TEST

static void
check_tap(const char *tap, const char *alias, bool up)
{
	json_t *l = link_json(tap), *li;

	ck_assert_ptr_nonnull(l);
	li = json_object_get(l, "linkinfo");
	ck_assert_str_eq(jstr(li, "info_kind"), "tun");
	ck_assert_str_eq(jstr(json_object_get(li, "info_data"), "type"), "tap");
	ck_assert(json_is_false(json_object_get(json_object_get(li, "info_data"), "pi")));
	ck_assert(json_is_false(json_object_get(json_object_get(li, "info_data"), "multi_queue")));
	ck_assert(json_is_true(json_object_get(json_object_get(li, "info_data"), "persist")));
	ck_assert_str_eq(jstr(l, "ifalias"), alias);
	ck_assert_str_eq(jstr(l, "master"), BRIDGE);
	ck_assert(link_has_flag(l, "UP") == up);
	json_decref(l);
}

START_TEST(test_tap_lifecycle)
{
	struct error *err = NULL;
	struct net_link *links = NULL;
	size_t n = 0;
	int guest;
	json_t *l;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);
	/* Idempotent. */
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);

	/* Adopt: a banger tap that lost its master and went down is repaired. */
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", "dev", TAP1, "nomaster", "down"), 0);
	l = link_json(TAP1);
	ck_assert_ptr_null(json_object_get(l, "master"));
	json_decref(l);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);
	/* A renamed VM keeps its tap, with the new name in the alias. */
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web2", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web2 id=" ID1, true);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP2, BRIDGE, "db", ID2, &err), 0);

	/* A process holding TAP1 open, as a guest does: its carrier is up. */
	guest = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(guest, 0);
	{
		struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI };

		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", TAP1);
		ck_assert_int_eq(ioctl(guest, TUNSETIFF, &ifr), 0);
	}
	ck_assert_int_eq(net->link_list(net->userdata, &links, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		ck_assert(links[i].owned);
		ck_assert(links[i].up);
		ck_assert_str_eq(links[i].master, BRIDGE);
		if (strcmp(links[i].name, TAP1) == 0) {
			ck_assert_str_eq(links[i].vm_name, "web2");
			ck_assert_str_eq(links[i].vm_id, ID1);
			ck_assert(links[i].carrier);
		} else {
			ck_assert_str_eq(links[i].name, TAP2);
			ck_assert_str_eq(links[i].vm_id, ID2);
			ck_assert(!links[i].carrier);
		}
	}
	net_links_free(links, n);
	(void)close(guest);
	ck_assert_int_eq(net->link_list(net->userdata, &links, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		ck_assert(!links[i].carrier);
	net_links_free(links, n);

	/* Only the owning VM id deletes. */
	expect_err(net->tap_delete(net->userdata, TAP1, ID2, &err), -EEXIST, &err);
	check_tap(TAP1, "banger vm=web2 id=" ID1, true);
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP1, ID1, &err), 0);
	/* Given up, not gone yet: in the dying group, still marked as banger's. */
	check_tap(TAP1, "banger vm=web2 id=" ID1, true);
	ck_assert_int_eq(link_group(TAP1), NET_TAP_GROUP_DYING);
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP1, ID1, &err), 0);
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP2, ID2, &err), 0);
	ck_assert_int_eq(net->tap_flush(net->userdata, &err), 0);
	ck_assert_ptr_null(link_json(TAP1));
	ck_assert_ptr_null(link_json(TAP2));
	/* Deleting what is gone, and flushing nothing, are fine. */
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP1, ID1, &err), 0);
	ck_assert_int_eq(net->tap_flush(net->userdata, &err), 0);
	ck_assert_ptr_null(err);
}
END_TEST

/* The bridge's index is looked up once for a run's taps: a bridge made anew
 * meanwhile (by hand) is found again, a missing one is an error. */
START_TEST(test_tap_bridge_made_anew)
{
	struct error *err = NULL;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", BRIDGE), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", BRIDGE, "type", "bridge"), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP2, BRIDGE, "db", ID2, &err), 0);
	check_tap(TAP2, "banger vm=db id=" ID2, true);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", BRIDGE), 0);
	expect_err(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), -ENOENT, &err);
}
END_TEST

/* A link's index, -1 when absent. */
static long long
link_index(const char *name)
{
	json_t *l = link_json(name);
	long long v = -1;

	if (l) {
		v = json_integer_value(json_object_get(l, "ifindex"));
		json_decref(l);
	}
	return v;
}

static size_t
count_ports(const char *master)
{
	_cleanup_free_ char *out = NULL;
	json_t *root;
	size_t n;

	ck_assert_int_eq(RUN(&out, "ip", "-j", "link", "show", "master", master), 0);
	root = json_loads(out, 0, NULL);
	ck_assert_ptr_nonnull(root);
	n = json_array_size(root);
	json_decref(root);
	return n;
}

/*
 * The bridge made anew while another device that takes ports got the old
 * bridge's index: the kept index no longer names the bridge, so no tap goes
 * to that device, new or adopted.
 */
START_TEST(test_tap_bridge_index_taken)
{
	struct error *err = NULL;
	_cleanup_free_ char *idx = NULL;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	idx = xasprintf("%lld", link_index(BRIDGE));
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", BRIDGE), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", "foreign0", "index", idx, "type", "bridge"),
			 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", BRIDGE, "type", "bridge"), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP2, BRIDGE, "db", ID2, &err), 0);
	check_tap(TAP2, "banger vm=db id=" ID2, true);
	/* TAP1 lost its master with the old bridge: adopted onto the new one. */
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);
	ck_assert_uint_eq(count_ports("foreign0"), 0);
	ck_assert_uint_eq(count_ports(BRIDGE), 2);
	ck_assert_ptr_null(err);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", "foreign0"), 0);
}
END_TEST

/*
 * The bridge made anew and the tap already put on it by hand: the tap's
 * repair must leave it there (a change to the old index would take it off
 * its master before failing).
 */
START_TEST(test_tap_on_bridge_made_anew)
{
	struct error *err = NULL;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", BRIDGE), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", BRIDGE, "type", "bridge"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", TAP1, "master", BRIDGE), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "web1", ID1, &err), 0);
	check_tap(TAP1, "banger vm=web1 id=" ID1, true);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_tap_dying)
{
	struct error *err = NULL;
	struct net_ops *other = NULL;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "a", ID1, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP2, BRIDGE, "b", ID2, &err), 0);

	/* Given up and wanted again in the same run: a fresh tap, which the
	 * flush leaves alone. */
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP1, ID1, &err), 0);
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "a", ID1, &err), 0);
	ck_assert_int_eq(link_group(TAP1), 0);
	ck_assert_int_eq(net->tap_flush(net->userdata, &err), 0);
	check_tap(TAP1, "banger vm=a id=" ID1, true);

	/* A foreign link in the dying group: the flush deletes banger's tap one
	 * by one and never the foreign link. */
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", "foreign0", "type", "bridge"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", "dev", "foreign0", "group", "1650946660"),
			 0);
	ck_assert_int_eq(link_group("foreign0"), NET_TAP_GROUP_DYING);
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP2, ID2, &err), 0);
	ck_assert_int_eq(net->tap_flush(net->userdata, &err), 0);
	ck_assert_ptr_null(link_json(TAP2));
	ck_assert_int_eq(link_group("foreign0"), NET_TAP_GROUP_DYING);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", "foreign0"), 0);

	/* A run cut short between the two: the tap stays, banger's, in the
	 * group; the next run's driver adopts it back to life, or deletes it. */
	ck_assert_int_eq(net->tap_delete(net->userdata, TAP1, ID1, &err), 0);
	ck_assert_int_eq(net_netlink_new(&other, &err), 0);
	ck_assert_int_eq(other->tap_ensure(other->userdata, TAP1, BRIDGE, "a", ID1, &err), 0);
	ck_assert_int_eq(link_group(TAP1), 0);
	ck_assert_int_eq(other->tap_flush(other->userdata, &err), 0);
	check_tap(TAP1, "banger vm=a id=" ID1, true);
	ck_assert_int_eq(other->tap_delete(other->userdata, TAP1, ID1, &err), 0);
	other = net_netlink_free(other);
	ck_assert_int_eq(link_group(TAP1), NET_TAP_GROUP_DYING);
	ck_assert_int_eq(net_netlink_new(&other, &err), 0);
	ck_assert_int_eq(other->tap_delete(other->userdata, TAP1, ID1, &err), 0);
	ck_assert_int_eq(other->tap_flush(other->userdata, &err), 0);
	ck_assert_ptr_null(link_json(TAP1));
	other = net_netlink_free(other);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_tap_foreign)
{
	struct error *err = NULL;
	struct net_link *links = NULL;
	size_t n = 0;
	json_t *l;

	ck_assert_int_eq(net->bridge_ensure(net->userdata, BRIDGE, ip4("10.77.0.1"), 24, &err), 0);
	/* A foreign tap with a banger-like name and no alias. */
	ck_assert_int_eq(RUN(NULL, "ip", "tuntap", "add", "dev", "bgr-deadbeef", "mode", "tap"), 0);
	expect_err(net->tap_ensure(net->userdata, "bgr-deadbeef", BRIDGE, "x", ID1, &err), -EEXIST,
		   &err);
	expect_err(net->tap_delete(net->userdata, "bgr-deadbeef", ID1, &err), -EEXIST, &err);
	/* A banger tap of another VM (8-hex collision) is not adopted either. */
	ck_assert_int_eq(net->tap_ensure(net->userdata, TAP1, BRIDGE, "a", ID1, &err), 0);
	expect_err(net->tap_ensure(net->userdata, TAP1, BRIDGE, "b",
				   "01234567ffffffffffffffffffffffff", &err),
		   -EEXIST, &err);
	check_tap(TAP1, "banger vm=a id=" ID1, true);
	/* A link of another kind with banger's alias is not adopted. */
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", "bgr-cafebabe", "type", "bridge"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", "dev", "bgr-cafebabe", "alias",
			     "banger vm=c id=cafebabe000000000000000000000000"),
			 0);
	expect_err(net->tap_ensure(net->userdata, "bgr-cafebabe", BRIDGE, "c",
				   "cafebabe000000000000000000000000", &err),
		   -EEXIST, &err);

	/* Names outside banger's namespace. */
	expect_err(net->tap_ensure(net->userdata, UPLINK, BRIDGE, "x", ID1, &err), -EPERM, &err);
	expect_err(net->tap_ensure(net->userdata, "bgr-deadbee", BRIDGE, "x", ID1, &err), -EPERM,
		   &err);
	expect_err(net->tap_delete(net->userdata, UPLINK, ID1, &err), -EPERM, &err);
	expect_err(net->tap_ensure(net->userdata, TAP2, BRIDGE, "Bad_Name", ID2, &err), -EINVAL,
		   &err);
	/* Missing bridge: nothing is created. */
	expect_err(net->tap_ensure(net->userdata, TAP2, "nobr0", "db", ID2, &err), -ENOENT, &err);
	ck_assert_ptr_null(link_json(TAP2));

	/* Still untouched: no alias, no master, down. */
	l = link_json("bgr-deadbeef");
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_null(json_object_get(l, "ifalias"));
	ck_assert_ptr_null(json_object_get(l, "master"));
	ck_assert(!link_has_flag(l, "UP"));
	json_decref(l);

	ck_assert_int_eq(net->link_list(net->userdata, &links, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(links[i].name, "bgr-deadbeef") == 0) {
			ck_assert(!links[i].owned);
			ck_assert_ptr_null(links[i].alias);
			ck_assert_ptr_null(links[i].vm_id);
			ck_assert_ptr_null(links[i].master);
			ck_assert(!links[i].up);
		} else if (strcmp(links[i].name, TAP1) == 0) {
			ck_assert(links[i].owned);
		} else {
			ck_assert_str_eq(links[i].name, "bgr-cafebabe");
		}
	}
	net_links_free(links, n);
	l = link_json("bgr-cafebabe");
	ck_assert_ptr_nonnull(l);
	json_decref(l);
}
END_TEST

START_TEST(test_uplink_and_forwarding)
{
	struct error *err = NULL;
	_cleanup_free_ char *u = NULL, *v = NULL;
	char *x = NULL;
	bool on = true;
	int fd;

	ck_assert_int_eq(net->uplink_resolve(net->userdata, "auto", &u, &err), 0);
	ck_assert_str_eq(u, UPLINK);
	ck_assert_int_eq(net->uplink_resolve(net->userdata, UPLINK, &v, &err), 0);
	ck_assert_str_eq(v, UPLINK);
	expect_err(net->uplink_resolve(net->userdata, "nope0", &x, &err), -ENODEV, &err);
	expect_err(net->uplink_resolve(net->userdata, "eth0\"", &x, &err), -EINVAL, &err);
	/* Two default routes: the lowest metric wins; without any, auto fails. */
	ck_assert_int_eq(RUN(NULL, "ip", "link", "add", "veth-b", "type", "veth", "peer", "name",
			     "veth-b2"),
			 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", "dev", "veth-b2", "up"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "link", "set", "dev", "veth-b", "up"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "addr", "add", "198.51.100.1/24", "dev", "veth-b"), 0);
	ck_assert_int_eq(RUN(NULL, "ip", "route", "add", "default", "via", "198.51.100.254", "dev",
			     "veth-b", "metric", "50"),
			 0);
	ck_assert_int_eq(net->uplink_resolve(net->userdata, "auto", &x, &err), 0);
	ck_assert_str_eq(x, UPLINK);
	free(TAKE_PTR(x));
	ck_assert_int_eq(RUN(NULL, "ip", "route", "del", "default", "via", "192.0.2.254"), 0);
	ck_assert_int_eq(net->uplink_resolve(net->userdata, "auto", &x, &err), 0);
	ck_assert_str_eq(x, "veth-b");
	free(TAKE_PTR(x));
	ck_assert_int_eq(RUN(NULL, "ip", "link", "del", "dev", "veth-b"), 0);
	expect_err(net->uplink_resolve(net->userdata, "auto", &x, &err), -ENETUNREACH, &err);
	ck_assert_int_eq(RUN(NULL, "ip", "route", "add", "default", "via", "192.0.2.254", "dev",
			     UPLINK),
			 0);
	ck_assert_ptr_null(x);

	fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "0\n", 2), 2);
	close(fd);
	ck_assert_int_eq(net->forwarding_get(net->userdata, &on, &err), 0);
	ck_assert(!on);
	ck_assert_int_eq(net->forwarding_ensure(net->userdata, &err), 0);
	ck_assert_int_eq(net->forwarding_get(net->userdata, &on, &err), 0);
	ck_assert(on);
	ck_assert_int_eq(net->forwarding_ensure(net->userdata, &err), 0);
	ck_assert_ptr_null(err);
}
END_TEST

#define C1 "banger id=" ID1
#define C2 "banger id=" ID2

START_TEST(test_nat)
{
	struct error *err = NULL;
	struct nat_rule *rules = NULL;
	size_t n = 9;
	uint64_t foreign = 0;
	int kinds[_NAT_RULE_KIND_MAX] = { 0 };

	/* No table: empty list, deletes are no-ops. */
	ck_assert_int_eq(nat->rule_list(nat->userdata, &rules, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	nat_rules_free(rules, n);
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID1, &err), 0);
	ck_assert_int_eq(nat->rule_delete(nat->userdata, "forward", 5, &err), 0);

	/* A foreign table with a rule that even carries our comment. */
	ck_assert_int_eq(RUN(NULL, "nft", "add", "table", "ip", "other"), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "chain", "ip", "other", "c",
			     "{ type filter hook forward priority 0; }"),
			 0);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "rule", "ip", "other", "c", "iifname", TAP1,
			     "accept", "comment", "\"" C1 "\""),
			 0);

	ck_assert_int_eq(nat->table_ensure(nat->userdata, &err), 0);
	ck_assert_int_eq(nat->table_ensure(nat->userdata, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", NULL), 1);
	ck_assert_int_eq(count_rules("inet", "banger", NAT_COMMENT_SHARED), 1);
	ck_assert(nft_has("type nat hook postrouting priority srcnat; policy accept;"));
	ck_assert(nft_has("type filter hook forward priority filter; policy accept;"));

	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID2, TAP2, ip4("10.77.0.3"), UPLINK, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 2);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 2);
	ck_assert(nft_has("ip saddr 10.77.0.2 oifname \"veth-up\" masquerade comment \"" C1 "\""));
	ck_assert(nft_has("iifname \"" TAP1 "\" oifname \"veth-up\" accept comment \"" C1 "\""));

	/* Injection attempts change nothing. */
	expect_err(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), "x\" accept; flush",
			       &err),
		   -EINVAL, &err);
	expect_err(nat->vm_add(nat->userdata, "0123", TAP1, ip4("10.77.0.2"), UPLINK, &err),
		   -EINVAL, &err);
	expect_err(nat->vm_add(nat->userdata, ID1, "eth0", ip4("10.77.0.2"), UPLINK, &err),
		   -EINVAL, &err);
	expect_err(nat->rule_delete(nat->userdata, "forward; flush ruleset", 1, &err), -EINVAL,
		   &err);
	ck_assert_int_eq(count_rules("inet", "banger", NULL), 5);

	/* A rule deleted by hand is repaired; a foreign rule in our table is listed. */
	ck_assert_int_eq(nat->rule_list(nat->userdata, &rules, &n, &err), 0);
	ck_assert_uint_eq(n, 5);
	for (size_t i = 0; i < n; i++)
		if (rules[i].kind == NAT_RULE_FORWARD && strcmp(rules[i].vm_id, ID2) == 0) {
			_cleanup_free_ char *h = xasprintf("%" PRIu64, rules[i].handle);

			ck_assert_str_eq(rules[i].tap, TAP2);
			ck_assert_int_eq(RUN(NULL, "nft", "delete", "rule", "inet", "banger",
					     "forward", "handle", h),
					 0);
		}
	nat_rules_free(rules, n);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 1);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID2, TAP2, ip4("10.77.0.3"), UPLINK, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 2);

	ck_assert_int_eq(RUN(NULL, "nft", "add", "rule", "inet", "banger", "forward", "tcp",
			     "dport", "22", "drop"),
			 0);
	ck_assert_int_eq(nat->rule_list(nat->userdata, &rules, &n, &err), 0);
	ck_assert_uint_eq(n, 6);
	for (size_t i = 0; i < n; i++) {
		kinds[rules[i].kind]++;
		if (rules[i].kind == NAT_RULE_OTHER) {
			ck_assert_ptr_null(rules[i].vm_id);
			ck_assert_str_eq(rules[i].chain, "forward");
			foreign = rules[i].handle;
		} else if (rules[i].kind == NAT_RULE_MASQUERADE) {
			ck_assert_str_eq(rules[i].uplink, UPLINK);
			ck_assert_ptr_nonnull(rules[i].vm_id);
		}
	}
	nat_rules_free(rules, n);
	ck_assert_int_eq(kinds[NAT_RULE_MASQUERADE], 2);
	ck_assert_int_eq(kinds[NAT_RULE_FORWARD], 2);
	ck_assert_int_eq(kinds[NAT_RULE_ESTABLISHED], 1);
	ck_assert_int_eq(kinds[NAT_RULE_OTHER], 1);
	ck_assert_uint_gt(foreign, 0);
	/* Orphan removal by handle, idempotent. */
	ck_assert_int_eq(nat->rule_delete(nat->userdata, "forward", foreign, &err), 0);
	ck_assert_int_eq(nat->rule_delete(nat->userdata, "forward", foreign, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", NULL), 5);

	/* A changed uplink replaces the VM's rules. */
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID2, TAP2, ip4("10.77.0.3"), "lo", &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 2);
	ck_assert(nft_has("ip saddr 10.77.0.3 oifname \"lo\" masquerade"));
	ck_assert(!nft_has("ip saddr 10.77.0.3 oifname \"veth-up\""));

	/* vm_delete queues exactly that VM's rules, flush deletes them; the
	 * foreign table keeps its rule. */
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID1, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 2);
	ck_assert_int_eq(nat->flush(nat->userdata, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 2);
	ck_assert_int_eq(count_rules("ip", "other", C1), 1);
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID1, &err), 0);
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID2, &err), 0);
	ck_assert_int_eq(nat->flush(nat->userdata, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", NULL), 1);
	ck_assert_int_eq(nat->flush(nat->userdata, &err), 0);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_nat_flush_batches)
{
	struct error *err = NULL;
	struct nat_rule *rules = NULL;
	size_t n = 0;

	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID2, TAP2, ip4("10.77.0.3"), UPLINK, &err), 0);
	/* A VM queued for deletion and added again in the same run: its old
	 * rules go first, the new ones stay. */
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID1, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.4"), UPLINK, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 2);
	ck_assert(nft_has("ip saddr 10.77.0.4 oifname \"veth-up\" masquerade"));
	ck_assert(!nft_has("ip saddr 10.77.0.2 oifname"));
	ck_assert_int_eq(nat->flush(nat->userdata, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 2);

	/* One of the queued rules deleted by hand meanwhile: the batch fails
	 * whole, and the flush deletes VM by VM from a new listing. */
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID1, &err), 0);
	ck_assert_int_eq(nat->vm_delete(nat->userdata, ID2, &err), 0);
	ck_assert_int_eq(nat->rule_list(nat->userdata, &rules, &n, &err), 0);
	for (size_t i = 0; i < n; i++)
		if (rules[i].kind == NAT_RULE_FORWARD && rules[i].vm_id &&
		    strcmp(rules[i].vm_id, ID2) == 0) {
			_cleanup_free_ char *h = xasprintf("%" PRIu64, rules[i].handle);

			ck_assert_int_eq(RUN(NULL, "nft", "delete", "rule", "inet", "banger",
					     "forward", "handle", h),
					 0);
		}
	nat_rules_free(rules, n);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 1);
	ck_assert_int_eq(nat->flush(nat->userdata, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C2), 0);
	ck_assert_ptr_null(err);
}
END_TEST

START_TEST(test_nat_add_creates_table)
{
	struct error *err = NULL;

	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", C1), 2);
	ck_assert_int_eq(count_rules("inet", "banger", NAT_COMMENT_SHARED), 1);
	ck_assert_ptr_null(err);
}
END_TEST

/*
 * A VM's rules added to chains that exist go as nf_tables messages (no
 * libnftables): nft reads them back as the rules banger renders, the
 * listing classifies them, and a chain gone since the driver listed it is
 * an error from the kernel, after which the next add repairs the table.
 */
#define ID3 "00112233445566778899aabbccddeeff"
#define TAP3 "bgr-00112233"

START_TEST(test_nat_add_by_netlink)
{
	struct error *err = NULL;
	struct nat_rule *rules = NULL;
	size_t n = 0, masq = 0, fwd = 0;

	ck_assert_int_eq(nat->table_ensure(nat->userdata, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID2, TAP2, ip4("10.77.0.250"), UPLINK, &err), 0);
	ck_assert(nft_has("ip saddr 10.77.0.2 oifname \"veth-up\" masquerade comment \"" C1 "\""));
	ck_assert(nft_has("iifname \"" TAP1 "\" oifname \"veth-up\" accept comment \"" C1 "\""));
	ck_assert(nft_has("ip saddr 10.77.0.250 oifname \"veth-up\" masquerade comment \"" C2 "\""));
	ck_assert_int_eq(nat->rule_list(nat->userdata, &rules, &n, &err), 0);
	for (size_t i = 0; i < n; i++) {
		if (rules[i].kind == NAT_RULE_MASQUERADE && strcmp(rules[i].vm_id, ID2) == 0) {
			ck_assert_uint_eq(rules[i].ip, ip4("10.77.0.250"));
			ck_assert_str_eq(rules[i].uplink, UPLINK);
			masq++;
		} else if (rules[i].kind == NAT_RULE_FORWARD && strcmp(rules[i].vm_id, ID2) == 0) {
			ck_assert_str_eq(rules[i].tap, TAP2);
			ck_assert_str_eq(rules[i].uplink, UPLINK);
			fwd++;
		}
	}
	nat_rules_free(rules, n);
	ck_assert_uint_eq(masq, 1);
	ck_assert_uint_eq(fwd, 1);

	/* The table deleted behind the driver's back, then a new VM's rules
	 * (the driver's listing, made again by the add below, says the chains
	 * are there): refused by the kernel, reported; the next add lists
	 * again and makes the table anew. */
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "delete", "table", "inet", "banger"), 0);
	ck_assert_int_lt(nat->vm_add(nat->userdata, ID3, TAP3, ip4("10.77.0.4"), UPLINK, &err), 0);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err->msg, "nat vm '" ID3 "': nf_tables: add rules: "));
	err = error_free(err);
	ck_assert_int_eq(nat->vm_add(nat->userdata, ID3, TAP3, ip4("10.77.0.4"), UPLINK, &err), 0);
	ck_assert_int_eq(count_rules("inet", "banger", "banger id=" ID3), 2);
	ck_assert_int_eq(count_rules("inet", "banger", NAT_COMMENT_SHARED), 1);
	ck_assert_ptr_null(err);
}
END_TEST

/* ---- the nf_tables netlink listing ---- */

static void
nft_file(const char *name)
{
	const char *top = getenv("top_srcdir");
	_cleanup_free_ char *path = xasprintf("%s/tests/data/net/%s", top ? top : "..", name);

	ck_assert_int_eq(RUN(NULL, "nft", "-f", path), 0);
}

START_TEST(test_nl_listing)
{
	_cleanup_(nat_nl_freep) struct nat_nl *nl = NULL;
	struct nat_rule *rules = NULL;
	struct error *err = NULL;
	bool has = true;
	unsigned chains = 9;
	size_t n = 9;

	ck_assert_int_eq(nat_nl_new(&nl, &err), 0);
	/* No table at all, then only other tables: an empty listing. */
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, &has, &chains, &err), 0);
	ck_assert(!has);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(chains, 0);
	free(rules);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "table", "ip", "banger"), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "table", "inet", "bangers"), 0);
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, &has, &chains, &err), 0);
	ck_assert(!has);
	free(rules);
	ck_assert_int_eq(RUN(NULL, "nft", "flush", "ruleset"), 0);

	/* The table, with chains of the right names but the wrong type or hook. */
	ck_assert_int_eq(RUN(NULL, "nft", "add", "table", "inet", "banger"), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "chain", "inet", "banger", "postrouting",
			     "{ type filter hook postrouting priority 0; }"),
			 0);
	ck_assert_int_eq(RUN(NULL, "nft", "add", "chain", "inet", "banger", "forward",
			     "{ type filter hook input priority 0; }"),
			 0);
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, &has, &chains, &err), 0);
	ck_assert(has);
	ck_assert_uint_eq(chains, 0);
	ck_assert_uint_eq(n, 0);
	free(rules);
	ck_assert_int_eq(RUN(NULL, "nft", "flush", "ruleset"), 0);

	nft_file("ruleset.nft");
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, &has, &chains, &err), 0);
	ck_assert(has);
	ck_assert_uint_eq(chains, NAT_HAS_POSTROUTING | NAT_HAS_FORWARD);
	expect_rules(rules, n, ruleset_want, ELEMENTSOF(ruleset_want));
	nat_rules_free(rules, n);
	ck_assert_ptr_null(err);
}
END_TEST

/* More rules than one answer message holds: every one listed, in order. */
START_TEST(test_nl_listing_large)
{
	enum { N = 1500 };
	_cleanup_(nat_nl_freep) struct nat_nl *nl = NULL;
	_cleanup_free_ char *path = xstrdup("/tmp/banger-nl-test-XXXXXX");
	_cleanup_free_ unsigned *seen = xcalloc(N, sizeof(*seen));
	struct nat_rule *rules = NULL;
	struct error *err = NULL;
	size_t n = 0;
	FILE *f;
	int fd;

	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	fputs(nat_render_table(), f);
	fputs(nat_render_chains(), f);
	for (unsigned i = 0; i < N; i++) {
		_cleanup_free_ char *id = xasprintf("%032x", i + 1);
		_cleanup_free_ char *tap = xasprintf("bgr-%08x", i + 1);
		_cleanup_free_ char *masq = NULL, *fwd = NULL;

		ck_assert_int_eq(nat_render_masquerade(id, ip4("10.80.0.0") + i + 1, UPLINK, &masq),
				 0);
		ck_assert_int_eq(nat_render_forward(id, tap, UPLINK, &fwd), 0);
		fputs(masq, f);
		fputs(fwd, f);
	}
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "-f", path), 0);
	unlink(path);

	ck_assert_int_eq(nat_nl_new(&nl, &err), 0);
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, NULL, NULL, &err), 0);
	ck_assert_uint_eq(n, 2 * N);
	for (size_t i = 0; i < n; i++) {
		unsigned k;

		ck_assert_ptr_nonnull(rules[i].vm_id);
		ck_assert_int_eq(sscanf(rules[i].vm_id, "%x", &k), 1);
		ck_assert(k >= 1 && k <= N);
		if (rules[i].kind == NAT_RULE_MASQUERADE) {
			ck_assert_uint_eq(rules[i].ip, ip4("10.80.0.0") + k);
			seen[k - 1] |= 1;
		} else {
			_cleanup_free_ char *tap = xasprintf("bgr-%08x", k);

			ck_assert_int_eq(rules[i].kind, NAT_RULE_FORWARD);
			ck_assert_str_eq(rules[i].tap, tap);
			seen[k - 1] |= 2;
		}
		ck_assert_str_eq(rules[i].uplink, UPLINK);
	}
	for (size_t k = 0; k < N; k++)
		ck_assert_uint_eq(seen[k], 3);
	nat_rules_free(rules, n);
}
END_TEST

/* The ruleset changes while a listing runs: the listing starts over, and
 * what it returns is the state after the change, never a mix. */
static int between_calls;

static void
change_once(void *userdata)
{
	(void)userdata;
	if (between_calls++ == 0)
		ck_assert_int_eq(RUN(NULL, "nft", "add", "rule", "inet", "banger", "forward",
				     "iifname", "\"" TAP2 "\"", "oifname", "\"" UPLINK "\"",
				     "accept", "comment", "\"" C2 "\""),
				 0);
}

static void
drop_table_once(void *userdata)
{
	(void)userdata;
	if (between_calls++ == 0)
		ck_assert_int_eq(RUN(NULL, "nft", "delete", "table", "inet", "banger"), 0);
}

static void
change_always(void *userdata)
{
	(void)userdata;
	between_calls++;
	ck_assert_int_eq(RUN(NULL, "nft", "add", "table", "ip", "churn"), 0);
	ck_assert_int_eq(RUN(NULL, "nft", "delete", "table", "ip", "churn"), 0);
}

START_TEST(test_nl_listing_consistent)
{
	_cleanup_(nat_nl_freep) struct nat_nl *nl = NULL;
	struct nat_rule *rules = NULL;
	struct error *err = NULL;
	size_t n = 0, fwd = 0;

	ck_assert_int_eq(nat->vm_add(nat->userdata, ID1, TAP1, ip4("10.77.0.2"), UPLINK, &err), 0);
	ck_assert_int_eq(nat_nl_new(&nl, &err), 0);

	between_calls = 0;
	nat_nl_test_between(change_once, NULL);
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, NULL, NULL, &err), 0);
	nat_nl_test_between(NULL, NULL);
	ck_assert_int_eq(between_calls, 2);
	for (size_t i = 0; i < n; i++)
		if (rules[i].kind == NAT_RULE_FORWARD)
			fwd++;
	ck_assert_uint_eq(fwd, 2);
	nat_rules_free(rules, n);

	/* The table deleted between its lookup and its rules' dump: listed
	 * again, absent. */
	{
		bool has = true;

		between_calls = 0;
		nat_nl_test_between(drop_table_once, NULL);
		rules = NULL;
		n = 9;
		ck_assert_int_eq(nat_nl_list(nl, &rules, &n, &has, NULL, &err), 0);
		nat_nl_test_between(NULL, NULL);
		ck_assert_int_eq(between_calls, 2);
		ck_assert(!has);
		ck_assert_uint_eq(n, 0);
		free(rules);
	}

	/* A ruleset that never holds still: an error, not a torn listing. */
	between_calls = 0;
	nat_nl_test_between(change_always, NULL);
	rules = NULL;
	n = 0;
	ck_assert_int_eq(nat_nl_list(nl, &rules, &n, NULL, NULL, &err), -EAGAIN);
	nat_nl_test_between(NULL, NULL);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err->msg, "kept changing"));
	ck_assert_ptr_null(rules);
	error_free(err);
	ck_assert_int_gt(between_calls, 1);
}
END_TEST

/*
 * The wrapper exports the namespace it started in; we must be elsewhere, and
 * not in pid 1's namespace either when that one is readable.
 */
static bool
in_private_netns(void)
{
	const char *outer = getenv("BANGER_OUTER_NETNS");
	char self[64] = "", init[64] = "";

	if (!outer || readlink("/proc/self/ns/net", self, sizeof(self) - 1) < 0)
		return false;
	if (strcmp(self, outer) == 0)
		return false;
	if (readlink("/proc/1/ns/net", init, sizeof(init) - 1) >= 0 && strcmp(self, init) == 0)
		return false;
	return true;
}

int
main(void)
{
	Suite *s;
	TCase *tc;
	SRunner *sr;
	int failed;

	if (geteuid() != 0 || !getenv("BANGER_TEST_NETNS") || !in_private_netns()) {
		fprintf(stderr, "needs root inside the private namespace of net-drivers.sh\n");
		return 77;
	}
	s = suite_create("net-drivers");
	tc = tcase_create("netns");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_bridge);
	tcase_add_test(tc, test_tap_lifecycle);
	tcase_add_test(tc, test_tap_foreign);
	tcase_add_test(tc, test_tap_dying);
	tcase_add_test(tc, test_tap_bridge_made_anew);
	tcase_add_test(tc, test_tap_bridge_index_taken);
	tcase_add_test(tc, test_tap_on_bridge_made_anew);
	tcase_add_test(tc, test_uplink_and_forwarding);
	tcase_add_test(tc, test_nat);
	tcase_add_test(tc, test_nat_add_creates_table);
	tcase_add_test(tc, test_nat_flush_batches);
	tcase_add_test(tc, test_nat_add_by_netlink);
	tcase_add_test(tc, test_nl_listing);
	tcase_add_test(tc, test_nl_listing_large);
	tcase_add_test(tc, test_nl_listing_consistent);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_VERBOSE);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
