# SPDX-License-Identifier: GPL-2.0-or-later
# plan, reconcile, status and the choice of host ops.
libbanger_a_SOURCES += \
	src/cli/core.h src/cli/host-ops.c src/cli/run.c \
	src/cli/cmd-plan.c src/cli/cmd-reconcile.c src/cli/cmd-status.c src/cli/logs.c
