/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NAT ops: one nftables table that banger owns ("inet banger"), a
 * postrouting masquerade rule and forward accept rules per NAT-enabled VM,
 * each carrying the comment "banger id=ID".  The real backend (nat-nft.c)
 * uses libnftables; tests use the fake.  banger never edits another table.
 */
#pragma once

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define NAT_TABLE "banger"
#define NAT_COMMENT_PREFIX "banger id="

enum nat_rule_kind {
	NAT_RULE_MASQUERADE,	/* postrouting: ip saddr GUEST oifname UPLINK masquerade */
	NAT_RULE_FORWARD,	/* forward: iifname TAP oifname UPLINK accept */
	NAT_RULE_OTHER,		/* anything else found in banger's table */
	_NAT_RULE_KIND_MAX,
	_NAT_RULE_KIND_INVALID = -EINVAL,
};

struct nat_rule {
	enum nat_rule_kind kind;
	uint64_t handle;
	char *chain;
	char *vm_id;	/* from the comment; NULL when it has none */
	char *tap;	/* forward rules */
	uint32_t ip;	/* masquerade rules, host order */
	char *uplink;
};

void nat_rule_done(struct nat_rule *r);
void nat_rules_free(struct nat_rule *r, size_t n);

struct nat_ops {
	/* Create the table and its base chains (and the shared
	 * established/related rule) if missing. */
	int (*table_ensure)(void *userdata, struct error **err);
	/* Add the VM's masquerade and forward rules unless present (the
	 * planner deletes a VM's rules first when its address changed). */
	int (*vm_add)(void *userdata, const char *vm_id, const char *tap, uint32_t ip,
		      const char *uplink, struct error **err);
	/* Remove every rule whose comment names vm_id. */
	int (*vm_delete)(void *userdata, const char *vm_id, struct error **err);
	/* Remove one rule of banger's table by handle (orphans). */
	int (*rule_delete)(void *userdata, const char *chain, uint64_t handle, struct error **err);
	/* Every rule in banger's table; an absent table is an empty list. */
	int (*rule_list)(void *userdata, struct nat_rule **ret, size_t *ret_n, struct error **err);
	void *userdata;
};
