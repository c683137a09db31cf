# SPDX-License-Identifier: GPL-2.0-or-later
# Workspaces (issue 10): a git commit materialised into a VM's work disk.
libbanger_a_SOURCES += src/source/workspace.h src/source/workspace.c
