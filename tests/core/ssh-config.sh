#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Guest names and ssh entries on the fake host: reconcile makes banger's key
# pair, seeds the keys into the work disk (a file-sync step), keeps the hosts
# fragment and the block of $BANGER_HOSTS_FILE (never /etc/hosts), and
# banger ssh-config prints and --write installs Host entries in a marked
# block, leaving the rest of the file as it was.
set -eu

: "${BANGER:?}"
command -v ssh-keygen >/dev/null || { echo "skip: no ssh-keygen"; exit 77; }
T=$(mktemp -d /tmp/banger-ssh-sh-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$T/state/images" "$T/state/vms"
printf 'kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n' >"$T/state/images/base.yaml"
printf 'domain: lab.test\n' >"$T/state/host.yaml"
printf 'image: base\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests user@x\n' \
	>"$T/state/vms/web.yaml"
printf 'image: base\nstate: stopped\ndisks:\n  work: 0\n' >"$T/state/vms/db.yaml"
printf '127.0.0.1 localhost\n' >"$T/etc-hosts"
BANGER_FAKE_HOST=$T/host BANGER_STATE=$T/state BANGER_STATUS_DIR=$T/status
BANGER_HOSTS_FILE=$T/etc-hosts
export BANGER_FAKE_HOST BANGER_STATE BANGER_STATUS_DIR BANGER_HOSTS_FILE

"$BANGER" plan >"$T/p0"
grep -q "file syncs: the ssh keys" "$T/p0" || { cat "$T/p0"; fail "declared keys not seeded"; }
"$BANGER" reconcile >"$T/r1" 2>&1 || { cat "$T/r1"; fail "reconcile"; }
[ "$(stat -c %a "$T/status/ssh/id_ed25519")" = 600 ] || fail "key not 0600"
[ "$(stat -c %a "$T/status/ssh")" = 700 ] || fail "ssh dir not 0700"
# The keys reached the work disk: banger's first, then the declared one;
# before them the list of synced paths, empty (no file sync declared).
want=$({ cat "$T/status/ssh/id_ed25519.pub"
	echo "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests user@x"; } | sha256sum | cut -d' ' -f1)
empty=$(printf '' | sha256sum | cut -d' ' -f1)
grep -q "work+2:/banger/filesyncs=$empty:/banger/authorized_keys=$want" "$T/host" ||
	{ cat "$T/host"; fail "keys on the disk"; }
"$BANGER" reconcile >"$T/r2" || { cat "$T/r2"; fail "second reconcile"; }
grep -q "Nothing to do" "$T/r2" || { cat "$T/r2"; fail "not converged"; }

webip=$(sed -n 's/^ip: "*\([0-9.]*\)"*$/\1/p' "$T/status/vms/web.yaml")
dbip=$(sed -n 's/^ip: "*\([0-9.]*\)"*$/\1/p' "$T/status/vms/db.yaml")
printf '%s\tdb.lab.test\n%s\tweb.lab.test\n' "$dbip" "$webip" >"$T/want-hosts"
cmp "$T/want-hosts" "$T/status/hosts" || fail "hosts fragment"
{ printf '127.0.0.1 localhost\n# BEGIN banger\n'; cat "$T/want-hosts"; printf '# END banger\n'; } \
	>"$T/want-etc"
cmp "$T/want-etc" "$T/etc-hosts" || { cat "$T/etc-hosts"; fail "hosts block"; }
ino=$(stat -c %i "$T/etc-hosts")
"$BANGER" reconcile >/dev/null
[ "$(stat -c %i "$T/etc-hosts")" = "$ino" ] || fail "hosts file rewritten without a change"

"$BANGER" ssh-config >"$T/cfg"
grep -qx "Host web.lab.test" "$T/cfg" || { cat "$T/cfg"; fail "no web entry"; }
grep -qx "	HostName $webip" "$T/cfg" || fail "no web address"
grep -qx "	IdentityFile $T/status/ssh/id_ed25519" "$T/cfg" || fail "no identity"
grep -qx "	UserKnownHostsFile $T/status/ssh/known_hosts" "$T/cfg" || fail "no known_hosts"
printf 'Host other\n\tUser me\n' >"$T/config"
"$BANGER" ssh-config --write --config "$T/config"
"$BANGER" ssh-config --write --config "$T/config"
{ printf 'Host other\n\tUser me\n# BEGIN banger\n'; cat "$T/cfg"; printf '# END banger\n'; } \
	>"$T/want-cfg"
cmp "$T/want-cfg" "$T/config" || { cat "$T/config"; fail "ssh config block"; }
# A link (a dotfile manager's) is written through and stays a link.
mkdir -p "$T/dotfiles"
printf 'Host other\n\tUser me\n' >"$T/dotfiles/config"
ln -s "$T/dotfiles/config" "$T/linked"
"$BANGER" ssh-config --write --config "$T/linked"
[ -L "$T/linked" ] || fail "the link was replaced"
cmp "$T/want-cfg" "$T/dotfiles/config" || { cat "$T/dotfiles/config"; fail "linked config block"; }
# A --config in a folder that does not exist is refused; nothing is made.
if "$BANGER" ssh-config --write --config "$T/nope/dir/config" 2>"$T/err"; then
	fail "a missing folder accepted"
fi
grep -q "folder '$T/nope/dir'" "$T/err" || { cat "$T/err"; fail "no folder message"; }
[ ! -e "$T/nope" ] || fail "a folder was made for --config"
printf '# BEGIN banger\n' >"$T/broken"
if "$BANGER" ssh-config --write --config "$T/broken" 2>"$T/err"; then fail "damaged block accepted"; fi
grep -q "block is damaged" "$T/err" || fail "no damage message"

# A changed key list re-seeds (and so restarts) the VM.
printf 'image: base\n' >"$T/state/vms/web.yaml"
"$BANGER" plan >"$T/p3"
grep -q "file syncs changed" "$T/p3" || { cat "$T/p3"; fail "key change not planned"; }
# ssh refuses unknown vms and misplaced commands.
if "$BANGER" ssh nope 2>"$T/err"; then fail "ssh to an unknown vm"; fi
grep -q "no vm 'nope'" "$T/err" || fail "unknown vm message"
if "$BANGER" ssh web uname 2>"$T/err"; then fail "command without --"; fi
# A stopped VM is refused at once (db is declared stopped).
if BANGER_SSH=/bin/true "$BANGER" ssh db -- true 2>"$T/err"; then fail "ssh to a stopped vm"; fi
grep -q "vm 'db' is not running" "$T/err" || { cat "$T/err"; fail "stopped vm message"; }
# The argv banger ssh runs ($BANGER_SSH stands in for ssh here).
printf '#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n' >"$T/fake-ssh"
chmod +x "$T/fake-ssh"
BANGER_SSH=$T/fake-ssh "$BANGER" ssh web -- uname -a >"$T/argv"
printf '%s\n' -i "$T/status/ssh/id_ed25519" -o IdentitiesOnly=yes \
	-o "UserKnownHostsFile=$T/status/ssh/known_hosts" -o StrictHostKeyChecking=accept-new -o HashKnownHosts=no \
	-o HostKeyAlias=web.lab.test -o BatchMode=yes -o ConnectTimeout=10 "root@$webip" uname -a \
	>"$T/want-argv"
cmp "$T/want-argv" "$T/argv" || { cat "$T/argv"; fail "ssh argv"; }
echo ok
