/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A strict YAML reader for declarations: libyaml events into a small tree of
 * scalars, lists and mappings, each node carrying its position.  Refuses what
 * a declaration never needs and what hostile input abuses: anchors and
 * aliases, tags, several documents, duplicate keys, non-scalar keys, deep
 * nesting, non-UTF-8 text.  Plain scalars are typed the way YAML 1.1 (and
 * PyYAML's implicit resolvers) type them, so the C validator and a JSON Schema
 * validator fed by PyYAML see the same values.  Internal to spec/.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/cleanup.h"

/* Maximum nesting of lists and mappings in one file. */
#define YTREE_MAX_DEPTH 64

enum ynode_kind {
	YNODE_SCALAR,
	YNODE_SEQ,
	YNODE_MAP,
};

/* YAML 1.1 core types of a scalar. */
enum yscalar_type {
	YS_NULL,
	YS_BOOL,
	YS_INT,
	YS_FLOAT,
	YS_TIMESTAMP,
	YS_MERGE,
	YS_STR,
};

struct ynode {
	enum ynode_kind kind;
	unsigned line, col; /* 1-based */
	/* YNODE_SCALAR */
	char *value;	/* NUL-terminated; may hold an embedded NUL (see len) */
	size_t len;
	enum yscalar_type type;
	bool quoted;
	/* YNODE_SEQ: items; YNODE_MAP: keys[i] (scalars) -> items[i] */
	struct ynode **items;
	struct ynode **keys;
	size_t n, cap;
};

/*
 * The diagnostics of one load, appended in any order, sorted at the end.
 * More than DIAG_MAX_RUN in a row for one file are cut to one summary line,
 * so that a hostile file cannot flood the output.
 */
#define DIAG_MAX_RUN 100
struct diag_list {
	struct spec_diag *v;
	size_t n, cap;
	size_t run; /* diagnostics in a row for v[n - 1].file */
};

void diag_add(struct diag_list *d, const char *file, unsigned line, unsigned col, const char *fmt,
	      ...) __attribute__((format(printf, 5, 6)));

/*
 * Parse data (len bytes) as one YAML document.  Returns the root node, or
 * NULL after adding a diagnostic (syntax error, refused construct) for file.
 * An empty file (no document) gives NULL with a diagnostic too.
 */
struct ynode *ytree_parse(const char *file, const char *data, size_t len, struct diag_list *d);

struct ynode *ynode_free(struct ynode *n);
DEFINE_CLEANUP_FUNC(struct ynode, ynode_free)

/* The value for key in a mapping, or NULL (key_ret: the key node). */
struct ynode *ynode_get(const struct ynode *map, const char *key, struct ynode **key_ret);

/* Classify a plain scalar like PyYAML's implicit resolvers. */
enum yscalar_type yscalar_resolve(const char *s);

/*
 * The value of a YS_INT scalar (PyYAML's rules: '_' ignored, 0b, 0x,
 * leading-0 octal, sexagesimal a:b).  -ERANGE when it does not fit.
 */
int yscalar_int(const char *s, int64_t *ret);

/* "an integer (0644)", "a string 'x'", "a mapping"...: for "found X" messages. */
char *ynode_describe(const struct ynode *n);

/* s quoted for a message: single quotes, control bytes escaped, long ones cut. */
char *quote_for_msg(const char *s, size_t len);
