/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure helpers of the NAT driver: rule records, the comment that names a VM,
 * rendering of nft commands from checked values only, and the mapping of
 * libnftables' JSON listing to struct nat_rule.  No host access; jansson is
 * the only library used.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

void
nat_rule_done(struct nat_rule *r)
{
	if (!r)
		return;
	free(r->chain);
	free(r->vm_id);
	free(r->tap);
	free(r->uplink);
	memset(r, 0, sizeof(*r));
}

void
nat_rules_free(struct nat_rule *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++)
		nat_rule_done(&r[i]);
	free(r);
}

static const char *const nat_rule_kind_table[_NAT_RULE_KIND_MAX] = {
	[NAT_RULE_MASQUERADE] = "masquerade",
	[NAT_RULE_FORWARD] = "forward",
	[NAT_RULE_OTHER] = "other",
	[NAT_RULE_ESTABLISHED] = "established",
};

const char *
nat_rule_kind_to_string(enum nat_rule_kind k)
{
	if (k < 0 || k >= _NAT_RULE_KIND_MAX)
		return NULL;
	return nat_rule_kind_table[k];
}

enum nat_rule_kind
nat_rule_kind_from_string(const char *s)
{
	if (!s)
		return _NAT_RULE_KIND_INVALID;
	for (int k = 0; k < _NAT_RULE_KIND_MAX; k++)
		if (strcmp(nat_rule_kind_table[k], s) == 0)
			return (enum nat_rule_kind)k;
	return _NAT_RULE_KIND_INVALID;
}

char *
nat_comment_format(const char *vm_id)
{
	if (!name_is_vm_id(vm_id))
		return NULL;
	return xasprintf(NAT_COMMENT_PREFIX "%s", vm_id);
}

int
nat_comment_parse(const char *comment, char **ret_vm_id)
{
	size_t plen = strlen(NAT_COMMENT_PREFIX);

	if (!comment || strncmp(comment, NAT_COMMENT_PREFIX, plen) != 0 ||
	    !name_is_vm_id(comment + plen))
		return -EINVAL;
	if (ret_vm_id)
		*ret_vm_id = xstrdup(comment + plen);
	return 0;
}

bool
nat_chain_is_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64)
		return false;
	if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '-')
			continue;
		return false;
	}
	return true;
}

/*
 * The forward chain keeps policy accept: banger only adds accepts for its
 * own taps and must not change how the host forwards anything else.
 */
const char *
nat_render_table(void)
{
	return "add table inet " NAT_TABLE "\n";
}

const char *
nat_render_chains(void)
{
	return "add chain inet " NAT_TABLE " " NAT_CHAIN_POSTROUTING
	       " { type nat hook postrouting priority srcnat; policy accept; }\n"
	       "add chain inet " NAT_TABLE " " NAT_CHAIN_FORWARD
	       " { type filter hook forward priority filter; policy accept; }\n";
}

const char *
nat_render_shared_rule(void)
{
	return "add rule inet " NAT_TABLE " " NAT_CHAIN_FORWARD
	       " ct state established,related accept comment \"" NAT_COMMENT_SHARED "\"\n";
}

int
nat_render_masquerade(const char *vm_id, uint32_t ip, const char *uplink, char **ret)
{
	char a[16];

	if (!name_is_vm_id(vm_id) || !net_ifname_is_valid(uplink) || ip == 0)
		return -EINVAL;
	ipv4_format(ip, a);
	*ret = xasprintf("add rule inet " NAT_TABLE " " NAT_CHAIN_POSTROUTING
			 " ip saddr %s oifname \"%s\" masquerade comment \"" NAT_COMMENT_PREFIX
			 "%s\"\n",
			 a, uplink, vm_id);
	return 0;
}

int
nat_render_forward(const char *vm_id, const char *tap, const char *uplink, char **ret)
{
	if (!name_is_vm_id(vm_id) || !net_tap_name_is_valid(tap) || !net_ifname_is_valid(uplink))
		return -EINVAL;
	*ret = xasprintf("add rule inet " NAT_TABLE " " NAT_CHAIN_FORWARD
			 " iifname \"%s\" oifname \"%s\" accept comment \"" NAT_COMMENT_PREFIX
			 "%s\"\n",
			 tap, uplink, vm_id);
	return 0;
}

int
nat_render_delete(const char *chain, uint64_t handle, char **ret)
{
	if (!nat_chain_is_valid(chain) || handle == 0)
		return -EINVAL;
	*ret = xasprintf("delete rule inet " NAT_TABLE " %s handle %" PRIu64 "\n", chain, handle);
	return 0;
}

/* JSON shapes of libnftables 1.0 listings (json_schema_version 1). */

static bool
str_eq(json_t *v, const char *s)
{
	return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

/* {"match": {"op": "==", "left": {"meta": {"key": KEY}}, "right": "STRING"}} */
static const char *
match_meta(json_t *e, const char *key)
{
	json_t *m = json_object_get(e, "match"), *left, *right;

	if (!json_is_object(m) || !str_eq(json_object_get(m, "op"), "=="))
		return NULL;
	left = json_object_get(json_object_get(m, "left"), "meta");
	right = json_object_get(m, "right");
	if (!json_is_object(left) || !str_eq(json_object_get(left, "key"), key) ||
	    !json_is_string(right))
		return NULL;
	return json_string_value(right);
}

/* {"match": {"op": "==", "left": {"payload": {"protocol": P, "field": F}}, "right": "S"}} */
static const char *
match_payload(json_t *e, const char *proto, const char *field)
{
	json_t *m = json_object_get(e, "match"), *left, *right;

	if (!json_is_object(m) || !str_eq(json_object_get(m, "op"), "=="))
		return NULL;
	left = json_object_get(json_object_get(m, "left"), "payload");
	right = json_object_get(m, "right");
	if (!json_is_object(left) || !str_eq(json_object_get(left, "protocol"), proto) ||
	    !str_eq(json_object_get(left, "field"), field) || !json_is_string(right))
		return NULL;
	return json_string_value(right);
}

/* {"VERB": null}, nothing else in the object. */
static bool
is_statement(json_t *e, const char *verb)
{
	return json_is_object(e) && json_object_size(e) == 1 && json_object_get(e, verb) &&
	       json_is_null(json_object_get(e, verb));
}

/* {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}} */
static bool
is_ct_established_related(json_t *e)
{
	json_t *m = json_object_get(e, "match"), *left, *right;
	bool est = false, rel = false;
	size_t i;
	json_t *v;

	if (!json_is_object(m) || !str_eq(json_object_get(m, "op"), "in"))
		return false;
	left = json_object_get(json_object_get(m, "left"), "ct");
	right = json_object_get(m, "right");
	if (!json_is_object(left) || !str_eq(json_object_get(left, "key"), "state") ||
	    !json_is_array(right) || json_array_size(right) != 2)
		return false;
	json_array_foreach(right, i, v) {
		if (str_eq(v, "established"))
			est = true;
		else if (str_eq(v, "related"))
			rel = true;
	}
	return est && rel;
}

static void
classify(struct nat_rule *r, json_t *expr)
{
	const char *a, *b;
	uint32_t ip;

	r->kind = NAT_RULE_OTHER;
	if (!json_is_array(expr))
		return;
	if (strcmp(r->chain, NAT_CHAIN_POSTROUTING) == 0 && json_array_size(expr) == 3) {
		a = match_payload(json_array_get(expr, 0), "ip", "saddr");
		b = match_meta(json_array_get(expr, 1), "oifname");
		if (a && b && ipv4_parse(a, &ip) == 0 &&
		    is_statement(json_array_get(expr, 2), "masquerade")) {
			r->kind = NAT_RULE_MASQUERADE;
			r->ip = ip;
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && json_array_size(expr) == 3) {
		a = match_meta(json_array_get(expr, 0), "iifname");
		b = match_meta(json_array_get(expr, 1), "oifname");
		if (a && b && is_statement(json_array_get(expr, 2), "accept")) {
			r->kind = NAT_RULE_FORWARD;
			r->tap = xstrdup(a);
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && json_array_size(expr) == 2) {
		if (is_ct_established_related(json_array_get(expr, 0)) &&
		    is_statement(json_array_get(expr, 1), "accept"))
			r->kind = NAT_RULE_ESTABLISHED;
	}
}

static bool
is_our_table(json_t *o, const char *table_key)
{
	return str_eq(json_object_get(o, "family"), "inet") &&
	       str_eq(json_object_get(o, table_key), NAT_TABLE);
}

int
nat_rules_parse_json(const char *json, struct nat_rule **ret, size_t *ret_n,
		     bool *ret_has_table, unsigned *ret_chains, struct error **err)
{
	json_t *root = NULL, *items, *item;
	struct nat_rule *rules = NULL;
	size_t n = 0, i;
	bool has_table = false;
	unsigned chains = 0;
	json_error_t jerr;
	int r = 0;

	root = json_loads(json ? json : "", 0, &jerr);
	if (!root)
		return error_set(err, -EBADMSG, "nft listing: line %d: %s", jerr.line, jerr.text);
	items = json_object_get(root, "nftables");
	if (!json_is_array(items)) {
		r = error_set(err, -EBADMSG, "nft listing: no 'nftables' array");
		goto out;
	}
	json_array_foreach(items, i, item) {
		json_t *o;

		if ((o = json_object_get(item, "table"))) {
			if (is_our_table(o, "name"))
				has_table = true;
		} else if ((o = json_object_get(item, "chain"))) {
			if (!is_our_table(o, "table"))
				continue;
			if (str_eq(json_object_get(o, "name"), NAT_CHAIN_POSTROUTING) &&
			    str_eq(json_object_get(o, "hook"), "postrouting") &&
			    str_eq(json_object_get(o, "type"), "nat"))
				chains |= NAT_HAS_POSTROUTING;
			else if (str_eq(json_object_get(o, "name"), NAT_CHAIN_FORWARD) &&
				 str_eq(json_object_get(o, "hook"), "forward") &&
				 str_eq(json_object_get(o, "type"), "filter"))
				chains |= NAT_HAS_FORWARD;
		} else if ((o = json_object_get(item, "rule"))) {
			json_t *chain = json_object_get(o, "chain"), *handle, *comment;
			struct nat_rule *nr;

			if (!is_our_table(o, "table"))
				continue;
			handle = json_object_get(o, "handle");
			if (!json_is_string(chain) || !json_is_integer(handle) ||
			    json_integer_value(handle) <= 0) {
				r = error_set(err, -EBADMSG,
					      "nft listing: rule without chain or handle");
				goto out;
			}
			rules = xappend(rules, &n, sizeof(*rules), (void **)&nr);
			nr->handle = (uint64_t)json_integer_value(handle);
			nr->chain = xstrdup(json_string_value(chain));
			comment = json_object_get(o, "comment");
			if (json_is_string(comment))
				(void)nat_comment_parse(json_string_value(comment), &nr->vm_id);
			classify(nr, json_object_get(o, "expr"));
		}
	}
	*ret = TAKE_PTR(rules);
	*ret_n = n;
	if (ret_has_table)
		*ret_has_table = has_table;
	if (ret_chains)
		*ret_chains = chains;
out:
	nat_rules_free(rules, n);
	json_decref(root);
	return r;
}
