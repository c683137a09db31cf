#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest names resolved through the resolvers, not only written: on the fake
# host, inside a mount and network namespace this test creates
# (unshare --mount --net), with an overlay on /etc so /etc/hosts is a private
# copy, reconcile keeps its block of /etc/hosts ($BANGER_HOSTS_FILE) and its
# dnsmasq drop-in in a conf dir of the test's ($BANGER_DNSMASQ_DIR).  Then:
#   getent hosts NAME.vm (glibc's files source, as systemd-resolved's
#   ReadEtcHosts too) prints the VM's address, for a VM added and not for
#   one removed;
#   a dnsmasq started on 127.0.0.1 with that conf dir answers NAME.vm with
#   the address, picks up a VM added and one removed without a restart or a
#   signal (hostsdir, inotify), and banger's files go with the last VM;
#   with /etc read-only and /etc/hosts a writable mount of its own (as the
#   systemd unit has it, or a container), the block is rewritten in place.
# Skips (77) unless root; the dnsmasq part skips when /usr/sbin/dnsmasq is
# missing (package dnsmasq-base).
set -eu

: "${BANGER:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
for c in unshare getent mount; do
	command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }
done
[ -x /usr/bin/python3 ] || { echo "skip: no /usr/bin/python3"; exit 77; }
DNSMASQ=/usr/sbin/dnsmasq
T=$(mktemp -d /tmp/banger-dns-XXXXXX)
# dnsmasq drops to an unprivileged user: it must reach its conf dir.
chmod 0755 "$T"
cleanup() {
	# The dnsmasq this test started, by its pid, if it is still there.
	if [ -s "$T/dnsmasq.pid" ]; then
		kill "$(cat "$T/dnsmasq.pid")" 2>/dev/null || true
	fi
	rm -rf "$T"
}
trap cleanup EXIT

mkdir -p "$T/state/images" "$T/state/vms" "$T/dnsmasq.d"
printf 'kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n' >"$T/state/images/base.yaml"
printf 'image: base\n' >"$T/state/vms/web.yaml"

cat >"$T/run.sh" <<EOS
set -eu
T=$T
BANGER=$BANGER
DNSQ="/usr/bin/python3 $top_srcdir/tests/dns/dnsq.py 127.0.0.1 53"
DNSMASQ=$DNSMASQ
EOS
cat >>"$T/run.sh" <<'EOS'
# The systemd unit's umask: what dnsmasq must read is still readable.
umask 077
export BANGER_FAKE_HOST=$T/host BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status
export BANGER_HOSTS_FILE=/etc/hosts BANGER_DNSMASQ_DIR=$T/dnsmasq.d
fail() { echo "FAIL: $*" >&2; exit 1; }
# "ADDRESS NAME" as glibc resolves NAME (nothing when it does not).
gent() { getent hosts "$1" | awk '{ print $1, $2 }'; }
ipof() { sed -n 's/^ip: "*\([0-9.]*\)"*$/\1/p' "$T/status/vms/$1.yaml"; }
# Only this namespace's /etc changes: an overlay whose upper layer is a tmpfs.
mkdir "$T/ovl"
mount -t tmpfs tmpfs "$T/ovl"
mkdir "$T/ovl/up" "$T/ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$T/ovl/up,workdir=$T/ovl/work" /etc
printf '127.0.0.1\tlocalhost\n192.0.2.7\tkept.example\n' >/etc/hosts
ip link set lo up

"$BANGER" reconcile >"$T/r1" 2>&1 || { cat "$T/r1"; fail "first reconcile"; }
grep -q "note: wrote '$T/dnsmasq.d/banger.conf': restart dnsmasq once" "$T/r1" ||
	{ cat "$T/r1"; fail "new drop-in not announced"; }
web=$(ipof web)
[ -n "$web" ] || fail "web has no address"
# glibc, through nsswitch's files source: the block of /etc/hosts.
[ "$(gent web.vm)" = "$web web.vm" ] || { getent hosts web.vm; fail "getent web.vm"; }
[ "$(gent kept.example)" = "192.0.2.7 kept.example" ] || fail "other lines lost"

dns_ok=0
if [ -x "$DNSMASQ" ]; then
	dns_ok=1
	"$DNSMASQ" --conf-file=/dev/null --conf-dir="$T/dnsmasq.d" --listen-address=127.0.0.1 \
		--bind-interfaces --port=53 --no-resolv --no-hosts --pid-file="$T/dnsmasq.pid" \
		--log-facility="$T/dnsmasq.log" || fail "dnsmasq did not start"
	i=0
	until [ -s "$T/dnsmasq.pid" ]; do
		i=$((i + 1)); [ $i -lt 50 ] || fail "no dnsmasq pid"; sleep 0.1
	done
	pid=$(cat "$T/dnsmasq.pid")
	# ask NAME WANT: poll (inotify is quick, but not synchronous) until the
	# A records of NAME are exactly WANT ("" for none).
	ask() {
		i=0
		while :; do
			got=$($DNSQ "$1" | sed -n 's/^A //p')
			[ "$got" = "$2" ] && return 0
			i=$((i + 1))
			[ $i -lt 30 ] || { cat "$T/dnsmasq.log" >&2; fail "dnsmasq: $1 is '$got', want '$2'"; }
			sleep 0.1
		done
	}
	ask web.vm "$web"
fi

# A second VM: in /etc/hosts and, without touching dnsmasq, in its answers.
printf 'image: base\n' >"$T/state/vms/db.yaml"
"$BANGER" reconcile >"$T/r2" 2>&1 || { cat "$T/r2"; fail "reconcile adding db"; }
! grep -q "note: wrote" "$T/r2" || { cat "$T/r2"; fail "drop-in announced again"; }
db=$(ipof db)
[ -n "$db" ] && [ "$db" != "$web" ] || fail "db address '$db'"
[ "$(gent db.vm)" = "$db db.vm" ] || { getent hosts db.vm; fail "getent db.vm"; }
if [ $dns_ok = 1 ]; then
	ask db.vm "$db"
	ask web.vm "$web"
	kill -0 "$pid" || fail "dnsmasq gone"
	[ "$(cat "$T/dnsmasq.pid")" = "$pid" ] || fail "dnsmasq restarted"
fi

# db deleted: its name goes from both.
rm "$T/state/vms/db.yaml"
"$BANGER" reconcile --allow-mass-delete >"$T/r3" 2>&1 || { cat "$T/r3"; fail "reconcile deleting db"; }
if getent hosts db.vm; then fail "deleted db still resolves"; fi
[ "$(gent web.vm)" = "$web web.vm" ] || fail "getent web.vm after delete"
if [ $dns_ok = 1 ]; then
	ask db.vm ""
	ask web.vm "$web"
fi

# A drop-in banger did not write is never replaced, and says why.
mv "$T/dnsmasq.d/banger.conf" "$T/banger.conf.ours"
printf 'hostsdir=/nowhere\n' >"$T/dnsmasq.d/banger.conf"
"$BANGER" reconcile >"$T/r4" 2>&1 || { cat "$T/r4"; fail "reconcile with a foreign drop-in"; }
grep -q "warning: hosts: dnsmasq: '$T/dnsmasq.d/banger.conf' was not written by banger" "$T/r4" ||
	{ cat "$T/r4"; fail "foreign drop-in not reported"; }
[ "$(cat "$T/dnsmasq.d/banger.conf")" = "hostsdir=/nowhere" ] || fail "foreign drop-in changed"
mv "$T/banger.conf.ours" "$T/dnsmasq.d/banger.conf"

# The last VM deleted: nothing of banger's is left in the conf dir.
rm "$T/state/vms/web.yaml"
"$BANGER" reconcile --allow-mass-delete >"$T/r5" 2>&1 || { cat "$T/r5"; fail "reconcile deleting web"; }
[ -z "$(ls -A "$T/dnsmasq.d")" ] || { ls -lA "$T/dnsmasq.d"; fail "banger's dnsmasq files left"; }
if getent hosts web.vm; then fail "deleted web still resolves"; fi
if [ $dns_ok = 1 ]; then
	ask web.vm ""
	kill "$pid"
	rm -f "$T/dnsmasq.pid"
fi
grep -q "^192.0.2.7	kept.example$" /etc/hosts || fail "other lines lost at the end"

# As under the systemd unit (ProtectSystem=strict, ReadWritePaths=/etc/hosts):
# /etc read-only, /etc/hosts a writable mount of its own, so no file can be
# renamed over it; the block is rewritten in place.
printf '127.0.0.1\tlocalhost\n' >"$T/bound-hosts"
mount --bind /etc /etc
mount -o remount,bind,ro /etc
mount --bind "$T/bound-hosts" /etc/hosts
if touch /etc/banger-probe 2>/dev/null; then fail "/etc is not read-only"; fi
printf 'image: base\n' >"$T/state/vms/app.yaml"
"$BANGER" reconcile >"$T/r6" 2>&1 || { cat "$T/r6"; fail "reconcile with /etc read-only"; }
! grep -q "warning" "$T/r6" || { cat "$T/r6"; fail "warning with a mounted /etc/hosts"; }
app=$(ipof app)
[ "$(gent app.vm)" = "$app app.vm" ] || { cat /etc/hosts; fail "getent app.vm (hosts rewritten in place)"; }
grep -q "^127.0.0.1	localhost$" "$T/bound-hosts" || fail "mounted hosts file lost its lines"
[ $dns_ok = 1 ] || { echo "skip: no $DNSMASQ (the /etc/hosts part passed)"; exit 77; }
echo ok
EOS
timeout 120 unshare --mount --net sh "$T/run.sh"
