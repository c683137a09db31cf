# SPDX-License-Identifier: GPL-2.0-or-later
# Firecracker driver tests: HTTP client units, the driver against
# tests/fakes/fake-firecracker, and the fake's own strictness.
EXTRA_DIST += \
	tests/fakes/fake-firecracker \
	tests/fakes/test-fake-firecracker.py \
	tests/fakes/test-fake-firecracker.sh \
	tests/data/firecracker/firecracker-api.yaml \
	tests/data/firecracker/README.md

if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-fc-http
TESTS += tests/unit/test-fc-http
tests_unit_test_fc_http_SOURCES = tests/unit/test-fc-http.c
tests_unit_test_fc_http_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_fc_http_LDADD = $(TEST_LIBS)
check_PROGRAMS += tests/unit/test-hv-firecracker
TESTS += tests/unit/test-hv-firecracker tests/fakes/test-fake-firecracker.sh
tests_unit_test_hv_firecracker_SOURCES = tests/unit/test-hv-firecracker.c
tests_unit_test_hv_firecracker_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_hv_firecracker_LDADD = $(TEST_LIBS)
endif
