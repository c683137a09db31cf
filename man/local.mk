# SPDX-License-Identifier: GPL-2.0-or-later
dist_man_MANS += \
	man/banger.8 \
	man/banger-host.5 \
	man/banger-image.5 \
	man/banger-vm.5 \
	man/banger-filesync.5
