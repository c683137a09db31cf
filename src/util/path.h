/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lexical path handling.  Leaf module.
 */
#pragma once

/*
 * Collapse "//", "/./" and "dir/.." in an absolute path without touching the
 * file system ("/a/b/../c/" -> "/a/c"; ".." at the root stays at the root).
 * A relative path is returned as a plain copy.  Caller frees.
 */
char *path_normalize(const char *p);

#include <stdbool.h>

/* Whether prog can be run: a path (with a '/') that is executable, else a
 * name found executable in a folder of $PATH, as execvp would look. */
bool path_find_executable(const char *prog);
