/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Idle auto-stop, decided by a pure function of two samples of the VM's
 * hypervisor process and the SSH sessions seen: no I/O, no clock.
 *
 * The model (banger-vm(5)): each reconcile samples every running VM that
 * declares idle_stop_after: the CPU time (utime + stime) of its hypervisor
 * process and the number of ESTABLISHED TCP connections from the host to
 * the guest's port 22.  The CPU use between two samples, as a share of one
 * core, is busy at IDLE_CPU_PERMILLE (10%) or more.  An interval that is not
 * busy and had no SSH connection at its end is idle; idle_since is the
 * start of the first interval of the current idle run (0: the last interval
 * was busy, or there is only one sample of this process yet).  When
 * now - idle_since >= idle_stop_after, reconcile stops the VM and records
 * stopped_reason: idle with the time and the generation; the VM stays
 * stopped (whatever its state: says) until its generation changes or
 * `banger start NAME` clears the record.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Below 100 per mille (10%) of one core, an interval counts as idle: an
 * idle QEMU guest (timer ticks, the device loop) measures 2-5% on a busy
 * host; a guest doing real work (a build, a server under use) is far above. */
#define IDLE_CPU_PERMILLE 100

struct idle_input {
	uint64_t idle_stop_after_ms;	/* 0: the VM never stops for idleness */
	bool have_prev;			/* prev_* are a sample of this same process */
	uint64_t prev_ticks, prev_ms;	/* previous sample: CPU ticks, wall ms */
	uint64_t now_ticks, now_ms;
	long ticks_per_second;
	unsigned ssh_sessions;		/* established connections to guest:22 now */
	uint64_t idle_since_ms;		/* recorded; 0: not idle */
};

struct idle_decision {
	int cpu_permille;		/* CPU use since prev, per mille of one core; -1 unknown */
	uint64_t idle_since_ms;		/* to record */
	bool stop;			/* idle for idle_stop_after: stop it now */
};

/* CPU use between two samples in per mille of one core (1000 = one core
 * fully busy); -1 when it cannot be told (no time passed, ticks went back). */
int idle_cpu_permille(uint64_t prev_ticks, uint64_t now_ticks, uint64_t prev_ms, uint64_t now_ms,
		      long ticks_per_second);

void plan_idle_decide(const struct idle_input *in, struct idle_decision *ret);
