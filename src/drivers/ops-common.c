/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helpers declared by the driver ops headers and shared by every backend and
 * the fakes that have no backend file of their own (net, nat and disk ones
 * live in net-common.c, nat-common.c and disk-common.c).  No host access.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/disk.h"
#include "drivers/hv.h"
#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/name.h"

void
hv_procs_free(struct hv_proc *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		free(p[i].api_socket);
	free(p);
}
