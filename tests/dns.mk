# SPDX-License-Identifier: GPL-2.0-or-later
# Guest names through the resolvers: glibc on a private /etc/hosts, and a
# dnsmasq of the test's own on 127.0.0.1 of a private network namespace.
EXTRA_DIST += tests/dns/resolve.sh tests/dns/dnsq.py
if ENABLE_TESTS
TESTS += tests/dns/resolve.sh
endif
