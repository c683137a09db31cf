#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Boot two demo guests through the hv-qemu driver inside a private network
# namespace this test creates: a bridge 10.213.7.1/24 and two taps on it.
# Each guest pings the bridge and the other guest (banger.ping= on its
# kernel command line, results on its console), then both are stopped with
# system_powerdown and must be gone, and list must find nothing.
#
# Root only (77 otherwise); 77 as well without qemu-system-x86_64 or when
# the demo image cannot be built.  Uses $BANGER_DEMO_IMAGE when set, else
# builds $top_builddir/demo-image (tools/demo-image.sh) when missing.
set -eu

if [ "$(id -u)" -ne 0 ]; then
	echo "qemu-boot: not root, skipping"
	exit 77
fi
for t in qemu-system-x86_64 ip mkfs.ext4; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "qemu-boot: no $t, skipping"
		exit 77
	}
done
top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
prog=$top_builddir/tests/integration/qemu-boot-vms
if [ ! -x "$prog" ]; then
	echo "qemu-boot: $prog not built" >&2
	exit 99
fi

img=${BANGER_DEMO_IMAGE:-$top_builddir/demo-image}
. "$top_srcdir/tests/demo-image-lib.sh"
if ! demo_image_ensure "$img"; then
	echo "qemu-boot: cannot build the demo image, skipping"
	exit 77
fi

ns=banger-test-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
work=$(mktemp -d /tmp/banger-qemu-boot.XXXXXX)
out=$work/run.out

cleanup() {
	# Only processes this test started: pids the program printed whose
	# command line still names this test's directory.
	if [ -f "$out" ]; then
		for p in $(sed -n 's/^spawned .* pid=\([0-9]*\)$/\1/p' "$out"); do
			[ -r "/proc/$p/cmdline" ] || continue
			if tr '\0' ' ' <"/proc/$p/cmdline" | grep -q "$work/"; then
				kill -KILL "$p" 2>/dev/null || true
			fi
		done
	fi
	ip netns del "$ns" 2>/dev/null || true
	[ -n "${BANGER_TEST_KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns"
ip -n "$ns" link set lo up
ip -n "$ns" link add br0 type bridge
ip -n "$ns" addr add 10.213.7.1/24 dev br0
ip -n "$ns" link set br0 up
for t in bgr-t1 bgr-t2; do
	ip -n "$ns" tuntap add dev "$t" mode tap
	ip -n "$ns" link set "$t" master br0
	ip -n "$ns" link set "$t" up
done

for vm in vm1 vm2; do
	mkdir -p "$work/$vm"
	cp --sparse=always "$img/rootfs.ext4" "$work/$vm/root.ext4"
	mkfs.ext4 -q -F -L work-$vm "$work/$vm/work.ext4" 32M >/dev/null
done

t0=$(date +%s)
rc=0
ip netns exec "$ns" "$prog" "$img" "$work" \
	vm1:bgr-t1:10.213.7.2:10.213.7.1:10.213.7.1,10.213.7.3 \
	vm2:bgr-t2:10.213.7.3:10.213.7.1:10.213.7.1,10.213.7.2 >"$out" 2>&1 || rc=$?
cat "$out"
if [ "$rc" -ne 0 ]; then
	for vm in vm1 vm2; do
		echo "--- $vm console ---"
		tail -n 40 "$work/$vm/console.log" 2>/dev/null || true
	done
	echo "qemu-boot: FAIL: qemu-boot-vms exited $rc"
	exit 1
fi

fail=0
check() {
	if grep -q "$2" "$work/$1/console.log"; then
		echo "ok: $1: $2"
	else
		echo "FAIL: $1: no '$2' on the console"
		fail=1
	fi
}
check vm1 "banger-guest-ready ip=10.213.7.2"
check vm2 "banger-guest-ready ip=10.213.7.3"
check vm1 "banger-ping 10.213.7.1 ok"
check vm1 "banger-ping 10.213.7.3 ok"
check vm2 "banger-ping 10.213.7.1 ok"
check vm2 "banger-ping 10.213.7.2 ok"
check vm1 "banger-work mounted /dev/vdb on /mnt/work"
check vm2 "banger-work mounted /dev/vdb on /mnt/work"
check vm1 "reboot: Power down"
check vm2 "reboot: Power down"
for vm in vm1 vm2; do
	if grep -q "no usable root file system" "$work/$vm/console.log"; then
		echo "FAIL: $vm: did not boot from its root disk"
		fail=1
	fi
done
for p in $(sed -n 's/^spawned .* pid=\([0-9]*\)$/\1/p' "$out"); do
	if [ -e "/proc/$p" ]; then
		echo "FAIL: pid $p still exists"
		fail=1
	fi
done
echo "qemu-boot: whole test $(($(date +%s) - t0)) s"
[ "$fail" -eq 0 ] || {
	tail -n 30 "$work/vm1/console.log" "$work/vm2/console.log"
	exit 1
}
echo "qemu-boot: PASS"
