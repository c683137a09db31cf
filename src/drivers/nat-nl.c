/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading banger's nftables table straight from the kernel: nf_tables
 * netlink dumps (libmnl), their attributes read in place and the rules
 * classified from their expressions.  This is what every reconcile pays
 * once, so it must cost little on a host with thousands of rules: no JSON
 * is built or parsed, no object is allocated per expression, and the kernel
 * filters the rule dump to banger's table.  Every attribute is checked for
 * its length before it is read; a message that does not fit its buffer is
 * a malformed answer, an attribute cut short at the end of its message is
 * left unread (as libmnl's iterators do).
 *
 * The table, its chains and its rules are three requests; the ruleset
 * generation is read before and after them, and the whole listing is done
 * again when it moved (someone changed the ruleset meanwhile), so what is
 * returned is one consistent state.
 *
 * A rule is classified only when its expressions are exactly those nft
 * makes of the rules banger writes (see nat-common.c's renderers):
 *
 *   masquerade  meta nfproto; cmp == ipv4; payload network+12 (4 bytes);
 *               cmp == addr; meta oifname; cmp == name; masq
 *   forward     meta iifname; cmp == name; meta oifname; cmp == name;
 *               immediate accept
 *   shared      ct state; bitwise & (established|related); cmp != 0;
 *               immediate accept
 *
 * Anything else is NAT_RULE_OTHER, which the reconciler replaces or
 * removes: reading too strictly costs a rewrite, never a wrong keep.
 *
 * nat_nl_add_vm_rules writes a VM's masquerade and forward rules in those
 * same shapes, as one nf_tables batch, for the usual add (chains there,
 * nothing of the VM's to delete), so that no libnftables command is parsed
 * and no ruleset cache listed per VM.
 */
#include "config.h"

#include <errno.h>
#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

/* The kernel fills a dump message up to the reader's buffer (at most 32 KiB). */
#define NL_BUF_SIZE (32u * 1024u)
/* Listings restarted because the ruleset changed under them, at most. */
#define LIST_ATTEMPTS 16
/* The most expressions a rule banger recognises has. */
#define EXPR_MAX 7
/* The comment record of the user data nft stores with a rule (libnftnl's
 * NFTNL_UDATA_RULE_COMMENT): type, length, NUL-terminated string. */
#define UDATA_RULE_COMMENT 0

static void (*test_between)(void *userdata);
static void *test_between_userdata;

void
nat_nl_test_between(void (*fn)(void *userdata), void *userdata)
{
	test_between = fn;
	test_between_userdata = userdata;
}

struct nat_nl {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	char *buf;
};

/* (Re)open the socket; -errno. */
static int
sock_open(struct nat_nl *s)
{
	int r;

	if (s->nl)
		mnl_socket_close(s->nl);
	/* close-on-exec: mkfs and ssh-keygen are spawned while it is open */
	s->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!s->nl)
		return -errno;
	if (mnl_socket_bind(s->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		r = -errno;
		mnl_socket_close(s->nl);
		s->nl = NULL;
		return r;
	}
	s->portid = mnl_socket_get_portid(s->nl);
	return 0;
}

int
nat_nl_new(struct nat_nl **ret, struct error **err)
{
	struct nat_nl *s = xcalloc(1, sizeof(*s));
	int r = sock_open(s);

	if (r < 0) {
		free(s);
		return error_set(err, r, "nf_tables netlink socket: %s", strerror(-r));
	}
	s->seq = (uint32_t)time(NULL);
	s->buf = xmalloc(NL_BUF_SIZE);
	*ret = s;
	return 0;
}

struct nat_nl *
nat_nl_free(struct nat_nl *s)
{
	if (!s)
		return NULL;
	if (s->nl)
		mnl_socket_close(s->nl);
	free(s->buf);
	free(s);
	return NULL;
}

/* What a listing gathers; the callbacks' shared state. */
struct gather {
	uint32_t gen;
	bool has_table;
	unsigned chains;
	struct nat_rule *rules;
	size_t n;
	int error;	/* set by a callback: -EBADMSG, -ENOMEM */
};

/*
 * Whether buf is whole netlink messages, each length within what is left.
 * mnl_cb_run checks that too, but compares a length of 2 GiB or more as a
 * negative int and then steps outside the buffer.
 */
static bool
msgs_fit(const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len >= sizeof(struct nlmsghdr)) {
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)(const void *)p;
		size_t step = NLMSG_ALIGN((size_t)nlh->nlmsg_len);

		if (nlh->nlmsg_len < sizeof(*nlh) || nlh->nlmsg_len > len)
			return false;
		if (step >= len)
			return true;
		p += step;
		len -= step;
	}
	return len == 0;
}

/* Receive into s->buf: its length, or -errno, or -EBADMSG when the buffer
 * is not whole messages. */
static ssize_t
recv_msgs(struct nat_nl *s)
{
	ssize_t len = mnl_socket_recvfrom(s->nl, s->buf, NL_BUF_SIZE);

	if (len < 0)
		return -errno;
	if (!msgs_fit(s->buf, (size_t)len))
		return -EBADMSG;
	return len;
}

/*
 * Send one request and run cb on every message of its answer.  Returns 0,
 * -EINTR when a dump was interrupted by a ruleset change, or a negative
 * errno (the kernel's, or a callback's -EBADMSG).  After a failure other
 * than the kernel's "no such table" the socket may still hold the rest of
 * an answer: it is replaced, so the next request starts clean.
 */
static int
talk(struct nat_nl *s, struct nlmsghdr *nlh, mnl_cb_t cb, struct gather *g)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t len;
	int r;

	if (!s->nl && (r = sock_open(s)) < 0)
		return r;
	r = MNL_CB_OK;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto reset;
	}
	while (r > MNL_CB_STOP) {
		len = recv_msgs(s);
		if (len < 0) {
			r = (int)len;
			goto reset;
		}
		r = mnl_cb_run(s->buf, (size_t)len, seq, s->portid, cb, g);
		if (r == MNL_CB_ERROR) {
			r = g->error ? g->error : -errno;
			if (r == -ENOENT)
				return r;
			goto reset;
		}
	}
	return 0;
reset:
	(void)sock_open(s);
	return r < 0 ? r : -EIO;
}

/* ---- attributes ---- */

struct attrs {
	const struct nlattr **tb;
	uint16_t max;
};

static int
attr_cb(const struct nlattr *a, void *data)
{
	struct attrs *t = data;
	uint16_t type = mnl_attr_get_type(a);

	if (type <= t->max)
		t->tb[type] = a;
	return MNL_CB_OK;
}

/* The attributes of a nf_tables message, by type, into tb[0..max]. */
static bool
parse_msg(const struct nlmsghdr *nlh, const struct nlattr **tb, uint16_t max)
{
	struct attrs t = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	return nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(struct nfgenmsg)) &&
	       mnl_attr_parse(nlh, sizeof(struct nfgenmsg), attr_cb, &t) >= 0;
}

static bool
parse_nested(const struct nlattr *nest, const struct nlattr **tb, uint16_t max)
{
	struct attrs t = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	return mnl_attr_parse_nested(nest, attr_cb, &t) >= 0;
}

static uint8_t
msg_family(const struct nlmsghdr *nlh)
{
	return ((const struct nfgenmsg *)mnl_nlmsg_get_payload(nlh))->nfgen_family;
}

/* A NUL-terminated string attribute; NULL when absent or not one. */
static const char *
attr_str(const struct nlattr *a)
{
	return a && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0 ? mnl_attr_get_str(a) : NULL;
}

/* A big-endian u32 attribute into *v; false when absent or of another size. */
static bool
attr_u32(const struct nlattr *a, uint32_t *v)
{
	if (!a || mnl_attr_get_payload_len(a) != sizeof(uint32_t))
		return false;
	*v = ntohl(mnl_attr_get_u32(a));
	return true;
}

static bool
str_is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static int
gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	const struct nlattr *tb[NFTA_GEN_MAX + 1];

	if (!parse_msg(nlh, tb, NFTA_GEN_MAX) || !attr_u32(tb[NFTA_GEN_ID], &g->gen)) {
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int
table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	const struct nlattr *tb[NFTA_TABLE_MAX + 1];

	if (!parse_msg(nlh, tb, NFTA_TABLE_MAX)) {
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (str_is(attr_str(tb[NFTA_TABLE_NAME]), NAT_TABLE) && msg_family(nlh) == NFPROTO_INET)
		g->has_table = true;
	return MNL_CB_OK;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	const struct nlattr *tb[NFTA_CHAIN_MAX + 1], *hook[NFTA_HOOK_MAX + 1];
	const char *name, *type;
	uint32_t num;

	if (!parse_msg(nlh, tb, NFTA_CHAIN_MAX)) {
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!str_is(attr_str(tb[NFTA_CHAIN_TABLE]), NAT_TABLE) || msg_family(nlh) != NFPROTO_INET ||
	    !tb[NFTA_CHAIN_HOOK])
		return MNL_CB_OK;
	if (!parse_nested(tb[NFTA_CHAIN_HOOK], hook, NFTA_HOOK_MAX) ||
	    !attr_u32(hook[NFTA_HOOK_HOOKNUM], &num))
		return MNL_CB_OK;	/* no hook number: not a base chain of ours */
	name = attr_str(tb[NFTA_CHAIN_NAME]);
	type = attr_str(tb[NFTA_CHAIN_TYPE]);
	if (str_is(name, NAT_CHAIN_POSTROUTING) && str_is(type, "nat") && num == NF_INET_POST_ROUTING)
		g->chains |= NAT_HAS_POSTROUTING;
	else if (str_is(name, NAT_CHAIN_FORWARD) && str_is(type, "filter") && num == NF_INET_FORWARD)
		g->chains |= NAT_HAS_FORWARD;
	return MNL_CB_OK;
}

/* ---- expressions ---- */

/* One expression as the dump describes it; absent attributes are NULL. */
struct expr {
	const char *name;
	const struct nlattr *a[16];	/* NFTA_<TYPE>_* of its data, by number */
};

static bool
parse_expr(const struct nlattr *elem, struct expr *e)
{
	const struct nlattr *tb[NFTA_EXPR_MAX + 1];

	memset(e, 0, sizeof(*e));
	if (!parse_nested(elem, tb, NFTA_EXPR_MAX))
		return false;
	e->name = attr_str(tb[NFTA_EXPR_NAME]);
	if (!e->name)
		return false;
	return !tb[NFTA_EXPR_DATA] ||
	       parse_nested(tb[NFTA_EXPR_DATA], e->a, ELEMENTSOF(e->a) - 1);
}

static bool
expr_is(const struct expr *e, const char *name)
{
	return strcmp(e->name, name) == 0;
}

/* A u32 of the expression that must be there and equal v. */
static bool
u32_is(const struct expr *e, unsigned type, uint32_t v)
{
	uint32_t x;

	return attr_u32(e->a[type], &x) && x == v;
}

/* The value of a nested nft_data (NFTA_DATA_VALUE); NULL when it is not one. */
static const uint8_t *
data_value(const struct nlattr *nest, uint32_t *len)
{
	const struct nlattr *tb[NFTA_DATA_MAX + 1];

	if (!nest || !parse_nested(nest, tb, NFTA_DATA_MAX) || !tb[NFTA_DATA_VALUE])
		return NULL;
	*len = mnl_attr_get_payload_len(tb[NFTA_DATA_VALUE]);
	return mnl_attr_get_payload(tb[NFTA_DATA_VALUE]);
}

/* "meta load KEY => reg"; its register in *reg. */
static bool
is_meta_load(const struct expr *e, uint32_t key, uint32_t *reg)
{
	return expr_is(e, "meta") && !e->a[NFTA_META_SREG] && u32_is(e, NFTA_META_KEY, key) &&
	       attr_u32(e->a[NFTA_META_DREG], reg);
}

/* "cmp OP reg DATA"; the data and its length in *ret, *ret_len. */
static bool
is_cmp(const struct expr *e, uint32_t reg, uint32_t op, const uint8_t **ret, uint32_t *ret_len)
{
	if (!expr_is(e, "cmp") || !u32_is(e, NFTA_CMP_SREG, reg) || !u32_is(e, NFTA_CMP_OP, op))
		return false;
	*ret = data_value(e->a[NFTA_CMP_DATA], ret_len);
	return *ret != NULL;
}

/*
 * "meta load KEY => reg; cmp eq reg NAME": an exact interface name, which
 * nft writes as IFNAMSIZ bytes, NUL padded.  A shorter compare is a
 * wildcard ("tap*"), not a name.
 */
static bool
match_ifname(const struct expr *load, const struct expr *cmp, uint32_t key,
	     char ret[static IFNAMSIZ])
{
	const uint8_t *d;
	uint32_t reg, len;
	size_t n;

	if (!is_meta_load(load, key, &reg) || !is_cmp(cmp, reg, NFT_CMP_EQ, &d, &len) ||
	    len != IFNAMSIZ)
		return false;
	n = strnlen((const char *)d, IFNAMSIZ);
	if (n == 0 || n == IFNAMSIZ)
		return false;
	for (size_t i = n; i < IFNAMSIZ; i++)
		if (d[i])
			return false;
	memcpy(ret, d, n + 1);
	return true;
}

/* "immediate reg 0 accept" */
static bool
is_accept(const struct expr *e)
{
	const struct nlattr *data[NFTA_DATA_MAX + 1], *v[NFTA_VERDICT_MAX + 1];
	uint32_t code;

	if (!expr_is(e, "immediate") || !u32_is(e, NFTA_IMMEDIATE_DREG, NFT_REG_VERDICT) ||
	    !e->a[NFTA_IMMEDIATE_DATA] ||
	    !parse_nested(e->a[NFTA_IMMEDIATE_DATA], data, NFTA_DATA_MAX) ||
	    !data[NFTA_DATA_VERDICT] || !parse_nested(data[NFTA_DATA_VERDICT], v, NFTA_VERDICT_MAX))
		return false;
	return !v[NFTA_VERDICT_CHAIN] && !v[NFTA_VERDICT_CHAIN_ID] &&
	       attr_u32(v[NFTA_VERDICT_CODE], &code) && (int32_t)code == NF_ACCEPT;
}

/* meta nfproto ipv4; ip saddr ADDR: the address, host order, in *ip. */
static bool
match_saddr(const struct expr *x, uint32_t *ip)
{
	const uint8_t *d;
	uint32_t reg, len;

	if (!is_meta_load(&x[0], NFT_META_NFPROTO, &reg) ||
	    !is_cmp(&x[1], reg, NFT_CMP_EQ, &d, &len) || len != 1 || d[0] != NFPROTO_IPV4)
		return false;
	if (!expr_is(&x[2], "payload") || x[2].a[NFTA_PAYLOAD_SREG] ||
	    !u32_is(&x[2], NFTA_PAYLOAD_BASE, NFT_PAYLOAD_NETWORK_HEADER) ||
	    !u32_is(&x[2], NFTA_PAYLOAD_OFFSET, 12) || !u32_is(&x[2], NFTA_PAYLOAD_LEN, 4) ||
	    !attr_u32(x[2].a[NFTA_PAYLOAD_DREG], &reg))
		return false;
	if (!is_cmp(&x[3], reg, NFT_CMP_EQ, &d, &len) || len != 4)
		return false;
	*ip = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	return true;
}

static bool
is_plain_masq(const struct expr *e)
{
	return expr_is(e, "masq") && (!e->a[NFTA_MASQ_FLAGS] || u32_is(e, NFTA_MASQ_FLAGS, 0)) &&
	       !e->a[NFTA_MASQ_REG_PROTO_MIN] && !e->a[NFTA_MASQ_REG_PROTO_MAX];
}

/* A 4-byte nft_data value, in the kernel's (host) order. */
static bool
data_u32(const struct nlattr *nest, uint32_t *v)
{
	uint32_t len;
	const uint8_t *d = data_value(nest, &len);

	if (!d || len != sizeof(*v))
		return false;
	memcpy(v, d, sizeof(*v));
	return true;
}

/* ct state established,related */
static bool
match_ct_established(const struct expr *x)
{
	const uint8_t *zero;
	uint32_t reg, len, m, v, op;

	if (!expr_is(&x[0], "ct") || x[0].a[NFTA_CT_SREG] || x[0].a[NFTA_CT_DIRECTION] ||
	    !u32_is(&x[0], NFTA_CT_KEY, NFT_CT_STATE) || !attr_u32(x[0].a[NFTA_CT_DREG], &reg))
		return false;
	if (!expr_is(&x[1], "bitwise") || !u32_is(&x[1], NFTA_BITWISE_SREG, reg) ||
	    !u32_is(&x[1], NFTA_BITWISE_DREG, reg) || !u32_is(&x[1], NFTA_BITWISE_LEN, 4) ||
	    (attr_u32(x[1].a[NFTA_BITWISE_OP], &op) && op != NFT_BITWISE_BOOL))
		return false;
	/* ct state bits are host order in the kernel's registers */
	if (!data_u32(x[1].a[NFTA_BITWISE_MASK], &m) || !data_u32(x[1].a[NFTA_BITWISE_XOR], &v) ||
	    m != (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED)) || v != 0)
		return false;
	if (!is_cmp(&x[2], reg, NFT_CMP_NEQ, &zero, &len) || len != 4)
		return false;
	memcpy(&v, zero, 4);
	return v == 0;
}

static void
classify(struct nat_rule *r, const struct expr *x, size_t n)
{
	char a[IFNAMSIZ], b[IFNAMSIZ];
	uint32_t ip;

	r->kind = NAT_RULE_OTHER;
	if (strcmp(r->chain, NAT_CHAIN_POSTROUTING) == 0 && n == 7) {
		if (match_saddr(x, &ip) && match_ifname(&x[4], &x[5], NFT_META_OIFNAME, b) &&
		    is_plain_masq(&x[6])) {
			r->kind = NAT_RULE_MASQUERADE;
			r->ip = ip;
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && n == 5) {
		if (match_ifname(&x[0], &x[1], NFT_META_IIFNAME, a) &&
		    match_ifname(&x[2], &x[3], NFT_META_OIFNAME, b) && is_accept(&x[4])) {
			r->kind = NAT_RULE_FORWARD;
			r->tap = xstrdup(a);
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && n == 4) {
		if (match_ct_established(x) && is_accept(&x[3]))
			r->kind = NAT_RULE_ESTABLISHED;
	}
}

/*
 * The rule's comment: the string of its comment record (type, length,
 * value records), NUL terminated with no NUL inside; NULL when there is
 * none or the records do not fit their buffer.
 */
static const char *
rule_comment(const uint8_t *ud, uint32_t len)
{
	const uint8_t *end = ud + len;

	while (end - ud >= 2) {
		uint8_t type = ud[0], n = ud[1];
		const char *v = (const char *)ud + 2;

		if (end - ud - 2 < n)
			return NULL;
		if (type == UDATA_RULE_COMMENT)
			return n > 0 && v[n - 1] == '\0' && strlen(v) == (size_t)n - 1 ? v : NULL;
		ud += 2 + n;
	}
	return NULL;
}

/* The expressions of a rule: up to EXPR_MAX into x, *n counts one more
 * when there are more.  False on a malformed list. */
struct expr_list {
	struct expr *x;
	size_t n;
	bool bad;
};

static int
expr_elem_cb(const struct nlattr *a, void *data)
{
	struct expr_list *l = data;

	if (mnl_attr_get_type(a) != NFTA_LIST_ELEM)
		return MNL_CB_OK;
	if (l->n >= EXPR_MAX) {
		l->n = EXPR_MAX + 1;
		return MNL_CB_STOP;
	}
	if (!parse_expr(a, &l->x[l->n])) {
		l->bad = true;
		return MNL_CB_ERROR;
	}
	l->n++;
	return MNL_CB_OK;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	const struct nlattr *tb[NFTA_RULE_MAX + 1];
	struct expr x[EXPR_MAX];
	struct expr_list l = { x, 0, false };
	struct nat_rule *nr;
	const char *chain, *comment = NULL;
	uint64_t handle;

	if (!parse_msg(nlh, tb, NFTA_RULE_MAX))
		goto bad;
	/* The kernel filters by table; check anyway. */
	if (!str_is(attr_str(tb[NFTA_RULE_TABLE]), NAT_TABLE) || msg_family(nlh) != NFPROTO_INET)
		return MNL_CB_OK;
	chain = attr_str(tb[NFTA_RULE_CHAIN]);
	if (!chain || !tb[NFTA_RULE_HANDLE] ||
	    mnl_attr_get_payload_len(tb[NFTA_RULE_HANDLE]) != sizeof(uint64_t))
		goto bad;
	handle = be64toh(mnl_attr_get_u64(tb[NFTA_RULE_HANDLE]));
	if (handle == 0)
		goto bad;
	if (tb[NFTA_RULE_EXPRESSIONS] &&
	    mnl_attr_parse_nested(tb[NFTA_RULE_EXPRESSIONS], expr_elem_cb, &l) < 0 && l.bad)
		goto bad;
	if (tb[NFTA_RULE_USERDATA])
		comment = rule_comment(mnl_attr_get_payload(tb[NFTA_RULE_USERDATA]),
				       mnl_attr_get_payload_len(tb[NFTA_RULE_USERDATA]));
	g->rules = xappend(g->rules, &g->n, sizeof(*g->rules), (void **)&nr);
	nr->handle = handle;
	nr->chain = xstrdup(chain);
	if (comment)
		(void)nat_comment_parse(comment, &nr->vm_id);
	classify(nr, x, l.n);
	return MNL_CB_OK;
bad:
	g->error = -EBADMSG;
	return MNL_CB_ERROR;
}

/* ---- requests ---- */

static struct nlmsghdr *
request(struct nat_nl *s, uint16_t cmd, uint16_t family, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(s->buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | cmd;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = ++s->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

static int
get_gen(struct nat_nl *s, struct gather *g)
{
	return talk(s, request(s, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK), gen_cb, g);
}

static int
get_table(struct nat_nl *s, struct gather *g)
{
	struct nlmsghdr *nlh = request(s, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK);
	int r;

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, NAT_TABLE);
	r = talk(s, nlh, table_cb, g);
	return r == -ENOENT ? 0 : r;
}

static int
get_chains(struct nat_nl *s, struct gather *g)
{
	return talk(s, request(s, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_DUMP), chain_cb, g);
}

static int
get_rules(struct nat_nl *s, struct gather *g)
{
	struct nlmsghdr *nlh = request(s, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP);

	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, NAT_TABLE);
	return talk(s, nlh, rule_cb, g);
}

static void
gather_done(struct gather *g)
{
	nat_rules_free(g->rules, g->n);
	memset(g, 0, sizeof(*g));
}

/* One pass: -EAGAIN when the ruleset changed while it ran. */
static int
list_once(struct nat_nl *s, struct gather *g)
{
	uint32_t gen;
	int r;

	r = get_gen(s, g);
	if (r < 0)
		return r;
	gen = g->gen;
	r = get_table(s, g);
	if (test_between)
		test_between(test_between_userdata);
	if (r >= 0 && g->has_table)
		r = get_chains(s, g);
	if (r >= 0 && g->has_table)
		r = get_rules(s, g);
	if (r >= 0)
		r = get_gen(s, g);
	if (r == -EINTR || (r >= 0 && g->gen != gen))
		return -EAGAIN;
	return r;
}

int
nat_nl_parse_rules(const void *buf, size_t len, struct nat_rule **ret, size_t *ret_n)
{
	struct gather g = { 0 };
	int r;

	if (!msgs_fit(buf, len))
		return -EBADMSG;
	r = mnl_cb_run(buf, len, 0, 0, rule_cb, &g);
	if (r == MNL_CB_ERROR) {
		r = g.error ? g.error : -errno;
		gather_done(&g);
		return r < 0 ? r : -EBADMSG;
	}
	*ret = TAKE_PTR(g.rules);
	*ret_n = g.n;
	return 0;
}

int
nat_nl_list(struct nat_nl *s, struct nat_rule **ret, size_t *ret_n, bool *ret_has_table,
	    unsigned *ret_chains, struct error **err)
{
	struct gather g = { 0 };
	int r = -EAGAIN;

	for (int i = 0; i < LIST_ATTEMPTS && r == -EAGAIN; i++) {
		if (i > 0) {
			/* Someone is changing the ruleset: let them finish. */
			struct timespec pause = { 0, (long)i * 1000000L };

			(void)nanosleep(&pause, NULL);
		}
		gather_done(&g);
		r = list_once(s, &g);
	}
	if (r == -EAGAIN) {
		gather_done(&g);
		return error_set(err, -EAGAIN, "nf_tables: the ruleset kept changing while "
				 "table inet " NAT_TABLE " was listed (%d tries)", LIST_ATTEMPTS);
	}
	if (r < 0) {
		gather_done(&g);
		return error_set(err, r, "nf_tables: listing table inet " NAT_TABLE ": %s",
				 r == -EBADMSG ? "malformed answer" : strerror(-r));
	}
	*ret = TAKE_PTR(g.rules);
	*ret_n = g.n;
	if (ret_has_table)
		*ret_has_table = g.has_table;
	if (ret_chains)
		*ret_chains = g.chains;
	return 0;
}

/* ---- writing a VM's rules ---- */

/* Begin an expression of name in the rule's list; its data nest open. */
static struct nlattr *
expr_begin(struct nlmsghdr *nlh, const char *name, struct nlattr **ret_data)
{
	struct nlattr *elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, name);
	*ret_data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	return elem;
}

static void
expr_end(struct nlmsghdr *nlh, struct nlattr *elem, struct nlattr *data)
{
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, elem);
}

/* meta load KEY => reg 1 */
static void
put_meta(struct nlmsghdr *nlh, uint32_t key)
{
	struct nlattr *data, *elem = expr_begin(nlh, "meta", &data);

	mnl_attr_put_u32(nlh, NFTA_META_KEY, htonl(key));
	mnl_attr_put_u32(nlh, NFTA_META_DREG, htonl(NFT_REG_1));
	expr_end(nlh, elem, data);
}

/* cmp eq reg 1 VALUE */
static void
put_cmp_eq(struct nlmsghdr *nlh, const void *value, size_t len)
{
	struct nlattr *data, *elem = expr_begin(nlh, "cmp", &data), *v;

	mnl_attr_put_u32(nlh, NFTA_CMP_SREG, htonl(NFT_REG_1));
	mnl_attr_put_u32(nlh, NFTA_CMP_OP, htonl(NFT_CMP_EQ));
	v = mnl_attr_nest_start(nlh, NFTA_CMP_DATA);
	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, value);
	mnl_attr_nest_end(nlh, v);
	expr_end(nlh, elem, data);
}

/* meta load KEY => reg 1; cmp eq reg 1 NAME (an interface name, as nft
 * compares one: IFNAMSIZ bytes, zero padded) */
static void
put_ifname_is(struct nlmsghdr *nlh, uint32_t key, const char *name)
{
	char padded[IFNAMSIZ] = { 0 };

	memcpy(padded, name, strlen(name));
	put_meta(nlh, key);
	put_cmp_eq(nlh, padded, sizeof(padded));
}

/* One NEWRULE appended to chain, with the expressions the caller puts
 * between, and the comment stored as nft stores it. */
static struct nlmsghdr *
rule_begin(struct mnl_nlmsg_batch *b, uint32_t seq, const char *chain)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, NAT_TABLE);
	mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain);
	return nlh;
}

/*
 * A VM's batch is a few hundred bytes (names and the comment are bounded):
 * past NAT_BATCH_LIMIT is a bug.  libmnl writes a message before it checks
 * the limit, so the buffer is twice that.
 */
#define NAT_BATCH_LIMIT 4096

static void
batch_next(struct mnl_nlmsg_batch *b)
{
	if (!mnl_nlmsg_batch_next(b))
		abort();
}

static void
rule_end(struct mnl_nlmsg_batch *b, struct nlmsghdr *nlh, struct nlattr *exprs,
	 const char *comment)
{
	uint8_t ud[2 + 64];
	size_t n = strlen(comment) + 1;

	mnl_attr_nest_end(nlh, exprs);
	ud[0] = UDATA_RULE_COMMENT;
	ud[1] = (uint8_t)n;
	memcpy(ud + 2, comment, n);
	mnl_attr_put(nlh, NFTA_RULE_USERDATA, 2 + n, ud);
	batch_next(b);
}

static void
batch_mark(struct mnl_nlmsg_batch *b, uint16_t type, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	batch_next(b);
}

int
nat_nl_add_vm_rules(struct nat_nl *s, const char *vm_id, uint32_t ip, const char *tap,
		    const char *uplink, bool masq, bool fwd, struct error **err)
{
	union {
		struct nlmsghdr align;
		char bytes[2 * NAT_BATCH_LIMIT];
	} buf;
	char comment[64];
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;
	struct nlattr *exprs;
	uint32_t first, want = 0, got = 0;
	int r = 0;

	if (!name_is_vm_id(vm_id) || !net_ifname_is_valid(uplink) || ip == 0 ||
	    !net_tap_name_is_valid(tap))
		return error_set(err, -EINVAL, "nat: invalid vm id, tap, address or uplink");
	if (!masq && !fwd)
		return 0;
	if (!s->nl && (r = sock_open(s)) < 0)
		return error_set(err, r, "nf_tables netlink socket: %s", strerror(-r));
	snprintf(comment, sizeof(comment), NAT_COMMENT_PREFIX "%s", vm_id);
	b = mnl_nlmsg_batch_start(buf.bytes, NAT_BATCH_LIMIT);
	if (!b)
		abort();
	first = s->seq + 1;
	batch_mark(b, NFNL_MSG_BATCH_BEGIN, ++s->seq);
	if (masq) {
		const uint8_t proto = NFPROTO_IPV4;
		const uint8_t addr[4] = { (uint8_t)(ip >> 24), (uint8_t)(ip >> 16),
					  (uint8_t)(ip >> 8), (uint8_t)ip };
		struct nlattr *data, *elem;

		nlh = rule_begin(b, ++s->seq, NAT_CHAIN_POSTROUTING);
		exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
		put_meta(nlh, NFT_META_NFPROTO);
		put_cmp_eq(nlh, &proto, sizeof(proto));
		elem = expr_begin(nlh, "payload", &data);
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_DREG, htonl(NFT_REG_1));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_BASE, htonl(NFT_PAYLOAD_NETWORK_HEADER));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_OFFSET, htonl(12));
		mnl_attr_put_u32(nlh, NFTA_PAYLOAD_LEN, htonl(4));
		expr_end(nlh, elem, data);
		put_cmp_eq(nlh, addr, sizeof(addr));
		put_ifname_is(nlh, NFT_META_OIFNAME, uplink);
		elem = expr_begin(nlh, "masq", &data);
		expr_end(nlh, elem, data);
		rule_end(b, nlh, exprs, comment);
		want++;
	}
	if (fwd) {
		struct nlattr *data, *elem, *d, *v;

		nlh = rule_begin(b, ++s->seq, NAT_CHAIN_FORWARD);
		exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
		put_ifname_is(nlh, NFT_META_IIFNAME, tap);
		put_ifname_is(nlh, NFT_META_OIFNAME, uplink);
		elem = expr_begin(nlh, "immediate", &data);
		mnl_attr_put_u32(nlh, NFTA_IMMEDIATE_DREG, htonl(NFT_REG_VERDICT));
		d = mnl_attr_nest_start(nlh, NFTA_IMMEDIATE_DATA);
		v = mnl_attr_nest_start(nlh, NFTA_DATA_VERDICT);
		mnl_attr_put_u32(nlh, NFTA_VERDICT_CODE, htonl(NF_ACCEPT));
		mnl_attr_nest_end(nlh, v);
		mnl_attr_nest_end(nlh, d);
		expr_end(nlh, elem, data);
		rule_end(b, nlh, exprs, comment);
		want++;
	}
	batch_mark(b, NFNL_MSG_BATCH_END, ++s->seq);

	if (mnl_socket_sendto(s->nl, mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b)) < 0)
		r = -errno;
	mnl_nlmsg_batch_stop(b);
	if (r < 0)
		goto reset;
	/* One answer per rule: an ack, or the error that undid the whole batch. */
	while (got < want) {
		ssize_t len = recv_msgs(s);
		const struct nlmsghdr *m = (const struct nlmsghdr *)(const void *)s->buf;
		int left;

		if (len < 0) {
			r = (int)len;
			goto reset;
		}
		for (left = (int)len; mnl_nlmsg_ok(m, left); m = mnl_nlmsg_next(m, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

			if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq < first ||
			    m->nlmsg_seq > s->seq || m->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
				continue;
			if (e->error < 0) {
				r = e->error;
				goto reset;
			}
			got++;
		}
	}
	return 0;
reset:
	(void)sock_open(s);
	return error_set(err, r < 0 ? r : -EIO, "nf_tables: add rules: %s",
			 strerror(r < 0 ? -r : EIO));
}
