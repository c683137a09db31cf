/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the nf_tables listing must make of tests/data/net/ruleset.nft: one
 * entry per rule of table inet banger, compared as a multiset.  Shared by
 * the integration test (a real kernel in a private namespace) and the unit
 * test (the kernel's answer recorded in ruleset.nldump).  Include after
 * <check.h>, drivers/nat.h, util/alloc.h, util/cleanup.h and util/name.h,
 * with ID1, ID2, TAP1 and TAP2 defined.
 */
#pragma once

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

static uint32_t
want_ip4(const char *s)
{
	uint32_t a = 0;

	if (s)
		ck_assert_int_eq(ipv4_parse(s, &a), 0);
	return a;
}

struct want {
	const char *chain;
	enum nat_rule_kind kind;
	const char *vm_id;	/* NULL: none */
	const char *tap;
	const char *ip;
	const char *uplink;
};

static bool
str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool
rule_is(const struct nat_rule *r, const struct want *w)
{
	return strcmp(r->chain, w->chain) == 0 && r->kind == w->kind &&
	       str_same(r->vm_id, w->vm_id) && str_same(r->tap, w->tap) &&
	       str_same(r->uplink, w->uplink) && r->ip == want_ip4(w->ip) &&
	       r->handle > 0;
}

/* rules and want are the same multiset. */
static void
expect_rules(const struct nat_rule *rules, size_t n, const struct want *want, size_t n_want)
{
	_cleanup_free_ bool *used = xcalloc(n_want + 1, sizeof(*used));

	ck_assert_uint_eq(n, n_want);
	for (size_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < n_want; j++)
			if (!used[j] && rule_is(&rules[i], &want[j]))
				break;
		if (j == n_want)
			ck_abort_msg("unexpected rule: chain %s handle %" PRIu64 " kind %s id %s "
				     "tap %s uplink %s",
				     rules[i].chain, rules[i].handle,
				     nat_rule_kind_to_string(rules[i].kind),
				     rules[i].vm_id ? rules[i].vm_id : "-",
				     rules[i].tap ? rules[i].tap : "-",
				     rules[i].uplink ? rules[i].uplink : "-");
		used[j] = true;
	}
}

static const struct want ruleset_want[] = {
	{ "postrouting", NAT_RULE_MASQUERADE, ID1, NULL, "10.0.0.2", "veth0" },
	{ "postrouting", NAT_RULE_MASQUERADE, ID2, NULL, "10.0.0.3", "abcdefghijklmno" },
	{ "postrouting", NAT_RULE_OTHER, NULL, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "postrouting", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "forward", NAT_RULE_ESTABLISHED, NULL, NULL, NULL, NULL },
	{ "forward", NAT_RULE_FORWARD, ID1, TAP1, NULL, "veth0" },
	{ "forward", NAT_RULE_OTHER, NULL, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, NULL, NULL, NULL, NULL },
	{ "forward", NAT_RULE_OTHER, NULL, NULL, NULL, NULL },
	/* the right shape, a comment that names no VM */
	{ "forward", NAT_RULE_FORWARD, NULL, TAP2, NULL, "veth0" },
	{ "extra", NAT_RULE_OTHER, ID1, NULL, NULL, NULL },
};
