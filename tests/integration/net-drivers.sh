#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the net/nat driver integration tests in a private network namespace:
# namespace A (unshare --net) gets an uplink veth whose peer lives in a second
# private namespace B, and a default route through it.  Nothing is created in
# the caller's namespace; both namespaces vanish when their last process exits.
# Root only: exit 77 (skip) otherwise.
set -eu

prog="${top_builddir:-.}/tests/integration/test-net-drivers"

if [ "${1:-}" != --inner ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "net-drivers: not root, skipping"
		exit 77
	fi
	for t in unshare nsenter ip nft; do
		command -v "$t" >/dev/null 2>&1 || { echo "net-drivers: no $t, skipping"; exit 77; }
	done
	if ! unshare --net true 2>/dev/null; then
		echo "net-drivers: cannot create a network namespace, skipping"
		exit 77
	fi
	BANGER_OUTER_NETNS=$(readlink /proc/self/ns/net)
	export BANGER_OUTER_NETNS
	exec unshare --net -- /bin/sh "$0" --inner
fi

# Inside namespace A.  Refuse to go on if the unshare somehow did not happen.
if [ "$(readlink /proc/self/ns/net)" = "${BANGER_OUTER_NETNS:-}" ]; then
	echo "net-drivers: still in the outer namespace, refusing" >&2
	exit 99
fi
ip link set lo up

unshare --net sleep 600 &
peer=$!
trap 'kill "$peer" 2>/dev/null || :; wait "$peer" 2>/dev/null || :' EXIT
i=0
while [ "$(readlink "/proc/$peer/ns/net")" = "$(readlink /proc/self/ns/net)" ]; do
	i=$((i + 1))
	[ "$i" -lt 200 ] || { echo "net-drivers: peer namespace not ready" >&2; exit 99; }
	sleep 0.05
done

ip link add veth-up type veth peer name veth-peer
ip link set veth-peer netns "$peer"
nsenter --net="/proc/$peer/ns/net" ip link set lo up
nsenter --net="/proc/$peer/ns/net" ip addr add 192.0.2.254/24 dev veth-peer
nsenter --net="/proc/$peer/ns/net" ip link set veth-peer up
ip addr add 192.0.2.1/24 dev veth-up
ip link set veth-up up
ip route add default via 192.0.2.254 dev veth-up

BANGER_TEST_NETNS=1 "$prog"
