/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The test declaration format: one object per line, "kind name key=value...".
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/test-spec.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/sha256.h"
#include "util/strv.h"

struct spec *
test_spec_free(struct spec *s)
{
	if (!s)
		return NULL;
	free(s->root);
	free(s->source_commit);
	free(s->host.path);
	free(s->host.bridge_name);
	free(s->host.uplink);
	free(s->host.dns);
	free(s->host.firecracker_binary);
	free(s->host.qemu_binary);
	free(s->host.status_dir);
	for (size_t i = 0; i < s->n_images; i++) {
		free(s->images[i].name);
		free(s->images[i].path);
		free(s->images[i].kernel);
		free(s->images[i].rootfs);
		free(s->images[i].initrd);
		free(s->images[i].kernel_args);
	}
	free(s->images);
	for (size_t i = 0; i < s->n_vms; i++) {
		struct vm_spec *v = &s->vms[i];

		free(v->name);
		free(v->path);
		free(v->image);
		strv_free(v->filesyncs);
		strv_free(v->ssh_authorized_keys);
		free(v->kernel_args);
		free(v->host);
		free(v->workspace.repo);
		free(v->workspace.ref);
		free(v->workspace.path);
	}
	free(s->vms);
	for (size_t i = 0; i < s->n_filesyncs; i++) {
		for (size_t j = 0; j < s->filesyncs[i].n_entries; j++) {
			free(s->filesyncs[i].entries[j].host);
			free(s->filesyncs[i].entries[j].guest);
		}
		free(s->filesyncs[i].entries);
		free(s->filesyncs[i].name);
		free(s->filesyncs[i].path);
	}
	free(s->filesyncs);
	strv_free(s->held_vms);
	for (size_t i = 0; i < s->n_diags; i++) {
		free(s->diags[i].file);
		free(s->diags[i].msg);
	}
	free(s->diags);
	free(s);
	return NULL;
}

static int
parse_size(const char *v, uint64_t *ret)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);

	if (end == v)
		return -EINVAL;
	if (*end == 'K')
		n <<= 10;
	else if (*end == 'M')
		n <<= 20;
	else if (*end == 'G')
		n <<= 30;
	else if (*end)
		return -EINVAL;
	*ret = n;
	return 0;
}

/* Split "k=v" words; values may not hold spaces except args= which takes the rest. */
static int
vm_line(struct spec *s, char *rest, const char *line)
{
	struct vm_spec *v;
	char *save = NULL, *w;
	char hex[65];
	_cleanup_free_ char *img_line = NULL;

	s->vms = xappend(s->vms, &s->n_vms, sizeof(*v), (void **)&v);
	v->state = VM_STATE_RUNNING;
	v->vcpus = 1;
	v->memory = 512ULL << 20;
	v->hypervisor = s->host.hypervisor;
	v->system_overlay = 2ULL << 30;
	v->on_delete = ON_DELETE_RETAIN;
	for (w = strtok_r(rest, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');
		const char *k = w, *val;

		if (!v->name) {
			v->name = xstrdup(w);
			continue;
		}
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		val = eq + 1;
		if (strcmp(k, "image") == 0)
			v->image = xstrdup(val);
		else if (strcmp(k, "state") == 0)
			v->state = strcmp(val, "stopped") == 0 ? VM_STATE_STOPPED : VM_STATE_RUNNING;
		else if (strcmp(k, "vcpus") == 0)
			v->vcpus = (unsigned)atoi(val);
		else if (strcmp(k, "memory") == 0) {
			if (parse_size(val, &v->memory) < 0)
				return -EINVAL;
		} else if (strcmp(k, "overlay") == 0) {
			if (parse_size(val, &v->system_overlay) < 0)
				return -EINVAL;
		} else if (strcmp(k, "work") == 0) {
			if (parse_size(val, &v->work_disk) < 0)
				return -EINVAL;
		} else if (strcmp(k, "nat") == 0)
			v->nat = strcmp(val, "yes") == 0;
		else if (strcmp(k, "ip") == 0) {
			v->has_ip = true;
			if (ipv4_parse(val, &v->ip) < 0)
				return -EINVAL;
		} else if (strcmp(k, "mac") == 0) {
			v->has_mac = true;
			if (mac_parse(val, v->mac) < 0)
				return -EINVAL;
		} else if (strcmp(k, "host") == 0)
			v->host = xstrdup(val);
		else if (strcmp(k, "on_delete") == 0)
			v->on_delete = strcmp(val, "purge") == 0 ? ON_DELETE_PURGE : ON_DELETE_RETAIN;
		else if (strcmp(k, "hypervisor") == 0)
			v->hypervisor = strcmp(val, "firecracker") == 0 ? HYPERVISOR_FIRECRACKER
									 : HYPERVISOR_QEMU;
		else if (strcmp(k, "files") == 0) {
			_cleanup_free_ char *copy = xstrdup(val);
			char *s2 = NULL;

			for (char *f = strtok_r(copy, ",", &s2); f; f = strtok_r(NULL, ",", &s2))
				v->filesyncs = strv_append(v->filesyncs, f);
		} else if (strcmp(k, "args") == 0)
			v->kernel_args = xstrdup(val);
		else if (strcmp(k, "workspace") == 0) {
			/* workspace=REPO[@REF], guest folder /root/ws, full copy */
			char *at = strchr(val, '@');

			free(v->workspace.repo);
			free(v->workspace.ref);
			free(v->workspace.path);
			v->workspace.repo = at ? xstrndup(val, (size_t)(at - val)) : xstrdup(val);
			v->workspace.ref = at ? xstrdup(at + 1) : NULL;
			v->workspace.path = xstrdup("/root/ws");
		}
		else
			return -EINVAL;
	}
	if (!v->name || !v->image)
		return -EINVAL;
	v->path = xasprintf("vms/%s.yaml", v->name);
	/*
	 * Like spec_load's generation: what needs a restart to change (the
	 * image's content, vcpus, memory, hypervisor, disks, kernel args, ip,
	 * mac, file sync names), not state, nat, on_delete or host.
	 */
	for (size_t i = 0; i < s->n_images; i++)
		if (strcmp(s->images[i].name, v->image) == 0)
			img_line = xasprintf("%s|%s|%s", s->images[i].kernel, s->images[i].rootfs,
					     s->images[i].kernel_args ? s->images[i].kernel_args : "");
	{
		_cleanup_free_ char *files = NULL, *all = NULL;
		char ip[16] = "", mac[18] = "";

		files = xstrdup("");
		for (size_t i = 0; v->filesyncs && v->filesyncs[i]; i++) {
			char *t = xasprintf("%s,%s", files, v->filesyncs[i]);

			free(files);
			files = t;
		}
		if (v->has_ip)
			ipv4_format(v->ip, ip);
		if (v->has_mac)
			mac_format(v->mac, mac);
		all = xasprintf("%s#%s#%u#%llu#%d#%llu#%llu#%s#%s#%s#%s", v->image,
				img_line ? img_line : "", v->vcpus, (unsigned long long)v->memory,
				(int)v->hypervisor, (unsigned long long)v->system_overlay,
				(unsigned long long)v->work_disk, v->kernel_args ? v->kernel_args : "",
				ip, mac, files);
		sha256_hex_buf(all, strlen(all), hex);
	}
	(void)line;
	memcpy(v->generation, hex, sizeof(hex));
	return 0;
}

int
test_spec_parse(const char *text, struct spec **ret)
{
	_cleanup_(test_spec_freep) struct spec *s = xcalloc(1, sizeof(*s));
	_cleanup_free_ char *copy = xstrdup(text);
	char *save = NULL;
	int r;

	s->root = xstrdup("/state");
	s->host.bridge_name = xstrdup("banger0");
	s->host.bridge_addr = (10U << 24) | (77U << 16) | 1;
	s->host.bridge_prefix = 24;
	s->host.uplink = xstrdup("auto");
	s->host.hypervisor = HYPERVISOR_QEMU;
	s->host.firecracker_binary = xstrdup("firecracker");
	s->host.qemu_binary = xstrdup("qemu-system-x86_64");
	s->host.disk_strategy = DISK_STRATEGY_AUTO;
	s->host_valid = true;
	s->held_vms = strv_copy(NULL);
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		_cleanup_free_ char *orig = xstrdup(line);
		char *sp, *rest;

		if (!*line || *line == '#')
			continue;
		sp = strchr(line, ' ');
		rest = sp ? sp + 1 : line + strlen(line);
		if (sp)
			*sp = '\0';
		if (strcmp(line, "host") == 0) {
			char *s2 = NULL;

			for (char *w = strtok_r(rest, " ", &s2); w; w = strtok_r(NULL, " ", &s2)) {
				if (strncmp(w, "bridge=", 7) == 0) {
					free(s->host.bridge_name);
					s->host.bridge_name = xstrdup(w + 7);
				} else if (strncmp(w, "addr=", 5) == 0) {
					if (ipv4_cidr_parse(w + 5, &s->host.bridge_addr,
							    &s->host.bridge_prefix) < 0)
						return -EINVAL;
				} else if (strncmp(w, "strategy=", 9) == 0) {
					s->host.disk_strategy = strcmp(w + 9, "copy") == 0
									? DISK_STRATEGY_COPY
									: DISK_STRATEGY_DM_SNAPSHOT;
				} else if (strncmp(w, "commit=", 7) == 0) {
					s->source_commit = xstrdup(w + 7);
				} else {
					return -EINVAL;
				}
			}
		} else if (strcmp(line, "host-invalid") == 0) {
			s->host_valid = false;
		} else if (strcmp(line, "image") == 0) {
			struct image_spec *im;
			char *s2 = NULL;

			s->images = xappend(s->images, &s->n_images, sizeof(*im), (void **)&im);
			for (char *w = strtok_r(rest, " ", &s2); w; w = strtok_r(NULL, " ", &s2)) {
				if (!im->name)
					im->name = xstrdup(w);
				else if (strncmp(w, "kernel=", 7) == 0)
					im->kernel = xstrdup(w + 7);
				else if (strncmp(w, "rootfs=", 7) == 0)
					im->rootfs = xstrdup(w + 7);
				else if (strncmp(w, "initrd=", 7) == 0)
					im->initrd = xstrdup(w + 7);
				else if (strncmp(w, "args=", 5) == 0)
					im->kernel_args = xstrdup(w + 5);
				else
					return -EINVAL;
			}
			if (!im->name || !im->kernel || !im->rootfs)
				return -EINVAL;
			im->path = xasprintf("images/%s.yaml", im->name);
		} else if (strcmp(line, "filesync") == 0) {
			struct filesync_spec *f;
			char *s2 = NULL;

			s->filesyncs = xappend(s->filesyncs, &s->n_filesyncs, sizeof(*f), (void **)&f);
			for (char *w = strtok_r(rest, " ", &s2); w; w = strtok_r(NULL, " ", &s2)) {
				struct filesync_entry *e;
				char *colon;

				if (!f->name) {
					f->name = xstrdup(w);
					continue;
				}
				colon = strchr(w, ':');
				if (!colon)
					return -EINVAL;
				*colon = '\0';
				f->entries = xappend(f->entries, &f->n_entries, sizeof(*e), (void **)&e);
				e->host = xstrdup(w);
				e->guest = xstrdup(colon + 1);
				e->mode = -1;
			}
			f->path = xasprintf("filesyncs/%s.yaml", f->name);
		} else if (strcmp(line, "vm") == 0) {
			r = vm_line(s, rest, orig);
			if (r < 0)
				return r;
		} else if (strcmp(line, "held") == 0) {
			s->held_vms = strv_append(s->held_vms, rest);
		} else if (strcmp(line, "diag") == 0) {
			/* diag FILE LINE COL MESSAGE... */
			struct spec_diag *dg;
			char *s2 = NULL, *file, *l, *c, *msg;

			file = strtok_r(rest, " ", &s2);
			l = strtok_r(NULL, " ", &s2);
			c = strtok_r(NULL, " ", &s2);
			msg = s2;
			if (!file || !l || !c || !msg)
				return -EINVAL;
			s->diags = xappend(s->diags, &s->n_diags, sizeof(*dg), (void **)&dg);
			dg->file = xstrdup(file);
			dg->line = (unsigned)atoi(l);
			dg->col = (unsigned)atoi(c);
			dg->msg = xstrdup(msg);
		} else {
			return -EINVAL;
		}
	}
	*ret = TAKE_PTR(s);
	return 0;
}

int
test_spec_load(const char *path, struct spec **ret)
{
	_cleanup_free_ char *text = NULL;
	int r;

	r = read_file(path, 1 << 20, &text, NULL);
	if (r < 0)
		return r;
	return test_spec_parse(text, ret);
}
