/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger ssh, ssh-config and start, and the guest names (NAME.DOMAIN) the
 * hosts fragment and the ssh Host entries share.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

/* A VM with an address, as status files record it. */
struct guest_entry {
	char *name;
	uint32_t ip;		/* host order */
};

/* Every status file's VM that has an address, sorted by name.  Caller frees
 * with guest_entries_free. */
int guest_entries_read(const char *status_dir, struct guest_entry **ret, size_t *ret_n,
		       struct error **err);
void guest_entries_free(struct guest_entry *e, size_t n);

/* hosts(5) lines, one per entry: "IP<TAB>NAME.DOMAIN\n".  Caller frees. */
char *guest_hosts_format(const struct guest_entry *e, size_t n, const char *domain);

/* ssh_config(5) Host entries, one per entry ("Host NAME.DOMAIN", HostName,
 * User root, IdentityFile, UserKnownHostsFile, ...).  Caller frees. */
/* Whether path can be written in an ssh_config (no '"' or control character). */
bool guest_ssh_config_path_ok(const char *path);
char *guest_ssh_config_format(const struct guest_entry *e, size_t n, const char *domain,
			      const char *key_path, const char *known_hosts);

/*
 * The system hosts file reconcile keeps a block in: $BANGER_HOSTS_FILE when
 * set (empty: none), else /etc/hosts when status_dir is the default status
 * directory (a private status directory, as tests use, never touches it),
 * else NULL.
 */
const char *guest_hosts_file(const char *status_dir);

/* dnsmasq's conf dir when not set otherwise (Debian's dnsmasq reads it). */
#define DEFAULT_DNSMASQ_DIR "/etc/dnsmasq.d"

/*
 * The dnsmasq conf dir reconcile keeps banger's drop-in in: $BANGER_DNSMASQ_DIR
 * when set (empty: none), else DEFAULT_DNSMASQ_DIR when status_dir is the
 * default status directory and that folder exists (dnsmasq is installed),
 * else NULL.
 */
const char *guest_dnsmasq_dir(const char *status_dir);

/*
 * After reconcile: refresh STATUS_DIR/hosts, the hosts file block and, when
 * guest_dnsmasq_dir names one, banger's dnsmasq files (dnsmasq_sync), from
 * the status files (o NULL), or from o when they are known unchanged since
 * it was observed (a run that took no action).  Each file is written only
 * when its content changes.  A drop-in written where there was none is
 * announced on stderr (dnsmasq reads it when it restarts).  Each target is
 * tried even when another failed; the first error is returned, a second one
 * printed as a warning.
 */
struct observed;
int guest_hosts_refresh(const char *status_dir, const char *domain, const struct observed *o,
			struct error **err);


