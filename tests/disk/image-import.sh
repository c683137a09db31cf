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
for f in kernel rootfs initrd; do
	[ -f "$t/status/images/demo/$f" ] || fail "no copy of $f"
	grep -q "^$f: \"$t/status/images/demo/$f\"\$" "$y" || fail "no $f path in $y"
done
cmp -s "$t/rootfs.ext4" "$t/status/images/demo/rootfs" || fail "rootfs copy differs"
k=$(sha256sum "$t/vmlinux" | cut -d' ' -f1)
r=$(sha256sum "$t/rootfs.ext4" | cut -d' ' -f1)
i=$(sha256sum "$t/initrd.img" | cut -d' ' -f1)
grep -q "^  kernel: \"$k\"\$" "$y" || fail "kernel pin"
grep -q "^  rootfs: \"$r\"\$" "$y" || fail "rootfs pin"
grep -q "^  initrd: \"$i\"\$" "$y" || fail "initrd pin"
grep -q "sha256: \"$r\"" "$t/status/images/pins.yaml" || fail "pin cache"
# The copy stays sparse: far below the 64M a full copy takes.
used=$(du -k "$t/status/images/demo/rootfs" | cut -f1)
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

# Into a git work tree: a note that the declaration needs a commit.
if command -v git >/dev/null; then
	git init -q "$t/repo"
	"$BANGER" image import demo --kernel "$t/vmlinux" --rootfs "$t/rootfs.ext4" \
		--state "$t/repo" --status-dir "$t/status2" >/dev/null 2>"$t/err"
	grep -q "is a git repository: commit images/demo.yaml" "$t/err" ||
		{ cat "$t/err"; fail "no note for a git work tree"; }
fi
echo "ok"
