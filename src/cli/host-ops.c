/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which ops tables this run uses: the real drivers, or the in-memory fake
 * host when the hidden test switch BANGER_FAKE_HOST=FILE is set (its state
 * is kept in FILE between runs; benchmarks and shell tests use it).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/core.h"
#include "drivers/disk.h"
#include "drivers/hv-common.h"
#include "drivers/hv-firecracker.h"
#include "drivers/hv-qemu.h"
#include "drivers/nat.h"
#include "drivers/net.h"
#include "drivers/proc-sys.h"
#include "fakes/fake-host.h"
#include "drivers/guest.h"
#include "util/alloc.h"

/*
 * The real drivers: netlink for links, NAT written with libnftables and read
 * over nf_tables netlink, loop/dm/reflink/
 * copy disks under the status directory, and one backend per hypervisor,
 * routed by each VM's declared kind.
 */
static int
open_real(const char *status_dir, const struct spec *spec, struct cli_host *h,
	  struct error **err)
{
	int r;

	(void)spec;
	r = net_netlink_new(&h->net, err);
	if (r < 0)
		return r;
	r = nat_nft_new(&h->nat, err);
	if (r < 0)
		return r;
	r = disk_real_new(status_dir, &h->disk, err);
	if (r < 0)
		return r;
	r = hv_qemu_new(&h->hv_qemu, err);
	if (r < 0)
		return r;
	r = hv_firecracker_new(&h->hv_fc, err);
	if (r < 0)
		return r;
	h->hv.by_kind[HYPERVISOR_QEMU] = h->hv_qemu;
	h->hv.by_kind[HYPERVISOR_FIRECRACKER] = h->hv_fc;
	/* Both backends list by one /proc scan: make it once, not twice. */
	h->hv.list_all = hv_process_list;
	hv_dispatch_init(&h->hv);
	h->ops = (struct host_ops){
		.net = h->net,
		.nat = h->nat,
		.disk = h->disk,
		.hv = &h->hv.ops,
		.proc = &proc_sys_ops,
		.concurrent_lists = true,
	};
	return 0;
}

struct fake_host *
cli_host_preload_fake(void)
{
	const char *fake = getenv("BANGER_FAKE_HOST");
	struct fake_host *h = NULL;

	if (!fake || !*fake || fake_host_load_file(fake, &h) < 0)
		return NULL;
	return h;
}

int
cli_host_open(const char *status_dir, const struct spec *spec, struct fake_host *preloaded,
	      struct cli_host **ret, struct error **err)
{
	struct cli_host *h;
	const char *fake = getenv("BANGER_FAKE_HOST");
	int r;

	if (!fake || !*fake) {
		fake_host_free(preloaded);
		h = xcalloc(1, sizeof(*h));
		r = open_real(status_dir, spec, h, err);
		if (r < 0) {
			cli_host_free(h);
			return r;
		}
		h->stats = &stats_ops_real;
		*ret = h;
		return 0;
	}
	h = xcalloc(1, sizeof(*h));
	h->fake = preloaded;
	r = preloaded ? 0 : fake_host_load_file(fake, &h->fake);
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
	(void)net_netlink_free(h->net);
	(void)nat_nft_free(h->nat);
	(void)disk_real_free(h->disk);
	(void)hv_qemu_free(h->hv_qemu);
	(void)hv_firecracker_free(h->hv_fc);
	free(h);
	return NULL;
}
