#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# ssh-idle.sh again with its status directory on XFS, which clones: /tmp is
# a loop-mounted XFS in a private mount namespace this test creates (the
# host's /tmp is hidden from it alone), while the demo image stays on the
# build directory's file system.  So the root disks are copies (the image
# cannot be cloned across file systems: strategy auto must see that), and
# the file syncs and the workspace reach the guest at its start from
# stopped through a clone of its work disk.  Skips (77) unless root, or
# without mkfs.xfs or a mount namespace.
set -eu

: "${top_builddir:?}" "${top_srcdir:?}"
[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
MKFS=$(command -v mkfs.xfs || echo /usr/sbin/mkfs.xfs)
[ -x "$MKFS" ] || { echo "skip: no mkfs.xfs"; exit 77; }
unshare --mount true 2>/dev/null || { echo "skip: no mount namespace"; exit 77; }

IMG=$(mktemp "$top_builddir/ssh-idle-xfs.XXXXXX")
trap 'rm -f "$IMG"' EXIT
truncate -s 4G "$IMG"
"$MKFS" -q -f -m reflink=1 "$IMG"
# The loop device goes with the mount namespace's last mount (autoclear).
unshare --mount --propagation private sh -c '
	mount -o loop "$1" /tmp || exit 77
	[ "$(findmnt -n -o FSTYPE /tmp)" = xfs ] || exit 1
	exec sh "$2/tests/integration/ssh-idle.sh"' sh "$IMG" "$top_srcdir"
