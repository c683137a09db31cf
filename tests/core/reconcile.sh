#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger plan / reconcile / status end to end on the fake host
# (BANGER_FAKE_HOST keeps its state in a file between runs).
set -eu

: "${BANGER:?}" "${top_builddir:?}"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/banger-core-sh-XXXXXX)
HOLDER=
cleanup() {
	if [ -n "$HOLDER" ]; then kill "$HOLDER" 2>/dev/null || true; wait "$HOLDER" 2>/dev/null || true; fi
	rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_exit() {
	want=$1; shift
	set +e
	"$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	[ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $got, wanted $want"; }
}
has() { grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; fail "output lacks '$1'"; }; }
has_err() { grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks '$1'"; }; }

mkdir -p "$T/state/images" "$T/state/vms"
printf 'kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n' >"$T/state/images/base.yaml"
printf 'image: base\nmemory: 512M\nnetwork:\n  nat: true\ndisks:\n  work: 1G\n' >"$T/state/vms/web.yaml"
printf 'image: base\nstate: stopped\n' >"$T/state/vms/db.yaml"
BANGER_FAKE_HOST=$T/host BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status
export BANGER_FAKE_HOST BANGER_STATE BANGER_STATUS_DIR

expect_exit 0 "$BANGER" plan
has "+ create web (running, 1 vcpu, 512M, ip 10.77.0.3)"
has "+ create db (stopped, 1 vcpu, 512M, ip 10.77.0.2)"
has "Plan: 2 to create"
# banger's key pair is made by the first reconcile; the plan before it says
# the step that seeds it, as reconcile then runs it.
if command -v ssh-keygen >/dev/null; then
	has "file syncs: the ssh keys"
fi
expect_exit 0 "$BANGER" plan --json
$PY -c 'import json,sys; p=json.load(open(sys.argv[1])); assert [c["vm"] for c in p["changes"]]==["db","web"], p; assert p["changes"][1]["change"]=="create"; assert not p["empty"]' "$T/out"

# --dry-run changes nothing.
expect_exit 0 "$BANGER" reconcile --dry-run
[ ! -e "$T/host" ] || fail "dry run touched the host"

expect_exit 0 "$BANGER" reconcile
has "create web:"
has "Reconciled: 2 changed, 0 failed"
[ -f "$T/status/vms/web.yaml" ] || fail "no status file"
grep -q '^phase: "running"' "$T/status/vms/web.yaml" || fail "web not running in status"

# Converged: the second run does nothing.
expect_exit 0 "$BANGER" reconcile
has "Nothing to do: 2 vms up to date"
expect_exit 0 "$BANGER" plan
has "No changes: 2 vms up to date."
# The common options may come before the command.
expect_exit 0 env BANGER_STATE="$T/none" BANGER_STATUS_DIR="$T/none" "$BANGER" \
	--state "$T/state" --status-dir="$T/status" plan
has "No changes: 2 vms up to date."
expect_exit 64 "$BANGER" --state "$T/state"
has_err "no command after the options"
expect_exit 64 "$BANGER" plan --state

expect_exit 0 "$BANGER" status
has "web                  running    running   10.77.0.3"
expect_exit 0 "$BANGER" status web --json
$PY -c 'import json,sys; s=json.load(open(sys.argv[1])); v=s["vms"]; assert len(v)==1 and v[0]["name"]=="web" and v[0]["pid"]==1000 and v[0]["drift"] is None and v[0]["disk_strategy"]=="dm-snapshot", s' "$T/out"
expect_exit 0 "$BANGER" status db
has " dm-snapshot "
expect_exit 1 "$BANGER" status nosuch

# As root, declarations anyone could change are refused: the state
# directory or a kind's folder in it world-writable (a sticky bit or not).
if [ "$(id -u)" = 0 ]; then
	chmod 1777 "$T/state"
	expect_exit 1 "$BANGER" reconcile
	has_err "'$T/state' is world-writable (mode 1777)"
	chmod 0755 "$T/state"
	chmod 0777 "$T/state/vms"
	expect_exit 1 "$BANGER" plan
	has_err "'$T/state/vms' is world-writable (mode 0777)"
	expect_exit 1 "$BANGER" validate
	chmod 0755 "$T/state/vms"
	expect_exit 0 "$BANGER" plan
fi

# The status directory is banger's own: writable by no one else, its
# folders real folders (else vms/ could lead to files removed as orphans).
chmod 0777 "$T/status"
expect_exit 1 "$BANGER" reconcile
has_err "'$T/status' is writable by others (owner $(id -u), mode 0777)"
chmod 0700 "$T/status"
mv "$T/status/vms" "$T/status/vms.real"
ln -s vms.real "$T/status/vms"
expect_exit 1 "$BANGER" plan
has_err "'$T/status/vms' is not a folder (a symlink)"
rm "$T/status/vms"
mv "$T/status/vms.real" "$T/status/vms"
expect_exit 0 "$BANGER" plan

# A restart field changed.
sed -i 's/512M/1G/' "$T/state/vms/web.yaml"
expect_exit 0 "$BANGER" plan
has "~ restart web (memory 512M -> 1G)"
expect_exit 0 "$BANGER" status web
has "restart"

# A broken declaration holds its VM; the rest converges; exit 2 (partial).
printf 'image: base\nvcpu: 2\n' >"$T/state/vms/bad.yaml"
expect_exit 2 "$BANGER" reconcile --json
$PY -c '
import json,sys
r=json.load(open(sys.argv[1]))
assert r["summary"]["changed"]==1 and r["summary"]["held"]==1 and r["summary"]["exit"]==2, r
assert r["plan"]["held"][0].startswith("bad: vms/bad.yaml:2:1:"), r["plan"]["held"]
d=r["plan"]["held_details"][0]
assert (d["vm"], d["file"], d["line"], d["column"]) == ("bad", "vms/bad.yaml", 2, 1), d
assert d["message"].startswith("found unknown key"), d
assert "source" in r, r.keys()
assert [s["action"] for s in r["steps"]]==["stop","filesync","start","record"], r["steps"]
' "$T/out"
rm "$T/state/vms/bad.yaml"

# --only restricts the run.
printf 'image: base\n' >"$T/state/vms/api.yaml"
printf 'image: base\n' >"$T/state/vms/cache.yaml"
expect_exit 0 "$BANGER" reconcile --only api
has "create api:"
expect_exit 0 "$BANGER" plan
has "+ create cache"
expect_exit 0 "$BANGER" reconcile

# Another host's VM is left alone.
printf 'image: base\nhost: elsewhere\n' >"$T/state/vms/far.yaml"
expect_exit 0 "$BANGER" reconcile --host-name here
has "Nothing to do"
expect_exit 0 "$BANGER" reconcile --host-name elsewhere
has "create far:"
rm "$T/state/vms/far.yaml"
expect_exit 0 "$BANGER" reconcile --host-name elsewhere
has "delete far:"
# Host names are compared without regard to case, as DNS does.
printf 'image: base\nstate: stopped\nhost: ElseWhere\n' >"$T/state/vms/far.yaml"
expect_exit 0 "$BANGER" plan --host-name elsewhere
has "+ create far"
rm "$T/state/vms/far.yaml"

# Deleting most VMs at once is refused without --allow-mass-delete.
rm "$T/state/vms/api.yaml" "$T/state/vms/cache.yaml" "$T/state/vms/db.yaml"
expect_exit 1 "$BANGER" reconcile
has_err "refusing without --allow-mass-delete"
expect_exit 1 "$BANGER" plan
has "! refused: this run would delete 3 of the 4 existing vms"
expect_exit 0 "$BANGER" plan --allow-mass-delete
has "3 to delete"
expect_exit 0 "$BANGER" reconcile --allow-mass-delete
has "Reconciled: 3 changed, 0 failed"
[ ! -e "$T/status/vms/db.yaml" ] || fail "db's status file survived its deletion"

# The lock: a second run waits, then exits 3 naming the holder.
$PY -c '
import fcntl,os,sys,time
fd=os.open(sys.argv[1], os.O_RDWR|os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
os.ftruncate(fd, 0); os.write(fd, b"%d\n" % os.getpid())
open(sys.argv[2], "w").write("locked")
time.sleep(30)
' "$T/status/lock" "$T/locked" &
HOLDER=$!
i=0
while [ ! -e "$T/locked" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
expect_exit 3 "$BANGER" reconcile --lock-timeout 1
has_err "(pid $HOLDER)"
expect_exit 64 "$BANGER" reconcile --lock-timeout soon
expect_exit 64 "$BANGER" reconcile --boot-timeout 86401
has_err "'86401' is not a number of seconds (1 to 86400)"
# --json only where the output is data (the man page says which).
for c in logs ssh ssh-config; do
	expect_exit 64 "$BANGER" "$c" --json web
	has_err "unknown or incomplete option '--json'"
done
kill "$HOLDER"; wait "$HOLDER" 2>/dev/null || true; HOLDER=
expect_exit 0 "$BANGER" reconcile --lock-timeout 1
# --only names a VM declared or known: a typo is an error, not a no-op.
expect_exit 1 "$BANGER" plan --only wbe
has_err "--only wbe: no such vm declared or known to this host"
expect_exit 1 "$BANGER" reconcile --only web --only wbe
has_err "--only wbe: no such vm"
expect_exit 0 "$BANGER" plan --only web

# A new bridge.address is not applied to the existing bridge: the VMs that
# would move say why and keep running where they are.
printf 'image: base\nstate: stopped\n' >"$T/state/vms/cold.yaml"
expect_exit 0 "$BANGER" reconcile
webip_before=$(sed -n 's/^ip: "*\([0-9.]*\)"*$/\1/p' "$T/status/vms/web.yaml")
coldip_before=$(sed -n 's/^ip: "*\([0-9.]*\)"*$/\1/p' "$T/status/vms/cold.yaml")
printf 'bridge:\n  address: 10.88.0.1/24\n' >"$T/state/host.yaml"
expect_exit 0 "$BANGER" plan
has "    bridge banger0 10.88.0.1/24"
expect_exit 1 "$BANGER" reconcile
has "has another address"
grep -q "^ip: \"*$webip_before\"*\$" "$T/status/vms/web.yaml" || fail "web moved"
grep -q "^ip: \"*$coldip_before\"*\$" "$T/status/vms/cold.yaml" || fail "cold moved"
expect_exit 0 "$BANGER" plan
has "    bridge banger0 10.88.0.1/24"
rm "$T/state/host.yaml" "$T/state/vms/cold.yaml"
expect_exit 0 "$BANGER" reconcile

# Another uplink (host.yaml's, or the default route's interface moving):
# NAT rules through the old one are drift, redone through the new one.
printf 'uplink: eth9\n' >"$T/state/host.yaml"
expect_exit 0 "$BANGER" plan
has "~ repair web (nat via eth0, not the uplink eth9)"
expect_exit 0 "$BANGER" reconcile
[ "$(grep '^rule' "$T/host" | grep -c '	eth9	')" = 2 ] || { grep '^rule' "$T/host"; fail "rules not through eth9"; }
grep '^rule' "$T/host" | grep -q '	eth0	' && { grep '^rule' "$T/host"; fail "a rule through eth0 left"; }
expect_exit 0 "$BANGER" plan
has "No changes"
rm "$T/state/host.yaml"
expect_exit 0 "$BANGER" reconcile
has "repair web (nat via eth9, not the uplink eth0)"

# banger start: what it says for a name it cannot start, or a VM not idle.
expect_exit 64 "$BANGER" start ../x
has_err "'../x' is not a vm name"
expect_exit 1 "$BANGER" start nope
has_err "no vm 'nope' is declared"
printf 'image: base\nvcpu: 2\n' >"$T/state/vms/broken.yaml"
expect_exit 1 "$BANGER" start broken
has_err "vm 'broken' is held"
expect_exit 0 "$BANGER" status
has "held broken: vms/broken.yaml:2:1: found unknown key 'vcpu'"
rm "$T/state/vms/broken.yaml"
expect_exit 0 "$BANGER" start web
has "vm 'web': not stopped for idleness"
# start --json: reconcile's JSON with a "start" member, and nothing else on
# standard output; an idle stop recorded is cleared and said so.
expect_exit 0 "$BANGER" start --json web
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["start"]=={"vm":"web","idle_stop_cleared":False}, r; assert r["summary"]["exit"]==0 and "steps" in r, r' "$T/out"
printf 'stopped_reason: idle\nstopped_ms: 5\nstopped_generation: ""\n' >"$T/idle"
sed -i "/^end: true/{
r $T/idle
d
}" "$T/status/vms/web.yaml"
echo 'end: true' >>"$T/status/vms/web.yaml"
grep -q '^stopped_reason: "*idle' "$T/status/vms/web.yaml" || fail "idle record not planted"
expect_exit 0 "$BANGER" start --json web
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["start"]=={"vm":"web","idle_stop_cleared":True}, r' "$T/out"
grep -q '^stopped_reason' "$T/status/vms/web.yaml" && fail "idle stop not cleared"
# --host-name reaches the reconcile: a VM of another host is left alone
# unless start is told it is that host.
expect_exit 64 "$BANGER" start --host-name 'no such' web
has_err "is not a host name"
printf 'image: base\nstate: stopped\nhost: elsewhere\n' >"$T/state/vms/far.yaml"
expect_exit 0 "$BANGER" start --json far
$PY -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["summary"]["changed"]==0, r' "$T/out"
[ -e "$T/status/vms/far.yaml" ] && fail "far created for another host"
expect_exit 0 "$BANGER" start --host-name elsewhere far
has "create far"
[ -e "$T/status/vms/far.yaml" ] || fail "far not created with --host-name"
rm "$T/state/vms/far.yaml"
expect_exit 0 "$BANGER" reconcile --host-name elsewhere

# A VM file renamed to a name that is no DNS label (vms/Web.yaml) holds the
# VM it most likely is (web): never deleted for it.  A misnamed file that
# names no VM still makes the run partial.
mv "$T/state/vms/web.yaml" "$T/state/vms/Web.yaml"
expect_exit 2 "$BANGER" plan
has "! held: vms/Web.yaml:1:1: found file name 'Web'"
expect_exit 2 "$BANGER" reconcile
has "held web: vms/Web.yaml:1:1:"
[ -e "$T/status/vms/web.yaml" ] || fail "web deleted for vms/Web.yaml"
mv "$T/state/vms/Web.yaml" "$T/state/vms/web.yaml"
printf 'image: base\n' >"$T/state/vms/we_b.yaml"
expect_exit 2 "$BANGER" plan
has "! error: vms/we_b.yaml:1:1: found file name 'we_b'"
rm "$T/state/vms/we_b.yaml"
expect_exit 0 "$BANGER" reconcile

# A record write a killed run never renamed into place (NAME.yaml.tmp) is
# removed by the next run that holds the lock, and only by one.
printf 'name: ghost\n' >"$T/status/vms/ghost.yaml.tmp"
printf 'name: web\n' >"$T/status/vms/web.yaml.tmp"
expect_exit 0 "$BANGER" plan
[ -e "$T/status/vms/ghost.yaml.tmp" ] || fail "plan removed a temp file"
expect_exit 0 "$BANGER" reconcile
[ ! -e "$T/status/vms/ghost.yaml.tmp" ] && [ ! -e "$T/status/vms/web.yaml.tmp" ] ||
	fail "stale record temp files left: $(ls "$T/status/vms")"
[ -e "$T/status/vms/web.yaml" ] || fail "web's record went with its temp file"

# Tables keep their columns with names longer than the usual width.
long=a-name-of-forty-characters-for-a-vm-abcd
printf 'image: base\nstate: stopped\n' >"$T/state/vms/$long.yaml"
for cmd in validate status; do
	expect_exit 0 "$BANGER" $cmd
	awk -v cmd=$cmd 'NR == 1 { want = index($0, cmd == "status" ? "DESIRED" : "DETAILS") }
		$1 ~ /^(NAME|KIND|web|vm|image|host)$/ || index($0, "a-name-of") {
			col = cmd == "status" ? 2 : 3
			split($0, f, / +/)
			if (index($0, f[col]) != want) { print "misaligned: " $0; bad = 1 }
		} END { exit bad }' "$T/out" || { cat "$T/out" >&2; fail "$cmd: columns"; }
done
rm "$T/state/vms/$long.yaml"

# A last error of several lines (a boot failure's console tail) is one row:
# its first line, the rest in --json.
sed -i 's|^last_error: null|last_error: "start: boot failed\\nconsole: panic\\nconsole: end"|' \
	"$T/status/vms/web.yaml"
expect_exit 0 "$BANGER" status
[ "$(grep -c "^web " "$T/out")" = 1 ] || { cat "$T/out" >&2; fail "web has more than one row"; }
grep -q 'console:' "$T/out" && { cat "$T/out" >&2; fail "console lines in the table"; }
has "start: boot failed (more: --json)"
expect_exit 0 "$BANGER" status web --json
has 'console: panic'

# validate notes an image file missing on this host (not an error there:
# a CI machine has no image files).
expect_exit 0 "$BANGER" validate
has_err "banger: note: images/base.yaml: image 'base': kernel '/img/vmlinux': No such file or directory here"
expect_exit 0 "$BANGER" validate -q
[ ! -s "$T/err" ] || { cat "$T/err" >&2; fail "validate -q printed"; }

# A record rebuilt from host marks does not know when its guest started:
# no uptime, rather than 0s; its existing work disk is said to be kept.
rm "$T/status/vms/web.yaml"
expect_exit 0 "$BANGER" status
[ "$(awk '$1 == "web" { print $7 }' "$T/out")" = "-" ] || { cat "$T/out" >&2; fail "uptime of a rebuilt record"; }
expect_exit 0 "$BANGER" status web --json
$PY -c 'import json,sys; v=json.load(open(sys.argv[1]))["vms"][0]; assert v["pid"] and v["uptime_s"] is None, v' "$T/out"
expect_exit 0 "$BANGER" plan
has "work disk 1G (one already there is kept, data and all)"
echo "ok"
