# SPDX-License-Identifier: GPL-2.0-or-later
# Disk driver tests (issue 5).
EXTRA_DIST += tests/unit/disk-fake.h
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-disk
TESTS += tests/unit/test-disk
tests_unit_test_disk_SOURCES = tests/unit/test-disk.c tests/unit/disk-fake.c tests/unit/disk-fake.h
tests_unit_test_disk_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_disk_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-disk-work
TESTS += tests/unit/test-disk-work
tests_unit_test_disk_work_SOURCES = tests/unit/test-disk-work.c
tests_unit_test_disk_work_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_disk_work_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
check_PROGRAMS += tests/integration/test-disk-host
TESTS += tests/integration/test-disk-host
tests_integration_test_disk_host_SOURCES = tests/integration/test-disk-host.c
tests_integration_test_disk_host_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_disk_host_LDADD = $(TEST_LIBS)
endif
if ENABLE_TESTS
check_PROGRAMS += tests/integration/test-disk-dm
TESTS += tests/integration/test-disk-dm
tests_integration_test_disk_dm_SOURCES = tests/integration/test-disk-dm.c
tests_integration_test_disk_dm_CFLAGS = $(TEST_CFLAGS)
tests_integration_test_disk_dm_LDADD = $(TEST_LIBS)
endif
EXTRA_DIST += tests/disk/image-import.sh
TESTS += tests/disk/image-import.sh
