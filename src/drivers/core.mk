# SPDX-License-Identifier: GPL-2.0-or-later
# The ops contract (headers), the helpers they declare, the real proc ops,
# helper programs run by the drivers.
libbanger_a_SOURCES += \
	src/drivers/net.h src/drivers/nat.h src/drivers/disk.h \
	src/drivers/hv.h src/drivers/proc.h \
	src/drivers/host-ops.h \
	src/drivers/proc-sys.c src/drivers/proc-sys.h \
	src/drivers/spawn-tied.c src/drivers/spawn-tied.h \
	src/drivers/hv-dispatch.c src/drivers/hv-dispatch.h
