# SPDX-License-Identifier: GPL-2.0-or-later
# SSH access, guest names, statistics and idle auto-stop.
libbanger_a_SOURCES += \
	src/util/markblock.c src/util/markblock.h \
	src/drivers/guest.h src/drivers/guest-access.c src/drivers/stats.c \
	src/plan/idle.c src/plan/idle.h \
	src/cli/ssh.c src/cli/ssh.h src/cli/idle.c src/cli/idle.h
