/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A strict YAML reader for declarations (see yaml-tree.h).  Uses libyaml's
 * event API only; never touches the host.
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "spec/yaml-tree.h"
#include "util/alloc.h"
#include "util/cleanup.h"

void
diag_add(struct diag_list *d, const char *file, unsigned line, unsigned col, const char *fmt, ...)
{
	struct spec_diag *e;
	va_list ap;

	if (d->n > 0 && strcmp(d->v[d->n - 1].file, file) == 0)
		d->run++;
	else
		d->run = 1;
	if (d->run > DIAG_MAX_RUN + 1)
		return;
	/* Geometric growth: a hostile file can produce many thousands. */
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->v = xrealloc(d->v, d->cap * sizeof(*d->v));
	}
	e = &d->v[d->n++];
	memset(e, 0, sizeof(*e));
	e->file = xstrdup(file);
	e->line = line ? line : 1;
	e->col = col ? col : 1;
	if (d->run == DIAG_MAX_RUN + 1) {
		e->msg = xasprintf("found more than %d problems in this file, not reporting the rest",
				   DIAG_MAX_RUN);
		return;
	}
	va_start(ap, fmt);
	e->msg = xvasprintf(fmt, ap);
	va_end(ap);
}

struct ynode *
ynode_free(struct ynode *n)
{
	if (!n)
		return NULL;
	for (size_t i = 0; i < n->n; i++) {
		if (n->items)
			ynode_free(n->items[i]);
		if (n->keys)
			ynode_free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->value);
	free(n);
	return NULL;
}

struct ynode *
ynode_get(const struct ynode *map, const char *key, struct ynode **key_ret)
{
	if (!map || map->kind != YNODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->value, key) == 0) {
			if (key_ret)
				*key_ret = map->keys[i];
			return map->items[i];
		}
	return NULL;
}

/*
 * PyYAML's implicit resolvers (yaml/resolver.py), as POSIX extended regular
 * expressions.  Python's '$' also matches before a final newline, which a
 * plain scalar never has.
 */
#define RE_INT                                                                               \
	"^([-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"          \
	"|[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+)$"
#define RE_FLOAT                                                                             \
	"^([-+]?([0-9][0-9_]*)\\.[0-9_]*([eE][-+][0-9]+)?|\\.[0-9][0-9_]*([eE][-+][0-9]+)?"   \
	"|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(inf|Inf|INF)|\\.(nan|NaN|NAN))$"
#define RE_TIMESTAMP                                                                         \
	"^([0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"                                       \
	"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?([Tt]|[ \t]+)[0-9][0-9]?"              \
	":[0-9][0-9]:[0-9][0-9](\\.[0-9]*)?([ \t]*(Z|[-+][0-9][0-9]?(:[0-9][0-9])?))?)$"

/*
 * The compiled resolver expressions, made once per process on first use
 * and kept (compiling them cost more than parsing a small file: a state
 * directory of a thousand VMs compiled them two thousand times).
 */
struct resolver {
	regex_t re_int, re_float, re_ts;
};

static const struct resolver *
resolver_get(void)
{
	static struct resolver r;
	static bool ready;

	if (ready)
		return &r;
	if (regcomp(&r.re_int, RE_INT, REG_EXTENDED | REG_NOSUB) != 0 ||
	    regcomp(&r.re_float, RE_FLOAT, REG_EXTENDED | REG_NOSUB) != 0 ||
	    regcomp(&r.re_ts, RE_TIMESTAMP, REG_EXTENDED | REG_NOSUB) != 0)
		abort(); /* constant expressions: only out of memory can fail */
	ready = true;
	return &r;
}

static enum yscalar_type
resolve(const struct resolver *r, const char *s)
{
	static const char *const bools[] = {
		"yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false",
		"False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
	};
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	for (size_t i = 0; i < ELEMENTSOF(bools); i++)
		if (strcmp(s, bools[i]) == 0)
			return YS_BOOL;
	for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
		if (strcmp(s, nulls[i]) == 0)
			return YS_NULL;
	if (strcmp(s, "<<") == 0)
		return YS_MERGE;
	/* Every numeric or date form starts with one of these. */
	if (!strchr("-+.0123456789", s[0]))
		return YS_STR;
	if (regexec(&r->re_float, s, 0, NULL, 0) == 0)
		return YS_FLOAT;
	if (regexec(&r->re_int, s, 0, NULL, 0) == 0)
		return YS_INT;
	if (regexec(&r->re_ts, s, 0, NULL, 0) == 0)
		return YS_TIMESTAMP;
	return YS_STR;
}

enum yscalar_type
yscalar_resolve(const char *s)
{
	return resolve(resolver_get(), s);
}

static int
digits_value(const char *s, unsigned base, int64_t *ret)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (d >= base)
			return -EINVAL;
		if (v > (UINT64_C(1) << 62) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*ret = (int64_t)v;
	return 0;
}

int
yscalar_int(const char *s, int64_t *ret)
{
	_cleanup_free_ char *buf = xmalloc(strlen(s) + 1);
	char *p = buf;
	bool neg = false;
	int64_t v = 0;
	int r = 0;

	for (const char *q = s; *q; q++)
		if (*q != '_')
			*p++ = *q;
	*p = '\0';
	p = buf;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (strcmp(p, "0") == 0)
		v = 0;
	else if (strncmp(p, "0b", 2) == 0)
		r = digits_value(p + 2, 2, &v);
	else if (strncmp(p, "0x", 2) == 0)
		r = digits_value(p + 2, 16, &v);
	else if (p[0] == '0')
		r = digits_value(p + 1, 8, &v);
	else if (strchr(p, ':')) {
		char *save = NULL;

		for (char *part = strtok_r(p, ":", &save); part && r >= 0;
		     part = strtok_r(NULL, ":", &save)) {
			int64_t d = 0;

			r = digits_value(part, 10, &d);
			if (v > (INT64_C(1) << 55))
				r = -ERANGE;
			v = v * 60 + d;
		}
	} else
		r = digits_value(p, 10, &v);
	if (r < 0)
		return r;
	*ret = neg ? -v : v;
	return 0;
}

char *
quote_for_msg(const char *s, size_t len)
{
	size_t cap = len * 4 + 8, o = 0, shown = 0;
	char *out = xmalloc(cap + 8);

	out[o++] = '\'';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* Cut long values, but never inside a UTF-8 sequence. */
		if (shown >= 40 && (ch & 0xc0) != 0x80) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if ((ch & 0xc0) != 0x80)
			shown++;
		if (ch == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else if (ch == '\t') {
			out[o++] = '\\';
			out[o++] = 't';
		} else if (ch < 0x20 || ch == 0x7f) {
			static const char hex[] = "0123456789abcdef";

			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		} else
			out[o++] = (char)ch;
	}
	out[o++] = '\'';
	out[o] = '\0';
	return out;
}

char *
ynode_describe(const struct ynode *n)
{
	_cleanup_free_ char *q = NULL;

	if (!n)
		return xstrdup("nothing");
	switch (n->kind) {
	case YNODE_SEQ:
		return xstrdup("a list");
	case YNODE_MAP:
		return xstrdup("a mapping");
	case YNODE_SCALAR:
		break;
	}
	switch (n->type) {
	case YS_NULL:
		return xstrdup("null");
	case YS_BOOL:
		return xasprintf("a boolean (%s)", n->value);
	case YS_INT:
		return xasprintf("an integer (%s)", n->value);
	case YS_FLOAT:
		return xasprintf("a number (%s)", n->value);
	case YS_TIMESTAMP:
		return xasprintf("a date (%s)", n->value);
	case YS_MERGE:
		return xstrdup("a merge key (<<)");
	case YS_STR:
		break;
	}
	q = quote_for_msg(n->value, n->len);
	return xasprintf("a string %s", q);
}

struct ctx {
	yaml_parser_t parser;
	const char *file;
	const char *data;
	size_t len;
	struct diag_list *d;
	const struct resolver *resolver;
	bool failed; /* a diagnostic was given: the tree must not be used */
	bool fatal;  /* stop reading events */
};

/* Line and column (1-based, in characters) of a byte offset. */
static void
offset_position(const char *data, size_t len, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	for (size_t i = 0; i < off && i < len; i++) {
		unsigned char ch = (unsigned char)data[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80)
			c++;
	}
	*line = l;
	*col = c;
}

/* Whether the character at line and column (1-based, columns in characters)
 * of data is a tab: what libyaml reports as one that cannot start a token. */
static bool
tab_at(const char *data, size_t len, unsigned line, unsigned col)
{
	size_t i = 0;

	for (unsigned l = 1; l < line && i < len; i++)
		if (data[i] == '\n')
			l++;
	for (unsigned c = 1; c < col && i < len; c++) {
		if (data[i] == '\n')
			return false;
		/* One character: its lead byte and continuation bytes. */
		for (i++; i < len && ((unsigned char)data[i] & 0xc0) == 0x80; i++)
			;
	}
	return i < len && data[i] == '\t';
}

static bool
next_event(struct ctx *c, yaml_event_t *ev)
{
	unsigned line, col;
	const char *hint = "";

	if (yaml_parser_parse(&c->parser, ev))
		return true;
	if (c->parser.error == YAML_READER_ERROR)
		offset_position(c->data, c->len, c->parser.problem_offset, &line, &col);
	else {
		line = (unsigned)c->parser.problem_mark.line + 1;
		col = (unsigned)c->parser.problem_mark.column + 1;
	}
	if (c->parser.error == YAML_SCANNER_ERROR && c->parser.problem &&
	    !strstr(c->parser.problem, "tab") && tab_at(c->data, c->len, line, col))
		hint = "; that is a tab, and YAML indents with spaces only";
	if (c->parser.context)
		diag_add(c->d, c->file, line, col,
			 "YAML syntax error: %s (%s at line %u, column %u)%s",
			 c->parser.problem ? c->parser.problem : "unknown problem",
			 c->parser.context, (unsigned)c->parser.context_mark.line + 1,
			 (unsigned)c->parser.context_mark.column + 1, hint);
	else
		diag_add(c->d, c->file, line, col, "YAML syntax error: %s%s",
			 c->parser.problem ? c->parser.problem : "unknown problem", hint);
	c->failed = c->fatal = true;
	return false;
}

/* "found <what> <arg>, expected plain values (<why>)" */
static void
refuse(struct ctx *c, const yaml_mark_t *m, const char *what, const char *arg, const char *why)
{
	_cleanup_free_ char *q = quote_for_msg(arg, strlen(arg));

	diag_add(c->d, c->file, (unsigned)m->line + 1, (unsigned)m->column + 1,
		 "found %s %s, expected plain values (%s)", what, q, why);
	c->failed = true;
}

static void
check_anchor_tag(struct ctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
		 const yaml_char_t *tag)
{
	if (anchor)
		refuse(c, &ev->start_mark, "anchor", (const char *)anchor,
		       "anchors and aliases are not supported");
	if (tag)
		refuse(c, &ev->start_mark, "tag", (const char *)tag, "tags are not supported");
}

static struct ynode *
node_new(enum ynode_kind kind, const yaml_event_t *ev)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (unsigned)ev->start_mark.line + 1;
	n->col = (unsigned)ev->start_mark.column + 1;
	return n;
}

struct key_ref {
	const struct ynode *key;
	size_t index;
};

static int
cmp_key_ref(const void *a, const void *b)
{
	const struct key_ref *x = a, *y = b;
	int r = strcmp(x->key->value, y->key->value);

	if (r)
		return r;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Duplicate keys, in O(n log n) so that a hostile file cannot stall us. */
static void
check_duplicates(struct ctx *c, const struct ynode *map)
{
	_cleanup_free_ struct key_ref *refs = NULL;

	if (map->n < 2)
		return;
	refs = xmalloc(map->n * sizeof(*refs));
	for (size_t i = 0; i < map->n; i++)
		refs[i] = (struct key_ref){ map->keys[i], i };
	qsort(refs, map->n, sizeof(*refs), cmp_key_ref);
	for (size_t i = 1; i < map->n; i++)
		if (strcmp(refs[i].key->value, refs[i - 1].key->value) == 0) {
			const struct ynode *k = refs[i].key, *first = refs[i - 1].key;
			_cleanup_free_ char *q = quote_for_msg(k->value, k->len);

			/* refs[i-1] may itself be a repeat; name the first of the run. */
			for (size_t j = i - 1; j > 0 && strcmp(refs[j - 1].key->value, k->value) == 0;
			     j--)
				first = refs[j - 1].key;
			diag_add(c->d, c->file, k->line, k->col,
				 "found duplicate key %s, expected each key once (first at line %u)",
				 q, first->line);
			c->failed = true;
		}
}

static struct ynode *parse_node(struct ctx *c, yaml_event_t *ev, unsigned depth);

static struct ynode *
parse_collection(struct ctx *c, struct ynode *n, bool is_map, unsigned depth)
{
	_cleanup_(ynode_freep) struct ynode *owned = n;

	for (;;) {
		yaml_event_t ev;
		struct ynode *key = NULL, *val;

		if (!next_event(c, &ev))
			return NULL;
		if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (is_map) {
			key = parse_node(c, &ev, depth + 1);
			if (!key)
				return NULL;
			if (key->kind != YNODE_SCALAR) {
				_cleanup_free_ char *what = ynode_describe(key);

				diag_add(c->d, c->file, key->line, key->col,
					 "found %s as a key, expected a string key", what);
				c->failed = true;
				ynode_free(key);
				key = NULL;
			}
			if (!next_event(c, &ev)) {
				ynode_free(key);
				return NULL;
			}
		}
		val = parse_node(c, &ev, depth + 1);
		if (!val) {
			ynode_free(key);
			return NULL;
		}
		if (is_map && !key) {
			ynode_free(val);
			continue;
		}
		if (n->n == n->cap) {
			n->cap = n->cap ? n->cap * 2 : 4;
			n->items = xrealloc(n->items, n->cap * sizeof(*n->items));
			if (is_map)
				n->keys = xrealloc(n->keys, n->cap * sizeof(*n->keys));
		}
		n->items[n->n] = val;
		if (is_map)
			n->keys[n->n] = key;
		n->n++;
	}
	if (is_map)
		check_duplicates(c, n);
	return TAKE_PTR(owned);
}

/* Build the node that starts with *ev (consumed here). */
static struct ynode *
parse_node(struct ctx *c, yaml_event_t *ev, unsigned depth)
{
	struct ynode *n = NULL;

	if (depth > YTREE_MAX_DEPTH) {
		diag_add(c->d, c->file, (unsigned)ev->start_mark.line + 1,
			 (unsigned)ev->start_mark.column + 1,
			 "found nesting deeper than %d levels, expected a shallower document",
			 YTREE_MAX_DEPTH);
		c->failed = c->fatal = true;
		yaml_event_delete(ev);
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		check_anchor_tag(c, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
		n = node_new(YNODE_SCALAR, ev);
		n->len = ev->data.scalar.length;
		n->value = xmalloc(n->len + 1);
		memcpy(n->value, ev->data.scalar.value, n->len);
		n->value[n->len] = '\0';
		n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
		n->type = n->quoted ? YS_STR : resolve(c->resolver, n->value);
		yaml_event_delete(ev);
		return n;
	case YAML_ALIAS_EVENT:
		refuse(c, &ev->start_mark, "alias", (const char *)ev->data.alias.anchor,
		       "anchors and aliases are not supported");
		n = node_new(YNODE_SCALAR, ev);
		n->value = xstrdup("");
		n->type = YS_NULL;
		yaml_event_delete(ev);
		return n;
	case YAML_SEQUENCE_START_EVENT:
		check_anchor_tag(c, ev, ev->data.sequence_start.anchor,
				 ev->data.sequence_start.tag);
		n = node_new(YNODE_SEQ, ev);
		yaml_event_delete(ev);
		return parse_collection(c, n, false, depth);
	case YAML_MAPPING_START_EVENT:
		check_anchor_tag(c, ev, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
		n = node_new(YNODE_MAP, ev);
		yaml_event_delete(ev);
		return parse_collection(c, n, true, depth);
	default:
		/* libyaml only emits node events here. */
		diag_add(c->d, c->file, (unsigned)ev->start_mark.line + 1,
			 (unsigned)ev->start_mark.column + 1, "unexpected YAML event");
		c->failed = c->fatal = true;
		yaml_event_delete(ev);
		return NULL;
	}
}

/* The first invalid UTF-8 sequence, as a byte offset; len when there is none. */
static size_t
utf8_invalid_at(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char ch = s[i];
		size_t need;
		uint32_t cp, min;

		if (ch < 0x80) {
			i++;
			continue;
		} else if ((ch & 0xe0) == 0xc0)
			need = 1, cp = ch & 0x1f, min = 0x80;
		else if ((ch & 0xf0) == 0xe0)
			need = 2, cp = ch & 0x0f, min = 0x800;
		else if ((ch & 0xf8) == 0xf0)
			need = 3, cp = ch & 0x07, min = 0x10000;
		else
			return i;
		for (size_t k = 1; k <= need; k++) {
			if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return len;
}

struct ynode *
ytree_parse(const char *file, const char *data, size_t len, struct diag_list *d)
{
	_cleanup_(ynode_freep) struct ynode *root = NULL;
	struct ctx c = { .file = file, .data = data, .len = len, .d = d };
	size_t bad;
	yaml_event_t ev;
	bool seen_doc = false;

	/* A UTF-8 byte order mark, as some editors save files, is not text. */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
		c.data = data;
		c.len = len;
	}
	bad = utf8_invalid_at((const unsigned char *)data, len);
	if (bad < len) {
		unsigned line, col;

		offset_position(data, len, bad, &line, &col);
		diag_add(d, file, line, col, "found byte 0x%02x that is not valid UTF-8, expected UTF-8 text",
			 (unsigned char)data[bad]);
		return NULL;
	}
	if (!yaml_parser_initialize(&c.parser))
		abort(); /* out of memory */
	c.resolver = resolver_get();
	yaml_parser_set_input_string(&c.parser, (const unsigned char *)data, len);
	yaml_parser_set_encoding(&c.parser, YAML_UTF8_ENCODING);

	while (!c.fatal && next_event(&c, &ev)) {
		yaml_event_type_t t = ev.type;

		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT && seen_doc) {
			diag_add(d, file, (unsigned)ev.start_mark.line + 1,
				 (unsigned)ev.start_mark.column + 1,
				 "found a second YAML document, expected one document per file");
			c.failed = true;
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_DOCUMENT_START_EVENT)
			seen_doc = true;
		if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT ||
		    t == YAML_MAPPING_START_EVENT || t == YAML_ALIAS_EVENT) {
			root = parse_node(&c, &ev, 1);
			continue;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&c.parser);
	if (c.failed)
		return NULL;
	if (!seen_doc || !root) {
		diag_add(d, file, 1, 1, "found an empty file, expected a mapping of keys");
		return NULL;
	}
	return TAKE_PTR(root);
}
