/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk driver pieces that touch nothing on the host: object lifetimes and the
 * checks that keep every path under the status directory and every dm name
 * in banger's namespace.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/disk-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"

void
disk_obj_done(struct disk_obj *o)
{
	if (!o)
		return;
	free(o->name);
	free(o->backing);
	o->name = o->backing = NULL;
}

void
disk_objs_free(struct disk_obj *o, size_t n)
{
	if (!o)
		return;
	for (size_t i = 0; i < n; i++)
		disk_obj_done(&o[i]);
	free(o);
}

/* Absolute, no empty, "." or ".." component, no trailing slash (except "/"). */
bool
disk_path_is_clean(const char *p)
{
	const char *c;

	if (!p || p[0] != '/')
		return false;
	if (strcmp(p, "/") == 0)
		return true;
	c = p + 1;
	for (;;) {
		size_t len = strcspn(c, "/");

		if (len == 0)
			return false;
		if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		if (c[len] == '\0')
			return true;
		c += len + 1;
	}
}

int
disk_path_check(const char *dir, const char *path, struct error **err)
{
	size_t len;

	if (!disk_path_is_clean(dir))
		return error_set(err, -EPERM, "status directory '%s' is not a clean absolute path",
				 dir ? dir : "");
	if (!disk_path_is_clean(path))
		return error_set(err, -EPERM, "path '%s' is not a clean absolute path",
				 path ? path : "");
	len = strcmp(dir, "/") == 0 ? 0 : strlen(dir);
	if (strncmp(path, dir, len) != 0 || path[len] != '/' || path[len + 1] == '\0')
		return error_set(err, -EPERM, "path '%s' is outside '%s'", path, dir);
	return 0;
}

int
disk_vm_dir_check(const char *status_dir, const char *vm_dir, struct error **err)
{
	_cleanup_free_ char *vms = NULL;
	const char *name;
	int r;

	r = disk_path_check(status_dir, vm_dir, err);
	if (r < 0)
		return r;
	vms = xasprintf("%s/vms/", strcmp(status_dir, "/") == 0 ? "" : status_dir);
	if (strncmp(vm_dir, vms, strlen(vms)) != 0)
		return error_set(err, -EPERM, "'%s' is not a VM directory under '%s'", vm_dir,
				 status_dir);
	name = vm_dir + strlen(vms);
	if (!name_is_dns_label(name))
		return error_set(err, -EPERM, "'%s' is not a VM directory under '%s'", vm_dir,
				 status_dir);
	return 0;
}

int
disk_dm_name_check(const char *name, struct error **err)
{
	size_t plen = strlen(DM_PREFIX);

	if (!name || strncmp(name, DM_PREFIX, plen) != 0 || strlen(name) != plen + 12 ||
	    strspn(name + plen, "0123456789abcdef") != 12)
		return error_set(err, -EPERM, "dm name '%s' is not banger's", name ? name : "");
	return 0;
}

int
disk_guest_path_check(const char *guest, struct error **err)
{
	if (!guest || !disk_path_is_clean(guest) || strcmp(guest, "/") == 0)
		return error_set(err, -EINVAL,
				 "guest path '%s' must be absolute, without '.' or '..'",
				 guest ? guest : "");
	return 0;
}

int
disk_host_path_resolve(const char *host, const char *state_root, char **ret,
		       struct error **err)
{
	const char *home;

	if (!host || !*host)
		return error_set(err, -EINVAL, "empty host path");
	if (host[0] == '/') {
		*ret = xstrdup(host);
		return 0;
	}
	if (host[0] == '~') {
		if (host[1] != '/' && host[1] != '\0')
			return error_set(err, -EINVAL, "host path '%s': only '~/' is supported",
					 host);
		home = getenv("HOME");
		if (!home || home[0] != '/')
			return error_set(err, -EINVAL, "host path '%s': HOME is not set", host);
		*ret = xasprintf("%s%s", home, host + 1);
		return 0;
	}
	if (!state_root || state_root[0] != '/')
		return error_set(err, -EINVAL, "host path '%s' is relative and there is no state root",
				 host);
	*ret = xasprintf("%s/%s", state_root, host);
	return 0;
}

void
disk_warn(const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL, *line = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	/* One write per line: the workers' warnings never interleave. */
	line = xasprintf("banger: warning: %s\n", msg);
	fputs(line, stderr);
}
