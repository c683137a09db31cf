# SPDX-License-Identifier: GPL-2.0-or-later
# Schemas, examples and man pages, and the tests that keep them in agreement
# with each other and with banger's validator.
TESTS += \
	tests/schema-agreement.sh \
	tests/man-examples.sh \
	tests/man-lint.sh \
	tests/examples-validate.sh

EXTRA_DIST += \
	tests/schema-agreement.sh \
	tests/man-examples.sh \
	tests/man-lint.sh \
	tests/examples-validate.sh \
	tests/tools/schema-check.py \
	tests/tools/man-check.py \
	tools/gen-schemas.py \
	schemas/host.schema.json \
	schemas/image.schema.json \
	schemas/vm.schema.json \
	schemas/filesync.schema.json \
	examples/host.yaml \
	examples/images/demo.yaml \
	examples/vms/web.yaml \
	examples/vms/worker.yaml \
	examples/filesyncs/dotfiles.yaml \
	examples/files/bashrc \
	examples/files/motd
