# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/observe/observe.c src/observe/observe.h
