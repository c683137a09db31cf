# SPDX-License-Identifier: GPL-2.0-or-later
# Host networking drivers: netlink bridge/taps, nftables NAT.
libbanger_a_SOURCES += \
	src/drivers/net.h src/drivers/nat.h \
	src/drivers/net-common.c src/drivers/nat-common.c \
	src/drivers/net-netlink.c src/drivers/nat-nft.c src/drivers/nat-nl.c
