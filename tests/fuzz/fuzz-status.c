/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: one status file (STATUS_DIR/vms/NAME.yaml) through the status
 * parser.  Status files are banger's own, but a crash, a full disk or a
 * person's editor can leave anything in them: any crash, leak, sanitizer
 * report or hang is a bug; hostile files must only give -EBADMSG.  A file
 * that parses must format back to text that parses to the same text, and
 * the fast reader (status_parse_fast) must accept only what the libyaml one
 * accepts, with the same result.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status/status.h"
#include "util/cleanup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_status st = { 0 }, again = { 0 };
	_cleanup_free_ char *text = NULL, *text2 = NULL;
	struct error *err = NULL;
	int r;

	if (size > 1 << 20)
		return 0;
	r = status_parse_yaml((const char *)data, size, "vms/fuzz.yaml", &st, &err);
	error_free(err);
	err = NULL;
	if (status_parse_fast((const char *)data, size, &again) == 0) {
		_cleanup_free_ char *a = NULL, *b = NULL;

		/* The fast reader took it: libyaml must take it too, alike. */
		if (r < 0)
			abort();
		a = status_format(&st);
		b = status_format(&again);
		if (strcmp(a, b) != 0)
			abort();
		vm_status_done(&again);
		again = (struct vm_status){ 0 };
	}
	if (r < 0)
		return 0;
	/* What parsed must survive its own round trip. */
	text = status_format(&st);
	r = status_parse(text, strlen(text), "vms/fuzz.yaml", &again, &err);
	if (r < 0)
		abort();
	text2 = status_format(&again);
	if (strcmp(text, text2) != 0)
		abort();
	vm_status_done(&again);
	vm_status_done(&st);
	return 0;
}
