# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += src/source/git.h src/source/source-git.c
