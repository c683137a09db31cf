#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger reconcile end to end on the real host drivers (net, nat, disk, qemu), inside a network
# namespace this test creates (unshare --net): two QEMU guests of the demo
# image are created and booted, a second run does nothing, a killed guest is
# restarted, then deleting the declarations stops them and releases every
# object, keeping the work disk.  Skips (77) unless root; builds the demo
# image ($BANGER_DEMO_IMAGE or $top_builddir/demo-image) when it is missing.
set -eu

: "${BANGER:?}" "${top_builddir:?}"
IMG=${BANGER_DEMO_IMAGE:-$top_builddir/demo-image}
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip nft debugfs; do command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }; done
. "$top_srcdir/tests/demo-image-lib.sh"
demo_image_ensure "$IMG" || { echo "skip: cannot build the demo image in $IMG"; exit 77; }

T=$(mktemp -d /tmp/banger-core-e2e-XXXXXX)
. "$top_srcdir/tests/procs-lib.sh"
cleanup() {
	# End only the guests this test started: their command lines name $T.
	kill_naming "$T/status/"
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/state/images" "$T/state/vms" "$T/state/filesyncs" "$T/state/files"
{
	echo "kernel: $IMG/vmlinux"
	echo "rootfs: $IMG/rootfs.ext4"
	[ -f "$IMG/initrd.gz" ] && echo "initrd: $IMG/initrd.gz"
} >"$T/state/images/demo.yaml"
# Each guest pings the bridge and the other guest (the demo init reads
# banger.ping= and prints "banger-ping IP ok" on its console).
printf 'image: demo\nmemory: 256M\nnetwork:\n  nat: true\n  ip: 10.77.0.2\ndisks:\n  work: 64M\nfilesyncs: [motd]\nkernel_args: banger.ping=10.77.0.1,10.77.0.3\n' >"$T/state/vms/web.yaml"
printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n    mode: "0644"\n' >"$T/state/filesyncs/motd.yaml"
echo "one" >"$T/state/files/motd"
printf 'image: demo\nmemory: 256M\nnetwork:\n  ip: 10.77.0.3\ndisks:\n  work: 0\nkernel_args: banger.ping=10.77.0.1,10.77.0.2\n' >"$T/state/vms/db.yaml"

BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status unshare --net "$BANGER" plan >"$T/out" 2>&1 ||
	{ cat "$T/out"; exit 1; }

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
t0=\$(date +%s%N)
"$BANGER" reconcile >$T/r1 || { cat $T/r1; fail "first reconcile"; }
grep -q "Reconciled: 2 changed, 0 failed" $T/r1 || { cat $T/r1; fail "first summary"; }
grep -q "banger-guest-ready" $T/status/vms/web/console.log || fail "web not ready"
t1=\$(date +%s%N)
echo "both guests booted by reconcile in \$(( (t1 - t0) / 1000000 )) ms"
# With the default --jobs, the second guest is spawned while the first boots.
ms() { sed -n "s/^\$1: //p" $T/status/vms/\$2.yaml; }
[ "\$(ms spawned_ms db)" -lt "\$(ms started_ms web)" ] && [ "\$(ms spawned_ms web)" -lt "\$(ms started_ms db)" ] ||
	{ grep -H '_ms:' $T/status/vms/*.yaml; fail "the guests did not boot at the same time"; }
# The progress is printed in the plan's order: db's steps, then web's.
[ "\$(grep -n '^create ' $T/r1 | cut -d: -f2 | tr '\\n' ' ')" = "create db create web " ] || { cat $T/r1; fail "progress order"; }
for want in "web 10.77.0.1" "web 10.77.0.3" "db 10.77.0.1" "db 10.77.0.2"; do
	set -- \$want
	i=0
	until grep -q "banger-ping \$2 ok" $T/status/vms/\$1/console.log; do
		i=\$((i + 1))
		[ \$i -lt 400 ] || fail "\$1 did not reach \$2"
		grep -q "banger-ping \$2 fail" $T/status/vms/\$1/console.log && fail "\$1 could not ping \$2"
		sleep 0.1
	done
done
echo "pings done \$(( (\$(date +%s%N) - t1) / 1000000 )) ms after the second guest was ready"
"$BANGER" status --json >$T/st.json || fail "status --json"
/usr/bin/python3 - $T/st.json <<'PY' || fail "status --json content"
import json, sys
d = json.load(open(sys.argv[1]))
vms = {v["name"]: v for v in d["vms"]}
assert vms["web"]["ip"] == "10.77.0.2" and vms["db"]["ip"] == "10.77.0.3", vms
for v in vms.values():
    assert v["tap"].startswith("bgr-") and v["pid"] > 0 and v["observed"] == "running", v
    assert v["boot_ms"] and v["boot_ms"] > 0, v
    assert v["disk_strategy"] in ("copy", "reflink", "dm-snapshot") and v["root_disk_bytes"] > 0, v
PY
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
# Edits: web to stopped, db's memory changed: web stops, db restarts.
sed -i 's/^memory: 256M\$/memory: 256M\nstate: stopped/' $T/state/vms/web.yaml
sed -i 's/^memory: 256M\$/memory: 320M/' $T/state/vms/db.yaml
"$BANGER" plan >$T/p5
grep -q "~ stop web" $T/p5 || { cat $T/p5; fail "stop not planned"; }
grep -q "~ restart db (memory 256M -> 320M)" $T/p5 || { cat $T/p5; fail "restart not planned"; }
t2=\$(date +%s%N)
"$BANGER" reconcile >$T/r5 || { cat $T/r5; fail "edit reconcile"; }
echo "stop web + restart db in \$(( (\$(date +%s%N) - t2) / 1000000 )) ms"
"$BANGER" status --json >$T/st.json
/usr/bin/python3 -c 'import json,sys; d={v["name"]: v for v in json.load(open(sys.argv[1]))["vms"]}; assert d["web"]["observed"] == "stopped" and d["web"]["pid"] is None, d; assert d["db"]["observed"] == "running", d' $T/st.json || fail "after the edits"
tr '\\0' ' ' </proc/\$(sed -n 's/^pid: //p' $T/status/vms/db.yaml)/cmdline | grep -q -- "-m 320M" ||
	fail "db not restarted with 320M"
# A synced file edited while its VM is stopped: the next start copies it in again.
debugfs -R "cat /etc/motd" $T/status/vms/web/work.ext4 2>/dev/null | grep -qx one || fail "motd not seeded"
echo "two" >$T/state/files/motd
sed -i '/^state: stopped\$/d' $T/state/vms/web.yaml
"$BANGER" plan >$T/p6
grep -q "file syncs: " $T/p6 || { cat $T/p6; fail "start without the file syncs"; }
"$BANGER" reconcile >$T/r6 || { cat $T/r6; fail "start web again"; }
debugfs -R "cat /etc/motd" $T/status/vms/web/work.ext4 2>/dev/null | grep -qx two || fail "motd not copied again at the start"
rm $T/state/vms/web.yaml $T/state/vms/db.yaml
"$BANGER" reconcile --allow-mass-delete >$T/r5 || { cat $T/r5; fail "delete"; }
[ -z "\$(ip -br link | grep bgr- || true)" ] || fail "taps left"
! nft list table inet banger 2>/dev/null | grep -q 'banger id=' || fail "nat rules left"
[ ! -e $T/status/vms/web ] && [ ! -e $T/status/vms/web.yaml ] || fail "vm files left"
ls $T/status/retained/web-*.ext4 >/dev/null || fail "work disk not kept"
[ -z "\$(losetup -n -O BACK-FILE -l 2>/dev/null | grep -F "$T/" || true)" ] || fail "loop devices left"
for d in /proc/[0-9]*; do
	if tr '\\0' ' ' 2>/dev/null <"\$d/cmdline" | grep -qF "$T/status/"; then fail "process \${d#/proc/} left"; fi
done
echo ok
EOS
timeout 600 unshare --net sh "$T/run.sh"
