#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Concurrent runs on the real host drivers, in a network namespace this test
# creates: 20 rounds, each editing the declarations and starting two
# `banger reconcile` at once against one state (one of them, every other
# round, with --lock-timeout 0): each must exit 0 or 3 (another run holds the
# lock), and the host must end converged.  Meanwhile `banger status --json`
# and `banger plan` run in a loop: none may take long (they take no lock) or
# see a half-written status file.  Skips (77) unless root.
set -eu
: "${top_srcdir:?}"
. "$top_srcdir/tests/crash/lib.sh"
real_host_prepare
timeout 600 unshare --net sh "$top_srcdir/tests/crash/concurrency-run.sh"
