#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger validate accepts the example state directory.
set -u
: "${BANGER:?}" "${top_srcdir:?}"
if ! "$BANGER" validate --help >/dev/null 2>&1; then
	echo "SKIP: this banger has no validate command"
	exit 77
fi
"$BANGER" validate --state "$top_srcdir/examples"
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: banger validate --state examples exited $rc, expected 0"
	exit 1
fi
