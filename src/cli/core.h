/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What plan, reconcile and status share: choosing the host's ops tables
 * (host-ops.c), loading the declarations, resolving the status directory
 * and host name, observing, and the plan as JSON.
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#include "cli/cli.h"
#include "source/git.h"
#include "drivers/host-ops.h"
#include "drivers/hv-dispatch.h"
#include "observe/observe.h"
#include "plan/plan.h"
#include "source/source.h"
#include "spec/spec.h"

/* The host: real drivers, or the fake host when BANGER_FAKE_HOST names a
 * state file (a hidden test switch: the fake's objects are loaded from and
 * saved back to that file so that runs follow each other). */
struct fake_host;

struct cli_host {
	struct host_ops ops;
	struct hv_dispatch hv;	/* real drivers: one backend per hypervisor kind */
	struct net_ops *net;	/* the real drivers, each freed with its own free */
	struct nat_ops *nat;
	struct disk_ops *disk;
	struct hv_ops *hv_qemu;
	struct hv_ops *hv_fc;
	struct fake_host *fake;
	char *fake_path;
	/* Host statistics (drivers/guest.h); NULL on the fake host, whose
	 * pids are not real processes: no sampling, no idle stops. */
	const struct stats_ops *stats;
};

/* The fake host of BANGER_FAKE_HOST read ahead (in the status reader's
 * thread); NULL when there is none or it cannot be read (cli_host_open
 * then reads it and reports why). */
struct fake_host *cli_host_preload_fake(void);
/* Choose and set up the ops for a run over status_dir with the host
 * settings of spec (hypervisor binaries and the like).  preloaded: from
 * cli_host_preload_fake, taken (NULL: none). */
int cli_host_open(const char *status_dir, const struct spec *spec, struct fake_host *preloaded,
		  struct cli_host **ret, struct error **err);
/* Save the fake host's state (no-op with real drivers). */
int cli_host_save(struct cli_host *h, struct error **err);
struct cli_host *cli_host_free(struct cli_host *h);
static inline void
cli_host_freep(struct cli_host **h)
{
	(void)cli_host_free(*h);
}

struct status_preload;

struct cli_run {
	struct source *src;
	struct spec *spec;
	bool from_git;		/* declarations read from a commit */
	struct source_git_info git;	/* that commit, the tip seen, a fetch warning */
	char *status_dir;
	char *host_name;
	char **claimed;		/* strv: declared and held VM names */
	struct cli_host *host;
	struct observed *obs;
	int lock_fd;
	char *ssh_pubkey;	/* banger's public key; NULL when it has none yet */
	char *uplink;		/* the uplink's name now, when a VM has nat; NULL: unknown */
	bool hv_missing[_HYPERVISOR_MAX];	/* a declared VM's hypervisor program not found */
	struct status_preload *preload;	/* status files being read meanwhile */
};

/*
 * Load the declarations from common->state_dir, resolve the status
 * directory and host name (host_name NULL: the kernel's), open the host,
 * take the lock when lock_timeout_ms >= 0 (-EBUSY: held by another run),
 * and observe.
 */
int cli_run_prepare(struct cli_run *r, const struct cli_common *common, const char *host_name,
		    int lock_timeout_ms, struct error **err);
void cli_run_done(struct cli_run *r);


/* The git source of a run as JSON (null when not from git). */
json_t *cli_source_json(const struct cli_run *r);
/* "source: commit X (tip ...)" on f, nothing when not from git. */
void cli_source_print(const struct cli_run *r, FILE *f);
/* Print the fetch warning of a run on stderr; true when there was one. */
bool cli_source_warn(const struct cli_run *r);

json_t *cli_plan_json(const struct plan *p);
/* Every name of --only is a VM declared (held ones too) or with host
 * objects: else an error naming the first that is not (a typo would make
 * a run that does nothing). */
int cli_only_check(const struct cli_run *r, char *const *only, struct error **err);
/* When p adds NAT rules and the uplink does not resolve now (no default
 * route, no such interface), a note of p says so before the steps fail. */
void cli_plan_note_uplink(struct cli_run *r, struct plan *p);
/* Parse "--lock-timeout" seconds (decimal, 0..86400). */
int cli_parse_seconds(const char *s, int *ret_ms);
