# SPDX-License-Identifier: GPL-2.0-or-later
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-workspace
TESTS += tests/unit/test-workspace
tests_unit_test_workspace_SOURCES = tests/unit/test-workspace.c
tests_unit_test_workspace_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_workspace_LDADD = $(TEST_LIBS)
tests_unit_test_workspace_DEPENDENCIES = libbanger.a
endif
