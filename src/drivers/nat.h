/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * NAT ops: one nftables table that banger owns ("inet banger"), a
 * postrouting masquerade rule and forward accept rules per NAT-enabled VM,
 * each carrying the comment "banger id=ID".  The real backend writes with
 * libnftables (nat-nft.c) and reads over nf_tables netlink (nat-nl.c);
 * tests use the fake.  banger never edits another table.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

#define NAT_TABLE "banger"
#define NAT_COMMENT_PREFIX "banger id="
/* Comment of the one shared "ct state established,related accept" rule. */
#define NAT_COMMENT_SHARED "banger shared"
#define NAT_CHAIN_POSTROUTING "postrouting"
#define NAT_CHAIN_FORWARD "forward"

enum nat_rule_kind {
	NAT_RULE_MASQUERADE,	/* postrouting: ip saddr GUEST oifname UPLINK masquerade */
	NAT_RULE_FORWARD,	/* forward: iifname TAP oifname UPLINK accept */
	NAT_RULE_OTHER,		/* anything else found in banger's table */
	NAT_RULE_ESTABLISHED,	/* forward: the shared ct state established,related accept */
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

const char *nat_rule_kind_to_string(enum nat_rule_kind k);
enum nat_rule_kind nat_rule_kind_from_string(const char *s);

/* "banger id=ID" into a new string; NULL when vm_id is not a VM id. */
char *nat_comment_format(const char *vm_id);
/* The VM id of a comment, -EINVAL when it is not "banger id=<VM id>". */
int nat_comment_parse(const char *comment, char **ret_vm_id);

/*
 * nft commands (one per line, newline-terminated) creating table inet banger,
 * its two base chains and the shared established/related rule.  Static.
 */
const char *nat_render_table(void);
const char *nat_render_chains(void);
const char *nat_render_shared_rule(void);
/*
 * One "add rule" command for a VM's masquerade or forward rule.  Every value
 * is checked before it is rendered (VM id, tap name, uplink name), so no
 * input can inject nft syntax: -EINVAL otherwise.  Caller frees *ret.
 */
int nat_render_masquerade(const char *vm_id, uint32_t ip, const char *uplink, char **ret);
int nat_render_forward(const char *vm_id, const char *tap, const char *uplink, char **ret);
/* "delete rule inet banger CHAIN handle N"; -EINVAL on a bad chain name or handle 0. */
int nat_render_delete(const char *chain, uint64_t handle, char **ret);
/* A chain name that is safe to render: [A-Za-z][A-Za-z0-9_-]{0,63}. */
bool nat_chain_is_valid(const char *s);

/* Base chains a listing found (see nat_nl_list). */
#define NAT_HAS_POSTROUTING 1u
#define NAT_HAS_FORWARD 2u

/*
 * banger's table read straight from the kernel (nf_tables netlink, libmnl):
 * every rule of the table (struct nat_rule, classified by its expressions),
 * whether the table exists, and in *ret_chains (may be NULL) a bit per base
 * chain found with banger's name, type and hook.  The listing is consistent: it
 * is done again when the ruleset generation moved while it ran.  An absent
 * table is an empty listing.  Errors: the kernel's (-EPERM...), -EBADMSG on
 * a malformed answer, -EAGAIN when the ruleset never held still.
 */
struct nat_nl;
int nat_nl_new(struct nat_nl **ret, struct error **err);
struct nat_nl *nat_nl_free(struct nat_nl *s);
static inline void
nat_nl_freep(struct nat_nl **s)
{
	*s = nat_nl_free(*s);
}
int nat_nl_list(struct nat_nl *s, struct nat_rule **ret, size_t *ret_n, bool *ret_has_table,
		unsigned *ret_chains, struct error **err);
/* Tests and fuzzing: the rules of banger's table in a buffer of nf_tables
 * rule messages (a dump's answer), as nat_nl_list reads them.  -EBADMSG (or
 * the errno of an error message in it) on what does not parse. */
int nat_nl_parse_rules(const void *buf, size_t len, struct nat_rule **ret, size_t *ret_n);
/* Tests only: fn runs in every listing pass between the table and its rules
 * (to change the ruleset under it).  NULL: none. */
void nat_nl_test_between(void (*fn)(void *userdata), void *userdata);
/*
 * Append the VM's masquerade rule (masq) and forward rule (fwd) to banger's
 * chains, which must exist, in one nf_tables transaction: the expressions
 * and comment nft makes of nat-common.c's renderers, built as netlink
 * messages (no command to parse, no cache to list).  Every value is checked.
 */
int nat_nl_add_vm_rules(struct nat_nl *s, const char *vm_id, uint32_t ip, const char *tap,
			const char *uplink, bool masq, bool fwd, struct error **err);

struct nat_ops {
	/* Create the table and its base chains (and the shared
	 * established/related rule) if missing. */
	int (*table_ensure)(void *userdata, struct error **err);
	/* Add the VM's masquerade and forward rules unless present (the
	 * planner deletes a VM's rules first when its address changed). */
	int (*vm_add)(void *userdata, const char *vm_id, const char *tap, uint32_t ip,
		      const char *uplink, struct error **err);
	/* Remove every rule whose comment names vm_id.  The real backend only
	 * queues the deletes (the rules keep their comment: still banger's,
	 * still that VM's) and flush sends them, one transaction for all. */
	int (*vm_delete)(void *userdata, const char *vm_id, struct error **err);
	/* Send what vm_delete queued.  NULL: vm_delete deletes at once. */
	int (*flush)(void *userdata, struct error **err);
	/* Remove one rule of banger's table by handle (orphans). */
	int (*rule_delete)(void *userdata, const char *chain, uint64_t handle, struct error **err);
	/* Every rule in banger's table; an absent table is an empty list. */
	int (*rule_list)(void *userdata, struct nat_rule **ret, size_t *ret_n, struct error **err);
	void *userdata;
};

/*
 * The real backend: libnftables, one context, no nft process.  Free with
 * nat_nft_free().  Every write is one nft transaction.  vm_add also creates
 * what table_ensure would, and replaces rules of that id that do not match
 * (another uplink, address or tap; duplicates).  rule_list returns the
 * shared rule as NAT_RULE_ESTABLISHED with vm_id NULL.  Errors: -EINVAL for
 * any value that fails its check (nothing is sent); libnftables' errors map
 * to -ENOENT, -EEXIST, -EPERM... from their text, else -EIO.
 */
int nat_nft_new(struct nat_ops **ret, struct error **err);
struct nat_ops *nat_nft_free(struct nat_ops *ops);
