# SPDX-License-Identifier: GPL-2.0-or-later
# make bench: the benchmark harness (bench/bench.py), a table on standard
# output and JSON in bench/results.json of the build directory (BENCH_OUT=...
# to change it, BENCH_ARGS=... for more options, e.g. --sections scale).
# make check runs it once at the smallest size (tests/bench-smoke.sh).
EXTRA_DIST += bench/bench.py tests/bench-smoke.sh
if ENABLE_TESTS
TESTS += tests/bench-smoke.sh
endif

BENCH_OUT ?= $(abs_top_builddir)/bench/results.json
.PHONY: bench
bench: banger$(EXEEXT) bench/net-cost$(EXEEXT) bench/host-floor$(EXEEXT)
	$(MKDIR_P) bench
	top_srcdir='$(abs_top_srcdir)' top_builddir='$(abs_top_builddir)' \
	  $(PYTHON3) $(srcdir)/bench/bench.py --banger '$(abs_top_builddir)/banger' \
	  --out '$(BENCH_OUT)' $(BENCH_ARGS)
