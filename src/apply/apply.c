/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Apply: the plan's actions through the ops, write-ahead into status files.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply/apply.h"
#include "apply/fault.h"
#include "drivers/hv-common.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

#define CRASHED 1	/* internal: a hook ended the run */

/* One change's steps as they end, handed to on_step in plan order. */
struct logged {
	const struct plan_action *act;
	int r;
	struct error *e;
};

struct change_log {
	struct logged *ev;
	size_t n;
	char *failure;		/* "NAME: action: error", or NULL */
	bool done, failed;
	/* Parked by the stop pass (see apply_plan): the record as its steps
	 * left it, and the step to go on from. */
	bool parked;
	struct vm_status st;
	size_t resume;
};

/*
 * What the changes of a run share.  Workers (opt->jobs) take changes in
 * plan order and hold lock while they work, but for the slow file system
 * steps of the disk driver, when it says they may run in parallel
 * (disk_ops.parallel), status writes, waiting for a guest to be ready or to
 * stop (hv_ops.parallel), and the net and nat drivers' calls, made under
 * net_lock and nat_lock instead (each driver is used by one worker at a
 * time, but a tap is made while another VM's NAT rule goes in): everything
 * else (spawning a hypervisor, the bookkeeping, the progress report) runs
 * one at a time, as in a run of one job.  Lock order: lock is never taken
 * with net_lock or nat_lock held.
 */
struct run {
	pthread_mutex_t lock;
	pthread_mutex_t net_lock, nat_lock;
	bool crashed;		/* a hook ended the run: no change is taken after it */
	char **unsynced;	/* VMs whose status file was written or removed, not synced */
	/* What every VM of the run asks the same way, made sure of once: the
	 * bridge, IPv4 forwarding and banger's table, and the uplink's name. */
	bool bridge_done, forwarding_done, table_done;
	char *uplink;
	struct fault fault;	/* test builds: BANGER_FAULT */
	size_t next, limit;	/* the next change to take, and the first not to (yet) */
	bool stop_pass;		/* each change only up to its guest's stop (apply_plan) */
	struct change_log *log;	/* by change */
	size_t emit_change, emit_ev;	/* what on_step was given so far */
	size_t n_ok, n_failed, n_actions;
	/* Addresses a failed change left with its guest (not stopped): a
	 * change of a later phase that would take one fails instead. */
	struct kept_address {
		uint32_t ip;
		uint8_t mac[6];
		char *vm;
	} *kept;
	size_t n_kept;
};

/* A worker's view: the run, and what the change it works on last wrote. */
struct actx {
	const struct plan *p;
	const struct spec *d;
	const struct host_ops *ops;
	const struct apply_options *opt;
	struct run *run;
	char *last_key;		/* save_key of the change's last record written */
	char *last_full;	/* and its save_full */
	bool seeded;		/* the change's new work disk got its file syncs */
	bool dir_unsynced;	/* a disk made, the folder's sync left to a later step */
};

/* Around a step that may run beside others' (when may is true): a disk
 * driver step, a status write, a wait for a guest.  Other workers go on
 * meanwhile. */
static void
unlocked_begin(struct actx *a, bool may)
{
	if (may)
		pthread_mutex_unlock(&a->run->lock);
}

static void
unlocked_end(struct actx *a, bool may)
{
	if (may)
		pthread_mutex_lock(&a->run->lock);
}

/* Around a call of the net or nat driver: the run's lock let go for that
 * driver's own (m: run.net_lock or run.nat_lock). */
static void
driver_begin(struct actx *a, pthread_mutex_t *m)
{
	pthread_mutex_unlock(&a->run->lock);
	pthread_mutex_lock(m);
}

static void
driver_end(struct actx *a, pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
	pthread_mutex_lock(&a->run->lock);
}

void
apply_result_done(struct apply_result *r)
{
	if (!r)
		return;
	strv_free(r->failures);
	memset(r, 0, sizeof(*r));
}

char *
apply_cmdline(const struct spec *d, const struct image_spec *img, const struct vm_spec *vm,
	      uint32_t ip)
{
	unsigned prefix = d->host.bridge_prefix;
	uint32_t mask = prefix ? ~0U << (32 - prefix) : 0;
	char guest[16], gw[16], nm[16], dns[16] = "", dns1[16] = "";

	ipv4_format(ip, guest);
	ipv4_format(d->host.bridge_addr, gw);
	ipv4_format(mask, nm);
	/* ip= has room for two name servers. */
	if (d->host.n_dns)
		ipv4_format(d->host.dns[0], dns);
	if (d->host.n_dns > 1)
		ipv4_format(d->host.dns[1], dns1);
	return xasprintf("console=ttyS0 reboot=k panic=1 root=/dev/vda rw "
			 "ip=%s::%s:%s:%s:eth0:off%s%s%s%s%s%s%s%s",
			 guest, gw, nm, vm->name, *dns ? ":" : "", dns, *dns1 ? ":" : "", dns1,
			 img && img->kernel_args ? " " : "", img && img->kernel_args ? img->kernel_args : "",
			 vm->kernel_args ? " " : "", vm->kernel_args ? vm->kernel_args : "");
}

/* The VM's authorized_keys, which the file-sync step writes into the work
 * disk: banger's key first, then the declared ones, a line each. */
static char *
keys_text(const struct actx *a, const struct vm_spec *vm)
{
	char *text = a->opt->ssh_pubkey ? xasprintf("%s\n", a->opt->ssh_pubkey) : xstrdup("");

	for (size_t i = 0; vm->ssh_authorized_keys && vm->ssh_authorized_keys[i]; i++) {
		char *t = xasprintf("%s%s\n", text, vm->ssh_authorized_keys[i]);

		free(text);
		text = t;
	}
	return text;
}

/*
 * The file-sync entries of vm; then the list of their guest paths
 * (PLAN_SYNCS_GUEST_PATH, a line each: what a guest's init puts in place from
 * the work disk); its keys last.  *ret_text holds the bytes of the last two.
 */
static struct filesync_entry *
filesync_entries(const struct actx *a, const struct vm_spec *vm, size_t *ret_n, char **ret_text)
{
	_cleanup_free_ char *list = xstrdup(""), *keys = NULL;
	struct filesync_entry *all = NULL;
	size_t n = 0, n_decl, ll, kl = 0;

	for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++) {
		const struct filesync_spec *f = spec_find_filesync(a->d, vm->filesyncs[i]);

		for (size_t j = 0; f && j < f->n_entries; j++) {
			char *t = xasprintf("%s%s\n", list, f->entries[j].guest);

			free(list);
			list = t;
			all = xrealloc(all, (n + 1) * sizeof(*all));
			all[n++] = f->entries[j];
		}
	}
	n_decl = n;
	if (plan_has_keys(vm, a->opt->ssh_pubkey))
		keys = keys_text(a, vm);
	ll = strlen(list);
	kl = keys ? strlen(keys) : 0;
	*ret_text = xmalloc(ll + 1 + kl + 1);
	memcpy(*ret_text, list, ll + 1);
	if (keys)
		memcpy(*ret_text + ll + 1, keys, kl + 1);
	/* Written whenever the disk gets anything, empty when nothing is
	 * declared: a list from before does not outlive its entries. */
	if (n_decl || keys) {
		all = xrealloc(all, (n + 1) * sizeof(*all));
		all[n++] = (struct filesync_entry){ .guest = (char *)PLAN_SYNCS_GUEST_PATH,
						    .mode = 0600, .content = *ret_text,
						    .content_len = ll };
	}
	if (keys) {
		all = xrealloc(all, (n + 1) * sizeof(*all));
		all[n++] = (struct filesync_entry){ .guest = (char *)PLAN_KEYS_GUEST_PATH,
						    .mode = 0600, .content = *ret_text + ll + 1,
						    .content_len = kl };
	}
	*ret_n = n;
	return all;
}

/* Whether a step of kind k or k2 follows act in its change. */
static bool
comes_later(const struct actx *a, const struct plan_change *ch, const struct plan_action *act,
	    enum action_kind k, enum action_kind k2)
{
	for (size_t j = (size_t)(act - a->p->actions) + 1; j < ch->first + ch->n; j++)
		if (a->p->actions[j].kind == k || a->p->actions[j].kind == k2)
			return true;
	return false;
}

/* Earlier builds kept a copy of the VM's keys in its folder (written
 * through a temp file): stale once the keys go to the disk from memory. */
static void
forget_keys_copy(const struct actx *a, const struct vm_status *st)
{
	_cleanup_free_ char *vm_dir = status_vm_dir(a->opt->status_dir, st->name);
	_cleanup_free_ char *keys = xasprintf("%s/authorized_keys", vm_dir);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", keys);

	(void)unlink(keys);
	(void)unlink(tmp);
}

/*
 * The work disk.  When the change's file syncs follow and the driver can, a
 * new disk gets them before it is synced and named (a.seeded: the file-sync
 * step has nothing left to do): one fsync and one pass over the image
 * instead of two.  Should that fail, the disk is made bare and the file-sync
 * step reports what is wrong, as it would have.
 */
static int
make_work_disk(struct actx *a, const struct plan_change *ch, const struct plan_action *act,
	       const struct vm_status *st, struct error **err)
{
	const struct disk_ops *d = a->ops->disk;

	if (d->work_create_seeded && comes_later(a, ch, act, ACTION_FILESYNC, ACTION_FILESYNC)) {
		_cleanup_free_ struct filesync_entry *all = NULL;
		_cleanup_free_ char *keys = NULL;
		size_t n;
		int r;

		all = filesync_entries(a, ch->vm, &n, &keys);
		r = d->work_create_seeded(d->userdata, st->work_path, ch->vm->work_disk, all, n,
					  a->d->root, NULL);
		if (r >= 0) {
			a->seeded = r > 0;
			if (a->seeded)
				forget_keys_copy(a, st);
			return 0;
		}
	}
	return d->work_create(d->userdata, st->work_path, ch->vm->work_disk, err);
}

/*
 * The VM's NAT rule, and once per run what it needs: IPv4 forwarding, the
 * uplink's name, banger's table (two workers may both make sure of one:
 * each is idempotent).
 */
static int
nat_add(struct actx *a, const struct vm_status *st, struct error **err)
{
	const struct host_ops *o = a->ops;
	const struct host_spec *host = &a->d->host;
	struct run *run = a->run;
	int r = 0;

	if (!run->forwarding_done) {
		driver_begin(a, &run->net_lock);
		r = o->net->forwarding_ensure(o->net->userdata, err);
		driver_end(a, &run->net_lock);
		run->forwarding_done = r >= 0;
	}
	if (r >= 0 && !run->uplink) {
		char *uplink = NULL;

		driver_begin(a, &run->net_lock);
		r = o->net->uplink_resolve(o->net->userdata, host->uplink ? host->uplink : "auto",
					   &uplink, err);
		driver_end(a, &run->net_lock);
		/* The fix is in host.yaml: say so. */
		if (r < 0) {
			(void)error_prefix(err, "%s%s", host->path ? host->path : "host.yaml",
					   host->uplink ? "" : ": no uplink declared");
			return r;
		}
		if (run->uplink)
			free(uplink);
		else
			run->uplink = uplink;
	}
	if (r >= 0 && !run->table_done) {
		driver_begin(a, &run->nat_lock);
		r = o->nat->table_ensure(o->nat->userdata, err);
		driver_end(a, &run->nat_lock);
		run->table_done = r >= 0;
	}
	if (r >= 0) {
		/* Set once and kept to the end of the run: read without the lock. */
		const char *uplink = run->uplink;

		driver_begin(a, &run->nat_lock);
		r = o->nat->vm_add(o->nat->userdata, st->id, st->tap, st->ip, uplink, err);
		driver_end(a, &run->nat_lock);
	}
	return r;
}

/*
 * After the change's last step that makes a disk in the VM's folder (root
 * or work disk: one fsync of the folder for both), the disks' names made
 * durable: before the record says they are there, and before a VM starts
 * on them and writes data a power loss must not take with the name.
 */
static int
sync_vm_dir(struct actx *a, const struct plan_change *ch, const struct plan_action *act,
	    const char *vm_dir, struct error **err)
{
	const struct disk_ops *d = a->ops->disk;
	int r;

	if (!d->vm_dir_sync)
		return 0;
	if (comes_later(a, ch, act, ACTION_ROOT, ACTION_WORK)) {
		a->dir_unsynced = true;
		return 0;
	}
	unlocked_begin(a, true);
	r = d->vm_dir_sync(d->userdata, vm_dir, err);
	unlocked_end(a, true);
	if (r >= 0)
		a->dir_unsynced = false;
	return r;
}

/*
 * A step that fails after a disk step whose folder sync was left to a
 * later one: the sync now, before the failure record (which keeps the disk
 * as made) is written and synced.  Should it fail too, the record no longer
 * says the disks are there: the next run makes sure of them again (an
 * existing disk is adopted) and syncs the folder then.
 */
static void
sync_vm_dir_on_failure(struct actx *a, struct vm_status *st)
{
	const struct disk_ops *d = a->ops->disk;
	_cleanup_free_ char *vm_dir = NULL;
	int r;

	if (!a->dir_unsynced || !st->name)
		return;
	a->dir_unsynced = false;
	vm_dir = status_vm_dir(a->opt->status_dir, st->name);
	unlocked_begin(a, true);
	r = d->vm_dir_sync(d->userdata, vm_dir, NULL);
	unlocked_end(a, true);
	if (r < 0)
		st->root_ready = st->work_ready = st->seeded = false;
}

/*
 * The record as far as recovery needs it before a step acts: identities
 * (id, tap, MAC, address, API socket, disk strategy and dm name, paths),
 * phase, generation, what was applied, errors, and an unfinished start
 * (plan restarts such a VM).  Left out: which other step is under way and
 * the progress a step reports (root and work disk ready, the work disk's
 * size as made, file syncs and workspace written, the guest ready): a run
 * cut short finds the objects those steps made from the identities, and
 * redoes the steps (each is idempotent: an existing disk is adopted, a
 * seed written again).  They are written with the next record that must
 * be, and always by a step's own result record (save with result true: a
 * change's last step, a failure), which is written whenever anything in it
 * changed.
 */
static char *
save_key(const struct vm_status *st)
{
	struct vm_status k = *st;

	if (k.intent && strcmp(k.intent, "start") != 0)
		k.intent = NULL;
	k.updated_ms = 0;
	k.root_ready = false;
	k.root_device = NULL;
	k.work_ready = false;
	k.work_size = 0;
	k.seeded = false;
	memset(k.applied.seed_hash, 0, sizeof(k.applied.seed_hash));
	k.workspace_commit = NULL;
	k.started_ms = 0;
	return status_format(&k);
}

/* The whole record but the time it is written. */
static char *
save_full(const struct vm_status *st)
{
	struct vm_status k = *st;

	k.updated_ms = 0;
	return status_format(&k);
}

static int
save(struct actx *a, struct vm_status *st, bool result, struct error **err)
{
	_cleanup_free_ char *key = NULL, *full = NULL;
	bool need;
	int r;

	/*
	 * A record that would differ from the last one written only by what
	 * save_key leaves out is not written: see there.  Atomic now, durable
	 * at the end of the run (finish): see status_write_nosync.  Only the
	 * form compared is made, the other one when the record is written.
	 */
	if (result) {
		full = save_full(st);
		need = !a->last_full || strcmp(a->last_full, full) != 0;
	} else {
		key = save_key(st);
		need = !a->last_key || strcmp(a->last_key, key) != 0;
	}
	if (need) {
		if (!key)
			key = save_key(st);
		if (!full)
			full = save_full(st);
		st->updated_ms = a->ops->proc->now_ms(a->ops->proc->userdata);
		unlocked_begin(a, true);
		r = status_write_nosync(a->opt->status_dir, st, err);
		unlocked_end(a, true);
		if (r < 0)
			return r;
		if (!strv_contains(a->run->unsynced, st->name))
			a->run->unsynced = strv_append(a->run->unsynced, st->name);
		free(a->last_key);
		a->last_key = TAKE_PTR(key);
		free(a->last_full);
		a->last_full = TAKE_PTR(full);
	}
	if (a->opt->checkpoint && a->opt->checkpoint(a->opt->hook_userdata) < 0) {
		a->run->crashed = true;
		return CRASHED;
	}
	return 0;
}

static void
set_str(char **p, const char *v)
{
	free(*p);
	*p = v ? xstrdup(v) : NULL;
}

static void
root_req(struct actx *a, const struct plan_change *ch, const struct vm_status *st,
	 const char *vm_dir, struct disk_root_req *req)
{
	*req = (struct disk_root_req){
		.strategy = st->disk_strategy,
		.vm_id = st->id,
		.vm_dir = vm_dir,
		.image_rootfs = st->image_rootfs,
		.overlay_size = ch->vm ? ch->vm->system_overlay : st->applied.system_overlay,
		.dm_name = st->dm_name[0] ? st->dm_name : NULL,
	};
	(void)a;
}

/* What the root disk will be (strategy, dm name, image file), recorded
 * before it is made. */
static int
root_identity(struct actx *a, const struct plan_change *ch, struct vm_status *st,
	      const char *vm_dir, struct error **err)
{
	const struct disk_ops *d = a->ops->disk;
	enum disk_strategy s;
	int r;

	r = d->strategy_probe(d->userdata, a->d->host.disk_strategy, vm_dir, ch->image->rootfs,
			      &s, err);
	if (r < 0)
		return r;
	st->disk_strategy = s;
	if (s == DISK_STRATEGY_DM_SNAPSHOT)
		name_dm_from_id(st->id, st->dm_name);
	else
		st->dm_name[0] = '\0';
	set_str(&st->image_rootfs, ch->image->rootfs);
	return 0;
}

/* The error of a guest not ready in time (stop_err: why stopping it
 * failed, or NULL), with its console's last lines, as for one that died. */
static int
not_ready(const struct hv_config *cfg, unsigned timeout, const struct error *stop_err,
	  struct error **err)
{
	_cleanup_free_ char *tail = NULL;
	bool ready = false;

	(void)hv_console_ready(cfg->console_log, &ready, &tail, 20, NULL);
	return error_set(err, -ETIMEDOUT, "guest not ready after %u ms%s%s%s%s", timeout,
			 stop_err ? "; stopping it failed: " : ", stopped",
			 stop_err ? stop_err->msg : "", tail && *tail ? "; console: " : "",
			 tail && *tail ? tail : "");
}

static int
start_vm(struct actx *a, const struct plan_change *ch, struct vm_status *st, struct error **err)
{
	const struct host_spec *host = &a->d->host;
	const struct vm_spec *vm = ch->vm;
	const struct hv_ops *hv = a->ops->hv;
	_cleanup_free_ char *cmdline = apply_cmdline(a->d, ch->image, vm, st->ip);
	_cleanup_free_ char *console = status_console_log(a->opt->status_dir, st->name);
	unsigned timeout = a->opt->ready_timeout_ms ? a->opt->ready_timeout_ms : 60000;
	struct hv_config cfg = {
		.vm_name = st->name,
		.vm_id = st->id,
		.kind = vm->hypervisor,
		.binary = vm->hypervisor == HYPERVISOR_FIRECRACKER ? host->firecracker_binary
								    : host->qemu_binary,
		.accel = host->qemu_accel,
		.vcpus = vm->vcpus,
		.memory = vm->memory,
		.kernel = ch->image->kernel,
		.initrd = ch->image->initrd,
		.cmdline = cmdline,
		.root_disk = st->root_device,
		.work_disk = vm->work_disk ? st->work_path : NULL,
		.tap = st->tap,
		.api_socket = st->api_socket,
		.console_log = console,
	};
	uint64_t deadline;
	pid_t pid = 0;
	int r;

	memcpy(cfg.mac, st->mac, 6);
	/* Never a guest on a work disk a killed run left half changed. */
	if (cfg.work_disk && a->ops->disk->work_recover) {
		r = a->ops->disk->work_recover(a->ops->disk->userdata, cfg.work_disk, err);
		if (r < 0)
			return r;
	}
	r = hv->spawn(hv->userdata, &cfg, &pid, err);
	if (r < 0)
		return r;
	/* The pid is identity too: record it before talking to the process. */
	st->pid = pid;
	st->spawned_ms = a->ops->proc->now_ms(a->ops->proc->userdata);
	st->applied.hypervisor = vm->hypervisor;
	r = save(a, st, false, err);
	if (r != 0)
		return r;
	r = hv->boot(hv->userdata, &cfg, pid, err);
	if (r < 0)
		return r;
	deadline = a->ops->proc->mono_ms(a->ops->proc->userdata) + timeout;
	for (;;) {
		_cleanup_free_ char *tail = NULL;
		bool ready = false;

		/* Other VMs' steps (and guests) go on while this one boots. */
		unlocked_begin(a, hv->parallel);
		r = hv->ready(hv->userdata, &cfg, pid, &ready, &tail, err);
		unlocked_end(a, hv->parallel);
		if (r < 0) {
			if (tail)
				error_prefix(err, "console: %s", tail);
			return r;
		}
		if (ready)
			return 0;
		/* The drivers report a dead guest as not ready with its console's last lines. */
		if (tail)
			return error_set(err, -ESRCH, "guest died before it was ready; console: %s", tail);
		if (a->ops->proc->mono_ms(a->ops->proc->userdata) >= deadline) {
			/* A hung boot is not left running: stopped, and the
			 * next run starts it again. */
			struct error *e = NULL;

			unlocked_begin(a, hv->parallel);
			r = hv->stop(hv->userdata, cfg.kind, pid, st->api_socket,
				     a->opt->stop_timeout_ms ? a->opt->stop_timeout_ms : 10000, &e);
			unlocked_end(a, hv->parallel);
			if (r >= 0) {
				st->pid = 0;
				st->spawned_ms = 0;
			}
			r = not_ready(&cfg, timeout, e, err);
			error_free(e);
			return r;
		}
		/*
		 * Polled often: the check is a read of the console's tail, and
		 * every ms slept past the guest's readiness is banger's.
		 */
		unlocked_begin(a, hv->parallel);
		a->ops->proc->sleep_ms(a->ops->proc->userdata, 20);
		unlocked_end(a, hv->parallel);
	}
}

static int
remove_orphan(struct actx *a, const struct observed_orphan *x, struct error **err)
{
	const struct host_ops *o = a->ops;
	struct disk_obj obj = { 0 };

	switch (x->kind) {
	case ORPHAN_PROC:
		return o->hv->stop(o->hv->userdata, a->d->host.hypervisor, x->pid, x->name,
				   a->opt->stop_timeout_ms ? a->opt->stop_timeout_ms : 10000, err);
	case ORPHAN_NAT_RULE:
		return o->nat->rule_delete(o->nat->userdata, x->name, x->handle, err);
	case ORPHAN_TAP:
		return o->net->tap_delete(o->net->userdata, x->name, x->vm_id, err);
	case ORPHAN_DM:
	case ORPHAN_LOOP:
		obj.kind = x->kind == ORPHAN_DM ? DISK_OBJ_DM : DISK_OBJ_LOOP;
		obj.name = x->name;
		obj.backing = x->backing;
		return o->disk->obj_remove(o->disk->userdata, &obj, err);
	case ORPHAN_VM_DIR: {
		/* Its work disk may be someone's data: keep it, as a delete would. */
		_cleanup_free_ char *work = xasprintf("%s/work.ext4", x->name);
		/* No id is known: the time keeps two such disks apart. */
		_cleanup_free_ char *tag = xasprintf(
			"orphan-%llu", (unsigned long long)o->proc->now_ms(o->proc->userdata));
		_cleanup_free_ char *dest = status_retained_path(
			a->opt->status_dir, x->vm_name ? x->vm_name : "unknown", tag);
		int r;

		r = o->disk->work_retain(o->disk->userdata, work, dest, err);
		if (r < 0)
			return r;
		obj.kind = DISK_OBJ_VM_DIR;
		obj.name = x->name;
		return o->disk->obj_remove(o->disk->userdata, &obj, err);
	}
	default:
		return error_set(err, -EINVAL, "unknown orphan kind");
	}
}

/*
 * The one place side effects happen.  For a VM step:
 *   1. compute the identity the step will create (probes only), write the
 *      status file with intent = the step;
 *   2. act through the ops;
 *   3. record the result (intent cleared) in the status file.
 */
/*
 * One action: record the intent, act, record the result.  With
 * defer_result, the result is left in *st for the next action of the same
 * VM to write together with its own intent, before it acts: a crash in
 * between then looks like a crash after acting and before recording, which
 * the next run already handles (the intent is pending, every step is an
 * ensure), and each action costs one durable write instead of two.
 */
static int
step(struct actx *a, const struct plan_change *ch, struct vm_status *st,
     const struct plan_action *act, bool defer_result, struct error **err)
{
	const struct host_ops *o = a->ops;
	const struct host_spec *host = &a->d->host;
	const struct vm_spec *vm = ch->vm;
	_cleanup_free_ char *vm_dir = st->name ? status_vm_dir(a->opt->status_dir, st->name) : NULL;
	struct disk_root_req req;
	int r;

	if (act->kind == ACTION_ORPHAN) {
		fault_before(&a->run->fault);
		r = remove_orphan(a, &act->orphan, err);
		fault_after(&a->run->fault);
		return r;
	}

	/* 1. identity and intent */
	switch (act->kind) {
	case ACTION_IDENTITY: {
		char id[33];

		r = o->proc->random_id(o->proc->userdata, id, err);
		if (r < 0)
			return r;
		memcpy(st->id, id, sizeof(id));
		name_tap_from_id(st->id, st->tap);
		set_str(&st->api_socket, NULL);
		st->api_socket = status_api_socket(a->opt->status_dir, st->name);
		free(st->work_path);
		st->work_path = vm->work_disk ? status_work_path(a->opt->status_dir, st->name) : NULL;
		st->phase = VM_PHASE_CREATING;
		st->applied.on_delete = vm->on_delete;
		st->created_ms = o->proc->now_ms(o->proc->userdata);
		set_str(&st->source_commit, a->d->source_commit);
		set_str(&st->intent, NULL);
		/* The root disk's identity too, so that the root step of a new VM
		 * has no record of its own to write first. */
		if (ch->image) {
			r = root_identity(a, ch, st, vm_dir, err);
			if (r < 0)
				return r;
		}
		/* Nothing to do on the host: the record is the step. */
		fault_before(&a->run->fault);
		r = save(a, st, true, err);
		fault_after(&a->run->fault);
		return r;
	}
	case ACTION_ROOT:
		r = root_identity(a, ch, st, vm_dir, err);
		if (r < 0)
			return r;
		break;
	case ACTION_WORK:
		if (!st->work_path)
			st->work_path = status_work_path(a->opt->status_dir, st->name);
		break;
	case ACTION_START:
		if (!st->api_socket)
			st->api_socket = status_api_socket(a->opt->status_dir, st->name);
		break;
	default:
		break;
	}
	if (ch->kind == CHANGE_DELETE)
		st->phase = VM_PHASE_DELETING;
	set_str(&st->intent, action_kind_to_string(act->kind));
	if (act->kind != ACTION_FORGET) {
		r = save(a, st, false, err);
		if (r < 0)
			sync_vm_dir_on_failure(a, st);
		if (r != 0)
			return r;
	}

	/* 2. act */
	fault_before(&a->run->fault);
	switch (act->kind) {
	case ACTION_BRIDGE:
		/* Made sure of once (two workers may both ask: it is idempotent). */
		if (a->run->bridge_done) {
			r = 0;
			break;
		}
		driver_begin(a, &a->run->net_lock);
		r = o->net->bridge_ensure(o->net->userdata, host->bridge_name, host->bridge_addr,
					  host->bridge_prefix, err);
		driver_end(a, &a->run->net_lock);
		a->run->bridge_done = r >= 0;
		break;
	case ACTION_TAP:
		driver_begin(a, &a->run->net_lock);
		r = o->net->tap_ensure(o->net->userdata, st->tap, host->bridge_name, st->name, st->id,
				       err);
		driver_end(a, &a->run->net_lock);
		break;
	case ACTION_NAT:
		r = nat_add(a, st, err);
		break;
	case ACTION_NAT_DELETE:
		driver_begin(a, &a->run->nat_lock);
		r = st->id[0] ? o->nat->vm_delete(o->nat->userdata, st->id, err) : 0;
		driver_end(a, &a->run->nat_lock);
		break;
	case ACTION_STOP:
		/* A graceful stop waits for the guest: the others go on meanwhile. */
		unlocked_begin(a, o->hv->parallel);
		r = o->hv->stop(o->hv->userdata, st->applied.hypervisor, st->pid, st->api_socket,
				a->opt->stop_timeout_ms ? a->opt->stop_timeout_ms : 10000, err);
		unlocked_end(a, o->hv->parallel);
		break;
	case ACTION_VM_DIR:
		unlocked_begin(a, true);
		r = o->disk->vm_dir_create(o->disk->userdata, vm_dir, err);
		unlocked_end(a, true);
		break;
	case ACTION_ROOT_REMOVE:
		root_req(a, ch, st, vm_dir, &req);
		/* Device-mapper and loop devices: one at a time. */
		unlocked_begin(a, req.strategy != DISK_STRATEGY_DM_SNAPSHOT);
		r = o->disk->root_remove(o->disk->userdata, &req, err);
		unlocked_end(a, req.strategy != DISK_STRATEGY_DM_SNAPSHOT);
		break;
	case ACTION_ROOT: {
		_cleanup_free_ char *dev = NULL;

		root_req(a, ch, st, vm_dir, &req);
		unlocked_begin(a, req.strategy != DISK_STRATEGY_DM_SNAPSHOT);
		r = o->disk->root_create(o->disk->userdata, &req, &dev, err);
		unlocked_end(a, req.strategy != DISK_STRATEGY_DM_SNAPSHOT);
		if (r >= 0)
			set_str(&st->root_device, dev);
		if (r >= 0)
			r = sync_vm_dir(a, ch, act, vm_dir, err);
		break;
	}
	case ACTION_WORK:
		unlocked_begin(a, true);
		r = make_work_disk(a, ch, act, st, err);
		unlocked_end(a, true);
		if (r >= 0)
			r = sync_vm_dir(a, ch, act, vm_dir, err);
		break;
	case ACTION_WORK_GROW:
		if (!o->disk->work_grow) {
			r = error_set(err, -EOPNOTSUPP, "this disk driver cannot grow work disks");
			break;
		}
		unlocked_begin(a, true);
		r = o->disk->work_grow(o->disk->userdata, st->work_path, vm->work_disk, err);
		unlocked_end(a, true);
		break;
	case ACTION_FILESYNC: {
		_cleanup_free_ struct filesync_entry *all = NULL;
		_cleanup_free_ char *keys = NULL;
		size_t n = 0;

		if (a->seeded) {	/* written with the new disk */
			r = 0;
			break;
		}
		all = filesync_entries(a, vm, &n, &keys);
		unlocked_begin(a, true);
		forget_keys_copy(a, st);
		r = o->disk->filesync_apply(o->disk->userdata, st->work_path, all, n,
					    a->d->root, err);
		unlocked_end(a, true);
		break;
	}
	case ACTION_WORKSPACE: {
		_cleanup_free_ char *commit = NULL;
		_cleanup_strv_free_ char **warnings = NULL;

		if (!o->disk->workspace_apply) {
			r = error_set(err, -EOPNOTSUPP,
				      "workspace: this disk driver cannot write workspaces");
			break;
		}
		r = o->disk->workspace_apply(o->disk->userdata, st->work_path, &vm->workspace, vm_dir,
					     &commit, &warnings, err);
		if (r < 0)
			break;
		set_str(&st->workspace_commit, commit);
		/* Carried on past: the workspace is usable, only incomplete. */
		for (size_t i = 0; warnings && warnings[i]; i++)
			fprintf(stderr, "banger: warning: vm '%s': workspace: %s\n", vm->name,
				warnings[i]);
		break;
	}
	case ACTION_START:
		r = start_vm(a, ch, st, err);
		break;
	case ACTION_TAP_DELETE:
		driver_begin(a, &a->run->net_lock);
		r = o->net->tap_delete(o->net->userdata, st->tap, st->id, err);
		driver_end(a, &a->run->net_lock);
		break;
	case ACTION_WORK_RETAIN: {
		_cleanup_free_ char *work = st->work_path ? xstrdup(st->work_path)
							  : status_work_path(a->opt->status_dir,
									     st->name);
		_cleanup_free_ char *dest = status_retained_path(a->opt->status_dir, st->name,
								  st->id[0] ? st->id : "unknown");

		unlocked_begin(a, true);
		r = o->disk->work_retain(o->disk->userdata, work, dest, err);
		unlocked_end(a, true);
		break;
	}
	case ACTION_VM_DIR_REMOVE:
		unlocked_begin(a, true);
		r = o->disk->vm_dir_remove(o->disk->userdata, vm_dir, err);
		unlocked_end(a, true);
		break;
	case ACTION_FORGET:
		unlocked_begin(a, true);
		r = status_remove_nosync(a->opt->status_dir, st->name, err);
		unlocked_end(a, true);
		if (!strv_contains(a->run->unsynced, st->name))
			a->run->unsynced = strv_append(a->run->unsynced, st->name);
		fault_after(&a->run->fault);
		if (r >= 0 && a->opt->checkpoint && a->opt->checkpoint(a->opt->hook_userdata) < 0) {
			a->run->crashed = true;
			return CRASHED;
		}
		return r;
	case ACTION_RECORD:
		r = 0;
		break;
	default:
		return error_set(err, -EINVAL, "unknown action");
	}
	fault_after(&a->run->fault);
	if (r == CRASHED)
		return r;
	if (r < 0) {
		sync_vm_dir_on_failure(a, st);
		return r;
	}

	/* 3. result */
	switch (act->kind) {
	case ACTION_STOP:
		st->pid = 0;
		st->started_ms = 0;
		st->spawned_ms = 0;
		/* The guest is gone: the record takes the planned address now. */
		st->ip = ch->status.ip;
		memcpy(st->mac, ch->status.mac, 6);
		st->has_mac = ch->status.has_mac;
		if (st->phase != VM_PHASE_DELETING)
			st->phase = VM_PHASE_STOPPED;
		break;
	case ACTION_VM_DIR:
		st->root_ready = st->work_ready = st->seeded = false;
		set_str(&st->root_device, NULL);
		break;
	case ACTION_ROOT_REMOVE:
		st->root_ready = false;
		set_str(&st->root_device, NULL);
		break;
	case ACTION_ROOT:
		st->root_ready = true;
		break;
	case ACTION_WORK:
		st->work_ready = true;
		st->seeded = false;
		st->work_size = vm->work_disk;
		break;
	case ACTION_WORK_GROW:
		st->applied.work_disk = vm->work_disk;
		if (st->work_size < vm->work_disk)
			st->work_size = vm->work_disk;
		break;
	case ACTION_FILESYNC:
		st->seeded = true;
		memcpy(st->applied.seed_hash, ch->seed_hash, sizeof(ch->seed_hash));
		break;
	case ACTION_START:
		st->phase = VM_PHASE_RUNNING;
		st->started_ms = o->proc->now_ms(o->proc->userdata);
		break;
	case ACTION_WORK_RETAIN:
	case ACTION_VM_DIR_REMOVE:
		st->work_ready = st->seeded = false;
		if (act->kind == ACTION_VM_DIR_REMOVE)
			st->root_ready = false;
		break;
	case ACTION_RECORD:
		memcpy(st->generation, vm->generation, sizeof(st->generation));
		st->phase = vm->state == VM_STATE_RUNNING && !ch->idle_held ? VM_PHASE_RUNNING
									    : VM_PHASE_STOPPED;
		st->applied.state = vm->state;
		/* A new generation ends an idle stop. */
		if (!ch->idle_held) {
			st->stopped_idle = false;
			st->stopped_ms = 0;
			st->stopped_generation[0] = '\0';
		}
		st->applied.vcpus = vm->vcpus;
		st->applied.memory = vm->memory;
		st->applied.hypervisor = vm->hypervisor;
		set_str(&st->applied.image, vm->image);
		memcpy(st->applied.image_hash, ch->image_hash, sizeof(ch->image_hash));
		memcpy(st->applied.root_hash, ch->root_hash, sizeof(ch->root_hash));
		set_str(&st->applied.kernel_args, vm->kernel_args);
		st->applied.system_overlay = vm->system_overlay;
		st->applied.work_disk = vm->work_disk;
		st->applied.nat = vm->nat;
		st->applied.on_delete = vm->on_delete;
		/* With nothing to copy, the (empty) seed counts as applied. */
		if (!st->seeded || !vm->work_disk) {
			bool any = false;

			for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++) {
				const struct filesync_spec *f = spec_find_filesync(a->d, vm->filesyncs[i]);

				any |= f && f->n_entries;
			}
			if (!any || !vm->work_disk) {
				st->seeded = vm->work_disk != 0;
				memcpy(st->applied.seed_hash, ch->seed_hash, sizeof(ch->seed_hash));
			}
		}
		set_str(&st->source_commit, a->d->source_commit);
		set_str(&st->last_error, NULL);
		break;
	default:
		break;
	}
	set_str(&st->intent, NULL);
	if (defer_result)
		return 0;
	return save(a, st, true, err);
}

/*
 * After every change: what the drivers batch (the NAT rules given up, deleted
 * in one nft transaction, and the taps, deleted in one request; a run cut
 * short before leaves them marked as banger's and as their VM's: orphans
 * the next run removes), then the fsyncs that make the run's status writes
 * durable (each file written, then their directory: never a syncfs, which
 * would also wait for every other program's writes on that filesystem).  Those were atomic when made, which is what
 * a killed run needs; a power loss also takes every kernel object and
 * process they guard, and the files they guard lie at paths derived from
 * the VM's name (STATUS_DIR/vms/NAME/), so an older status file brought
 * back by one leaves nothing unfindable.
 */
static int
finish(struct actx *a, struct error **err)
{
	const struct host_ops *o = a->ops;
	int r = 0;

	if (o->nat->flush) {
		fault_before(&a->run->fault);
		r = o->nat->flush(o->nat->userdata, err);
		fault_after(&a->run->fault);
		if (r < 0)
			return r;
	}
	if (o->net->tap_flush) {
		fault_before(&a->run->fault);
		r = o->net->tap_flush(o->net->userdata, err);
		fault_after(&a->run->fault);
		if (r < 0)
			return r;
	}
	r = status_sync(a->opt->status_dir, a->run->unsynced, err);
	if (r >= 0)
		a->run->unsynced = strv_free(a->run->unsynced);
	return r;
}

static void
run_done(struct run *run, size_t n_changes)
{
	for (size_t i = 0; run->log && i < n_changes; i++) {
		for (size_t k = 0; k < run->log[i].n; k++)
			error_free(run->log[i].ev[k].e);
		free(run->log[i].ev);
		free(run->log[i].failure);
		if (run->log[i].parked)
			vm_status_done(&run->log[i].st);
	}
	free(run->log);
	for (size_t i = 0; i < run->n_kept; i++)
		free(run->kept[i].vm);
	free(run->kept);
	strv_free(run->unsynced);
	free(run->uplink);
	pthread_mutex_destroy(&run->lock);
	pthread_mutex_destroy(&run->net_lock);
	pthread_mutex_destroy(&run->nat_lock);
}

/*
 * Whether the action after j of this change writes j's result: one that
 * writes the status before acting, or the forget that removes the record
 * (j's result would be written only to be removed; a run cut short in
 * between finds the delete's record as the step before j left it, and
 * does the delete's steps again, each finding its work done).
 */
static bool
next_saves_first(const struct plan *p, const struct plan_change *ch, size_t j)
{
	enum action_kind k;

	if (j + 1 >= ch->first + ch->n)
		return false;
	k = p->actions[j + 1].kind;
	return k != ACTION_ORPHAN && k != ACTION_IDENTITY;
}

/* Hand on_step what the changes did, in plan order, as far as it is known:
 * the output of a run of several jobs reads as that of one. */
static void
emit(struct actx *a)
{
	struct run *run = a->run;

	while (run->emit_change < a->p->n_changes) {
		struct change_log *l = &run->log[run->emit_change];

		for (; run->emit_ev < l->n; run->emit_ev++) {
			struct logged *ev = &l->ev[run->emit_ev];

			if (a->opt->on_step)
				a->opt->on_step(a->opt->step_userdata, &a->p->changes[run->emit_change],
						ev->act, ev->r, ev->e);
			error_free(ev->e);
			ev->e = NULL;
		}
		if (!l->done)
			return;
		run->emit_change++;
		run->emit_ev = 0;
	}
}

static void
log_step(struct change_log *l, const struct plan_action *act, int r, struct error *e)
{
	struct logged *ev;

	l->ev = xappend(l->ev, &l->n, sizeof(*l->ev), (void **)&ev);
	*ev = (struct logged){ .act = act, .r = r, .e = e };
}

/* The address and MAC the VM had when observed, put back into st when the
 * change moves it to others (the guest that runs still has them). */
static void
keep_guest_address(struct vm_status *st, const struct plan_change *ch)
{
	if (!ch->from_ip || (st->ip == ch->from_ip && memcmp(st->mac, ch->from_mac, 6) == 0))
		return;
	st->ip = ch->from_ip;
	memcpy(st->mac, ch->from_mac, 6);
	st->has_mac = ch->from_has_mac;
}

/*
 * Change i, its actions in order up to the first that fails; with the lock
 * held.  In the stop pass, only up to its guest's stop (none: nothing yet),
 * and the change is parked until the next pass goes on with it.
 */
static void
run_change(struct actx *a, size_t i)
{
	const struct plan *p = a->p;
	const struct plan_change *ch = &p->changes[i];
	struct change_log *l = &a->run->log[i];
	struct vm_status st = { 0 };
	size_t from = ch->first, to = ch->first + ch->n;

	if (l->done)
		return;	/* failed in the stop pass */
	if (l->parked) {
		st = l->st;
		memset(&l->st, 0, sizeof(l->st));
		from = l->resume;
		l->parked = false;
	} else {
		vm_status_copy(&st, &ch->status);
		/* A running VM moving to another address: until its guest
		 * stops, its record says the address that guest has
		 * (ACTION_STOP's result moves it), so a run killed before the
		 * stop leaves the truth behind. */
		if (st.pid)
			keep_guest_address(&st, ch);
	}
	if (a->run->stop_pass) {
		to = from;
		for (size_t j = from; j < ch->first + ch->n; j++)
			if (p->actions[j].kind == ACTION_STOP) {
				to = j + 1;
				break;
			}
	}
	/* An address or MAC a failed change of an earlier phase left with its
	 * running guest: not taken beside it. */
	for (size_t k = 0; ch->vm_name && k < a->run->n_kept; k++) {
		const struct kept_address *x = &a->run->kept[k];
		char what[24];

		if (strcmp(x->vm, ch->vm_name) == 0)
			continue;
		if (ch->status.ip == x->ip)
			ipv4_format(x->ip, what);
		else if (ch->status.has_mac && memcmp(ch->status.mac, x->mac, 6) == 0)
			mac_format(x->mac, what);
		else
			continue;
		l->failure = xasprintf("%s: %s is still vm '%s''s, whose change failed: not taken",
				       ch->vm_name, what, x->vm);
		/* Stopped by the stop pass: its record says why it stays so. */
		if (st.pid != ch->status.pid) {
			struct error *e2 = NULL;

			set_str(&st.last_error, l->failure + strlen(ch->vm_name) + 2);
			st.phase = VM_PHASE_FAILED;
			if (save(a, &st, true, &e2) == CRASHED) {
				error_free(e2);
				goto out;
			}
			error_free(e2);
		}
		l->failed = l->done = true;
		a->run->n_failed++;
		emit(a);
		goto out;
	}
	a->seeded = false;
	a->dir_unsynced = false;
	free(a->last_key);
	free(a->last_full);
	a->last_key = NULL;
	a->last_full = NULL;
	for (size_t j = from; j < to; j++) {
		const struct plan_action *act = &p->actions[j];
		struct error *e = NULL;
		int r;

		r = step(a, ch, &st, act, next_saves_first(p, ch, j), &e);
		if (r == CRASHED ||
		    (r < 0 && a->opt->crashed && a->opt->crashed(a->opt->hook_userdata))) {
			error_free(e);
			a->run->crashed = true;
			goto out;
		}
		log_step(l, act, r, e);
		if (r >= 0) {
			a->run->n_actions++;
			emit(a);
			continue;
		}
		/* Record the failure, stop this VM's work, go on with the others. */
		{
			_cleanup_free_ char *msg = error_format(e);
			const char *who = ch->vm_name ? ch->vm_name : "orphan";

			l->failure = xasprintf("%s: %s: %s", who, action_kind_to_string(act->kind), msg);
			if (ch->vm_name && act->kind != ACTION_FORGET && act->kind != ACTION_IDENTITY) {
				struct error *e2 = NULL;

				set_str(&st.last_error, msg);
				if (st.phase != VM_PHASE_DELETING)
					st.phase = VM_PHASE_FAILED;
				/* Neither stopped nor started anew (the same guest,
				 * or none, as when planned): it still has the address
				 * it had, which the record must say.  Once stopped,
				 * the new address is the one to try again. */
				if (st.pid == ch->status.pid)
					keep_guest_address(&st, ch);
				/* Its guest still runs on that address: a later
				 * phase must not put another one there. */
				if (st.pid && st.pid == ch->status.pid && st.ip) {
					struct kept_address *x;

					a->run->kept = xappend(a->run->kept, &a->run->n_kept,
							       sizeof(*x), (void **)&x);
					x->ip = st.ip;
					memcpy(x->mac, st.mac, 6);
					x->vm = xstrdup(ch->vm_name);
				}
				r = save(a, &st, true, &e2);
				/* The failure itself is reported; a second one about
				 * recording it adds nothing the user can act on. */
				error_free(e2);
				if (r == CRASHED)
					goto out;
			}
		}
		l->failed = true;
		break;
	}
	if (!l->failed && to < ch->first + ch->n) {
		l->st = st;
		memset(&st, 0, sizeof(st));
		l->resume = to;
		l->parked = true;
		goto out;
	}
	l->done = true;
	if (l->failed)
		a->run->n_failed++;
	else
		a->run->n_ok++;
	emit(a);
out:
	vm_status_done(&st);
}

/* Takes changes in plan order until none is left below the run's limit. */
static void *
worker(void *userdata)
{
	struct actx a = *(const struct actx *)userdata;

	a.last_key = NULL;
	a.last_full = NULL;
	pthread_mutex_lock(&a.run->lock);
	while (!a.run->crashed && a.run->next < a.run->limit)
		run_change(&a, a.run->next++);
	pthread_mutex_unlock(&a.run->lock);
	free(a.last_key);
	free(a.last_full);
	return NULL;
}

int
apply_plan(const struct plan *p, const struct spec *desired, const struct host_ops *ops,
	   const struct apply_options *opt, struct apply_result *ret, struct error **err)
{
	struct run run = { .lock = PTHREAD_MUTEX_INITIALIZER,
			   .net_lock = PTHREAD_MUTEX_INITIALIZER,
			   .nat_lock = PTHREAD_MUTEX_INITIALIZER };
	struct actx a = { .p = p, .d = desired, .ops = ops, .opt = opt, .run = &run };
	struct apply_result res = { 0 };
	unsigned jobs = opt->jobs ? opt->jobs : APPLY_JOBS_DEFAULT;
	pthread_t *threads = NULL;
	size_t n_threads = 0;

	if (p->refused)
		return error_set(err, -EPERM, "%s", p->refused);
	fault_init(&run.fault);
	/* The crash hooks and fault injection count steps: one at a time. */
	if (!ops->disk->parallel || opt->checkpoint || opt->crashed || run.fault.kill_at ||
	    run.fault.count_file)
		jobs = 1;
	run.log = xcalloc(p->n_changes + 1, sizeof(*run.log));

	/*
	 * Phase by phase (plan_build): the orphans one after another, as they
	 * free what a VM's steps might trip over; then the deletions, the VMs
	 * that move to another address, and the rest, each phase's changes on
	 * up to jobs workers and all of them done before the next phase: what
	 * one VM gives up is free before another takes it.
	 */
	threads = xcalloc(jobs, sizeof(*threads));
	while (run.next < p->n_changes && !run.crashed) {
		enum plan_phase phase = p->changes[run.next].phase;
		size_t start = run.next, want = 0;

		while (run.limit < p->n_changes && p->changes[run.limit].phase == phase)
			run.limit++;
		if (phase != PLAN_PHASE_ORPHAN && run.limit - run.next > 1)
			want = run.limit - run.next - 1;
		if (want > jobs - 1)
			want = jobs - 1;
		/*
		 * The VMs moving onto addresses that others of the phase leave
		 * (two trading theirs, or a chain): every guest of the phase
		 * stops, then the changes go on, so no address has two guests.
		 */
		for (int pass = phase == PLAN_PHASE_MOVE_ONTO ? 0 : 1; pass < 2 && !run.crashed;
		     pass++) {
			run.stop_pass = pass == 0;
			run.next = start;
			/* Fewer threads than asked (none at all) only make the run slower. */
			for (n_threads = 0; n_threads < want; n_threads++)
				if (pthread_create(&threads[n_threads], NULL, worker, &a) != 0)
					break;
			(void)worker(&a);
			for (size_t i = 0; i < n_threads; i++)
				(void)pthread_join(threads[i], NULL);
		}
	}
	free(threads);

	res.failures = strv_copy(NULL);
	for (size_t i = 0; i < p->n_changes; i++)
		if (run.log[i].failure)
			res.failures = strv_append_take(res.failures, TAKE_PTR(run.log[i].failure));
	res.n_ok = run.n_ok;
	res.n_failed = run.n_failed;
	res.n_actions = run.n_actions;
	if (run.crashed) {
		res.aborted = true;
		run_done(&run, p->n_changes);
		*ret = res;
		return error_set(err, -ECANCELED, "run cut short");
	}
	{
		struct error *e = NULL;

		if (finish(&a, &e) < 0) {
			_cleanup_free_ char *msg = error_format(e);

			res.failures = strv_append_take(res.failures, xasprintf("end of run: %s", msg));
			res.n_failed++;
			error_free(e);
		}
	}
	run_done(&run, p->n_changes);
	*ret = res;
	return 0;
}
