#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger(8) gives each command the options its --help shows, no more, no less.
set -u
: "${top_srcdir:?}" "${BANGER:?}"
py=/usr/bin/python3
if ! [ -x "$py" ]; then
	echo "SKIP: /usr/bin/python3 is needed"
	exit 77
fi
exec "$py" -B "$top_srcdir/tests/tools/man-options.py" "$top_srcdir" "$BANGER"
