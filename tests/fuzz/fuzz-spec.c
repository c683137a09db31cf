/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: one declaration file of each kind through the spec parser.
 * The first byte picks the kind; the rest is the file.  Any crash, leak,
 * sanitizer report or hang is a bug: hostile files must only give
 * diagnostics.
 */
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "host.yaml", "images/fuzz.yaml", "vms/fuzz.yaml",
					     "filesyncs/fuzz.yaml" };
	_cleanup_(spec_freep) struct spec *s = NULL;
	struct error *err = NULL;
	enum spec_kind kind;

	if (size < 1 || size > SOURCE_FILE_MAX)
		return 0;
	kind = (enum spec_kind)(data[0] % _SPEC_KIND_MAX);
	(void)spec_load_file(kind, paths[kind], (const char *)data + 1, size - 1, &s, &err);
	error_free(err);
	return 0;
}
