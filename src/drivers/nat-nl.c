/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Reading banger's nftables table straight from the kernel: nf_tables
 * netlink dumps (libmnl), parsed by libnftnl, the rules classified from
 * their expressions.  This is what every reconcile pays once, so it must
 * cost little on a host with thousands of rules: no JSON is built or
 * parsed, and the kernel filters the rule dump to banger's table.
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
 */
#include "config.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "drivers/nat.h"
#include "util/alloc.h"
#include "util/cleanup.h"

/* The kernel fills a dump message up to the reader's buffer (at most 32 KiB). */
#define NL_BUF_SIZE (32u * 1024u)
/* Listings restarted because the ruleset changed under them, at most. */
#define LIST_ATTEMPTS 16
/* The most expressions a rule banger recognises has. */
#define EXPR_MAX 7

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
	s->nl = mnl_socket_open(NETLINK_NETFILTER);
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
	int r = MNL_CB_OK;

	if (!s->nl && (r = sock_open(s)) < 0)
		return r;
	if (mnl_socket_sendto(s->nl, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		goto reset;
	}
	while (r > MNL_CB_STOP) {
		len = mnl_socket_recvfrom(s->nl, s->buf, NL_BUF_SIZE);
		if (len < 0) {
			r = -errno;
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

static int
gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	struct nftnl_gen *gen = nftnl_gen_alloc();

	if (!gen || nftnl_gen_nlmsg_parse(nlh, gen) < 0 || !nftnl_gen_is_set(gen, NFTNL_GEN_ID)) {
		if (gen)
			nftnl_gen_free(gen);
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	g->gen = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

static int
table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	struct nftnl_table *t = nftnl_table_alloc();
	const char *name;

	if (!t || nftnl_table_nlmsg_parse(nlh, t) < 0) {
		if (t)
			nftnl_table_free(t);
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	name = nftnl_table_get_str(t, NFTNL_TABLE_NAME);
	if (name && strcmp(name, NAT_TABLE) == 0 &&
	    nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY) == NFPROTO_INET)
		g->has_table = true;
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static bool
str_is(const char *a, const char *b)
{
	return a && strcmp(a, b) == 0;
}

static int
chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	struct nftnl_chain *c = nftnl_chain_alloc();
	const char *name, *type;
	uint32_t hook;

	if (!c || nftnl_chain_nlmsg_parse(nlh, c) < 0) {
		if (c)
			nftnl_chain_free(c);
		g->error = -EBADMSG;
		return MNL_CB_ERROR;
	}
	if (str_is(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), NAT_TABLE) &&
	    nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY) == NFPROTO_INET &&
	    nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM)) {
		name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
		type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
		hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
		if (str_is(name, NAT_CHAIN_POSTROUTING) && str_is(type, "nat") &&
		    hook == NF_INET_POST_ROUTING)
			g->chains |= NAT_HAS_POSTROUTING;
		else if (str_is(name, NAT_CHAIN_FORWARD) && str_is(type, "filter") &&
			 hook == NF_INET_FORWARD)
			g->chains |= NAT_HAS_FORWARD;
	}
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

/* ---- expressions ---- */

static bool
expr_is(const struct nftnl_expr *e, const char *name)
{
	return str_is(nftnl_expr_get_str(e, NFTNL_EXPR_NAME), name);
}

/* "meta load KEY => reg"; its register in *reg. */
static bool
is_meta_load(const struct nftnl_expr *e, uint32_t key, uint32_t *reg)
{
	if (!expr_is(e, "meta") || !nftnl_expr_is_set(e, NFTNL_EXPR_META_DREG) ||
	    nftnl_expr_is_set(e, NFTNL_EXPR_META_SREG) ||
	    nftnl_expr_get_u32(e, NFTNL_EXPR_META_KEY) != key)
		return false;
	*reg = nftnl_expr_get_u32(e, NFTNL_EXPR_META_DREG);
	return true;
}

/* "cmp OP reg DATA"; the data and its length in *ret, *ret_len. */
static bool
is_cmp(const struct nftnl_expr *e, uint32_t reg, uint32_t op, const void **ret,
       uint32_t *ret_len)
{
	if (!expr_is(e, "cmp") || nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_SREG) != reg ||
	    nftnl_expr_get_u32(e, NFTNL_EXPR_CMP_OP) != op)
		return false;
	*ret = nftnl_expr_get(e, NFTNL_EXPR_CMP_DATA, ret_len);
	return *ret != NULL;
}

/*
 * "meta load KEY => reg; cmp eq reg NAME": an exact interface name, which
 * nft writes as IFNAMSIZ bytes, NUL padded.  A shorter compare is a
 * wildcard ("tap*"), not a name.
 */
static bool
match_ifname(const struct nftnl_expr *load, const struct nftnl_expr *cmp, uint32_t key,
	     char ret[static IFNAMSIZ])
{
	const char *d;
	uint32_t reg, len;
	size_t n;

	if (!is_meta_load(load, key, &reg) ||
	    !is_cmp(cmp, reg, NFT_CMP_EQ, (const void **)&d, &len) || len != IFNAMSIZ)
		return false;
	n = strnlen(d, IFNAMSIZ);
	if (n == 0 || n == IFNAMSIZ)
		return false;
	for (size_t i = n; i < IFNAMSIZ; i++)
		if (d[i])
			return false;
	memcpy(ret, d, n + 1);
	return true;
}

static bool
is_accept(const struct nftnl_expr *e)
{
	return expr_is(e, "immediate") &&
	       nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
	       !nftnl_expr_is_set(e, NFTNL_EXPR_IMM_CHAIN) &&
	       nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_VERDICT &&
	       (int32_t)nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_ACCEPT;
}

/* meta nfproto ipv4; ip saddr ADDR: the address, host order, in *ip. */
static bool
match_saddr(struct nftnl_expr *const *x, uint32_t *ip)
{
	const uint8_t *d;
	uint32_t reg, len;

	if (!is_meta_load(x[0], NFT_META_NFPROTO, &reg) ||
	    !is_cmp(x[1], reg, NFT_CMP_EQ, (const void **)&d, &len) || len != 1 ||
	    d[0] != NFPROTO_IPV4)
		return false;
	if (!expr_is(x[2], "payload") || nftnl_expr_is_set(x[2], NFTNL_EXPR_PAYLOAD_SREG) ||
	    !nftnl_expr_is_set(x[2], NFTNL_EXPR_PAYLOAD_DREG) ||
	    nftnl_expr_get_u32(x[2], NFTNL_EXPR_PAYLOAD_BASE) != NFT_PAYLOAD_NETWORK_HEADER ||
	    nftnl_expr_get_u32(x[2], NFTNL_EXPR_PAYLOAD_OFFSET) != 12 ||
	    nftnl_expr_get_u32(x[2], NFTNL_EXPR_PAYLOAD_LEN) != 4)
		return false;
	reg = nftnl_expr_get_u32(x[2], NFTNL_EXPR_PAYLOAD_DREG);
	if (!is_cmp(x[3], reg, NFT_CMP_EQ, (const void **)&d, &len) || len != 4)
		return false;
	*ip = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 | (uint32_t)d[2] << 8 | d[3];
	return true;
}

static bool
is_plain_masq(const struct nftnl_expr *e)
{
	return expr_is(e, "masq") &&
	       (!nftnl_expr_is_set(e, NFTNL_EXPR_MASQ_FLAGS) ||
		nftnl_expr_get_u32(e, NFTNL_EXPR_MASQ_FLAGS) == 0) &&
	       !nftnl_expr_is_set(e, NFTNL_EXPR_MASQ_REG_PROTO_MIN) &&
	       !nftnl_expr_is_set(e, NFTNL_EXPR_MASQ_REG_PROTO_MAX);
}

/* ct state established,related */
static bool
match_ct_established(struct nftnl_expr *const *x)
{
	const void *mask, *xor, *zero;
	uint32_t reg, len, m, v;

	if (!expr_is(x[0], "ct") || nftnl_expr_is_set(x[0], NFTNL_EXPR_CT_SREG) ||
	    nftnl_expr_is_set(x[0], NFTNL_EXPR_CT_DIR) ||
	    !nftnl_expr_is_set(x[0], NFTNL_EXPR_CT_DREG) ||
	    nftnl_expr_get_u32(x[0], NFTNL_EXPR_CT_KEY) != NFT_CT_STATE)
		return false;
	reg = nftnl_expr_get_u32(x[0], NFTNL_EXPR_CT_DREG);
	if (!expr_is(x[1], "bitwise") || nftnl_expr_get_u32(x[1], NFTNL_EXPR_BITWISE_SREG) != reg ||
	    nftnl_expr_get_u32(x[1], NFTNL_EXPR_BITWISE_DREG) != reg ||
	    nftnl_expr_get_u32(x[1], NFTNL_EXPR_BITWISE_LEN) != 4 ||
	    (nftnl_expr_is_set(x[1], NFTNL_EXPR_BITWISE_OP) &&
	     nftnl_expr_get_u32(x[1], NFTNL_EXPR_BITWISE_OP) != NFT_BITWISE_BOOL))
		return false;
	mask = nftnl_expr_get(x[1], NFTNL_EXPR_BITWISE_MASK, &len);
	if (!mask || len != 4)
		return false;
	memcpy(&m, mask, 4);
	xor = nftnl_expr_get(x[1], NFTNL_EXPR_BITWISE_XOR, &len);
	if (!xor || len != 4)
		return false;
	memcpy(&v, xor, 4);
	/* ct state bits are host order in the kernel's registers */
	if (m != (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED)) || v != 0)
		return false;
	if (!is_cmp(x[2], reg, NFT_CMP_NEQ, &zero, &len) || len != 4)
		return false;
	memcpy(&v, zero, 4);
	return v == 0;
}

static void
classify(struct nat_rule *r, struct nftnl_expr *const *x, size_t n)
{
	char a[IFNAMSIZ], b[IFNAMSIZ];
	uint32_t ip;

	r->kind = NAT_RULE_OTHER;
	if (strcmp(r->chain, NAT_CHAIN_POSTROUTING) == 0 && n == 7) {
		if (match_saddr(x, &ip) && match_ifname(x[4], x[5], NFT_META_OIFNAME, b) &&
		    is_plain_masq(x[6])) {
			r->kind = NAT_RULE_MASQUERADE;
			r->ip = ip;
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && n == 5) {
		if (match_ifname(x[0], x[1], NFT_META_IIFNAME, a) &&
		    match_ifname(x[2], x[3], NFT_META_OIFNAME, b) && is_accept(x[4])) {
			r->kind = NAT_RULE_FORWARD;
			r->tap = xstrdup(a);
			r->uplink = xstrdup(b);
		}
	} else if (strcmp(r->chain, NAT_CHAIN_FORWARD) == 0 && n == 4) {
		if (match_ct_established(x) && is_accept(x[3]))
			r->kind = NAT_RULE_ESTABLISHED;
	}
}

/*
 * The rule's comment: the string of its NFTNL_UDATA_RULE_COMMENT record
 * (type, length, value records), NUL terminated with no NUL inside; NULL
 * when there is none or the records do not fit their buffer.
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
		if (type == NFTNL_UDATA_RULE_COMMENT)
			return n > 0 && v[n - 1] == '\0' && strlen(v) == (size_t)n - 1 ? v : NULL;
		ud += 2 + n;
	}
	return NULL;
}

static int
rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct gather *g = data;
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nftnl_expr *x[EXPR_MAX];
	struct nftnl_expr_iter *it = NULL;
	struct nftnl_expr *e;
	struct nat_rule *nr;
	const char *chain, *comment;
	const void *ud;
	uint32_t udlen;
	size_t n = 0;

	if (!rule || nftnl_rule_nlmsg_parse(nlh, rule) < 0)
		goto bad;
	/* The kernel filters by table; check anyway. */
	if (!str_is(nftnl_rule_get_str(rule, NFTNL_RULE_TABLE), NAT_TABLE) ||
	    nftnl_rule_get_u32(rule, NFTNL_RULE_FAMILY) != NFPROTO_INET) {
		nftnl_rule_free(rule);
		return MNL_CB_OK;
	}
	chain = nftnl_rule_get_str(rule, NFTNL_RULE_CHAIN);
	if (!chain || !nftnl_rule_is_set(rule, NFTNL_RULE_HANDLE) ||
	    nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE) == 0)
		goto bad;
	g->rules = xappend(g->rules, &g->n, sizeof(*g->rules), (void **)&nr);
	nr->handle = nftnl_rule_get_u64(rule, NFTNL_RULE_HANDLE);
	nr->chain = xstrdup(chain);
	ud = nftnl_rule_get_data(rule, NFTNL_RULE_USERDATA, &udlen);
	comment = ud ? rule_comment(ud, udlen) : NULL;
	if (comment)
		(void)nat_comment_parse(comment, &nr->vm_id);
	it = nftnl_expr_iter_create(rule);
	if (!it)
		goto bad;
	while ((e = nftnl_expr_iter_next(it))) {
		if (n == EXPR_MAX) {
			n++;
			break;
		}
		x[n++] = e;
	}
	classify(nr, x, n);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(rule);
	return MNL_CB_OK;
bad:
	if (rule)
		nftnl_rule_free(rule);
	g->error = -EBADMSG;
	return MNL_CB_ERROR;
}

/* ---- requests ---- */

static struct nlmsghdr *
request(struct nat_nl *s, uint16_t cmd, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(s->buf, cmd, family, NLM_F_REQUEST | flags, ++s->seq);
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
nat_nl_list(struct nat_nl *s, struct nat_rule **ret, size_t *ret_n, bool *ret_has_table,
	    unsigned *ret_chains, struct error **err)
{
	struct gather g = { 0 };
	int r = -EAGAIN;

	for (int i = 0; i < LIST_ATTEMPTS && r == -EAGAIN; i++) {
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
