#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# File syncs from a git source on the real drivers, inside a network
# namespace this test creates (unshare --net): a stopped VM with a work disk
# declared in a repository that also holds the files it syncs.  What lands
# on the work disk is the committed content, not the work tree's, and a new
# commit's content is copied in at the next start.  Root only (77).
set -eu
: "${BANGER:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip git debugfs mkfs.ext4; do
	command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }
done
T=$(mktemp -d /tmp/banger-gitops-files-XXXXXX)
. "$top_srcdir/tests/procs-lib.sh"
cleanup() {
	# End only the fake VMs this test started: their command lines name $T.
	kill_naming "$T/status/"
	rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.invalid GIT_CONFIG_NOSYSTEM=1 HOME=$T
mkdir -p "$T/img"
printf 'fake kernel\n' >"$T/img/vmlinux"
truncate -s 16M "$T/img/rootfs.ext4"
git init -q -b main "$T/wt"
cd "$T/wt"
mkdir images vms filesyncs files
printf 'bridge:\n  name: bgrgit0\n  address: 10.98.0.1/24\ndisk_strategy: copy\nhypervisor: firecracker\nfirecracker:\n  binary: %s/tests/fakes/fake-firecracker\n' "$top_srcdir" >host.yaml
printf 'kernel: %s/img/vmlinux\nrootfs: %s/img/rootfs.ext4\n' "$T" "$T" >images/base.yaml
printf 'image: base\nstate: stopped\nmemory: 128M\ndisks:\n  work: 16M\nfilesyncs: [motd]\n' >vms/web.yaml
printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n    mode: "0644"\n' >filesyncs/motd.yaml
echo committed >files/motd
git add -A && git commit -q -m one
echo "work tree edit" >files/motd

cat >"$T/run.sh" <<EOS
set -eu
export BANGER_STATE=$T/wt BANGER_STATUS_DIR=$T/status
fail() { echo "FAIL: \$*" >&2; exit 1; }
motd() { debugfs -R "cat /etc/motd" $T/status/vms/web/work.ext4 2>/dev/null; }
ip link set lo up
"$BANGER" reconcile >$T/r1 2>&1 || { cat $T/r1; fail "first reconcile"; }
grep -q "file syncs: " $T/r1 || { cat $T/r1; fail "no file sync step"; }
[ "\$(motd)" = committed ] || fail "work disk has '\$(motd)', not the committed motd"
cd $T/wt && git checkout -q -- files/motd && echo second >files/motd && git commit -q -am two
# Started (on the fake Firecracker): the new commit's file is copied in.
sed -i "s/^state: stopped/state: running/" $T/wt/vms/web.yaml
git -C $T/wt commit -q -am three
"$BANGER" reconcile >$T/r2 2>&1 || { cat $T/r2; fail "start"; }
grep -q "file syncs: " $T/r2 || { cat $T/r2; fail "no file sync step at the start"; }
[ "\$(motd)" = second ] || fail "work disk has '\$(motd)' after the start, not the new commit's"
rm $T/wt/vms/web.yaml && git -C $T/wt commit -q -am four
"$BANGER" reconcile --allow-mass-delete >$T/r3 2>&1 || { cat $T/r3; fail "delete"; }
[ -z "\$(ip -br link | grep bgr- || true)" ] || fail "taps left"
echo ok
EOS
timeout 300 unshare --net sh "$T/run.sh"
