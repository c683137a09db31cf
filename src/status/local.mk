# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/status/status.c src/status/status.h \
	src/status/lock.c
