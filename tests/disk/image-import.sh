#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger image import: copies, pins, declaration, --force, refusals.
set -eu
: "${BANGER:?}"
t=$(mktemp -d /tmp/banger-test-import-XXXXXX)
trap 'rm -rf "$t"' EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

printf 'kernel-bytes' >"$t/vmlinux"
printf 'initrd-bytes' >"$t/initrd.img"
truncate -s 64M "$t/rootfs.ext4"
printf 'superblock' | dd of="$t/rootfs.ext4" conv=notrunc status=none

# The common options may come first, before "image import".
"$BANGER" --state "$t/state" --status-dir "$t/status" image import demo --kernel "$t/vmlinux" \
	--rootfs "$t/rootfs.ext4" --initrd "$t/initrd.img" >"$t/out"
grep -q "imported image 'demo'" "$t/out" || fail "no confirmation"
"$BANGER" --state "$t/state" image --help | grep -q "^Usage: banger image import" ||
	fail "image --help after a leading option"
y="$t/state/images/demo.yaml"
[ -f "$y" ] || fail "no declaration"
# The copies live in a folder named by their digests, under the image's.
v=$(sed -n 's|^kernel: "\(.*\)/kernel"$|\1|p' "$y")
case "$v" in "$t/status/images/demo/v-"????????????????) ;; *) fail "copies in '$v'" ;; esac
for f in kernel rootfs initrd; do
	[ -f "$v/$f" ] || fail "no copy of $f"
	grep -q "^$f: \"$v/$f\"\$" "$y" || fail "no $f path in $y"
done
[ "$(ls -A "$t/status/images/demo")" = "${v##*/}" ] || fail "more than the copies: $(ls -A "$t/status/images/demo")"
cmp -s "$t/rootfs.ext4" "$v/rootfs" || fail "rootfs copy differs"
# banger's folders are its own (0700), copies never wider than their source.
[ "$(stat -c %a "$t/status")" = 700 ] || fail "status dir mode $(stat -c %a "$t/status")"
[ "$(stat -c %a "$t/status/images/demo")" = 700 ] || fail "image dir mode"
[ "$(stat -c %a "$v/kernel")" = 644 ] || fail "kernel copy mode $(stat -c %a "$v/kernel")"
k=$(sha256sum "$t/vmlinux" | cut -d' ' -f1)
r=$(sha256sum "$t/rootfs.ext4" | cut -d' ' -f1)
i=$(sha256sum "$t/initrd.img" | cut -d' ' -f1)
grep -q "^  kernel: \"$k\"\$" "$y" || fail "kernel pin"
grep -q "^  rootfs: \"$r\"\$" "$y" || fail "rootfs pin"
grep -q "^  initrd: \"$i\"\$" "$y" || fail "initrd pin"
grep -q "sha256: \"$r\"" "$t/status/images/pins.yaml" || fail "pin cache"
# The copy stays sparse: far below the 64M a full copy takes.
used=$(du -k "$v/rootfs" | cut -f1)
[ "$used" -lt 1024 ] || fail "rootfs copy is not sparse ($used KiB)"

# Refuses to replace a declaration without --force, and changes nothing.
cp "$y" "$t/before"
printf 'other' >"$t/vmlinux"
rc=0
"$BANGER" image import demo --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
	--state "$t/state" --status-dir "$t/status" 2>"$t/err" || rc=$?
[ "$rc" -eq 1 ] || fail "exit $rc without --force"
grep -q "already declared" "$t/err" || fail "message: $(cat "$t/err")"
cmp -s "$y" "$t/before" || fail "declaration changed"
"$BANGER" image import demo --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" --force \
	--state "$t/state" --status-dir "$t/status" >/dev/null
k=$(sha256sum "$t/vmlinux" | cut -d' ' -f1)
grep -q "^  kernel: \"$k\"\$" "$y" || fail "kernel pin after --force"
grep -q "initrd" "$y" && fail "initrd still declared"
# The earlier import's files are gone, the new ones alone remain.
v2=$(sed -n 's|^kernel: "\(.*\)/kernel"$|\1|p' "$y")
[ "$v2" != "$v" ] || fail "same folder for other files"
[ "$(ls -A "$t/status/images/demo")" = "${v2##*/}" ] || fail "earlier copies left: $(ls -A "$t/status/images/demo")"
[ ! -e "$v2/initrd" ] || fail "an initrd not imported is there"

# A private source stays private.
printf 'secret-kernel' >"$t/private"
chmod 600 "$t/private"
"$BANGER" image import priv --kernel "$t/private" --rootfs "$t/rootfs.ext4" \
	--state "$t/state" --status-dir "$t/status" >/dev/null
[ "$(stat -c %a "$t/status/images/priv/"v-*/kernel)" = 600 ] || fail "private kernel widened"

# host.yaml's status_dir is where the files go when no --status-dir is given.
mkdir -p "$t/hstate"
printf 'status_dir: %s/hstatus\n' "$t" >"$t/hstate/host.yaml"
env -u BANGER_STATUS_DIR "$BANGER" image import hy --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
	--state "$t/hstate" >/dev/null
ls "$t/hstatus/images/hy/"v-*/kernel >/dev/null 2>&1 || fail "host.yaml's status_dir not used"

# Empty files (or files that say so, as /proc's do) are no image.
: >"$t/empty"
for bad in "$t/empty" /proc/self/status; do
	rc=0
	"$BANGER" image import e1 --kernel "$t/vmlinux" --rootfs "$bad" \
		--state "$t/state" --status-dir "$t/status" 2>"$t/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "empty rootfs $bad: exit $rc"
	grep -q "is empty" "$t/err" || fail "empty message: $(cat "$t/err")"
done
rc=0
"$BANGER" image import e1 --bogus 2>"$t/err" || rc=$?
[ "$rc" -eq 64 ] || fail "unknown option: exit $rc"
grep -q "image import: unknown or incomplete option '--bogus'" "$t/err" || fail "option message: $(cat "$t/err")"

# A failed --force import (here a full disk) leaves the image declared
# before, and its files, as they were, and nothing of its own behind.
if unshare -m true 2>/dev/null; then
	mkdir -p "$t/small"
	head -c 3145728 /dev/urandom >"$t/big.img"
	rc=0
	unshare -m sh -c '
		mount -t tmpfs -o size=2m tmpfs "$1/small" || exit 77
		"$2" image import full --kernel "$1/vmlinux" --rootfs "$1/rootfs.ext4" \
			--state "$1/fstate" --status-dir "$1/small/status" >/dev/null || exit 3
		cp "$1/fstate/images/full.yaml" "$1/full-before.yaml"
		before=$(ls -A "$1/small/status/images/full")
		"$2" image import full --force --kernel "$1/vmlinux" --rootfs "$1/big.img" \
			--state "$1/fstate" --status-dir "$1/small/status" 2>"$1/err" && exit 4
		cmp -s "$1/fstate/images/full.yaml" "$1/full-before.yaml" || exit 5
		[ "$(ls -A "$1/small/status/images/full")" = "$before" ] || exit 6
		v=$(sed -n "s|^kernel: \"\(.*\)/kernel\"\$|\1|p" "$1/fstate/images/full.yaml")
		cmp -s "$v/kernel" "$1/vmlinux" || exit 7
		cmp -s "$v/rootfs" "$1/rootfs.ext4" || exit 8
	' sh "$t" "$BANGER" || rc=$?
	case $rc in
	0 | 77) ;;
	*) cat "$t/err" 2>/dev/null; fail "failed --force import: step $rc" ;;
	esac
fi

# Refusals.
rc=0
"$BANGER" image import Bad_Name --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
	--state "$t/state" --status-dir "$t/status" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "bad name: exit $rc"
rc=0
"$BANGER" image import demo2 --kernel "$t/vmlinux" --state "$t/state" \
	--status-dir "$t/status" 2>/dev/null || rc=$?
[ "$rc" -eq 64 ] || fail "missing --rootfs: exit $rc"
rc=0
"$BANGER" image import demo2 --kernel "$t/nope" --rootfs "$t/rootfs.ext4" \
	--state "$t/state" --status-dir "$t/status" 2>/dev/null || rc=$?
[ "$rc" -eq 1 ] || fail "missing kernel: exit $rc"
[ ! -e "$t/state/images/demo2.yaml" ] || fail "declared a broken image"

# Into a git work tree: a note that the declaration needs a commit.  Into a
# bare repository: refused (nothing there could commit it).
if command -v git >/dev/null; then
	git init -q "$t/repo"
	"$BANGER" image import demo --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
		--state "$t/repo" --status-dir "$t/status2" >/dev/null 2>"$t/err"
	grep -q "is a git repository: commit images/demo.yaml" "$t/err" ||
		{ cat "$t/err"; fail "no note for a git work tree"; }
	git init -q --bare "$t/bare.git"
	rc=0
	"$BANGER" image import demo --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
		--state "$t/bare.git" --status-dir "$t/status3" 2>"$t/err" || rc=$?
	[ "$rc" -eq 1 ] || fail "bare repository: exit $rc"
	grep -q "is a bare git repository" "$t/err" || fail "bare message: $(cat "$t/err")"
	[ ! -e "$t/bare.git/images" ] || fail "wrote into a bare repository"
fi
echo "ok"
