/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One declaration file's keys and values, checked and turned into the model:
 * host.yaml, images/, vms/, filesyncs/.  The rules are listed in spec.h.
 * Every problem becomes one diagnostic naming what was found and what was
 * expected; checking goes on after a problem so that all are reported.  No
 * host access.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "spec/spec-internal.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/path.h"
#include "util/strv.h"

struct vctx {
	struct diag_list *d;
	const char *file;
	bool bad;
};

static void __attribute__((format(printf, 3, 4)))
vdiag(struct vctx *c, const struct ynode *n, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	diag_add(c->d, c->file, n ? n->line : 1, n ? n->col : 1, "%s", msg);
	c->bad = true;
}

/* "key: found <what n is>, expected <expected>" */
static void
found(struct vctx *c, const char *key, const struct ynode *n, const char *expected)
{
	_cleanup_free_ char *what = ynode_describe(n);

	vdiag(c, n, "%s: found %s, expected %s", key, what, expected);
}

/* "key: found '<value>', expected <expected>" for a value of the right type. */
static void
found_value(struct vctx *c, const char *key, const struct ynode *n, const char *expected)
{
	_cleanup_free_ char *q = quote_for_msg(n->value, n->len);

	vdiag(c, n, "%s: found %s, expected %s", key, q, expected);
}

static char *
join_key(const char *prefix, const char *key)
{
	return prefix && *prefix ? xasprintf("%s.%s", prefix, key) : xstrdup(key);
}

/* The closest allowed key, when it is close enough to be a likely typo. */
static const char *
suggest(const char *key, const char *const *allowed)
{
	const char *best = NULL;
	unsigned best_d = 100;

	for (size_t i = 0; allowed[i]; i++) {
		unsigned dist = edit_distance(key, allowed[i]);

		if (strcasecmp(key, allowed[i]) == 0)
			dist = 0;
		if (dist < best_d) {
			best_d = dist;
			best = allowed[i];
		}
	}
	if (!best)
		return NULL;
	if (best_d <= 1 || (best_d <= 2 && strlen(key) >= 4) ||
	    (best_d <= 3 && strlen(key) >= 8))
		return best;
	return NULL;
}

/* Unknown keys, each with a suggestion or the list of what is allowed. */
static void
check_keys(struct vctx *c, const struct ynode *map, const char *prefix,
	   const char *const *allowed)
{
	for (size_t i = 0; i < map->n; i++) {
		const struct ynode *k = map->keys[i];
		_cleanup_free_ char *q = NULL, *list = NULL;
		const char *s;
		bool ok = false;

		for (size_t j = 0; allowed[j]; j++)
			if (strcmp(k->value, allowed[j]) == 0 && strlen(k->value) == k->len)
				ok = true;
		if (ok)
			continue;
		if (k->type == YS_MERGE) {
			vdiag(c, k, "found merge key '<<', expected plain keys (merge keys are not "
				    "supported)");
			continue;
		}
		q = quote_for_msg(k->value, k->len);
		s = suggest(k->value, allowed);
		if (s) {
			if (prefix && *prefix)
				vdiag(c, k, "%s: found unknown key %s, did you mean '%s'?", prefix, q,
				      s);
			else
				vdiag(c, k, "found unknown key %s, did you mean '%s'?", q, s);
			continue;
		}
		list = xstrdup("");
		for (size_t j = 0; allowed[j]; j++) {
			char *t = xasprintf("%s%s%s", list, j ? ", " : "", allowed[j]);

			free(list);
			list = t;
		}
		if (prefix && *prefix)
			vdiag(c, k, "%s: found unknown key %s, expected one of: %s", prefix, q, list);
		else
			vdiag(c, k, "found unknown key %s, expected one of: %s", q, list);
	}
}

static void
missing(struct vctx *c, const struct ynode *map, const char *prefix, const char *key,
	const char *what)
{
	_cleanup_free_ char *k = join_key(prefix, key);

	vdiag(c, map, "found no key '%s', expected %s", k, what);
}

/* A mapping value, or NULL after a diagnostic. */
static const struct ynode *
want_map(struct vctx *c, const char *key, const struct ynode *n)
{
	if (n->kind == YNODE_MAP)
		return n;
	found(c, key, n, "a mapping of keys");
	return NULL;
}

static const struct ynode *
want_seq(struct vctx *c, const char *key, const struct ynode *n)
{
	if (n->kind == YNODE_SEQ)
		return n;
	found(c, key, n, "a list");
	return NULL;
}

static bool
is_str(const struct ynode *n)
{
	return n->kind == YNODE_SCALAR && n->type == YS_STR;
}

/* A string without NUL bytes; false after a diagnostic. */
static bool
want_str(struct vctx *c, const char *key, const struct ynode *n, const char *expected)
{
	if (!is_str(n)) {
		found(c, key, n, expected);
		return false;
	}
	if (strlen(n->value) != n->len) {
		vdiag(c, n, "%s: found a string with a NUL character, expected %s", key, expected);
		return false;
	}
	return true;
}

/*
 * Kernel arguments: printable ASCII, at most KERNEL_ARGS_MAX bytes, so that
 * an image's and a VM's together with banger's own (about 250 bytes) fit
 * the kernel's 2048-byte command line.  *ret set when valid.
 */
static bool
want_kernel_args(struct vctx *c, const char *key, const struct ynode *n, char **ret)
{
	static const char expected[] = "a string of kernel arguments";

	if (!want_str(c, key, n, expected))
		return false;
	for (size_t i = 0; i < n->len; i++)
		if ((unsigned char)n->value[i] < 0x20 || (unsigned char)n->value[i] > 0x7e) {
			vdiag(c, n, "%s: found byte 0x%02x at offset %zu, expected printable ASCII "
			      "(kernel arguments are separated by spaces)",
			      key, (unsigned char)n->value[i], i);
			return false;
		}
	if (n->len > KERNEL_ARGS_MAX) {
		vdiag(c, n, "%s: found %zu bytes, expected at most %d (the kernel's command line "
		      "holds 2048, banger's own arguments included)",
		      key, n->len, KERNEL_ARGS_MAX);
		return false;
	}
	*ret = xstrdup(n->value);
	return true;
}

static bool
want_nonempty_str(struct vctx *c, const char *key, const struct ynode *n, const char *expected)
{
	if (!want_str(c, key, n, expected))
		return false;
	if (n->len == 0) {
		vdiag(c, n, "%s: found an empty string, expected %s", key, expected);
		return false;
	}
	return true;
}

static bool
want_int(struct vctx *c, const char *key, const struct ynode *n, int64_t min, int64_t max,
	 int64_t *ret)
{
	_cleanup_free_ char *expected = xasprintf("an integer from %lld to %lld", (long long)min,
						  (long long)max);
	int64_t v;

	if (n->kind != YNODE_SCALAR || n->type != YS_INT) {
		found(c, key, n, expected);
		return false;
	}
	if (yscalar_int(n->value, &v) < 0 || v < min || v > max) {
		vdiag(c, n, "%s: found %s, expected %s", key, n->value, expected);
		return false;
	}
	*ret = v;
	return true;
}

static bool
want_bool(struct vctx *c, const char *key, const struct ynode *n, bool *ret)
{
	if (n->kind != YNODE_SCALAR || n->type != YS_BOOL) {
		found(c, key, n, "a boolean (true or false)");
		return false;
	}
	*ret = strchr("yYtToO", n->value[0]) && strcasecmp(n->value, "off") != 0;
	return true;
}

static char *
enum_list(const char *const *names, size_t n)
{
	char *s = xstrdup("");

	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s'%s'", s, i == 0 ? "" : i + 1 == n ? " or " : ", ",
				    names[i]);

		free(s);
		s = t;
	}
	return s;
}

/* One of names[]; the index, or -1 after a diagnostic. */
static int
want_enum(struct vctx *c, const char *key, const struct ynode *n, const char *const *names,
	  size_t count)
{
	_cleanup_free_ char *list = enum_list(names, count);

	if (!want_str(c, key, n, list))
		return -1;
	for (size_t i = 0; i < count; i++)
		if (strcmp(n->value, names[i]) == 0)
			return (int)i;
	found_value(c, key, n, list);
	return -1;
}

/* A size from min to max; range is what the message expects (NULL: "a size
 * from MIN to MAX"). */
static bool
want_size_range(struct vctx *c, const char *key, const struct ynode *n, uint64_t min,
		uint64_t max, const char *range, uint64_t *ret)
{
	_cleanup_free_ char *lo = spec_format_size(min), *hi = spec_format_size(max);
	_cleanup_free_ char *expected = range ? xstrdup(range)
					      : xasprintf("a size from %s to %s", lo, hi);
	uint64_t v;

	if (n->kind == YNODE_SCALAR && n->type == YS_INT) {
		int64_t i;

		if (yscalar_int(n->value, &i) < 0 || i < 0 || (uint64_t)i < min ||
		    (uint64_t)i > max) {
			vdiag(c, n, "%s: found %s, expected %s", key, n->value, expected);
			return false;
		}
		*ret = (uint64_t)i;
		return true;
	}
	if (!is_str(n)) {
		_cleanup_free_ char *e = xasprintf("%s (bytes, or a number with K, M or G such as '512M')",
						   expected);

		found(c, key, n, e);
		return false;
	}
	switch (spec_parse_size(n->value, &v)) {
	case 0:
		break;
	case -ERANGE:
		found_value(c, key, n, expected);
		return false;
	default: {
		_cleanup_free_ char *e = xasprintf("a size such as '512M' or '8G' (digits with an optional K, M or G)");

		found_value(c, key, n, e);
		return false;
	}
	}
	if (v < min || v > max) {
		found_value(c, key, n, expected);
		return false;
	}
	*ret = v;
	return true;
}

static bool
want_size(struct vctx *c, const char *key, const struct ynode *n, uint64_t min, uint64_t max,
	  uint64_t *ret)
{
	return want_size_range(c, key, n, min, max, NULL, ret);
}

/* A work disk's size: 0 (none), or from 1M (the smallest ext4 image made). */
static bool
want_work_size(struct vctx *c, const char *key, const struct ynode *n, uint64_t *ret)
{
	_cleanup_free_ char *hi = spec_format_size(SIZE_MAX_DISK);
	_cleanup_free_ char *e = xasprintf("0 (no work disk) or a size from 1M to %s", hi);
	uint64_t v = 0;

	if (!want_size_range(c, key, n, 0, SIZE_MAX_DISK, e, &v))
		return false;
	if (v != 0 && v < WORK_DISK_MIN) {
		found_value(c, key, n, e);
		return false;
	}
	*ret = v;
	return true;
}

static bool
ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 15)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || !strchr("_.-", ch)))
			return false;
	}
	return true;
}

static bool
want_ifname(struct vctx *c, const char *key, const struct ynode *n, char **ret)
{
	static const char expected[] =
		"an interface name of 1 to 15 letters, digits, '_', '.' or '-' starting with a letter or digit";

	if (!want_str(c, key, n, expected))
		return false;
	if (!ifname_ok(n->value)) {
		found_value(c, key, n, expected);
		return false;
	}
	*ret = xstrdup(n->value);
	return true;
}

static bool
want_ipv4(struct vctx *c, const char *key, const struct ynode *n, const char *example,
	  uint32_t *ret)
{
	_cleanup_free_ char *expected = xasprintf("an IPv4 address such as '%s'", example);

	if (!want_str(c, key, n, expected))
		return false;
	if (ipv4_parse(n->value, ret) < 0) {
		found_value(c, key, n, expected);
		return false;
	}
	return true;
}

static bool
check_version(struct vctx *c, const struct ynode *root)
{
	const struct ynode *n = ynode_get(root, "version", NULL);
	int64_t v;

	if (!n)
		return true;
	if (n->kind != YNODE_SCALAR || n->type != YS_INT) {
		found(c, "version", n, "the integer 1");
		return false;
	}
	if (yscalar_int(n->value, &v) < 0 || v != 1) {
		vdiag(c, n, "version: found %s, expected 1", n->value);
		return false;
	}
	return true;
}

/* Parse data; the root mapping, or NULL after a diagnostic. */
static struct ynode *
load_root(struct vctx *c, const char *data, size_t len)
{
	struct ynode *root = ytree_parse(c->file, data, len, c->d);

	if (!root) {
		c->bad = true;
		return NULL;
	}
	if (root->kind != YNODE_MAP) {
		_cleanup_free_ char *what = ynode_describe(root);

		vdiag(c, root, "found %s, expected a mapping of keys", what);
		return ynode_free(root);
	}
	return root;
}

static const char *const hypervisor_names[] = { "firecracker", "qemu" };
static const char *const accel_names[] = { "auto", "kvm", "tcg" };
static const char *const strategy_names[] = { "auto", "dm-snapshot", "reflink", "copy" };
static const char *const state_names[] = { "running", "stopped" };
static const char *const on_delete_names[] = { "retain", "purge" };
static const char *const workspace_mode_names[] = { "full_copy", "shallow", "metadata_only" };

void
host_spec_defaults(struct host_spec *h)
{
	memset(h, 0, sizeof(*h));
	h->bridge_name = xstrdup("banger0");
	h->bridge_addr = 10u << 24 | 77u << 16 | 1;
	h->bridge_prefix = 24;
	h->uplink = xstrdup("auto");
	h->domain = xstrdup("vm");
	h->hypervisor = HYPERVISOR_QEMU;
	h->firecracker_binary = xstrdup("firecracker");
	h->qemu_binary = xstrdup("qemu-system-x86_64");
	h->qemu_accel = QEMU_ACCEL_AUTO;
	h->disk_strategy = DISK_STRATEGY_AUTO;
	h->defaults.vcpus = 1;
	h->defaults.memory = 512ULL << 20;
	h->defaults.system_overlay = 2ULL << 30;
	h->defaults.work_disk = 1ULL << 30;
	h->defaults.nat = false;
}

void
host_spec_done(struct host_spec *h)
{
	free(h->path);
	free(h->bridge_name);
	free(h->uplink);
	free(h->dns);
	free(h->firecracker_binary);
	free(h->qemu_binary);
	free(h->status_dir);
	free(h->domain);
	free(h->source_git);
	free(h->source_branch);
	free(h->source_path);
	memset(h, 0, sizeof(*h));
}

static void
replace_str(char **dst, const char *s)
{
	free(*dst);
	*dst = xstrdup(s);
}

static void
parse_bridge(struct vctx *c, const struct ynode *n, struct host_spec *h)
{
	static const char *const keys[] = { "name", "address", NULL };
	const struct ynode *v;
	char *name = NULL;

	if (!want_map(c, "bridge", n))
		return;
	check_keys(c, n, "bridge", keys);
	if ((v = ynode_get(n, "name", NULL)) && want_ifname(c, "bridge.name", v, &name)) {
		free(h->bridge_name);
		h->bridge_name = name;
	}
	if ((v = ynode_get(n, "address", NULL))) {
		static const char expected[] =
			"an IPv4 address with a prefix length from 8 to 30 such as '10.77.0.1/24'";
		uint32_t a, mask;
		unsigned p;

		if (!want_str(c, "bridge.address", v, expected))
			return;
		if (ipv4_cidr_parse(v->value, &a, &p) < 0 || p < 8 || p > 30) {
			found_value(c, "bridge.address", v, expected);
			return;
		}
		mask = ~0u << (32 - p);
		if ((a & ~mask) == 0 || (a & ~mask) == ~mask) {
			found_value(c, "bridge.address", v,
				    "a host address of its network (not the network or broadcast address) "
				    "such as '10.77.0.1/24'");
			return;
		}
		h->bridge_addr = a;
		h->bridge_prefix = p;
	}
}

static void
parse_defaults(struct vctx *c, const struct ynode *n, struct host_defaults *d)
{
	static const char *const keys[] = { "vcpus", "memory", "system_overlay", "work_disk", "nat",
					    NULL };
	const struct ynode *v;
	int64_t i;

	if (!want_map(c, "defaults", n))
		return;
	check_keys(c, n, "defaults", keys);
	if ((v = ynode_get(n, "vcpus", NULL)) && want_int(c, "defaults.vcpus", v, 1, VCPUS_MAX, &i))
		d->vcpus = (unsigned)i;
	if ((v = ynode_get(n, "memory", NULL)))
		(void)want_size(c, "defaults.memory", v, MEMORY_MIN, MEMORY_MAX, &d->memory);
	if ((v = ynode_get(n, "system_overlay", NULL)))
		(void)want_size(c, "defaults.system_overlay", v, OVERLAY_MIN, SIZE_MAX_DISK,
				&d->system_overlay);
	if ((v = ynode_get(n, "work_disk", NULL)))
		(void)want_work_size(c, "defaults.work_disk", v, &d->work_disk);
	if ((v = ynode_get(n, "nat", NULL)))
		(void)want_bool(c, "defaults.nat", v, &d->nat);
}

/* A branch name banger accepts: git's rules, narrowed to a safe alphabet. */
static bool
branch_name_ok(const char *b)
{
	size_t n = strlen(b);

	if (n == 0 || n > 200 || b[0] == '-' || b[0] == '/' || b[n - 1] == '/' || b[n - 1] == '.' ||
	    strstr(b, "..") || strstr(b, "//") || strstr(b, "@{") ||
	    (n >= 5 && strcmp(b + n - 5, ".lock") == 0))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)b[i]) && !strchr("._-/", b[i]))
			return false;
	return true;
}

/* A relative folder inside the repository, without "." or ".." parts. */
static bool
repo_path_ok(const char *p)
{
	const char *s = p;

	if (!*p || *p == '/')
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/')
			s++;
	}
	return p[strlen(p) - 1] != '/';
}

static void
parse_source(struct vctx *c, const struct ynode *n, struct host_spec *h)
{
	static const char *const keys[] = { "git", "branch", "path", NULL };
	const struct ynode *v;

	if (!want_map(c, "source", n))
		return;
	check_keys(c, n, "source", keys);
	v = ynode_get(n, "git", NULL);
	if (!v)
		missing(c, n, "source", "git", "the repository's URL or path");
	else if (want_nonempty_str(c, "source.git", v,
				   "a repository URL (file://, https://, ssh://) or absolute path")) {
		if (v->value[0] != '/' && !strstr(v->value, "://") && !strchr(v->value, '@'))
			found_value(c, "source.git", v,
				    "a repository URL (file://, https://, ssh://) or absolute path");
		else
			replace_str(&h->source_git, v->value);
	}
	if ((v = ynode_get(n, "branch", NULL)) &&
	    want_nonempty_str(c, "source.branch", v, "a branch name such as 'main'")) {
		if (!branch_name_ok(v->value))
			found_value(c, "source.branch", v, "a branch name such as 'main'");
		else
			replace_str(&h->source_branch, v->value);
	}
	if ((v = ynode_get(n, "path", NULL)) &&
	    want_nonempty_str(c, "source.path", v, "a folder inside the repository")) {
		if (!repo_path_ok(v->value))
			found_value(c, "source.path", v,
				    "a relative folder inside the repository, without '..'");
		else
			replace_str(&h->source_path, v->value);
	}
}

bool
spec_parse_host(struct kind_ctx *k, const char *path, const char *data, size_t len,
		struct host_spec *h)
{
	static const char *const keys[] = { "version",	   "bridge",	"uplink", "dns",
					    "hypervisor",  "firecracker", "qemu",	  "disk_strategy",
					    "status_dir",  "defaults",	"source",	  "domain",
					    NULL };
	struct vctx c = { .d = k->d, .file = path };
	_cleanup_(ynode_freep) struct ynode *root = NULL;
	const struct ynode *v;
	int e;

	root = load_root(&c, data, len);
	if (!root)
		return false;
	check_keys(&c, root, NULL, keys);
	(void)check_version(&c, root);
	if ((v = ynode_get(root, "bridge", NULL)))
		parse_bridge(&c, v, h);
	if ((v = ynode_get(root, "uplink", NULL))) {
		char *s = NULL;

		if (is_str(v) && strcmp(v->value, "auto") == 0)
			replace_str(&h->uplink, "auto");
		else if (want_str(&c, "uplink", v, "'auto' or an interface name")) {
			if (want_ifname(&c, "uplink", v, &s)) {
				free(h->uplink);
				h->uplink = s;
			}
		}
	}
	if ((v = ynode_get(root, "dns", NULL)) && want_seq(&c, "dns", v)) {
		h->dns = xcalloc(v->n ? v->n : 1, sizeof(*h->dns));
		for (size_t i = 0; i < v->n; i++) {
			_cleanup_free_ char *key = xasprintf("dns[%zu]", i);

			if (want_ipv4(&c, key, v->items[i], "1.1.1.1", &h->dns[h->n_dns]))
				h->n_dns++;
		}
	}
	if ((v = ynode_get(root, "hypervisor", NULL)) &&
	    (e = want_enum(&c, "hypervisor", v, hypervisor_names, _HYPERVISOR_MAX)) >= 0)
		h->hypervisor = (enum hypervisor_kind)e;
	if ((v = ynode_get(root, "firecracker", NULL)) && want_map(&c, "firecracker", v)) {
		static const char *const fkeys[] = { "binary", NULL };
		const struct ynode *b;

		check_keys(&c, v, "firecracker", fkeys);
		if ((b = ynode_get(v, "binary", NULL)) &&
		    want_nonempty_str(&c, "firecracker.binary", b, "the path or name of a program"))
			replace_str(&h->firecracker_binary, b->value);
	}
	if ((v = ynode_get(root, "qemu", NULL)) && want_map(&c, "qemu", v)) {
		static const char *const qkeys[] = { "binary", "accel", NULL };
		const struct ynode *b;

		check_keys(&c, v, "qemu", qkeys);
		if ((b = ynode_get(v, "binary", NULL)) &&
		    want_nonempty_str(&c, "qemu.binary", b, "the path or name of a program"))
			replace_str(&h->qemu_binary, b->value);
		if ((b = ynode_get(v, "accel", NULL)) &&
		    (e = want_enum(&c, "qemu.accel", b, accel_names, _QEMU_ACCEL_MAX)) >= 0)
			h->qemu_accel = (enum qemu_accel)e;
	}
	if ((v = ynode_get(root, "disk_strategy", NULL)) &&
	    (e = want_enum(&c, "disk_strategy", v, strategy_names, _DISK_STRATEGY_MAX)) >= 0)
		h->disk_strategy = (enum disk_strategy)e;
	if ((v = ynode_get(root, "status_dir", NULL)) &&
	    want_nonempty_str(&c, "status_dir", v, "an absolute path")) {
		if (v->value[0] != '/')
			found_value(&c, "status_dir", v, "an absolute path");
		else
			replace_str(&h->status_dir, v->value);
	}
	if ((v = ynode_get(root, "domain", NULL))) {
		static const char expected[] =
			"a DNS name (DNS labels joined by '.', at most 253 characters)";

		if (want_nonempty_str(&c, "domain", v, expected)) {
			if (spec_domain_ok(v->value))
				replace_str(&h->domain, v->value);
			else
				found_value(&c, "domain", v, expected);
		}
	}
	if ((v = ynode_get(root, "defaults", NULL)))
		parse_defaults(&c, v, &h->defaults);
	if ((v = ynode_get(root, "source", NULL)))
		parse_source(&c, v, h);
	return !c.bad;
}

void
image_spec_done(struct image_spec *i)
{
	free(i->name);
	free(i->path);
	free(i->kernel);
	free(i->rootfs);
	free(i->initrd);
	free(i->kernel_args);
	memset(i, 0, sizeof(*i));
}

/* An image path, absolute and without "." or ".." parts (status files refuse them). */
static char *
resolve_path(const char *root_abs, const char *p)
{
	_cleanup_free_ char *joined = NULL;

	if (p[0] == '/' || !root_abs)
		return path_normalize(p);
	joined = xasprintf("%s/%s", root_abs, p);
	return path_normalize(joined);
}

static void
want_sha(struct vctx *c, const char *key, const struct ynode *n, char out[65])
{
	static const char expected[] = "64 hexadecimal digits (a SHA-256 digest)";

	if (!want_str(c, key, n, expected))
		return;
	if (n->len != 64 || strspn(n->value, "0123456789abcdefABCDEF") != 64) {
		found_value(c, key, n, expected);
		return;
	}
	for (size_t i = 0; i < 64; i++)
		out[i] = (char)(n->value[i] >= 'A' && n->value[i] <= 'F' ? n->value[i] + 32
									   : n->value[i]);
	out[64] = '\0';
}

bool
spec_parse_image(struct kind_ctx *k, const char *name, const char *path, const char *data,
		 size_t len, struct image_spec *img)
{
	static const char *const keys[] = { "version", "kernel", "rootfs", "initrd",
					    "kernel_args", "sha256", NULL };
	static const char expected_path[] =
		"a path (absolute or relative to the state directory)";
	struct vctx c = { .d = k->d, .file = path };
	_cleanup_(ynode_freep) struct ynode *root = NULL;
	const struct ynode *v;

	img->name = xstrdup(name);
	img->path = xstrdup(path);
	root = load_root(&c, data, len);
	if (!root)
		return false;
	check_keys(&c, root, NULL, keys);
	(void)check_version(&c, root);
	if (!(v = ynode_get(root, "kernel", NULL)))
		missing(&c, root, NULL, "kernel", "the path of the kernel to boot");
	else if (want_nonempty_str(&c, "kernel", v, expected_path))
		img->kernel = resolve_path(k->root_abs, v->value);
	if (!(v = ynode_get(root, "rootfs", NULL)))
		missing(&c, root, NULL, "rootfs", "the path of the root file system image");
	else if (want_nonempty_str(&c, "rootfs", v, expected_path))
		img->rootfs = resolve_path(k->root_abs, v->value);
	if ((v = ynode_get(root, "initrd", NULL)) &&
	    want_nonempty_str(&c, "initrd", v, expected_path))
		img->initrd = resolve_path(k->root_abs, v->value);
	if ((v = ynode_get(root, "kernel_args", NULL)))
		(void)want_kernel_args(&c, "kernel_args", v, &img->kernel_args);
	if ((v = ynode_get(root, "sha256", NULL)) && want_map(&c, "sha256", v)) {
		static const char *const skeys[] = { "kernel", "rootfs", "initrd", NULL };
		const struct ynode *s;
		struct ynode *kn = NULL;

		check_keys(&c, v, "sha256", skeys);
		if ((s = ynode_get(v, "kernel", NULL)))
			want_sha(&c, "sha256.kernel", s, img->sha256_kernel);
		if ((s = ynode_get(v, "rootfs", NULL)))
			want_sha(&c, "sha256.rootfs", s, img->sha256_rootfs);
		if ((s = ynode_get(v, "initrd", &kn))) {
			want_sha(&c, "sha256.initrd", s, img->sha256_initrd);
			if (!ynode_get(root, "initrd", NULL))
				vdiag(&c, kn,
				      "sha256.initrd: found a pin for an initrd, expected 'initrd' "
				      "to be declared too");
		}
	}
	return !c.bad;
}

void
vm_spec_done(struct vm_spec *v)
{
	free(v->name);
	free(v->path);
	free(v->image);
	strv_free(v->filesyncs);
	strv_free(v->ssh_authorized_keys);
	free(v->kernel_args);
	free(v->host);
	free(v->workspace.repo);
	free(v->workspace.ref);
	free(v->workspace.path);
	memset(v, 0, sizeof(*v));
}

static void
mark_of(struct spec_mark *m, const char *file, const struct ynode *n)
{
	m->file = file;
	m->line = n->line;
	m->col = n->col;
}

bool
spec_hostname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			     (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || i == n - 1 || !strchr(".-", ch)))
			return false;
	}
	return true;
}

static int
hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool
parse_mac(const char *s, uint8_t mac[6])
{
	if (strlen(s) != 17)
		return false;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return false;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void
parse_network(struct vctx *c, const struct ynode *n, struct vm_work *w)
{
	static const char *const keys[] = { "nat", "ip", "mac", NULL };
	struct vm_spec *vm = &w->vm;
	const struct ynode *v;

	if (!want_map(c, "network", n))
		return;
	check_keys(c, n, "network", keys);
	if ((v = ynode_get(n, "nat", NULL)))
		(void)want_bool(c, "network.nat", v, &vm->nat);
	if ((v = ynode_get(n, "ip", NULL)) && want_ipv4(c, "network.ip", v, "10.77.0.10", &vm->ip)) {
		vm->has_ip = true;
		mark_of(&vm->ip_mark, vm->path, v);
	}
	if ((v = ynode_get(n, "mac", NULL))) {
		/* Read as a number (YAML 1.1 sexagesimal), the value needs quotes. */
		static const char expected[] = "a MAC address string such as '52:54:00:12:34:56'";
		uint8_t mac[6];

		if (!want_str(c, "network.mac", v, "a MAC address string such as "
					       "'52:54:00:12:34:56' (quote it)"))
			return;
		if (!parse_mac(v->value, mac)) {
			found_value(c, "network.mac", v, expected);
			return;
		}
		if (mac[0] & 1) {
			found_value(c, "network.mac", v,
				    "a unicast MAC address (an even first octet) such as "
				    "'52:54:00:12:34:56'");
			return;
		}
		if (!(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5])) {
			found_value(c, "network.mac", v, "a MAC address that is not all zero");
			return;
		}
		memcpy(vm->mac, mac, 6);
		vm->has_mac = true;
		mark_of(&vm->mac_mark, vm->path, v);
	}
}

static void
parse_disks(struct vctx *c, const struct ynode *n, struct vm_spec *vm)
{
	static const char *const keys[] = { "system_overlay", "work", NULL };
	const struct ynode *v;

	if (!want_map(c, "disks", n))
		return;
	check_keys(c, n, "disks", keys);
	if ((v = ynode_get(n, "system_overlay", NULL)))
		(void)want_size(c, "disks.system_overlay", v, OVERLAY_MIN, SIZE_MAX_DISK,
				&vm->system_overlay);
	if ((v = ynode_get(n, "work", NULL)))
		(void)want_work_size(c, "disks.work", v, &vm->work_disk);
}

static void
parse_vm_filesyncs(struct vctx *c, const struct ynode *n, struct vm_work *w)
{
	static const char expected[] = "the name of a file sync (a DNS label: filesyncs/NAME.yaml)";
	struct vm_spec *vm = &w->vm;
	size_t count = 0;

	if (!want_seq(c, "filesyncs", n))
		return;
	w->filesync_marks = xcalloc(n->n ? n->n : 1, sizeof(*w->filesync_marks));
	w->filesync_items = xcalloc(n->n ? n->n : 1, sizeof(*w->filesync_items));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];
		_cleanup_free_ char *key = xasprintf("filesyncs[%zu]", i);

		if (!want_str(c, key, it, expected))
			continue;
		if (!name_is_dns_label(it->value)) {
			found_value(c, key, it, expected);
			continue;
		}
		if (strv_contains(vm->filesyncs, it->value)) {
			found_value(c, key, it, "each file sync listed once");
			continue;
		}
		vm->filesyncs = strv_append(vm->filesyncs, it->value);
		w->filesync_items[count] = i;
		mark_of(&w->filesync_marks[count++], vm->path, it);
	}
}

/* A repository's last path component without ".git": the default folder; NULL when unusable. */
static char *
repo_folder(const char *repo)
{
	size_t n = strlen(repo), start;

	while (n > 0 && repo[n - 1] == '/')
		n--;
	start = n;
	while (start > 0 && repo[start - 1] != '/' && repo[start - 1] != ':')
		start--;
	if (n - start > 4 && strncmp(repo + n - 4, ".git", 4) == 0)
		n -= 4;
	if (n == start || (n - start == 1 && repo[start] == '.') ||
	    (n - start == 2 && repo[start] == '.' && repo[start + 1] == '.'))
		return NULL;
	for (size_t i = start; i < n; i++)
		if ((unsigned char)repo[i] < 0x20 || repo[i] == 0x7f)
			return NULL;
	return xasprintf("/root/%.*s", (int)(n - start), repo + start);
}

/* No control character (a newline would split the work disk's list of
 * synced paths, one per line). */
static bool
no_controls(const char *p)
{
	for (const unsigned char *c = (const unsigned char *)p; *c; c++)
		if (*c < 0x20 || *c == 0x7f)
			return false;
	return true;
}

/* Whether p is /banger or under it: banger's own folder on the work disk
 * (its list of synced paths, the ssh keys), never a guest path's. */
static bool
in_banger_dir(const char *p)
{
	return strncmp(p, "/banger", 7) == 0 && (p[7] == '\0' || p[7] == '/');
}

/* Whether a relative path names the folder it is relative to ("", ".",
 * "./", ".//."): every component empty or ".". */
static bool
names_top(const char *p)
{
	for (; *p; p++)
		if (*p != '/' && !(*p == '.' && (p[1] == '/' || p[1] == '\0')))
			return false;
	return true;
}

/* A guest folder: absolute, no '.', '..' or empty component, no trailing '/'. */
static bool
guest_dir_ok(const char *p)
{
	const char *s = p + 1;

	if (p[0] != '/' || !*s || !no_controls(p))
		return false;
	while (*s) {
		size_t n = strcspn(s, "/");

		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		s += n;
		if (*s == '/' && !*++s)
			return false;
	}
	return true;
}

static void
parse_workspace(struct vctx *c, const struct ynode *n, struct vm_spec *vm)
{
	static const char *const keys[] = { "repo", "ref", "path", "mode", NULL };
	static const char repo_expected[] =
		"a git repository: an absolute path or a URL (file://, https://, ssh://)";
	static const char ref_expected[] =
		"a branch, tag or commit id such as 'main' (quote a commit id made of digits)";
	static const char path_expected[] =
		"an absolute guest folder or '~/...' without '.' or '..' components or "
		"control characters, other than '/' and '/root', outside /banger";
	struct vm_workspace *ws = &vm->workspace;
	_cleanup_free_ char *repo = NULL, *ref = NULL, *path = NULL;
	const struct ynode *v;
	bool ok = true;
	int e;

	if (!want_map(c, "workspace", n))
		return;
	check_keys(c, n, "workspace", keys);
	if (!(v = ynode_get(n, "repo", NULL))) {
		missing(c, n, "workspace", "repo", "the repository's path or URL");
		ok = false;
	} else if (!want_nonempty_str(c, "workspace.repo", v, repo_expected)) {
		ok = false;
	} else if (v->value[0] != '/' && !strstr(v->value, "://") && !strchr(v->value, '@')) {
		found_value(c, "workspace.repo", v, repo_expected);
		ok = false;
	} else {
		repo = xstrdup(v->value);
	}
	if ((v = ynode_get(n, "ref", NULL))) {
		if (!want_nonempty_str(c, "workspace.ref", v, ref_expected))
			ok = false;
		else if (!branch_name_ok(v->value)) {
			found_value(c, "workspace.ref", v, ref_expected);
			ok = false;
		} else
			ref = xstrdup(v->value);
	}
	if ((v = ynode_get(n, "path", NULL))) {
		_cleanup_free_ char *norm = NULL;

		if (!want_str(c, "workspace.path", v, path_expected)) {
			ok = false;
		} else {
			if (strncmp(v->value, "~/", 2) == 0)
				norm = xasprintf("/root/%s", v->value + 2);
			else
				norm = xstrdup(v->value);
			if (!guest_dir_ok(norm) || strcmp(norm, "/root") == 0 ||
			    in_banger_dir(norm)) {
				found_value(c, "workspace.path", v, path_expected);
				ok = false;
			} else {
				path = TAKE_PTR(norm);
				mark_of(&ws->path_mark, vm->path, v);
			}
		}
	} else if (repo && !(path = repo_folder(repo))) {
		_cleanup_free_ char *q = NULL;

		v = ynode_get(n, "repo", NULL);
		q = quote_for_msg(v->value, v->len);
		vdiag(c, v,
		      "workspace.repo: found %s with no usable last component, expected "
		      "'workspace.path' to be declared",
		      q);
		ok = false;
	}
	if ((v = ynode_get(n, "mode", NULL))) {
		e = want_enum(c, "workspace.mode", v, workspace_mode_names, _WORKSPACE_MODE_MAX);
		if (e < 0)
			ok = false;
		else
			ws->mode = (enum workspace_mode)e;
	}
	if (!ok)
		return;
	ws->repo = TAKE_PTR(repo);
	ws->ref = TAKE_PTR(ref);
	ws->path = TAKE_PTR(path);
	mark_of(&ws->mark, vm->path, n);
	if (!ws->path_mark.file)
		ws->path_mark = ws->mark;
}

bool
spec_parse_vm(struct kind_ctx *k, const char *name, const char *path, const char *data,
	      size_t len, struct vm_work *w)
{
	static const char *const keys[] = { "version",	  "image",     "state",
					    "vcpus",	  "memory",    "hypervisor",
					    "disks",	  "network",   "filesyncs",
					    "ssh_authorized_keys", "kernel_args", "on_delete",
					    "host",	  "workspace", "idle_stop_after",
					    NULL };
	struct vctx c = { .d = k->d, .file = path };
	_cleanup_(ynode_freep) struct ynode *root = NULL;
	struct vm_spec *vm = &w->vm;
	const struct ynode *v;
	int64_t i;
	int e;

	vm->name = xstrdup(name);
	vm->path = xstrdup(path);
	vm->state = VM_STATE_RUNNING;
	vm->vcpus = k->host->defaults.vcpus;
	vm->memory = k->host->defaults.memory;
	vm->hypervisor = k->host->hypervisor;
	vm->system_overlay = k->host->defaults.system_overlay;
	vm->work_disk = k->host->defaults.work_disk;
	vm->nat = k->host->defaults.nat;
	vm->on_delete = ON_DELETE_RETAIN;

	root = load_root(&c, data, len);
	if (!root)
		return false;
	check_keys(&c, root, NULL, keys);
	(void)check_version(&c, root);
	if (!(v = ynode_get(root, "image", NULL)))
		missing(&c, root, NULL, "image", "the name of the image this vm boots");
	else if (want_str(&c, "image", v, "the name of an image (a DNS label: images/NAME.yaml)")) {
		if (!name_is_dns_label(v->value))
			found_value(&c, "image", v,
				    "the name of an image (a DNS label: images/NAME.yaml)");
		else {
			vm->image = xstrdup(v->value);
			mark_of(&vm->image_mark, vm->path, v);
		}
	}
	if ((v = ynode_get(root, "state", NULL)) &&
	    (e = want_enum(&c, "state", v, state_names, _VM_STATE_MAX)) >= 0)
		vm->state = (enum vm_state)e;
	if ((v = ynode_get(root, "vcpus", NULL)) && want_int(&c, "vcpus", v, 1, VCPUS_MAX, &i))
		vm->vcpus = (unsigned)i;
	if ((v = ynode_get(root, "memory", NULL)))
		(void)want_size(&c, "memory", v, MEMORY_MIN, MEMORY_MAX, &vm->memory);
	if ((v = ynode_get(root, "hypervisor", NULL)) &&
	    (e = want_enum(&c, "hypervisor", v, hypervisor_names, _HYPERVISOR_MAX)) >= 0)
		vm->hypervisor = (enum hypervisor_kind)e;
	if ((v = ynode_get(root, "disks", NULL)))
		parse_disks(&c, v, vm);
	if ((v = ynode_get(root, "network", NULL)))
		parse_network(&c, v, w);
	if ((v = ynode_get(root, "filesyncs", NULL)))
		parse_vm_filesyncs(&c, v, w);
	if ((v = ynode_get(root, "ssh_authorized_keys", NULL)) &&
	    want_seq(&c, "ssh_authorized_keys", v)) {
		static const char expected[] = "an SSH public key on one line";

		for (size_t j = 0; j < v->n; j++) {
			const struct ynode *it = v->items[j];
			_cleanup_free_ char *key = xasprintf("ssh_authorized_keys[%zu]", j);

			if (!want_nonempty_str(&c, key, it, expected))
				continue;
			if (strpbrk(it->value, "\r\n")) {
				vdiag(&c, it, "%s: found a string with a line break, expected %s", key,
				      expected);
				continue;
			}
			vm->ssh_authorized_keys = strv_append(vm->ssh_authorized_keys, it->value);
		}
	}
	if ((v = ynode_get(root, "kernel_args", NULL)))
		(void)want_kernel_args(&c, "kernel_args", v, &vm->kernel_args);
	if ((v = ynode_get(root, "on_delete", NULL)) &&
	    (e = want_enum(&c, "on_delete", v, on_delete_names, _ON_DELETE_MAX)) >= 0)
		vm->on_delete = (enum on_delete)e;
	if ((v = ynode_get(root, "host", NULL))) {
		static const char expected[] =
			"a host name (letters, digits, '.' and '-', at most 253 characters)";

		if (want_str(&c, "host", v, expected)) {
			if (spec_hostname_ok(v->value))
				vm->host = xstrdup(v->value);
			else
				found_value(&c, "host", v, expected);
		}
	}
	if ((v = ynode_get(root, "idle_stop_after", NULL))) {
		static const char expected[] =
			"a duration from 10s to 720h (digits and s, m or h: '30m')";
		uint64_t secs;

		if (want_str(&c, "idle_stop_after", v, expected)) {
			if (spec_parse_duration(v->value, &secs) < 0 || secs < IDLE_STOP_MIN ||
			    secs > IDLE_STOP_MAX)
				found_value(&c, "idle_stop_after", v, expected);
			else
				vm->idle_stop_after = secs;
		}
	}
	if ((v = ynode_get(root, "workspace", NULL))) {
		parse_workspace(&c, v, vm);
		if (vm->workspace.repo && vm->work_disk == 0)
			vdiag(&c, v,
			      "workspace: found a workspace on a vm without a work disk, expected "
			      "disks.work to be above 0");
	}
	/* File syncs and keys are copied to the work disk: without one they
	 * would be dropped without a word. */
	if ((v = ynode_get(root, "filesyncs", NULL)) && vm->filesyncs && vm->filesyncs[0] &&
	    vm->work_disk == 0)
		vdiag(&c, v,
		      "filesyncs: found file syncs on a vm without a work disk, expected "
		      "disks.work to be above 0 (the copies are written to the work disk)");
	if ((v = ynode_get(root, "ssh_authorized_keys", NULL)) && vm->ssh_authorized_keys &&
	    vm->ssh_authorized_keys[0] && vm->work_disk == 0)
		vdiag(&c, v,
		      "ssh_authorized_keys: found keys on a vm without a work disk, expected "
		      "disks.work to be above 0 (the keys are written to the work disk)");
	return !c.bad;
}

void
filesync_spec_done(struct filesync_spec *f)
{
	for (size_t i = 0; i < f->n_entries; i++) {
		free(f->entries[i].host);
		free(f->entries[i].guest);
	}
	free(f->entries);
	free(f->name);
	free(f->path);
	memset(f, 0, sizeof(*f));
}

static bool
has_dotdot(const char *p)
{
	for (const char *s = p; (s = strstr(s, "..")); s += 2)
		if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
			return true;
	return false;
}

static void
parse_entry(struct vctx *c, const struct ynode *n, size_t idx, struct filesync_spec *f,
	    bool from_git)
{
	static const char *const keys[] = { "host", "guest", "mode", NULL };
	static const char guest_expected[] =
		"an absolute guest path or '~/...' without '..' components or control "
		"characters, outside /banger";
	_cleanup_free_ char *prefix = xasprintf("entries[%zu]", idx);
	_cleanup_free_ char *host = NULL, *guest = NULL;
	const struct ynode *v;
	struct filesync_entry *e;
	int mode = -1;
	bool ok = true;

	if (!want_map(c, prefix, n))
		return;
	check_keys(c, n, prefix, keys);
	if (!(v = ynode_get(n, "host", NULL))) {
		missing(c, n, prefix, "host", "the host path to copy from");
		ok = false;
	} else {
		_cleanup_free_ char *key = join_key(prefix, "host");

		if (!want_nonempty_str(c, key, v,
				       "a host path (absolute, '~/...' or relative to the state directory)"))
			ok = false;
		else if (from_git && v->value[0] != '/' && v->value[0] != '~' &&
			 (has_dotdot(v->value) || names_top(v->value))) {
			found_value(c, key, v,
				    "a path inside the repository, without '..', other than its top "
				    "(a relative path of a git source names a file or folder of its "
				    "commit)");
			ok = false;
		} else
			host = xstrdup(v->value);
	}
	if (!(v = ynode_get(n, "guest", NULL))) {
		missing(c, n, prefix, "guest", "the guest path to copy to");
		ok = false;
	} else {
		_cleanup_free_ char *key = join_key(prefix, "guest");

		if (!want_str(c, key, v, guest_expected))
			ok = false;
		else if ((v->value[0] != '/' && strncmp(v->value, "~/", 2) != 0) ||
			 has_dotdot(v->value) || !no_controls(v->value) || in_banger_dir(v->value)) {
			found_value(c, key, v, guest_expected);
			ok = false;
		} else if (v->value[0] == '~')
			guest = xasprintf("/root%s", v->value + 1);
		else
			guest = xstrdup(v->value);
	}
	if ((v = ynode_get(n, "mode", NULL))) {
		/* Read as a number (0644 unquoted), the value needs quotes. */
		static const char expected[] = "an octal string such as '0644'";
		_cleanup_free_ char *key = join_key(prefix, "mode");

		if (!want_str(c, key, v, "an octal string such as '0644' (quote it)"))
			ok = false;
		else if ((v->len != 3 && v->len != 4) || strspn(v->value, "01234567") != v->len) {
			found_value(c, key, v, expected);
			ok = false;
		} else
			mode = (int)strtol(v->value, NULL, 8);
	}
	if (!ok)
		return;
	f->entries = xappend(f->entries, &f->n_entries, sizeof(*f->entries), (void **)&e);
	e->host = TAKE_PTR(host);
	e->guest = TAKE_PTR(guest);
	e->mode = mode;
	mark_of(&e->mark, f->path, n);
}

bool
spec_parse_filesync(struct kind_ctx *k, const char *name, const char *path, const char *data,
		    size_t len, struct filesync_spec *f)
{
	static const char *const keys[] = { "version", "entries", NULL };
	struct vctx c = { .d = k->d, .file = path };
	_cleanup_(ynode_freep) struct ynode *root = NULL;
	const struct ynode *v;

	f->name = xstrdup(name);
	f->path = xstrdup(path);
	root = load_root(&c, data, len);
	if (!root)
		return false;
	check_keys(&c, root, NULL, keys);
	(void)check_version(&c, root);
	if (!(v = ynode_get(root, "entries", NULL)))
		missing(&c, root, NULL, "entries", "a list of {host, guest, mode} entries");
	else if (want_seq(&c, "entries", v)) {
		if (v->n == 0)
			vdiag(&c, v, "entries: found an empty list, expected at least one entry");
		for (size_t i = 0; i < v->n; i++)
			parse_entry(&c, v->items[i], i, f, k->from_git);
	}
	return !c.bad;
}
