/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The idle auto-stop decision (see idle.h): pure arithmetic on samples the
 * caller took through the stats ops.
 */
#include "config.h"

#include "plan/idle.h"

int
idle_cpu_permille(uint64_t prev_ticks, uint64_t now_ticks, uint64_t prev_ms, uint64_t now_ms,
		  long ticks_per_second)
{
	uint64_t dt, dticks, v;

	if (now_ms <= prev_ms || now_ticks < prev_ticks || ticks_per_second <= 0)
		return -1;
	dt = now_ms - prev_ms;
	dticks = now_ticks - prev_ticks;
	/* permille = dticks / tps / (dt / 1000) * 1000, rounded to nearest. */
	if (dticks > UINT64_MAX / 1000000)
		return 1000000;
	v = (dticks * 1000000 + (uint64_t)ticks_per_second * dt / 2) /
	    ((uint64_t)ticks_per_second * dt);
	return v > 1000000 ? 1000000 : (int)v;
}

void
plan_idle_decide(const struct idle_input *in, struct idle_decision *ret)
{
	struct idle_decision d = { .cpu_permille = -1 };

	if (in->have_prev)
		d.cpu_permille = idle_cpu_permille(in->prev_ticks, in->now_ticks, in->prev_ms,
						   in->now_ms, in->ticks_per_second);
	if (d.cpu_permille >= 0 && d.cpu_permille < IDLE_CPU_PERMILLE && in->ssh_sessions == 0)
		/* The whole interval since prev was idle. */
		d.idle_since_ms = in->idle_since_ms ? in->idle_since_ms : in->prev_ms;
	else
		d.idle_since_ms = 0;
	d.stop = in->idle_stop_after_ms && d.idle_since_ms && in->now_ms >= d.idle_since_ms &&
		 in->now_ms - d.idle_since_ms >= in->idle_stop_after_ms;
	*ret = d;
}
