#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Replay the fuzz seed corpus through each fuzz target built with the plain
# replay main (no libFuzzer), under whatever sanitizers this build has.
set -eu
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ran=0
for t in fuzz-spec fuzz-status fuzz-nat-nl; do
	bin="$top_builddir/tests/fuzz/$t"
	[ -x "$bin" ] || continue
	"$top_srcdir/tools/fuzz-corpus.sh" "$t" "$dir/$t" >/dev/null
	"$bin" "$dir/$t"
	ran=$((ran + 1))
done
[ "$ran" -gt 0 ] || exit 77
