/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Declarations for core tests without the YAML layer: a line format read
 * straight into struct spec (host, image, filesync, vm, held, diag lines;
 * see tests/data/plan/README).  The generation is a hash of the VM's line
 * and its image's line.
 */
#pragma once

#include "spec/spec.h"

int test_spec_parse(const char *text, struct spec **ret);
int test_spec_load(const char *path, struct spec **ret);
struct spec *test_spec_free(struct spec *s);
static inline void
test_spec_freep(struct spec **s)
{
	(void)test_spec_free(*s);
}
