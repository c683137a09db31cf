# SPDX-License-Identifier: GPL-2.0-or-later
# Fuzz targets: linked with libFuzzer under --enable-fuzz (tools/fuzz.sh,
# make fuzz); otherwise built with a replay main() that make check runs over
# the seed corpus.
EXTRA_DIST += tools/fuzz.sh tools/fuzz-corpus.sh tests/fuzz-replay.sh tests/fuzz/replay.c
if ENABLE_FUZZ
noinst_PROGRAMS += tests/fuzz/fuzz-spec
tests_fuzz_fuzz_spec_SOURCES = tests/fuzz/fuzz-spec.c
tests_fuzz_fuzz_spec_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_spec_LDADD = libbanger.a $(BANGER_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz-status
tests_fuzz_fuzz_status_SOURCES = tests/fuzz/fuzz-status.c
tests_fuzz_fuzz_status_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_status_LDADD = libbanger.a $(BANGER_LIBS)
noinst_PROGRAMS += tests/fuzz/fuzz-nat-nl
tests_fuzz_fuzz_nat_nl_SOURCES = tests/fuzz/fuzz-nat-nl.c
tests_fuzz_fuzz_nat_nl_LDFLAGS = $(AM_LDFLAGS) -fsanitize=fuzzer
tests_fuzz_fuzz_nat_nl_LDADD = libbanger.a $(BANGER_LIBS)
else
if ENABLE_TESTS
check_PROGRAMS += tests/fuzz/fuzz-spec
tests_fuzz_fuzz_spec_SOURCES = tests/fuzz/fuzz-spec.c tests/fuzz/replay.c
tests_fuzz_fuzz_spec_LDADD = libbanger.a $(BANGER_LIBS)
check_PROGRAMS += tests/fuzz/fuzz-status
tests_fuzz_fuzz_status_SOURCES = tests/fuzz/fuzz-status.c tests/fuzz/replay.c
tests_fuzz_fuzz_status_LDADD = libbanger.a $(BANGER_LIBS)
check_PROGRAMS += tests/fuzz/fuzz-nat-nl
tests_fuzz_fuzz_nat_nl_SOURCES = tests/fuzz/fuzz-nat-nl.c tests/fuzz/replay.c
tests_fuzz_fuzz_nat_nl_LDADD = libbanger.a $(BANGER_LIBS)
TESTS += tests/fuzz-replay.sh
endif
endif

fuzz:
	$(top_srcdir)/tools/fuzz.sh $(FUZZ_SECONDS)
.PHONY: fuzz
