# SPDX-License-Identifier: GPL-2.0-or-later
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-guest
TESTS += tests/unit/test-guest
tests_unit_test_guest_SOURCES = tests/unit/test-guest.c
tests_unit_test_guest_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_guest_LDADD = $(TEST_LIBS)
TESTS += tests/integration/ssh-idle.sh tests/integration/ssh-idle-xfs.sh tests/core/ssh-config.sh
endif
EXTRA_DIST += tests/integration/ssh-idle.sh tests/integration/ssh-idle-xfs.sh \
	tests/core/ssh-config.sh
