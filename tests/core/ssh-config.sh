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
grep -qx "	IdentityFile \"$T/status/ssh/id_ed25519\"" "$T/cfg" || fail "no identity"
grep -qx "	UserKnownHostsFile \"$T/status/ssh/known_hosts\"" "$T/cfg" || fail "no known_hosts"
# A status directory whose path has a space: ssh still reads the entries
# (unquoted, every host of the user's config failed to parse).
mkdir -p "$T/my status"
cp -a "$T/status/." "$T/my status/"
BANGER_STATUS_DIR="$T/my status" "$BANGER" ssh-config >"$T/cfg-space"
grep -qx "	IdentityFile \"$T/my status/ssh/id_ed25519\"" "$T/cfg-space" ||
	{ cat "$T/cfg-space"; fail "spaced identity"; }
if command -v ssh >/dev/null; then
	ssh -F "$T/cfg-space" -G web.lab.test >"$T/ssh-G" 2>&1 || { cat "$T/ssh-G"; fail "ssh -G"; }
	grep -qx "identityfile $T/my status/ssh/id_ed25519" "$T/ssh-G" ||
		{ cat "$T/ssh-G"; fail "ssh -G identityfile"; }
fi
rm -rf "$T/my status"
# No status directory (a typo, a host not set up): an error, and an installed
# block is left as it was, not emptied.
printf 'Host keep
# BEGIN banger
Host old.lab.test
# END banger
' >"$T/keep"
cp "$T/keep" "$T/keep.orig"
if BANGER_STATUS_DIR=$T/typo "$BANGER" ssh-config --write --config "$T/keep" 2>"$T/err"; then
	fail "a missing status directory accepted"
fi
grep -q "no status directory '$T/typo'" "$T/err" || { cat "$T/err"; fail "missing status message"; }
cmp "$T/keep" "$T/keep.orig" || fail "the block was changed"
# A user's config rewritten by root stays the user's, with its mode.
printf 'Host other\n' >"$T/owned"
chown 1234:1234 "$T/owned"
chmod 0640 "$T/owned"
"$BANGER" ssh-config --write --config "$T/owned"
[ "$(stat -c %u:%g:%a "$T/owned")" = 1234:1234:640 ] || fail "owner or mode changed: $(stat -c %u:%g:%a "$T/owned")"
grep -qx "Host web.lab.test" "$T/owned" || fail "owned config not written"
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
	-o HostKeyAlias=web.lab.test -o BatchMode=yes -o ConnectTimeout=10 -- "root@$webip" uname -a \
	>"$T/want-argv"
cmp "$T/want-argv" "$T/argv" || { cat "$T/argv"; fail "ssh argv"; }
# ssh ends its options at "--": words of the command that look like options
# come after the destination, where ssh no longer reads options.
BANGER_SSH=$T/fake-ssh "$BANGER" ssh web -- -oProxyCommand=x uptime >"$T/argv"
tail -4 "$T/argv" | tr '\n' ' ' | grep -qx -- "-- root@$webip -oProxyCommand=x uptime " ||
	{ cat "$T/argv"; fail "command words before the destination"; }
if command -v ssh >/dev/null && [ -x /usr/bin/ssh ]; then
	# The real ssh: -G after "--" and the destination is the command's.
	BANGER_SSH=/usr/bin/ssh timeout 20 "$BANGER" ssh web -- -G true >"$T/real" 2>&1 || true
	if grep -q '^identityfile ' "$T/real"; then cat "$T/real"; fail "ssh read -G as its option"; fi
fi

# A state directory anyone may change is refused by ssh and ssh-config too,
# as by every command that reads the declarations.
chmod o+w "$T/state"
for c in "ssh web -- true" "ssh-config"; do
	if BANGER_SSH=$T/fake-ssh "$BANGER" $c >/dev/null 2>"$T/err"; then fail "$c: world-writable state accepted"; fi
	grep -q "world-writable" "$T/err" || { cat "$T/err"; fail "$c: no world-writable message"; }
done
chmod o-w "$T/state"
# A host.yaml that is invalid and names a status_dir: said, not replaced by
# the default status directory.
cp "$T/state/host.yaml" "$T/host.yaml.good"
printf 'domain: lab.test\nstatus_dir: %s\nbogus: 1\n' "$T/status" >"$T/state/host.yaml"
for c in "ssh web -- true" "ssh-config" "logs web"; do
	if env -u BANGER_STATUS_DIR BANGER_SSH=$T/fake-ssh "$BANGER" $c >/dev/null 2>"$T/err"; then
		fail "$c: invalid host.yaml accepted"
	fi
	grep -q "host.yaml:3:1: .*its status_dir cannot be used" "$T/err" || { cat "$T/err"; fail "$c: no host.yaml message"; }
done
cp "$T/host.yaml.good" "$T/state/host.yaml"
echo ok
