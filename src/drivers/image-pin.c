/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image pin verification with a digest cache.  The cache file is YAML:
 *
 *   version: 1
 *   files:
 *   - path: "/var/lib/banger/images/demo/rootfs"
 *     dev: 2049
 *     ino: 131
 *     size: 104857600
 *     mtime_sec: 1700000000
 *     mtime_nsec: 0
 *     sha256: "..."
 *
 * It is only a cache: an unreadable one is ignored and rebuilt.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "drivers/image-pin.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

#define PINS_MAX_BYTES (4U << 20)
#define PINS_MAX_ENTRIES 4096

struct pin_entry {
	char *path;
	uint64_t dev, ino, size;
	int64_t mtime_sec, mtime_nsec;
	char sha256[SHA256_HEX_SIZE];
};

struct image_pins {
	char *file;
	struct pin_entry *e;
	size_t n;
	bool dirty;
	unsigned hashed;
};

static bool
is_hex64(const char *s)
{
	return s && strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static const char *
scalar(yaml_document_t *doc, yaml_node_t *n)
{
	(void)doc;
	if (!n || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static bool
parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	*ret = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool
parse_i64(const char *s, int64_t *ret)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*ret = strtoll(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static void
load_entry(struct image_pins *p, yaml_document_t *doc, yaml_node_t *m)
{
	struct pin_entry t = { 0 }, *e;
	const char *path = NULL;
	bool ok = true, have[7] = { false };

	if (m->type != YAML_MAPPING_NODE)
		return;
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start; pr < m->data.mapping.pairs.top;
	     pr++) {
		const char *k = scalar(doc, yaml_document_get_node(doc, pr->key));
		const char *v = scalar(doc, yaml_document_get_node(doc, pr->value));

		if (!k || !v)
			return;
		if (strcmp(k, "path") == 0)
			have[0] = v[0] == '/';
		else if (strcmp(k, "dev") == 0)
			ok &= have[1] = parse_u64(v, &t.dev);
		else if (strcmp(k, "ino") == 0)
			ok &= have[2] = parse_u64(v, &t.ino);
		else if (strcmp(k, "size") == 0)
			ok &= have[3] = parse_u64(v, &t.size);
		else if (strcmp(k, "mtime_sec") == 0)
			ok &= have[4] = parse_i64(v, &t.mtime_sec);
		else if (strcmp(k, "mtime_nsec") == 0)
			ok &= have[5] = parse_i64(v, &t.mtime_nsec);
		else if (strcmp(k, "sha256") == 0 && is_hex64(v)) {
			memcpy(t.sha256, v, SHA256_HEX_SIZE);
			have[6] = true;
		}
		if (strcmp(k, "path") == 0 && have[0])
			path = v;
	}
	for (size_t i = 0; i < ELEMENTSOF(have); i++)
		ok &= have[i];
	if (!ok || p->n >= PINS_MAX_ENTRIES)
		return;
	p->e = xappend(p->e, &p->n, sizeof(*p->e), (void **)&e);
	*e = t;
	e->path = xstrdup(path);
}

static void
load(struct image_pins *p)
{
	_cleanup_free_ char *data = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_node_t *root;
	size_t len = 0;

	if (read_file(p->file, PINS_MAX_BYTES, &data, &len) < 0)
		return;
	if (!yaml_parser_initialize(&parser))
		return;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_parser_delete(&parser);
		return;
	}
	root = yaml_document_get_root_node(&doc);
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top; pr++) {
			const char *k = scalar(&doc, yaml_document_get_node(&doc, pr->key));
			yaml_node_t *v = yaml_document_get_node(&doc, pr->value);

			if (!k || strcmp(k, "files") != 0 || !v || v->type != YAML_SEQUENCE_NODE)
				continue;
			for (yaml_node_item_t *it = v->data.sequence.items.start;
			     it < v->data.sequence.items.top; it++) {
				yaml_node_t *m = yaml_document_get_node(&doc, *it);

				if (m)
					load_entry(p, &doc, m);
			}
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

int
image_pins_open(const char *status_dir, struct image_pins **ret, struct error **err)
{
	struct image_pins *p;

	if (!status_dir || status_dir[0] != '/')
		return error_set(err, -EINVAL, "status directory '%s' is not absolute",
				 status_dir ? status_dir : "");
	p = xcalloc(1, sizeof(*p));
	p->file = xasprintf("%s/%s", status_dir, IMAGE_PINS_FILE);
	load(p);
	*ret = p;
	return 0;
}

struct image_pins *
image_pins_free(struct image_pins *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n; i++)
		free(p->e[i].path);
	free(p->e);
	free(p->file);
	free(p);
	return NULL;
}

int
image_pins_digest(struct image_pins *p, const char *path, char out[SHA256_HEX_SIZE],
		  struct error **err)
{
	struct stat st, st2;
	struct pin_entry *e = NULL;
	char hex[SHA256_HEX_SIZE];
	int r;

	if (stat(path, &st) < 0)
		return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return error_set(err, -EINVAL, "'%s' is not a regular file", path);
	for (size_t i = 0; i < p->n; i++) {
		struct pin_entry *c = &p->e[i];

		if (c->dev == (uint64_t)st.st_dev && c->ino == (uint64_t)st.st_ino &&
		    c->size == (uint64_t)st.st_size && c->mtime_sec == st.st_mtim.tv_sec &&
		    c->mtime_nsec == st.st_mtim.tv_nsec) {
			memcpy(out, c->sha256, SHA256_HEX_SIZE);
			return 0;
		}
	}
	r = sha256_hex_file(path, hex);
	if (r < 0)
		return error_set(err, r, "hash '%s': %s", path, strerror(-r));
	p->hashed++;
	/* Cache only when the file did not change while it was read. */
	if (stat(path, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_size == st.st_size &&
	    st2.st_mtim.tv_sec == st.st_mtim.tv_sec && st2.st_mtim.tv_nsec == st.st_mtim.tv_nsec) {
		for (size_t i = 0; i < p->n; i++)
			if (strcmp(p->e[i].path, path) == 0)
				e = &p->e[i];
		if (!e && p->n < PINS_MAX_ENTRIES) {
			p->e = xappend(p->e, &p->n, sizeof(*p->e), (void **)&e);
			e->path = xstrdup(path);
		}
		if (e) {
			e->dev = (uint64_t)st.st_dev;
			e->ino = (uint64_t)st.st_ino;
			e->size = (uint64_t)st.st_size;
			e->mtime_sec = st.st_mtim.tv_sec;
			e->mtime_nsec = st.st_mtim.tv_nsec;
			memcpy(e->sha256, hex, SHA256_HEX_SIZE);
			p->dirty = true;
		}
	}
	memcpy(out, hex, SHA256_HEX_SIZE);
	return 0;
}

int
image_pins_verify(struct image_pins *p, const char *path, const char *expected,
		  struct error **err)
{
	char hex[SHA256_HEX_SIZE];
	int r;

	if (!is_hex64(expected))
		return error_set(err, -EINVAL, "pin for '%s' is not 64 lower-case hex digits", path);
	r = image_pins_digest(p, path, hex, err);
	if (r < 0)
		return r;
	if (strcmp(hex, expected) != 0)
		return error_set(err, -EBADMSG, "'%s': sha256 mismatch: expected %s, found %s", path,
				 expected, hex);
	return 0;
}

int
image_pins_check_image(struct image_pins *p, const struct image_spec *img, struct error **err)
{
	const char *files[3] = { img->kernel, img->rootfs, img->initrd };
	const char *pins[3] = { img->sha256_kernel, img->sha256_rootfs, img->sha256_initrd };
	static const char *const what[3] = { "kernel", "rootfs", "initrd" };
	struct stat st;
	int r;

	for (size_t i = 0; i < 3; i++) {
		if (!files[i]) {
			if (i < 2)
				return error_set(err, -EINVAL, "image '%s': no %s", img->name, what[i]);
			continue;
		}
		if (access(files[i], R_OK) < 0 || stat(files[i], &st) < 0)
			return error_set(err, -errno, "image '%s': %s '%s': %s", img->name, what[i],
					 files[i], strerror(errno));
		if (!S_ISREG(st.st_mode))
			return error_set(err, -EINVAL, "image '%s': %s '%s' is not a regular file",
					 img->name, what[i], files[i]);
		if (pins[i][0] == '\0')
			continue;
		r = image_pins_verify(p, files[i], pins[i], err);
		if (r < 0)
			return error_prefix(err, "image '%s': %s", img->name, what[i]);
	}
	return 0;
}

static void
append_quoted(char **buf, size_t *len, const char *s)
{
	size_t cap = strlen(s) * 4 + 3;
	char *out = xmalloc(cap), *q = out;

	*q++ = '"';
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\') {
			*q++ = '\\';
			*q++ = (char)*c;
		} else if (*c < 0x20 || *c == 0x7f) {
			static const char hx[] = "0123456789abcdef";

			*q++ = '\\';
			*q++ = 'x';
			*q++ = hx[*c >> 4];
			*q++ = hx[*c & 15];
		} else {
			*q++ = (char)*c;
		}
	}
	*q++ = '"';
	*buf = xrealloc(*buf, *len + (size_t)(q - out) + 1);
	memcpy(*buf + *len, out, (size_t)(q - out));
	*len += (size_t)(q - out);
	(*buf)[*len] = '\0';
	free(out);
}

static void
append_str(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);

	*buf = xrealloc(*buf, *len + n + 1);
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

int
image_pins_save(struct image_pins *p, struct error **err)
{
	_cleanup_free_ char *buf = NULL, *dir = NULL;
	size_t len = 0;
	char *slash;
	int r;

	if (!p->dirty)
		return 0;
	append_str(&buf, &len,
		   "# banger image pin cache: sha256 by (dev, ino, size, mtime); safe to delete\n"
		   "version: 1\nfiles:\n");
	for (size_t i = 0; i < p->n; i++) {
		_cleanup_free_ char *rest = NULL;
		const struct pin_entry *e = &p->e[i];

		append_str(&buf, &len, "- path: ");
		append_quoted(&buf, &len, e->path);
		rest = xasprintf("\n  dev: %" PRIu64 "\n  ino: %" PRIu64 "\n  size: %" PRIu64
				 "\n  mtime_sec: %" PRId64 "\n  mtime_nsec: %" PRId64
				 "\n  sha256: \"%s\"\n",
				 e->dev, e->ino, e->size, e->mtime_sec, e->mtime_nsec, e->sha256);
		append_str(&buf, &len, rest);
	}
	dir = xstrdup(p->file);
	slash = strrchr(dir, '/');
	*slash = '\0';
	r = mkdir_p(dir, 0755);
	if (r < 0)
		return error_set(err, r, "create '%s': %s", dir, strerror(-r));
	r = write_file_atomic(p->file, buf, len, 0644);
	if (r < 0)
		return error_set(err, r, "write '%s': %s", p->file, strerror(-r));
	p->dirty = false;
	return 0;
}

unsigned
image_pins_hashed(const struct image_pins *p)
{
	return p->hashed;
}
