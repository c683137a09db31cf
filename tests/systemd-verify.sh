#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-analyze verify on the shipped units (skipped without systemd-analyze).
set -eu
command -v systemd-analyze >/dev/null 2>&1 || { echo "no systemd-analyze"; exit 77; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# The unit the build made (what make install installs): its ExecStart names
# the configured sbindir, no placeholder left.
built="$top_builddir/contrib/systemd/banger-reconcile.service"
[ -f "$built" ] || { echo "no $built (make builds it)"; exit 1; }
if grep -q '@' "$built"; then
	grep -n '@' "$built"
	echo "a placeholder is left in $built"
	exit 1
fi
grep -q '^ExecStart=/[^ ]*/banger reconcile$' "$built" || { grep -n ExecStart "$built"; exit 1; }
# Verified with the banger of this build in its place (sbindir need not exist here).
sed "s|^ExecStart=/[^ ]*/banger |ExecStart=$top_builddir/banger |" "$built" \
	>"$dir/banger-reconcile.service"
cp "$top_srcdir/contrib/systemd/banger-reconcile.timer" "$dir/"
out=$(cd "$dir" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
	./banger-reconcile.service ./banger-reconcile.timer 2>&1) || { printf '%s\n' "$out"; exit 1; }
# verify exits 0 on some warnings: treat any line naming our units as a failure.
if printf '%s\n' "$out" | grep -q 'banger-reconcile'; then
	printf '%s\n' "$out"
	exit 1
fi
grep -q '^ExecStart=.*/banger reconcile$' "$dir/banger-reconcile.service"
grep -q '^KillMode=process$' "$dir/banger-reconcile.service"
echo "units verified"
