# SPDX-License-Identifier: GPL-2.0-or-later
systemdsystemunit_DATA = contrib/systemd/banger-reconcile.service contrib/systemd/banger-reconcile.timer
EXTRA_DIST += contrib/systemd/banger-reconcile.service.in contrib/systemd/banger-reconcile.timer \
	tests/systemd-verify.sh
CLEANFILES += contrib/systemd/banger-reconcile.service
# "@''sbindir@": written whole, config.status would replace it in this rule
# too (sed 's|/usr/local/sbin|...|' then left the unit's placeholder as it was).
contrib/systemd/banger-reconcile.service: $(top_srcdir)/contrib/systemd/banger-reconcile.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) contrib/systemd && \
	sed 's|@''sbindir@|$(sbindir)|g' $(top_srcdir)/contrib/systemd/banger-reconcile.service.in >$@
if ENABLE_TESTS
TESTS += tests/systemd-verify.sh
endif
AM_DISTCHECK_CONFIGURE_FLAGS = --enable-werror --with-systemdsystemunitdir='$$(dc_install_base)/lib/systemd/system'
