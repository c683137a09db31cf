/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure helpers of the NAT driver: rule records, the comment that names a VM,
 * rendering of nft commands from checked values only.  No host access.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
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
