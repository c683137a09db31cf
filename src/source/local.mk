# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/source/source.h src/source/source-dir.c
