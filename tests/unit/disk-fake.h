/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Recording fakes of the disk driver's device-mapper and loop seams: every
 * call is appended to a transcript, dm targets and loop devices are modelled
 * in memory, and one call can be made to fail.
 */
#pragma once

#include <stdbool.h>

#include "drivers/disk-internal.h"

struct disk_fake {
	bool dm_available;
	char **transcript;	/* strv */
	char **dm_names;	/* strv: targets that exist */
	char **loop_devs;	/* strv: attached devices */
	char **loop_backing;	/* strv, parallel to loop_devs */
	int next_loop;
	const char *fail_call;	/* prefix of the transcript line to fail */
	int fail_errno;		/* negative */
};

void disk_fake_init(struct disk_fake *f);
void disk_fake_done(struct disk_fake *f);
struct dm_backend disk_fake_dm(struct disk_fake *f);
struct loop_backend disk_fake_loop(struct disk_fake *f);
/* The transcript joined with "\n" (caller frees). */
char *disk_fake_transcript(const struct disk_fake *f);
