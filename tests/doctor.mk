# SPDX-License-Identifier: GPL-2.0-or-later
# banger doctor: the checks against fake probes, and the real command on this host.
EXTRA_DIST += tests/doctor/doctor-host.sh
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-doctor
TESTS += tests/unit/test-doctor tests/doctor/doctor-host.sh
tests_unit_test_doctor_SOURCES = tests/unit/test-doctor.c
tests_unit_test_doctor_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_doctor_LDADD = $(TEST_LIBS)
endif
