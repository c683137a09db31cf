# SPDX-License-Identifier: GPL-2.0-or-later
libbanger_a_SOURCES += src/source/git.h src/source/git-util.h src/source/source-git.c \
	src/source/git-dl.h src/source/git-dl.c
if ENABLE_TESTS
TESTS += tests/git/gitops.sh tests/git/gitops-files.sh
endif
EXTRA_DIST += tests/git/gitops.sh tests/git/gitops-files.sh
