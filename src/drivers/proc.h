/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Process-wide facilities the reconciler must not take from globals: the
 * clock, random ids, sleeping.  Real backend proc-sys.c; the fake is
 * deterministic.
 */
#pragma once

#include <stdint.h>

#include "util/error.h"

struct proc_ops {
	/* Milliseconds since the epoch (wall clock, for status timestamps). */
	uint64_t (*now_ms)(void *userdata);
	/* Monotonic milliseconds, for timeouts and durations. */
	uint64_t (*mono_ms)(void *userdata);
	/* 32 lower-case hex digits of fresh randomness. */
	int (*random_id)(void *userdata, char out[33], struct error **err);
	void (*sleep_ms)(void *userdata, unsigned ms);
	void *userdata;
};
