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
# Most of the matrix runs the fake Firecracker (fast); BANGER_CRASH_QEMU=1
# (the default when the demo image is already built) adds a QEMU subset.
# Needs a build configured with --enable-fault-injection; skips (77) unless
# root.
set -eu

: "${BANGER:?}" "${top_builddir:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip nft losetup; do command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }; done
grep -q '^#define BANGER_FAULT_INJECTION 1' "$top_builddir/config.h" ||
	{ echo "skip: built without --enable-fault-injection"; exit 77; }
[ -x /usr/bin/python3 ] || { echo "skip: no python3 for the fake firecracker"; exit 77; }

T=$(mktemp -d /tmp/banger-crash-XXXXXX)
cleanup() {
	# End only the processes this test started: their command lines name $T.
	for d in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$d/cmdline" | grep -qF "$T/"; then
			kill -9 "${d#/proc/}" 2>/dev/null || true
		fi
	done
	for l in $(losetup -n -O NAME,BACK-FILE -l 2>/dev/null | awk -v t="$T/" 'index($2, t) == 1 { print $1 }'); do
		losetup -d "$l" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT

IMG=$T/img
mkdir -p "$IMG"
head -c 4096 /dev/urandom >"$IMG/vmlinux"
truncate -s 16M "$IMG/rootfs.ext4"

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
