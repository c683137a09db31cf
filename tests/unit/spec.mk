# SPDX-License-Identifier: GPL-2.0-or-later
# Spec and source tests: unit suites, the corpus of single files
# (tests/data/spec/{valid,invalid}/) and whole state directories checked
# through banger validate (tests/data/spec/states/).
EXTRA_DIST += tests/unit/spec-states.sh tests/data/spec
if ENABLE_TESTS
check_PROGRAMS += tests/unit/test-spec tests/unit/test-source
TESTS += tests/unit/test-spec tests/unit/test-source tests/unit/spec-states.sh
tests_unit_test_spec_SOURCES = tests/unit/test-spec.c
tests_unit_test_spec_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_spec_CPPFLAGS = $(AM_CPPFLAGS) -DABS_TOP_SRCDIR='"$(abs_top_srcdir)"'
tests_unit_test_spec_LDADD = $(TEST_LIBS)
tests_unit_test_spec_DEPENDENCIES = libbanger.a
tests_unit_test_source_SOURCES = tests/unit/test-source.c
tests_unit_test_source_CFLAGS = $(TEST_CFLAGS)
tests_unit_test_source_LDADD = $(TEST_LIBS)
tests_unit_test_source_DEPENDENCIES = libbanger.a
endif
