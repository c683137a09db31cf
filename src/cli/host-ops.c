/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which ops tables this run uses.  Wiring the real drivers in is this one
 * function: set h->ops to their tables.  Until they are linked in, only the
 * fake host (BANGER_FAKE_HOST=FILE, a hidden test switch) is available.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/core.h"
#include "drivers/proc-sys.h"
#include "fakes/fake-host.h"
#include "util/alloc.h"

int
cli_host_open(struct cli_host **ret, struct error **err)
{
	struct cli_host *h;
	const char *fake = getenv("BANGER_FAKE_HOST");
	int r;

	if (!fake || !*fake)
		return error_set(err, -EOPNOTSUPP,
				 "this build has no host drivers wired in yet "
				 "(set BANGER_FAKE_HOST=FILE to run on the fake host)");
	h = xcalloc(1, sizeof(*h));
	r = fake_host_load_file(fake, &h->fake);
	if (r < 0) {
		free(h);
		return error_set(err, r, "fake host '%s': %s", fake, strerror(-r));
	}
	h->fake_path = xstrdup(fake);
	h->ops = h->fake->ops;
	*ret = h;
	return 0;
}

int
cli_host_save(struct cli_host *h, struct error **err)
{
	int r;

	if (!h || !h->fake)
		return 0;
	r = fake_host_save_file(h->fake, h->fake_path);
	if (r < 0)
		return error_set(err, r, "fake host '%s': %s", h->fake_path, strerror(-r));
	return 0;
}

struct cli_host *
cli_host_free(struct cli_host *h)
{
	if (!h)
		return NULL;
	fake_host_free(h->fake);
	free(h->fake_path);
	free(h);
	return NULL;
}
