#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The JSON Schemas agree with banger's validator on the spec corpus, are
# themselves valid JSON Schema 2020-12, and accept every shipped example.
set -u
: "${top_srcdir:?}"
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 with python3-jsonschema and python3-yaml is needed"
	exit 77
fi
exec "$py" -B "$top_srcdir/tests/tools/schema-check.py" "$top_srcdir"
