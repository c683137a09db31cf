/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: a buffer of nf_tables rule messages (what the kernel answers
 * to banger's rule dump) through the listing's parser.  The kernel is not
 * expected to lie, but every attribute is read by length from a buffer:
 * any crash, leak, sanitizer report or hang is a bug.  What parses must be
 * whole: every rule has a chain and a handle, and a rule of a known kind
 * carries the names that kind needs.
 */
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/nat.h"
#include "util/name.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nat_rule *rules = NULL;
	size_t n = 0;
	void *buf;

	if (size > 1 << 20)
		return 0;
	/* Netlink messages are 4-byte aligned; give the parser an aligned copy. */
	buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (nat_nl_parse_rules(buf, size, &rules, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			const struct nat_rule *r = &rules[i];

			if (!r->chain || r->handle == 0)
				abort();
			if (r->kind == NAT_RULE_MASQUERADE &&
			    (!r->uplink || !r->uplink[0] || strlen(r->uplink) >= IFNAMSIZ || r->tap))
				abort();
			if (r->kind == NAT_RULE_FORWARD &&
			    (!r->tap || !r->tap[0] || strlen(r->tap) >= IFNAMSIZ || !r->uplink ||
			     !r->uplink[0] || strlen(r->uplink) >= IFNAMSIZ || r->ip))
				abort();
			if (r->vm_id && !name_is_vm_id(r->vm_id))
				abort();
		}
		nat_rules_free(rules, n);
	}
	free(buf);
	return 0;
}
