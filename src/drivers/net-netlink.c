/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real net backend: bridge, taps, forwarding and uplink through
 * libnl-route-3 on one rtnetlink socket, taps created through /dev/net/tun.
 * Every op is idempotent and checks that the names it is given lie in
 * banger's namespace before it touches anything: a link named like a banger
 * tap but without banger's alias is never changed or deleted.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/route.h>
#include <netlink/route/rtnl.h>
#include <netlink/socket.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

/* IFF_LOWER_UP of <linux/if.h>, which clashes with <net/if.h>: a tun
 * device has it while a process holds the device open. */
#define TAP_LOWER_UP 0x10000

#define IP_FORWARD_PATH "/proc/sys/net/ipv4/ip_forward"

struct net_netlink {
	struct net_ops ops;
	struct nl_sock *sk;
	/* Taps given to tap_delete, put in NET_TAP_GROUP_DYING, deleted
	 * together by tap_flush. */
	int *dying;		/* ifindexes */
	size_t n_dying;
	/* The bridge tap_ensure last found, and its index: looked up once
	 * for a run's taps, again after a tap could not be put on it. */
	char bridge[IFNAMSIZ];
	int bridge_index;
};

static void
rtnl_link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static void
rtnl_addr_putp(struct rtnl_addr **a)
{
	if (*a)
		rtnl_addr_put(*a);
}

static void
nl_addr_putp(struct nl_addr **a)
{
	if (*a)
		nl_addr_put(*a);
}

static void
nl_cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

#define _cleanup_link_ _cleanup_(rtnl_link_putp)
#define _cleanup_addr_ _cleanup_(rtnl_addr_putp)
#define _cleanup_nladdr_ _cleanup_(nl_addr_putp)
#define _cleanup_cache_ _cleanup_(nl_cache_freep)

/* libnl returns its own negative codes; map them back to -errno. */
static int
nlerr_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_SUCCESS:
		return 0;
	case NLE_INTR:
		return -EINTR;
	case NLE_BAD_SOCK:
		return -EBADF;
	case NLE_AGAIN:
		return -EAGAIN;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_RANGE:
		return -ERANGE;
	case NLE_MSGSIZE:
		return -EMSGSIZE;
	case NLE_OPNOTSUPP:
		return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:
		return -EAFNOSUPPORT;
	case NLE_OBJ_NOTFOUND:
		return -ENOENT;
	case NLE_NOATTR:
		return -ENODATA;
	case NLE_MISSING_ATTR:
		return -EINVAL;
	case NLE_AF_MISMATCH:
		return -EAFNOSUPPORT;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_PROTO_MISMATCH:
		return -EPROTONOSUPPORT;
	case NLE_NOACCESS:
		return -EACCES;
	case NLE_PERM:
		return -EPERM;
	case NLE_NODEV:
		return -ENODEV;
	default:
		return -EIO;
	}
}

static bool
nl_not_found(int nlerr)
{
	return nlerr == -NLE_OBJ_NOTFOUND || nlerr == -NLE_NODEV;
}

static int
nl_fail(struct error **err, int nlerr, const char *what)
{
	return error_set(err, nlerr_to_errno(nlerr), "%s: %s", what, nl_geterror(nlerr));
}

/* Fetch one link by name; *ret stays NULL (and 0 is returned) when it is absent. */
static int
link_get(struct nl_sock *sk, const char *name, struct rtnl_link **ret, struct error **err)
{
	struct rtnl_link *l = NULL;
	int r;

	r = rtnl_link_get_kernel(sk, 0, name, &l);
	if (nl_not_found(r)) {
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return nl_fail(err, r, "link get");
	*ret = l;
	return 0;
}

static bool
link_is_kind(struct rtnl_link *l, const char *kind)
{
	const char *t = rtnl_link_get_type(l);

	return t && strcmp(t, kind) == 0;
}

static int
link_set_up(struct nl_sock *sk, struct rtnl_link *l, struct error **err)
{
	_cleanup_link_ struct rtnl_link *change = NULL;
	int r;

	if (rtnl_link_get_flags(l) & IFF_UP)
		return 0;
	change = rtnl_link_alloc();
	if (!change)
		abort();
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, l, change, 0);
	if (r < 0)
		return nl_fail(err, r, "link up");
	return 0;
}

/* Every IPv4 address of ifindex, from one address dump. */
static int
bridge_check_address(struct nl_sock *sk, const char *bridge, int ifindex, uint32_t addr,
		     unsigned prefix, bool *ret_present, struct error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	char want[16], have[16];
	bool present = false;
	int r;

	r = rtnl_addr_alloc_cache(sk, &cache);
	if (r < 0)
		return nl_fail(err, r, "address dump");
	ipv4_format(addr, want);
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local;
		uint32_t be;

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET)
			continue;
		local = rtnl_addr_get_local(a);
		if (!local || nl_addr_get_len(local) != 4)
			continue;
		memcpy(&be, nl_addr_get_binary_addr(local), 4);
		if (ntohl(be) == addr && (unsigned)rtnl_addr_get_prefixlen(a) == prefix) {
			present = true;
			continue;
		}
		ipv4_format(ntohl(be), have);
		return error_set(err, -EEXIST,
				 "bridge '%s': has address %s/%d, not %s/%u (not rewritten)", bridge,
				 have, rtnl_addr_get_prefixlen(a), want, prefix);
	}
	*ret_present = present;
	return 0;
}

/*
 * 1. create the bridge when it is missing (an existing link of that name
 *    must be a bridge);
 * 2. check its IPv4 addresses: none -> add ours; any other -> -EEXIST;
 * 3. bring it up.
 */
static int
nl_bridge_ensure(void *userdata, const char *bridge, uint32_t addr, unsigned prefix,
		 struct error **err)
{
	struct net_netlink *n = userdata;
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_addr_ struct rtnl_addr *a = NULL;
	_cleanup_nladdr_ struct nl_addr *local = NULL;
	uint32_t be = htonl(addr);
	bool present = false;
	int r;

	/* What it makes or changes, tap_ensure looks up again. */
	n->bridge_index = 0;
	if (!net_ifname_is_valid(bridge))
		return error_set(err, -EINVAL, "bridge '%s': invalid interface name", bridge);
	if (strncmp(bridge, TAP_PREFIX, strlen(TAP_PREFIX)) == 0)
		return error_set(err, -EPERM, "bridge '%s': the prefix '" TAP_PREFIX
				 "' is reserved for taps", bridge);
	if (prefix < 1 || prefix > 30 || addr == 0)
		return error_set(err, -EINVAL, "bridge '%s': invalid address", bridge);

	r = link_get(n->sk, bridge, &l, err);
	if (r < 0)
		return error_prefix(err, "bridge '%s'", bridge);
	if (!l) {
		_cleanup_link_ struct rtnl_link *nl = rtnl_link_bridge_alloc();

		if (!nl)
			abort();
		rtnl_link_set_name(nl, bridge);
		r = rtnl_link_add(n->sk, nl, NLM_F_CREATE | NLM_F_EXCL);
		if (r < 0) {
			(void)nl_fail(err, r, "create");
			return error_prefix(err, "bridge '%s'", bridge);
		}
		r = link_get(n->sk, bridge, &l, err);
		if (r < 0)
			return error_prefix(err, "bridge '%s'", bridge);
		if (!l)
			return error_set(err, -ENOENT, "bridge '%s': vanished after creation",
					 bridge);
	} else if (!link_is_kind(l, "bridge"))
		return error_set(err, -EEXIST, "bridge '%s': exists and is not a bridge", bridge);

	r = bridge_check_address(n->sk, bridge, rtnl_link_get_ifindex(l), addr, prefix, &present,
				 err);
	if (r < 0)
		return r;
	if (!present) {
		a = rtnl_addr_alloc();
		local = nl_addr_build(AF_INET, &be, 4);
		if (!a || !local)
			abort();
		nl_addr_set_prefixlen(local, (int)prefix);
		rtnl_addr_set_ifindex(a, rtnl_link_get_ifindex(l));
		rtnl_addr_set_family(a, AF_INET);
		r = rtnl_addr_set_local(a, local);
		if (r < 0)
			return nl_fail(err, r, "address set");
		rtnl_addr_set_prefixlen(a, (int)prefix);
		r = rtnl_addr_add(n->sk, a, NLM_F_CREATE | NLM_F_EXCL);
		if (r < 0 && r != -NLE_EXIST) {
			(void)nl_fail(err, r, "address add");
			return error_prefix(err, "bridge '%s'", bridge);
		}
	}
	r = link_set_up(n->sk, l, err);
	if (r < 0)
		return error_prefix(err, "bridge '%s'", bridge);
	return 0;
}

/*
 * Create a single-queue tap named tap, not persistent yet: it lives while
 * the fd returned lives, so that a process killed before the tap carries
 * banger's mark (tap_configure) leaves no tap behind; the caller makes it
 * persistent after that (tun_persist).  IFF_TUN_EXCL makes the kernel
 * refuse a name that appeared since we looked, so we never attach to
 * somebody else's tun device.
 */
static int
tun_create(const char *tap, int *ret_fd, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	struct ifreq ifr = { 0 };

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "open /dev/net/tun: %s", strerror(errno));
	strncpy(ifr.ifr_name, tap, IFNAMSIZ - 1);
	/* ifr_flags is a short; IFF_TUN_EXCL is its top bit. */
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		if (errno == EBUSY)
			return error_set(err, -EEXIST, "tap '%s': appeared meanwhile, left alone",
					 tap);
		return error_set(err, -errno, "tap '%s': TUNSETIFF: %s", tap, strerror(errno));
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int
tun_persist(int fd, const char *tap, struct error **err)
{
	if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		return error_set(err, -errno, "tap '%s': TUNSETPERSIST: %s", tap, strerror(errno));
	return 0;
}

/* One RTM_NEWLINK/SETLINK: alias, master and up together. */
static int
tap_configure(struct nl_sock *sk, struct rtnl_link *l, const char *alias, int master,
	      struct error **err)
{
	_cleanup_link_ struct rtnl_link *change = NULL;
	const char *cur = rtnl_link_get_ifalias(l);
	int r;

	if (cur && strcmp(cur, alias) == 0 && rtnl_link_get_master(l) == master &&
	    (rtnl_link_get_flags(l) & IFF_UP) && rtnl_link_get_group(l) == 0)
		return 0;
	change = rtnl_link_alloc();
	if (!change)
		abort();
	if (!cur || strcmp(cur, alias) != 0)
		rtnl_link_set_ifalias(change, alias);
	/* Adopted from the dying group a run cut short left it in: it lives. */
	if (rtnl_link_get_group(l) != 0)
		rtnl_link_set_group(change, 0);
	if (rtnl_link_get_master(l) != master)
		rtnl_link_set_master(change, master);
	rtnl_link_set_flags(change, IFF_UP);
	r = rtnl_link_change(sk, l, change, 0);
	if (r < 0)
		return nl_fail(err, r, "link change");
	return 0;
}

/*
 * 1. check names (tap in banger's namespace, bridge exists and is one);
 * 2. an existing link must carry banger's alias with this VM id: adopt it;
 *    otherwise -EEXIST and it is left alone;
 * 3. a missing tap is created through /dev/net/tun (persistent);
 * 4. alias, master and up in one netlink request; a tap created here is
 *    removed again when that fails, so no alias-less banger tap is left.
 */
static int nl_tap_flush(void *userdata, struct error **err);

/* Find bridge, check it is one, and keep its index for the next taps. */
static int
bridge_lookup(struct net_netlink *n, const char *bridge, struct error **err)
{
	_cleanup_link_ struct rtnl_link *br = NULL;
	int r;

	n->bridge_index = 0;
	r = link_get(n->sk, bridge, &br, err);
	if (r < 0)
		return error_prefix(err, "bridge '%s'", bridge);
	if (!br)
		return error_set(err, -ENOENT, "bridge '%s': not found", bridge);
	if (!link_is_kind(br, "bridge"))
		return error_set(err, -EINVAL, "bridge '%s': not a bridge", bridge);
	snprintf(n->bridge, sizeof(n->bridge), "%s", bridge);
	n->bridge_index = rtnl_link_get_ifindex(br);
	return 0;
}

/*
 * Whether the index kept from the last lookup still names bridge: one ioctl,
 * not a netlink request.  A bridge deleted and made again has a new index,
 * and its old one may since name another device (any device that takes
 * ports would take the tap): then the bridge is looked up again.
 */
static bool
bridge_index_holds(struct net_netlink *n, const char *bridge)
{
	struct ifreq ifr = { .ifr_ifindex = n->bridge_index };

	if (ioctl(nl_socket_get_fd(n->sk), SIOCGIFNAME, &ifr) < 0)
		return false;
	return strncmp(ifr.ifr_name, bridge, sizeof(ifr.ifr_name)) == 0;
}

/* *l read again by name (gone: -ENOENT). */
static int
link_refresh(struct nl_sock *sk, const char *name, struct rtnl_link **l, struct error **err)
{
	struct rtnl_link *fresh = NULL;
	int r;

	r = link_get(sk, name, &fresh, err);
	if (r < 0)
		return r;
	if (!fresh)
		return error_set(err, -ENOENT, "gone meanwhile");
	rtnl_link_put(*l);
	*l = fresh;
	return 0;
}

static int
nl_tap_ensure(void *userdata, const char *tap, const char *bridge, const char *vm_name,
	      const char *vm_id, struct error **err)
{
	struct net_netlink *n = userdata;
	_cleanup_link_ struct rtnl_link *l = NULL;
	_cleanup_free_ char *alias = NULL;
	_cleanup_close_ int fd = -EBADF;
	bool cached;
	int r;

	if (!net_tap_name_is_valid(tap))
		return error_set(err, -EPERM, "tap '%s': not a banger tap name", tap);
	if (!name_is_vm_id(vm_id) || !name_is_dns_label(vm_name))
		return error_set(err, -EINVAL, "tap '%s': invalid vm name or id", tap);
	if (!net_ifname_is_valid(bridge))
		return error_set(err, -EINVAL, "bridge '%s': invalid interface name", bridge);

	cached = n->bridge_index && strcmp(n->bridge, bridge) == 0 &&
		 bridge_index_holds(n, bridge);
	if (!cached) {
		r = bridge_lookup(n, bridge, err);
		if (r < 0)
			return r;
	}

	alias = net_alias_format(vm_name, vm_id);
	r = link_get(n->sk, tap, &l, err);
	if (r < 0)
		return error_prefix(err, "tap '%s'", tap);
	for (size_t i = 0; l && i < n->n_dying; i++)
		if (n->dying[i] == rtnl_link_get_ifindex(l)) {
			/* Given up earlier in this run: let it go first, then
			 * make a new one. */
			rtnl_link_put(TAKE_PTR(l));
			r = nl_tap_flush(n, err);
			if (r < 0)
				return error_prefix(err, "tap '%s'", tap);
		}
	if (l) {
		_cleanup_free_ char *id = NULL;

		if (net_alias_parse(rtnl_link_get_ifalias(l), NULL, &id) < 0 ||
		    strcmp(id, vm_id) != 0)
			return error_set(err, -EEXIST, "tap '%s': exists and is not this vm's, "
					 "left alone", tap);
		if (!link_is_kind(l, "tun"))
			return error_set(err, -EEXIST, "tap '%s': exists and is not a tap, "
					 "left alone", tap);
	} else {
		struct ifreq ifr = { 0 };

		r = tun_create(tap, &fd, err);
		if (r < 0)
			return r;
		/* New: down, no alias, master or group; only its index is
		 * needed (an ioctl, not a dump of the link). */
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", tap);
		if (ioctl(nl_socket_get_fd(n->sk), SIOCGIFINDEX, &ifr) < 0) {
			r = error_set(err, -errno, "tap '%s': index after creation: %s", tap,
				      strerror(errno));
			goto rollback;
		}
		l = rtnl_link_alloc();
		if (!l)
			abort();
		rtnl_link_set_ifindex(l, ifr.ifr_ifindex);
	}
	r = tap_configure(n->sk, l, alias, n->bridge_index, err);
	if (r < 0 && cached) {
		/*
		 * The bridge may have been made anew since it was looked up.
		 * The kernel may have applied part of the change (the alias,
		 * up, and leaving the old master come before the new master
		 * is looked up): the retry starts from the tap as it is now.
		 */
		if (err)
			*err = error_free(*err);
		r = bridge_lookup(n, bridge, err);
		if (r >= 0)
			r = link_refresh(n->sk, tap, &l, err);
		if (r >= 0)
			r = tap_configure(n->sk, l, alias, n->bridge_index, err);
	}
	if (r < 0) {
		n->bridge_index = 0;
		(void)error_prefix(err, "tap '%s'", tap);
		goto rollback;
	}
	/* Marked as this VM's: now it may outlive us. */
	if (fd >= 0)
		r = tun_persist(fd, tap, err);
	return r;
rollback:
	/* A new tap is not persistent yet: closing fd removes it. */
	return r;
}

static int
nl_tap_delete(void *userdata, const char *tap, const char *vm_id, struct error **err)
{
	struct net_netlink *n = userdata;
	_cleanup_link_ struct rtnl_link *l = NULL, *change = NULL;
	_cleanup_free_ char *id = NULL;
	int r, ifindex;

	if (!net_tap_name_is_valid(tap))
		return error_set(err, -EPERM, "tap '%s': not a banger tap name", tap);
	if (!name_is_vm_id(vm_id))
		return error_set(err, -EINVAL, "tap '%s': invalid vm id", tap);
	r = link_get(n->sk, tap, &l, err);
	if (r < 0)
		return error_prefix(err, "tap '%s'", tap);
	if (!l)
		return 0;
	if (net_alias_parse(rtnl_link_get_ifalias(l), NULL, &id) < 0 || strcmp(id, vm_id) != 0)
		return error_set(err, -EEXIST, "tap '%s': not this vm's, left alone", tap);

	/*
	 * The kernel waits for RCU grace periods on each link it unregisters
	 * (about 20 ms here), and once for a whole group deleted in one
	 * request.  So the tap joins the dying group now (it keeps banger's
	 * alias: a run cut short leaves it findable, an orphan for the next
	 * run) and tap_flush deletes the group.
	 */
	ifindex = rtnl_link_get_ifindex(l);
	for (size_t i = 0; i < n->n_dying; i++)
		if (n->dying[i] == ifindex)
			return 0;
	if (rtnl_link_get_group(l) != NET_TAP_GROUP_DYING) {
		change = rtnl_link_alloc();
		if (!change)
			abort();
		rtnl_link_set_group(change, NET_TAP_GROUP_DYING);
		r = rtnl_link_change(n->sk, l, change, 0);
		if (nl_not_found(r))
			return 0;
		if (r < 0) {
			(void)nl_fail(err, r, "link group");
			return error_prefix(err, "tap '%s'", tap);
		}
	}
	n->dying = xrealloc(n->dying, (n->n_dying + 1) * sizeof(*n->dying));
	n->dying[n->n_dying++] = ifindex;
	return 0;
}

/* Delete one link by index (gone already is fine). */
static int
link_delete_index(struct nl_sock *sk, int ifindex, struct error **err)
{
	_cleanup_link_ struct rtnl_link *l = rtnl_link_alloc();
	int r;

	if (!l)
		abort();
	rtnl_link_set_ifindex(l, ifindex);
	r = rtnl_link_delete(sk, l);
	if (r < 0 && !nl_not_found(r))
		return nl_fail(err, r, "link delete");
	return 0;
}

/* One RTM_DELLINK for every link in group: the kernel unregisters them as
 * one batch. */
static int
link_delete_group(struct nl_sock *sk, uint32_t group, struct error **err)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct nl_msg *msg;
	int r;

	msg = nlmsg_alloc_simple(RTM_DELLINK, NLM_F_REQUEST | NLM_F_ACK);
	if (!msg)
		abort();
	if (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) < 0 ||
	    nla_put_u32(msg, IFLA_GROUP, group) < 0)
		abort();
	r = nl_send_auto(sk, msg);
	nlmsg_free(msg);
	if (r >= 0)
		r = nl_wait_for_ack(sk);
	if (r < 0 && !nl_not_found(r))
		return nl_fail(err, r, "link group delete");
	return 0;
}

static int
nl_tap_flush(void *userdata, struct error **err)
{
	struct net_netlink *n = userdata;
	_cleanup_cache_ struct nl_cache *cache = NULL;
	bool only_ours = true;
	int r = 0;

	if (!n->n_dying)
		return 0;
	/* Delete by group only when every member is a tap this run gave up:
	 * a foreign link in that group (however unlikely) is never touched. */
	r = rtnl_link_alloc_cache(n->sk, AF_UNSPEC, &cache);
	if (r < 0)
		return nl_fail(err, r, "link dump");
	for (struct nl_object *o = nl_cache_get_first(cache); o && only_ours;
	     o = nl_cache_get_next(o)) {
		struct rtnl_link *l = (struct rtnl_link *)o;
		bool mine = false;

		if (rtnl_link_get_group(l) != NET_TAP_GROUP_DYING)
			continue;
		for (size_t i = 0; i < n->n_dying && !mine; i++)
			mine = n->dying[i] == rtnl_link_get_ifindex(l);
		only_ours = mine && net_tap_name_is_valid(rtnl_link_get_name(l));
	}
	if (only_ours)
		r = link_delete_group(n->sk, NET_TAP_GROUP_DYING, err);
	else
		for (size_t i = 0; i < n->n_dying && r >= 0; i++)
			r = link_delete_index(n->sk, n->dying[i], err);
	if (r >= 0) {
		free(n->dying);
		n->dying = NULL;
		n->n_dying = 0;
	}
	return r;
}

/* One link of a dump: what link_list needs, nothing else. */
struct dump_link {
	int index;
	int master;
	unsigned flags;
	int carrier;	/* IFLA_CARRIER, -1 when the kernel gave none */
	char name[IFNAMSIZ];
	char *alias;	/* banger-named links only */
};

struct link_dump {
	struct dump_link *links;
	size_t n;
};

static int
dump_link_cb(struct nl_msg *msg, void *arg)
{
	struct link_dump *d = arg;
	struct nlmsghdr *nlh = nlmsg_hdr(msg);
	struct nlattr *tb[IFLA_MAX + 1];
	struct ifinfomsg *ifi;
	struct dump_link *l;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlmsg_parse(nlh, sizeof(*ifi), tb, IFLA_MAX, NULL) < 0 || !tb[IFLA_IFNAME])
		return NL_SKIP;
	ifi = nlmsg_data(nlh);
	d->links = xappend(d->links, &d->n, sizeof(*d->links), (void **)&l);
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->carrier = tb[IFLA_CARRIER] && nla_len(tb[IFLA_CARRIER]) >= 1
			     ? nla_get_u8(tb[IFLA_CARRIER]) != 0
			     : -1;
	l->master = tb[IFLA_MASTER] && nla_len(tb[IFLA_MASTER]) >= 4 ? (int)nla_get_u32(tb[IFLA_MASTER])
								      : 0;
	nla_strlcpy(l->name, tb[IFLA_IFNAME], sizeof(l->name));
	if (tb[IFLA_IFALIAS] && strncmp(l->name, TAP_PREFIX, strlen(TAP_PREFIX)) == 0) {
		char alias[256 + 1];	/* IFALIASZ, from linux/if.h */

		nla_strlcpy(alias, tb[IFLA_IFALIAS], sizeof(alias));
		if (alias[0])
			l->alias = xstrdup(alias);
	}
	return NL_OK;
}

static void
link_dump_done(struct link_dump *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->links[i].alias);
	free(d->links);
	d->links = NULL;
	d->n = 0;
}

/*
 * Every link, by a plain RTM_GETLINK dump that asks the kernel to leave the
 * statistics out (RTEXT_FILTER_SKIP_STATS): a host with a thousand taps
 * lists them on every run, and libnl's link cache would parse every
 * attribute of each.  A dump cut short by a change of the links is done
 * again.
 */
static int
link_dump(struct nl_sock *sk, struct link_dump *ret)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int r = -NLE_DUMP_INTR;

	for (int attempt = 0; attempt < 8 && r == -NLE_DUMP_INTR; attempt++) {
		struct nl_cb *base = nl_socket_get_cb(sk), *cb;
		struct nl_msg *msg;

		link_dump_done(ret);
		cb = nl_cb_clone(base);
		nl_cb_put(base);
		msg = nlmsg_alloc_simple(RTM_GETLINK, NLM_F_DUMP);
		if (!cb || !msg) {
			if (cb)
				nl_cb_put(cb);
			nlmsg_free(msg);
			return -NLE_NOMEM;
		}
		r = nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO);
		if (r >= 0)
			r = nla_put_u32(msg, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
		if (r >= 0)
			r = nl_send_auto(sk, msg);
		nlmsg_free(msg);
		if (r >= 0) {
			nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, dump_link_cb, ret);
			r = nl_recvmsgs(sk, cb);
		}
		nl_cb_put(cb);
	}
	if (r < 0)
		link_dump_done(ret);
	return r < 0 ? r : 0;
}

static int
cmp_dump_index(const void *a, const void *b)
{
	const struct dump_link *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int
nl_link_list(void *userdata, struct net_link **ret, size_t *ret_n, struct error **err)
{
	struct net_netlink *n = userdata;
	struct link_dump d = { 0 };
	struct net_link *links = NULL;
	size_t nlinks = 0;
	int r;

	r = link_dump(n->sk, &d);
	if (r < 0)
		return nl_fail(err, r, "link dump");
	if (d.n > 1)
		qsort(d.links, d.n, sizeof(*d.links), cmp_dump_index);
	for (size_t i = 0; i < d.n; i++) {
		const struct dump_link *l = &d.links[i];
		struct net_link *nl;

		if (strncmp(l->name, TAP_PREFIX, strlen(TAP_PREFIX)) != 0)
			continue;
		links = xappend(links, &nlinks, sizeof(*links), (void **)&nl);
		nl->name = xstrdup(l->name);
		nl->alias = l->alias ? xstrdup(l->alias) : NULL;
		nl->up = (l->flags & IFF_UP) != 0;
		/* A tun has carrier while a process has it open, set down or
		 * not (IFF_LOWER_UP is only reported for a link that is up). */
		nl->carrier = l->carrier >= 0 ? l->carrier != 0 : (l->flags & TAP_LOWER_UP) != 0;
		if (l->master > 0) {
			struct dump_link key = { .index = l->master };
			const struct dump_link *m =
				bsearch(&key, d.links, d.n, sizeof(*d.links), cmp_dump_index);

			if (m)
				nl->master = xstrdup(m->name);
		}
		nl->owned = net_alias_parse(nl->alias, &nl->vm_name, &nl->vm_id) == 0;
	}
	link_dump_done(&d);
	*ret = links;
	*ret_n = nlinks;
	return 0;
}

static int
nl_forwarding_get(void *userdata, bool *ret, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[8] = { 0 };
	ssize_t k;

	(void)userdata;
	fd = open(IP_FORWARD_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "open " IP_FORWARD_PATH ": %s", strerror(errno));
	k = read(fd, buf, sizeof(buf) - 1);
	if (k < 0)
		return error_set(err, -errno, "read " IP_FORWARD_PATH ": %s", strerror(errno));
	*ret = buf[0] == '1';
	return 0;
}

static int
nl_forwarding_ensure(void *userdata, struct error **err)
{
	_cleanup_close_ int fd = -EBADF;
	bool on = false;
	int r;

	r = nl_forwarding_get(userdata, &on, err);
	if (r < 0 || on)
		return r;
	fd = open(IP_FORWARD_PATH, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_set(err, -errno, "open " IP_FORWARD_PATH ": %s", strerror(errno));
	if (write(fd, "1\n", 2) != 2) {
		int e = errno ? errno : EIO;

		return error_set(err, -e, "write " IP_FORWARD_PATH ": %s", strerror(e));
	}
	return 0;
}

/* The main table's IPv4 default route with the lowest metric: its first nexthop's oif. */
static int
default_route_ifindex(struct nl_sock *sk, int *ret, struct error **err)
{
	_cleanup_cache_ struct nl_cache *cache = NULL;
	uint32_t best_prio = UINT32_MAX;
	int best = 0, r;

	r = rtnl_route_alloc_cache(sk, AF_INET, 0, &cache);
	if (r < 0)
		return nl_fail(err, r, "route dump");
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_route *rt = (struct rtnl_route *)o;
		struct nl_addr *dst = rtnl_route_get_dst(rt);
		struct rtnl_nexthop *nh;
		int ifindex;

		if (rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
		    rtnl_route_get_type(rt) != RTN_UNICAST)
			continue;
		if (dst && nl_addr_get_prefixlen(dst) != 0)
			continue;
		if (rtnl_route_get_nnexthops(rt) < 1)
			continue;
		nh = rtnl_route_nexthop_n(rt, 0);
		ifindex = nh ? rtnl_route_nh_get_ifindex(nh) : 0;
		if (ifindex <= 0)
			continue;
		if (!best || rtnl_route_get_priority(rt) < best_prio) {
			best = ifindex;
			best_prio = rtnl_route_get_priority(rt);
		}
	}
	if (!best)
		return error_set(err, -ENETUNREACH, "uplink 'auto': no IPv4 default route");
	*ret = best;
	return 0;
}

static int
nl_uplink_resolve(void *userdata, const char *uplink, char **ret, struct error **err)
{
	struct net_netlink *n = userdata;
	_cleanup_link_ struct rtnl_link *l = NULL;
	const char *name;
	int r, ifindex = 0;

	if (uplink && strcmp(uplink, "auto") == 0) {
		r = default_route_ifindex(n->sk, &ifindex, err);
		if (r < 0)
			return r;
		r = rtnl_link_get_kernel(n->sk, ifindex, NULL, &l);
		if (r < 0) {
			(void)nl_fail(err, r, "link get");
			return error_prefix(err, "uplink 'auto'");
		}
		name = rtnl_link_get_name(l);
		if (!net_ifname_is_valid(name))
			return error_set(err, -EINVAL,
					 "uplink 'auto': default route interface has an unsupported "
					 "name");
		*ret = xstrdup(name);
		return 0;
	}
	if (!net_ifname_is_valid(uplink))
		return error_set(err, -EINVAL, "uplink '%s': invalid interface name",
				 uplink ? uplink : "");
	r = link_get(n->sk, uplink, &l, err);
	if (r < 0)
		return error_prefix(err, "uplink '%s'", uplink);
	if (!l)
		return error_set(err, -ENODEV, "uplink '%s': no such interface", uplink);
	*ret = xstrdup(uplink);
	return 0;
}

int
net_netlink_new(struct net_ops **ret, struct error **err)
{
	struct net_netlink *n;
	struct nl_sock *sk;
	int r;

	sk = nl_socket_alloc();
	if (!sk)
		abort();
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return nl_fail(err, r, "rtnetlink connect");
	}
	n = xcalloc(1, sizeof(*n));
	n->sk = sk;
	n->ops = (struct net_ops){
		.bridge_ensure = nl_bridge_ensure,
		.tap_ensure = nl_tap_ensure,
		.tap_delete = nl_tap_delete,
		.tap_flush = nl_tap_flush,
		.link_list = nl_link_list,
		.forwarding_ensure = nl_forwarding_ensure,
		.uplink_resolve = nl_uplink_resolve,
		.forwarding_get = nl_forwarding_get,
		.userdata = n,
	};
	*ret = &n->ops;
	return 0;
}

struct net_ops *
net_netlink_free(struct net_ops *ops)
{
	struct net_netlink *n;

	if (!ops)
		return NULL;
	n = ops->userdata;
	nl_socket_free(n->sk);
	free(n->dying);
	free(n);
	return NULL;
}
