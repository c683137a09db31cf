#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The whole test suite: install, then build with -Werror under ASan+UBSan and
# run make check; build with clang; make distcheck.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"
cd "$top"
./autogen.sh >/dev/null

run_check() {
	dir=$1
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	(cd "$dir" && "$top/configure" -q --enable-werror "$@" && make -j"$(nproc)" >/dev/null &&
		make -j"$(nproc)" check) || {
		for f in $(find "$dir" -name '*.log' -path '*tests*'); do
			grep -q '^# *FAIL\|^FAIL\|^ERROR' "$f" 2>/dev/null && cat "$f"
		done
		return 1
	}
}

echo "== gcc, ASan+UBSan: make check"
ASAN_OPTIONS=detect_leaks=1 run_check "$top/build-ci-asan" --enable-sanitizers --enable-fault-injection
echo "== clang: make check"
run_check "$top/build-ci-clang" CC=clang --enable-fault-injection
echo "== libFuzzer: each target for ${FUZZ_SECONDS:-60}s"
FUZZ_BUILD_DIR="$top/build-ci-fuzz" "$top/tools/fuzz.sh" "${FUZZ_SECONDS:-60}"
echo "== make distcheck"
rm -rf "$top/build-ci-dist" && mkdir -p "$top/build-ci-dist"
(cd "$top/build-ci-dist" && "$top/configure" -q && make -j"$(nproc)" distcheck >/dev/null)
echo "distcheck: ok"
