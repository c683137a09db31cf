#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Reconcile-level network test on the real drivers, inside a network
# namespace this test creates (unshare --net): three VMs with NAT on the fake
# Firecracker (its plan, made before the namespace has a default route, says
# the NAT steps will fail); then by hand one tap deleted, one NAT rule deleted, a foreign
# rule added to banger's table and a foreign 'bgr-' interface without
# banger's alias.  Reconcile repairs the first two, removes the foreign rule,
# leaves the foreign interface alone and reports it.  With every VM file
# removed, no banger tap and no banger rule is left.  Root only (77).
set -eu
: "${BANGER:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip nft /usr/bin/python3; do
	command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }
done
T=$(mktemp -d /tmp/banger-net-reconcile-XXXXXX)
. "$top_srcdir/tests/procs-lib.sh"
cleanup() {
	# End only the fake VMs this test started: their command lines name $T.
	kill_naming "$T/status/"
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/state/images" "$T/state/vms" "$T/img"
printf 'fake kernel\n' >"$T/img/vmlinux"
truncate -s 16M "$T/img/rootfs.ext4"
cat >"$T/state/host.yaml" <<EOS
bridge:
  name: bgrtest0
  address: 10.99.0.1/24
hypervisor: firecracker
firecracker:
  binary: $top_srcdir/tests/fakes/fake-firecracker
disk_strategy: copy
defaults:
  nat: true
  work_disk: 0
EOS
printf 'kernel: %s/img/vmlinux\nrootfs: %s/img/rootfs.ext4\n' "$T" "$T" >"$T/state/images/base.yaml"
for vm in a b c; do printf 'image: base\nmemory: 128M\n' >"$T/state/vms/$vm.yaml"; done

cat >"$T/run.sh" <<EOS
set -eu
export BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status
fail() { echo "FAIL: \$*" >&2; exit 1; }
tap_of() { sed -n 's/^tap: "\{0,1\}\(bgr-[0-9a-f]*\)"\{0,1\}\$/\1/p' $T/status/vms/\$1.yaml; }
id_of() { sed -n 's/^id: "\{0,1\}\([0-9a-f]*\)"\{0,1\}\$/\1/p' $T/status/vms/\$1.yaml; }
rules() { nft -a list table inet banger 2>/dev/null || true; }
ip link set lo up
# No default route yet: the plan says the NAT steps will fail, before they do.
"$BANGER" plan >$T/p0 || { cat $T/p0; fail "plan without a default route"; }
grep -q "^! host.yaml: uplink 'auto': no IPv4 default route: the nat steps will fail" $T/p0 ||
	{ cat $T/p0; fail "no uplink note in the plan"; }
"$BANGER" plan --json | /usr/bin/python3 -c '
import json, sys
n = json.load(sys.stdin)["notes"]
assert any("no IPv4 default route" in x for x in n), n' || fail "no uplink note in plan --json"
ip link add bgt-up0 type veth peer name bgt-up1
ip addr add 192.0.2.1/24 dev bgt-up0
ip link set bgt-up0 up
ip link set bgt-up1 up
ip route add default via 192.0.2.2

"$BANGER" plan >$T/p1 || { cat $T/p1; fail "plan"; }
grep -q "uplink" $T/p1 && { cat $T/p1; fail "uplink note with a default route"; }
"$BANGER" reconcile >$T/r1 || { cat $T/r1; fail "first reconcile"; }
grep -q "Reconciled: 3 changed, 0 failed" $T/r1 || { cat $T/r1; fail "first summary"; }
[ "\$(ip -br link | grep -c '^bgr-')" = 3 ] || fail "not 3 taps"
[ "\$(rules | grep -c 'banger id=')" = 6 ] || { rules; fail "not 6 vm rules"; }
# The Firecracker driver's whole call sequence, as the fake recorded it.
/usr/bin/python3 - $T/status/vms/a/api.sock.json "\$(tap_of a)" <<'PY' || fail "firecracker calls"
import json, sys
r = json.load(open(sys.argv[1]))
calls = [q["method"] + " " + q["path"] for q in r["requests"] if q["method"] != "GET"]
assert calls == ["PUT /machine-config", "PUT /boot-source", "PUT /drives/rootfs",
                 "PUT /network-interfaces/eth0", "PUT /actions"], calls
assert all(q["status"] == 204 for q in r["requests"] if q["method"] != "GET"), r["requests"]
c = r["config"]
assert c["machine-config"]["vcpu_count"] == 1 and c["machine-config"]["mem_size_mib"] == 128, c
assert "ip=10.99.0.2::10.99.0.1:255.255.255.0:a:eth0:off" in c["boot-source"]["boot_args"], c
assert c["drives"]["rootfs"]["is_root_device"] is True, c
assert c["network-interfaces"]["eth0"]["host_dev_name"] == sys.argv[2], c
assert c["network-interfaces"]["eth0"]["guest_mac"] == "06:00:0a:63:00:02", c
assert r["state"] == "Running", r["state"]
PY

# Damage behind banger's back.
ip link del "\$(tap_of a)"
idb=\$(id_of b)
h=\$(rules | grep "masquerade.*banger id=\$idb" | sed -n 's/.*# handle \([0-9]*\)\$/\1/p')
[ -n "\$h" ] || { rules; fail "no masquerade rule for b"; }
nft delete rule inet banger postrouting handle "\$h"
nft add rule inet banger forward iifname "bgt-up1" oifname "bgt-up0" accept
ip link add bgr-deadbeef type veth peer name bgt-peer0

"$BANGER" plan >$T/p2 || { cat $T/p2; fail "plan after damage"; }
# a's guest is on no tap now: it starts again on the new one.
grep -q "~ restart a (tap missing under the running guest)" $T/p2 ||
	{ cat $T/p2; fail "missing tap not planned"; }
grep -q "~ repair b" $T/p2 || { cat $T/p2; fail "missing rule not planned"; }
grep -q "not made by banger" $T/p2 || { cat $T/p2; fail "foreign rule not planned"; }
"$BANGER" reconcile >$T/r2 || { cat $T/r2; fail "repair reconcile"; }
"$BANGER" reconcile >$T/r3 || { cat $T/r3; fail "third reconcile"; }
grep -q "Nothing to do: 3 vms up to date" $T/r3 || { cat $T/r3; fail "not converged"; }
ip link show "\$(tap_of a)" >/dev/null 2>&1 || fail "a's tap not recreated"
ip link show "\$(tap_of a)" | grep -q LOWER_UP || fail "a's guest is not on its new tap"
rules | grep -q "masquerade.*banger id=\$idb" || fail "b's rule not recreated"
rules | grep -q 'iifname "bgt-up1"' && fail "foreign rule in banger's table kept"
ip link show bgr-deadbeef >/dev/null 2>&1 || fail "the foreign interface was touched"
"$BANGER" status >$T/s || { cat $T/s; fail "status"; }
grep -q "bgr-deadbeef" $T/s || { cat $T/s; fail "foreign interface not reported"; }

# A tap set down keeps its guest (carrier, though not LOWER_UP): it is set
# up again, the guest left running.
ip link set "\$(tap_of b)" down
"$BANGER" plan >$T/p3 || { cat $T/p3; fail "plan with a tap down"; }
grep -q "~ repair b (tap detached)" $T/p3 || { cat $T/p3; fail "a tap set down"; }
grep -q "stop pid" $T/p3 && { cat $T/p3; fail "a tap set down restarts its guest"; }
"$BANGER" reconcile >$T/r4 || { cat $T/r4; fail "repair a tap set down"; }
ip link show "\$(tap_of b)" | grep -q LOWER_UP || fail "b's tap not up with its guest"

# A delete cut short at each of its steps (the last one deletes the taps
# given up, together): the next run finishes it, nothing of c is left.
k=1
while :; do
	printf 'image: base\nmemory: 128M\n' >$T/state/vms/c.yaml
	"$BANGER" reconcile >$T/rk 2>&1 || { cat $T/rk; fail "recreate c (step \$k)"; }
	idc=\$(id_of c); tapc=\$(tap_of c)
	rm $T/state/vms/c.yaml
	set +e
	BANGER_FAULT=before:\$k "$BANGER" reconcile --stop-timeout 1 >$T/rk 2>&1
	rc=\$?
	set -e
	"$BANGER" reconcile --stop-timeout 1 >$T/rk2 2>&1 || { cat $T/rk2; fail "after a cut at \$k"; }
	ip link show "\$tapc" >/dev/null 2>&1 && fail "c's tap left after a cut at \$k"
	rules | grep -q "banger id=\$idc" && fail "c's rules left after a cut at \$k"
	[ \$rc = 0 ] && break
	[ \$rc = 137 ] || { cat $T/rk; fail "cut at \$k: exit \$rc"; }
	k=\$((k + 1))
	[ \$k -lt 30 ] || fail "delete never finished"
done
echo "delete of c cut at each of its \$((k - 1)) steps: converged"

# Every declaration removed: no banger tap, no banger rule.
rm $T/state/vms/a.yaml $T/state/vms/b.yaml
"$BANGER" reconcile --allow-mass-delete >$T/r4 || { cat $T/r4; fail "delete"; }
[ -z "\$(ip -br link | grep '^bgr-' | grep -v '^bgr-deadbeef' || true)" ] || fail "taps left"
rules | grep -q 'banger id=' && fail "rules left"
ip link show bgr-deadbeef >/dev/null 2>&1 || fail "the foreign interface was removed"

# --boot-timeout: a guest that never gets ready is an error after that long,
# with its console's last lines, and is stopped (--stop-timeout: SIGTERM
# after that long when it ignores the graceful stop); "starting" until then.
printf 'image: base\nmemory: 128M\n' >$T/state/vms/d.yaml
t=\$(date +%s)
set +e
FAKE_FIRECRACKER_NO_READY=1 FAKE_FIRECRACKER_IGNORE_CAD=1 "$BANGER" reconcile --boot-timeout 4 --stop-timeout 1 >$T/r6 2>&1 &
bg=\$!
i=0
until "$BANGER" status d --json 2>/dev/null | grep -q '"observed": "starting"'; do
	i=\$((i + 1))
	[ \$i -lt 40 ] || { "$BANGER" status d; fail "d never shown as starting"; }
	sleep 0.1
done
wait \$bg
rc=\$?
set -e
[ \$rc = 1 ] || { cat $T/r6; fail "never-ready guest: exit \$rc"; }
grep -q "guest not ready after 4000 ms, stopped; console: " $T/status/vms/d.yaml || { cat $T/status/vms/d.yaml; fail "no boot timeout error with the console"; }
[ \$((\$(date +%s) - t)) -lt 15 ] || fail "--boot-timeout 4 took too long"
for d in /proc/[0-9]*; do
	if tr '\\0' ' ' 2>/dev/null <"\$d/cmdline" | grep -qF "$T/status/vms/d/"; then fail "d's hung process left running"; fi
done
"$BANGER" status d --json | grep -q '"observed": "failed"' || { "$BANGER" status d; fail "d not failed"; }
# The next run starts it again; one that ignores the graceful stop is
# deleted within --stop-timeout.
FAKE_FIRECRACKER_IGNORE_CAD=1 "$BANGER" reconcile >$T/r7 2>&1 || { cat $T/r7; fail "d started again"; }
"$BANGER" status d --json | grep -q '"observed": "running"' || { "$BANGER" status d; fail "d not running"; }
rm $T/state/vms/d.yaml
t=\$(date +%s)
"$BANGER" reconcile --stop-timeout 1 >$T/r7 2>&1 || { cat $T/r7; fail "delete d"; }
[ \$((\$(date +%s) - t)) -lt 8 ] || { cat $T/r7; fail "--stop-timeout 1 took too long"; }
for d in /proc/[0-9]*; do
	if tr '\\0' ' ' 2>/dev/null <"\$d/cmdline" | grep -qF "$T/status/vms/d/"; then fail "d's process left"; fi
done
echo ok
EOS
timeout 300 unshare --net sh "$T/run.sh"
