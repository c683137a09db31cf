#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz banger's parsers with libFuzzer (clang) for SECONDS each (default 600).
# usage: tools/fuzz.sh [SECONDS]      (make fuzz runs it)
# Fails on any crash, leak, sanitizer report or hang (> 10 s on one input);
# the input that did it is left in build-fuzz/artifacts/.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-600}
build=${FUZZ_BUILD_DIR:-$top/build-fuzz}
cd "$top"
[ -x configure ] || ./autogen.sh >/dev/null
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q CC=clang --enable-fuzz --disable-tests
make -j"$(nproc)" >/dev/null
mkdir -p artifacts
status=0
for t in fuzz-spec fuzz-status fuzz-nat-nl; do
	[ -x "tests/fuzz/$t" ] || continue
	corpus="corpus/$t"
	top_srcdir=$top "$top/tools/fuzz-corpus.sh" "$t" "$corpus"
	echo "== $t for ${secs}s"
	if ! LSAN_OPTIONS="suppressions=$top/tests/lsan.supp:print_suppressions=0" \
		"tests/fuzz/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix=artifacts/"$t"- \
		"$corpus" >"$t.log" 2>&1; then
		tail -n 40 "$t.log"
		echo "$t: FAILED (artifacts in $build/artifacts)"
		status=1
	else
		grep -E '^stat::number_of_executed_units|^Done' "$t.log" || true
		echo "$t: ok"
	fi
done
exit $status
