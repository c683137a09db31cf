#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make check: the benchmark harness once at its smallest size (--quick), so
# that make bench keeps working.  No timing is asserted: only that every
# section runs (or says why it skipped) and that the JSON it writes holds
# the figures the table showed.
set -eu

: "${BANGER:?}" "${top_srcdir:?}" "${top_builddir:?}"
T=$(mktemp -d /tmp/banger-bench-smoke-XXXXXX)
trap 'rm -rf "$T"' EXIT

/usr/bin/python3 "$top_srcdir/bench/bench.py" --quick --banger "$BANGER" --out "$T/results.json" >"$T/out"
cat "$T/out"
/usr/bin/python3 - "$T/results.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
scale = r["scale"]
assert [(x["vms"], x["state"]) for x in scale] == [(10, "stopped"), (20, "stopped"), (10, "running"), (20, "running")], scale
for x in scale:
    for c in ("validate", "plan", "reconcile"):
        assert x[c]["ms"] > 0 and x[c]["rss_mib"] > 0, x
for sec in ("host", "boot"):
    assert sec in r, sec
    assert "skipped" in r[sec] or r[sec]["n"] > 0, r[sec]
fi = r["host"].get("full_image")
if "skipped" not in r["host"]:
    for k in ("banger", "banger_jobs1"):
        assert r["host"][k]["create_ms_per_vm"] > 0 and r["host"][k]["delete_ms_per_vm"] > 0, r["host"]
    assert fi["n"] > 0 and fi["create_ms_per_vm"] > 0 and fi["image_allocated_kib"] >= 64 * 1024, fi
    # The floor ran beside banger's rounds, on the same file system.
    fl = r["host"]["floor"]
    assert fl["create_ms_per_vm"] > 0 and fl["delete_ms_per_vm"] > 0, fl
    assert fl["root_disks"] == "copy" if r["host"]["disk_strategy"] == "copy" else True, fl
    assert fl["ratio_banger_over_floor"] > 0, fl
    # The zeros of the image are not copied.
    assert 0 < fi["root_disk_allocated_kib"] < fi["image_allocated_kib"] // 4, fi
PY
grep -q '^scale' "$T/out"
