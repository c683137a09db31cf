#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Build the seed corpus of a fuzz target into DIR from the test data.
# usage: tools/fuzz-corpus.sh TARGET DIR
# fuzz-spec inputs are one byte of kind (0 host, 1 image, 2 vm, 3 filesync)
# followed by the file.
set -eu
top=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
target=$1
out=$2
mkdir -p "$out"
n=0
case $target in
fuzz-spec)
	for set in valid invalid; do
		for kind in host images vms filesyncs; do
			case $kind in host) b='\000' ;; images) b='\001' ;; vms) b='\002' ;; filesyncs) b='\003' ;; esac
			for f in "$top"/tests/data/spec/$set/$kind/*.yaml; do
				[ -f "$f" ] || continue
				n=$((n + 1))
				{ printf "$b"; cat "$f"; } >"$out/seed-$n"
			done
		done
	done
	for f in "$top"/examples/host.yaml; do
		[ -f "$f" ] && { n=$((n + 1)); { printf '\000'; cat "$f"; } >"$out/seed-$n"; }
	done
	for f in "$top"/examples/vms/*.yaml; do
		[ -f "$f" ] && { n=$((n + 1)); { printf '\002'; cat "$f"; } >"$out/seed-$n"; }
	done
	;;
fuzz-status)
	for f in "$top"/tests/data/status/*.yaml "$top"/tests/data/plan/*/status/vms/*.yaml; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		cp "$f" "$out/seed-$n"
	done
	;;
fuzz-nat-nl)
	# rule dumps of tests/data/net/ruleset.nft, as the kernel answered them
	for f in "$top"/tests/data/net/*.nldump; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		cp "$f" "$out/seed-$n"
	done
	;;
*)
	echo "fuzz-corpus: unknown target '$target'" >&2
	exit 1
	;;
esac
echo "$n seeds for $target in $out"
