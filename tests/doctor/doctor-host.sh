#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger doctor on this very host: every check reports, none crashes, the
# JSON parses, the exit code follows the errors, and a world-writable state
# directory is refused.  Host-specific outcomes are asserted only for what
# holds on every machine the project runs on (tun and loop, as root).
set -eu
: "${BANGER:?}"
PY=/usr/bin/python3
t=$(mktemp -d /tmp/banger-test-doctor-XXXXXX)
trap 'rm -rf "$t"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }
unset BANGER_HOSTS_FILE BANGER_DNSMASQ_DIR

mkdir -m 0755 "$t/state"
mkdir -m 0700 "$t/status"
printf 'bridge:\n  name: bgrdoctor0\n  address: 10.213.7.1/24\n' >"$t/state/host.yaml"

rc=0
"$BANGER" doctor --json --state "$t/state" --status-dir "$t/status" >"$t/out.json" 2>"$t/err" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "exit code $rc"
[ ! -s "$t/err" ] || { cat "$t/err" >&2; fail "doctor wrote to stderr"; }
root=no
[ "$(id -u)" -eq 0 ] && root=yes
"$PY" - "$t/out.json" "$rc" "$root" "$t/state" "$t/status" <<'PYEOF' || fail "json checks"
import json, sys
path, rc, root, state, status = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
with open(path) as f:
    d = json.load(f)
names = ["host-config", "state-dir", "status-dir", "disk-space", "kvm", "tun", "nftables",
         "device-mapper", "disk-strategy", "loop", "qemu", "firecracker", "bridge", "uplink",
         "ip-forward", "names"]
assert set(d) == {"state_dir", "status_dir", "ok", "errors", "warnings", "checks"}, d.keys()
assert d["state_dir"] == state and d["status_dir"] == status
got = [c["name"] for c in d["checks"]]
assert got == names, got
by = {}
for c in d["checks"]:
    assert set(c) == {"name", "status", "message", "fix"}, c
    assert c["status"] in ("ok", "warn", "error", "skip"), c
    assert isinstance(c["message"], str) and c["message"], c
    if c["status"] in ("warn", "error"):
        assert isinstance(c["fix"], str) and c["fix"], c
    else:
        assert c["fix"] is None, c
    by[c["name"]] = c
errors = sum(c["status"] == "error" for c in d["checks"])
warnings = sum(c["status"] == "warn" for c in d["checks"])
assert d["errors"] == errors and d["warnings"] == warnings
assert d["ok"] == (errors == 0)
assert rc == (1 if errors else 0), (rc, errors)
# Certain on this project's machines.
assert by["host-config"]["status"] == "ok", by["host-config"]
assert by["state-dir"]["status"] == "ok", by["state-dir"]
assert by["bridge"]["message"].startswith("bridge 'bgrdoctor0'"), by["bridge"]
if root == "yes":
    assert by["status-dir"]["status"] == "ok", by["status-dir"]
    assert by["tun"]["status"] == "ok", by["tun"]
    assert by["loop"]["status"] == "ok", by["loop"]
# A private status directory: only banger's own fragment names the guests.
assert by["names"]["status"] == "skip", by["names"]
assert by["names"]["message"].startswith("NAME.vm only in '%s/hosts'" % status), by["names"]
PYEOF

# Human output: one line per check, status first.
rc=0
"$BANGER" doctor --state "$t/state" --status-dir "$t/status" >"$t/out" 2>"$t/err" || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "exit code $rc (human)"
[ "$(wc -l <"$t/out")" -eq 16 ] || fail "not 16 lines"
if grep -Ev '^(ok   |warn |error|skip ) ' "$t/out"; then fail "a line without a status"; fi
if [ "$root" = yes ]; then
	grep -Eq '^ok +tun +/dev/net/tun usable$' "$t/out" || fail "tun line"
fi

# Names: a hosts file and a dnsmasq conf dir named by the environment; a
# drop-in banger did not write is a warning.
mkdir "$t/dnsmasq.d"
BANGER_HOSTS_FILE=$t/hosts BANGER_DNSMASQ_DIR=$t/dnsmasq.d \
	"$BANGER" doctor --state "$t/state" --status-dir "$t/status" >"$t/out" 2>"$t/err" || true
grep -Eq "^ok +names +NAME\.vm in the block of '$t/hosts'.*; dnsmasq: banger writes '$t/dnsmasq.d/banger.conf'" \
	"$t/out" || { cat "$t/out" >&2; fail "names line"; }
printf 'hostsdir=/srv\n' >"$t/dnsmasq.d/banger.conf"
BANGER_HOSTS_FILE=$t/hosts BANGER_DNSMASQ_DIR=$t/dnsmasq.d \
	"$BANGER" doctor --state "$t/state" --status-dir "$t/status" >"$t/out" 2>"$t/err" || true
grep -Eq "^warn +names +.*'$t/dnsmasq.d/banger.conf' was not written by banger.*; fix: move" \
	"$t/out" || { cat "$t/out" >&2; fail "foreign drop-in line"; }

# A world-writable state directory is an error.
mkdir "$t/ww"
chmod 0777 "$t/ww"
rc=0
"$BANGER" doctor --state "$t/ww" --status-dir "$t/status" >"$t/out" 2>"$t/err" || rc=$?
[ "$rc" -eq 1 ] || fail "world-writable state: exit $rc, expected 1"
grep -Eq "^error +state-dir +'$t/ww' is world-writable \(mode 0777\)" "$t/out" ||
	{ cat "$t/out" >&2; fail "no world-writable error line"; }
grep -q "fix: chmod o-w '$t/ww'" "$t/out" || fail "no fix for the world-writable state"

# The real bridge, uplink and nftables probes, in a private network namespace
# this test creates (it vanishes with the unshare'd shell).
if [ "$root" = yes ] && command -v unshare >/dev/null && command -v ip >/dev/null &&
	unshare --net true 2>/dev/null; then
	mkdir -m 0755 "$t/state2"
	printf 'bridge:\n  name: bgrdoc1\n' >"$t/state2/host.yaml"
	unshare --net -- /bin/sh -eu -c '
		b=$1 s=$2 st=$3 d=$4 s2=$5
		ip link add bgrdoctor0 type bridge
		ip address add 10.213.7.1/24 dev bgrdoctor0
		ip link set bgrdoctor0 up
		"$b" doctor --state "$s" --status-dir "$st" >"$d/ns1" || true
		ip address del 10.213.7.1/24 dev bgrdoctor0
		ip address add 10.213.8.1/24 dev bgrdoctor0
		"$b" doctor --state "$s" --status-dir "$st" >"$d/ns2" || true
		ip link add bgrdoc1 type veth peer name bgrdoc1p
		"$b" doctor --state "$s2" --status-dir "$st" >"$d/ns3" || true
	' sh "$BANGER" "$t/state" "$t/status" "$t" "$t/state2"
	grep -Eq "^ok +bridge +bridge 'bgrdoctor0' up with 10\.213\.7\.1/24$" "$t/ns1" ||
		{ cat "$t/ns1" >&2; fail "bridge ok line"; }
	grep -Eq "^warn +uplink +uplink 'auto': no IPv4 default route" "$t/ns1" ||
		fail "uplink without a default route"
	grep -Eq "^ok +nftables +.*table inet banger absent" "$t/ns1" || fail "nftables in a new netns"
	grep -Eq "^error +bridge +bridge 'bgrdoctor0' has 10\.213\.8\.1/24, not 10\.213\.7\.1/24" \
		"$t/ns2" || { cat "$t/ns2" >&2; fail "bridge with another address"; }
	grep -Eq "^error +bridge +'bgrdoc1' exists but is not a bridge" "$t/ns3" ||
		{ cat "$t/ns3" >&2; fail "a veth named like the bridge"; }
	echo "netns probes checked"
fi

# Usage.
rc=0
"$BANGER" doctor extra >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 64 ] || fail "extra argument: exit $rc"
rc=0
"$BANGER" doctor --bogus >/dev/null 2>"$t/err" || rc=$?
[ "$rc" -eq 64 ] || fail "unknown option: exit $rc"
grep -qx "banger: doctor: unknown or incomplete option '--bogus'; see 'banger doctor --help'" "$t/err" ||
	{ cat "$t/err"; fail "unknown option message"; }
"$BANGER" doctor --help | grep -q '^Usage: banger doctor' || fail "help"

# A relative --status-dir is made absolute, as every command does (the disk
# driver refused it: a false disk-strategy error).
(cd "$t" && "$BANGER" doctor --json --state "$t/state" --status-dir status >"$t/rel.json" 2>&1) || true
"$PY" - "$t/rel.json" "$t/status" <<'PYEOF' || { cat "$t/rel.json"; fail "relative status dir"; }
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status_dir"] == sys.argv[2], d["status_dir"]
ds = [c for c in d["checks"] if c["name"] == "disk-strategy"][0]
assert "unavailable" not in ds["message"], ds
PYEOF

# A state that is a bare git repository: host.yaml read from its branch tip,
# as plan reads it (it was read as a folder: defaults, bridge banger0).
if command -v git >/dev/null; then
	git init -q -b main "$t/wt"
	printf 'bridge:\n  name: bgrdocgit0\n' >"$t/wt/host.yaml"
	git -C "$t/wt" add host.yaml
	git -C "$t/wt" -c user.name=t -c user.email=t@example.invalid commit -q -m one
	git clone -q --bare "$t/wt" "$t/bare.git"
	"$BANGER" doctor --state "$t/bare.git" --status-dir "$t/status" >"$t/git-out" 2>&1 || true
	grep -q "bgrdocgit0" "$t/git-out" || { cat "$t/git-out"; fail "a git state's host.yaml not read"; }
fi
exit 0
