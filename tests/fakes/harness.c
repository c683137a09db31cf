/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Test harness: a reconcile cycle on the fake host, drift commands.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "observe/observe.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

void
cycle_done(struct cycle *c)
{
	free(c->text);
	apply_result_done(&c->res);
	memset(c, 0, sizeof(*c));
}

char **
harness_claimed(const struct spec *s)
{
	char **l = strv_copy(s->held_vms);

	for (size_t i = 0; i < s->n_vms; i++)
		l = strv_append(l, s->vms[i].name);
	return l;
}

char *
harness_replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from);
	char *out = xstrdup("");
	const char *p = s, *q;

	while ((q = strstr(p, from))) {
		char *n = xasprintf("%s%.*s%s", out, (int)(q - p), p, to);

		free(out);
		out = n;
		p = q + fl;
	}
	{
		char *n = xasprintf("%s%s", out, p);

		free(out);
		out = n;
	}
	return out;
}

int
harness_cycle(const char *status_dir, struct fake_host *h, const struct spec *d,
	      const struct cycle_options *o, struct cycle *ret)
{
	_cleanup_strv_free_ char **claimed = harness_claimed(d);
	_cleanup_(observed_freep) struct observed *obs = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_free_ char *text = NULL;
	struct plan_options po = { .status_dir = status_dir,
				   .host_name = o->host_name ? o->host_name : "testhost",
				   .only = o->only, .allow_mass_delete = o->allow_mass_delete };

	memcpy(po.hv_missing, o->hv_missing, sizeof(po.hv_missing));
	struct apply_options ao = { .status_dir = status_dir, .checkpoint = fake_host_checkpoint,
				    .crashed = fake_host_crashed, .hook_userdata = h };
	struct cycle c = { 0 };
	struct error *e = NULL;
	int r;

	r = observe_host(status_dir, &h->ops, claimed, &obs, &e);
	if (r < 0)
		goto fail;
	{
		_cleanup_strv_free_ char **start = plan_may_start(d, po.host_name);

		observe_disk_files(obs, &h->ops, start);
	}
	r = plan_build(d, obs, &po, &p, &e);
	if (r < 0)
		goto fail;
	text = plan_format(p);
	c.text = harness_replace(text, status_dir, "$STATUS");
	c.empty = plan_is_empty(p);
	c.refused = p->refused != NULL;
	if (o->apply) {
		c.apply_r = apply_plan(p, d, &h->ops, &ao, &c.res, &e);
		if (c.apply_r < 0 && c.apply_r != -EPERM && c.apply_r != -ECANCELED) {
			r = c.apply_r;
			goto fail;
		}
		error_free(TAKE_PTR(e));
		if (!h->crashed) {
			_cleanup_(observed_freep) struct observed *after = NULL;

			r = observe_host(status_dir, &h->ops, claimed, &after, &e);
			if (r < 0)
				goto fail;
			c.n_orphans_after = after->n_orphans;
		}
	}
	*ret = c;
	return 0;
fail:
	{
		_cleanup_free_ char *msg = error_format(e);

		fprintf(stderr, "harness: %s\n", msg);
	}
	error_free(e);
	cycle_done(&c);
	return r;
}

static struct fake_obj *
find_proc_of(struct fake_host *h, const char *status_dir, const char *vm)
{
	_cleanup_free_ char *sock = status_api_socket(status_dir, vm);

	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && strcmp(h->objs[i].name, sock) == 0)
			return &h->objs[i];
	return NULL;
}

static int
vm_id_of(const char *status_dir, const char *vm, char id[33])
{
	struct vm_status s;
	int r;

	r = status_read(status_dir, vm, &s, NULL);
	if (r < 0)
		return r;
	memcpy(id, s.id, 33);
	vm_status_done(&s);
	return 0;
}

int
harness_drift(const char *status_dir, struct fake_host *h, const char *cmd)
{
	char verb[64], arg[128], arg2[256] = "";
	char id[33];
	int n, r;

	n = sscanf(cmd, "%63s %127s %255s", verb, arg, arg2);
	if (n < 2)
		return -EINVAL;
	if (strcmp(verb, "kill") == 0) {
		struct fake_obj *p = find_proc_of(h, status_dir, arg);

		return p ? fake_host_kill(h, p->pid) : -ESRCH;
	}
	if (strcmp(verb, "idle-stop") == 0) {
		/* What reconcile's sampling pass records for an idle VM: the idle
		 * stop at the generation last applied. */
		struct vm_status st;

		r = status_read(status_dir, arg, &st, NULL);
		if (r < 0)
			return r;
		st.stopped_idle = true;
		st.stopped_ms = 1;
		memcpy(st.stopped_generation, st.generation, sizeof(st.stopped_generation));
		r = status_write(status_dir, &st, NULL);
		vm_status_done(&st);
		return r;
	}
	if (strcmp(verb, "rm-status") == 0) {
		_cleanup_free_ char *path = status_path(status_dir, arg);

		return unlink(path) < 0 ? -errno : 0;
	}
	if (strcmp(verb, "corrupt-status") == 0 || strcmp(verb, "truncate-status") == 0) {
		_cleanup_free_ char *path = status_path(status_dir, arg);
		_cleanup_free_ char *data = NULL;
		size_t len;

		r = read_file(path, 1 << 20, &data, &len);
		if (r < 0)
			return r;
		if (strcmp(verb, "corrupt-status") == 0)
			return write_file_atomic(path, "name: [unclosed\n", 16, 0600);
		return write_file_atomic(path, data, len / 2, 0600);
	}
	if (strcmp(verb, "bridge-down") == 0) {
		/* The bridge goes away: its taps lose their master. */
		(void)fake_host_remove(h, FAKE_BRIDGE, arg);
		for (size_t i = 0; i < h->n_objs; i++)
			if (h->objs[i].kind == FAKE_LINK && h->objs[i].master &&
			    strcmp(h->objs[i].master, arg) == 0) {
				free(h->objs[i].master);
				h->objs[i].master = NULL;
			}
		return 0;
	}
	if (strcmp(verb, "orphan-tap") == 0) {
		/* orphan-tap VMNAME: a tap of an incarnation no status knows */
		char tap[16];
		_cleanup_free_ char *alias = NULL;
		const char *oid = "0123456789abcdef0123456789abcdef";

		name_tap_from_id(oid, tap);
		alias = net_alias_format(arg, oid);
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LINK, .name = tap, .alias = alias,
						     .master = (char *)"banger0", .up = true });
		return 0;
	}
	if (strcmp(verb, "orphan-tap-in-use") == 0) {
		/* orphan-tap-in-use VMNAME: an orphan tap that a guest of another
		 * status directory holds open */
		char tap[16];
		_cleanup_free_ char *alias = NULL;
		_cleanup_free_ char *sock = xasprintf("/elsewhere/vms/%s/api.sock", arg);
		const char *oid = "fedcba9876543210fedcba9876543210";

		name_tap_from_id(oid, tap);
		alias = net_alias_format(arg, oid);
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LINK, .name = tap, .alias = alias,
						     .master = (char *)"banger0", .up = true });
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_PROC, .name = sock,
						     .pid = h->next_pid++, .tap = tap,
						     .booted = true });
		return 0;
	}
	if (strcmp(verb, "foreign-tap") == 0) {
		/* a bgr- link that is not banger's: must never be touched */
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LINK, .name = arg, .up = true });
		return 0;
	}
	if (strcmp(verb, "orphan-dm") == 0) {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_DM, .name = arg });
		return 0;
	}
	if (strcmp(verb, "orphan-dir") == 0) {
		_cleanup_free_ char *dir = status_vm_dir(status_dir, arg);

		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_DIR, .name = dir });
		return 0;
	}
	if (strcmp(verb, "orphan-proc") == 0) {
		_cleanup_free_ char *sock = status_api_socket(status_dir, arg);

		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_PROC, .name = sock,
						     .pid = h->next_pid++, .booted = true });
		return 0;
	}
	if (strcmp(verb, "foreign-rule") == 0) {
		/* A rule someone else put in banger's table: no comment, no id. */
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_RULE, .name = (char *)"other",
						     .rule_kind = NAT_RULE_OTHER,
						     .handle = h->next_handle++,
						     .chain = (char *)"forward", .vm_id = NULL,
						     .uplink = (char *)arg });
		return 0;
	}
	if (strcmp(verb, "orphan-rule") == 0) {
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_RULE, .name = (char *)"fwd",
						     .rule_kind = NAT_RULE_FORWARD,
						     .handle = h->next_handle++,
						     .chain = (char *)"forward", .vm_id = arg,
						     .tap = (char *)"bgr-gone", .uplink = (char *)"eth0" });
		return 0;
	}
	r = vm_id_of(status_dir, arg, id);
	if (r < 0)
		return r;
	if (strcmp(verb, "rm-tap") == 0) {
		char tap[16];

		name_tap_from_id(id, tap);
		return fake_host_remove(h, FAKE_LINK, tap);
	}
	if (strcmp(verb, "remake-tap") == 0) {
		/* Deleted and made again, as it was: a new device its guest is
		 * not on. */
		char tap[16];
		struct fake_obj *l, copy;
		int r2;

		name_tap_from_id(id, tap);
		l = fake_host_find(h, FAKE_LINK, tap);
		if (!l)
			return -ENOENT;
		copy = (struct fake_obj){ .kind = FAKE_LINK, .name = xstrdup(l->name),
					  .alias = l->alias ? xstrdup(l->alias) : NULL,
					  .master = l->master ? xstrdup(l->master) : NULL, .up = l->up };
		r2 = fake_host_remove(h, FAKE_LINK, tap);
		if (r2 >= 0)
			fake_host_add(h, &copy);
		free(copy.name);
		free(copy.alias);
		free(copy.master);
		return r2;
	}
	if (strcmp(verb, "guest-elsewhere") == 0) {
		/* A guest on the VM's tap that this status directory does not
		 * know: another status directory's (its socket lies outside). */
		char tap[16];
		_cleanup_free_ char *sock = xasprintf("/elsewhere/vms/%s/api.sock", arg);

		name_tap_from_id(id, tap);
		fake_host_add(h, &(struct fake_obj){ .kind = FAKE_PROC, .name = sock,
						     .pid = h->next_pid++, .tap = tap,
						     .booted = true });
		return 0;
	}
	if (strcmp(verb, "rm-nat") == 0) {
		bool any = false;

		for (size_t i = h->n_objs; i-- > 0;)
			if (h->objs[i].kind == FAKE_RULE && h->objs[i].vm_id &&
			    strcmp(h->objs[i].vm_id, id) == 0) {
				fake_host_remove_index(h, i);
				any = true;
			}
		return any ? 0 : -ENOENT;
	}
	if (strcmp(verb, "rm-dm") == 0) {
		char dm[20];

		name_dm_from_id(id, dm);
		return fake_host_remove(h, FAKE_DM, dm);
	}
	if (strcmp(verb, "rm-work") == 0 || strcmp(verb, "rm-root-file") == 0) {
		/* A disk file moved away by hand. */
		_cleanup_free_ char *dir = status_vm_dir(status_dir, arg);
		_cleanup_free_ char *path = strcmp(verb, "rm-work") == 0
						    ? status_work_path(status_dir, arg)
						    : xasprintf("%s/root.img", dir);

		return fake_host_remove(h, FAKE_FILE, path);
	}
	if (strcmp(verb, "rm-dir") == 0) {
		/* Someone wiped the VM's directory: its files and loop devices go too. */
		_cleanup_free_ char *dir = status_vm_dir(status_dir, arg);
		size_t dl = strlen(dir);
		char dm[20];

		name_dm_from_id(id, dm);
		(void)fake_host_remove(h, FAKE_DM, dm);
		for (size_t i = h->n_objs; i-- > 0;) {
			struct fake_obj *o = &h->objs[i];
			const char *path = o->kind == FAKE_LOOP ? o->backing : o->name;

			if ((o->kind == FAKE_LOOP || o->kind == FAKE_FILE || o->kind == FAKE_DIR) &&
			    path && strncmp(path, dir, dl) == 0 && (path[dl] == '/' || !path[dl])) {
				if (o->kind == FAKE_LOOP)
					(void)fake_host_remove(h, FAKE_LOOP, o->name);
				else
					(void)fake_host_remove(h, o->kind, o->name);
			}
		}
		return 0;
	}
	return -EINVAL;
}
