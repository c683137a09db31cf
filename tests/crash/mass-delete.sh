#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The mass-delete guard and held VMs on the real host drivers, in a network
# namespace this test creates: with three running VMs, reconciling against an
# empty state directory, a directory of broken declarations, or a git
# repository whose commit holds nothing must delete no VM, exit 2 and say
# why; a git work tree's uncommitted files are not applied.  Skips (77)
# unless root.
set -eu
: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
command -v git >/dev/null || { echo "skip: no git"; exit 77; }
timeout 300 unshare --net sh "$top_srcdir/tests/crash/mass-delete-run.sh"
