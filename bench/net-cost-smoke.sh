#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# make check: run the network cost benchmark once with N=2 to keep it working.
exec /bin/sh "${top_srcdir:-.}/bench/net-cost.sh" 2
