/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real NAT backend, in-process (no nft process).  Everything it does
 * happens in table inet banger: reads dump that table over nf_tables netlink
 * (nat-nl.c); a VM's two rules added to chains that exist are nf_tables
 * messages too (nat_nl_add_vm_rules); every other write is one libnftables
 * batch (one transaction) of commands rendered from checked values.  No
 * other table is ever named.  The libnftables context is made on the first
 * write that needs it: a run that changes nothing (the timer's usual run),
 * or only adds VMs to a table that is there, never pays for it.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <nftables/libnftables.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/strv.h"

struct listing {
	struct nat_rule *rules;
	size_t n;
	bool has_table;
	unsigned chains;
};

/*
 * The table as this driver last listed it to change it, kept up to date with
 * the changes it makes itself, so that a run adding or deleting the rules of
 * many VMs lists the table once for them all instead of once per VM.
 * Rules it added carry handle 0 (unknown): deleting one lists again.  A run
 * holds the status directory's lock, and a rule someone else changes
 * meanwhile is drift the next run repairs.
 */
struct nat_nft {
	struct nat_ops ops;
	struct nat_nl *nl;
	struct nft_ctx *ctx;	/* NULL until the first write */
	struct listing cache;
	bool cached;
	/* vm_delete's queue: the delete commands, and the VMs they are for */
	char *pending;
	char **pending_ids;
};

/* libnftables reports errors as text only; recover the errno we care about. */
static int
nft_text_to_errno(const char *text)
{
	static const int codes[] = { ENOENT, EEXIST, EPERM, EACCES, EBUSY, EINVAL,
				     EOPNOTSUPP, ENOMEM, ENOSPC, EPROTONOSUPPORT };

	for (size_t i = 0; i < ELEMENTSOF(codes); i++)
		if (strstr(text, strerror(codes[i])))
			return -codes[i];
	return -EIO;
}

/* First "Error: ..." line of libnftables' error text, without the prefix. */
static char *
nft_error_line(const char *text)
{
	const char *p = strstr(text, "Error: ");
	size_t len;

	p = p ? p + strlen("Error: ") : text;
	len = strcspn(p, "\n");
	return xstrndup(p, len);
}

/* Run cmds as one batch (one transaction). */
static int
nft_run(struct nat_nft *n, const char *cmds, struct error **err)
{
	const char *errtext;
	int rc;

	if (!n->ctx) {
		n->ctx = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!n->ctx)
			return error_set(err, -ENOMEM, "nft: context creation");
		if (nft_ctx_buffer_output(n->ctx) < 0 || nft_ctx_buffer_error(n->ctx) < 0) {
			nft_ctx_free(n->ctx);
			n->ctx = NULL;
			return error_set(err, -ENOMEM, "nft: output buffers");
		}
	}
	rc = nft_run_cmd_from_buffer(n->ctx, cmds);
	/* Reading a buffer resets it; read both every time. */
	(void)nft_ctx_get_output_buffer(n->ctx);
	errtext = nft_ctx_get_error_buffer(n->ctx);
	if (rc != 0) {
		_cleanup_free_ char *line = nft_error_line(errtext ? errtext : "");

		return error_set(err, nft_text_to_errno(errtext ? errtext : ""), "nft: %s",
				 line[0] ? line : "command refused");
	}
	return 0;
}

static void
listing_done(struct listing *l)
{
	nat_rules_free(l->rules, l->n);
	memset(l, 0, sizeof(*l));
}

/* List banger's table; an absent table is an empty listing. */
static int
nat_list(struct nat_nft *n, struct listing *ret, struct error **err)
{
	return nat_nl_list(n->nl, &ret->rules, &ret->n, &ret->has_table, &ret->chains, err);
}

static void
cache_drop(struct nat_nft *n)
{
	listing_done(&n->cache);
	n->cached = false;
}

/* The cached listing, listing the table when there is none. */
static int
cache_get(struct nat_nft *n, struct listing **ret, struct error **err)
{
	int r;

	if (!n->cached) {
		r = nat_list(n, &n->cache, err);
		if (r < 0)
			return r;
		n->cached = true;
	}
	*ret = &n->cache;
	return 0;
}

/* Whether the cached rules of vm_id all have their handles. */
static bool
cache_handles_known(const struct listing *l, const char *vm_id)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->rules[i].vm_id && strcmp(l->rules[i].vm_id, vm_id) == 0 && !l->rules[i].handle)
			return false;
	return true;
}

/* The cached listing with every handle of vm_id's rules known: listed
 * again when this run added one of them (its handle is not known). */
static int
cache_get_vm(struct nat_nft *n, const char *vm_id, struct listing **ret, struct error **err)
{
	int r = cache_get(n, ret, err);

	if (r < 0 || cache_handles_known(*ret, vm_id))
		return r;
	cache_drop(n);
	return cache_get(n, ret, err);
}

static void
cache_remove(struct listing *l, size_t i)
{
	nat_rule_done(&l->rules[i]);
	memmove(&l->rules[i], &l->rules[i + 1], (l->n - i - 1) * sizeof(*l->rules));
	l->n--;
}

static void
cache_add(struct listing *l, enum nat_rule_kind kind, const char *chain, const char *vm_id,
	  const char *tap, uint32_t ip, const char *uplink)
{
	struct nat_rule *x;

	l->rules = xappend(l->rules, &l->n, sizeof(*l->rules), (void **)&x);
	x->kind = kind;
	x->chain = xstrdup(chain);
	x->vm_id = vm_id ? xstrdup(vm_id) : NULL;
	x->tap = tap ? xstrdup(tap) : NULL;
	x->ip = ip;
	x->uplink = uplink ? xstrdup(uplink) : NULL;
}

static bool
has_kind(const struct listing *l, enum nat_rule_kind k)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->rules[i].kind == k)
			return true;
	return false;
}

static void
append(char **buf, const char *s)
{
	*buf = strcat(xrealloc(*buf, strlen(*buf) + strlen(s) + 1), s);
}

/* Append to *buf what is needed so that the table, its chains and the shared rule exist. */
static void
render_prelude(const struct listing *l, char **buf)
{
	if (!l->has_table)
		append(buf, nat_render_table());
	if (l->chains != (NAT_HAS_POSTROUTING | NAT_HAS_FORWARD))
		append(buf, nat_render_chains());
	if (!has_kind(l, NAT_RULE_ESTABLISHED))
		append(buf, nat_render_shared_rule());
}

/* What render_prelude's commands made, in the cache. */
static void
cache_prelude_done(struct listing *l)
{
	l->has_table = true;
	l->chains = NAT_HAS_POSTROUTING | NAT_HAS_FORWARD;
	if (!has_kind(l, NAT_RULE_ESTABLISHED))
		cache_add(l, NAT_RULE_ESTABLISHED, NAT_CHAIN_FORWARD, NULL, NULL, 0, NULL);
}

static int
nft_table_ensure(void *userdata, struct error **err)
{
	struct nat_nft *n = userdata;
	_cleanup_free_ char *cmds = xstrdup("");
	struct listing *l;
	int r;

	r = cache_get(n, &l, err);
	if (r < 0)
		return r;
	render_prelude(l, &cmds);
	if (!cmds[0])
		return 0;
	r = nft_run(n, cmds, err);
	if (r < 0) {
		cache_drop(n);
		return error_prefix(err, "table inet " NAT_TABLE);
	}
	cache_prelude_done(l);
	return 0;
}

/*
 * 1. render both wanted rules (every value checked);
 * 2. list the table: keep the first exact match of each, delete every other
 *    rule that carries this VM's id (stale uplink, ip or tap; duplicates);
 * 3. one batch: missing table/chains/shared rule, deletes, missing adds.
 */
static int nft_flush(void *userdata, struct error **err);

static int
nft_vm_add(void *userdata, const char *vm_id, const char *tap, uint32_t ip, const char *uplink,
	   struct error **err)
{
	struct nat_nft *n = userdata;
	_cleanup_free_ char *masq = NULL, *fwd = NULL, *cmds = xstrdup("");
	_cleanup_free_ bool *drop = NULL;
	struct listing *l;
	bool masq_ok = false, fwd_ok = false;
	int r;

	if (nat_render_masquerade(vm_id, ip, uplink, &masq) < 0 ||
	    nat_render_forward(vm_id, tap, uplink, &fwd) < 0)
		return error_set(err, -EINVAL, "nat: invalid vm id, tap, address or uplink");
	if (strv_contains(n->pending_ids, vm_id)) {
		/* Its old rules are queued for deletion: send that first. */
		r = nft_flush(n, err);
		if (r < 0)
			return r;
	}
	r = cache_get_vm(n, vm_id, &l, err);
	if (r < 0)
		return error_prefix(err, "nat vm '%s'", vm_id);
	render_prelude(l, &cmds);
	drop = xcalloc(l->n + 1, sizeof(*drop));
	for (size_t i = 0; i < l->n; i++) {
		const struct nat_rule *x = &l->rules[i];
		_cleanup_free_ char *del = NULL;

		if (!x->vm_id || strcmp(x->vm_id, vm_id) != 0)
			continue;
		if (!masq_ok && x->kind == NAT_RULE_MASQUERADE && x->ip == ip &&
		    strcmp(x->uplink, uplink) == 0) {
			masq_ok = true;
			continue;
		}
		if (!fwd_ok && x->kind == NAT_RULE_FORWARD && strcmp(x->tap, tap) == 0 &&
		    strcmp(x->uplink, uplink) == 0) {
			fwd_ok = true;
			continue;
		}
		if (nat_render_delete(x->chain, x->handle, &del) < 0)
			return error_set(err, -EINVAL, "nat vm '%s': rule in chain with an "
					 "unsupported name", vm_id);
		append(&cmds, del);
		drop[i] = true;
	}
	if (!cmds[0]) {
		/* The usual case: only this VM's two rules to add, to chains that
		 * exist.  Sent as nf_tables messages: libnftables would parse the
		 * commands and list the ruleset for its cache, each time. */
		if (masq_ok && fwd_ok)
			return 0;
		r = nat_nl_add_vm_rules(n->nl, vm_id, ip, tap, uplink, !masq_ok, !fwd_ok, err);
		if (r < 0) {
			cache_drop(n);
			return error_prefix(err, "nat vm '%s'", vm_id);
		}
		goto added;
	}
	if (!masq_ok)
		append(&cmds, masq);
	if (!fwd_ok)
		append(&cmds, fwd);
	r = nft_run(n, cmds, err);
	if (r < 0) {
		cache_drop(n);
		return error_prefix(err, "nat vm '%s'", vm_id);
	}
	cache_prelude_done(l);
	for (size_t i = l->n; i-- > 0;)
		if (drop[i])
			cache_remove(l, i);
added:
	if (!masq_ok)
		cache_add(l, NAT_RULE_MASQUERADE, NAT_CHAIN_POSTROUTING, vm_id, NULL, ip, uplink);
	if (!fwd_ok)
		cache_add(l, NAT_RULE_FORWARD, NAT_CHAIN_FORWARD, vm_id, tap, 0, uplink);
	return 0;
}

/* Render the deletes of vm_id's rules from l (every handle known) into *cmds. */
static int
render_vm_deletes(const struct listing *l, const char *vm_id, char **cmds, struct error **err)
{
	for (size_t i = 0; i < l->n; i++) {
		_cleanup_free_ char *del = NULL;

		if (!l->rules[i].vm_id || strcmp(l->rules[i].vm_id, vm_id) != 0)
			continue;
		if (nat_render_delete(l->rules[i].chain, l->rules[i].handle, &del) < 0)
			return error_set(err, -EINVAL, "nat vm '%s': rule in chain with an "
					 "unsupported name", vm_id);
		append(cmds, del);
	}
	return 0;
}

static int
nft_vm_delete(void *userdata, const char *vm_id, struct error **err)
{
	struct nat_nft *n = userdata;
	_cleanup_free_ char *cmds = xstrdup("");
	struct listing *l;
	int r = 0;

	if (!name_is_vm_id(vm_id))
		return error_set(err, -EINVAL, "nat: invalid vm id");
	if (strv_contains(n->pending_ids, vm_id))
		return 0;
	r = cache_get_vm(n, vm_id, &l, err);
	if (r >= 0)
		r = render_vm_deletes(l, vm_id, &cmds, err);
	if (r < 0)
		return error_prefix(err, "nat vm '%s'", vm_id);
	if (!cmds[0])
		return 0;
	/* Queued for flush: each nft transaction costs about half a
	 * millisecond, and a run deleting many VMs needs only one. */
	if (!n->pending)
		n->pending = xstrdup("");
	append(&n->pending, cmds);
	n->pending_ids = strv_append(n->pending_ids, vm_id);
	for (size_t i = l->n; i-- > 0;)
		if (l->rules[i].vm_id && strcmp(l->rules[i].vm_id, vm_id) == 0)
			cache_remove(l, i);
	return 0;
}

static int
nft_flush(void *userdata, struct error **err)
{
	struct nat_nft *n = userdata;
	_cleanup_free_ char *cmds = TAKE_PTR(n->pending);
	_cleanup_strv_free_ char **ids = TAKE_PTR(n->pending_ids);
	struct error *e = NULL;
	int r;

	if (!cmds || !cmds[0])
		return 0;
	r = nft_run(n, cmds, &e);
	if (r >= 0)
		return 0;
	/* One transaction fails whole (a rule deleted meanwhile, say): list
	 * again and delete VM by VM, so one VM's trouble is its own. */
	error_free(e);
	cache_drop(n);
	for (size_t i = 0; ids && ids[i]; i++) {
		_cleanup_free_ char *one = xstrdup("");
		struct listing *l;

		r = cache_get(n, &l, err);
		if (r >= 0)
			r = render_vm_deletes(l, ids[i], &one, err);
		if (r >= 0 && one[0]) {
			r = nft_run(n, one, err);
			cache_drop(n);
		}
		if (r < 0)
			return error_prefix(err, "nat vm '%s'", ids[i]);
	}
	return 0;
}

static int
nft_rule_delete(void *userdata, const char *chain, uint64_t handle, struct error **err)
{
	struct nat_nft *n = userdata;
	_cleanup_free_ char *cmd = NULL;
	struct error *e = NULL;
	struct listing l = { 0 };
	bool present = false;
	int r;

	if (nat_render_delete(chain, handle, &cmd) < 0)
		return error_set(err, -EINVAL, "nat: invalid chain or rule handle");
	r = nft_run(n, cmd, &e);
	if (r == 0) {
		for (size_t i = n->cache.n; n->cached && i-- > 0;)
			if (n->cache.rules[i].handle == handle &&
			    strcmp(n->cache.rules[i].chain, chain) == 0)
				cache_remove(&n->cache, i);
		return 0;
	}
	cache_drop(n);
	if (r != -ENOENT) {
		(void)error_set(err, r, "nat rule %s/%" PRIu64 ": %s", chain, handle, e->msg);
		error_free(e);
		return r;
	}
	/* Already gone (or no table at all) is success; anything else is reported. */
	r = nat_list(n, &l, err);
	if (r < 0) {
		error_free(e);
		return r;
	}
	for (size_t i = 0; i < l.n; i++)
		if (l.rules[i].handle == handle && strcmp(l.rules[i].chain, chain) == 0)
			present = true;
	listing_done(&l);
	if (present) {
		r = error_set(err, -ENOENT, "nat rule %s/%" PRIu64 ": %s", chain, handle, e->msg);
		error_free(e);
		return r;
	}
	error_free(e);
	return 0;
}

static int
nft_rule_list(void *userdata, struct nat_rule **ret, size_t *ret_n, struct error **err)
{
	struct nat_nft *n = userdata;
	struct listing l = { 0 };
	int r;

	/* Observation: a fresh listing, and the next change lists again (what
	 * is observed may be changed by hand before the run acts on it). */
	cache_drop(n);
	r = nat_list(n, &l, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(l.rules);
	*ret_n = l.n;
	return 0;
}

int
nat_nft_new(struct nat_ops **ret, struct error **err)
{
	struct nat_nft *n;
	struct nat_nl *nl;
	int r;

	r = nat_nl_new(&nl, err);
	if (r < 0)
		return r;
	n = xcalloc(1, sizeof(*n));
	n->nl = nl;
	n->ops = (struct nat_ops){
		.table_ensure = nft_table_ensure,
		.vm_add = nft_vm_add,
		.vm_delete = nft_vm_delete,
		.flush = nft_flush,
		.rule_delete = nft_rule_delete,
		.rule_list = nft_rule_list,
		.userdata = n,
	};
	*ret = &n->ops;
	return 0;
}

struct nat_ops *
nat_nft_free(struct nat_ops *ops)
{
	struct nat_nft *n;

	if (!ops)
		return NULL;
	n = ops->userdata;
	listing_done(&n->cache);
	free(n->pending);
	strv_free(n->pending_ids);
	if (n->ctx)
		nft_ctx_free(n->ctx);
	nat_nl_free(n->nl);
	free(n);
	return NULL;
}
