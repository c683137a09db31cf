/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Fuzz target: one status file (STATUS_DIR/vms/NAME.yaml) through the status
 * parser.  Status files are banger's own, but a crash, a full disk or a
 * person's editor can leave anything in them: any crash, leak, sanitizer
 * report or hang is a bug; hostile files must only give -EBADMSG.  A file
 * that parses must format back to text that parses to the same text.
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
	r = status_parse((const char *)data, size, "vms/fuzz.yaml", &st, &err);
	error_free(err);
	err = NULL;
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
