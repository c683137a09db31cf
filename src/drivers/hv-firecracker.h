/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The Firecracker backend of struct hv_ops: spawns `firecracker --api-sock
 * PATH --id NAME` through hv-common, configures and boots it through the
 * HTTP API on that socket (firecracker-api.yaml: machine-config, boot-source,
 * drives, network-interfaces, then InstanceStart), stops it with
 * SendCtrlAltDel, then SIGTERM, then SIGKILL.  The request list is built by a
 * pure function so tests can check every body.
 *
 * Errors worth knowing: spawn refuses a socket that still answers (-EBUSY)
 * and a non-socket at the socket path (-EEXIST); boot fails with -ESRCH when
 * the process dies before its socket appears (the console's last line in the
 * text), -ETIMEDOUT when the socket never answers, and with the API's
 * fault_message as the text when a call is refused (400: -EINVAL).
 */
#pragma once

#include <stddef.h>

#include "drivers/hv.h"
#include "util/error.h"

/* Drive and interface ids the driver uses in the API. */
#define FC_DRIVE_ROOT "rootfs"
#define FC_DRIVE_WORK "work"
#define FC_IFACE "eth0"

struct hv_firecracker_options {
	unsigned api_timeout_ms;	/* one API call; default 5000 */
	unsigned socket_wait_ms;	/* spawn to api socket accepting; default 10000 */
};

/*
 * A new ops table for Firecracker with the default timeouts.  Cannot fail
 * (out of memory aborts).  Caller frees it with hv_firecracker_free().
 */
int hv_firecracker_new(struct hv_ops **ret, struct error **err);
/* The same with other timeouts; a 0 field keeps its default.  opts is copied. */
int hv_firecracker_new_with_options(const struct hv_firecracker_options *opts,
				    struct hv_ops **ret, struct error **err);
struct hv_ops *hv_firecracker_free(struct hv_ops *ops);

static inline void
hv_firecracker_freep(struct hv_ops **ops)
{
	(void)hv_firecracker_free(*ops);
}

/* One API call of the boot sequence. */
struct fc_call {
	const char *method;	/* static */
	char *path;
	char *body;		/* compact JSON */
};

void fc_calls_free(struct fc_call *c, size_t n);

/*
 * The calls that configure and start cfg's VM, in order: PUT /machine-config,
 * /boot-source, /drives/rootfs, /drives/work (when cfg->work_disk),
 * /network-interfaces/eth0 (when cfg->tap), /actions InstanceStart.
 * -EINVAL (with a message) when cfg cannot be expressed: memory not a whole
 * number of MiB, no kernel or root disk.  Caller frees with fc_calls_free().
 */
int fc_boot_calls(const struct hv_config *cfg, struct fc_call **ret, size_t *ret_n,
		  struct error **err);
