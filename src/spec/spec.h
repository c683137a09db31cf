/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The declared state: YAML (libyaml) into a plain C model, validated, with
 * defaults applied.  No host access, no driver headers.
 */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "source/source.h"
#include "util/error.h"

#define SIZE_MAX_DISK (128ULL << 30)
#define MEMORY_MIN (128ULL << 20)

enum hypervisor_kind {
	HYPERVISOR_FIRECRACKER,
	HYPERVISOR_QEMU,
	_HYPERVISOR_MAX,
	_HYPERVISOR_INVALID = -EINVAL,
};

enum qemu_accel {
	QEMU_ACCEL_AUTO,
	QEMU_ACCEL_KVM,
	QEMU_ACCEL_TCG,
	_QEMU_ACCEL_MAX,
	_QEMU_ACCEL_INVALID = -EINVAL,
};

enum disk_strategy {
	DISK_STRATEGY_AUTO,
	DISK_STRATEGY_DM_SNAPSHOT,
	DISK_STRATEGY_REFLINK,
	DISK_STRATEGY_COPY,
	_DISK_STRATEGY_MAX,
	_DISK_STRATEGY_INVALID = -EINVAL,
};

enum vm_state {
	VM_STATE_RUNNING,
	VM_STATE_STOPPED,
	_VM_STATE_MAX,
	_VM_STATE_INVALID = -EINVAL,
};

enum on_delete {
	ON_DELETE_RETAIN,
	ON_DELETE_PURGE,
	_ON_DELETE_MAX,
	_ON_DELETE_INVALID = -EINVAL,
};

const char *hypervisor_kind_to_string(enum hypervisor_kind k);
enum hypervisor_kind hypervisor_kind_from_string(const char *s);
const char *qemu_accel_to_string(enum qemu_accel a);
enum qemu_accel qemu_accel_from_string(const char *s);
const char *disk_strategy_to_string(enum disk_strategy s);
enum disk_strategy disk_strategy_from_string(const char *s);
const char *vm_state_to_string(enum vm_state s);
enum vm_state vm_state_from_string(const char *s);
const char *on_delete_to_string(enum on_delete o);
enum on_delete on_delete_from_string(const char *s);

/* Where something was declared, for cross-file diagnostics. */
struct spec_mark {
	const char *file;	/* borrowed from the owning declaration's path */
	unsigned line, col;	/* 1-based */
};

/* One diagnostic: "file:line:col: message". */
struct spec_diag {
	char *file;
	unsigned line, col;
	char *msg;
};

struct host_defaults {
	unsigned vcpus;		/* default 1 */
	uint64_t memory;	/* default 512M */
	uint64_t system_overlay;/* default 2G */
	uint64_t work_disk;	/* default 1G */
	bool nat;		/* default false */
};

struct host_spec {
	char *path;		/* "host.yaml", NULL when absent (all defaults) */
	char *bridge_name;	/* default "banger0" */
	uint32_t bridge_addr;	/* host order; default 10.77.0.1 */
	unsigned bridge_prefix;	/* default 24 */
	char *uplink;		/* "auto" (default) or an interface name */
	uint32_t *dns;		/* host order */
	size_t n_dns;
	enum hypervisor_kind hypervisor;	/* default qemu */
	char *firecracker_binary;	/* default "firecracker" */
	char *qemu_binary;		/* default "qemu-system-x86_64" */
	enum qemu_accel qemu_accel;	/* default auto */
	enum disk_strategy disk_strategy;	/* default auto */
	char *status_dir;		/* default NULL: /var/lib/banger or --status-dir */
	struct host_defaults defaults;
};

struct image_spec {
	char *name;
	char *path;		/* "images/NAME.yaml" */
	char *kernel;		/* resolved: absolute */
	char *rootfs;
	char *initrd;		/* NULL when none */
	char *kernel_args;	/* NULL when none */
	char sha256_kernel[65];	/* "" when not pinned */
	char sha256_rootfs[65];
	char sha256_initrd[65];
};

struct filesync_entry {
	char *host;		/* as declared */
	char *guest;		/* normalised: absolute, "~/" expanded to /root/ */
	int mode;		/* -1 when not given */
	struct spec_mark mark;
};

struct filesync_spec {
	char *name;
	char *path;
	struct filesync_entry *entries;
	size_t n_entries;
};

struct vm_spec {
	char *name;
	char *path;		/* "vms/NAME.yaml" */
	char *image;
	struct spec_mark image_mark;
	enum vm_state state;
	unsigned vcpus;
	uint64_t memory;
	enum hypervisor_kind hypervisor;	/* host default applied */
	uint64_t system_overlay;
	uint64_t work_disk;	/* 0 = none */
	bool nat;
	bool has_ip;
	uint32_t ip;		/* host order, when has_ip */
	struct spec_mark ip_mark;
	bool has_mac;
	uint8_t mac[6];
	struct spec_mark mac_mark;
	char **filesyncs;	/* strv of declared file-sync names */
	char **ssh_authorized_keys;	/* strv */
	char *kernel_args;	/* NULL when none */
	enum on_delete on_delete;
	char *host;		/* NULL: every host */
	char generation[65];	/* sha256 of the normalised spec (with its image) */
};

/*
 * The whole declaration.  VMs whose own file, image or file syncs failed
 * validation are not in vms[] but in held_vms (by name): reconcile must take
 * no action on them at all.
 */
struct spec {
	char *root;
	char *source_commit;	/* NULL unless from git */
	struct host_spec host;
	bool host_valid;	/* false: host.yaml broken; every VM is held */
	struct image_spec *images;
	size_t n_images;
	struct vm_spec *vms;
	size_t n_vms;
	struct filesync_spec *filesyncs;
	size_t n_filesyncs;
	char **held_vms;	/* strv */
	struct spec_diag *diags;
	size_t n_diags;
};

/*
 * Parse and validate every file of src.  Diagnostics for bad declarations go
 * into ret->diags (never into err); err is for failures that stop everything.
 * Caller owns *ret.
 */
int spec_load(const struct source *src, struct spec **ret, struct error **err);

struct spec *spec_free(struct spec *s);

static inline void
spec_freep(struct spec **s)
{
	(void)spec_free(*s);
}

const struct vm_spec *spec_find_vm(const struct spec *s, const char *name);
const struct image_spec *spec_find_image(const struct spec *s, const char *name);
const struct filesync_spec *spec_find_filesync(const struct spec *s, const char *name);

/* "8G"/"512M"/"1024" -> bytes; -EINVAL for a bad form, -ERANGE for overflow. */
int spec_parse_size(const char *s, uint64_t *ret);
