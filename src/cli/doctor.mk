# SPDX-License-Identifier: GPL-2.0-or-later
# banger doctor: the checks (cli) and the read-only host probes they use (drivers).
libbanger_a_SOURCES += \
	src/cli/doctor.h src/cli/doctor.c \
	src/drivers/doctor-probe.h src/drivers/doctor-probe.c
