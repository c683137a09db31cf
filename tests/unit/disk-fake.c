/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Recording fakes of the disk driver's dm and loop seams (see disk-fake.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "disk-fake.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/strv.h"

void
disk_fake_init(struct disk_fake *f)
{
	memset(f, 0, sizeof(*f));
	f->next_loop = 40;
}

void
disk_fake_done(struct disk_fake *f)
{
	strv_free(f->transcript);
	strv_free(f->dm_names);
	strv_free(f->loop_devs);
	strv_free(f->loop_backing);
	memset(f, 0, sizeof(*f));
}

/* Record line; returns the injected error when it matches fail_call. */
static int
record(struct disk_fake *f, char *line, struct error **err)
{
	bool fail = f->fail_call && strncmp(line, f->fail_call, strlen(f->fail_call)) == 0;

	f->transcript = strv_append_take(f->transcript, line);
	if (fail)
		return error_set(err, f->fail_errno, "injected failure: %s", line);
	return 0;
}

static char **
strv_remove_at(char **l, size_t i)
{
	free(l[i]);
	memmove(&l[i], &l[i + 1], (strv_length(l) - i) * sizeof(char *));
	return l;
}

static bool
fake_available(void *userdata)
{
	struct disk_fake *f = userdata;

	return f->dm_available;
}

static int
fake_create(void *userdata, const char *name, const char *table, struct error **err)
{
	struct disk_fake *f = userdata;
	int r;

	r = record(f, xasprintf("dm create %s: %s", name, table), err);
	if (r < 0)
		return r;
	if (strv_contains(f->dm_names, name))
		return error_set(err, -EEXIST, "dm '%s' exists", name);
	f->dm_names = strv_append(f->dm_names, name);
	return 0;
}

static int
fake_remove(void *userdata, const char *name, struct error **err)
{
	struct disk_fake *f = userdata;
	int r;

	r = record(f, xasprintf("dm remove %s", name), err);
	if (r < 0)
		return r;
	for (size_t i = 0; f->dm_names && f->dm_names[i]; i++)
		if (strcmp(f->dm_names[i], name) == 0) {
			f->dm_names = strv_remove_at(f->dm_names, i);
			break;
		}
	return 0;
}

static int
fake_dm_list(void *userdata, char ***ret, struct error **err)
{
	struct disk_fake *f = userdata;
	int r;

	r = record(f, xstrdup("dm list"), err);
	if (r < 0)
		return r;
	*ret = f->dm_names ? strv_copy(f->dm_names) : xcalloc(1, sizeof(char *));
	return 0;
}

static int
fake_attach(void *userdata, const char *path, bool read_only, char **ret_dev, int *ret_fd,
	    struct error **err)
{
	struct disk_fake *f = userdata;
	int n = f->next_loop, r;

	r = record(f, xasprintf("loop attach %s %s", read_only ? "ro" : "rw", path), err);
	if (r < 0)
		return r;
	f->next_loop++;
	*ret_dev = xasprintf("/dev/loop%d", n);
	*ret_fd = 1000 + n;
	f->loop_devs = strv_append(f->loop_devs, *ret_dev);
	f->loop_backing = strv_append(f->loop_backing, path);
	return 0;
}

static int
fake_loop_list(void *userdata, const char *dir, struct disk_obj **ret, size_t *ret_n,
	       struct error **err)
{
	struct disk_fake *f = userdata;
	struct disk_obj *objs = NULL, *o;
	size_t n = 0;
	int r;

	r = record(f, xasprintf("loop list %s", dir), err);
	if (r < 0)
		return r;
	for (size_t i = 0; f->loop_devs && f->loop_devs[i]; i++) {
		if (disk_path_check(dir, f->loop_backing[i], NULL) < 0)
			continue;
		objs = xappend(objs, &n, sizeof(*objs), (void **)&o);
		o->kind = DISK_OBJ_LOOP;
		o->name = xstrdup(f->loop_devs[i]);
		o->backing = xstrdup(f->loop_backing[i]);
	}
	*ret = objs;
	*ret_n = n;
	return 0;
}

static int
fake_detach(void *userdata, const char *dev, struct error **err)
{
	struct disk_fake *f = userdata;
	int r;

	r = record(f, xasprintf("loop detach %s", dev), err);
	if (r < 0)
		return r;
	for (size_t i = 0; f->loop_devs && f->loop_devs[i]; i++)
		if (strcmp(f->loop_devs[i], dev) == 0) {
			f->loop_devs = strv_remove_at(f->loop_devs, i);
			f->loop_backing = strv_remove_at(f->loop_backing, i);
			break;
		}
	return 0;
}

static void
fake_release(void *userdata, int fd)
{
	struct disk_fake *f = userdata;

	(void)record(f, xasprintf("loop release /dev/loop%d", fd - 1000), NULL);
}

struct dm_backend
disk_fake_dm(struct disk_fake *f)
{
	return (struct dm_backend){
		.available = fake_available,
		.create = fake_create,
		.remove = fake_remove,
		.list = fake_dm_list,
		.userdata = f,
	};
}

struct loop_backend
disk_fake_loop(struct disk_fake *f)
{
	return (struct loop_backend){
		.attach = fake_attach,
		.list = fake_loop_list,
		.detach = fake_detach,
		.release = fake_release,
		.userdata = f,
	};
}

char *
disk_fake_transcript(const struct disk_fake *f)
{
	char *s = xstrdup("");

	for (size_t i = 0; f->transcript && f->transcript[i]; i++) {
		char *t = xasprintf("%s%s\n", s, f->transcript[i]);

		free(s);
		s = t;
	}
	return s;
}
