/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for the pure parts of the net and nat drivers: the tap alias,
 * name checks, nft command rendering and the mapping of captured
 * libnftables JSON listings (tests/data/net/) to rules.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <linux/netlink.h>
#include <string.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/name.h"

#define ID1 "0123456789abcdef0123456789abcdef"
#define ID2 "fedcba9876543210fedcba9876543210"
#define TAP1 "bgr-01234567"
#define TAP2 "bgr-fedcba98"

#include "../data/net/ruleset-want.h"

START_TEST(test_alias_roundtrip)
{
	_cleanup_free_ char *a = NULL, *name = NULL, *id = NULL;

	a = net_alias_format("web1", ID1);
	ck_assert_str_eq(a, "banger vm=web1 id=" ID1);
	ck_assert_int_eq(net_alias_parse(a, &name, &id), 0);
	ck_assert_str_eq(name, "web1");
	ck_assert_str_eq(id, ID1);
	ck_assert_int_eq(net_alias_parse(a, NULL, NULL), 0);
}
END_TEST

START_TEST(test_alias_rejects)
{
	static const char *const bad[] = {
		"",
		"banger",
		"banger vm=web1",
		"banger vm=web1 id=",
		"banger vm=web1 id=" ID1 " ",
		"banger vm=web1 id=" ID1 "0",
		"banger vm=web1 id=0123456789ABCDEF0123456789ABCDEF",
		"banger vm=Web1 id=" ID1,
		"banger vm= id=" ID1,
		"banger vm=web1  id=" ID1,
		"banger  vm=web1 id=" ID1,
		" banger vm=web1 id=" ID1,
		"banger id=" ID1 " vm=web1",
		"bangers vm=web1 id=" ID1,
		"banger vm=web_1 id=" ID1,
	};
	char *name = NULL, *id = NULL;

	for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
		ck_assert_msg(net_alias_parse(bad[i], &name, &id) == -EINVAL, "accepted '%s'",
			      bad[i]);
		ck_assert_ptr_null(name);
		ck_assert_ptr_null(id);
	}
	ck_assert_int_eq(net_alias_parse(NULL, &name, &id), -EINVAL);
}
END_TEST

START_TEST(test_tap_names)
{
	char tap[16];

	name_tap_from_id(ID1, tap);
	ck_assert_str_eq(tap, "bgr-01234567");
	ck_assert(net_tap_name_is_valid(tap));
	ck_assert(!net_tap_name_is_valid("bgr-0123456"));
	ck_assert(!net_tap_name_is_valid("bgr-012345678"));
	ck_assert(!net_tap_name_is_valid("bgr-0123456G"));
	ck_assert(!net_tap_name_is_valid("bgr-0123456A"));
	ck_assert(!net_tap_name_is_valid("tap-01234567"));
	ck_assert(!net_tap_name_is_valid("bgr-\"1234567"));
	ck_assert(!net_tap_name_is_valid(""));
	ck_assert(!net_tap_name_is_valid(NULL));
}
END_TEST

START_TEST(test_ifnames)
{
	ck_assert(net_ifname_is_valid("eth0"));
	ck_assert(net_ifname_is_valid("enp0s31f6"));
	ck_assert(net_ifname_is_valid("br-lan.10"));
	ck_assert(net_ifname_is_valid("a23456789012345"));
	ck_assert(!net_ifname_is_valid("a234567890123456"));
	ck_assert(!net_ifname_is_valid(""));
	ck_assert(!net_ifname_is_valid(NULL));
	ck_assert(!net_ifname_is_valid("."));
	ck_assert(!net_ifname_is_valid(".."));
	ck_assert(!net_ifname_is_valid("eth0\""));
	ck_assert(!net_ifname_is_valid("eth 0"));
	ck_assert(!net_ifname_is_valid("eth0;"));
	ck_assert(!net_ifname_is_valid("a/b"));
	ck_assert(!net_ifname_is_valid("eth0\n"));
}
END_TEST

START_TEST(test_comment)
{
	_cleanup_free_ char *c = NULL, *id = NULL;

	c = nat_comment_format(ID1);
	ck_assert_str_eq(c, "banger id=" ID1);
	ck_assert_int_eq(nat_comment_parse(c, &id), 0);
	ck_assert_str_eq(id, ID1);
	ck_assert_ptr_null(nat_comment_format("xyz"));
	ck_assert_int_eq(nat_comment_parse("banger id=0123", NULL), -EINVAL);
	ck_assert_int_eq(nat_comment_parse("banger shared", NULL), -EINVAL);
	ck_assert_int_eq(nat_comment_parse("banger id=" ID1 "x", NULL), -EINVAL);
	ck_assert_int_eq(nat_comment_parse(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(test_render_rules)
{
	_cleanup_free_ char *m = NULL, *f = NULL, *d = NULL;
	uint32_t ip;
	char *x = NULL;

	ck_assert_int_eq(ipv4_parse("10.0.0.2", &ip), 0);
	ck_assert_int_eq(nat_render_masquerade(ID1, ip, "eth0", &m), 0);
	ck_assert_str_eq(m, "add rule inet banger postrouting ip saddr 10.0.0.2 oifname \"eth0\" "
			    "masquerade comment \"banger id=" ID1 "\"\n");
	ck_assert_int_eq(nat_render_forward(ID1, "bgr-01234567", "eth0", &f), 0);
	ck_assert_str_eq(f, "add rule inet banger forward iifname \"bgr-01234567\" oifname "
			    "\"eth0\" accept comment \"banger id=" ID1 "\"\n");
	ck_assert_int_eq(nat_render_delete("forward", 42, &d), 0);
	ck_assert_str_eq(d, "delete rule inet banger forward handle 42\n");

	/* Nothing that could carry nft syntax is ever rendered. */
	ck_assert_int_eq(nat_render_masquerade(ID1, ip, "eth0\" accept", &x), -EINVAL);
	ck_assert_int_eq(nat_render_masquerade(ID1, ip, "eth0;flush", &x), -EINVAL);
	ck_assert_int_eq(nat_render_masquerade("0123\" drop", ip, "eth0", &x), -EINVAL);
	ck_assert_int_eq(nat_render_masquerade(ID1, 0, "eth0", &x), -EINVAL);
	ck_assert_int_eq(nat_render_forward(ID1, "eth1", "eth0", &x), -EINVAL);
	ck_assert_int_eq(nat_render_forward(ID1, "bgr-0123456\"", "eth0", &x), -EINVAL);
	ck_assert_int_eq(nat_render_forward(ID1, "bgr-01234567", "", &x), -EINVAL);
	ck_assert_int_eq(nat_render_forward(ID2 "0", "bgr-01234567", "eth0", &x), -EINVAL);
	ck_assert_int_eq(nat_render_delete("forward; flush ruleset", 1, &x), -EINVAL);
	ck_assert_int_eq(nat_render_delete("forward", 0, &x), -EINVAL);
	ck_assert_int_eq(nat_render_delete("", 3, &x), -EINVAL);
	ck_assert_ptr_null(x);
}
END_TEST

START_TEST(test_render_table)
{
	ck_assert_str_eq(nat_render_table(), "add table inet banger\n");
	ck_assert_ptr_nonnull(strstr(nat_render_chains(),
				     "add chain inet banger postrouting { type nat hook postrouting "
				     "priority srcnat; policy accept; }\n"));
	ck_assert_ptr_nonnull(strstr(nat_render_chains(),
				     "add chain inet banger forward { type filter hook forward "
				     "priority filter; policy accept; }\n"));
	ck_assert_str_eq(nat_render_shared_rule(),
			 "add rule inet banger forward ct state established,related accept "
			 "comment \"banger shared\"\n");
}
END_TEST

START_TEST(test_kind_strings)
{
	ck_assert_str_eq(nat_rule_kind_to_string(NAT_RULE_MASQUERADE), "masquerade");
	ck_assert_str_eq(nat_rule_kind_to_string(NAT_RULE_ESTABLISHED), "established");
	ck_assert_ptr_null(nat_rule_kind_to_string(_NAT_RULE_KIND_MAX));
	ck_assert_int_eq(nat_rule_kind_from_string("forward"), NAT_RULE_FORWARD);
	ck_assert_int_eq(nat_rule_kind_from_string("other"), NAT_RULE_OTHER);
	ck_assert_int_eq(nat_rule_kind_from_string("nope"), _NAT_RULE_KIND_INVALID);
}
END_TEST

static char *
read_data(const char *name, size_t *len)
{
	const char *top = getenv("top_srcdir");
	_cleanup_free_ char *path = xasprintf("%s/tests/data/net/%s", top ? top : "..", name);
	char *data = NULL;

	ck_assert_int_eq(read_file(path, 1 << 20, &data, len), 0);
	return data;
}

/*
 * The kernel's answer to banger's rule dump of ruleset.nft, recorded (a
 * 6.18 kernel, nft 1.0.6): the parser alone, without a kernel, must make
 * of it what the integration test makes of the live table.  inet.nldump is
 * the dump of every inet table: the rules of "inet bangers" are skipped.
 */
START_TEST(test_nl_parse_recorded)
{
	static const char *const files[] = { "ruleset.nldump", "inet.nldump" };

	for (size_t f = 0; f < ELEMENTSOF(files); f++) {
		size_t len = 0, n = 0;
		_cleanup_free_ char *data = read_data(files[f], &len);
		struct nat_rule *rules = NULL;

		ck_assert_int_eq(nat_nl_parse_rules(data, len, &rules, &n), 0);
		expect_rules(rules, n, ruleset_want, ELEMENTSOF(ruleset_want));
		nat_rules_free(rules, n);
	}
}
END_TEST

/* Cut short anywhere, or with one byte changed anywhere: an error or fewer
 * rules, never a read outside the buffer (ASan) or a rule without its
 * chain and handle. */
START_TEST(test_nl_parse_damaged)
{
	size_t len = 0;
	_cleanup_free_ char *data = read_data("ruleset.nldump", &len);
	_cleanup_free_ char *copy = xmalloc(len);

	for (size_t cut = 0; cut < len; cut++) {
		struct nat_rule *rules = NULL;
		size_t n = 0;

		memcpy(copy, data, cut);
		if (nat_nl_parse_rules(copy, cut, &rules, &n) == 0) {
			ck_assert_uint_le(n, ELEMENTSOF(ruleset_want));
			for (size_t i = 0; i < n; i++)
				ck_assert(rules[i].chain && rules[i].handle);
			nat_rules_free(rules, n);
		}
	}
	for (size_t at = 0; at < len; at++) {
		struct nat_rule *rules = NULL;
		size_t n = 0;

		memcpy(copy, data, len);
		copy[at] ^= (char)0xa5;
		if (nat_nl_parse_rules(copy, len, &rules, &n) == 0) {
			for (size_t i = 0; i < n; i++)
				ck_assert(rules[i].chain && rules[i].handle);
			nat_rules_free(rules, n);
		}
	}
}
END_TEST

/* An error message in the answer is its errno. */
START_TEST(test_nl_parse_error_message)
{
	struct {
		struct nlmsghdr h;
		struct nlmsgerr e;
	} m = { 0 };
	struct nat_rule *rules = NULL;
	size_t n = 0;

	m.h.nlmsg_len = sizeof(m);
	m.h.nlmsg_type = NLMSG_ERROR;
	m.e.error = -EPERM;
	ck_assert_int_eq(nat_nl_parse_rules(&m, sizeof(m), &rules, &n), -EPERM);
	ck_assert_ptr_null(rules);
}
END_TEST

START_TEST(test_link_done)
{
	struct net_link *l = xcalloc(2, sizeof(*l));

	l[0].name = xstrdup("bgr-01234567");
	l[0].alias = net_alias_format("a", ID1);
	ck_assert_int_eq(net_alias_parse(l[0].alias, &l[0].vm_name, &l[0].vm_id), 0);
	l[1].name = xstrdup("bgr-x");
	l[1].master = xstrdup("br0");
	net_link_done(&l[1]);
	ck_assert_ptr_null(l[1].name);
	ck_assert_ptr_null(l[1].master);
	net_link_done(NULL);
	net_links_free(l, 2);
	net_links_free(NULL, 0);
	nat_rules_free(NULL, 0);
}
END_TEST

static Suite *
net_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_alias_roundtrip);
	tcase_add_test(tc, test_alias_rejects);
	tcase_add_test(tc, test_tap_names);
	tcase_add_test(tc, test_ifnames);
	tcase_add_test(tc, test_comment);
	tcase_add_test(tc, test_render_rules);
	tcase_add_test(tc, test_render_table);
	tcase_add_test(tc, test_kind_strings);
	tcase_add_test(tc, test_nl_parse_recorded);
	tcase_add_test(tc, test_nl_parse_damaged);
	tcase_add_test(tc, test_nl_parse_error_message);
	tcase_add_test(tc, test_link_done);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(net_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
