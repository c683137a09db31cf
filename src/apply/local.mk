# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/apply/apply.c src/apply/apply.h \
	src/apply/fault.c src/apply/fault.h
