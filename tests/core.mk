# SPDX-License-Identifier: GPL-2.0-or-later
# The fake host is part of libbanger.a: the CLI's hidden --fake-host switch
# runs on it until the real drivers are wired.
libbanger_a_SOURCES += \
	tests/fakes/fake-host.c tests/fakes/fake-host.h
AM_CPPFLAGS += -I$(top_srcdir)/tests

CORE_TEST_HELPERS = tests/fakes/harness.c tests/fakes/harness.h \
	tests/fakes/test-spec.c tests/fakes/test-spec.h
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-plan
TESTS += tests/unit/test-plan
tests_unit_test_plan_SOURCES = tests/unit/test-plan.c $(CORE_TEST_HELPERS)
tests_unit_test_plan_CFLAGS = $(TEST_CFLAGS) -DTOP_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_plan_LDADD = $(TEST_LIBS)
endif
EXTRA_DIST += tests/data/plan
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-apply
TESTS += tests/unit/test-apply
tests_unit_test_apply_SOURCES = tests/unit/test-apply.c $(CORE_TEST_HELPERS)
tests_unit_test_apply_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_apply_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-status
TESTS += tests/unit/test-status
tests_unit_test_status_SOURCES = tests/unit/test-status.c $(CORE_TEST_HELPERS)
tests_unit_test_status_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_status_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
TESTS += tests/core/reconcile.sh tests/core/logs.sh tests/integration/image-pins.sh
endif
EXTRA_DIST += tests/core/reconcile.sh tests/core/logs.sh tests/integration/image-pins.sh \
	tests/procs-lib.sh
EXTRA_DIST += tests/data/plan/README
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-ops-common
TESTS += tests/unit/test-ops-common
tests_unit_test_ops_common_SOURCES = tests/unit/test-ops-common.c
tests_unit_test_ops_common_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_ops_common_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
TESTS += tests/integration/core-reconcile.sh
endif
EXTRA_DIST += tests/integration/core-reconcile.sh
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-observe
TESTS += tests/unit/test-observe
tests_unit_test_observe_SOURCES = tests/unit/test-observe.c $(CORE_TEST_HELPERS)
tests_unit_test_observe_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_observe_LDADD = $(TEST_LIBS)
endif
