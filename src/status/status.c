/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Status files: one flat YAML mapping per VM, written whole and atomically
 * (util/fileio), parsed back with libyaml and validated field by field.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

static const char *const phase_names[_VM_PHASE_MAX] = {
	[VM_PHASE_CREATING] = "creating", [VM_PHASE_STOPPED] = "stopped",
	[VM_PHASE_RUNNING] = "running",	  [VM_PHASE_FAILED] = "failed",
	[VM_PHASE_DELETING] = "deleting",
};
static const char *const strategy_names[_DISK_STRATEGY_MAX] = {
	[DISK_STRATEGY_AUTO] = "auto",
	[DISK_STRATEGY_DM_SNAPSHOT] = "dm-snapshot",
	[DISK_STRATEGY_REFLINK] = "reflink",
	[DISK_STRATEGY_COPY] = "copy",
};
static const char *const hypervisor_names[_HYPERVISOR_MAX] = {
	[HYPERVISOR_FIRECRACKER] = "firecracker",
	[HYPERVISOR_QEMU] = "qemu",
};
static const char *const state_names[_VM_STATE_MAX] = {
	[VM_STATE_RUNNING] = "running",
	[VM_STATE_STOPPED] = "stopped",
};
static const char *const on_delete_names[_ON_DELETE_MAX] = {
	[ON_DELETE_RETAIN] = "retain",
	[ON_DELETE_PURGE] = "purge",
};

static int
lookup(const char *const *table, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (table[i] && strcmp(table[i], s) == 0)
			return i;
	return -EINVAL;
}

const char *
vm_phase_to_string(enum vm_phase p)
{
	return p >= 0 && p < _VM_PHASE_MAX ? phase_names[p] : NULL;
}

enum vm_phase
vm_phase_from_string(const char *s)
{
	return (enum vm_phase)lookup(phase_names, _VM_PHASE_MAX, s);
}

const char *
status_strategy_to_string(enum disk_strategy s)
{
	return s >= 0 && s < _DISK_STRATEGY_MAX ? strategy_names[s] : NULL;
}

const char *
status_hypervisor_to_string(enum hypervisor_kind k)
{
	return k >= 0 && k < _HYPERVISOR_MAX ? hypervisor_names[k] : NULL;
}

const char *
status_state_to_string(enum vm_state s)
{
	return s >= 0 && s < _VM_STATE_MAX ? state_names[s] : NULL;
}

const char *
status_on_delete_to_string(enum on_delete o)
{
	return o >= 0 && o < _ON_DELETE_MAX ? on_delete_names[o] : NULL;
}

void
vm_status_done(struct vm_status *s)
{
	if (!s)
		return;
	free(s->name);
	free(s->intent);
	free(s->api_socket);
	free(s->root_device);
	free(s->image_rootfs);
	free(s->work_path);
	free(s->applied.image);
	free(s->applied.kernel_args);
	free(s->source_commit);
	free(s->workspace_commit);
	free(s->last_error);
	memset(s, 0, sizeof(*s));
}

struct vm_status *
vm_status_free(struct vm_status *s)
{
	vm_status_done(s);
	free(s);
	return NULL;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
vm_status_copy(struct vm_status *dst, const struct vm_status *src)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->intent = dup_or_null(src->intent);
	dst->api_socket = dup_or_null(src->api_socket);
	dst->root_device = dup_or_null(src->root_device);
	dst->image_rootfs = dup_or_null(src->image_rootfs);
	dst->work_path = dup_or_null(src->work_path);
	dst->applied.image = dup_or_null(src->applied.image);
	dst->applied.kernel_args = dup_or_null(src->applied.kernel_args);
	dst->source_commit = dup_or_null(src->source_commit);
	dst->workspace_commit = dup_or_null(src->workspace_commit);
	dst->last_error = dup_or_null(src->last_error);
}

char *
status_path(const char *status_dir, const char *name)
{
	return xasprintf("%s/vms/%s.yaml", status_dir, name);
}

char *
status_vm_dir(const char *status_dir, const char *name)
{
	return xasprintf("%s/vms/%s", status_dir, name);
}

char *
status_api_socket(const char *status_dir, const char *name)
{
	return xasprintf("%s/vms/%s/api.sock", status_dir, name);
}

char *
status_console_log(const char *status_dir, const char *name)
{
	return xasprintf("%s/vms/%s/console.log", status_dir, name);
}

char *
status_work_path(const char *status_dir, const char *name)
{
	return xasprintf("%s/vms/%s/work.ext4", status_dir, name);
}

char *
status_retained_path(const char *status_dir, const char *name, const char *id)
{
	return xasprintf("%s/retained/%s-%s.ext4", status_dir, name, id);
}

int
mac_parse(const char *s, uint8_t ret[6])
{
	uint8_t m[6];

	if (!s || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int j = 0; j < 2; j++) {
			char c = s[i * 3 + j];

			if (c >= '0' && c <= '9')
				v = v * 16 + (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v = v * 16 + (unsigned)(c - 'a' + 10);
			else if (c >= 'A' && c <= 'F')
				v = v * 16 + (unsigned)(c - 'A' + 10);
			else
				return -EINVAL;
		}
		if (i < 5 && s[i * 3 + 2] != ':')
			return -EINVAL;
		m[i] = (uint8_t)v;
	}
	memcpy(ret, m, 6);
	return 0;
}


void
size_format(uint64_t b, char out[32])
{
	if (b && b % (1ULL << 40) == 0)
		snprintf(out, 32, "%" PRIu64 "T", b >> 40);
	else if (b && b % (1ULL << 30) == 0)
		snprintf(out, 32, "%" PRIu64 "G", b >> 30);
	else if (b && b % (1ULL << 20) == 0)
		snprintf(out, 32, "%" PRIu64 "M", b >> 20);
	else if (b && b % (1ULL << 10) == 0)
		snprintf(out, 32, "%" PRIu64 "K", b >> 10);
	else
		snprintf(out, 32, "%" PRIu64, b);
}

/* Length of the valid UTF-8 sequence at p, 0 when invalid. */
static size_t
utf8_len(const unsigned char *p)
{
	size_t n;

	if (*p < 0x80)
		return 1;
	if ((*p & 0xe0) == 0xc0 && *p >= 0xc2)
		n = 2;
	else if ((*p & 0xf0) == 0xe0)
		n = 3;
	else if ((*p & 0xf8) == 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* A YAML double-quoted scalar: every byte outside printable ASCII escaped. */
/* The code point of the n-byte UTF-8 sequence at p (utf8_len checked it). */
static uint32_t
utf8_decode(const unsigned char *p, size_t n)
{
	uint32_t cp = n == 2 ? p[0] & 0x1f : n == 3 ? p[0] & 0x0f : p[0] & 0x07;

	for (size_t i = 1; i < n; i++)
		cp = cp << 6 | (p[i] & 0x3f);
	return cp;
}

static void
put_str(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s: ", key);
	if (!v) {
		fputs("null\n", f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		size_t n, plain = 0;

		/* A run of printable ASCII in one write (records are formatted
		 * several times per step: see apply's save). */
		while (p[plain] >= 0x20 && p[plain] < 0x7f && p[plain] != '"' && p[plain] != '\\')
			plain++;
		if (plain) {
			fwrite(p, 1, plain, f);
			p += plain - 1;
			continue;
		}
		n = utf8_len(p);
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else if (*p < 0x80)
			fputc(*p, f);
		else if (n) {
			uint32_t cp = utf8_decode(p, n);

			/* C1 controls, the YAML 1.1 line breaks (NEL, LS, PS) and the
			 * BOM would be folded or refused by the reader: escape them so
			 * the text reads back as written. */
			if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
			    cp == 0xfeff || cp == 0xfffe || cp == 0xffff)
				fprintf(f, "\\u%04x", (unsigned)cp);
			else
				fwrite(p, 1, n, f);
			p += n - 1;
		} else {
			/* Not UTF-8 (a YAML file must be): keep the text readable. */
			fputc('?', f);
		}
	}
	fputs("\"\n", f);
}

static void
put_u64(FILE *f, const char *key, uint64_t v)
{
	fprintf(f, "%s: %" PRIu64 "\n", key, v);
}

static void
put_bool(FILE *f, const char *key, bool v)
{
	fprintf(f, "%s: %s\n", key, v ? "true" : "false");
}

char *
status_format(const struct vm_status *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char ip[16], mac[18];

	if (!f)
		abort();
	fprintf(f, "# banger status of vm '%s': written by banger, do not edit\n", s->name);
	put_str(f, "name", s->name);
	put_str(f, "id", s->id);
	put_str(f, "generation", s->generation);
	put_str(f, "phase", vm_phase_to_string(s->phase));
	put_str(f, "intent", s->intent);
	put_str(f, "tap", s->tap);
	mac_format(s->mac, mac);
	put_str(f, "mac", s->has_mac ? mac : NULL);
	ipv4_format(s->ip, ip);
	put_str(f, "ip", s->ip ? ip : NULL);
	put_u64(f, "pid", (uint64_t)s->pid);
	put_str(f, "api_socket", s->api_socket);
	put_str(f, "disk_strategy", status_strategy_to_string(s->disk_strategy));
	put_str(f, "dm_name", s->dm_name);
	put_str(f, "root_device", s->root_device);
	put_str(f, "image_rootfs", s->image_rootfs);
	put_bool(f, "root_ready", s->root_ready);
	put_str(f, "work_path", s->work_path);
	put_bool(f, "work_ready", s->work_ready);
	put_bool(f, "seeded", s->seeded);
	put_str(f, "applied_state", status_state_to_string(s->applied.state));
	put_u64(f, "applied_vcpus", s->applied.vcpus);
	put_u64(f, "applied_memory", s->applied.memory);
	put_str(f, "applied_hypervisor", status_hypervisor_to_string(s->applied.hypervisor));
	put_str(f, "applied_image", s->applied.image);
	put_str(f, "applied_image_hash", s->applied.image_hash);
	put_str(f, "applied_kernel_args", s->applied.kernel_args);
	put_u64(f, "applied_system_overlay", s->applied.system_overlay);
	put_u64(f, "applied_work_disk", s->applied.work_disk);
	put_bool(f, "applied_nat", s->applied.nat);
	put_str(f, "applied_seed_hash", s->applied.seed_hash);
	put_str(f, "on_delete", status_on_delete_to_string(s->applied.on_delete));
	put_str(f, "source_commit", s->source_commit);
	put_str(f, "workspace_commit", s->workspace_commit);
	put_str(f, "last_error", s->last_error);
	put_u64(f, "created_ms", s->created_ms);
	put_u64(f, "updated_ms", s->updated_ms);
	put_u64(f, "started_ms", s->started_ms);
	if (s->cpu_sample_ms) {
		put_u64(f, "cpu_ticks", s->cpu_ticks);
		put_u64(f, "cpu_start_ticks", s->cpu_start_ticks);
		put_u64(f, "cpu_sample_ms", s->cpu_sample_ms);
		if (s->cpu_permille >= 0)
			put_u64(f, "cpu_permille", (uint64_t)s->cpu_permille);
	}
	if (s->idle_since_ms)
		put_u64(f, "idle_since_ms", s->idle_since_ms);
	if (s->stopped_idle) {
		put_str(f, "stopped_reason", "idle");
		put_u64(f, "stopped_ms", s->stopped_ms);
		put_str(f, "stopped_generation", s->stopped_generation);
	}
	put_u64(f, "spawned_ms", s->spawned_ms);
	/* Optional: records written before it was kept lack it. */
	if (s->applied.root_hash[0])
		put_str(f, "applied_root_hash", s->applied.root_hash);
	if (s->work_size)	/* likewise */
		put_u64(f, "work_size", s->work_size);
	/* Lets a reader tell a whole file from a truncated one. */
	fputs("end: true\n", f);
	if (fclose(f) != 0)
		abort();
	return buf;
}

/* Field parsers: v is the scalar, or NULL for a YAML null. */
static int
parse_u64(const char *v, uint64_t *ret)
{
	char *end;
	unsigned long long x;

	if (!v || !*v || *v == '-')
		return -EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*ret = x;
	return 0;
}

static int
parse_bool(const char *v, bool *ret)
{
	if (v && strcmp(v, "true") == 0)
		*ret = true;
	else if (v && strcmp(v, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

static int
parse_hex(const char *v, char *out, size_t len, bool allow_empty)
{
	if (!v)
		return -EINVAL;
	if (!*v && allow_empty) {
		out[0] = '\0';
		return 0;
	}
	if (strlen(v) != len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			return -EINVAL;
	memcpy(out, v, len + 1);
	return 0;
}

static int
parse_path(const char *v, char **ret)
{
	if (!v) {
		free(*ret);
		*ret = NULL;
		return 0;
	}
	if (v[0] != '/' || strstr(v, "/../") || strlen(v) > 4096)
		return -EINVAL;
	free(*ret);
	*ret = xstrdup(v);
	return 0;
}

static int
parse_text(const char *v, char **ret)
{
	free(*ret);
	*ret = v ? xstrdup(v) : NULL;
	return 0;
}

/* Every field, in the order status_format writes them. */
enum status_field {
	F_NAME,
	F_ID,
	F_GENERATION,
	F_PHASE,
	F_INTENT,
	F_TAP,
	F_MAC,
	F_IP,
	F_PID,
	F_API_SOCKET,
	F_DISK_STRATEGY,
	F_DM_NAME,
	F_ROOT_DEVICE,
	F_IMAGE_ROOTFS,
	F_ROOT_READY,
	F_WORK_PATH,
	F_WORK_READY,
	F_SEEDED,
	F_APPLIED_STATE,
	F_APPLIED_VCPUS,
	F_APPLIED_MEMORY,
	F_APPLIED_HYPERVISOR,
	F_APPLIED_IMAGE,
	F_APPLIED_IMAGE_HASH,
	F_APPLIED_KERNEL_ARGS,
	F_APPLIED_SYSTEM_OVERLAY,
	F_APPLIED_WORK_DISK,
	F_APPLIED_NAT,
	F_APPLIED_SEED_HASH,
	F_ON_DELETE,
	F_SOURCE_COMMIT,
	F_WORKSPACE_COMMIT,
	F_LAST_ERROR,
	F_CREATED_MS,
	F_UPDATED_MS,
	F_STARTED_MS,
	F_CPU_TICKS,
	F_CPU_START_TICKS,
	F_CPU_SAMPLE_MS,
	F_CPU_PERMILLE,
	F_IDLE_SINCE_MS,
	F_STOPPED_REASON,
	F_STOPPED_MS,
	F_STOPPED_GENERATION,
	F_SPAWNED_MS,
	F_APPLIED_ROOT_HASH,
	F_WORK_SIZE,
	F_END,
	_F_MAX,
};
_Static_assert(_F_MAX <= 64, "the fields seen are a 64-bit mask");
static const char *const field_names[_F_MAX] = {
	[F_NAME] = "name",
	[F_ID] = "id",
	[F_GENERATION] = "generation",
	[F_PHASE] = "phase",
	[F_INTENT] = "intent",
	[F_TAP] = "tap",
	[F_MAC] = "mac",
	[F_IP] = "ip",
	[F_PID] = "pid",
	[F_API_SOCKET] = "api_socket",
	[F_DISK_STRATEGY] = "disk_strategy",
	[F_DM_NAME] = "dm_name",
	[F_ROOT_DEVICE] = "root_device",
	[F_IMAGE_ROOTFS] = "image_rootfs",
	[F_ROOT_READY] = "root_ready",
	[F_WORK_PATH] = "work_path",
	[F_WORK_READY] = "work_ready",
	[F_SEEDED] = "seeded",
	[F_APPLIED_STATE] = "applied_state",
	[F_APPLIED_VCPUS] = "applied_vcpus",
	[F_APPLIED_MEMORY] = "applied_memory",
	[F_APPLIED_HYPERVISOR] = "applied_hypervisor",
	[F_APPLIED_IMAGE] = "applied_image",
	[F_APPLIED_IMAGE_HASH] = "applied_image_hash",
	[F_APPLIED_KERNEL_ARGS] = "applied_kernel_args",
	[F_APPLIED_SYSTEM_OVERLAY] = "applied_system_overlay",
	[F_APPLIED_WORK_DISK] = "applied_work_disk",
	[F_APPLIED_NAT] = "applied_nat",
	[F_APPLIED_SEED_HASH] = "applied_seed_hash",
	[F_ON_DELETE] = "on_delete",
	[F_SOURCE_COMMIT] = "source_commit",
	[F_WORKSPACE_COMMIT] = "workspace_commit",
	[F_LAST_ERROR] = "last_error",
	[F_CREATED_MS] = "created_ms",
	[F_UPDATED_MS] = "updated_ms",
	[F_STARTED_MS] = "started_ms",
	[F_CPU_TICKS] = "cpu_ticks",
	[F_CPU_START_TICKS] = "cpu_start_ticks",
	[F_CPU_SAMPLE_MS] = "cpu_sample_ms",
	[F_CPU_PERMILLE] = "cpu_permille",
	[F_IDLE_SINCE_MS] = "idle_since_ms",
	[F_STOPPED_REASON] = "stopped_reason",
	[F_STOPPED_MS] = "stopped_ms",
	[F_STOPPED_GENERATION] = "stopped_generation",
	[F_SPAWNED_MS] = "spawned_ms",
	[F_APPLIED_ROOT_HASH] = "applied_root_hash",
	[F_WORK_SIZE] = "work_size",
	[F_END] = "end",
};

/* The field named k, or -1; hint: the one expected next (files are read in
 * the order they were written, so this rarely scans). */
static int
field_lookup(const char *k, int hint)
{
	if (hint >= 0 && hint < _F_MAX && strcmp(field_names[hint], k) == 0)
		return hint;
	for (int i = 0; i < _F_MAX; i++)
		if (strcmp(field_names[i], k) == 0)
			return i;
	return -1;
}

static int
set_field(struct vm_status *s, int field, const char *v, unsigned *seen)
{
	uint64_t u;
	int r;

	switch (field) {
	case F_NAME: {
		if (!v || !name_is_dns_label(v))
			return -EINVAL;
		free(s->name);
		s->name = xstrdup(v);
		*seen |= 1;
		return 0;
	}
	case F_ID: {
		if (!v || (*v && !name_is_vm_id(v)))
			return -EINVAL;
		snprintf(s->id, sizeof(s->id), "%s", v);
		*seen |= 2;
		return 0;
	}
	case F_END: {
		*seen |= 4;
		return parse_bool(v, &(bool){ false });
	}
	case F_GENERATION:
		return parse_hex(v, s->generation, 64, true);
	case F_PHASE: {
		r = vm_phase_from_string(v);
		if (r < 0)
			return r;
		s->phase = (enum vm_phase)r;
		*seen |= 8;
		return 0;
	}
	case F_INTENT:
		return parse_text(v, &s->intent);
	case F_TAP: {
		if (!v || (*v && (strncmp(v, TAP_PREFIX, strlen(TAP_PREFIX)) != 0 || strlen(v) > 15)))
			return -EINVAL;
		snprintf(s->tap, sizeof(s->tap), "%s", v);
		return 0;
	}
	case F_MAC: {
		s->has_mac = v != NULL;
		return v ? mac_parse(v, s->mac) : 0;
	}
	case F_IP: {
		s->ip = 0;
		return v ? ipv4_parse(v, &s->ip) : 0;
	}
	case F_PID: {
		r = parse_u64(v, &u);
		if (r < 0 || u > INT32_MAX)
			return -EINVAL;
		s->pid = (pid_t)u;
		return 0;
	}
	case F_API_SOCKET:
		return parse_path(v, &s->api_socket);
	case F_DISK_STRATEGY: {
		r = lookup(strategy_names, _DISK_STRATEGY_MAX, v);
		if (r < 0)
			return r;
		s->disk_strategy = (enum disk_strategy)r;
		return 0;
	}
	case F_DM_NAME: {
		if (!v || (*v && (strncmp(v, DM_PREFIX, strlen(DM_PREFIX)) != 0 || strlen(v) > 19)))
			return -EINVAL;
		snprintf(s->dm_name, sizeof(s->dm_name), "%s", v);
		return 0;
	}
	case F_ROOT_DEVICE:
		return parse_path(v, &s->root_device);
	case F_IMAGE_ROOTFS:
		return parse_path(v, &s->image_rootfs);
	case F_ROOT_READY:
		return parse_bool(v, &s->root_ready);
	case F_WORK_PATH:
		return parse_path(v, &s->work_path);
	case F_WORK_READY:
		return parse_bool(v, &s->work_ready);
	case F_SEEDED:
		return parse_bool(v, &s->seeded);
	case F_APPLIED_STATE: {
		r = lookup(state_names, _VM_STATE_MAX, v);
		if (r < 0)
			return r;
		s->applied.state = (enum vm_state)r;
		return 0;
	}
	case F_APPLIED_VCPUS: {
		r = parse_u64(v, &u);
		if (r < 0 || u > 1024)
			return -EINVAL;
		s->applied.vcpus = (unsigned)u;
		return 0;
	}
	case F_APPLIED_MEMORY:
		return parse_u64(v, &s->applied.memory);
	case F_APPLIED_HYPERVISOR: {
		r = lookup(hypervisor_names, _HYPERVISOR_MAX, v);
		if (r < 0)
			return r;
		s->applied.hypervisor = (enum hypervisor_kind)r;
		return 0;
	}
	case F_APPLIED_IMAGE: {
		if (v && !name_is_dns_label(v))
			return -EINVAL;
		return parse_text(v, &s->applied.image);
	}
	case F_APPLIED_IMAGE_HASH:
		return parse_hex(v, s->applied.image_hash, 64, true);
	case F_APPLIED_ROOT_HASH:
		return parse_hex(v, s->applied.root_hash, 64, true);
	case F_APPLIED_KERNEL_ARGS:
		return parse_text(v, &s->applied.kernel_args);
	case F_APPLIED_SYSTEM_OVERLAY:
		return parse_u64(v, &s->applied.system_overlay);
	case F_APPLIED_WORK_DISK:
		return parse_u64(v, &s->applied.work_disk);
	case F_APPLIED_NAT:
		return parse_bool(v, &s->applied.nat);
	case F_APPLIED_SEED_HASH:
		return parse_hex(v, s->applied.seed_hash, 64, true);
	case F_ON_DELETE: {
		r = lookup(on_delete_names, _ON_DELETE_MAX, v);
		if (r < 0)
			return r;
		s->applied.on_delete = (enum on_delete)r;
		return 0;
	}
	case F_SOURCE_COMMIT:
		return parse_text(v, &s->source_commit);
	case F_WORKSPACE_COMMIT:
		return parse_text(v, &s->workspace_commit);
	case F_LAST_ERROR:
		return parse_text(v, &s->last_error);
	case F_CREATED_MS:
		return parse_u64(v, &s->created_ms);
	case F_UPDATED_MS:
		return parse_u64(v, &s->updated_ms);
	case F_STARTED_MS:
		return parse_u64(v, &s->started_ms);
	case F_CPU_TICKS:
		return parse_u64(v, &s->cpu_ticks);
	case F_CPU_START_TICKS:
		return parse_u64(v, &s->cpu_start_ticks);
	case F_CPU_SAMPLE_MS:
		return parse_u64(v, &s->cpu_sample_ms);
	case F_CPU_PERMILLE: {
		r = parse_u64(v, &u);
		if (r < 0 || u > 1000000)
			return -EINVAL;
		s->cpu_permille = (int)u;
		return 0;
	}
	case F_IDLE_SINCE_MS:
		return parse_u64(v, &s->idle_since_ms);
	case F_STOPPED_REASON: {
		if (!v || strcmp(v, "idle") != 0)
			return -EINVAL;
		s->stopped_idle = true;
		return 0;
	}
	case F_STOPPED_MS:
		return parse_u64(v, &s->stopped_ms);
	case F_STOPPED_GENERATION:
		return parse_hex(v, s->stopped_generation, 64, true);
	case F_WORK_SIZE:
		return parse_u64(v, &s->work_size);
	case F_SPAWNED_MS:
		return parse_u64(v, &s->spawned_ms);
	default:
		return -ENOKEY;
	}
}

/* The fields status_format always writes: a file missing one is not a whole
 * file banger wrote (an edit, a bad merge, a disk error), and is corrupt. */
#define REQUIRED_FIELDS (((UINT64_C(1) << (F_STARTED_MS + 1)) - 1) | (UINT64_C(1) << F_END))

/* The first required field missing from have, or -1. */
static int
missing_field(uint64_t have)
{
	for (int i = 0; i < _F_MAX; i++)
		if ((REQUIRED_FIELDS & ~have) & UINT64_C(1) << i)
			return i;
	return -1;
}

/* The names derived from the id must be the ones the id gives. */
static const char *
inconsistent(const struct vm_status *s)
{
	char tap[16], dm[20];

	if (!s->id[0])
		return s->tap[0] || s->dm_name[0] ? "tap or dm_name without an id" : NULL;
	name_tap_from_id(s->id, tap);
	if (s->tap[0] && strcmp(s->tap, tap) != 0)
		return "tap does not derive from id";
	name_dm_from_id(s->id, dm);
	if (s->dm_name[0] && strcmp(s->dm_name, dm) != 0)
		return "dm_name does not derive from id";
	return NULL;
}

static bool
is_null_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;

	return ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (strcmp(v, "null") == 0 || strcmp(v, "~") == 0 || !*v);
}

/*
 * The shape status_format writes, read without libyaml: a first comment line,
 * then one "key: value" line per field, each value null, true, false, decimal
 * digits or a double-quoted string of printable ASCII with no escape.  Every
 * file banger wrote from ASCII text has that shape, and reading it is the
 * bulk of a no-op reconcile on a host with many VMs.  Anything else (an
 * escape, non-ASCII text, a field repeated or refused, a missing one) returns
 * -EAGAIN without judging the file: status_parse then reads it with libyaml,
 * which gives the same result for every file this accepts (the status fuzz
 * target checks that on every input) and words the errors.
 */
int
status_parse_fast(const char *text, size_t len, struct vm_status *ret)
{
	struct vm_status s = { 0 };
	_cleanup_free_ char *buf = NULL;
	unsigned seen = 0;
	uint64_t have = 0;
	int next = 0;
	char *p, *end;

	if (len < 2 || text[0] != '#' || text[len - 1] != '\n')
		return -EAGAIN;
	buf = xstrndup(text, len);
	if (strlen(buf) != len)
		return -EAGAIN;
	end = buf + len;
	s.cpu_permille = -1;

	/* The comment line: printable ASCII only (libyaml refuses some bytes). */
	for (p = buf; *p != '\n'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			return -EAGAIN;
	for (p++; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *k = p, *v;
		size_t klen, vlen;
		int i;

		*nl = '\0';
		for (v = k; (*v >= 'a' && *v <= 'z') || *v == '_'; v++)
			;
		klen = (size_t)(v - k);
		if (!klen || v[0] != ':' || v[1] != ' ')
			goto slow;
		*v = '\0';
		v += 2;
		vlen = (size_t)(nl - v);
		if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
			v[vlen - 1] = '\0';
			for (char *c = ++v; *c; c++)
				if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e || *c == '"' ||
				    *c == '\\')
					goto slow;
		} else if (strcmp(v, "null") == 0) {
			v = NULL;
		} else if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0) {
			if (!vlen || vlen > 20 || strspn(v, "0123456789") != vlen)
				goto slow;
		}

		/* Fields come in the order status_format writes them. */
		i = field_lookup(k, next);
		if (i < 0 || (have & UINT64_C(1) << i))
			goto slow;
		have |= UINT64_C(1) << i;
		next = i + 1;
		if (set_field(&s, i, v, &seen) < 0)
			goto slow;
		p = nl + 1;
	}
	if ((seen & 15) != 15)
		goto slow;
	if (missing_field(have) >= 0)
		goto slow;
	if (inconsistent(&s))
		goto slow;
	*ret = s;
	return 0;
slow:
	vm_status_done(&s);
	return -EAGAIN;
}

int
status_parse(const char *text, size_t len, const char *path, struct vm_status *ret,
	     struct error **err)
{
	if (status_parse_fast(text, len, ret) == 0)
		return 0;
	return status_parse_yaml(text, len, path, ret, err);
}

int
status_parse_yaml(const char *text, size_t len, const char *path, struct vm_status *ret,
		  struct error **err)
{
	yaml_parser_t parser;
	struct vm_status s = { 0 };
	_cleanup_free_ char *key = NULL;
	unsigned seen = 0;
	uint64_t have = 0;
	int depth = 0, r = 0, key_field = -1;
	bool done = false;

	s.cpu_permille = -1;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev)) {
			r = error_set_at(err, -EBADMSG, path, (unsigned)parser.problem_mark.line + 1,
					 (unsigned)parser.problem_mark.column + 1, "%s",
					 parser.problem ? parser.problem : "unparsable");
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_MAPPING_START_EVENT:
			if (++depth > 1)
				r = error_set_at(err, -EBADMSG, path, (unsigned)ev.start_mark.line + 1,
						 (unsigned)ev.start_mark.column + 1,
						 "nested mapping not expected");
			break;
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_ALIAS_EVENT:
			r = error_set_at(err, -EBADMSG, path, (unsigned)ev.start_mark.line + 1,
					 (unsigned)ev.start_mark.column + 1, "scalar expected");
			break;
		case YAML_SCALAR_EVENT:
			if (depth != 1) {
				r = error_set(err, -EBADMSG, "%s: mapping expected", path);
				break;
			}
			if (!key) {
				key = xstrdup((const char *)ev.data.scalar.value);
				key_field = field_lookup(key, key_field + 1);
				if (key_field >= 0 && (have & (UINT64_C(1) << key_field)))
					r = error_set_at(err, -EBADMSG, path,
							 (unsigned)ev.start_mark.line + 1,
							 (unsigned)ev.start_mark.column + 1,
							 "field '%s' repeated", key);
				else if (key_field >= 0)
					have |= UINT64_C(1) << key_field;
				break;
			}
			r = set_field(&s, key_field,
				      is_null_scalar(&ev) ? NULL : (const char *)ev.data.scalar.value,
				      &seen);
			if (r == -ENOKEY)
				r = error_set_at(err, -EBADMSG, path, (unsigned)ev.start_mark.line + 1,
						 (unsigned)ev.start_mark.column + 1, "unknown field '%s'",
						 key);
			else if (r < 0)
				r = error_set_at(err, -EBADMSG, path, (unsigned)ev.start_mark.line + 1,
						 (unsigned)ev.start_mark.column + 1,
						 "bad value for '%s'", key);
			free(TAKE_PTR(key));
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r < 0)
			break;
	}
	yaml_parser_delete(&parser);
	if (r == 0 && (seen & 15) != 15)
		r = error_set(err, -EBADMSG, "%s: %s", path,
			      !(seen & 4) ? "truncated (no end marker)" : "name, id or phase missing");
	if (r == 0 && missing_field(have) >= 0)
		r = error_set(err, -EBADMSG, "%s: field '%s' missing", path,
			      field_names[missing_field(have)]);
	if (r == 0 && inconsistent(&s))
		r = error_set(err, -EBADMSG, "%s: %s", path, inconsistent(&s));
	if (r < 0) {
		vm_status_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static int
status_write_whole(const char *status_dir, const struct vm_status *s, bool durable,
		   struct error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/vms", status_dir);
	_cleanup_free_ char *path = status_path(status_dir, s->name);
	_cleanup_free_ char *text = status_format(s);
	int r;

	r = mkdir_p(dir, 0700);
	if (r < 0)
		return error_set(err, r, "status directory '%s': %s", dir, strerror(-r));
	/* Status files are written under the run lock only: a fixed temp name. */
	r = durable ? write_file_atomic_fixed(path, text, strlen(text), 0600)
		    : write_file_replace_fixed(path, text, strlen(text), 0600);
	if (r < 0)
		return error_set(err, r, "status file '%s': %s", path, strerror(-r));
	return 0;
}

int
status_write(const char *status_dir, const struct vm_status *s, struct error **err)
{
	return status_write_whole(status_dir, s, true, err);
}

int
status_write_nosync(const char *status_dir, const struct vm_status *s, struct error **err)
{
	return status_write_whole(status_dir, s, false, err);
}

int
status_sync(const char *status_dir, char *const *names, struct error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/vms", status_dir);
	_cleanup_close_ int dfd = -EBADF;

	if (!names || !names[0])
		return 0;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return error_set(err, -errno, "sync '%s': %s", dir, strerror(errno));
	for (size_t i = 0; names[i]; i++) {
		_cleanup_free_ char *file = xasprintf("%s.yaml", names[i]);
		_cleanup_close_ int fd = openat(dfd, file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		/* Removed (the VM is gone): the directory's sync covers it. */
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0 || fsync(fd) < 0)
			return error_set(err, -errno, "sync '%s/%s': %s", dir, file, strerror(errno));
	}
	if (fsync(dfd) < 0)
		return error_set(err, -errno, "sync '%s': %s", dir, strerror(errno));
	return 0;
}

int
status_read(const char *status_dir, const char *name, struct vm_status *ret, struct error **err)
{
	_cleanup_free_ char *path = status_path(status_dir, name);
	_cleanup_free_ char *data = NULL;
	struct vm_status s;
	size_t len = 0;
	int r;

	r = read_file(path, STATUS_FILE_MAX, &data, &len);
	if (r == -ENOENT)
		return r;
	if (r == -EFBIG)
		return error_set(err, -EBADMSG, "%s: too large", path);
	if (r < 0)
		return error_set(err, r, "%s: %s", path, strerror(-r));
	r = status_parse(data, len, path, &s, err);
	if (r < 0)
		return r;
	if (strcmp(s.name, name) != 0) {
		r = error_set(err, -EBADMSG, "%s: names vm '%s'", path, s.name);
		vm_status_done(&s);
		return r;
	}
	*ret = s;
	return 0;
}

static int
status_remove_whole(const char *status_dir, const char *name, bool durable,
		    struct error **err)
{
	_cleanup_free_ char *path = status_path(status_dir, name);
	_cleanup_free_ char *tmp = xasprintf("%s.tmp", path);
	int r;

	/* A temp file a killed writer left goes with the record. */
	(void)unlink(tmp);
	if (unlink(path) < 0 && errno != ENOENT) {
		r = -errno;
		return error_set(err, r, "%s: %s", path, strerror(-r));
	}
	if (!durable)
		return 0;
	r = fsync_parent_dir(path);
	if (r < 0 && r != -ENOENT)
		return error_set(err, r, "%s: %s", path, strerror(-r));
	return 0;
}

int
status_remove(const char *status_dir, const char *name, struct error **err)
{
	return status_remove_whole(status_dir, name, true, err);
}

int
status_remove_nosync(const char *status_dir, const char *name, struct error **err)
{
	return status_remove_whole(status_dir, name, false, err);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* status_list, and the temp files of records in *ret_temps when not NULL. */
static int
list_records(const char *status_dir, char ***ret, char ***ret_temps, struct error **err)
{
	_cleanup_free_ char *dir = xasprintf("%s/vms", status_dir);
	_cleanup_strv_free_ char **names = NULL;
	size_t n_names = 0;
	DIR *d;
	struct dirent *de;

	d = opendir(dir);
	if (!d) {
		if (errno != ENOENT)
			return error_set(err, -errno, "%s: %s", dir, strerror(errno));
		*ret = strv_copy(NULL);
		return 0;
	}
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		_cleanup_free_ char *stem = NULL;

		if (ret_temps && n > 9 && strcmp(de->d_name + n - 9, ".yaml.tmp") == 0) {
			*ret_temps = strv_append_take(*ret_temps,
						      xasprintf("%s/%s", dir, de->d_name));
			continue;
		}
		if (n <= 5 || strcmp(de->d_name + n - 5, ".yaml") != 0)
			continue;
		stem = xstrndup(de->d_name, n - 5);
		if (name_is_dns_label(stem))
			names = strv_push(names, &n_names, stem);
	}
	closedir(d);
	if (!names)
		names = strv_copy(NULL);
	qsort(names, n_names, sizeof(char *), cmp_str);
	*ret = TAKE_PTR(names);
	return 0;
}

int
status_list(const char *status_dir, char ***ret, struct error **err)
{
	return list_records(status_dir, ret, NULL, err);
}

int
status_snapshot_read(const char *status_dir, struct status_snapshot **ret, struct error **err)
{
	_cleanup_strv_free_ char **names = NULL, **temps = NULL;
	struct status_snapshot *snap;
	int r;

	r = list_records(status_dir, &names, &temps, err);
	if (r < 0)
		return r;
	snap = xcalloc(1, sizeof(*snap));
	snap->stale_temps = TAKE_PTR(temps);
	snap->n = strv_length(names);
	snap->entries = xcalloc(snap->n + 1, sizeof(*snap->entries));
	for (size_t i = 0; i < snap->n; i++) {
		struct status_entry *e = &snap->entries[i];
		struct error *er = NULL;

		e->name = TAKE_PTR(names[i]);
		e->r = status_read(status_dir, e->name, &e->status, &er);
		if (e->r < 0) {
			e->status = (struct vm_status){ 0 };
			e->error = er ? error_format(er) : xstrdup(strerror(-e->r));
			error_free(er);
		}
	}
	*ret = snap;
	return 0;
}

struct status_snapshot *
status_snapshot_free(struct status_snapshot *s)
{
	if (!s)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		free(s->entries[i].name);
		free(s->entries[i].error);
		if (s->entries[i].r == 0)
			vm_status_done(&s->entries[i].status);
	}
	free(s->entries);
	strv_free(s->stale_temps);
	free(s);
	return NULL;
}
