#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Whole state directories that no JSON Schema of one file can judge
# (duplicate keys, anchors, file names, cross-file references, ip and mac
# clashes, ...): run banger validate on each and compare its exact stderr
# with the case's `expected` file (empty: valid, exit 0; else exit 1).
# Hostile inputs (over 1 MiB, non-UTF-8, 10,001 entries, links out of the
# state directory) are built here at test time instead of being committed.
set -u
: "${BANGER:?}" "${top_srcdir:?}"
states="$top_srcdir/tests/data/spec/states"
work=$(mktemp -d /tmp/banger-test-states-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
fail=0
ran=0

check() { # check NAME EXPECTED_FILE (run from the directory holding NAME)
	name=$1
	expected=$2
	"$BANGER" validate --quiet --state "$name" >"$work/out" 2>"$work/err"
	rc=$?
	want_rc=1
	[ -s "$expected" ] || want_rc=0
	ran=$((ran + 1))
	if ! cmp -s "$expected" "$work/err" || [ "$rc" -ne "$want_rc" ]; then
		echo "FAIL: $name (exit $rc, want $want_rc)"
		diff -u "$expected" "$work/err"
		fail=1
	else
		echo "ok: $name"
	fi
}

cd "$states" || exit 1
for d in */; do
	d=${d%/}
	check "$d" "$states/$d/expected"
done

# Generated cases, in $work.
cd "$work" || exit 1
mkdir -p big/vms big/images
printf 'kernel: /k\nrootfs: /r\n' >big/images/base.yaml
printf 'image: base\n' >big/vms/ok.yaml
{ printf 'image: base\nkernel_args: "'; head -c 1100000 /dev/zero | tr '\0' 'a'; printf '"\n'; } >big/vms/huge.yaml
cat >"$work/big.expected" <<'EOT'
big/vms/huge.yaml:1:1: found a file larger than 1 MiB, expected a smaller declaration
banger: 1 problem in 'big'
banger: held vms (no action will be taken on them): huge
EOT
check big "$work/big.expected"

mkdir -p latin1/vms latin1/images
printf 'kernel: /k\nrootfs: /r\n' >latin1/images/base.yaml
printf 'image: base\nkernel_args: "caf\351"\n' >latin1/vms/web.yaml
cat >"$work/latin1.expected" <<'EOT'
latin1/vms/web.yaml:2:18: found byte 0xe9 that is not valid UTF-8, expected UTF-8 text
banger: 1 problem in 'latin1'
banger: held vms (no action will be taken on them): web
EOT
check latin1 "$work/latin1.expected"

mkdir -p badname/vms badname/images
printf 'kernel: /k\nrootfs: /r\n' >badname/images/base.yaml
printf 'image: base\n' >"$(printf 'badname/vms/caf\351.yaml')"
printf "badname/vms/caf\351.yaml:1:1: found file name 'caf\351', expected a name that is a DNS label (1 to 63 of a-z, 0-9 and '-', not starting or ending with '-')\nbanger: 1 problem in 'badname'\n" >"$work/badname.expected"
check badname "$work/badname.expected"
if [ -x /usr/bin/python3 ]; then
	"$BANGER" validate --json --state badname >"$work/out" 2>"$work/err"
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["diagnostics"][0]["file"] == "vms/caf?.yaml", d' "$work/out" ||
		{ echo "FAIL: --json with a non-UTF-8 file name"; fail=1; }
fi

mkdir -p many/vms
i=0
while [ $i -le 10000 ]; do
	: >"many/vms/f$i.txt"
	i=$((i + 1))
done
cat >"$work/many.expected" <<'EOT'
banger: directory 'many/vms' holds more than 10000 entries, refusing to read it
EOT
check many "$work/many.expected"

mkdir -p links/vms links/images outside
printf 'kernel: /k\nrootfs: /r\n' >links/images/base.yaml
printf 'image: base\n' >outside/secret.yaml
ln -s "$work/outside/secret.yaml" links/vms/secret.yaml
ln -s ../images/base.yaml links/vms/looks-like-image.yaml
cat >"$work/links.expected" <<'EOT'
links/vms/looks-like-image.yaml:1:1: found unknown key 'kernel', expected one of: version, image, state, vcpus, memory, hypervisor, disks, network, filesyncs, ssh_authorized_keys, kernel_args, on_delete, host, workspace, idle_stop_after
links/vms/looks-like-image.yaml:1:1: found no key 'image', expected the name of the image this vm boots
links/vms/looks-like-image.yaml:2:1: found unknown key 'rootfs', expected one of: version, image, state, vcpus, memory, hypervisor, disks, network, filesyncs, ssh_authorized_keys, kernel_args, on_delete, host, workspace, idle_stop_after
links/vms/secret.yaml:1:1: found a symbolic link out of the state directory, expected a file inside it
banger: 4 problems in 'links'
banger: held vms (no action will be taken on them): looks-like-image, secret
EOT
check links "$work/links.expected"

# As root, a file anyone can change is refused as its folder would be.
if [ "$(id -u)" = 0 ]; then
	mkdir -p open/vms open/images
	printf 'kernel: /k\nrootfs: /r\n' >open/images/base.yaml
	printf 'image: base\n' >open/vms/web.yaml
	printf 'image: base\n' >open/vms/db.yaml
	chmod 0666 open/vms/web.yaml
	chmod 0664 open/vms/db.yaml
	cat >"$work/open.expected" <<'EOT'
open/vms/web.yaml:1:1: found a file anyone can change (world-writable), expected one only its owner or group may write: banger runs as root (chmod o-w)
banger: 1 problem in 'open'
banger: held vms (no action will be taken on them): web
EOT
	check open "$work/open.expected"
fi

mkdir -p missing-parent
cat >"$work/missing.expected" <<'EOT'
banger: state directory 'missing-parent/none': No such file or directory
EOT
check missing-parent/none "$work/missing.expected"

# The command line itself: usage errors, help, JSON.
cd "$states" || exit 1
expect_rc() { # expect_rc RC ARGS...
	want=$1
	shift
	"$BANGER" "$@" >"$work/out" 2>"$work/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: banger $* exited $rc, want $want"
		cat "$work/err"
		fail=1
	fi
}
expect_rc 64 valdate
grep -q "unknown command 'valdate', did you mean 'validate'?" "$work/err" ||
	{ echo "FAIL: no suggestion for a misspelt command"; fail=1; }
expect_rc 64 plan --host-name "bad host"
grep -q "'bad host' is not a host name" "$work/err" || { echo "FAIL: --host-name"; fail=1; }
expect_rc 64 validate --bogus
expect_rc 64 validate extra-argument
expect_rc 64 validate --state
expect_rc 0 validate -h
expect_rc 0 validate --help
grep -q '^Usage: banger validate' "$work/out" || { echo "FAIL: validate --help"; fail=1; }
for c in plan reconcile status logs image doctor ssh ssh-config start; do
	expect_rc 0 $c -h
	grep -q "^Usage: banger $c" "$work/out" || { echo "FAIL: $c -h"; fail=1; }
done
expect_rc 0 validate --state valid-complete
grep -q '^vm  *web  *image=base state=running vcpus=1 memory=256M work=1G ip=10.77.0.10' "$work/out" ||
	{ echo "FAIL: listing"; cat "$work/out"; fail=1; }
BANGER_STATE=valid-complete expect_rc 0 validate --quiet
[ -s "$work/out" ] && { echo "FAIL: --quiet printed a listing"; fail=1; }
expect_rc 1 validate --json --state duplicate-ip
[ -s "$work/err" ] && { echo "FAIL: --json wrote to stderr"; cat "$work/err"; fail=1; }
if [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 - "$work/out" <<'EOT' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is False, d
assert [x["file"] for x in d["diagnostics"]] == ["vms/a.yaml", "vms/b.yaml"], d["diagnostics"]
assert d["diagnostics"][0]["line"] == 3 and d["diagnostics"][0]["column"] == 7
assert d["held_vms"] == ["a", "b"], d["held_vms"]
assert [v["name"] for v in d["vms"]] == ["c"], d["vms"]
EOT
	expect_rc 0 validate --json --state valid-complete
	/usr/bin/python3 - "$work/out" <<'EOT' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["valid"] is True and d["diagnostics"] == [] and d["held_vms"] == []
web = [v for v in d["vms"] if v["name"] == "web"][0]
assert web["ip"] == "10.77.0.10" and web["mac"] == "52:54:00:00:00:0a" and web["memory"] == 268435456
assert web["filesyncs"] == ["dots"] and len(web["generation"]) == 64
EOT
fi

echo "$ran cases"
[ "$ran" -ge 10 ] || fail=1
exit $fail
