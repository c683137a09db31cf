#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Per-VM cost of tap + NAT setup through banger's drivers against one process
# per step, measured inside a private network namespace (unshare --net) that
# vanishes on exit.  Root only (exit 77 otherwise).
# Usage: bench/net-cost.sh [N]   (N defaults to $BENCH_N, then 50)
set -eu

n="${1:-${BENCH_N:-50}}"
prog="${NET_COST:-${top_builddir:-.}/bench/net-cost}"

if [ "${BANGER_BENCH_INNER:-}" != 1 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "net-cost: not root, skipping"
		exit 77
	fi
	for t in unshare ip nft; do
		command -v "$t" >/dev/null 2>&1 || { echo "net-cost: no $t, skipping"; exit 77; }
	done
	if ! unshare --net true 2>/dev/null; then
		echo "net-cost: cannot create a network namespace, skipping"
		exit 77
	fi
	BANGER_OUTER_NETNS=$(readlink /proc/self/ns/net)
	BANGER_BENCH_INNER=1
	export BANGER_OUTER_NETNS BANGER_BENCH_INNER
	exec unshare --net -- /bin/sh "$0" "$n"
fi

if [ "$(readlink /proc/self/ns/net)" = "${BANGER_OUTER_NETNS:-}" ]; then
	echo "net-cost: still in the outer namespace, refusing" >&2
	exit 99
fi
ip link set lo up
exec "$prog" "$n"
