#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The section 5 man pages document exactly the keys of the schemas, with
# their defaults, and their EXAMPLES are the files of examples/.
set -u
: "${top_srcdir:?}"
py=/usr/bin/python3
if ! "$py" -c 'import json' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 is needed"
	exit 77
fi
exec "$py" -B "$top_srcdir/tests/tools/man-check.py" "$top_srcdir"
