#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Orphan collection on the real host drivers, in a network namespace this
# test creates: banger-marked objects no VM claims (a tap with banger's alias,
# NAT rules carrying a VM id in banger's table, a loop device over a file in
# a VM directory, a VM directory with a work disk, a hypervisor process on an
# api socket there) are all removed by the next reconcile, the orphan's work
# disk is kept, and look-alikes without banger's mark (a bgr- tap without the
# alias, a rule in another table, a loop device elsewhere) are not touched.
# Then a VM whose status file is cut in half keeps its identity and leaks
# nothing.
# Skips (77) unless root.
set -eu
: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
timeout 300 unshare --net sh "$top_srcdir/tests/crash/orphans-run.sh"
