/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers declared by the driver ops headers and shared by every backend and
 * the fakes: alias format and parse, destructors of listed objects.  No host
 * access here.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/disk.h"
#include "drivers/hv.h"
#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
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
	for (size_t i = 0; l && i < n; i++)
		net_link_done(&l[i]);
	free(l);
}

char *
net_alias_format(const char *vm_name, const char *vm_id)
{
	return xasprintf(NET_ALIAS_PREFIX "vm=%s id=%s", vm_name, vm_id);
}

int
net_alias_parse(const char *alias, char **ret_vm_name, char **ret_vm_id)
{
	const char *p, *sp;
	char *name, *id;

	if (!alias || strncmp(alias, NET_ALIAS_PREFIX "vm=", strlen(NET_ALIAS_PREFIX "vm=")) != 0)
		return -EINVAL;
	p = alias + strlen(NET_ALIAS_PREFIX "vm=");
	sp = strchr(p, ' ');
	if (!sp || strncmp(sp, " id=", 4) != 0)
		return -EINVAL;
	name = xstrndup(p, (size_t)(sp - p));
	id = xstrdup(sp + 4);
	if (!name_is_dns_label(name) || !name_is_vm_id(id)) {
		free(name);
		free(id);
		return -EINVAL;
	}
	*ret_vm_name = name;
	*ret_vm_id = id;
	return 0;
}

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
	for (size_t i = 0; r && i < n; i++)
		nat_rule_done(&r[i]);
	free(r);
}

void
disk_obj_done(struct disk_obj *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->backing);
	memset(o, 0, sizeof(*o));
}

void
disk_objs_free(struct disk_obj *o, size_t n)
{
	for (size_t i = 0; o && i < n; i++)
		disk_obj_done(&o[i]);
	free(o);
}

void
hv_procs_free(struct hv_proc *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].api_socket);
	free(p);
}
