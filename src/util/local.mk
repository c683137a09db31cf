# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += \
	src/util/alloc.c src/util/alloc.h \
	src/util/cleanup.h \
	src/util/error.c src/util/error.h \
	src/util/fileio.c src/util/fileio.h \
	src/util/name.c src/util/name.h \
	src/util/path.c src/util/path.h \
	src/util/sha256.c src/util/sha256.h \
	src/util/strv.c src/util/strv.h
