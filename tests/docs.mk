# SPDX-License-Identifier: GPL-2.0-or-later
# Schemas, examples and man pages, and the tests that keep them in agreement
# with each other and with banger's validator.
TESTS += \
	tests/schema-agreement.sh \
	tests/man-examples.sh \
	tests/man-lint.sh \
	tests/man-options.sh \
	tests/examples-validate.sh \
	tests/docs-selftest.sh

EXTRA_DIST += \
	tests/schema-agreement.sh \
	tests/man-examples.sh \
	tests/man-lint.sh \
	tests/man-options.sh \
	tests/examples-validate.sh \
	tests/docs-selftest.sh \
	tests/tools/schema-check.py \
	tests/tools/man-options.py \
	tests/tools/man-check.py \
	tools/gen-schemas.py

# The docs- cases under tests/data/spec/ are distributed with the rest of
# that folder (tests/unit/spec.mk).
