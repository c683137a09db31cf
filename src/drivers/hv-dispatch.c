/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Route hv ops to the backend of the VM's hypervisor.  Processes are
 * listed through every available backend, merged by pid.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/hv-dispatch.h"
#include "util/alloc.h"

static const char *const kind_names[_HYPERVISOR_MAX] = {
	[HYPERVISOR_FIRECRACKER] = "firecracker",
	[HYPERVISOR_QEMU] = "qemu",
};

static int
backend(struct hv_dispatch *d, enum hypervisor_kind kind, const struct hv_ops **ret,
	struct error **err)
{
	if (kind < 0 || kind >= _HYPERVISOR_MAX)
		return error_set(err, -EINVAL, "unknown hypervisor kind %d", (int)kind);
	if (!d->by_kind[kind])
		return error_set(err, -EOPNOTSUPP, "hypervisor '%s' is not available on this host",
				 kind_names[kind]);
	*ret = d->by_kind[kind];
	return 0;
}

/* Any available backend, for the ops that do not depend on the kind. */
static const struct hv_ops *
any_backend(struct hv_dispatch *d)
{
	for (int k = 0; k < _HYPERVISOR_MAX; k++)
		if (d->by_kind[k])
			return d->by_kind[k];
	return NULL;
}

static int
d_spawn(void *ud, const struct hv_config *cfg, pid_t *ret_pid, struct error **err)
{
	const struct hv_ops *b = NULL;
	int r = backend(ud, cfg->kind, &b, err);

	return r < 0 ? r : b->spawn(b->userdata, cfg, ret_pid, err);
}

static int
d_boot(void *ud, const struct hv_config *cfg, pid_t pid, struct error **err)
{
	const struct hv_ops *b = NULL;
	int r = backend(ud, cfg->kind, &b, err);

	return r < 0 ? r : b->boot(b->userdata, cfg, pid, err);
}

static int
d_ready(void *ud, const struct hv_config *cfg, pid_t pid, bool *ret_ready, char **ret_tail,
	struct error **err)
{
	const struct hv_ops *b = NULL;
	int r = backend(ud, cfg->kind, &b, err);

	return r < 0 ? r : b->ready(b->userdata, cfg, pid, ret_ready, ret_tail, err);
}

static int
d_stop(void *ud, enum hypervisor_kind kind, pid_t pid, const char *api_socket, unsigned timeout_ms,
       struct error **err)
{
	struct hv_dispatch *d = ud;
	const struct hv_ops *b = kind >= 0 && kind < _HYPERVISOR_MAX ? d->by_kind[kind] : NULL;

	/* A process of a kind this host cannot drive any more still gets the
	 * signals every backend sends after its graceful attempt. */
	if (!b)
		b = any_backend(d);
	if (!b)
		return error_set(err, -EOPNOTSUPP, "no hypervisor backend available");
	return b->stop(b->userdata, kind, pid, api_socket, timeout_ms, err);
}

static int
d_alive(void *ud, pid_t pid, const char *api_socket, bool *ret, struct error **err)
{
	const struct hv_ops *b = any_backend(ud);

	if (!b)
		return error_set(err, -EOPNOTSUPP, "no hypervisor backend available");
	return b->alive(b->userdata, pid, api_socket, ret, err);
}

static int
d_list(void *ud, const char *sock_dir, struct hv_proc **ret, size_t *ret_n, struct error **err)
{
	struct hv_dispatch *d = ud;
	struct hv_proc *all = NULL;
	size_t n = 0;

	if (d->list_all)
		return d->list_all(sock_dir, ret, ret_n, err);

	for (int k = 0; k < _HYPERVISOR_MAX; k++) {
		const struct hv_ops *b = d->by_kind[k];
		struct hv_proc *l = NULL;
		size_t m = 0;
		int r;

		if (!b || (k > 0 && b == d->by_kind[k - 1]))
			continue;
		r = b->list(b->userdata, sock_dir, &l, &m, err);
		if (r < 0) {
			hv_procs_free(all, n);
			return r;
		}
		for (size_t i = 0; i < m; i++) {
			bool dup = false;
			struct hv_proc *p;

			for (size_t j = 0; j < n && !dup; j++)
				dup = all[j].pid == l[i].pid;
			if (dup)
				continue;
			all = xappend(all, &n, sizeof(*all), (void **)&p);
			p->pid = l[i].pid;
			p->api_socket = xstrdup(l[i].api_socket);
		}
		hv_procs_free(l, m);
	}
	*ret = all;
	*ret_n = n;
	return 0;
}

void
hv_dispatch_init(struct hv_dispatch *d)
{
	bool parallel = false;

	for (int k = 0; k < _HYPERVISOR_MAX; k++) {
		if (d->by_kind[k] && !d->by_kind[k]->parallel) {
			parallel = false;
			break;
		}
		parallel |= d->by_kind[k] != NULL;
	}
	d->ops = (struct hv_ops){ .spawn = d_spawn,
				  .boot = d_boot,
				  .ready = d_ready,
				  .stop = d_stop,
				  .alive = d_alive,
				  .list = d_list,
				  .parallel = parallel,
				  .userdata = d };
}
