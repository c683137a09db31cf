/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Read-only host probes for banger doctor that no other driver offers: KVM
 * (with a tiny test guest), device nodes, the nftables ruleset, the bridge's
 * state, hypervisor binaries' versions, directory modes and free space.
 * Nothing here changes the host.  The real backend is doctor-probe.c; tests
 * fake the ops.  cli/ reaches the host only through these ops.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "util/error.h"

#define DOCTOR_KVM_PATH "/dev/kvm"
#define DOCTOR_PVM_PATH "/sys/module/kvm_pvm"
#define DOCTOR_TUN_PATH "/dev/net/tun"
#define DOCTOR_DM_CONTROL_PATH "/dev/mapper/control"
#define DOCTOR_LOOP_CONTROL_PATH "/dev/loop-control"

/* The KVM API version every current kernel reports. */
#define DOCTOR_KVM_API_VERSION 12
/* How long a hypervisor's --version may take before it is killed. */
#define DOCTOR_VERSION_TIMEOUT_MS 5000
#define DOCTOR_BRIDGE_MAX_ADDRS 8
/* How long the KVM test guest may take before its process is killed. */
#define DOCTOR_KVM_GUEST_TIMEOUT_MS 5000

struct doctor_kvm {
	int open_error;		/* 0, or -errno opening /dev/kvm read-write */
	int api_version;	/* KVM_GET_API_VERSION, when it opened */
	int guest_error;	/* 0: the test guest ran to its hlt; else -errno */
	char guest_detail[128];	/* why the test guest failed ("" when it ran) */
	bool pvm;		/* kvm_pvm is loaded: KVM is paravirtualised (PVM) */
};

struct doctor_bridge {
	bool exists;
	bool is_bridge;		/* link kind "bridge" */
	bool up;		/* IFF_UP */
	size_t n_addrs;		/* IPv4 addresses, at most DOCTOR_BRIDGE_MAX_ADDRS kept */
	uint32_t addrs[DOCTOR_BRIDGE_MAX_ADDRS];	/* host order */
	unsigned prefixes[DOCTOR_BRIDGE_MAX_ADDRS];
};

/* systemd-resolved runs when this folder exists (it makes it at start). */
#define DOCTOR_RESOLVED_RUN_DIR "/run/systemd/resolve"

/* What systemd-resolved's configuration says about /etc/hosts. */
struct doctor_resolved {
	bool present;		/* DOCTOR_RESOLVED_RUN_DIR is a folder */
	bool read_etc_hosts;	/* the ReadEtcHosts= in effect (its default: yes) */
	char where[512];	/* the file whose line set it last; "" when none did */
	char unreadable[512];	/* a configuration file that could not be read, or "" */
};

struct doctor_probe_ops {
	/* Open /dev/kvm, ask its API version and run a real-mode guest of a few
	 * instructions (out to a port, hlt) in a throw-away VM, in a child process
	 * killed after DOCTOR_KVM_GUEST_TIMEOUT_MS.  Results go into
	 * *ret; the op itself does not fail. */
	void (*kvm)(void *userdata, struct doctor_kvm *ret);
	/* Open a device node read-write and close it again: 0 or -errno. */
	int (*dev_open)(void *userdata, const char *path);
	/* List the tables through libnftables (which writes banger's rules),
	 * then table inet banger over nf_tables netlink (how reconcile reads
	 * it); *ret_has_table says whether it exists.  Errors: libnftables'
	 * text, mapped, or the kernel's errno (-EPERM without CAP_NET_ADMIN). */
	int (*nft_ruleset)(void *userdata, bool *ret_has_table, struct error **err);
	/* A link's kind, state and IPv4 addresses; a missing link is success
	 * with exists false.  -EINVAL for an unsafe name. */
	int (*bridge_get)(void *userdata, const char *name, struct doctor_bridge *ret,
			  struct error **err);
	/* Find program (a path, or a name searched in $PATH), run "PROGRAM
	 * --version" and return its path and first output line.  -ENOENT not
	 * found, -ETIMEDOUT killed after the timeout, -EIO non-zero exit. */
	int (*program_version)(void *userdata, const char *program, char **ret_path,
			       char **ret_version, struct error **err);
	/* stat(2), following links (a linked directory is judged by its target): 0 or
	 * -errno. */
	int (*dir_stat)(void *userdata, const char *path, struct stat *ret);
	/* statvfs(2): bytes available to an unprivileged user on path's filesystem. */
	int (*free_bytes)(void *userdata, const char *path, uint64_t *ret, struct error **err);
	/* The effective uid banger runs as. */
	uid_t (*euid)(void *userdata);
	/* systemd-resolved: present, and the ReadEtcHosts= its files set
	 * (doctor_resolved_read on "/"). */
	void (*resolved)(void *userdata, struct doctor_resolved *ret);
	/* The start of a file (at most size - 1 bytes, NUL-terminated): 0 or
	 * -errno (-ENOENT missing). */
	int (*read_head)(void *userdata, const char *path, char *buf, size_t size);
	void *userdata;
};

/*
 * The real probes.  Opens one rtnetlink socket (for bridge_get) and one
 * libnftables context on first use.  Free with doctor_probe_real_free().
 */
int doctor_probe_real_new(struct doctor_probe_ops **ret, struct error **err);
struct doctor_probe_ops *doctor_probe_real_free(struct doctor_probe_ops *ops);

static inline void
doctor_probe_real_freep(struct doctor_probe_ops **ops)
{
	(void)doctor_probe_real_free(*ops);
}

/*
 * program_version with an explicit timeout (the op uses
 * DOCTOR_VERSION_TIMEOUT_MS).  The program is exec'd with posix_spawn and the
 * argv {path, "--version"}, stdin from /dev/null, stdout and stderr into one
 * pipe; a child still running at the timeout is killed (SIGKILL, by its pid)
 * and reaped.  Caller owns *ret_path and *ret_version (set on success only).
 */
int doctor_program_version(const char *program, unsigned timeout_ms, char **ret_path,
			   char **ret_version, struct error **err);

/*
 * Read systemd-resolved's configuration below root ("/" for the host; tests
 * pass a folder): ROOT/etc/systemd/resolved.conf, then the "*.conf" drop-ins
 * of resolved.conf.d in ROOT/etc/systemd, ROOT/run/systemd,
 * ROOT/usr/local/lib/systemd and ROOT/usr/lib/systemd, sorted by file name
 * (a name in an earlier folder hides the same name in a later one), as
 * systemd does; the last ReadEtcHosts= of a [Resolve] section wins.  present
 * is whether ROOT/run/systemd/resolve is a folder.  Cannot fail: a file it
 * cannot read is named in ret->unreadable.
 */
void doctor_resolved_read(const char *root, struct doctor_resolved *ret);

/* Search $PATH for an executable regular file called name (or check name when
 * it holds a '/').  Caller owns *ret.  -ENOENT when none. */
int doctor_find_program(const char *name, char **ret);
