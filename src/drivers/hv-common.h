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

/* The line hv_spawn_detached() appends to the console log before each start:
 * readiness and the tail only look at what follows the last one, so a
 * restarted VM is not "ready" from its previous boot's marker. */
#define HV_START_LINE "--- banger: hypervisor start ---"

/*
 * Spawn argv[0] (a path, or a name searched in PATH) with argv, in its own
 * session, stdin from /dev/null, stdout and stderr appended to console_log
 * (created 0640, HV_START_LINE appended first), every other fd closed.
 * *ret_pid as soon as it is known, once the child's exec is complete (its
 * command line is readable).  No shell is involved.
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

/* Scan the console log, from its last HV_START_LINE on, for HV_READY_MARKER;
 * *ret_tail gets the last lines (at most max_lines) of that part when asked
 * for (caller frees).  A missing log is not ready, with an empty tail. */
int hv_console_ready(const char *console_log, bool *ret_ready, char **ret_tail,
		     unsigned max_lines, struct error **err);
