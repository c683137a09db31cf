#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Runs of several jobs killed part way, on the real host drivers, in a
# network namespace this test creates: twelve VMs (a third running on the
# fake Firecracker, all with NAT, a work disk and a file sync) are created,
# changed (most running ones stopped, the others started, one restarted
# with more memory), then deleted, by `banger reconcile --jobs 4`, each run SIGKILLed
# after 5 to 400 ms, while several VMs are in the middle of their steps.
# After each kill the next run converges, leaves no temporary file, and
# once the VMs are deleted nothing of banger's is left.  Skips (77) unless
# root.
set -eu
: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
timeout 600 unshare --net sh "$top_srcdir/tests/crash/jobs-kill-run.sh"
