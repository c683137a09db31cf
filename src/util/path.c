/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Lexical path handling.  Leaf module.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "cleanup.h"
#include "path.h"

char *
path_normalize(const char *p)
{
	size_t n = strlen(p), len = 0;
	char *out;

	if (p[0] != '/')
		return xstrdup(p);
	out = xmalloc(n + 2);
	for (const char *s = p; *s;) {
		size_t k;

		while (*s == '/')
			s++;
		k = strcspn(s, "/");
		if (k == 0 || (k == 1 && s[0] == '.')) {
			s += k;
			continue;
		}
		if (k == 2 && s[0] == '.' && s[1] == '.') {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--; /* the slash before the dropped part */
			s += k;
			continue;
		}
		out[len++] = '/';
		memcpy(out + len, s, k);
		len += k;
		s += k;
	}
	if (len == 0)
		out[len++] = '/';
	out[len] = '\0';
	return out;
}

bool
path_find_executable(const char *prog)
{
	const char *path = getenv("PATH");

	if (!prog || !*prog)
		return false;
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");
		_cleanup_free_ char *full = xasprintf("%.*s/%s", (int)n, n ? p : ".", prog);

		if (access(full, X_OK) == 0)
			return true;
		p += n;
		if (*p == ':')
			p++;
	}
	return false;
}
