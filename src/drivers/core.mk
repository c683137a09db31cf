# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/drivers/ops-common.c \
	src/drivers/host-ops.h \
	src/drivers/proc-sys.c src/drivers/proc-sys.h
