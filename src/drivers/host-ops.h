/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Every facility of the host the reconciler touches, as one bundle of ops
 * tables: the real drivers in production, the fake host in tests.
 */
#pragma once

#include <stdbool.h>

#include "drivers/disk.h"
#include "drivers/hv.h"
#include "drivers/nat.h"
#include "drivers/net.h"
#include "drivers/proc.h"

struct host_ops {
	const struct net_ops *net;
	const struct nat_ops *nat;
	const struct disk_ops *disk;
	const struct hv_ops *hv;
	const struct proc_ops *proc;
	/* Whether observation may make the net, nat, disk and hv listings at
	 * once, from threads of its own: each real driver lists through a
	 * socket or files of its own.  The fake host, which counts and logs
	 * every call in order, says no. */
	bool concurrent_lists;
};
