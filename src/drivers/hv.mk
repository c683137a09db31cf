# SPDX-License-Identifier: GPL-2.0-or-later
# Hypervisor backends: shared process plumbing and the QEMU microvm driver.
libbanger_a_SOURCES += \
	src/drivers/hv.h \
	src/drivers/hv-common.c src/drivers/hv-common.h \
	src/drivers/hv-qemu.c src/drivers/hv-qemu.h
# The model headers the hv interface uses; their own fragments list them too
# (distdir drops duplicates).
EXTRA_DIST += src/spec/spec.h src/source/source.h
