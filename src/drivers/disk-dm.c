/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The device-mapper seam's real backend: libdevmapper tasks (no dmsetup).
 * Only this file includes libdevmapper.h.  Nodes under /dev/mapper are made
 * by libdevmapper itself (udev sync off) so no udev daemon is needed.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libdevmapper.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/strv.h"

static void
dm_task_destroyp(struct dm_task **t)
{
	if (*t)
		dm_task_destroy(*t);
}

#define _cleanup_dm_task_ _cleanup_(dm_task_destroyp)

char *
dm_snapshot_table(uint64_t sectors, const char *origin_dev, const char *cow_dev)
{
	/* P: persistent exception store, so the overlay survives a host reboot. */
	return xasprintf("0 %" PRIu64 " snapshot %s %s P %d", sectors, origin_dev, cow_dev,
			 DISK_DM_CHUNK);
}

int
dm_table_parse(const char *table, uint64_t *ret_start, uint64_t *ret_len, char ret_type[64],
	       const char **ret_params)
{
	uint64_t start, len;
	int off = 0;

	if (!table || sscanf(table, "%" SCNu64 " %" SCNu64 " %63s %n", &start, &len, ret_type,
			     &off) != 3 || off == 0 || table[off] == '\0' || len == 0 ||
	    !isdigit((unsigned char)table[0]))
		return -EINVAL;
	*ret_start = start;
	*ret_len = len;
	*ret_params = table + off;
	return 0;
}

static int
task_errno(struct dm_task *t)
{
	int e = dm_task_get_errno(t);

	return e > 0 ? -e : -EIO;
}

static bool
lib_available(void *userdata)
{
	_cleanup_close_ int fd = -EBADF;
	char v[64];

	(void)userdata;
	fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return false;
	return dm_driver_version(v, sizeof(v)) != 0;
}

static int
lib_create(void *userdata, const char *name, const char *table, struct error **err)
{
	_cleanup_dm_task_ struct dm_task *t = NULL;
	uint64_t start, len;
	char type[64];
	const char *params;

	(void)userdata;
	if (dm_table_parse(table, &start, &len, type, &params) < 0)
		return error_set(err, -EINVAL, "dm '%s': bad table '%s'", name, table);
	dm_udev_set_sync_support(0);
	t = dm_task_create(DM_DEVICE_CREATE);
	if (!t)
		return error_set(err, -ENOMEM, "dm '%s': create task", name);
	if (!dm_task_set_name(t, name) ||
	    !dm_task_add_target(t, start, len, type, params))
		return error_set(err, -EINVAL, "dm '%s': prepare create", name);
	if (!dm_task_run(t)) {
		int r = task_errno(t);

		return error_set(err, r, "dm '%s': create: %s", name, strerror(-r));
	}
	dm_task_update_nodes();
	return 0;
}

static int
lib_list(void *userdata, char ***ret_names, struct error **err)
{
	_cleanup_dm_task_ struct dm_task *t = NULL;
	_cleanup_strv_free_ char **names = NULL;
	struct dm_names *n;

	(void)userdata;
	t = dm_task_create(DM_DEVICE_LIST);
	if (!t)
		return error_set(err, -ENOMEM, "dm list: create task");
	if (!dm_task_run(t)) {
		int r = task_errno(t);

		return error_set(err, r, "dm list: %s", strerror(-r));
	}
	n = dm_task_get_names(t);
	names = xcalloc(1, sizeof(char *));
	if (n && n->dev) {
		for (;;) {
			names = strv_append(names, n->name);
			if (!n->next)
				break;
			n = (struct dm_names *)((char *)n + n->next);
		}
	}
	*ret_names = TAKE_PTR(names);
	return 0;
}

static int
lib_remove(void *userdata, const char *name, struct error **err)
{
	_cleanup_dm_task_ struct dm_task *t = NULL;
	_cleanup_strv_free_ char **names = NULL;
	int r;

	r = lib_list(userdata, &names, err);
	if (r < 0)
		return r;
	if (!strv_contains(names, name))
		return 0;
	dm_udev_set_sync_support(0);
	t = dm_task_create(DM_DEVICE_REMOVE);
	if (!t)
		return error_set(err, -ENOMEM, "dm '%s': remove task", name);
	if (!dm_task_set_name(t, name))
		return error_set(err, -EINVAL, "dm '%s': prepare remove", name);
	dm_task_retry_remove(t);
	if (!dm_task_run(t)) {
		r = task_errno(t);
		if (r == -ENXIO)
			return 0;
		return error_set(err, r, "dm '%s': remove: %s", name, strerror(-r));
	}
	dm_task_update_nodes();
	return 0;
}

const struct dm_backend dm_backend_libdevmapper = {
	.available = lib_available,
	.create = lib_create,
	.remove = lib_remove,
	.list = lib_list,
	.userdata = NULL,
};
