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

/*
 * The real drivers, once linked in, are wired here and only here:
 *
 *	net_netlink_new(&net); nat_nft_new(&nat); disk_real_new(status_dir, &disk);
 *	h->hv.by_kind[HYPERVISOR_QEMU] = qemu ops (hv_qemu_new), and
 *	h->hv.by_kind[HYPERVISOR_FIRECRACKER] = firecracker ops (hv_firecracker_new
 *	with spec->host.firecracker_binary) when available; hv_dispatch_init(&h->hv);
 *	h->ops = (struct host_ops){ net, nat, disk, &h->hv.ops, &proc_sys_ops };
 *
 * and cli_host_free() releases them with their own free functions.
 */
static int
open_real(const char *status_dir, const struct spec *spec, struct cli_host *h,
	  struct error **err)
{
	(void)status_dir;
	(void)spec;
	hv_dispatch_init(&h->hv);
	h->ops.proc = &proc_sys_ops;
	return error_set(err, -EOPNOTSUPP,
			 "this build has no host drivers wired in yet "
			 "(set BANGER_FAKE_HOST=FILE to run on the fake host)");
}

int
cli_host_open(const char *status_dir, const struct spec *spec, struct cli_host **ret,
	      struct error **err)
{
	struct cli_host *h;
	const char *fake = getenv("BANGER_FAKE_HOST");
	int r;

	if (!fake || !*fake) {
		h = xcalloc(1, sizeof(*h));
		r = open_real(status_dir, spec, h, err);
		if (r < 0) {
			cli_host_free(h);
			return r;
		}
		*ret = h;
		return 0;
	}
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
