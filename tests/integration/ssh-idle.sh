#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# SSH, guest names and idle auto-stop end to end on the real drivers with
# QEMU, inside a network namespace this test creates (unshare --net): the
# demo guest gets banger's key through its work disk and runs dropbear;
# `banger ssh web -- uname -a` runs in it and records its host key; the
# hosts fragment and the block of $BANGER_HOSTS_FILE name it; with
# idle_stop_after: 20s, repeated reconciles stop it for idleness and keep
# it stopped; `banger start web` brings it back.  A workspace declared at
# /root/app (a repository made here) is visible there in the guest, and a
# new commit shows after the start from stopped.  Skips (77) unless root;
# builds the demo image ($BANGER_DEMO_IMAGE or $top_builddir/demo-image).
set -eu

: "${BANGER:?}" "${top_builddir:?}"
IMG=${BANGER_DEMO_IMAGE:-$top_builddir/demo-image}
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare ip nft ssh ssh-keygen; do
	command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }
done
. "$top_srcdir/tests/demo-image-lib.sh"
demo_image_ensure "$IMG" || { echo "skip: cannot build the demo image in $IMG"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/banger-ssh-e2e-XXXXXX")
. "$top_srcdir/tests/procs-lib.sh"
cleanup() {
	# End only the guests this test started: their command lines name $T.
	kill_naming "$T/status/"
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/state/images" "$T/state/vms"
{
	echo "kernel: $IMG/vmlinux"
	echo "rootfs: $IMG/rootfs.ext4"
	[ -f "$IMG/initrd.gz" ] && echo "initrd: $IMG/initrd.gz"
} >"$T/state/images/demo.yaml"
# A workspace: a small repository made here, declared at /root/app.
G="git -C $T/repo -c user.name=banger-test -c user.email=test@banger.invalid"
git init -q -b main "$T/repo"
echo "first" >"$T/repo/README"
$G add README
$G commit -q -m "first commit"
# File syncs: a file and a folder, put in place by the demo image's init.
mkdir -p "$T/state/filesyncs" "$T/state/files/app"
echo "synced motd" >"$T/state/files/motd"
echo "synced conf" >"$T/state/files/app/conf"
printf 'entries:\n  - {host: files/motd, guest: /etc/motd}\n  - {host: files/app, guest: ~/.config/app}\n' \
	>"$T/state/filesyncs/dots.yaml"
printf 'image: demo\nmemory: 256M\ndisks:\n  work: 64M\nidle_stop_after: 20s\nfilesyncs: [dots]\n' \
	>"$T/state/vms/web.yaml"
printf 'workspace:\n  repo: %s\n  path: /root/app\n' "$T/repo" >>"$T/state/vms/web.yaml"
printf '127.0.0.1 localhost\n' >"$T/etc-hosts"
# Name servers for the guests: the demo image's init writes them to
# /etc/resolv.conf from ip=.
printf 'dns: [192.0.2.53, 192.0.2.54]\n' >"$T/state/host.yaml"

cat >"$T/run.sh" <<EOS
set -eu
export BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status BANGER_HOSTS_FILE=$T/etc-hosts
fail() { echo "FAIL: \$*" >&2; tail -n 30 $T/status/vms/web/console.log >&2 || true; exit 1; }
ip link set lo up
"$BANGER" reconcile >$T/r1 2>&1 || { cat $T/r1; fail "first reconcile"; }
grep -q "banger-ssh started" $T/status/vms/web/console.log || fail "no ssh server in the guest"
ip=\$(sed -n 's/^ip: "*\\([0-9.]*\\)"*\$/\\1/p' $T/status/vms/web.yaml)
# SSH: the first connection records the host key, the next ones check it.
i=0
until "$BANGER" ssh web -- uname -a >$T/uname 2>$T/ssh-err; do
	i=\$((i + 1))
	[ \$i -lt 20 ] || { cat $T/ssh-err; fail "banger ssh"; }
	sleep 1
done
grep -q "^Linux banger-guest\\|^Linux web" $T/uname || { cat $T/uname; fail "uname output"; }
grep -q "^web.vm " $T/status/ssh/known_hosts || fail "host key not recorded"
"$BANGER" ssh web -- cat /root/.ssh/authorized_keys >$T/keys || fail "second ssh"
# The workspace, at its declared path in the guest: the file and the repository
# (HEAD on main, at the commit status records; the image has no git).
grep -q "banger-workspace mounted on /root/app" $T/status/vms/web/console.log ||
	fail "workspace not mounted by the guest"
c1=\$(git -C $T/repo rev-parse HEAD)
grep -q "^workspace_commit: \"*\$c1" $T/status/vms/web.yaml || fail "workspace commit in status"
"$BANGER" ssh web -- cat /root/app/README /root/app/.git/HEAD >$T/ws || fail "ssh cat workspace"
printf 'first\nref: refs/heads/main\n' | cmp - $T/ws || { cat $T/ws; fail "workspace in the guest"; }
"$BANGER" ssh web -- sh -c "'cat /root/app/.git/refs/heads/main 2>/dev/null || cat /root/app/.git/packed-refs'" >$T/ws-ref ||
	fail "ssh cat workspace ref"
grep -q "\$c1" $T/ws-ref || { cat $T/ws-ref; fail "workspace branch not at \$c1"; }
cmp $T/keys $T/status/ssh/id_ed25519.pub || fail "authorized_keys in the guest: banger's key alone"
grep -q "banger-filesyncs 2 in place" $T/status/vms/web/console.log || fail "file syncs not put in place"
"$BANGER" ssh web -- cat /etc/motd /root/.config/app/conf >$T/synced || fail "ssh cat synced files"
printf 'synced motd\nsynced conf\n' | cmp - $T/synced || { cat $T/synced; fail "synced files in the guest"; }
"$BANGER" ssh web -- cat /etc/resolv.conf >$T/resolv || fail "ssh cat resolv.conf"
printf 'nameserver 192.0.2.53\nnameserver 192.0.2.54\n' | cmp - $T/resolv ||
	{ cat $T/resolv; fail "the guest's name servers"; }
[ ! -e $T/status/vms/web/authorized_keys ] || fail "a copy of the keys in the vm folder"
# A changed host key is refused (StrictHostKeyChecking enforces the record).
cp $T/status/ssh/known_hosts $T/kh.good
ssh-keygen -q -t ed25519 -N '' -f $T/other
echo "web.vm \$(cut -d' ' -f1,2 $T/other.pub)" >$T/status/ssh/known_hosts
if "$BANGER" ssh web -- true 2>$T/ssh-err; then fail "changed host key accepted"; fi
grep -qi "host key\|HOST IDENTIFICATION" $T/ssh-err || { cat $T/ssh-err; fail "no host key error"; }
cp $T/kh.good $T/status/ssh/known_hosts
# Names: the fragment and the block.
printf '%s\tweb.vm\n' "\$ip" >$T/want-hosts
cmp $T/want-hosts $T/status/hosts || fail "hosts fragment"
grep -qx "\$ip	web.vm" $T/etc-hosts || fail "hosts block"
# Idle: sampled each run; 20 s without CPU or ssh use stops it.
pid=\$(sed -n 's/^pid: //p' $T/status/vms/web.yaml)
# plan (and reconcile --dry-run) say it before a run does it; they record
# nothing, so the run after them stops the VM.  A run samples first.
"$BANGER" reconcile >$T/ri 2>&1 || { cat $T/ri; fail "sampling reconcile"; }
i=0
until "$BANGER" plan >$T/pi 2>&1 && grep -q "^~ stop web (idle: stopped for idleness)" $T/pi; do
	i=\$((i + 1))
	[ \$i -lt 30 ] || { cat $T/pi $T/status/vms/web.yaml; fail "plan never showed the idle stop"; }
	sleep 3
done
"$BANGER" reconcile --dry-run >$T/rd 2>&1 || { cat $T/rd; fail "idle dry run"; }
grep -q "^~ stop web (idle: stopped for idleness)" $T/rd || { cat $T/rd; fail "dry run: no idle stop"; }
grep -q '^stopped_reason: "*idle' $T/status/vms/web.yaml && fail "plan recorded the idle stop"
"$BANGER" reconcile >$T/ri 2>&1 || { cat $T/ri; fail "idle reconcile"; }
grep -q '^stopped_reason: "*idle' $T/status/vms/web.yaml ||
	{ cat $T/ri $T/status/vms/web.yaml; fail "not stopped for idleness after the plan said so"; }
grep -q "^stop web (idle: stopped for idleness):" $T/ri || { cat $T/ri; fail "stop not reported"; }
# Gone, or a zombie nobody has reaped yet.
if [ -e /proc/\$pid/stat ] && ! grep -q ') Z ' /proc/\$pid/stat; then
	cat /proc/\$pid/stat >&2
	fail "hypervisor still running"
fi
grep -q '^phase: "*stopped' $T/status/vms/web.yaml || fail "phase not stopped"
"$BANGER" status >$T/st
grep -q "idle" $T/st || { cat $T/st; fail "status does not say idle"; }
"$BANGER" reconcile >$T/r3 2>&1 || { cat $T/r3; fail "reconcile after idle stop"; }
grep -q "Nothing to do" $T/r3 || { cat $T/r3; fail "idle vm restarted"; }
# A new commit: the start from stopped materialises it again.
echo "second" >$T/repo/README
$G commit -q -a -m "second commit"
# banger start: the record is cleared and the vm runs again.
"$BANGER" start web >$T/start 2>&1 || { cat $T/start; fail "banger start"; }
grep -q "idle stop cleared" $T/start || { cat $T/start; fail "start output"; }
! grep -q '^stopped_reason' $T/status/vms/web.yaml || fail "idle record kept"
pid2=\$(sed -n 's/^pid: //p' $T/status/vms/web.yaml)
kill -0 "\$pid2" || fail "not running after start"
"$BANGER" reconcile >/dev/null 2>&1 || fail "reconcile after start"
i=0
until "$BANGER" ssh web -- cat /root/app/README >$T/ws2 2>$T/ssh-err; do
	i=\$((i + 1))
	[ \$i -lt 20 ] || { cat $T/ssh-err; fail "ssh after start"; }
	sleep 1
done
echo second | cmp - $T/ws2 || { cat $T/ws2; fail "workspace not updated on start"; }
sleep 1
"$BANGER" status >$T/st2
# web running, then CPU (a share of one core), RSS, the root disk strategy and ROOT+WORK bytes.
grep -Eq "^web +running +running .* [0-9]+\\.[0-9]% +[0-9.]+[MG] +(copy|reflink|dm-snapshot) [0-9.]+[BKMG]\\+[0-9.]+[BKMG] " $T/st2 ||
	{ cat $T/st2; fail "status stats after start"; }
"$BANGER" status web --json >$T/stj
/usr/bin/python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))["vms"][0]; assert v["rss_bytes"] > 1<<20 and v["cpu_percent"] is not None and v["work_disk_bytes"] > 0 and v["stopped_reason"] is None, v' $T/stj ||
	fail "status --json stats"
rm $T/state/vms/web.yaml
"$BANGER" reconcile --allow-mass-delete >$T/r5 2>&1 || { cat $T/r5; fail "delete"; }
[ ! -s $T/status/hosts ] || fail "deleted vm still named"
! grep -q "^web.vm " $T/status/ssh/known_hosts || fail "deleted vm's host key kept"
echo ok
EOS
timeout 600 unshare --net sh "$T/run.sh"
