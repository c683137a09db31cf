# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/spec/spec.h src/spec/spec.c \
	src/spec/spec-internal.h src/spec/spec-kinds.c \
	src/spec/yaml-tree.h src/spec/yaml-tree.c
