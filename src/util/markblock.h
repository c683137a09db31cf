/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Marked blocks in text files people also edit by hand (~/.ssh/config,
 * /etc/hosts): the lines from a "# BEGIN banger" line to a "# END banger"
 * line belong to banger, everything else is left byte for byte.  Leaf
 * module: pure string work, returns -errno, never logs.
 */
#pragma once

#define MARKBLOCK_BEGIN "# BEGIN banger"
#define MARKBLOCK_END "# END banger"

/*
 * The text with its marked block replaced by begin, body (lines, each ending
 * in '\n', or "" for an empty block) and end; when text has no block, the
 * block is appended at the end (after a '\n' when text does not end in one);
 * body NULL removes the block (its lines only).  A begin line without its end
 * line, a second block, or an end line before any begin line is -EBADMSG:
 * the file was edited in a way banger will not guess at.  Caller frees *ret.
 */
int markblock_replace(const char *text, const char *body, char **ret);
