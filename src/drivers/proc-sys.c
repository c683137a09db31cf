/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real proc ops: clocks from clock_gettime, ids from getrandom, sleep
 * with nanosleep.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "drivers/proc-sys.h"

static uint64_t
clock_ms(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
sys_now_ms(void *userdata)
{
	(void)userdata;
	return clock_ms(CLOCK_REALTIME);
}

static uint64_t
sys_mono_ms(void *userdata)
{
	(void)userdata;
	return clock_ms(CLOCK_MONOTONIC);
}

static int
sys_random_id(void *userdata, char out[33], struct error **err)
{
	unsigned char b[16];
	size_t got = 0;

	(void)userdata;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_set(err, -errno, "getrandom: %s", strerror(errno));
		}
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(b); i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
	return 0;
}

static void
sys_sleep_ms(void *userdata, unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	(void)userdata;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

const struct proc_ops proc_sys_ops = {
	.now_ms = sys_now_ms,
	.mono_ms = sys_mono_ms,
	.random_id = sys_random_id,
	.sleep_ms = sys_sleep_ms,
	.userdata = NULL,
};
