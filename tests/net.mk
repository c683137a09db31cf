# SPDX-License-Identifier: GPL-2.0-or-later
# Tests of the net and nat drivers.
EXTRA_DIST += tests/data/net/ruleset.nft tests/data/net/ruleset-want.h \
	tests/data/net/ruleset.nldump tests/data/net/inet.nldump

if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-net
TESTS += tests/unit/test-net
tests_unit_test_net_SOURCES = tests/unit/test-net.c
tests_unit_test_net_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_net_LDADD = $(TEST_LIBS)
endif

# Integration: root only, in private network namespaces (the .sh skips with 77 otherwise).
EXTRA_DIST += tests/integration/net-drivers.sh tests/integration/net-reconcile.sh
if ENABLE_TESTS
check_PROGRAMS += tests/integration/test-net-drivers
TESTS += tests/integration/net-drivers.sh tests/integration/net-reconcile.sh
tests_integration_test_net_drivers_SOURCES = tests/integration/test-net-drivers.c
tests_integration_test_net_drivers_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_net_drivers_LDADD = $(TEST_LIBS)
endif

# Per-VM network cost benchmark; make check runs it once with N=2.
EXTRA_DIST += bench/net-cost.sh bench/net-cost-smoke.sh
check_PROGRAMS += bench/net-cost
bench_net_cost_SOURCES = bench/net-cost.c bench/private-netns.h
bench_net_cost_LDADD = libbanger.a $(BANGER_LIBS)
TESTS += bench/net-cost-smoke.sh

# The floor of the host section's per-VM cost (bench.py runs it beside
# banger's rounds); make check runs it once with N=2 through bench-smoke.
check_PROGRAMS += bench/host-floor
bench_host_floor_SOURCES = bench/host-floor.c bench/private-netns.h
bench_host_floor_LDADD = libbanger.a $(BANGER_LIBS)

# make bench-net: the full run (N=50), root only.
.PHONY: bench-net
bench-net: bench/net-cost$(EXEEXT)
	top_builddir='$(abs_top_builddir)' $(SHELL) $(srcdir)/bench/net-cost.sh
