/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Process plumbing shared by the hypervisor backends (hv-qemu.c,
 * hv-firecracker.c): detached spawn, liveness by pid AND api socket on the
 * command line, signal escalation, listing, console readiness.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "drivers/hv.h"
#include "util/error.h"

/* What the guest prints on its console once it is up. */
#define HV_READY_MARKER "banger-guest-ready"

/*
 * Spawn argv[0] (a path, or a name searched in PATH) with argv, in its own
 * session, stdin from /dev/null, stdout and stderr appended to console_log
 * (created 0640), every other fd closed.  *ret_pid as soon as it is known.
 * No shell is involved.
 */
int hv_spawn_detached(char *const argv[], const char *console_log, pid_t *ret_pid,
		      struct error **err);

/* True when pid exists and its /proc cmdline contains needle as one argument
 * or inside one (the api socket path). */
int hv_process_alive(pid_t pid, const char *needle, bool *ret, struct error **err);

/* Every process with an argument naming a socket under sock_dir. */
int hv_process_list(const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
		    struct error **err);

/* Send sig to pid (only if alive with needle) and wait up to timeout_ms for
 * it to go; 0 when gone, -ETIMEDOUT when still there. */
int hv_signal_wait(pid_t pid, const char *needle, int sig, unsigned timeout_ms,
		   struct error **err);

/* Scan the console log for HV_READY_MARKER; *ret_tail gets the last lines
 * (at most max_lines) when asked for (caller frees). */
int hv_console_ready(const char *console_log, bool *ret_ready, char **ret_tail,
		     unsigned max_lines, struct error **err);
