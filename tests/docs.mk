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

# A few corpus cases of this area's own (the docs- files); the rest of
# tests/data/spec/ belongs to the spec layer.
EXTRA_DIST += \
	tests/data/spec/invalid/filesyncs/docs-guest-dotdot.expected \
	tests/data/spec/invalid/filesyncs/docs-guest-dotdot.yaml \
	tests/data/spec/invalid/filesyncs/docs-mode-unquoted.expected \
	tests/data/spec/invalid/filesyncs/docs-mode-unquoted.yaml \
	tests/data/spec/invalid/host/docs-bridge-broadcast.expected \
	tests/data/spec/invalid/host/docs-bridge-broadcast.yaml \
	tests/data/spec/invalid/images/docs-sha256-initrd-alone.expected \
	tests/data/spec/invalid/images/docs-sha256-initrd-alone.yaml \
	tests/data/spec/invalid/vms/docs-float-vcpus.expected \
	tests/data/spec/invalid/vms/docs-float-vcpus.yaml \
	tests/data/spec/invalid/vms/docs-image-newline.expected \
	tests/data/spec/invalid/vms/docs-image-newline.yaml \
	tests/data/spec/invalid/vms/docs-mac-unquoted.expected \
	tests/data/spec/invalid/vms/docs-mac-unquoted.yaml \
	tests/data/spec/valid/filesyncs/docs-modes.yaml \
	tests/data/spec/valid/host/docs-every-key.yaml \
	tests/data/spec/valid/images/docs-pinned.yaml \
	tests/data/spec/valid/vms/docs-yaml11-values.yaml
