# SPDX-License-Identifier: GPL-2.0-or-later
# Crash safety (issue 7): side effects only in step(), fault matrix on the
# real host, status corruption, concurrent runs, mass-delete guard.
CRASH_TESTS = \
	tests/crash/side-effects.sh \
	tests/crash/fault-matrix.sh
EXTRA_DIST += $(CRASH_TESTS) tests/data/status \
	tests/crash/lib.sh tests/crash/fault-run.sh
if ENABLE_TESTS
TESTS += $(CRASH_TESTS)
endif
