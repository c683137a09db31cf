#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the spec-derived strictness check of tests/fakes/fake-firecracker.
set -eu
: "${top_srcdir:?run through make check}"
for m in yaml jsonschema; do
	if ! /usr/bin/python3 -c "import $m" 2>/dev/null; then
		echo "python3 module '$m' missing (Debian: python3-$m)" >&2
		exit 77
	fi
done
exec /usr/bin/python3 "$top_srcdir/tests/fakes/test-fake-firecracker.py"
