#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger's main job on the shipped examples, as root on Debian 12:
#   1. install what is needed, build banger and the demo image;
#   2. validate examples/ and list what it declares;
#   3. reconcile examples/demo/: boot its guest under QEMU, inside a network
#      namespace of its own (banger-demo), so the host's network is untouched.
# tools/try.sh --down stops the demo guest and removes everything it made.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
ns=banger-demo
status=$top/build/demo-status
banger=$top/build/banger
down=false
[ "${1:-}" = "--down" ] && down=true

if [ "$(id -u)" -ne 0 ]; then
	echo "tools/try.sh: run me as root (banger manages taps, NAT and loop devices)" >&2
	exit 1
fi

if $down; then
	[ -x "$banger" ] || { echo "nothing to take down"; exit 0; }
	if ip netns list | grep -qx "$ns\( .*\)\{0,1\}"; then
		empty=$(mktemp -d)
		mkdir -p "$empty/images" "$empty/vms"
		ip netns exec "$ns" "$banger" reconcile --state "$empty" --status-dir "$status" \
			--allow-mass-delete || true
		rm -rf "$empty"
		ip netns delete "$ns"
	fi
	echo "demo taken down (work disks kept in $status/retained)"
	exit 0
fi

"$top/tools/deps.sh"
"$top/tools/build.sh"
echo "+ make demo-image"
make -C "$top/build" -s demo-image

echo "+ banger validate --state examples"
"$banger" validate --state "$top/examples"

echo "+ banger reconcile --state examples/demo (in network namespace $ns)"
ip netns list | grep -qx "$ns\( .*\)\{0,1\}" || ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
ip netns exec "$ns" "$banger" reconcile --state "$top/examples/demo" --status-dir "$status"
ip netns exec "$ns" "$banger" status --state "$top/examples/demo" --status-dir "$status"
cat <<MSG

The demo guest is running.  See it with:
  $banger logs --status-dir $status demo
  ip netns exec $ns $banger status --state $top/examples/demo --status-dir $status
  ip netns exec $ns $banger ssh --status-dir $status demo -- uname -a
Take it down with:
  sh tools/try.sh --down
MSG
