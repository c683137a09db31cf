/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Host networking ops: the bridge and the VMs' taps.  The real backend
 * (net-netlink.c) uses libnl-route-3 and /dev/net/tun; tests use the fake in
 * tests/fakes/.  Every op is idempotent: when the end state already holds it
 * succeeds.  Ops refuse names outside banger's namespace (TAP_PREFIX) with
 * -EPERM.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* Interface alias carried by every banger tap: "banger vm=NAME id=ID". */
#define NET_ALIAS_PREFIX "banger "
/* The link group of taps on their way out ("bgrd"): see tap_delete. */
#define NET_TAP_GROUP_DYING UINT32_C(0x62677264)

struct net_link {
	char *name;
	char *alias;	/* NULL when the link has none */
	char *master;	/* enslaving bridge, NULL when none */
	bool up;
	bool carrier;	/* a process has the tap open (a running guest's) */
	bool owned;	/* name has TAP_PREFIX and alias parses as banger's */
	char *vm_name;	/* from the alias, when owned */
	char *vm_id;	/* from the alias, when owned */
};

void net_link_done(struct net_link *l);
void net_links_free(struct net_link *l, size_t n);

/* Format the alias for a VM into a new string. */
char *net_alias_format(const char *vm_name, const char *vm_id);
/* Parse an alias; -EINVAL when it is not banger's.  Caller owns the outputs. */
int net_alias_parse(const char *alias, char **ret_vm_name, char **ret_vm_id);

/* A tap name banger may create: TAP_PREFIX followed by exactly 8 lower-case hex. */
bool net_tap_name_is_valid(const char *s);
/*
 * An interface name that is safe to render into a command or netlink request:
 * 1..15 bytes of [A-Za-z0-9_.-], not "." or "..".  Stricter than the kernel.
 */
bool net_ifname_is_valid(const char *s);

struct net_ops {
	/* Create the bridge if missing, give it addr/prefix, bring it up.  An
	 * existing bridge with another address is -EEXIST (reported, not rewritten). */
	int (*bridge_ensure)(void *userdata, const char *bridge, uint32_t addr, unsigned prefix,
			     struct error **err);
	/* Create or adopt tap, set its alias, enslave it to bridge, set it up
	 * (also re-enslaves and sets up an existing tap of this VM).
	 * An existing link of that name without banger's alias is -EEXIST and is
	 * left alone. */
	int (*tap_ensure)(void *userdata, const char *tap, const char *bridge, const char *vm_name,
			  const char *vm_id, struct error **err);
	/* Delete tap if it exists and is banger's (alias with vm_id).  The real
	 * backend only moves it to link group NET_TAP_GROUP_DYING (alias kept:
	 * still banger's, still this VM's) and tap_flush deletes it. */
	int (*tap_delete)(void *userdata, const char *tap, const char *vm_id, struct error **err);
	/* Delete the taps tap_delete gave up, in one request (the kernel then
	 * waits for one RCU grace period, not one per tap).  NULL: tap_delete
	 * deletes at once. */
	int (*tap_flush)(void *userdata, struct error **err);
	/* Every link whose name starts with TAP_PREFIX, owned or not, one dump. */
	int (*link_list)(void *userdata, struct net_link **ret, size_t *ret_n, struct error **err);
	/* Turn IPv4 forwarding on (idempotent). */
	int (*forwarding_ensure)(void *userdata, struct error **err);
	/* Resolve "auto" to the default route's interface; check a named one exists. */
	int (*uplink_resolve)(void *userdata, const char *uplink, char **ret, struct error **err);
	/* Whether IPv4 forwarding is on (status/doctor).  May be NULL in fakes. */
	int (*forwarding_get)(void *userdata, bool *ret, struct error **err);
	void *userdata;
};

/*
 * The real backend: libnl-route-3 for links, addresses and routes,
 * /dev/net/tun for tap creation.  Opens one rtnetlink socket in the caller's
 * network namespace.  Free with net_netlink_free().
 *
 * Its errors, beyond the kernel's own:
 *   bridge_ensure  -EINVAL bad name/address; -EPERM name with TAP_PREFIX;
 *                  -EEXIST a non-bridge link of that name, or another IPv4
 *                  address (or prefix) on the bridge.
 *   tap_ensure     -EPERM tap not TAP_PREFIX + 8 hex; -EINVAL bad vm name/id
 *                  or bridge not a bridge; -ENOENT bridge missing (nothing
 *                  created); -EEXIST link exists without this vm id's alias or
 *                  is not a tun device.  A tap it created is removed again
 *                  when the netlink step fails.
 *   tap_delete     -EPERM bad tap name; -EEXIST the link is not this vm's.
 *   uplink_resolve -ENETUNREACH no IPv4 default route ("auto"); -ENODEV no
 *                  such interface; -EINVAL a name unsafe to render.
 */
int net_netlink_new(struct net_ops **ret, struct error **err);
struct net_ops *net_netlink_free(struct net_ops *ops);
