# SPDX-License-Identifier: GPL-2.0-or-later
# Firecracker hypervisor backend: HTTP client for its API socket and the
# hv_ops implementation.
libbanger_a_SOURCES += \
	src/drivers/fc-http.c src/drivers/fc-http.h \
	src/drivers/hv-firecracker.c src/drivers/hv-firecracker.h
