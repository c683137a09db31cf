# SPDX-License-Identifier: GPL-2.0-or-later
# Real disk driver (issue 5) and image pins.
libbanger_a_SOURCES += \
	src/drivers/disk.h src/drivers/disk-internal.h \
	src/drivers/disk-common.c src/drivers/disk-loop.c src/drivers/disk-dm.c \
	src/drivers/disk-copy.c src/drivers/disk-work.c src/drivers/disk-real.c \
	src/drivers/image-pin.c src/drivers/image-pin.h
libbanger_a_SOURCES += src/cli/image.c
# disk.h includes these; listed here until their owners' fragments do (harmless twice).
EXTRA_DIST += src/spec/spec.h src/source/source.h
