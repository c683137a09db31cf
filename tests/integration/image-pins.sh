#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Image checks before use, on the real drivers (plan only, inside a network
# namespace this test creates): a sha256 pin mismatch or a missing file
# holds every VM of the image with a clear error; the right pin lets them
# through.  Root only (77).
set -eu
: "${BANGER:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
command -v unshare >/dev/null || { echo "skip: no unshare"; exit 77; }
T=$(mktemp -d /tmp/banger-pins-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mkdir -p "$T/state/images" "$T/state/vms" "$T/img"
printf 'kernel\n' >"$T/img/vmlinux"
printf 'rootfs\n' >"$T/img/rootfs.ext4"
good=$(sha256sum "$T/img/rootfs.ext4" | cut -d' ' -f1)
bad=$(printf '0%.0s' $(seq 64))
image() { # image ROOTFS-PIN
	printf 'kernel: %s/img/vmlinux\nrootfs: %s/img/rootfs.ext4\nsha256:\n  rootfs: "%s"\n' \
		"$T" "$T" "$1" >"$T/state/images/base.yaml"
}
printf 'image: base\n' >"$T/state/vms/a.yaml"
printf 'image: base\n' >"$T/state/vms/b.yaml"
plan() { # plan EXPECTED-EXIT
	set +e
	unshare --net "$BANGER" plan --state "$T/state" --status-dir "$T/status" >"$T/out" 2>"$T/err"
	rc=$?
	set -e
	[ $rc = "$1" ] || { cat "$T/out" "$T/err"; fail "plan exited $rc, wanted $1"; }
}

image "$bad"
plan 2
grep -q "! held: vms/a.yaml:1:8: image 'base' cannot be used: .*sha256 mismatch: expected $bad, found $good (vm 'a')" "$T/out" ||
	{ cat "$T/out"; fail "mismatch not held with its reason"; }
grep -q "! held: .*(vm 'b')" "$T/out" || { cat "$T/out"; fail "b not held"; }
grep -q "^+ create" "$T/out" && fail "a held VM is planned"

image "$good"
plan 0
grep -q "^+ create a" "$T/out" || { cat "$T/out"; fail "a not planned with the right pin"; }
[ -f "$T/status/images/pins.yaml" ] || fail "no pin cache"
grep -q "$good" "$T/status/images/pins.yaml" || fail "digest not cached"

rm "$T/img/vmlinux"
plan 2
grep -q "! held: vms/a.yaml:1:8: image 'base' cannot be used: .*vmlinux" "$T/out" || { cat "$T/out"; fail "missing kernel not held"; }
echo "image-pins: ok"
