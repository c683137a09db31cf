#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Phases on the real host drivers with several workers, in a network
# namespace this test creates: a VM renamed (its file moved, its address
# kept) is stopped before its successor starts, and a VM given an address
# automatically gives it up, stopped, before a VM that declares it starts.
# The guests are the fake Firecracker, slow to stop.  Skips (77) unless root.
set -eu
: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
timeout 300 unshare --net sh "$top_srcdir/tests/crash/phases-run.sh"
