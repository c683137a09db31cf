/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Shared by plan, reconcile and status: declarations, status directory,
 * host name, lock, observation; the plan as JSON.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cli/core.h"
#include "source/git.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/strv.h"

int
cli_parse_seconds(const char *s, int *ret_ms)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 0 || v > 86400)
		return -EINVAL;
	*ret_ms = (int)v * 1000;
	return 0;
}

int
cli_run_prepare(struct cli_run *r, const struct cli_common *common, const char *host_name,
		int lock_timeout_ms, struct error **err)
{
	struct utsname u;
	int ret;

	memset(r, 0, sizeof(*r));
	r->lock_fd = -EBADF;
	if (source_git_is_repository(common->state_dir)) {
		/* A git state directory is read from its HEAD commit, never from
		 * the work tree, so a half-finished edit is not applied. */
		struct source_git_options go = { .url = common->state_dir };
		struct source_git_info info = { 0 };

		ret = source_git_read(&go, &r->src, &info, err);
		source_git_info_done(&info);
	} else {
		ret = source_dir_read(common->state_dir, &r->src, err);
	}
	if (ret < 0)
		return ret;
	ret = spec_load(r->src, &r->spec, err);
	if (ret < 0)
		return ret;
	if (common->status_dir)
		r->status_dir = xstrdup(common->status_dir);
	else if (r->spec->host.status_dir)
		r->status_dir = xstrdup(r->spec->host.status_dir);
	else
		r->status_dir = xstrdup(DEFAULT_STATUS_DIR);
	if (host_name)
		r->host_name = xstrdup(host_name);
	else if (uname(&u) == 0)
		r->host_name = xstrdup(u.nodename);
	else
		r->host_name = xstrdup("localhost");
	r->claimed = strv_copy(r->spec->held_vms);
	for (size_t i = 0; i < r->spec->n_vms; i++)
		r->claimed = strv_append(r->claimed, r->spec->vms[i].name);
	if (lock_timeout_ms >= 0) {
		ret = status_lock(r->status_dir, (unsigned)lock_timeout_ms, &r->lock_fd, err);
		if (ret < 0)
			return ret;
	}
	ret = cli_host_open(r->status_dir, r->spec, &r->host, err);
	if (ret < 0)
		return ret;
	return observe_host(r->status_dir, &r->host->ops, r->claimed, &r->obs, err);
}

void
cli_run_done(struct cli_run *r)
{
	source_free(r->src);
	spec_free(r->spec);
	free(r->status_dir);
	free(r->host_name);
	strv_free(r->claimed);
	cli_host_free(r->host);
	observed_free(r->obs);
	if (r->lock_fd >= 0)
		(void)close(r->lock_fd);
	memset(r, 0, sizeof(*r));
	r->lock_fd = -EBADF;
}

static json_t *
strv_json(char *const *l)
{
	json_t *a = json_array();

	for (size_t i = 0; l && l[i]; i++)
		json_array_append_new(a, json_string(l[i]));
	return a;
}

json_t *
cli_plan_json(const struct plan *p)
{
	json_t *o = json_object(), *changes = json_array(), *orphans = json_array();

	for (size_t i = 0; i < p->n_changes; i++) {
		const struct plan_change *ch = &p->changes[i];
		json_t *c = json_object(), *acts = json_array();

		for (size_t j = ch->first; j < ch->first + ch->n; j++) {
			json_t *a = json_object();

			json_object_set_new(a, "action",
					    json_string(action_kind_to_string(p->actions[j].kind)));
			json_object_set_new(a, "text", json_string(p->actions[j].text));
			json_array_append_new(acts, a);
		}
		if (ch->kind == CHANGE_ORPHAN) {
			const struct observed_orphan *x = &p->actions[ch->first].orphan;

			json_object_set_new(c, "kind", json_string(orphan_kind_to_string(x->kind)));
			json_object_set_new(c, "name", json_string(x->name));
			json_object_set_new(c, "vm", x->vm_name ? json_string(x->vm_name) : json_null());
			json_object_set_new(c, "vm_id", x->vm_id ? json_string(x->vm_id) : json_null());
			json_object_set_new(c, "detail", json_string(ch->detail));
			json_array_append_new(orphans, c);
			json_decref(acts);
			continue;
		}
		json_object_set_new(c, "vm", json_string(ch->vm_name));
		json_object_set_new(c, "change", json_string(change_kind_to_string(ch->kind)));
		json_object_set_new(c, "detail", ch->detail ? json_string(ch->detail) : json_null());
		json_object_set_new(c, "actions", acts);
		json_array_append_new(changes, c);
	}
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "orphans", orphans);
	json_object_set_new(o, "held", strv_json(p->held));
	json_object_set_new(o, "notes", strv_json(p->notes));
	json_object_set_new(o, "refused", p->refused ? json_string(p->refused) : json_null());
	json_object_set_new(o, "unchanged", json_integer((json_int_t)p->n_unchanged));
	json_object_set_new(o, "empty", json_boolean(plan_is_empty(p)));
	return o;
}
