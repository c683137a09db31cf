/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One hv_ops over several hypervisor backends: each VM names its own
 * hypervisor (hv_config.kind, the kind passed to stop), so the reconciler
 * holds one table that routes to the backend of that kind.  Backends not
 * available on this host are NULL: using them is -EOPNOTSUPP.
 */
#pragma once

#include "drivers/hv.h"

struct hv_dispatch {
	const struct hv_ops *by_kind[_HYPERVISOR_MAX];
	/* When every backend lists the same way (the real ones all scan
	 * /proc for command lines naming a socket under sock_dir): list once
	 * with this instead of once per backend.  NULL: ask each backend. */
	int (*list_all)(const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
			struct error **err);
	struct hv_ops ops;	/* what the reconciler uses; userdata points here */
};

/* Set d->ops up to route to d->by_kind (fill by_kind before or after;
 * d->ops.parallel is true when every backend filled before is). */
void hv_dispatch_init(struct hv_dispatch *d);
