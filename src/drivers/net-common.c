/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Pure helpers shared by every net backend (and the fake): the interface
 * alias that marks a tap as banger's, name checks, link records.  No host
 * access and no library header here.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

void
net_link_done(struct net_link *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->alias);
	free(l->master);
	free(l->vm_name);
	free(l->vm_id);
	memset(l, 0, sizeof(*l));
}

void
net_links_free(struct net_link *l, size_t n)
{
	if (!l)
		return;
	for (size_t i = 0; i < n; i++)
		net_link_done(&l[i]);
	free(l);
}

char *
net_alias_format(const char *vm_name, const char *vm_id)
{
	return xasprintf(NET_ALIAS_PREFIX "vm=%s id=%s", vm_name, vm_id);
}

/*
 * The alias is exactly "banger vm=NAME id=ID": NAME a DNS label, ID a VM id,
 * single spaces, nothing else.  Anything looser would let a hand-made alias
 * claim to be ours in more than one spelling.
 */
int
net_alias_parse(const char *alias, char **ret_vm_name, char **ret_vm_id)
{
	static const char vm_key[] = NET_ALIAS_PREFIX "vm=";
	static const char id_key[] = " id=";
	_cleanup_free_ char *name = NULL;
	const char *p, *sp;

	if (!alias || strncmp(alias, vm_key, strlen(vm_key)) != 0)
		return -EINVAL;
	p = alias + strlen(vm_key);
	sp = strchr(p, ' ');
	if (!sp)
		return -EINVAL;
	name = xstrndup(p, (size_t)(sp - p));
	if (!name_is_dns_label(name))
		return -EINVAL;
	if (strncmp(sp, id_key, strlen(id_key)) != 0)
		return -EINVAL;
	p = sp + strlen(id_key);
	if (!name_is_vm_id(p))
		return -EINVAL;
	if (ret_vm_id)
		*ret_vm_id = xstrdup(p);
	if (ret_vm_name)
		*ret_vm_name = TAKE_PTR(name);
	return 0;
}

bool
net_tap_name_is_valid(const char *s)
{
	size_t plen = strlen(TAP_PREFIX);

	if (!s || strncmp(s, TAP_PREFIX, plen) != 0 || strlen(s) != plen + 8)
		return false;
	for (const char *p = s + plen; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

bool
net_ifname_is_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 15 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '_' || c == '.' || c == '-')
			continue;
		return false;
	}
	return true;
}
