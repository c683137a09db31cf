/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Observation: status files, then one list call per ops table, each host
 * object matched to a VM by its mark or kept as an orphan.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "observe/observe.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/strv.h"

static const char *const orphan_names[_ORPHAN_KIND_MAX] = {
	[ORPHAN_PROC] = "process", [ORPHAN_NAT_RULE] = "nat rule", [ORPHAN_TAP] = "tap",
	[ORPHAN_DM] = "dm target", [ORPHAN_LOOP] = "loop device",  [ORPHAN_VM_DIR] = "vm directory",
};

const char *
orphan_kind_to_string(enum orphan_kind k)
{
	return k >= 0 && k < _ORPHAN_KIND_MAX ? orphan_names[k] : NULL;
}

struct observed *
observed_free(struct observed *o)
{
	if (!o)
		return NULL;
	for (size_t i = 0; i < o->n_vms; i++) {
		free(o->vms[i].name);
		vm_status_done(&o->vms[i].status);
		free(o->vms[i].status_error);
		free(o->vms[i].tap_master);
		free(o->vms[i].nat_masq_uplink);
		free(o->vms[i].nat_fwd_uplink);
	}
	free(o->vms);
	for (size_t i = 0; i < o->n_orphans; i++) {
		free(o->orphans[i].name);
		free(o->orphans[i].vm_name);
		free(o->orphans[i].vm_id);
		free(o->orphans[i].backing);
	}
	free(o->orphans);
	free(o->nat_ips);
	strv_free(o->problems);
	free(o->status_dir);
	free(o);
	return NULL;
}

/* o->vms is sorted by name once observe_host returns: a binary search. */
const struct observed_vm *
observed_find(const struct observed *o, const char *name)
{
	size_t lo = 0, hi = o->n_vms;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(o->vms[mid].name, name);

		if (c == 0)
			return &o->vms[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/*
 * Lookups while observing, each O(log n): the first n_sorted entries of
 * o->vms are sorted by name (the status files, listed in order), the few
 * VMs rebuilt from host marks are appended after them; by_id and by_dm are
 * built once the set of VMs is final, and claimed is a sorted copy of the
 * declared names.
 */
struct dm_entry {
	char dm[20];
	struct observed_vm *vm;
};

struct index {
	size_t n_sorted;
	struct observed_vm **by_id;	/* VMs with an id, by (id, name) */
	size_t n_by_id;
	struct dm_entry *by_dm;		/* VMs with an id, by (dm name, name) */
	char **claimed;			/* sorted, not owned strings */
	size_t n_claimed;
};

static void
index_done(struct index *ix)
{
	free(ix->by_id);
	free(ix->by_dm);
	free(ix->claimed);
}

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool
claimed_has(const struct index *ix, const char *name)
{
	return name && ix->n_claimed &&
	       bsearch(&name, ix->claimed, ix->n_claimed, sizeof(char *), cmp_strp);
}

static struct observed_vm *
find_vm_ix(struct observed *o, const struct index *ix, const char *name)
{
	size_t lo = 0, hi = ix->n_sorted;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(o->vms[mid].name, name);

		if (c == 0)
			return &o->vms[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = ix->n_sorted; i < o->n_vms; i++)
		if (strcmp(o->vms[i].name, name) == 0)
			return &o->vms[i];
	return NULL;
}

/* Before the indexes exist (identity rebuilt from marks: rare): a scan. */
static struct observed_vm *
find_vm_by_id_scan(struct observed *o, const char *id)
{
	for (size_t i = 0; id && i < o->n_vms; i++)
		if (o->vms[i].status.id[0] && strcmp(o->vms[i].status.id, id) == 0)
			return &o->vms[i];
	return NULL;
}

static int
cmp_by_id(const void *a, const void *b)
{
	const struct observed_vm *x = *(struct observed_vm *const *)a;
	const struct observed_vm *y = *(struct observed_vm *const *)b;
	int c = strcmp(x->status.id, y->status.id);

	return c ? c : strcmp(x->name, y->name);
}

static int
cmp_by_dm(const void *a, const void *b)
{
	const struct dm_entry *x = a, *y = b;
	int c = strcmp(x->dm, y->dm);

	return c ? c : strcmp(x->vm->name, y->vm->name);
}

/* The first VM in name order with this id, as the scan would find it. */
static struct observed_vm *
find_vm_by_id(const struct index *ix, const char *id)
{
	size_t lo = 0, hi = ix->n_by_id;

	if (!id)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->by_id[mid]->status.id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < ix->n_by_id && strcmp(ix->by_id[lo]->status.id, id) == 0)
		return ix->by_id[lo];
	return NULL;
}

/* The last VM in name order whose dm name is dm, as the scan kept it. */
static struct observed_vm *
find_vm_by_dm(const struct index *ix, const char *dm)
{
	size_t lo = 0, hi = ix->n_by_id;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->by_dm[mid].dm, dm) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0 && strcmp(ix->by_dm[lo - 1].dm, dm) == 0)
		return ix->by_dm[lo - 1].vm;
	return NULL;
}

static void
index_build(struct observed *o, struct index *ix)
{
	for (size_t i = 0; i < o->n_vms; i++)
		if (o->vms[i].status.id[0])
			ix->n_by_id++;
	ix->by_id = xcalloc(ix->n_by_id ? ix->n_by_id : 1, sizeof(*ix->by_id));
	ix->by_dm = xcalloc(ix->n_by_id ? ix->n_by_id : 1, sizeof(*ix->by_dm));
	for (size_t i = 0, k = 0; i < o->n_vms; i++) {
		if (!o->vms[i].status.id[0])
			continue;
		ix->by_id[k] = &o->vms[i];
		name_dm_from_id(o->vms[i].status.id, ix->by_dm[k].dm);
		ix->by_dm[k].vm = &o->vms[i];
		k++;
	}
	if (ix->n_by_id > 1) {
		qsort(ix->by_id, ix->n_by_id, sizeof(*ix->by_id), cmp_by_id);
		qsort(ix->by_dm, ix->n_by_id, sizeof(*ix->by_dm), cmp_by_dm);
	}
}

static struct observed_vm *
add_vm(struct observed *o, const char *name)
{
	struct observed_vm *v;

	o->vms = xappend(o->vms, &o->n_vms, sizeof(*o->vms), (void **)&v);
	v->name = xstrdup(name);
	v->status.name = xstrdup(name);
	return v;
}

static void
add_orphan(struct observed *o, enum orphan_kind kind, const char *name, const char *vm_name,
	   const char *vm_id, const char *backing, uint64_t handle, pid_t pid)
{
	struct observed_orphan *x;

	o->orphans = xappend(o->orphans, &o->n_orphans, sizeof(*o->orphans), (void **)&x);
	x->kind = kind;
	x->name = xstrdup(name);
	x->vm_name = vm_name ? xstrdup(vm_name) : NULL;
	x->vm_id = vm_id ? xstrdup(vm_id) : NULL;
	x->backing = backing ? xstrdup(backing) : NULL;
	x->handle = handle;
	x->pid = pid;
}

/* "STATUS/vms/NAME/..." or "STATUS/vms/NAME" -> NAME (caller frees), else NULL. */
static char *
vm_name_from_path(const char *vms_dir, const char *path)
{
	size_t n = strlen(vms_dir);
	const char *p, *slash;
	char *name;

	if (!path || strncmp(path, vms_dir, n) != 0 || path[n] != '/')
		return NULL;
	p = path + n + 1;
	slash = strchr(p, '/');
	name = slash ? xstrndup(p, (size_t)(slash - p)) : xstrdup(p);
	if (!name_is_dns_label(name)) {
		free(name);
		return NULL;
	}
	return name;
}

/*
 * The VMs whose tap has carrier while no guest of theirs runs (plan holds
 * them: someone else's guest uses the tap) are looked at again, together,
 * up to 10 times 25 ms apart, until none is held: a guest on its way out,
 * whose command line is already empty (so no list finds it), holds its tap
 * until the kernel has closed its files, a grace period or more.  A run
 * without such a VM never waits.
 */
static void
carrier_settle(struct observed *o, const struct host_ops *ops)
{
	size_t held = 0;

	for (size_t i = 0; i < o->n_vms; i++)
		held += o->vms[i].tap_present && o->vms[i].tap_carrier && !o->vms[i].proc_alive;
	for (int round = 0; held && round < 10; round++) {
		struct net_link *links = NULL;
		size_t n = 0;

		ops->proc->sleep_ms(ops->proc->userdata, 25);
		if (ops->net->link_list(ops->net->userdata, &links, &n, NULL) < 0)
			return;	/* cannot tell: as first seen */
		held = 0;
		for (size_t i = 0; i < o->n_vms; i++) {
			struct observed_vm *v = &o->vms[i];
			bool still = false;

			if (!v->tap_present || !v->tap_carrier || v->proc_alive)
				continue;
			for (size_t k = 0; k < n; k++)
				if (strcmp(links[k].name, v->status.tap) == 0)
					still = links[k].carrier;
			v->tap_carrier = still;
			held += still;
		}
		net_links_free(links, n);
	}
}

/* Whether a hypervisor process of this status directory runs for VM name. */
static bool
guest_of(const char *vms_dir, const struct hv_proc *procs, size_t n, const char *name)
{
	size_t dl = strlen(vms_dir), nl = name ? strlen(name) : 0;

	for (size_t i = 0; name && i < n; i++) {
		const char *s = procs[i].api_socket;

		if (strncmp(s, vms_dir, dl) == 0 && s[dl] == '/' && strncmp(s + dl + 1, name, nl) == 0 &&
		    s[dl + 1 + nl] == '/')
			return true;
	}
	return false;
}

static int
cmp_vm(const void *a, const void *b)
{
	return strcmp(((const struct observed_vm *)a)->name, ((const struct observed_vm *)b)->name);
}

/* What the listings of one observation gave. */
struct lists {
	const struct host_ops *ops;
	const char *status_dir, *vms_dir;
	struct net_link *links;
	struct nat_rule *rules;
	struct disk_obj *disks;
	struct hv_proc *procs;
	size_t n_links, n_rules, n_disks, n_procs;
	int r_links, r_rules, r_disks, r_procs;
	struct error *e_links, *e_rules, *e_disks, *e_procs;
};

static void
list_links(struct lists *l)
{
	l->r_links = l->ops->net->link_list(l->ops->net->userdata, &l->links, &l->n_links,
					    &l->e_links);
}

static void
list_rules(struct lists *l)
{
	l->r_rules = l->ops->nat->rule_list(l->ops->nat->userdata, &l->rules, &l->n_rules,
					    &l->e_rules);
}

static void
list_disks_procs(struct lists *l)
{
	l->r_disks = l->ops->disk->list(l->ops->disk->userdata, l->status_dir, &l->disks,
					&l->n_disks, &l->e_disks);
	if (l->r_disks >= 0)
		l->r_procs = l->ops->hv->list(l->ops->hv->userdata, l->vms_dir, &l->procs,
					      &l->n_procs, &l->e_procs);
}

static void *
rules_main(void *userdata)
{
	list_rules(userdata);
	return NULL;
}

static void *
disks_procs_main(void *userdata)
{
	list_disks_procs(userdata);
	return NULL;
}

/* The first failure in the order net, nat, disk, hv: moved to *err. */
static int
lists_result(struct lists *l, struct error **err)
{
	const int rs[] = { l->r_links, l->r_rules, l->r_disks, l->r_procs };
	struct error **es[] = { &l->e_links, &l->e_rules, &l->e_disks, &l->e_procs };
	int r = 0;

	for (size_t i = 0; i < ELEMENTSOF(rs); i++) {
		if (rs[i] < 0 && r == 0) {
			r = rs[i];
			if (err && !*err)
				*err = TAKE_PTR(*es[i]);
		}
		*es[i] = error_free(*es[i]);
	}
	return r;
}

/*
 * One pass over each facility: net, nat, disk and hv in turn, or, when the
 * ops allow it, the nat listing and the disk and hv ones (a directory walk
 * and a /proc scan) from two threads while this one lists the links.  A
 * host with a thousand VMs spends most of an observation in these waits.
 */
static int
list_host(struct lists *l, struct error **err)
{
	pthread_t t_rules, t_disks;
	bool rules_threaded = false, disks_threaded = false;

	if (l->ops->concurrent_lists) {
		rules_threaded = pthread_create(&t_rules, NULL, rules_main, l) == 0;
		disks_threaded = pthread_create(&t_disks, NULL, disks_procs_main, l) == 0;
	}
	list_links(l);
	if (rules_threaded)
		(void)pthread_join(t_rules, NULL);
	else if (l->r_links >= 0)
		list_rules(l);
	if (disks_threaded)
		(void)pthread_join(t_disks, NULL);
	else if (l->r_links >= 0 && l->r_rules >= 0)
		list_disks_procs(l);
	return lists_result(l, err);
}

int
observe_host_from(const char *status_dir, const struct host_ops *ops, char *const *claimed,
		  struct status_snapshot *snap, struct observed **ret, struct error **err)
{
	_cleanup_(status_snapshot_freep) struct status_snapshot *sn = snap;
	_cleanup_(observed_freep) struct observed *o = xcalloc(1, sizeof(*o));
	_cleanup_free_ char *vms_dir = xasprintf("%s/vms", status_dir);
	struct lists ls = { .ops = ops, .status_dir = status_dir, .vms_dir = vms_dir };
	struct net_link *links;
	struct nat_rule *rules;
	struct disk_obj *disks;
	struct hv_proc *procs;
	size_t n_links, n_rules, n_disks, n_procs;
	_cleanup_(index_done) struct index ix = { 0 };
	_cleanup_strv_free_ char **in_use = NULL;	/* ids of unknown VMs' taps held open */
	int r;

	o->status_dir = xstrdup(status_dir);
	o->problems = strv_copy(NULL);

	/* 1. status files, read already (they are taken over) */
	for (size_t i = 0; i < sn->n; i++) {
		struct status_entry *e = &sn->entries[i];
		struct observed_vm *v = add_vm(o, e->name);

		if (e->r < 0) {
			v->status_error = xasprintf("%s (identity unknown)", e->error);
			o->problems = strv_append(o->problems, v->status_error);
			continue;
		}
		vm_status_done(&v->status);
		v->status = e->status;
		e->status = (struct vm_status){ 0 };
		e->r = -ENOENT;	/* moved: the snapshot no longer owns it */
		v->has_status = true;
	}

	ix.n_sorted = o->n_vms;
	while (claimed && claimed[ix.n_claimed])
		ix.n_claimed++;
	ix.claimed = xcalloc(ix.n_claimed + 1, sizeof(char *));
	for (size_t i = 0; i < ix.n_claimed; i++)
		ix.claimed[i] = claimed[i];
	if (ix.n_claimed > 1)
		qsort(ix.claimed, ix.n_claimed, sizeof(char *), cmp_strp);

	/* 2. one pass over each facility */
	r = list_host(&ls, err);
	links = ls.links, n_links = ls.n_links;
	rules = ls.rules, n_rules = ls.n_rules;
	disks = ls.disks, n_disks = ls.n_disks;
	procs = ls.procs, n_procs = ls.n_procs;
	if (r < 0)
		goto out;

	/*
	 * 3. Identity from marks for VMs the declarations know whose status file
	 * is lost: the tap alias carries the name and id.
	 */
	for (size_t i = 0; i < n_links; i++) {
		struct observed_vm *v;

		if (!links[i].owned || !claimed_has(&ix, links[i].vm_name))
			continue;
		v = find_vm_ix(o, &ix, links[i].vm_name);
		if (v && v->has_status)
			continue;
		if (v && v->rebuilt)
			continue; /* two taps claim one name: the second is an orphan */
		if (find_vm_by_id_scan(o, links[i].vm_id))
			continue;
		if (!v)
			v = add_vm(o, links[i].vm_name);
		v->rebuilt = true;
		snprintf(v->status.id, sizeof(v->status.id), "%s", links[i].vm_id);
		snprintf(v->status.tap, sizeof(v->status.tap), "%s", links[i].name);
		v->status.phase = VM_PHASE_CREATING;
	}
	/* Processes and directories of known names also bind a lost identity. */
	for (size_t i = 0; i < n_procs; i++) {
		_cleanup_free_ char *name = vm_name_from_path(vms_dir, procs[i].api_socket);

		if (claimed_has(&ix, name) && !find_vm_ix(o, &ix, name))
			add_vm(o, name)->rebuilt = true;
	}
	for (size_t i = 0; i < n_disks; i++) {
		_cleanup_free_ char *name = NULL;

		if (disks[i].kind == DISK_OBJ_VM_DIR)
			name = vm_name_from_path(vms_dir, disks[i].name);
		else if (disks[i].kind == DISK_OBJ_LOOP)
			name = vm_name_from_path(vms_dir, disks[i].backing);
		if (claimed_has(&ix, name) && !find_vm_ix(o, &ix, name))
			add_vm(o, name)->rebuilt = true;
	}
	for (size_t i = 0; i < o->n_vms; i++) {
		struct observed_vm *v = &o->vms[i];

		if (v->has_status)
			continue;
		if (!v->rebuilt && v->status_error && claimed_has(&ix, v->name))
			v->rebuilt = true;
		if (v->rebuilt && !v->status_error) {
			_cleanup_free_ char *path = status_path(status_dir, v->name);

			o->problems = strv_append_take(
				o->problems,
				xasprintf("%s: missing; identity of vm '%s' rebuilt from host marks",
					  path, v->name));
		}
		if (!v->status.api_socket)
			v->status.api_socket = status_api_socket(status_dir, v->name);
		if (!v->status.work_path)
			v->status.work_path = status_work_path(status_dir, v->name);
	}

	/* From here on the set of VMs is final: sorted by name, indexed. */
	if (o->n_vms > 1)
		qsort(o->vms, o->n_vms, sizeof(*o->vms), cmp_vm);
	ix.n_sorted = o->n_vms;
	index_build(o, &ix);

	/* 4. match */
	for (size_t i = 0; i < n_links; i++) {
		struct net_link *l = &links[i];
		struct observed_vm *v;

		if (!l->owned) {
			/* Not banger's: never touched, but worth saying. */
			o->problems = strv_append_take(
				o->problems,
				xasprintf("interface '%s' has banger's name prefix but not its "
					  "alias: not banger's, left alone",
					  l->name));
			continue;
		}
		v = find_vm_by_id(&ix, l->vm_id);
		if (v && strcmp(v->name, l->vm_name) == 0 && strcmp(v->status.tap, l->name) == 0) {
			v->tap_present = true;
			v->tap_ok = l->up && l->master;
			v->tap_carrier = l->carrier;
			free(v->tap_master);
			v->tap_master = l->master ? xstrdup(l->master) : NULL;
			continue;
		}
		if (l->carrier && !guest_of(vms_dir, procs, n_procs, l->vm_name)) {
			/* A guest this status directory does not know has it open
			 * (another status directory's): neither it nor that VM's
			 * NAT rules are this run's to remove.  (Held by a guest of
			 * this status directory for that VM, an orphan as any.) */
			o->problems = strv_append_take(
				o->problems,
				xasprintf("tap '%s' of vm '%s' is held open by a process that is not a "
					  "guest of this status directory: left alone",
					  l->name, l->vm_name));
			in_use = strv_append(in_use, l->vm_id);
			continue;
		}
		add_orphan(o, ORPHAN_TAP, l->name, l->vm_name, l->vm_id, NULL, 0, 0);
	}
	for (size_t i = 0; i < n_rules; i++) {
		struct nat_rule *x = &rules[i];
		struct observed_vm *v;

		if (x->kind == NAT_RULE_MASQUERADE)
			o->nat_ips = xappend(o->nat_ips, &o->n_nat_ips, sizeof(uint32_t), NULL),
			o->nat_ips[o->n_nat_ips - 1] = x->ip;
		if (x->kind == NAT_RULE_ESTABLISHED)
			continue; /* the table's shared rule */
		if (!x->vm_id) {
			/* In banger's own table but made by someone else: not kept. */
			add_orphan(o, ORPHAN_NAT_RULE, x->chain, NULL, NULL, NULL, x->handle, 0);
			continue;
		}
		v = find_vm_by_id(&ix, x->vm_id);
		if (!v) {
			if (!strv_contains(in_use, x->vm_id))
				add_orphan(o, ORPHAN_NAT_RULE, x->chain, NULL, x->vm_id, NULL,
					   x->handle, 0);
			continue;
		}
		v->n_nat_rules++;
		if (x->kind == NAT_RULE_MASQUERADE) {
			v->nat_masq = true;
			v->nat_ip = x->ip;
			free(v->nat_masq_uplink);
			v->nat_masq_uplink = x->uplink ? xstrdup(x->uplink) : NULL;
			if (v->rebuilt && !v->status.ip)
				v->status.ip = x->ip;
		} else if (x->kind == NAT_RULE_FORWARD) {
			v->nat_fwd = x->tap && strcmp(x->tap, v->status.tap) == 0;
			free(v->nat_fwd_uplink);
			v->nat_fwd_uplink = x->uplink ? xstrdup(x->uplink) : NULL;
		}
	}
	for (size_t i = 0; i < n_disks; i++) {
		struct disk_obj *d = &disks[i];
		_cleanup_free_ char *name = NULL;
		struct observed_vm *v = NULL;

		switch (d->kind) {
		case DISK_OBJ_DM:
			v = find_vm_by_dm(&ix, d->name);
			if (v) {
				v->dm_present = true;
				if (v->rebuilt && !v->status.dm_name[0]) {
					snprintf(v->status.dm_name, sizeof(v->status.dm_name), "%s",
						 d->name);
					v->status.disk_strategy = DISK_STRATEGY_DM_SNAPSHOT;
				}
			} else {
				add_orphan(o, ORPHAN_DM, d->name, NULL, NULL, NULL, 0, 0);
			}
			break;
		case DISK_OBJ_LOOP:
			name = vm_name_from_path(vms_dir, d->backing);
			v = name ? find_vm_ix(o, &ix, name) : NULL;
			if (v)
				v->n_loops++;
			else
				add_orphan(o, ORPHAN_LOOP, d->name, name, NULL, d->backing, 0, 0);
			break;
		case DISK_OBJ_VM_DIR:
			name = vm_name_from_path(vms_dir, d->name);
			v = name ? find_vm_ix(o, &ix, name) : NULL;
			if (v)
				v->dir_present = true;
			else
				add_orphan(o, ORPHAN_VM_DIR, d->name, name, NULL, NULL, 0, 0);
			break;
		default:
			break;
		}
	}
	/* A VM's guest: the process on its socket, the one its record names
	 * first; any other on that socket is an orphan. */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n_procs; i++) {
			_cleanup_free_ char *name = NULL;
			struct observed_vm *v;

			if (procs[i].pid == 0)
				continue;	/* taken */
			name = vm_name_from_path(vms_dir, procs[i].api_socket);
			v = name ? find_vm_ix(o, &ix, name) : NULL;
			if (v && v->status.api_socket &&
			    strcmp(v->status.api_socket, procs[i].api_socket) == 0 &&
			    !v->proc_alive && (pass > 0 || v->status.pid == procs[i].pid)) {
				v->proc_alive = true;
				v->proc_pid = procs[i].pid;
				procs[i].pid = 0;
				continue;
			}
			if (pass == 0)
				continue;
			add_orphan(o, ORPHAN_PROC, procs[i].api_socket, name, NULL, NULL, 0,
				   procs[i].pid);
		}
	/* A VM's tap held with no guest of its running: unless its holder was
	 * only on its way out, someone else's guest uses it (plan holds it). */
	carrier_settle(o, ops);
	*ret = TAKE_PTR(o);
	r = 0;
out:
	net_links_free(links, n_links);
	nat_rules_free(rules, n_rules);
	disk_objs_free(disks, n_disks);
	hv_procs_free(procs, n_procs);
	return r;
}

void
observe_disk_files(struct observed *o, const struct host_ops *ops, char *const *names)
{
	for (size_t i = 0; ops->disk->file_present && names && names[i]; i++) {
		const struct observed_vm *found = observed_find(o, names[i]);
		struct observed_vm *v = found ? &o->vms[found - o->vms] : NULL;
		const struct vm_status *st;
		bool there = true;

		if (!v || !v->has_status || v->proc_alive || !v->dir_present)
			continue;
		st = &v->status;
		if (st->root_ready && st->root_device &&
		    (st->disk_strategy == DISK_STRATEGY_COPY ||
		     st->disk_strategy == DISK_STRATEGY_REFLINK) &&
		    ops->disk->file_present(ops->disk->userdata, st->root_device, &there, NULL) >= 0)
			v->root_file_missing = !there;
		there = true;
		if (st->work_ready && st->work_path &&
		    ops->disk->file_present(ops->disk->userdata, st->work_path, &there, NULL) >= 0)
			v->work_missing = !there;
	}
}

int
observe_host(const char *status_dir, const struct host_ops *ops, char *const *claimed,
	     struct observed **ret, struct error **err)
{
	struct status_snapshot *snap = NULL;
	int r;

	r = status_snapshot_read(status_dir, &snap, err);
	if (r < 0)
		return r;
	return observe_host_from(status_dir, ops, claimed, snap, ret, err);
}
