/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Marked blocks: find the "# BEGIN banger" ... "# END banger" lines of a
 * text and rebuild the text around a new block.  Compiles with no other
 * src/ header than util's.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/markblock.h"

/* Does the line [p, p+len) equal mark, trailing blanks and '\r' ignored? */
static bool
line_is(const char *p, size_t len, const char *mark)
{
	size_t m = strlen(mark);

	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
		len--;
	return len == m && memcmp(p, mark, m) == 0;
}

int
markblock_replace(const char *text, const char *body, char **ret)
{
	const char *p = text, *begin = NULL, *after = NULL;
	size_t tlen = strlen(text), blen, out_len;
	char *out;

	/* begin: start of the BEGIN line; after: just past the END line. */
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *next = nl ? nl + 1 : p + len;

		if (line_is(p, len, MARKBLOCK_BEGIN)) {
			if (begin)
				return -EBADMSG;
			begin = p;
		} else if (line_is(p, len, MARKBLOCK_END)) {
			if (!begin || after)
				return -EBADMSG;
			after = next;
		}
		p = next;
	}
	if (begin && !after)
		return -EBADMSG;

	blen = body ? strlen(MARKBLOCK_BEGIN) + 1 + strlen(body) + strlen(MARKBLOCK_END) + 1 : 0;
	out_len = tlen + blen + 3;
	out = xmalloc(out_len);
	out[0] = '\0';
	if (begin) {
		strncat(out, text, (size_t)(begin - text));
	} else {
		strcat(out, text);
		if (body && tlen && text[tlen - 1] != '\n')
			strcat(out, "\n");
	}
	if (body) {
		strcat(out, MARKBLOCK_BEGIN "\n");
		strcat(out, body);
		if (body[0] && body[strlen(body) - 1] != '\n')
			strcat(out, "\n");
		strcat(out, MARKBLOCK_END "\n");
	}
	if (after)
		strcat(out, after);
	*ret = out;
	return 0;
}
