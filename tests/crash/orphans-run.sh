# SPDX-License-Identifier: GPL-2.0-or-later
# The inside of tests/crash/orphans.sh (in its network namespace).
set -eu
. "$top_srcdir/tests/crash/lib.sh"
inner_setup
vm_decl "$ST" keep running 128M true 16M no
"$BANGER" reconcile >"$T/out" 2>&1 || { cat "$T/out"; fail "setup"; }
leaks "$SD" | sort >"$T/baseline"

ID=0123456789abcdef0123456789abcdef
# banger's marks, no VM: every one an orphan.
ip tuntap add dev bgr-01234567 mode tap
ip link set bgr-01234567 alias "banger vm=ghost id=$ID"
nft add rule inet banger postrouting ip saddr 10.77.0.99 masquerade comment "\"banger id=$ID\""
nft add rule inet banger forward iifname bgr-01234567 accept comment "\"banger id=$ID\""
mkdir -p "$SD/vms/ghost"
truncate -s 8M "$SD/vms/ghost/cow.img"
echo precious >"$SD/vms/ghost/work.ext4"
losetup -f "$SD/vms/ghost/cow.img"
FAKE_FIRECRACKER_WATCH_PID=$$ /usr/bin/python3 "$top_srcdir/tests/fakes/fake-firecracker" \
	--api-sock "$SD/vms/ghost/api.sock" >/dev/null 2>&1 &
fc=$!
i=0
while [ ! -S "$SD/vms/ghost/api.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -S "$SD/vms/ghost/api.sock" ] || fail "the fake firecracker did not start"

# Look-alikes without banger's mark: never touched.
ip tuntap add dev bgr-89abcdef mode tap
nft add table inet other
nft add chain inet other postrouting '{ type nat hook postrouting priority 100; }'
nft add rule inet other postrouting ip saddr 10.77.0.98 masquerade comment "\"banger id=$ID\""
truncate -s 8M "$T/foreign.img"
losetup -f "$T/foreign.img"
foreign_loop=$(losetup -n -O NAME -j "$T/foreign.img")
# Under the status directory but no VM's overlay (another banger's status
# directory below this one): not banger's either.
mkdir -p "$SD/other/vms/web"
truncate -s 8M "$SD/other/vms/web/cow.img"
losetup -f "$SD/other/vms/web/cow.img"
nested_loop=$(losetup -n -O NAME -j "$SD/other/vms/web/cow.img")

leaks "$SD" >"$T/planted"
for k in "tap bgr-01234567" "nat-rule" "loop" "process $fc" "file $SD/vms/ghost"; do
	grep -q "^$k" "$T/planted" || { cat "$T/planted"; fail "the leak finder misses '$k'"; }
done
"$BANGER" plan >"$T/plan" 2>&1 || true
n=$(grep -c '^- orphan' "$T/plan" || true)
"$BANGER" reconcile >"$T/out" 2>&1 || { cat "$T/plan" "$T/out"; fail "reconcile"; }
"$BANGER" plan >"$T/out" 2>&1 && grep -q '^No changes' "$T/out" || { cat "$T/out"; fail "not converged"; }
ip link show bgr-89abcdef >/dev/null 2>&1 || fail "an unmarked tap was deleted"
losetup "$nested_loop" >/dev/null 2>&1 || fail "another status directory's loop device was detached"
losetup -d "$nested_loop"
rm -r "$SD/other"
ip link del bgr-89abcdef
leaks "$SD" | sort >"$T/after"
cmp -s "$T/baseline" "$T/after" || { cat "$T/plan"; diff "$T/baseline" "$T/after"; fail "orphans left"; }
ls "$SD"/retained/ghost-*.ext4 >/dev/null 2>&1 || fail "the orphan's work disk was not kept"
grep -q precious "$SD"/retained/ghost-*.ext4 || fail "the orphan's work disk changed"
kill -0 $fc 2>/dev/null && fail "the orphan process runs"
nft list table inet other | grep -q 10.77.0.98 || fail "a rule in another table was deleted"
losetup "$foreign_loop" >/dev/null 2>&1 || fail "a foreign loop device was detached"
losetup -d "$foreign_loop"
# A real-host sample of the corruption matrix: keep's status file cut in
# half: the identity comes back from the marks (same tap), nothing leaks.
tap=$(sed -n 's/^tap: "\(.*\)"$/\1/p' "$SD/vms/keep.yaml")
[ -n "$tap" ] || fail "no tap in keep's status"
size=$(wc -c <"$SD/vms/keep.yaml")
truncate -s $((size / 2)) "$SD/vms/keep.yaml"
"$BANGER" reconcile >"$T/out" 2>&1 || { cat "$T/out"; fail "reconcile over a cut status file"; }
grep -q "keep.yaml" "$T/out" || { cat "$T/out"; fail "the cut status file was not reported"; }
grep -q "^tap: \"$tap\"$" "$SD/vms/keep.yaml" || fail "keep's identity changed"
"$BANGER" plan >"$T/out" 2>&1 && grep -q '^No changes' "$T/out" || { cat "$T/out"; fail "not converged"; }
rm -f "$ST/vms/keep.yaml"
"$BANGER" reconcile >"$T/out" 2>&1 || { cat "$T/out"; fail "delete"; }
leaks "$SD" >"$T/left"
[ ! -s "$T/left" ] || { cat "$T/left"; fail "objects left"; }
echo "orphans planned: $n; kinds removed: tap, nat rules, loop, vm directory, process; foreign kept: 3"
