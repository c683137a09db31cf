#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fault matrix on the real host drivers (netlink taps, nftables NAT, disks,
# loop/dm where the kernel has them, hypervisor processes), inside a network
# namespace this test creates.  For each scenario (create+start, stop, start,
# restart, delete, NAT toggle on a running VM, file-sync re-apply) the number
# of side effects T is found with BANGER_FAULT_COUNT; then for each N the run
# is SIGKILLed right after (BANGER_FAULT=N) and, for the before-variant
# scenarios, right before (BANGER_FAULT=before:N) its Nth side effect; the
# next reconcile must converge (exit 0, then an empty plan); then every VM is
# deleted and reconciled away: no banger object may be left (taps, NAT rules,
# loop devices, dm targets, processes, VM directories or files) and no work
# disk that existed before the fault may be missing.
# Most of the matrix runs the fake Firecracker (fast); a QEMU subset (stop;
# BANGER_CRASH_QEMU_SCENARIOS widens it) runs when the demo image is already
# built or BANGER_CRASH_QEMU=1 asks to build it (BANGER_CRASH_QEMU=0: none).
# BANGER_CRASH_SCENARIOS and BANGER_CRASH_VARIANTS (after before) narrow the
# Firecracker part.
# Needs a build configured with --enable-fault-injection; skips (77) unless
# root.
set -eu

: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
grep -q '^#define BANGER_FAULT_INJECTION 1' "$top_builddir/config.h" ||
	{ echo "skip: built without --enable-fault-injection"; exit 77; }

# The QEMU subset: only when the demo image is there already (building it
# takes minutes) or BANGER_CRASH_QEMU=1 asks for it.
QIMG=${BANGER_DEMO_IMAGE:-$top_builddir/demo-image}
QEMU=0
if [ "${BANGER_CRASH_QEMU:-auto}" != 0 ] && command -v qemu-system-x86_64 >/dev/null; then
	if [ -f "$QIMG/vmlinux" ] || [ "${BANGER_CRASH_QEMU:-auto}" = 1 ]; then
		. "$top_srcdir/tests/demo-image-lib.sh"
		demo_image_ensure "$QIMG" >/dev/null 2>&1 && QEMU=1
	fi
fi

export T BANGER IMG QIMG QEMU top_srcdir
timeout 900 unshare --net sh "$top_srcdir/tests/crash/fault-run.sh"
