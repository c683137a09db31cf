/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Disk driver pieces that touch nothing on the host: object lifetimes and the
 * checks that keep every path under the status directory and every dm name
 * in banger's namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

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
		if (!home || home[0] != '/') {
			/* No HOME (a systemd service without User= has none): the
			 * home folder of the user banger runs as, from the user
			 * database, as a login would set it. */
			struct passwd pw, *found = NULL;
			char buf[4096];

			if (getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &found) != 0 || !found ||
			    !pw.pw_dir || pw.pw_dir[0] != '/')
				return error_set(err, -EINVAL,
						 "host path '%s': HOME is not set and user %u has no "
						 "home folder",
						 host, (unsigned)geteuid());
			*ret = xasprintf("%s%s", pw.pw_dir, host + 1);
			return 0;
		}
		*ret = xasprintf("%s%s", home, host + 1);
		return 0;
	}
	if (!state_root || state_root[0] != '/')
		return error_set(err, -EINVAL, "host path '%s' is relative and there is no state root",
				 host);
	*ret = xasprintf("%s/%s", state_root, host);
	return 0;
}

/* Where openat2(2) is missing: the resolved path must be under the resolved root. */
static int
open_beneath_fallback(const char *root, const char *path, int flags)
{
	_cleanup_free_ char *rr = realpath(root, NULL), *rp = realpath(path, NULL);
	size_t n;
	int fd;

	if (!rr || !rp)
		return -errno;
	n = strlen(rr);
	if (strncmp(rp, rr, n) != 0 || (rp[n] != '/' && rp[n] != '\0'))
		return -EXDEV;
	fd = open(rp, flags | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int
disk_host_open(const char *host, const char *state_root, char **ret_path, int *ret_fd,
	       struct error **err)
{
	const int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
	_cleanup_free_ char *path = NULL;
	int fd, r;

	r = disk_host_path_resolve(host, state_root, &path, err);
	if (r < 0)
		return r;
	if (host[0] == '/' || host[0] == '~') {
		fd = open(path, flags);
		r = fd < 0 ? -errno : 0;
	} else {
		_cleanup_close_ int root = open(state_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct open_how how = { .flags = (uint64_t)flags,
					.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS };

		if (root < 0)
			return error_set(err, -errno, "open '%s': %s", state_root, strerror(errno));
		fd = (int)syscall(SYS_openat2, root, host, &how, sizeof(how));
		r = fd < 0 ? -errno : 0;
		if (r == -ENOSYS) {
			fd = open_beneath_fallback(state_root, path, flags);
			r = fd < 0 ? fd : 0;
		}
		if (r == -EXDEV)
			return error_set(err, r, "host path '%s' leads out of '%s' (a symlink?)", host,
					 state_root);
	}
	if (r == -ENOENT)
		return r;
	if (r < 0)
		return error_set(err, r, "open '%s': %s", path, strerror(-r));
	*ret_path = TAKE_PTR(path);
	*ret_fd = fd;
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
