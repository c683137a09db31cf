# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/cli/cli.h src/cli/common.c \
	src/cli/validate.c
