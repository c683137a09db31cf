# SPDX-License-Identifier: GPL-2.0-or-later
# Crash safety (issue 7): side effects only in step(), fault matrix on the
# real host, status corruption, concurrent runs, mass-delete guard, the
# phases that order changes run by several workers.
CRASH_TESTS = \
	tests/crash/side-effects.sh \
	tests/crash/fault-matrix.sh \
	tests/crash/concurrency.sh \
	tests/crash/mass-delete.sh \
	tests/crash/orphans.sh \
	tests/crash/jobs-kill.sh \
	tests/crash/phases.sh
EXTRA_DIST += $(CRASH_TESTS) tests/data/status \
	tests/crash/lib.sh tests/crash/fault-run.sh tests/crash/concurrency-run.sh \
	tests/crash/mass-delete-run.sh tests/crash/orphans-run.sh tests/crash/jobs-kill-run.sh \
	tests/crash/phases-run.sh
if ENABLE_TESTS
TESTS += $(CRASH_TESTS)
endif
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-status-corrupt
TESTS += tests/unit/test-status-corrupt
tests_unit_test_status_corrupt_SOURCES = tests/unit/test-status-corrupt.c $(CORE_TEST_HELPERS)
tests_unit_test_status_corrupt_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_status_corrupt_LDADD = $(TEST_LIBS)
endif
