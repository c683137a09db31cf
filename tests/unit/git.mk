# SPDX-License-Identifier: GPL-2.0-or-later
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-source-git
TESTS += tests/unit/test-source-git
tests_unit_test_source_git_SOURCES = tests/unit/test-source-git.c
tests_unit_test_source_git_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_source_git_LDADD = $(TEST_LIBS)
endif
