#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger's main job on the shipped examples: install, build, validate the
# declarations in examples/ and show what they declare.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/tools/deps.sh"
"$top/tools/build.sh"
banger="$top/build/banger"
echo "+ banger validate --state examples"
"$banger" validate --state "$top/examples"
