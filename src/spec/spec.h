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
#define WORK_DISK_MIN (1ULL << 20)	/* a work disk, when there is one, at least */
#define OVERLAY_MIN (1ULL << 20)	/* the writable root disk, at least */
#define KERNEL_ARGS_MAX 768		/* an image's or a VM's kernel_args, bytes */
#define MEMORY_MIN (128ULL << 20)
#define MEMORY_MAX (1ULL << 40)
#define VCPUS_MAX 32

/*
 * The rules, exactly (the JSON Schemas in schemas/ say the same; a test keeps them
 * in agreement).  Values are typed as YAML 1.1 / PyYAML type plain scalars:
 * ~, null, Null, NULL and nothing are null; yes/no/true/false/on/off (also
 * Capitalised and UPPER) are booleans; 12, 0644 (octal), 0x1f, 0b101, 1:30
 * (base 60, so an unquoted MAC such as 52:54:00:12:34:56 is an integer) are
 * integers; 1.5, .inf are numbers; 2024-01-31 is a date; anything quoted is
 * a string.  Null is never accepted for a key: leave the key out instead.
 * Anchors, aliases, tags, duplicate keys, several documents, non-UTF-8 text,
 * nesting deeper than 64 and files over 1 MiB are refused.  Every file may
 * hold `version: 1` (the integer).  Unknown keys are errors.
 *
 * size: an integer (bytes, >= 0) or a string of digits with an optional
 *   K, M or G suffix (powers of 1024): ^[0-9]+[KMG]?$.
 * interface name: ^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$ (1 to 15 characters).
 * IPv4 address: four decimal octets 0-255 without leading zeros.
 *
 * host.yaml (every key optional):
 *   bridge: {name: interface name (banger0), address: IPv4/prefix with prefix
 *     8..30, not the network or broadcast address (10.77.0.1/24)}
 *   uplink: "auto" or an interface name (auto)
 *   dns: list of IPv4 addresses (empty)
 *   hypervisor: firecracker | qemu (qemu)
 *   firecracker: {binary: non-empty string (firecracker)}
 *   qemu: {binary: non-empty string (qemu-system-x86_64),
 *          accel: auto | kvm | tcg (auto)}
 *   disk_strategy: auto | dm-snapshot | reflink | copy (auto)
 *   status_dir: absolute path (unset: /var/lib/banger or --status-dir)
 *   domain: DNS name, dot-separated DNS labels, at most 253 characters, no
 *     trailing dot (vm): each VM is NAME.DOMAIN in banger's hosts fragment
 *   defaults: {vcpus: integer 1..32 (1), memory: size 128M..1024G (512M),
 *     system_overlay: size 1..128G (2G), work_disk: size 0..128G (1G),
 *     nat: boolean (false)}
 * images/NAME.yaml:
 *   kernel, rootfs: required non-empty strings (paths, absolute or relative to
 *     the state directory); initrd: non-empty string; kernel_args: string;
 *   sha256: {kernel, rootfs, initrd: 64 hex digits, either case (stored lower
 *     case)}; sha256.initrd needs initrd.  Quote digests made only of digits:
 *     unquoted, YAML reads them as integers.
 * vms/NAME.yaml:
 *   image: required, a DNS label naming a declared image
 *   state: running | stopped (running)
 *   vcpus: integer 1..32, memory: size 128M..1024G (host defaults)
 *   hypervisor: firecracker | qemu (host's)
 *   disks: {system_overlay: size 1..128G, work: size 0..128G, 0 = none}
 *   network: {nat: boolean, ip: IPv4 address inside the bridge network, not
 *     the gateway, network or broadcast address, unique across VMs;
 *     mac: string xx:xx:xx:xx:xx:xx (hex), unicast (first octet even), not
 *     all zero, unique across VMs}
 *   filesyncs: list of DNS labels naming declared file syncs, each once
 *   ssh_authorized_keys: list of non-empty strings without line breaks
 *   kernel_args: string (appended to the image's)
 *   on_delete: retain | purge (retain)
 *   host: host name ^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$, <= 253 chars
 *   idle_stop_after: duration ^[0-9]+[smh]$ from 10s to 30 days (unset: never):
 *     reconcile stops the running VM once it was idle that long (see
 *     plan_idle_decide)
 *   workspace: {repo: required, an absolute path or a URL (with "://", or
 *     scp-like user@host:path) of a git repository;
 *     ref: a branch, tag or commit id (git's ref name rules narrowed to
 *     letters, digits, '.', '_', '-' and '/'; a commit id is 7 to 40 hex
 *     digits, quote it when it is only digits) (the repository's HEAD);
 *     path: guest folder, absolute or ~/..., without '.', '..' or empty
 *     components, not '/' or '/root' (/root/<repo's last component without
 *     .git>, which must then be a usable folder name);
 *     mode: full_copy | shallow | metadata_only (full_copy)}.
 *     A workspace needs a work disk: disks.work (or the host default) must
 *     not be 0.
 * filesyncs/NAME.yaml:
 *   entries: required non-empty list of {host: required non-empty string
 *     (absolute, ~/... or relative to the state directory), guest: required
 *     string starting with / or ~/ and without a '..' component,
 *     mode: string of 3 or 4 octal digits ^[0-7]{3,4}$}
 */

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
/*
 * How a VM's workspace is materialised in its work disk: full_copy = a clone
 * with its history, the work tree checked out at the commit; shallow = the
 * commit's files plus a .git holding that one commit (and its trees and
 * blobs) with .git/shallow naming it; metadata_only = the full .git with no
 * work-tree files (run `git checkout -f` in the guest to populate it).
 */
enum workspace_mode {
	WORKSPACE_FULL_COPY,
	WORKSPACE_SHALLOW,
	WORKSPACE_METADATA_ONLY,
	_WORKSPACE_MODE_MAX,
	_WORKSPACE_MODE_INVALID = -EINVAL,
};

const char *on_delete_to_string(enum on_delete o);
enum on_delete on_delete_from_string(const char *s);
const char *workspace_mode_to_string(enum workspace_mode m);
enum workspace_mode workspace_mode_from_string(const char *s);

/* The kinds of declaration file, by folder: "host" (host.yaml), "images", "vms", "filesyncs". */
enum spec_kind {
	SPEC_KIND_HOST,
	SPEC_KIND_IMAGE,
	SPEC_KIND_VM,
	SPEC_KIND_FILESYNC,
	_SPEC_KIND_MAX,
	_SPEC_KIND_INVALID = -EINVAL,
};

const char *spec_kind_to_string(enum spec_kind k);
enum spec_kind spec_kind_from_string(const char *s);

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
	char *domain;			/* guests' DNS suffix: NAME.DOMAIN (default "vm") */
	struct host_defaults defaults;
	/* source: {git, branch, path}: declarations come from this repository's
	 * commit instead of the state directory (NULL: no source block). */
	char *source_git;		/* URL or absolute path of the repository */
	char *source_branch;		/* NULL: the repository's HEAD branch, or "main" */
	char *source_path;		/* NULL: the tree's root; else a relative folder */
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
	/* Never declared: a file reconcile itself writes (the VM's
	 * authorized_keys), its bytes given here, host NULL. */
	const char *content;
	size_t content_len;
};

struct filesync_spec {
	char *name;
	char *path;
	struct filesync_entry *entries;
	size_t n_entries;
};

/*
 * A git commit materialised into the VM's work disk (workspace: in
 * vms/NAME.yaml).  repo == NULL: no workspace.  Not part of the generation:
 * a changed workspace never restarts a running VM; it is materialised again
 * (the guest folder replaced) when the VM is created and on each start from
 * stopped, while no guest has the work disk open.
 */
struct vm_workspace {
	char *repo;		/* absolute host path or URL, as declared */
	char *ref;		/* branch, tag or commit id; NULL: the repository's HEAD */
	char *path;		/* guest folder, absolute ("~/" expanded to /root/) */
	enum workspace_mode mode;	/* default full_copy */
	struct spec_mark mark;	/* the workspace key's value */
	struct spec_mark path_mark;	/* path's value; mark when not declared */
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
	struct vm_workspace workspace;	/* .repo NULL when none */
	uint64_t idle_stop_after;	/* seconds; 0: never stopped for idleness */
	/*
	 * sha256 (hex) of what needs a restart to change, serialised one
	 * "key=LEN:VALUE\n" line each, in this order, after a
	 * "banger-generation-v1\n" line: image, image.kernel, image.rootfs,
	 * image.initrd, image.kernel_args, image.sha256.kernel,
	 * image.sha256.rootfs, image.sha256.initrd (the resolved image; empty
	 * strings when absent), vcpus, memory, hypervisor, disks.system_overlay,
	 * disks.work, kernel_args, mac (lower-case hex or empty), ip (dotted
	 * or empty), then filesyncs (their count) and one filesync line per
	 * name in declared order.  Numbers are decimal (bytes for sizes) and
	 * written as LEN:VALUE too.  Not in it: state, nat,
	 * ssh_authorized_keys, on_delete, host, idle_stop_after, workspace (materialised again
	 * at the next start from stopped instead), and file sync contents.
	 */
	char generation[65];
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
	/* Not NULL: every VM is held for this file at the top, which looks
	 * meant as host.yaml ("hosts.yaml") where there is none. */
	char *hold_all_by;
	struct image_spec *images;
	size_t n_images;
	struct vm_spec *vms;	/* sorted by name */
	size_t n_vms;
	struct filesync_spec *filesyncs;
	size_t n_filesyncs;
	char **held_vms;	/* strv */
	struct spec_diag *diags;
	size_t n_diags;
};

/* A host name as a VM's host: names it: 1 to 253 of letters, digits, '.'
 * and '-', a letter or digit first and last. */
bool spec_hostname_ok(const char *s);

/* Whether every VM is held: host.yaml is broken or a file looks meant as it. */
static inline bool
spec_holds_all(const struct spec *s)
{
	return !s->host_valid || s->hold_all_by;
}

/*
 * Parse and validate every file of src.  Diagnostics for bad declarations go
 * into ret->diags (never into err), sorted by file, line and column, at most
 * 100 in a row per file; err is for failures that stop everything.  held_vms
 * is never NULL (an empty strv when nothing is held) and sorted.  Relative
 * paths in images resolve against src->root, made absolute with the current
 * directory when it is relative.  Caller owns *ret.
 */
int spec_load(const struct source *src, struct spec **ret, struct error **err);

struct spec *spec_free(struct spec *s);

static inline void
spec_freep(struct spec **s)
{
	(void)spec_free(*s);
}

/*
 * Parse and validate one file on its own, as if it were path ("vms/web.yaml":
 * the name is the file stem) in a state directory with no host.yaml and
 * nothing else: no cross-file checks (images, file syncs, ip and mac
 * uniqueness), host defaults applied, a VM's generation made without its
 * image.  Diagnostics go to ret->diags as with spec_load.  Used by the corpus
 * tests.
 */
int spec_load_file(enum spec_kind kind, const char *path, const char *data, size_t len,
		   struct spec **ret, struct error **err);

/* "file:line:col: message" with file shown under root ("root/file") when root is not NULL. */
char *spec_diag_format(const struct spec_diag *d, const char *root);

/* Bytes as the largest exact unit: "512M", "2G", "1000". */
char *spec_format_size(uint64_t bytes);

/*
 * Hold every VM of image (found unusable on the host: a missing file, a pin
 * mismatch): move them from vms[] to held_vms, each with a diagnostic at its
 * 'image:' line saying why (msg).  Returns how many VMs it held.
 */
size_t spec_hold_image(struct spec *s, const char *image, const char *msg);

const struct vm_spec *spec_find_vm(const struct spec *s, const char *name);
const struct image_spec *spec_find_image(const struct spec *s, const char *name);
/* vm's generation had it declared system_overlay and work_disk (the rest as
 * it is): a change of those alone that applies to nothing (an overlay size
 * of a copied root disk, a smaller work disk) is no restart. */
void spec_vm_generation_with(const struct vm_spec *vm, const struct image_spec *img,
			     uint64_t system_overlay, uint64_t work_disk, char out[65]);
const struct filesync_spec *spec_find_filesync(const struct spec *s, const char *name);

/* "30s"/"30m"/"2h" -> seconds: ^[0-9]+[smh]$; -EINVAL for a bad form (no suffix,
 * sign, spaces), -ERANGE for overflow. */
int spec_parse_duration(const char *s, uint64_t *ret);
#define IDLE_STOP_MIN 10ULL
#define IDLE_STOP_MAX (30ULL * 24 * 3600)

/* A DNS name: dot-separated DNS labels, 1..253 characters, no trailing dot. */
bool spec_domain_ok(const char *s);

/* "8G"/"512M"/"1024" -> bytes; -EINVAL for a bad form, -ERANGE for overflow. */
int spec_parse_size(const char *s, uint64_t *ret);
