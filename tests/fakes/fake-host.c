/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The fake host: every ops table over an in-memory list of objects.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake-host.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/sha256.h"
#include "util/strv.h"

/* The fake copies every string it keeps: casting const away to pass one in is safe. */
#define UNCONST(p) ((char *)(uintptr_t)(p))

static char *
dupn(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
obj_done(struct fake_obj *o)
{
	free(o->name);
	free(o->alias);
	free(o->master);
	free(o->backing);
	free(o->note);
	free(o->chain);
	free(o->vm_id);
	free(o->tap);
	free(o->uplink);
	memset(o, 0, sizeof(*o));
}

void
fake_host_add(struct fake_host *h, const struct fake_obj *o)
{
	struct fake_obj *n;

	h->dirty = true;
	h->file_index_ok = false;
	h->objs = xappend(h->objs, &h->n_objs, sizeof(*h->objs), (void **)&n);
	*n = *o;
	n->name = dupn(o->name);
	n->alias = dupn(o->alias);
	n->master = dupn(o->master);
	n->backing = dupn(o->backing);
	n->note = dupn(o->note);
	n->chain = dupn(o->chain);
	n->vm_id = dupn(o->vm_id);
	n->tap = dupn(o->tap);
	n->uplink = dupn(o->uplink);
}

static void
obj_del(struct fake_host *h, size_t i)
{
	h->file_index_ok = false;
	/* A tap deleted under its guest: the guest holds no device any more
	 * (one made again by that name is another). */
	if (h->objs[i].kind == FAKE_LINK)
		for (size_t k = 0; k < h->n_objs; k++)
			if (h->objs[k].kind == FAKE_PROC && h->objs[k].tap &&
			    strcmp(h->objs[k].tap, h->objs[i].name) == 0) {
				free(h->objs[k].tap);
				h->objs[k].tap = NULL;
			}
	obj_done(&h->objs[i]);
	memmove(&h->objs[i], &h->objs[i + 1], (h->n_objs - i - 1) * sizeof(*h->objs));
	h->n_objs--;
}

void
fake_host_remove_index(struct fake_host *h, size_t i)
{
	h->dirty = true;
	obj_del(h, i);
}

struct fake_obj *
fake_host_find(struct fake_host *h, enum fake_obj_kind kind, const char *name)
{
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == kind && h->objs[i].name && strcmp(h->objs[i].name, name) == 0)
			return &h->objs[i];
	return NULL;
}

size_t
fake_host_count(const struct fake_host *h, enum fake_obj_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n_objs; i++)
		n += h->objs[i].kind == kind;
	return n;
}

int
fake_host_remove(struct fake_host *h, enum fake_obj_kind kind, const char *name)
{
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == kind && h->objs[i].name && strcmp(h->objs[i].name, name) == 0) {
			obj_del(h, i);
			return 0;
		}
	return -ENOENT;
}

int
fake_host_kill(struct fake_host *h, pid_t pid)
{
	h->dirty = true;
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && h->objs[i].pid == pid) {
			obj_del(h, i);
			return 0;
		}
	return -ESRCH;
}

static void
logf_(struct fake_host *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void
logf_(struct fake_host *h, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	h->transcript = strv_append_take(h->transcript, xvasprintf(fmt, ap));
	va_end(ap);
}

/*
 * Every op starts here: count the call, log it, fail it when told to.
 * Returns 0 to go on or a negative errno (with err set).
 */
/* The ops that only look: every other call may change the fake. */
static bool
op_reads_only(const char *op)
{
	static const char *const readers[] = { "net.link_list", "net.uplink_resolve",
					       "nat.rule_list", "disk.strategy_probe",
					       "disk.list", "disk.vm_dir_sync", "hv.alive",
					       "hv.list" };

	for (size_t i = 0; i < ELEMENTSOF(readers); i++)
		if (strcmp(op, readers[i]) == 0)
			return true;
	return false;
}

static int
enter(struct fake_host *h, const char *op, struct error **err)
{
	h->calls++;
	h->file_index_ok = false;
	if (!op_reads_only(op))
		h->dirty = true;
	if (h->crashed)
		return error_set(err, FAKE_CRASH, "fake host: crashed");
	if (h->fail_op && strcmp(h->fail_op, op) == 0 && ++h->fail_op_seen == h->fail_nth) {
		logf_(h, "FAIL %s", op);
		return error_set(err, -h->fail_errno, "%s: %s", op, strerror(h->fail_errno));
	}
	if (h->fail_call && h->calls == h->fail_call) {
		logf_(h, "FAIL %s", op);
		return error_set(err, -h->fail_errno, "%s: %s", op, strerror(h->fail_errno));
	}
	return 0;
}

/* After an op changed the host: crash here when told to. */
static int
effect(struct fake_host *h, struct error **err)
{
	h->effects++;
	if (h->crash_after && h->effects == h->crash_after) {
		h->crashed = true;
		logf_(h, "CRASH after effect %u", h->effects);
		return error_set(err, FAKE_CRASH, "fake host: crashed");
	}
	return 0;
}

int
fake_host_checkpoint(void *userdata)
{
	struct fake_host *h = userdata;

	if (h->crashed)
		return FAKE_CRASH;
	return effect(h, NULL);
}

bool
fake_host_crashed(void *userdata)
{
	return ((struct fake_host *)userdata)->crashed;
}

void
fake_host_new_run(struct fake_host *h)
{
	h->transcript = strv_free(h->transcript);
	h->calls = h->effects = 0;
	h->fail_call = 0;
	h->fail_op = NULL;
	h->fail_nth = h->fail_op_seen = 0;
	h->fail_errno = 0;
	h->crash_after = 0;
	h->crashed = false;
}

/*
 * A running hypervisor holds its disks and sockets open: the real host
 * refuses to tear them down under it (dm remove is EBUSY), so the fake does
 * too, which keeps the reconciler's step order honest.
 */
static const struct fake_obj *
proc_using(const struct fake_host *h, const char *path)
{
	size_t n = strlen(path);

	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		const char *p;

		if (o->kind != FAKE_PROC)
			continue;
		if (strncmp(o->name, path, n) == 0 && (!o->name[n] || o->name[n] == '/'))
			return o;
		for (p = o->note ? strstr(o->note, path) : NULL; p; p = strstr(p + 1, path))
			if ((p == o->note || p[-1] == '=') && (!p[n] || p[n] == ' ' || p[n] == '/'))
				return o;
	}
	return NULL;
}

/* ---- net ---- */

static int
f_bridge_ensure(void *ud, const char *bridge, uint32_t addr, unsigned prefix, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *b;
	char a[16];
	int r;

	ipv4_format(addr, a);
	r = enter(h, "net.bridge_ensure", err);
	if (r < 0)
		return r;
	logf_(h, "net.bridge_ensure %s %s/%u", bridge, a, prefix);
	b = fake_host_find(h, FAKE_BRIDGE, bridge);
	if (b) {
		if (b->addr != addr || b->prefix != prefix)
			return error_set(err, -EEXIST, "bridge '%s' has another address", bridge);
		if (b->up)
			return 0;
		b->up = true;
	} else {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_BRIDGE, .name = UNCONST(bridge),
						     .addr = addr, .prefix = prefix, .up = true });
	}
	return effect(h, err);
}

static int
f_tap_ensure(void *ud, const char *tap, const char *bridge, const char *vm_name, const char *vm_id,
	     struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *alias = net_alias_format(vm_name, vm_id);
	struct fake_obj *l;
	int r;

	r = enter(h, "net.tap_ensure", err);
	if (r < 0)
		return r;
	logf_(h, "net.tap_ensure %s %s %s", tap, bridge, vm_name);
	if (strncmp(tap, TAP_PREFIX, strlen(TAP_PREFIX)) != 0)
		return error_set(err, -EPERM, "tap '%s' is not banger's", tap);
	if (!fake_host_find(h, FAKE_BRIDGE, bridge))
		return error_set(err, -ENODEV, "bridge '%s': No such device", bridge);
	l = fake_host_find(h, FAKE_LINK, tap);
	if (l) {
		if (!l->alias || strcmp(l->alias, alias) != 0)
			return error_set(err, -EEXIST, "link '%s' exists and is not this vm's", tap);
		if (l->up && l->master && strcmp(l->master, bridge) == 0)
			return 0;
		l->up = true;
		free(l->master);
		l->master = xstrdup(bridge);
	} else {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LINK, .name = UNCONST(tap),
						     .alias = alias, .master = UNCONST(bridge),
						     .up = true });
	}
	return effect(h, err);
}

static int
f_tap_delete(void *ud, const char *tap, const char *vm_id, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *l;
	_cleanup_free_ char *name = NULL, *id = NULL;
	int r;

	r = enter(h, "net.tap_delete", err);
	if (r < 0)
		return r;
	logf_(h, "net.tap_delete %s", tap);
	l = fake_host_find(h, FAKE_LINK, tap);
	if (!l)
		return 0;
	if (net_alias_parse(l->alias, &name, &id) < 0 || strcmp(id, vm_id) != 0)
		return error_set(err, -EPERM, "link '%s' is not banger's vm %s", tap, vm_id);
	(void)fake_host_remove(h, FAKE_LINK, tap);
	return effect(h, err);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
f_link_list(void *ud, struct net_link **ret, size_t *ret_n, struct error **err)
{
	struct fake_host *h = ud;
	struct net_link *links = NULL;
	_cleanup_strv_free_ char **held = NULL;
	size_t n = 0, n_held = 0;
	int r;

	r = enter(h, "net.link_list", err);
	if (r < 0)
		return r;
	logf_(h, "net.link_list");
	/* The taps processes hold (sorted, for a lookup per link): they have
	 * carrier, as a real tun has while a process has it open. */
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && h->objs[i].tap)
			held = strv_push(held, &n_held, h->objs[i].tap);
	if (n_held > 1)
		qsort(held, n_held, sizeof(*held), cmp_strp);
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		struct net_link *l;

		if (o->kind != FAKE_LINK || strncmp(o->name, TAP_PREFIX, strlen(TAP_PREFIX)) != 0)
			continue;
		links = xappend(links, &n, sizeof(*links), (void **)&l);
		l->name = xstrdup(o->name);
		l->alias = dupn(o->alias);
		l->master = dupn(o->master);
		l->up = o->up;
		l->carrier = n_held &&
			     bsearch(&o->name, held, n_held, sizeof(*held), cmp_strp) != NULL;
		l->owned = net_alias_parse(o->alias, &l->vm_name, &l->vm_id) == 0;
	}
	*ret = links;
	*ret_n = n;
	return 0;
}

static int
f_forwarding_ensure(void *ud, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "net.forwarding_ensure", err);
	if (r < 0)
		return r;
	logf_(h, "net.forwarding_ensure");
	if (h->forwarding)
		return 0;
	h->forwarding = true;
	return effect(h, err);
}

static int
f_uplink_resolve(void *ud, const char *uplink, char **ret, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "net.uplink_resolve", err);
	if (r < 0)
		return r;
	logf_(h, "net.uplink_resolve %s", uplink);
	*ret = xstrdup(strcmp(uplink, "auto") == 0 ? h->uplink : uplink);
	return 0;
}

/* ---- nat ---- */

static int
f_table_ensure(void *ud, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "nat.table_ensure", err);
	if (r < 0)
		return r;
	logf_(h, "nat.table_ensure");
	if (h->nat_table)
		return 0;
	h->nat_table = true;
	return effect(h, err);
}

static bool
has_rule(struct fake_host *h, const char *vm_id, enum nat_rule_kind kind)
{
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_RULE && h->objs[i].rule_kind == kind &&
		    h->objs[i].vm_id && strcmp(h->objs[i].vm_id, vm_id) == 0)
			return true;
	return false;
}

static int
f_vm_add(void *ud, const char *vm_id, const char *tap, uint32_t ip, const char *uplink,
	 struct error **err)
{
	struct fake_host *h = ud;
	char a[16];
	bool changed = false;
	int r;

	ipv4_format(ip, a);
	r = enter(h, "nat.vm_add", err);
	if (r < 0)
		return r;
	logf_(h, "nat.vm_add %.8s %s %s %s", vm_id, tap, a, uplink);
	if (!h->nat_table)
		return error_set(err, -ENOENT, "table '%s': No such file or directory", NAT_TABLE);
	if (!has_rule(h, vm_id, NAT_RULE_MASQUERADE)) {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_RULE, .name = "masq",
						     .rule_kind = NAT_RULE_MASQUERADE,
						     .handle = h->next_handle++,
						     .chain = "postrouting", .vm_id = UNCONST(vm_id),
						     .addr = ip, .uplink = UNCONST(uplink) });
		changed = true;
	}
	if (!has_rule(h, vm_id, NAT_RULE_FORWARD)) {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_RULE, .name = "fwd",
						     .rule_kind = NAT_RULE_FORWARD,
						     .handle = h->next_handle++, .chain = "forward",
						     .vm_id = UNCONST(vm_id), .tap = UNCONST(tap),
						     .uplink = UNCONST(uplink) });
		changed = true;
	}
	return changed ? effect(h, err) : 0;
}

static int
f_vm_delete(void *ud, const char *vm_id, struct error **err)
{
	struct fake_host *h = ud;
	bool changed = false;
	int r;

	r = enter(h, "nat.vm_delete", err);
	if (r < 0)
		return r;
	logf_(h, "nat.vm_delete %.8s", vm_id);
	for (size_t i = h->n_objs; i-- > 0;)
		if (h->objs[i].kind == FAKE_RULE && h->objs[i].vm_id &&
		    strcmp(h->objs[i].vm_id, vm_id) == 0) {
			obj_del(h, i);
			changed = true;
		}
	return changed ? effect(h, err) : 0;
}

static int
f_rule_delete(void *ud, const char *chain, uint64_t handle, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "nat.rule_delete", err);
	if (r < 0)
		return r;
	logf_(h, "nat.rule_delete %s %" PRIu64, chain, handle);
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_RULE && h->objs[i].handle == handle &&
		    strcmp(h->objs[i].chain, chain) == 0) {
			obj_del(h, i);
			return effect(h, err);
		}
	return 0;
}

static int
f_rule_list(void *ud, struct nat_rule **ret, size_t *ret_n, struct error **err)
{
	struct fake_host *h = ud;
	struct nat_rule *rules = NULL;
	size_t n = 0;
	int r;

	r = enter(h, "nat.rule_list", err);
	if (r < 0)
		return r;
	logf_(h, "nat.rule_list");
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		struct nat_rule *x;

		if (o->kind != FAKE_RULE)
			continue;
		rules = xappend(rules, &n, sizeof(*rules), (void **)&x);
		x->kind = o->rule_kind;
		x->handle = o->handle;
		x->chain = xstrdup(o->chain);
		x->vm_id = dupn(o->vm_id);
		x->tap = dupn(o->tap);
		x->ip = o->addr;
		x->uplink = dupn(o->uplink);
	}
	*ret = rules;
	*ret_n = n;
	return 0;
}

/* ---- disk ---- */

static int
f_strategy_probe(void *ud, enum disk_strategy want, const char *vm_dir, const char *image_rootfs,
		 enum disk_strategy *ret, struct error **err)
{
	struct fake_host *h = ud;

	(void)image_rootfs;
	int r;

	r = enter(h, "disk.strategy_probe", err);
	if (r < 0)
		return r;
	logf_(h, "disk.strategy_probe %d", (int)want);
	(void)vm_dir;
	*ret = want == DISK_STRATEGY_AUTO ? h->strategy : want;
	return 0;
}

static int
f_vm_dir_create(void *ud, const char *vm_dir, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "disk.vm_dir_create", err);
	if (r < 0)
		return r;
	logf_(h, "disk.vm_dir_create %s", vm_dir);
	if (fake_host_find(h, FAKE_DIR, vm_dir))
		return 0;
	fake_host_add(h, &(struct fake_obj){ .kind = FAKE_DIR, .name = UNCONST(vm_dir) });
	return effect(h, err);
}

static bool
under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return path && strncmp(path, dir, n) == 0 && path[n] == '/';
}

static int
dir_remove(struct fake_host *h, const char *vm_dir, struct error **err)
{
	bool changed = false;
	const struct fake_obj *p = proc_using(h, vm_dir);

	if (p)
		return error_set(err, -EBUSY, "'%s' is in use by pid %d", vm_dir, (int)p->pid);

	for (size_t i = h->n_objs; i-- > 0;) {
		const struct fake_obj *o = &h->objs[i];

		if (o->kind == FAKE_LOOP && under(o->backing, vm_dir))
			return error_set(err, -EBUSY, "'%s' is in use by %s", o->backing, o->name);
	}
	for (size_t i = h->n_objs; i-- > 0;) {
		const struct fake_obj *o = &h->objs[i];

		if ((o->kind == FAKE_FILE && under(o->name, vm_dir)) ||
		    (o->kind == FAKE_DIR && strcmp(o->name, vm_dir) == 0)) {
			obj_del(h, i);
			changed = true;
		}
	}
	return changed ? effect(h, err) : 0;
}

static int
f_vm_dir_remove(void *ud, const char *vm_dir, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "disk.vm_dir_remove", err);
	if (r < 0)
		return r;
	logf_(h, "disk.vm_dir_remove %s", vm_dir);
	return dir_remove(h, vm_dir, err);
}

static int
f_root_create(void *ud, const struct disk_root_req *req, char **ret_device, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *cow = NULL, *dev = NULL;
	int r;

	r = enter(h, "disk.root_create", err);
	if (r < 0)
		return r;
	logf_(h, "disk.root_create %s %s %s", status_strategy_to_string(req->strategy), req->vm_dir,
	      req->dm_name ? req->dm_name : "-");
	if (!fake_host_find(h, FAKE_DIR, req->vm_dir))
		return error_set(err, -ENOENT, "'%s': No such file or directory", req->vm_dir);
	switch (req->strategy) {
	case DISK_STRATEGY_DM_SNAPSHOT: {
		bool changed = false;

		cow = xasprintf("%s/root.cow", req->vm_dir);
		if (!fake_host_find(h, FAKE_FILE, cow)) {
			fake_host_add(h, &(struct fake_obj){ .kind = FAKE_FILE, .name = cow,
							     .size = req->overlay_size,
							     .note = "cow" });
			r = effect(h, err);
			if (r < 0)
				return r;
			changed = true;
		}
		bool have_loop = false;
		for (size_t i = 0; i < h->n_objs; i++)
			if (h->objs[i].kind == FAKE_LOOP && h->objs[i].backing &&
			    strcmp(h->objs[i].backing, cow) == 0)
				have_loop = true;
		if (!have_loop) {
			_cleanup_free_ char *loop = xasprintf("/dev/loop%u", h->next_loop++);

			fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LOOP, .name = loop,
							     .backing = cow });
			r = effect(h, err);
			if (r < 0)
				return r;
			changed = true;
		}
		if (!fake_host_find(h, FAKE_DM, req->dm_name)) {
			fake_host_add(h, &(struct fake_obj){ .kind = FAKE_DM,
							     .name = UNCONST(req->dm_name),
							     .backing = cow,
							     .note = UNCONST(req->image_rootfs) });
			r = effect(h, err);
			if (r < 0)
				return r;
			changed = true;
		}
		(void)changed;
		dev = xasprintf("/dev/mapper/%s", req->dm_name);
		break;
	}
	case DISK_STRATEGY_REFLINK:
	case DISK_STRATEGY_COPY:
		dev = xasprintf("%s/root.img", req->vm_dir);
		if (!fake_host_find(h, FAKE_FILE, dev)) {
			fake_host_add(h, &(struct fake_obj){ .kind = FAKE_FILE, .name = dev,
							     .note = UNCONST(req->image_rootfs) });
			r = effect(h, err);
			if (r < 0)
				return r;
		}
		break;
	default:
		return error_set(err, -EINVAL, "strategy must be resolved before root_create");
	}
	*ret_device = TAKE_PTR(dev);
	return 0;
}

static int
f_root_remove(void *ud, const struct disk_root_req *req, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *cow = xasprintf("%s/root.cow", req->vm_dir);
	_cleanup_free_ char *img = xasprintf("%s/root.img", req->vm_dir);
	int r;

	r = enter(h, "disk.root_remove", err);
	if (r < 0)
		return r;
	logf_(h, "disk.root_remove %s %s", req->vm_dir, req->dm_name ? req->dm_name : "-");
	{
		_cleanup_free_ char *dev = req->dm_name ? xasprintf("/dev/mapper/%s", req->dm_name)
							: NULL;
		const struct fake_obj *p = dev ? proc_using(h, dev) : proc_using(h, img);

		if (p)
			return error_set(err, -EBUSY, "root disk of '%s' is in use by pid %d",
					 req->vm_dir, (int)p->pid);
	}
	if (req->dm_name && fake_host_find(h, FAKE_DM, req->dm_name)) {
		(void)fake_host_remove(h, FAKE_DM, req->dm_name);
		r = effect(h, err);
		if (r < 0)
			return r;
	}
	for (size_t i = h->n_objs; i-- > 0;)
		if (h->objs[i].kind == FAKE_LOOP && h->objs[i].backing &&
		    strcmp(h->objs[i].backing, cow) == 0) {
			obj_del(h, i);
			r = effect(h, err);
			if (r < 0)
				return r;
		}
	if (fake_host_find(h, FAKE_FILE, cow)) {
		(void)fake_host_remove(h, FAKE_FILE, cow);
		r = effect(h, err);
		if (r < 0)
			return r;
	}
	if (fake_host_find(h, FAKE_FILE, img)) {
		(void)fake_host_remove(h, FAKE_FILE, img);
		r = effect(h, err);
		if (r < 0)
			return r;
	}
	return 0;
}

static int
f_work_create(void *ud, const char *path, uint64_t size, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *dir = xstrdup(path);
	char *slash;
	int r;

	r = enter(h, "disk.work_create", err);
	if (r < 0)
		return r;
	logf_(h, "disk.work_create %s %" PRIu64, path, size);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (!fake_host_find(h, FAKE_DIR, dir))
		return error_set(err, -ENOENT, "'%s': No such file or directory", dir);
	if (fake_host_find(h, FAKE_FILE, path))
		return 0;
	fake_host_add(h, &(struct fake_obj){ .kind = FAKE_FILE, .name = UNCONST(path), .size = size,
					     .note = "work" });
	return effect(h, err);
}

/* The note of a work disk with n file-sync entries: "work+N", and for an
 * entry of bytes (the VM's keys) their sha256, for the scripts to check what
 * reached the disk. */
static char *
work_note(const struct filesync_entry *e, size_t n)
{
	char *note = xasprintf("work+%zu", n);

	for (size_t i = 0; i < n; i++) {
		char hex[SHA256_HEX_SIZE], *t;

		if (!e[i].content)
			continue;
		sha256_hex_buf(e[i].content, e[i].content_len, hex);
		t = xasprintf("%s:%s=%s", note, e[i].guest, hex);
		free(note);
		note = t;
	}
	return note;
}

static int
f_filesync_apply(void *ud, const char *work_path, const struct filesync_entry *e, size_t n,
		 const char *state_root, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *f;
	int r;

	r = enter(h, "disk.filesync_apply", err);
	if (r < 0)
		return r;
	logf_(h, "disk.filesync_apply %s %zu", work_path, n);
	(void)state_root;
	f = fake_host_find(h, FAKE_FILE, work_path);
	if (!f)
		return error_set(err, -ENOENT, "'%s': No such file or directory", work_path);
	if (proc_using(h, work_path))
		return error_set(err, -EBUSY, "'%s' is in use by a running vm", work_path);
	free(f->note);
	f->note = work_note(e, n);
	return effect(h, err);
}

/* A new work disk that gets its file syncs with it, as the real driver's. */
static int
f_work_create_seeded(void *ud, const char *path, uint64_t size, const struct filesync_entry *e,
		     size_t n, const char *state_root, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *dir = xstrdup(path), *note = NULL;
	char *slash;
	int r;

	r = enter(h, "disk.work_create_seeded", err);
	if (r < 0)
		return r;
	logf_(h, "disk.work_create_seeded %s %" PRIu64 " %zu", path, size, n);
	(void)state_root;
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	if (!fake_host_find(h, FAKE_DIR, dir))
		return error_set(err, -ENOENT, "'%s': No such file or directory", dir);
	if (fake_host_find(h, FAKE_FILE, path))
		return 0;	/* existing: left as it is, the file-sync step follows */
	note = work_note(e, n);
	fake_host_add(h, &(struct fake_obj){ .kind = FAKE_FILE, .name = UNCONST(path), .size = size,
					     .note = note });
	r = effect(h, err);
	return r < 0 ? r : 1;
}

static int
f_vm_dir_sync(void *ud, const char *vm_dir, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "disk.vm_dir_sync", err);
	if (r < 0)
		return r;
	logf_(h, "disk.vm_dir_sync %s", vm_dir);
	if (!fake_host_find(h, FAKE_DIR, vm_dir))
		return error_set(err, -ENOENT, "'%s': No such file or directory", vm_dir);
	return 0;
}

/* The commit a fake workspace "materialises": sha256 of repo and ref, cut to 40 digits. */
static int
f_workspace_apply(void *ud, const char *work_path, const struct vm_workspace *ws,
		  const char *vm_dir, char **ret_commit, char ***ret_warnings, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *key = NULL;
	struct fake_obj *f;
	char hex[SHA256_HEX_SIZE];
	int r;

	r = enter(h, "disk.workspace_apply", err);
	if (r < 0)
		return r;
	logf_(h, "disk.workspace_apply %s %s %s %s", work_path, ws->repo,
	      workspace_mode_to_string(ws->mode), ws->path);
	(void)vm_dir;
	f = fake_host_find(h, FAKE_FILE, work_path);
	if (!f)
		return error_set(err, -ENOENT, "'%s': No such file or directory", work_path);
	if (proc_using(h, work_path))
		return error_set(err, -EBUSY, "'%s' is in use by a running vm", work_path);
	key = xasprintf("%s\n%s", ws->repo, ws->ref ? ws->ref : "HEAD");
	sha256_hex_buf(key, strlen(key), hex);
	hex[40] = '\0';
	r = effect(h, err);
	if (r < 0)
		return r;
	*ret_commit = xstrdup(hex);
	*ret_warnings = NULL;
	return 0;
}

static int
f_work_retain(void *ud, const char *path, const char *dest, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *f;
	int r;

	r = enter(h, "disk.work_retain", err);
	if (r < 0)
		return r;
	logf_(h, "disk.work_retain %s %s", path, dest);
	f = fake_host_find(h, FAKE_FILE, path);
	if (!f)
		return 0;
	if (proc_using(h, path))
		return error_set(err, -EBUSY, "'%s' is in use by a running vm", path);
	(void)fake_host_remove(h, FAKE_FILE, dest);
	f = fake_host_find(h, FAKE_FILE, path);
	free(f->name);
	f->name = xstrdup(dest);
	return effect(h, err);
}

static int
f_disk_list(void *ud, const char *status_dir, struct disk_obj **ret, size_t *ret_n,
	    struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *vms = xasprintf("%s/vms", status_dir);
	struct disk_obj *objs = NULL;
	size_t n = 0;
	int r;

	r = enter(h, "disk.list", err);
	if (r < 0)
		return r;
	logf_(h, "disk.list");
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		struct disk_obj *d;

		if (o->kind == FAKE_DM && strncmp(o->name, DM_PREFIX, strlen(DM_PREFIX)) == 0) {
			objs = xappend(objs, &n, sizeof(*objs), (void **)&d);
			d->kind = DISK_OBJ_DM;
			d->name = xstrdup(o->name);
		} else if (o->kind == FAKE_LOOP && under(o->backing, status_dir)) {
			objs = xappend(objs, &n, sizeof(*objs), (void **)&d);
			d->kind = DISK_OBJ_LOOP;
			d->name = xstrdup(o->name);
			d->backing = xstrdup(o->backing);
		} else if (o->kind == FAKE_DIR && under(o->name, vms)) {
			objs = xappend(objs, &n, sizeof(*objs), (void **)&d);
			d->kind = DISK_OBJ_VM_DIR;
			d->name = xstrdup(o->name);
		}
	}
	*ret = objs;
	*ret_n = n;
	return 0;
}

static int
f_obj_remove(void *ud, const struct disk_obj *o, struct error **err)
{
	struct fake_host *h = ud;
	int r;

	r = enter(h, "disk.obj_remove", err);
	if (r < 0)
		return r;
	logf_(h, "disk.obj_remove %s %s",
	      o->kind == DISK_OBJ_DM ? "dm" : o->kind == DISK_OBJ_LOOP ? "loop" : "dir", o->name);
	switch (o->kind) {
	case DISK_OBJ_DM:
		if (fake_host_remove(h, FAKE_DM, o->name) < 0)
			return 0;
		return effect(h, err);
	case DISK_OBJ_LOOP:
		if (fake_host_remove(h, FAKE_LOOP, o->name) < 0)
			return 0;
		return effect(h, err);
	case DISK_OBJ_VM_DIR:
		return dir_remove(h, o->name, err);
	default:
		return error_set(err, -EINVAL, "unknown disk object kind");
	}
}

/* ---- hv ---- */

static struct fake_obj *
find_proc(struct fake_host *h, pid_t pid)
{
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && h->objs[i].pid == pid)
			return &h->objs[i];
	return NULL;
}

static int
f_work_grow(void *ud, const char *path, uint64_t size, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *f;
	int r;

	r = enter(h, "disk.work_grow", err);
	if (r < 0)
		return r;
	logf_(h, "disk.work_grow %s %" PRIu64, path, size);
	f = fake_host_find(h, FAKE_FILE, path);
	if (!f)
		return error_set(err, -ENOENT, "'%s': No such file or directory", path);
	if (f->size >= size)
		return 0;	/* as large already: never shrunk */
	f->size = size;
	h->dirty = true;
	return effect(h, err);
}

static int
f_file_present(void *ud, const char *path, bool *ret, struct error **err)
{
	struct fake_host *h = ud;

	(void)err;	/* a look, not an op: not in the transcript, never failed */
	if (!h->file_index_ok) {
		h->n_file_index = 0;
		for (size_t i = 0; i < h->n_objs; i++)
			if (h->objs[i].kind == FAKE_FILE && h->objs[i].name)
				h->n_file_index++;
		h->file_index = xrealloc(h->file_index,
					 (h->n_file_index + 1) * sizeof(*h->file_index));
		h->n_file_index = 0;
		for (size_t i = 0; i < h->n_objs; i++)
			if (h->objs[i].kind == FAKE_FILE && h->objs[i].name)
				h->file_index[h->n_file_index++] = h->objs[i].name;
		qsort(h->file_index, h->n_file_index, sizeof(*h->file_index), cmp_strp);
		h->file_index_ok = true;
	}
	*ret = h->n_file_index &&
	       bsearch(&path, h->file_index, h->n_file_index, sizeof(*h->file_index), cmp_strp);
	return 0;
}

static int
f_spawn(void *ud, const struct hv_config *cfg, pid_t *ret_pid, struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *note = NULL;
	char mem[32];
	int r;

	r = enter(h, "hv.spawn", err);
	if (r < 0)
		return r;
	size_format(cfg->memory, mem);
	note = xasprintf("vm=%s vcpus=%u memory=%s tap=%s root=%s work=%s", cfg->vm_name, cfg->vcpus,
			 mem, cfg->tap, cfg->root_disk, cfg->work_disk ? cfg->work_disk : "-");
	logf_(h, "hv.spawn %s", note);
	if (!fake_host_find(h, FAKE_LINK, cfg->tap))
		return error_set(err, -ENODEV, "tap '%s': No such device", cfg->tap);
	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && strcmp(h->objs[i].name, cfg->api_socket) == 0)
			return error_set(err, -EADDRINUSE, "'%s' is in use by pid %d", cfg->api_socket,
					 (int)h->objs[i].pid);
	{
		/* The guest's address, from its ip= (tests compare it with the record). */
		const char *ipa = cfg->cmdline ? strstr(cfg->cmdline, "ip=") : NULL;
		char buf[16] = "";
		struct in_addr in;
		uint32_t addr = 0;

		if (ipa) {
			size_t k = strcspn(ipa + 3, ": ");

			if (k < sizeof(buf)) {
				memcpy(buf, ipa + 3, k);
				if (inet_pton(AF_INET, buf, &in) == 1)
					addr = ntohl(in.s_addr);
			}
		}
		/* The guest holds its tap open, as a hypervisor does. */
		struct fake_obj g = { .kind = FAKE_PROC, .pid = h->next_pid,
				      .name = UNCONST(cfg->api_socket), .note = note, .addr = addr,
				      .tap = UNCONST(cfg->tap) };

		for (size_t i = 0; i < h->n_objs; i++) {
			const struct fake_obj *o = &h->objs[i];

			if (o->kind == FAKE_PROC && ((addr && o->addr == addr) ||
						     memcmp(o->mac, cfg->mac, 6) == 0)) {
				logf_(h, "hv.spawn clash: %s beside pid %d", cfg->vm_name, (int)o->pid);
				h->clashes++;
			}
		}

		memcpy(g.mac, cfg->mac, 6);
		fake_host_add(h, &g);
	}
	*ret_pid = h->next_pid++;
	return effect(h, err);
}

static int
f_boot(void *ud, const struct hv_config *cfg, pid_t pid, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *p;
	int r;

	r = enter(h, "hv.boot", err);
	if (r < 0)
		return r;
	logf_(h, "hv.boot %s %d", cfg->vm_name, (int)pid);
	p = find_proc(h, pid);
	if (!p)
		return error_set(err, -ESRCH, "pid %d: No such process", (int)pid);
	if (p->booted)
		return 0;
	if (h->guest_dies) {
		(void)fake_host_kill(h, pid);
		return effect(h, err);
	}
	p->booted = true;
	return effect(h, err);
}

static int
f_ready(void *ud, const struct hv_config *cfg, pid_t pid, bool *ret_ready, char **ret_tail,
	struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *p;
	int r;

	r = enter(h, "hv.ready", err);
	if (r < 0)
		return r;
	logf_(h, "hv.ready %s %d", cfg->vm_name, (int)pid);
	p = find_proc(h, pid);
	if (!p) {
		/* As the real drivers do: not ready, with the console's last lines. */
		*ret_ready = false;
		if (ret_tail)
			*ret_tail = xstrdup("fake: process gone");
		return 0;
	}
	*ret_ready = p->booted;
	return 0;
}

static int
f_stop(void *ud, enum hypervisor_kind kind, pid_t pid, const char *api_socket, unsigned timeout_ms,
       struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *p;
	int r;

	r = enter(h, "hv.stop", err);
	if (r < 0)
		return r;
	logf_(h, "hv.stop %d %s", (int)pid, api_socket);
	(void)kind;
	(void)timeout_ms;
	p = find_proc(h, pid);
	if (!p || strcmp(p->name, api_socket) != 0)
		return 0;
	(void)fake_host_kill(h, pid);
	return effect(h, err);
}

static int
f_alive(void *ud, pid_t pid, const char *api_socket, bool *ret, struct error **err)
{
	struct fake_host *h = ud;
	struct fake_obj *p;
	int r;

	r = enter(h, "hv.alive", err);
	if (r < 0)
		return r;
	logf_(h, "hv.alive %d", (int)pid);
	p = find_proc(h, pid);
	*ret = p && strcmp(p->name, api_socket) == 0;
	return 0;
}

static int
f_hv_list(void *ud, const char *sock_dir, struct hv_proc **ret, size_t *ret_n, struct error **err)
{
	struct fake_host *h = ud;
	struct hv_proc *procs = NULL;
	size_t n = 0;
	int r;

	r = enter(h, "hv.list", err);
	if (r < 0)
		return r;
	logf_(h, "hv.list");
	for (size_t i = 0; i < h->n_objs; i++) {
		struct hv_proc *p;

		if (h->objs[i].kind != FAKE_PROC || !under(h->objs[i].name, sock_dir))
			continue;
		procs = xappend(procs, &n, sizeof(*procs), (void **)&p);
		p->pid = h->objs[i].pid;
		p->api_socket = xstrdup(h->objs[i].name);
	}
	*ret = procs;
	*ret_n = n;
	return 0;
}

/* ---- proc ---- */

static uint64_t
f_now_ms(void *ud)
{
	struct fake_host *h = ud;

	h->dirty = true;
	return h->clock_ms += 1000;
}

static uint64_t
f_mono_ms(void *ud)
{
	struct fake_host *h = ud;

	return h->clock_ms;
}

static int
f_random_id(void *ud, char out[33], struct error **err)
{
	struct fake_host *h = ud;
	_cleanup_free_ char *seed = NULL;
	char hex[65];
	int r;

	r = enter(h, "proc.random_id", err);
	if (r < 0)
		return r;
	seed = xasprintf("fake-id-%u", h->next_id++);
	sha256_hex_buf(seed, strlen(seed), hex);
	memcpy(out, hex, 32);
	out[32] = '\0';
	logf_(h, "proc.random_id %.8s", out);
	return 0;
}

static void
f_sleep_ms(void *ud, unsigned ms)
{
	struct fake_host *h = ud;

	h->dirty = true;
	h->clock_ms += ms;
}

struct fake_host *
fake_host_new(void)
{
	struct fake_host *h = xcalloc(1, sizeof(*h));

	h->next_handle = 1;
	h->next_pid = 1000;
	h->clock_ms = 1700000000000ULL;
	h->strategy = DISK_STRATEGY_DM_SNAPSHOT;
	h->uplink = xstrdup("eth0");
	h->net = (struct net_ops){ .bridge_ensure = f_bridge_ensure, .tap_ensure = f_tap_ensure,
				   .tap_delete = f_tap_delete, .link_list = f_link_list,
				   .forwarding_ensure = f_forwarding_ensure,
				   .uplink_resolve = f_uplink_resolve, .userdata = h };
	h->nat = (struct nat_ops){ .table_ensure = f_table_ensure, .vm_add = f_vm_add,
				   .vm_delete = f_vm_delete, .rule_delete = f_rule_delete,
				   .rule_list = f_rule_list, .userdata = h };
	h->disk = (struct disk_ops){ .strategy_probe = f_strategy_probe,
				     .vm_dir_create = f_vm_dir_create,
				     .vm_dir_remove = f_vm_dir_remove, .root_create = f_root_create,
				     .root_remove = f_root_remove, .work_create = f_work_create,
				     .work_create_seeded = f_work_create_seeded,
				     .vm_dir_sync = f_vm_dir_sync,
				     .filesync_apply = f_filesync_apply,
				     .workspace_apply = f_workspace_apply,
				     .work_retain = f_work_retain, .list = f_disk_list,
				     .obj_remove = f_obj_remove, .file_present = f_file_present,
				     .work_grow = f_work_grow,
				     .userdata = h };
	h->hv = (struct hv_ops){ .spawn = f_spawn, .boot = f_boot, .ready = f_ready, .stop = f_stop,
				 .alive = f_alive, .list = f_hv_list, .userdata = h };
	h->proc = (struct proc_ops){ .now_ms = f_now_ms, .mono_ms = f_mono_ms,
				     .random_id = f_random_id, .sleep_ms = f_sleep_ms,
				     .userdata = h };
	h->ops = (struct host_ops){ &h->net, &h->nat, &h->disk, &h->hv, &h->proc, false };
	return h;
}

struct fake_host *
fake_host_free(struct fake_host *h)
{
	if (!h)
		return NULL;
	for (size_t i = 0; i < h->n_objs; i++)
		obj_done(&h->objs[i]);
	free(h->objs);
	free(h->file_index);
	free(h->uplink);
	strv_free(h->transcript);
	free(h);
	return NULL;
}

char *
fake_host_transcript(const struct fake_host *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	for (size_t i = 0; h->transcript && h->transcript[i]; i++)
		fprintf(f, "%s\n", h->transcript[i]);
	if (fclose(f) != 0)
		abort();
	return buf;
}

/* ---- save / load ---- */

static const char *const kind_names[_FAKE_OBJ_KIND_MAX] = {
	[FAKE_LINK] = "link", [FAKE_BRIDGE] = "bridge", [FAKE_RULE] = "rule", [FAKE_DM] = "dm",
	[FAKE_LOOP] = "loop", [FAKE_DIR] = "dir",	[FAKE_FILE] = "file", [FAKE_PROC] = "proc",
};

static const char *
s_or_dash(const char *s)
{
	return s ? s : "-";
}

char *
fake_host_save(const struct fake_host *h)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		abort();
	fprintf(f, "# fake host\nhost\t%d\t%d\t%" PRIu64 "\t%d\t%u\t%u\t%" PRIu64 "\t%d\t%s\n",
		h->nat_table, h->forwarding, h->next_handle, (int)h->next_pid, h->next_loop,
		h->next_id, h->clock_ms, (int)h->strategy, h->uplink);
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];

		fprintf(f,
			"%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%" PRIu64 "\t%" PRIu32
			"\t%u\t%" PRIu64 "\t%d\t%d\t%d\n",
			kind_names[o->kind], s_or_dash(o->name), s_or_dash(o->alias),
			s_or_dash(o->master), s_or_dash(o->backing), s_or_dash(o->note),
			s_or_dash(o->chain), s_or_dash(o->vm_id), s_or_dash(o->tap),
			s_or_dash(o->uplink), (int)o->rule_kind, o->handle, o->addr, o->prefix,
			o->size, (int)o->pid, o->up, o->booted);
	}
	if (fclose(f) != 0)
		abort();
	return buf;
}

static char *
field(char **p)
{
	char *s = *p, *tab;

	if (!s)
		return NULL;
	tab = strchr(s, '\t');
	if (tab) {
		*tab = '\0';
		*p = tab + 1;
	} else {
		*p = NULL;
	}
	return strcmp(s, "-") == 0 ? NULL : s;
}

static uint64_t
ufield(char **p)
{
	char *s = field(p);

	return s ? strtoull(s, NULL, 10) : 0;
}

int
fake_host_load(const char *text, struct fake_host **ret)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;

	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *p = line;
		char *kind;
		struct fake_obj o = { 0 };
		int k = -1;

		if (line[0] == '#' || !line[0])
			continue;
		kind = field(&p);
		if (kind && strcmp(kind, "host") == 0) {
			h->nat_table = ufield(&p);
			h->forwarding = ufield(&p);
			h->next_handle = ufield(&p);
			h->next_pid = (pid_t)ufield(&p);
			h->next_loop = (unsigned)ufield(&p);
			h->next_id = (unsigned)ufield(&p);
			h->clock_ms = ufield(&p);
			h->strategy = (enum disk_strategy)ufield(&p);
			free(h->uplink);
			h->uplink = xstrdup(s_or_dash(field(&p)));
			continue;
		}
		for (int i = 0; kind && i < _FAKE_OBJ_KIND_MAX; i++)
			if (strcmp(kind, kind_names[i]) == 0)
				k = i;
		if (k < 0)
			return -EBADMSG;
		o.kind = (enum fake_obj_kind)k;
		o.name = field(&p);
		o.alias = field(&p);
		o.master = field(&p);
		o.backing = field(&p);
		o.note = field(&p);
		o.chain = field(&p);
		o.vm_id = field(&p);
		o.tap = field(&p);
		o.uplink = field(&p);
		o.rule_kind = (enum nat_rule_kind)ufield(&p);
		o.handle = ufield(&p);
		o.addr = (uint32_t)ufield(&p);
		o.prefix = (unsigned)ufield(&p);
		o.size = ufield(&p);
		o.pid = (pid_t)ufield(&p);
		o.up = ufield(&p);
		o.booted = ufield(&p);
		if (!o.name)
			return -EBADMSG;
		fake_host_add(h, &o);
	}
	*ret = TAKE_PTR(h);
	return 0;
}

int
fake_host_save_file(const struct fake_host *h, const char *path)
{
	_cleanup_free_ char *text = NULL, *old = NULL;
	size_t len, old_len = 0;

	/* Unchanged (a no-op run): no write, so the fake costs the benchmarks
	 * that use it no durable write the real host would not make; not even
	 * formatted when no op that changes anything was called. */
	if (!h->dirty)
		return 0;
	text = fake_host_save(h);
	len = strlen(text);
	if (read_file(path, 16 * 1024 * 1024, &old, &old_len) == 0 && old_len == len &&
	    memcmp(old, text, len) == 0)
		return 0;
	return write_file_atomic(path, text, len, 0600);
}

int
fake_host_load_file(const char *path, struct fake_host **ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_file(path, 16 * 1024 * 1024, &text, NULL);
	if (r == -ENOENT) {
		*ret = fake_host_new();
		(*ret)->dirty = true;
		return 0;
	}
	if (r < 0)
		return r;
	r = fake_host_load(text, ret);
	if (r >= 0)
		(*ret)->dirty = false;
	return r;
}
