# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/plan/plan.c src/plan/plan.h
