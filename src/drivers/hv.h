/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hypervisor ops: start a VM's hypervisor process detached, configure and
 * boot it, tell when the guest is ready, stop it.  Backends: hv-qemu.c
 * (QEMU microvm, QMP) and hv-firecracker.c (HTTP API on its unix socket);
 * tests use the fake.  A process is the VM's only when its command line
 * holds the VM's api socket path, so a recycled pid is never mistaken for it.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/error.h"

struct hv_config {
	const char *vm_name;
	const char *vm_id;
	enum hypervisor_kind kind;
	const char *binary;
	enum qemu_accel accel;
	unsigned vcpus;
	uint64_t memory;
	const char *kernel;
	const char *initrd;		/* NULL when none */
	const char *cmdline;		/* whole kernel command line, ip= included */
	const char *root_disk;
	const char *work_disk;		/* NULL when none */
	const char *tap;
	uint8_t mac[6];
	const char *api_socket;		/* firecracker API socket or QMP socket */
	const char *console_log;
};

struct hv_proc {
	pid_t pid;
	char *api_socket;	/* found on its command line */
};

void hv_procs_free(struct hv_proc *p, size_t n);

struct hv_ops {
	/* Remove a stale socket, spawn the process detached (own session,
	 * stdin /dev/null, output to console_log); *ret_pid as soon as known. */
	int (*spawn)(void *userdata, const struct hv_config *cfg, pid_t *ret_pid,
		     struct error **err);
	/* Configure and boot (Firecracker API calls then InstanceStart). */
	int (*boot)(void *userdata, const struct hv_config *cfg, pid_t pid, struct error **err);
	/* Has the guest printed its ready marker?  *ret_tail: last console lines
	 * when the process died (caller frees). */
	int (*ready)(void *userdata, const struct hv_config *cfg, pid_t pid, bool *ret_ready,
		     char **ret_tail, struct error **err);
	/* Graceful stop, then SIGTERM, then SIGKILL after bounded waits.  A pid
	 * that is gone, or that is not running with api_socket, is success. */
	int (*stop)(void *userdata, enum hypervisor_kind kind, pid_t pid, const char *api_socket,
		    unsigned timeout_ms, struct error **err);
	/* Is pid alive with api_socket on its command line? */
	int (*alive)(void *userdata, pid_t pid, const char *api_socket, bool *ret,
		     struct error **err);
	/* Every process whose command line holds a socket under sock_dir
	 * (banger passes STATUS_DIR/vms; a VM's socket is vms/NAME/api.sock). */
	int (*list)(void *userdata, const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
		    struct error **err);
	/* Whether ready and stop may run in several threads at once, each for
	 * another VM (apply waits for several guests with --jobs). */
	bool parallel;
	void *userdata;
};
