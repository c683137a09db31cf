/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The declared state as a whole: every file of a source parsed and checked
 * (spec-kinds.c), then the checks that span files (references, addresses),
 * holding, generations, and the model's small helpers.  No host access.
 */
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spec/spec-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/sha256.h"
#include "util/strv.h"

static const char *const hypervisor_kind_table[_HYPERVISOR_MAX] = {
	[HYPERVISOR_FIRECRACKER] = "firecracker",
	[HYPERVISOR_QEMU] = "qemu",
};
static const char *const qemu_accel_table[_QEMU_ACCEL_MAX] = {
	[QEMU_ACCEL_AUTO] = "auto",
	[QEMU_ACCEL_KVM] = "kvm",
	[QEMU_ACCEL_TCG] = "tcg",
};
static const char *const disk_strategy_table[_DISK_STRATEGY_MAX] = {
	[DISK_STRATEGY_AUTO] = "auto",
	[DISK_STRATEGY_DM_SNAPSHOT] = "dm-snapshot",
	[DISK_STRATEGY_REFLINK] = "reflink",
	[DISK_STRATEGY_COPY] = "copy",
};
static const char *const vm_state_table[_VM_STATE_MAX] = {
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_STOPPED] = "stopped",
};
static const char *const on_delete_table[_ON_DELETE_MAX] = {
	[ON_DELETE_RETAIN] = "retain",
	[ON_DELETE_PURGE] = "purge",
};
static const char *const workspace_mode_table[_WORKSPACE_MODE_MAX] = {
	[WORKSPACE_FULL_COPY] = "full_copy",
	[WORKSPACE_SHALLOW] = "shallow",
	[WORKSPACE_METADATA_ONLY] = "metadata_only",
};
static const char *const spec_kind_table[_SPEC_KIND_MAX] = {
	[SPEC_KIND_HOST] = "host",
	[SPEC_KIND_IMAGE] = "images",
	[SPEC_KIND_VM] = "vms",
	[SPEC_KIND_FILESYNC] = "filesyncs",
};

static int
table_lookup(const char *const *table, int n, const char *s)
{
	if (!s)
		return -EINVAL;
	for (int i = 0; i < n; i++)
		if (table[i] && strcmp(table[i], s) == 0)
			return i;
	return -EINVAL;
}

#define DEFINE_STRING_TABLE(name, type, table, max)                                          \
	const char *name##_to_string(type v)                                                 \
	{                                                                                    \
		if ((int)v < 0 || (int)v >= (max))                                           \
			return NULL;                                                         \
		return table[v];                                                             \
	}                                                                                    \
	type name##_from_string(const char *s)                                               \
	{                                                                                    \
		return (type)table_lookup(table, (max), s);                                  \
	}

DEFINE_STRING_TABLE(hypervisor_kind, enum hypervisor_kind, hypervisor_kind_table, _HYPERVISOR_MAX)
DEFINE_STRING_TABLE(qemu_accel, enum qemu_accel, qemu_accel_table, _QEMU_ACCEL_MAX)
DEFINE_STRING_TABLE(disk_strategy, enum disk_strategy, disk_strategy_table, _DISK_STRATEGY_MAX)
DEFINE_STRING_TABLE(vm_state, enum vm_state, vm_state_table, _VM_STATE_MAX)
DEFINE_STRING_TABLE(on_delete, enum on_delete, on_delete_table, _ON_DELETE_MAX)
DEFINE_STRING_TABLE(workspace_mode, enum workspace_mode, workspace_mode_table,
		    _WORKSPACE_MODE_MAX)
DEFINE_STRING_TABLE(spec_kind, enum spec_kind, spec_kind_table, _SPEC_KIND_MAX)

int
spec_parse_duration(const char *s, uint64_t *ret)
{
	uint64_t v = 0, mult;
	const char *p = s;

	if (!s || !(*p >= '0' && *p <= '9'))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case 's':
		mult = 1;
		break;
	case 'm':
		mult = 60;
		break;
	case 'h':
		mult = 3600;
		break;
	default:
		return -EINVAL;
	}
	if (p[1])
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

bool
spec_domain_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);
		char label[64];

		if (n == 0 || n > 63)
			return false;
		memcpy(label, p, n);
		label[n] = '\0';
		if (!name_is_dns_label(label))
			return false;
		if (!dot)
			break;
		p = dot + 1;
		if (!*p)
			return false;
	}
	return true;
}

int
spec_parse_size(const char *s, uint64_t *ret)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (!s || !(*p >= '0' && *p <= '9'))
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
		mult = 1ULL << 10;
		p++;
		break;
	case 'M':
		mult = 1ULL << 20;
		p++;
		break;
	case 'G':
		mult = 1ULL << 30;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p)
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*ret = v * mult;
	return 0;
}

char *
spec_format_size(uint64_t b)
{
	if (b && b % (1ULL << 30) == 0)
		return xasprintf("%lluG", (unsigned long long)(b >> 30));
	if (b && b % (1ULL << 20) == 0)
		return xasprintf("%lluM", (unsigned long long)(b >> 20));
	if (b && b % (1ULL << 10) == 0)
		return xasprintf("%lluK", (unsigned long long)(b >> 10));
	return xasprintf("%llu", (unsigned long long)b);
}

char *
spec_diag_format(const struct spec_diag *d, const char *root)
{
	_cleanup_free_ char *file = xstrdup(d->file);

	/* One line per diagnostic, even for a file name with a line break in it. */
	for (char *p = file; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (root && *root) {
		size_t n = strlen(root);

		while (n > 1 && root[n - 1] == '/')
			n--;
		if (n == 1 && root[0] == '/')
			return xasprintf("/%s:%u:%u: %s", file, d->line, d->col, d->msg);
		return xasprintf("%.*s/%s:%u:%u: %s", (int)n, root, file, d->line, d->col, d->msg);
	}
	return xasprintf("%s:%u:%u: %s", file, d->line, d->col, d->msg);
}

struct spec *
spec_free(struct spec *s)
{
	if (!s)
		return NULL;
	free(s->root);
	free(s->source_commit);
	free(s->hold_all_by);
	host_spec_done(&s->host);
	for (size_t i = 0; i < s->n_images; i++)
		image_spec_done(&s->images[i]);
	free(s->images);
	for (size_t i = 0; i < s->n_vms; i++)
		vm_spec_done(&s->vms[i]);
	free(s->vms);
	for (size_t i = 0; i < s->n_filesyncs; i++)
		filesync_spec_done(&s->filesyncs[i]);
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
cmp_name_vm(const void *key, const void *elem)
{
	return strcmp(key, ((const struct vm_spec *)elem)->name);
}

/* spec_load sorts the VMs by name: a binary search; a spec made some other
 * way (tests) may not be sorted, so a miss looks at every VM. */
const struct vm_spec *
spec_find_vm(const struct spec *s, const char *name)
{
	const struct vm_spec *v;

	if (!s || !name || !s->n_vms)
		return NULL;
	v = bsearch(name, s->vms, s->n_vms, sizeof(*s->vms), cmp_name_vm);
	if (v)
		return v;
	for (size_t i = 0; i < s->n_vms; i++)
		if (strcmp(s->vms[i].name, name) == 0)
			return &s->vms[i];
	return NULL;
}

const struct image_spec *
spec_find_image(const struct spec *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->n_images; i++)
		if (strcmp(s->images[i].name, name) == 0)
			return &s->images[i];
	return NULL;
}

const struct filesync_spec *
spec_find_filesync(const struct spec *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->n_filesyncs; i++)
		if (strcmp(s->filesyncs[i].name, name) == 0)
			return &s->filesyncs[i];
	return NULL;
}

/* The generation: see struct vm_spec in spec.h for the exact serialisation. */
/* v in decimal at the end of buf[24]; returns where it starts. */
static const char *
gen_decimal(uint64_t v, char buf[24])
{
	char *p = buf + 23;

	*p = '\0';
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	return p;
}

/* Hashes "KEY=LEN:VALUE\n", piece by piece (no formatting: a host of many
 * VMs computes this for each of them on every run). */
static void
gen_str(struct sha256_ctx *h, const char *key, const char *v)
{
	char buf[24];
	const char *len;

	if (!v)
		v = "";
	len = gen_decimal(strlen(v), buf);
	sha256_update(h, key, strlen(key));
	sha256_update(h, "=", 1);
	sha256_update(h, len, strlen(len));
	sha256_update(h, ":", 1);
	sha256_update(h, v, strlen(v));
	sha256_update(h, "\n", 1);
}

static void
gen_u64(struct sha256_ctx *h, const char *key, uint64_t v)
{
	char buf[24];

	gen_str(h, key, gen_decimal(v, buf));
}

static void
generation_of(const struct vm_spec *vm, const struct image_spec *img, uint64_t system_overlay,
	      uint64_t work_disk, char out[65])
{
	static const char head[] = "banger-generation-v1\n";
	struct sha256_ctx h;
	uint8_t digest[SHA256_DIGEST_SIZE];
	char buf[32] = "";
	size_t n = strv_length(vm->filesyncs);

	sha256_init(&h);
	sha256_update(&h, head, strlen(head));
	gen_str(&h, "image", vm->image);
	gen_str(&h, "image.kernel", img ? img->kernel : NULL);
	gen_str(&h, "image.rootfs", img ? img->rootfs : NULL);
	gen_str(&h, "image.initrd", img ? img->initrd : NULL);
	gen_str(&h, "image.kernel_args", img ? img->kernel_args : NULL);
	gen_str(&h, "image.sha256.kernel", img ? img->sha256_kernel : NULL);
	gen_str(&h, "image.sha256.rootfs", img ? img->sha256_rootfs : NULL);
	gen_str(&h, "image.sha256.initrd", img ? img->sha256_initrd : NULL);
	gen_u64(&h, "vcpus", vm->vcpus);
	gen_u64(&h, "memory", vm->memory);
	gen_str(&h, "hypervisor", hypervisor_kind_to_string(vm->hypervisor));
	gen_u64(&h, "disks.system_overlay", system_overlay);
	gen_u64(&h, "disks.work", work_disk);
	gen_str(&h, "kernel_args", vm->kernel_args);
	if (vm->has_mac)
		snprintf(buf, sizeof(buf), "%02x:%02x:%02x:%02x:%02x:%02x", vm->mac[0], vm->mac[1],
			 vm->mac[2], vm->mac[3], vm->mac[4], vm->mac[5]);
	gen_str(&h, "mac", buf);
	buf[0] = '\0';
	if (vm->has_ip)
		ipv4_format(vm->ip, buf);
	gen_str(&h, "ip", buf);
	gen_u64(&h, "filesyncs", n);
	for (size_t i = 0; i < n; i++)
		gen_str(&h, "filesync", vm->filesyncs[i]);
	sha256_final(&h, digest);
	sha256_hex(digest, out);
}

static void
vm_generation(struct vm_spec *vm, const struct image_spec *img)
{
	generation_of(vm, img, vm->system_overlay, vm->work_disk, vm->generation);
}

void
spec_vm_generation_with(const struct vm_spec *vm, const struct image_spec *img,
			uint64_t system_overlay, uint64_t work_disk, char out[65])
{
	generation_of(vm, img, system_overlay, work_disk, out);
}

/* Diagnostics sorted by file, then position; equal ones keep their order. */
struct diag_ref {
	struct spec_diag *d;
	size_t i;
};

static int
cmp_diag(const void *a, const void *b)
{
	const struct diag_ref *x = a, *y = b;
	int r = strcmp(x->d->file, y->d->file);

	if (r)
		return r;
	if (x->d->line != y->d->line)
		return x->d->line < y->d->line ? -1 : 1;
	if (x->d->col != y->d->col)
		return x->d->col < y->d->col ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

static void
take_diags(struct spec *s, struct diag_list *d)
{
	_cleanup_free_ struct diag_ref *refs = NULL;

	s->n_diags = d->n;
	if (!d->n)
		return;
	refs = xmalloc(d->n * sizeof(*refs));
	for (size_t i = 0; i < d->n; i++)
		refs[i] = (struct diag_ref){ &d->v[i], i };
	qsort(refs, d->n, sizeof(*refs), cmp_diag);
	s->diags = xmalloc(d->n * sizeof(*s->diags));
	for (size_t i = 0; i < d->n; i++)
		s->diags[i] = *refs[i].d;
	free(d->v);
	d->v = NULL;
	d->n = 0;
	d->cap = 0;
	d->run = 0;
}

static void
read_error_diag(struct diag_list *d, const char *path, int r)
{
	switch (r) {
	case -EFBIG:
		diag_add(d, path, 1, 1, "found a file larger than 1 MiB, expected a smaller declaration");
		break;
	case -EXDEV:
		diag_add(d, path, 1, 1,
			 "found a symbolic link out of the state directory, expected a file inside it");
		break;
	case -EISDIR:
		diag_add(d, path, 1, 1, "found a directory, expected a file");
		break;
	case -EPERM:
		diag_add(d, path, 1, 1,
			 "found a file anyone can change (world-writable), expected one only its "
			 "owner or group may write: banger runs as root (chmod o-w)");
		break;
	case -EINVAL:
		diag_add(d, path, 1, 1, "found something that is not a regular file, expected a file");
		break;
	default:
		diag_add(d, path, 1, 1, "cannot read the file: %s", strerror(-r));
		break;
	}
}

/* "vms/web.yaml" -> kind and "web"; false when the path is in no known folder. */
static bool
split_path(const char *path, enum spec_kind *ret_kind, char **ret_stem)
{
	const char *slash = strchr(path, '/'), *base;
	_cleanup_free_ char *folder = NULL;
	size_t n;
	int k;

	if (!slash || strchr(slash + 1, '/'))
		return false;
	folder = xstrndup(path, (size_t)(slash - path));
	k = spec_kind_from_string(folder);
	if (k < 0 || k == SPEC_KIND_HOST)
		return false;
	base = slash + 1;
	n = strlen(base);
	if (n < 5 || strcmp(base + n - 5, ".yaml") != 0)
		return false;
	*ret_kind = (enum spec_kind)k;
	*ret_stem = xstrndup(base, n - 5);
	return true;
}

static char *
stem_of(const char *path)
{
	const char *base = strrchr(path, '/');
	size_t n;

	base = base ? base + 1 : path;
	n = strlen(base);
	if (n >= 5 && strcmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	return xstrndup(base, n);
}

static char *
absolute_root(const char *root)
{
	_cleanup_free_ char *cwd = NULL;
	size_t n = strlen(root);

	while (n > 1 && root[n - 1] == '/')
		n--;
	if (root[0] == '/')
		return xstrndup(root, n);
	cwd = getcwd(NULL, 0);
	if (!cwd)
		return xstrndup(root, n); /* unreachable cwd: keep paths relative */
	if (n == 1 && root[0] == '.')
		return TAKE_PTR(cwd);
	return xasprintf("%s/%.*s", strcmp(cwd, "/") == 0 ? "" : cwd, (int)n, root);
}

struct loader {
	struct spec *s;
	struct diag_list d;
	struct kind_ctx k;
	struct vm_work *vms;
	size_t n_vms;
	char **bad_images;
	char **bad_filesyncs;
	char **held; /* VMs held before parsing (unreadable files) */
	char *const *unread; /* the source's (borrowed) */
};

static void
loader_done(struct loader *l)
{
	for (size_t i = 0; i < l->n_vms; i++) {
		vm_spec_done(&l->vms[i].vm);
		free(l->vms[i].filesync_marks);
		free(l->vms[i].filesync_items);
	}
	free(l->vms);
	strv_free(l->bad_images);
	strv_free(l->bad_filesyncs);
	strv_free(l->held);
	for (size_t i = 0; i < l->d.n; i++) {
		free(l->d.v[i].file);
		free(l->d.v[i].msg);
	}
	free(l->d.v);
}

static void
load_one(struct loader *l, enum spec_kind kind, const char *name, const char *path,
	 const char *data, size_t len)
{
	struct spec *s = l->s;

	switch (kind) {
	case SPEC_KIND_IMAGE: {
		struct image_spec img = {};

		if (spec_parse_image(&l->k, name, path, data, len, &img)) {
			s->images = xrealloc(s->images, (s->n_images + 1) * sizeof(*s->images));
			s->images[s->n_images++] = img;
		} else {
			l->bad_images = strv_append(l->bad_images, name);
			image_spec_done(&img);
		}
		break;
	}
	case SPEC_KIND_FILESYNC: {
		struct filesync_spec f = {};

		if (spec_parse_filesync(&l->k, name, path, data, len, &f)) {
			s->filesyncs = xrealloc(s->filesyncs,
						(s->n_filesyncs + 1) * sizeof(*s->filesyncs));
			s->filesyncs[s->n_filesyncs++] = f;
		} else {
			l->bad_filesyncs = strv_append(l->bad_filesyncs, name);
			filesync_spec_done(&f);
		}
		break;
	}
	case SPEC_KIND_VM: {
		struct vm_work *w;

		l->vms = xappend(l->vms, &l->n_vms, sizeof(*l->vms), (void **)&w);
		if (!spec_parse_vm(&l->k, name, path, data, len, w))
			w->held = true;
		break;
	}
	case SPEC_KIND_HOST: {
		struct host_spec h;

		host_spec_defaults(&h);
		if (spec_parse_host(&l->k, path, data, len, &h)) {
			host_spec_done(&s->host);
			s->host = h;
		} else {
			s->host_valid = false;
			host_spec_done(&h);
		}
		free(s->host.path);
		s->host.path = xstrdup(path);
		break;
	}
	default:
		assert(!"bad kind");
	}
}

/* The stem of a YAML-looking name: "web.yml" -> "web". */
static char *
yaml_stem(const char *base)
{
	size_t n = strlen(base);

	if (n > 5 && strcasecmp(base + n - 5, ".yaml") == 0)
		n -= 5;
	else if (n > 4 && strcasecmp(base + n - 4, ".yml") == 0)
		n -= 4;
	return xstrndup(base, n);
}

/* Whether a name at the top ("hosts.yaml", "Host.yml") looks meant as host.yaml. */
static bool
looks_like_host_yaml(const char *name)
{
	static const char *const stems[] = { "host", "hosts" };
	size_t n = strlen(name);

	for (size_t i = 0; i < ELEMENTSOF(stems); i++) {
		size_t k = strlen(stems[i]);

		if (n > k && strncasecmp(name, stems[i], k) == 0 &&
		    (strcasecmp(name + k, ".yaml") == 0 || strcasecmp(name + k, ".yml") == 0))
			return true;
	}
	return false;
}

/*
 * Files the source did not read but that look meant as declarations: each
 * an error, and what it would have declared is held rather than deleted.
 * At the top, where there is no host.yaml, a name such as hosts.yaml or
 * host.yml holds every VM: the host settings may not be the ones meant
 * (other files at the top belong to other tools).  Under a kind folder,
 * "vms/web.yml" or "vms/old/web.yaml" holds web unless vms/web.yaml declares
 * it; an image or file sync so named counts as one with errors for the VMs
 * that use it (see check_references).
 */
static void
handle_unread(struct loader *l, char *const *unread, bool has_host)
{
	for (size_t i = 0; unread && unread[i]; i++) {
		const char *path = unread[i], *slash = strchr(path, '/'), *base;
		_cleanup_free_ char *folder = NULL, *stem = NULL;
		bool nested;
		int k;

		if (!slash) {
			if (has_host || !looks_like_host_yaml(path))
				continue;
			diag_add(&l->d, path, 1, 1,
				 "found '%s' and no host.yaml: host settings are read from "
				 "host.yaml only; rename this file (holding every vm)",
				 path);
			if (!l->s->hold_all_by)
				l->s->hold_all_by = xstrdup(path);
			continue;
		}
		folder = xstrndup(path, (size_t)(slash - path));
		k = spec_kind_from_string(folder);
		if (k < 0 || k == SPEC_KIND_HOST)
			continue;
		base = strrchr(path, '/') + 1;
		nested = base != slash + 1;
		stem = yaml_stem(base);
		if (nested)
			diag_add(&l->d, path, 1, 1,
				 "found a declaration in a sub-folder, expected %s/%s.yaml: "
				 "sub-folders of %s/ are not read",
				 folder, stem, folder);
		else
			diag_add(&l->d, path, 1, 1,
				 "found '%s', expected a name ending in .yaml (%s/%s.yaml): "
				 "this file is not read",
				 base, folder, stem);
		if (!name_is_dns_label(stem))
			continue;
		if (k == SPEC_KIND_VM) {
			bool declared = strv_contains(l->held, stem);

			for (size_t j = 0; j < l->n_vms && !declared; j++)
				declared = strcmp(l->vms[j].vm.name, stem) == 0;
			if (!declared)
				l->held = strv_append(l->held, stem);
		}
	}
}

/* The unread file that would have declared name in folder, if any. */
static const char *
unread_for(const struct loader *l, const char *folder, const char *name)
{
	size_t n = strlen(folder);

	for (size_t i = 0; l->unread && l->unread[i]; i++) {
		const char *p = l->unread[i];
		_cleanup_free_ char *stem = NULL;

		if (strncmp(p, folder, n) != 0 || p[n] != '/')
			continue;
		stem = yaml_stem(strrchr(p, '/') + 1);
		if (strcmp(stem, name) == 0)
			return p;
	}
	return NULL;
}

static void
check_references(struct loader *l, struct vm_work *w)
{
	struct vm_spec *vm = &w->vm;
	const struct spec_mark *m;
	const char *unread;
	size_t k;

	if (vm->image && !spec_find_image(l->s, vm->image)) {
		m = &vm->image_mark;
		unread = unread_for(l, "images", vm->image);
		if (strv_contains(l->bad_images, vm->image))
			diag_add(&l->d, m->file, m->line, m->col,
				 "image: found '%s', whose file images/%s.yaml has errors, expected a "
				 "valid image (holding this vm)",
				 vm->image, vm->image);
		else if (unread)
			diag_add(&l->d, m->file, m->line, m->col,
				 "image: found '%s', whose file %s is not read, expected "
				 "images/%s.yaml (holding this vm)",
				 vm->image, unread, vm->image);
		else {
			const char *hint = NULL;

			for (size_t i = 0; i < l->s->n_images; i++)
				if (edit_distance(vm->image, l->s->images[i].name) <= 2)
					hint = l->s->images[i].name;
			if (hint)
				diag_add(&l->d, m->file, m->line, m->col,
					 "image: found '%s', expected a declared image (there is no "
					 "images/%s.yaml), did you mean '%s'?",
					 vm->image, vm->image, hint);
			else
				diag_add(&l->d, m->file, m->line, m->col,
					 "image: found '%s', expected a declared image (there is no "
					 "images/%s.yaml)",
					 vm->image, vm->image);
		}
		w->held = true;
	}
	for (size_t i = 0; vm->filesyncs && vm->filesyncs[i]; i++) {
		const char *f = vm->filesyncs[i];

		if (spec_find_filesync(l->s, f))
			continue;
		m = &w->filesync_marks[i];
		k = w->filesync_items[i];
		unread = unread_for(l, "filesyncs", f);
		if (strv_contains(l->bad_filesyncs, f))
			diag_add(&l->d, m->file, m->line, m->col,
				 "filesyncs[%zu]: found '%s', whose file filesyncs/%s.yaml has errors, "
				 "expected a valid file sync (holding this vm)",
				 k, f, f);
		else if (unread)
			diag_add(&l->d, m->file, m->line, m->col,
				 "filesyncs[%zu]: found '%s', whose file %s is not read, expected "
				 "filesyncs/%s.yaml (holding this vm)",
				 k, f, unread, f);
		else {
			const char *hint = NULL;

			for (size_t j = 0; j < l->s->n_filesyncs; j++)
				if (edit_distance(f, l->s->filesyncs[j].name) <= 2)
					hint = l->s->filesyncs[j].name;
			if (hint)
				diag_add(&l->d, m->file, m->line, m->col,
					 "filesyncs[%zu]: found '%s', expected a declared file sync (there "
					 "is no filesyncs/%s.yaml), did you mean '%s'?",
					 k, f, f, hint);
			else
				diag_add(&l->d, m->file, m->line, m->col,
					 "filesyncs[%zu]: found '%s', expected a declared file sync (there "
					 "is no filesyncs/%s.yaml)",
					 k, f, f);
		}
		w->held = true;
	}
	/* The workspace copy replaces its folder: what a file sync writes into
	 * it would be removed at every copy (and a file sync of a folder that
	 * holds it would be cut). */
	if (vm->workspace.path) {
		const char *ws = vm->workspace.path;
		size_t wl = strlen(ws);

		for (size_t i = 0; vm->filesyncs && vm->filesyncs[i] && !w->held; i++) {
			const struct filesync_spec *fs = spec_find_filesync(l->s, vm->filesyncs[i]);

			for (size_t j = 0; fs && j < fs->n_entries; j++) {
				const char *g = fs->entries[j].guest;
				size_t gl = strlen(g);

				if (!(strncmp(g, ws, wl) == 0 && (g[wl] == '\0' || g[wl] == '/')) &&
				    !(strncmp(ws, g, gl) == 0 && ws[gl] == '/'))
					continue;
				m = &vm->workspace.path_mark;
				diag_add(&l->d, m->file, m->line, m->col,
					 "workspace.path: found '%s', where file sync '%s' writes '%s', "
					 "expected a folder no file sync of this vm writes into or over "
					 "(the workspace copy replaces the folder)",
					 ws, fs->name, g);
				w->held = true;
				break;
			}
		}
	}
}

static void
check_ip_range(struct loader *l, struct vm_work *w)
{
	const struct host_spec *h = &l->s->host;
	struct vm_spec *vm = &w->vm;
	uint32_t mask = ~0u << (32 - h->bridge_prefix), net = h->bridge_addr & mask;
	char ip[16], netbuf[16];
	const struct spec_mark *m = &vm->ip_mark;

	if (!vm->has_ip)
		return;
	ipv4_format(vm->ip, ip);
	ipv4_format(net, netbuf);
	if ((vm->ip & mask) != net)
		diag_add(&l->d, m->file, m->line, m->col,
			 "network.ip: found %s, expected an address inside the bridge network %s/%u",
			 ip, netbuf, h->bridge_prefix);
	else if (vm->ip == h->bridge_addr)
		diag_add(&l->d, m->file, m->line, m->col,
			 "network.ip: found %s, the bridge's own address (the gateway), expected "
			 "another address in %s/%u",
			 ip, netbuf, h->bridge_prefix);
	else if (vm->ip == net)
		diag_add(&l->d, m->file, m->line, m->col,
			 "network.ip: found %s, the network address of %s/%u, expected a host address",
			 ip, netbuf, h->bridge_prefix);
	else if (vm->ip == (net | ~mask))
		diag_add(&l->d, m->file, m->line, m->col,
			 "network.ip: found %s, the broadcast address of %s/%u, expected a host "
			 "address",
			 ip, netbuf, h->bridge_prefix);
	else
		return;
	w->held = true;
}

/* A declared address (ip, or mac in its low 48 bits) and its VM's index. */
struct uniq_key {
	uint64_t key;
	size_t ix;
};

static int
cmp_uniq_key(const void *a, const void *b)
{
	const struct uniq_key *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->ix < y->ix ? -1 : x->ix > y->ix;
}

/*
 * For every VM whose key is also another's: other[i] = the first other VM
 * (by index) with that key; SIZE_MAX for the rest.  Sorted, not compared
 * pair by pair: a host declares thousands of VMs.
 */
static void
find_clashes(struct uniq_key *k, size_t n, size_t *other)
{
	qsort(k, n, sizeof(*k), cmp_uniq_key);
	for (size_t a = 0; a < n;) {
		size_t b = a + 1;

		while (b < n && k[b].key == k[a].key)
			b++;
		for (size_t m = a; b - a > 1 && m < b; m++)
			other[k[m].ix] = k[m == a ? a + 1 : a].ix;
		a = b;
	}
}

/* ip and mac must each be unique: every VM in a clash is held. */
static void
check_unique(struct loader *l)
{
	_cleanup_free_ struct uniq_key *ips = xcalloc(l->n_vms + 1, sizeof(*ips));
	_cleanup_free_ struct uniq_key *macs = xcalloc(l->n_vms + 1, sizeof(*macs));
	_cleanup_free_ size_t *ip_other = xcalloc(l->n_vms + 1, sizeof(size_t));
	_cleanup_free_ size_t *mac_other = xcalloc(l->n_vms + 1, sizeof(size_t));
	size_t n_ips = 0, n_macs = 0;
	uint8_t derived[6];

	for (size_t i = 0; i < l->n_vms; i++) {
		const struct vm_spec *v = &l->vms[i].vm;

		ip_other[i] = mac_other[i] = SIZE_MAX;
		if (v->has_ip)
			ips[n_ips++] = (struct uniq_key){ .key = v->ip, .ix = i };
		/* A VM with an address and no MAC gets 06:00 and the address. */
		if (v->has_mac || v->has_ip) {
			const uint8_t *x = v->has_mac ? v->mac : derived;
			uint64_t m = 0;

			if (!v->has_mac)
				mac_from_ip(v->ip, derived);
			for (int b = 0; b < 6; b++)
				m = m << 8 | x[b];
			macs[n_macs++] = (struct uniq_key){ .key = m, .ix = i };
		}
	}
	find_clashes(ips, n_ips, ip_other);
	find_clashes(macs, n_macs, mac_other);
	for (size_t i = 0; i < l->n_vms; i++) {
		struct vm_work *a = &l->vms[i];

		if (ip_other[i] != SIZE_MAX) {
			const struct vm_work *b = &l->vms[ip_other[i]];
			const struct spec_mark *m = &a->vm.ip_mark, *o = &b->vm.ip_mark;
			char ip[16];

			ipv4_format(a->vm.ip, ip);
			diag_add(&l->d, m->file, m->line, m->col,
				 "network.ip: found %s, also declared by vm '%s' (%s:%u:%u), "
				 "expected an address unique across vms",
				 ip, b->vm.name, o->file, o->line, o->col);
			a->held = true;
		}
		if (mac_other[i] != SIZE_MAX) {
			const struct vm_work *b = &l->vms[mac_other[i]];
			const struct spec_mark *o = b->vm.has_mac ? &b->vm.mac_mark : &b->vm.ip_mark;
			uint8_t x[6];
			char m[18], ip[16];

			/* Two derived MACs clash only with their addresses: said above. */
			if (!a->vm.has_mac && !b->vm.has_mac)
				continue;
			if (a->vm.has_mac)
				memcpy(x, a->vm.mac, 6);
			else
				mac_from_ip(a->vm.ip, x);
			mac_format(x, m);
			if (a->vm.has_mac) {
				diag_add(&l->d, a->vm.mac_mark.file, a->vm.mac_mark.line,
					 a->vm.mac_mark.col,
					 "network.mac: found %s, also %s vm '%s' (%s%s:%u:%u), "
					 "expected a mac unique across vms",
					 m, b->vm.has_mac ? "declared by" : "the mac of", b->vm.name,
					 b->vm.has_mac ? "" : "06:00 and its address, ", o->file,
					 o->line, o->col);
			} else {
				ipv4_format(a->vm.ip, ip);
				diag_add(&l->d, a->vm.ip_mark.file, a->vm.ip_mark.line,
					 a->vm.ip_mark.col,
					 "network.ip: found %s, whose mac %s vm '%s' declares "
					 "(%s:%u:%u), expected an address whose mac is unique across "
					 "vms, or a network.mac of its own",
					 ip, m, b->vm.name, o->file, o->line, o->col);
			}
			a->held = true;
		}
	}
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_vm_name(const void *a, const void *b)
{
	return strcmp(((const struct vm_spec *)a)->name, ((const struct vm_spec *)b)->name);
}

/* Move the VMs into the spec, sorted by name: held ones by name only. */
static void
finish_vms(struct loader *l)
{
	struct spec *s = l->s;

	s->held_vms = TAKE_PTR(l->held);
	for (size_t i = 0; i < l->n_vms; i++) {
		struct vm_work *w = &l->vms[i];

		if (w->held || spec_holds_all(s)) {
			s->held_vms = strv_append(s->held_vms, w->vm.name);
			continue;
		}
		/* Held already for another file (vms/Web.yaml beside web.yaml). */
		if (strv_contains(s->held_vms, w->vm.name))
			continue;
		vm_generation(&w->vm, spec_find_image(s, w->vm.image));
		s->vms = xrealloc(s->vms, (s->n_vms + 1) * sizeof(*s->vms));
		s->vms[s->n_vms++] = w->vm;
		memset(&w->vm, 0, sizeof(w->vm));
	}
	if (!s->held_vms)
		s->held_vms = xcalloc(1, sizeof(char *));
	qsort(s->held_vms, strv_length(s->held_vms), sizeof(char *), cmp_name);
	if (s->n_vms > 1)
		qsort(s->vms, s->n_vms, sizeof(*s->vms), cmp_vm_name);
}

/*
 * One file of a source in pass `pass`; files in no known folder are reported
 * in the first pass (images).
 */
static void
handle_file(struct loader *l, const struct source_file *f, enum spec_kind pass)
{
	_cleanup_free_ char *stem = NULL;
	enum spec_kind kind;

	if (strcmp(f->path, "host.yaml") == 0)
		return;
	if (!split_path(f->path, &kind, &stem)) {
		const char *slash = strchr(f->path, '/');
		_cleanup_free_ char *folder = NULL;

		if (pass != SPEC_KIND_IMAGE)
			return;
		folder = slash ? xstrndup(f->path, (size_t)(slash - f->path)) : xstrdup(f->path);
		if (slash) {
			static const char *const known[] = { "images", "vms", "filesyncs" };
			const char *hint = NULL;

			for (size_t i = 0; i < ELEMENTSOF(known); i++)
				if (edit_distance(folder, known[i]) <= 2)
					hint = known[i];
			if (hint)
				diag_add(&l->d, f->path, 1, 1,
					 "found a declaration in unknown folder '%s', did you mean "
					 "'%s/'?",
					 folder, hint);
			else
				diag_add(&l->d, f->path, 1, 1,
					 "found a declaration in unknown folder '%s', expected images/, "
					 "vms/ or filesyncs/",
					 folder);
		}
		else
			diag_add(&l->d, f->path, 1, 1,
				 "found unknown file '%s', expected host.yaml or a file in images/, "
				 "vms/ or filesyncs/",
				 folder);
		return;
	}
	if (kind != pass)
		return;
	if (!name_is_dns_label(stem)) {
		_cleanup_free_ char *q = quote_for_msg(stem, strlen(stem));
		_cleanup_free_ char *lower = xstrdup(stem);

		diag_add(&l->d, f->path, 1, 1,
			 "found file name %s, expected a name that is a DNS label (1 to 63 of a-z, "
			 "0-9 and '-', not starting or ending with '-')",
			 q);
		/* vms/Web.yaml is most likely web's, renamed by mistake: web is
		 * held, never deleted for it (and an image's or file sync's
		 * VMs likewise). */
		for (char *c = lower; *c; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
		if (!name_is_dns_label(lower))
			return;
		if (kind == SPEC_KIND_VM && !strv_contains(l->held, lower))
			l->held = strv_append(l->held, lower);
		else if (kind == SPEC_KIND_IMAGE && !strv_contains(l->bad_images, lower))
			l->bad_images = strv_append(l->bad_images, lower);
		else if (kind == SPEC_KIND_FILESYNC && !strv_contains(l->bad_filesyncs, lower))
			l->bad_filesyncs = strv_append(l->bad_filesyncs, lower);
		return;
	}
	if (f->read_error < 0 || !f->data) {
		read_error_diag(&l->d, f->path, f->read_error < 0 ? f->read_error : -EIO);
		if (kind == SPEC_KIND_VM)
			l->held = strv_append(l->held, stem);
		else if (kind == SPEC_KIND_IMAGE)
			l->bad_images = strv_append(l->bad_images, stem);
		else
			l->bad_filesyncs = strv_append(l->bad_filesyncs, stem);
		return;
	}
	load_one(l, kind, stem, f->path, f->data, f->len);
}

static struct spec *
spec_new(const char *root, const char *commit)
{
	struct spec *s = xcalloc(1, sizeof(*s));

	s->root = root ? xstrdup(root) : NULL;
	s->source_commit = commit ? xstrdup(commit) : NULL;
	host_spec_defaults(&s->host);
	s->host_valid = true;
	return s;
}

int
spec_load(const struct source *src, struct spec **ret, struct error **err)
{
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_free_ char *root_abs = NULL;
	struct loader l = {};

	if (!src || !src->root)
		return error_set(err, -EINVAL, "no declaration source");
	s = spec_new(src->root, src->commit);
	root_abs = absolute_root(src->root);
	l.s = s;
	l.k.d = &l.d;
	l.k.root_abs = root_abs;
	l.k.from_git = src->commit != NULL;
	l.k.host = &s->host;

	/* host.yaml first: its defaults flow into the VMs. */
	for (size_t i = 0; i < src->n_files; i++) {
		const struct source_file *f = &src->files[i];

		if (strcmp(f->path, "host.yaml") != 0)
			continue;
		if (f->read_error < 0 || !f->data) {
			read_error_diag(&l.d, f->path, f->read_error < 0 ? f->read_error : -EIO);
			s->host_valid = false;
			s->host.path = xstrdup(f->path);
		} else
			load_one(&l, SPEC_KIND_HOST, "host", f->path, f->data, f->len);
	}
	/* Images and file syncs before VMs: VM references need them. */
	for (size_t i = 0; i < src->n_files; i++)
		handle_file(&l, &src->files[i], SPEC_KIND_IMAGE);
	for (size_t i = 0; i < src->n_files; i++)
		handle_file(&l, &src->files[i], SPEC_KIND_FILESYNC);
	for (size_t i = 0; i < src->n_files; i++)
		handle_file(&l, &src->files[i], SPEC_KIND_VM);
	l.unread = src->unread;
	{
		bool has_host = false;

		for (size_t i = 0; i < src->n_files; i++)
			has_host |= strcmp(src->files[i].path, "host.yaml") == 0;
		handle_unread(&l, src->unread, has_host);
	}

	for (size_t i = 0; i < l.n_vms; i++) {
		check_references(&l, &l.vms[i]);
		if (s->host_valid)
			check_ip_range(&l, &l.vms[i]);
	}
	check_unique(&l);
	finish_vms(&l);
	take_diags(s, &l.d);
	loader_done(&l);
	*ret = TAKE_PTR(s);
	return 0;
}

int
spec_load_file(enum spec_kind kind, const char *path, const char *data, size_t len,
	       struct spec **ret, struct error **err)
{
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_free_ char *stem = NULL;
	struct loader l = {};

	if (kind < 0 || kind >= _SPEC_KIND_MAX || !path || !data)
		return error_set(err, -EINVAL, "bad arguments");
	s = spec_new(".", NULL);
	l.s = s;
	l.k.d = &l.d;
	l.k.root_abs = NULL;
	l.k.host = &s->host;
	stem = stem_of(path);
	if (kind != SPEC_KIND_HOST && !name_is_dns_label(stem)) {
		_cleanup_free_ char *q = quote_for_msg(stem, strlen(stem));

		diag_add(&l.d, path, 1, 1,
			 "found file name %s, expected a name that is a DNS label (1 to 63 of a-z, "
			 "0-9 and '-', not starting or ending with '-')",
			 q);
		if (kind == SPEC_KIND_VM)
			l.held = strv_append(l.held, stem);
	} else if (len > SOURCE_FILE_MAX) {
		read_error_diag(&l.d, path, -EFBIG);
		if (kind == SPEC_KIND_VM)
			l.held = strv_append(l.held, stem);
		else if (kind == SPEC_KIND_HOST)
			s->host_valid = false;
	} else
		load_one(&l, kind, stem, path, data, len);
	finish_vms(&l);
	take_diags(s, &l.d);
	loader_done(&l);
	*ret = TAKE_PTR(s);
	return 0;
}

size_t
spec_hold_image(struct spec *s, const char *image, const char *msg)
{
	size_t held = 0, j = 0;

	for (size_t i = 0; i < s->n_vms; i++) {
		struct vm_spec *vm = &s->vms[i];

		if (strcmp(vm->image, image) != 0) {
			if (j != i)
				s->vms[j] = *vm;
			j++;
			continue;
		}
		/* At the referencing line, as every cross-file error. */
		s->diags = xrealloc(s->diags, (s->n_diags + 1) * sizeof(*s->diags));
		s->diags[s->n_diags++] = (struct spec_diag){
			.file = xstrdup(vm->path),
			.line = vm->image_mark.line ? vm->image_mark.line : 1,
			.col = vm->image_mark.col ? vm->image_mark.col : 1,
			.msg = xasprintf("image '%s' cannot be used: %s", image, msg),
		};
		s->held_vms = strv_append(s->held_vms, vm->name);
		vm_spec_done(vm);
		held++;
	}
	s->n_vms = j;
	if (held)
		qsort(s->held_vms, strv_length(s->held_vms), sizeof(char *), cmp_name);
	return held;
}
