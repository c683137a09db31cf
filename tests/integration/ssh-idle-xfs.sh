#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ssh-idle.sh again with its status directory on XFS, which clones: a
# loop-mounted XFS in a private mount namespace this test creates, given to
# ssh-idle.sh as TMPDIR, while the demo image stays on the build
# directory's file system.  So the root disks are copies (the image cannot
# be cloned across file systems: strategy auto must see that), and the file
# syncs and the workspace reach the guest at its start from stopped through
# a clone of its work disk.  Skips (77) unless root, or without mkfs.xfs or
# a mount namespace.
set -eu

: "${top_builddir:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
MKFS=$(command -v mkfs.xfs || echo /usr/sbin/mkfs.xfs)
[ -x "$MKFS" ] || { echo "skip: no mkfs.xfs"; exit 77; }
unshare --mount true 2>/dev/null || { echo "skip: no mount namespace"; exit 77; }

# A short path: the guests' API sockets live below it.
MNT=$(mktemp -d /tmp/banger-xfs-XXXXXX)
IMG=$MNT.img
trap 'rm -f "$IMG"; rmdir "$MNT"' EXIT
truncate -s 4G "$IMG"
"$MKFS" -q -f -m reflink=1 "$IMG"
# The loop device goes with the mount namespace's only mount (autoclear).
unshare --mount --propagation private sh -c '
	mount -o loop "$1" "$2" || exit 77
	[ "$(findmnt -n -o FSTYPE "$2")" = xfs ] || exit 1
	TMPDIR=$2 exec sh "$3/tests/integration/ssh-idle.sh"' sh "$IMG" "$MNT" "$top_srcdir"
