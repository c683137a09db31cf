/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The QEMU microvm hypervisor backend (struct hv_ops): qemu-system-x86_64
 * -M microvm with virtio-mmio disks and net, serial console to the VM's
 * console log, QMP on the VM's api socket.  The pieces below are exported
 * for the unit tests; the reconciler only needs hv_qemu_new().
 */
#pragma once

#include <stdbool.h>

#include "drivers/hv.h"
#include "util/error.h"

/* What the accel rule and the kernel command line depend on. */
struct hv_qemu_host {
	bool kvm_dev;		/* /dev/kvm opens read-write */
	bool pvm;		/* /sys/module/kvm_pvm: nested KVM through PVM */
	bool kvm_probed;	/* kvm_runs below is known */
	bool kvm_runs;		/* a tiny real-mode guest ran to its hlt under KVM */
	unsigned tsc_khz;	/* from /proc/cpuinfo "cpu MHz"; 0 when unknown */
};

/*
 * The one accel rule.  kvm and tcg are taken as asked.  auto is KVM only
 * when /dev/kvm is usable, the host is not PVM (where /dev/kvm exists but a
 * stock kernel dies with an emulation failure or QEMU aborts on an MSR) and
 * the probe guest ran; TCG otherwise.  Returns QEMU_ACCEL_KVM or
 * QEMU_ACCEL_TCG, or _QEMU_ACCEL_INVALID for an out-of-range want.
 */
enum qemu_accel hv_qemu_accel_resolve(enum qemu_accel want, const struct hv_qemu_host *host);

/* Whether the auto rule needs host->kvm_runs (so the probe must run). */
bool hv_qemu_accel_needs_probe(enum qemu_accel want, const struct hv_qemu_host *host);

/* Fill kvm_dev, pvm and tsc_khz from /dev/kvm, /sys/module, /proc/cpuinfo;
 * never fails (unknown facts stay false/0). */
void hv_qemu_host_probe(struct hv_qemu_host *ret);

/* Run the KVM probe guest and set kvm_probed/kvm_runs. */
void hv_qemu_host_probe_kvm(struct hv_qemu_host *host);

/* The first "cpu MHz : X" of a /proc/cpuinfo text, in kHz.  -ENOENT when
 * there is none, -EINVAL when it does not parse or is out of range. */
int hv_qemu_tsc_khz_parse(const char *cpuinfo, unsigned *ret_khz);

/* s with every ',' doubled, for a value inside QEMU's key=value,... option
 * syntax.  Caller frees. */
char *hv_qemu_opt_escape(const char *s);

/*
 * The kernel command line QEMU gets: cfg->cmdline plus console=ttyS0,
 * panic=-1 and tsc_early_khz=host->tsc_khz, each only when the caller's
 * line does not set that parameter.  Caller frees.
 */
char *hv_qemu_kernel_cmdline(const char *cmdline, const struct hv_qemu_host *host);

/*
 * Validate cfg and build the whole qemu argv for it with accel (KVM or TCG,
 * already resolved).  -EINVAL with a message naming the bad field when a
 * value cannot be placed safely (relative path, control character, comma
 * where QEMU would split, tap outside banger's names, bad sizes).  Caller
 * frees *ret_argv with strv_free().
 */
int hv_qemu_build_argv(const struct hv_config *cfg, const struct hv_qemu_host *host,
		       enum qemu_accel accel, char ***ret_argv, struct error **err);

/*
 * A QEMU backend.  The host is probed now (cheap facts) and the KVM probe
 * guest runs at the first spawn that needs it.  Free with hv_qemu_free().
 */
int hv_qemu_new(struct hv_ops **ret, struct error **err);

/* Same, with the host facts given (tests, or a caller that probed). */
int hv_qemu_new_with_host(const struct hv_qemu_host *host, struct hv_ops **ret,
			  struct error **err);

struct hv_ops *hv_qemu_free(struct hv_ops *ops);
