# SPDX-License-Identifier: GPL-2.0-or-later
# Tests of the net and nat drivers.
EXTRA_DIST += \
	tests/data/net/ruleset.json \
	tests/data/net/empty.json

if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-net
TESTS += tests/unit/test-net
tests_unit_test_net_SOURCES = tests/unit/test-net.c
tests_unit_test_net_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_net_LDADD = $(TEST_LIBS)
endif
