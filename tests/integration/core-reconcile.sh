#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger reconcile end to end on the real host drivers (net, nat, disk, qemu), inside a network
# namespace this test creates (unshare --net): two QEMU guests of the demo
# image are created and booted, a second run does nothing, a killed guest is
# restarted, then deleting the declarations stops them and releases every
# object, keeping the work disk.  Skips (77) unless root, the real drivers are
# linked in, and the demo image exists ($BANGER_DEMO_IMAGE or
# $top_builddir/demo-image, made by 'make demo-image').
set -eu

: "${BANGER:?}" "${top_builddir:?}"
IMG=${BANGER_DEMO_IMAGE:-$top_builddir/demo-image}
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip nft; do command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }; done
[ -f "$IMG/vmlinux" ] && [ -f "$IMG/rootfs.ext4" ] || { echo "skip: no demo image in $IMG"; exit 77; }

T=$(mktemp -d /tmp/banger-core-e2e-XXXXXX)
cleanup() {
	# End only the guests this test started: their command lines name $T.
	for d in /proc/[0-9]*; do
		if tr '\0' ' ' <"$d/cmdline" 2>/dev/null | grep -qF "$T/status/"; then
			kill -9 "${d#/proc/}" 2>/dev/null || true
		fi
	done
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/state/images" "$T/state/vms"
{
	echo "kernel: $IMG/vmlinux"
	echo "rootfs: $IMG/rootfs.ext4"
	[ -f "$IMG/initrd.gz" ] && echo "initrd: $IMG/initrd.gz"
} >"$T/state/images/demo.yaml"
printf 'image: demo\nmemory: 256M\nnetwork:\n  nat: true\ndisks:\n  work: 64M\n' >"$T/state/vms/web.yaml"
printf 'image: demo\nmemory: 256M\ndisks:\n  work: 0\n' >"$T/state/vms/db.yaml"

# Without drivers (the fake-host-only build) there is nothing to test here.
set +e
BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status unshare --net "$BANGER" plan >"$T/out" 2>&1
rc=$?
set -e
if grep -q "no host drivers" "$T/out"; then echo "skip: no real drivers in this build"; exit 77; fi
[ $rc = 0 ] || { cat "$T/out"; exit 1; }

cat >"$T/run.sh" <<EOS
set -eu
export BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status
fail() { echo "FAIL: \$*" >&2; exit 1; }
ip link set lo up
# An uplink with a default route, for the NAT rules ("uplink: auto").
ip link add bgt-up0 type veth peer name bgt-up1
ip addr add 192.0.2.1/24 dev bgt-up0
ip link set bgt-up0 up
ip link set bgt-up1 up
ip route add default via 192.0.2.2
"$BANGER" reconcile >$T/r1 || { cat $T/r1; fail "first reconcile"; }
grep -q "Reconciled: 2 changed, 0 failed" $T/r1 || { cat $T/r1; fail "first summary"; }
grep -q "banger-guest-ready" $T/status/vms/web/console.log || fail "web not ready"
"$BANGER" reconcile >$T/r2 || fail "second reconcile"
grep -q "Nothing to do: 2 vms up to date" $T/r2 || { cat $T/r2; fail "not converged"; }
ip -br link show banger0 >/dev/null || fail "no bridge"
nft list table inet banger | grep -q 'masquerade' || fail "no nat rule"
nft list table inet banger | grep -qF 'oifname "bgt-up0"' || fail "nat not via the uplink"
# Drift: the guest's process dies; the next run starts it again.
pid=\$(sed -n 's/^pid: //p' $T/status/vms/db.yaml)
kill -9 "\$pid"
while kill -0 "\$pid" 2>/dev/null; do sleep 0.1; done
"$BANGER" plan >$T/p3
grep -q "~ repair db (process is gone)" $T/p3 || { cat $T/p3; fail "drift not planned"; }
"$BANGER" reconcile >$T/r3 || { cat $T/r3; fail "repair"; }
"$BANGER" reconcile >$T/r4 && grep -q "Nothing to do" $T/r4 || fail "not converged after repair"
rm $T/state/vms/web.yaml $T/state/vms/db.yaml
"$BANGER" reconcile --allow-mass-delete >$T/r5 || { cat $T/r5; fail "delete"; }
[ -z "\$(ip -br link | grep bgr- || true)" ] || fail "taps left"
! nft list table inet banger 2>/dev/null | grep -q 'banger id=' || fail "nat rules left"
[ ! -e $T/status/vms/web ] && [ ! -e $T/status/vms/web.yaml ] || fail "vm files left"
ls $T/status/retained/web-*.ext4 >/dev/null || fail "work disk not kept"
echo ok
EOS
timeout 600 unshare --net sh "$T/run.sh"
