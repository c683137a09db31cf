#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# mandoc -Tlint finds nothing in the man pages.  The only messages let
# through are the ones about other manuals not being installed on this
# machine (banger's own pages are not installed while it is being built; the
# cross references between them are checked here instead).
set -u
: "${top_srcdir:?}"
if [ -z "${MANDOC:-}" ] || ! [ -x "$MANDOC" ]; then
	echo "SKIP: mandoc not found"
	exit 77
fi
fail=0
tmp=$(mktemp) || exit 1
trap 'rm -f "$tmp"' EXIT
for page in banger.8 banger-host.5 banger-image.5 banger-vm.5 banger-filesync.5; do
	path=$top_srcdir/man/$page
	"$MANDOC" -Tlint "$path" >"$tmp" 2>&1
	if grep -v -e 'STYLE: referenced manual not found' -e 'mandoc\.db' "$tmp"; then
		echo "FAIL: $page: mandoc -Tlint complains (above)"
		fail=1
	fi
	for ref in $(sed -n 's/^\.Xr \(banger[a-z-]*\) \([0-9]\).*/\1.\2/p' "$path" | sort -u); do
		if ! [ -f "$top_srcdir/man/$ref" ]; then
			echo "FAIL: $page refers to $ref, which man/ lacks"
			fail=1
		fi
	done
done
exit $fail
