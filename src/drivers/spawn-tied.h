/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Helper programs banger runs and waits for (mkfs.ext4, ssh-keygen).
 */
#pragma once

#include <stdbool.h>

#include "util/error.h"

/*
 * Run argv (argv[0] looked up in PATH when it has no '/') and wait for it:
 * stdin from /dev/null, stdout to /dev/null when quiet, stderr ours, no
 * other fd.  The child is SIGKILLed when the thread that runs it dies
 * first (PR_SET_PDEATHSIG), so that a banger killed part way leaves no
 * helper behind that goes on writing files the next run makes again.
 * 0 when it exited 0; -ENOENT when there is no such executable.
 */
int spawn_wait_tied(char *const argv[], bool quiet, struct error **err);
/* The same with neither stdout nor stderr (the caller says what went
 * wrong), for a program whose exit code means more than failed or not:
 * *ret_code, and 0 when it exited at all. */
int spawn_wait_tied_exit(char *const argv[], int *ret_code, struct error **err);
