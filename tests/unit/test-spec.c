/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/spec: scalar typing, sizes, enum tables, the corpus in
 * tests/data/spec/{valid,invalid}/, whole states built in memory (defaults,
 * holding, cross-file checks, generations) and hostile input.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spec/spec.h"
#include "spec/yaml-tree.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/sha256.h"
#include "util/strv.h"

static const char *
srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s && *s ? s : ABS_TOP_SRCDIR;
}

/* An in-memory source: pairs of (path, content), NULL-terminated. */
static struct source *
make_source(const char *root, const char *const *files)
{
	struct source *s = xcalloc(1, sizeof(*s));

	s->root = xstrdup(root);
	for (size_t i = 0; files[i]; i += 2) {
		struct source_file *f;

		s->files = xappend(s->files, &s->n_files, sizeof(*s->files), (void **)&f);
		f->path = xstrdup(files[i]);
		f->data = xstrdup(files[i + 1]);
		f->len = strlen(files[i + 1]);
	}
	return s;
}

static struct spec *
load(const char *const *files)
{
	_cleanup_(source_freep) struct source *src = make_source("/state", files);
	struct spec *s = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(spec_load(src, &s, &err), 0);
	ck_assert_ptr_null(err);
	return s;
}

/* All diagnostics, one per line. */
static char *
diags_text(const struct spec *s)
{
	char *out = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&out, &size);

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < s->n_diags; i++) {
		_cleanup_free_ char *l = spec_diag_format(&s->diags[i], NULL);

		fprintf(f, "%s\n", l);
	}
	ck_assert_int_eq(fclose(f), 0);
	return out;
}

START_TEST(test_resolve_like_pyyaml)
{
	/* Expected types produced by PyYAML 6's Resolver for each plain scalar. */
	static const struct {
		const char *s;
		enum yscalar_type t;
	} cases[] = {
		{ "", YS_NULL },	 { "~", YS_NULL },	 { "null", YS_NULL },
		{ "Null", YS_NULL },	 { "NULL", YS_NULL },	 { "nULL", YS_STR },
		{ "yes", YS_BOOL },	 { "Yes", YS_BOOL },	 { "YES", YS_BOOL },
		{ "yEs", YS_STR },	 { "y", YS_STR },	 { "n", YS_STR },
		{ "on", YS_BOOL },	 { "Off", YS_BOOL },	 { "true", YS_BOOL },
		{ "True", YS_BOOL },	 { "tRUE", YS_STR },	 { "0", YS_INT },
		{ "00", YS_INT },	 { "0644", YS_INT },	 { "08", YS_STR },
		{ "0o644", YS_STR },	 { "0x1f", YS_INT },	 { "0x", YS_STR },
		{ "0b101", YS_INT },	 { "-12", YS_INT },	 { "+3", YS_INT },
		{ "1_000", YS_INT },	 { "1:30", YS_INT },	 { "52:54:00:12:34:56", YS_INT },
		{ "52:54:00:ab:cd:ef", YS_STR }, { "1.5", YS_FLOAT }, { ".5", YS_FLOAT },
		{ "-.5", YS_STR },	 { "1e3", YS_STR },	 { "1.0e+3", YS_FLOAT },
		{ "1.", YS_FLOAT },	 { ".inf", YS_FLOAT },	 { "-.Inf", YS_FLOAT },
		{ ".NaN", YS_FLOAT },	 { "+.nan", YS_STR },	 { "2024-01-31", YS_TIMESTAMP },
		{ "2024-1-31", YS_STR }, { "2024-01-31T10:00:00Z", YS_TIMESTAMP },
		{ "2024-01-31 10:00:00", YS_TIMESTAMP }, { "10.77.0.1", YS_STR },
		{ "512M", YS_STR },	 { "<<", YS_MERGE },	 { "abc", YS_STR },
		{ "1:60", YS_STR },	 { "190:20:30.15", YS_FLOAT }, { "0b", YS_STR },
		{ "_1", YS_STR },	 { "1__", YS_INT },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++)
		ck_assert_msg(yscalar_resolve(cases[i].s) == cases[i].t, "'%s': got %d, want %d",
			      cases[i].s, yscalar_resolve(cases[i].s), cases[i].t);
}
END_TEST

START_TEST(test_scalar_int)
{
	static const struct {
		const char *s;
		int64_t v;
	} cases[] = {
		{ "0", 0 },	 { "0644", 420 }, { "0x1f", 31 }, { "0b101", 5 }, { "1:30", 90 },
		{ "-12", -12 },	 { "+7", 7 },	  { "1_000", 1000 }, { "00", 0 },
		{ "52:54:00", 52 * 3600 + 54 * 60 },
	};
	int64_t v = 0;

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		ck_assert_int_eq(yscalar_int(cases[i].s, &v), 0);
		ck_assert_int_eq(v, cases[i].v);
	}
	ck_assert_int_eq(yscalar_int("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(yscalar_int("0b", &v), -EINVAL);
}
END_TEST

START_TEST(test_parse_size)
{
	uint64_t v = 0;

	ck_assert_int_eq(spec_parse_size("8G", &v), 0);
	ck_assert_uint_eq(v, 8ULL << 30);
	ck_assert_int_eq(spec_parse_size("512M", &v), 0);
	ck_assert_uint_eq(v, 512ULL << 20);
	ck_assert_int_eq(spec_parse_size("4K", &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(spec_parse_size("1024", &v), 0);
	ck_assert_uint_eq(v, 1024);
	ck_assert_int_eq(spec_parse_size("0", &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(spec_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size("M", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size("8g", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size("8GB", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size(" 8G", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size(NULL, &v), -EINVAL);
	ck_assert_int_eq(spec_parse_size("99999999999999999999", &v), -ERANGE);
	ck_assert_int_eq(spec_parse_size("17179869184G", &v), -ERANGE);
	ck_assert_uint_eq(v, 0); /* untouched on failure */
}
END_TEST

START_TEST(test_format_size)
{
	static const struct {
		uint64_t v;
		const char *s;
	} cases[] = {
		{ 0, "0" },		{ 1000, "1000" },	  { 4096, "4K" },
		{ 512ULL << 20, "512M" }, { 2ULL << 30, "2G" }, { (1ULL << 30) + (1 << 20), "1025M" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *s = spec_format_size(cases[i].v);

		ck_assert_str_eq(s, cases[i].s);
	}
}
END_TEST

START_TEST(test_enum_tables)
{
	for (int i = 0; i < _HYPERVISOR_MAX; i++)
		ck_assert_int_eq(hypervisor_kind_from_string(hypervisor_kind_to_string(i)), i);
	for (int i = 0; i < _QEMU_ACCEL_MAX; i++)
		ck_assert_int_eq(qemu_accel_from_string(qemu_accel_to_string(i)), i);
	for (int i = 0; i < _DISK_STRATEGY_MAX; i++)
		ck_assert_int_eq(disk_strategy_from_string(disk_strategy_to_string(i)), i);
	for (int i = 0; i < _VM_STATE_MAX; i++)
		ck_assert_int_eq(vm_state_from_string(vm_state_to_string(i)), i);
	for (int i = 0; i < _ON_DELETE_MAX; i++)
		ck_assert_int_eq(on_delete_from_string(on_delete_to_string(i)), i);
	for (int i = 0; i < _SPEC_KIND_MAX; i++)
		ck_assert_int_eq(spec_kind_from_string(spec_kind_to_string(i)), i);
	ck_assert_str_eq(disk_strategy_to_string(DISK_STRATEGY_DM_SNAPSHOT), "dm-snapshot");
	ck_assert_str_eq(spec_kind_to_string(SPEC_KIND_FILESYNC), "filesyncs");
	ck_assert_int_eq(hypervisor_kind_from_string("xen"), -EINVAL);
	ck_assert_int_eq(vm_state_from_string(NULL), -EINVAL);
	ck_assert_int_eq(on_delete_from_string("Retain"), -EINVAL);
	ck_assert_ptr_null(vm_state_to_string(_VM_STATE_MAX));
	ck_assert_ptr_null(qemu_accel_to_string(_QEMU_ACCEL_INVALID));
}
END_TEST

static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names ending in suffix in dir. */
static char **
list_cases(const char *dir, const char *suffix)
{
	DIR *d = opendir(dir);
	char **l = NULL;
	struct dirent *de;

	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), m = strlen(suffix);

		if (n > m && strcmp(de->d_name + n - m, suffix) == 0)
			l = strv_append(l, de->d_name);
	}
	closedir(d);
	if (l)
		qsort(l, strv_length(l), sizeof(char *), cmp_strp);
	return l;
}

static const char *const kinds[] = { "host", "images", "vms", "filesyncs" };

/* Load one corpus file alone, as "<kind>/<case>.yaml". */
static struct spec *
load_case(const char *set, const char *kind, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/tests/data/spec/%s/%s/%s", srcdir(), set, kind,
					      name);
	_cleanup_free_ char *shown = xasprintf("%s/%s", kind, name);
	_cleanup_free_ char *data = NULL;
	struct spec *s = NULL;
	struct error *err = NULL;
	size_t len = 0;

	ck_assert_int_eq(read_file(path, SOURCE_FILE_MAX, &data, &len), 0);
	ck_assert_int_eq(spec_load_file(spec_kind_from_string(kind), shown, data, len, &s, &err),
			 0);
	ck_assert_ptr_null(err);
	return s;
}

START_TEST(test_corpus_valid)
{
	size_t total = 0;

	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		_cleanup_free_ char *dir = xasprintf("%s/tests/data/spec/valid/%s", srcdir(),
						     kinds[k]);
		_cleanup_strv_free_ char **cases = list_cases(dir, ".yaml");

		for (size_t i = 0; cases && cases[i]; i++, total++) {
			_cleanup_(spec_freep) struct spec *s = load_case("valid", kinds[k], cases[i]);
			_cleanup_free_ char *text = diags_text(s);

			ck_assert_msg(s->n_diags == 0, "valid/%s/%s: %s", kinds[k], cases[i], text);
			ck_assert(s->host_valid);
			ck_assert_uint_eq(strv_length(s->held_vms), 0);
			if (strcmp(kinds[k], "vms") == 0) {
				ck_assert_uint_eq(s->n_vms, 1);
				ck_assert_uint_eq(strlen(s->vms[0].generation), 64);
			}
		}
	}
	ck_assert_uint_ge(total, 10);
}
END_TEST

START_TEST(test_corpus_invalid)
{
	size_t total = 0;

	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		_cleanup_free_ char *dir = xasprintf("%s/tests/data/spec/invalid/%s", srcdir(),
						     kinds[k]);
		_cleanup_strv_free_ char **cases = list_cases(dir, ".yaml");

		for (size_t i = 0; cases && cases[i]; i++, total++) {
			_cleanup_(spec_freep) struct spec *s = load_case("invalid", kinds[k], cases[i]);
			_cleanup_free_ char *text = diags_text(s);
			_cleanup_free_ char *exp_path = NULL, *expected = NULL;
			size_t n = strlen(cases[i]);

			exp_path = xasprintf("%s/%.*s.expected", dir, (int)(n - 5), cases[i]);
			ck_assert_msg(read_file(exp_path, 1 << 20, &expected, NULL) == 0,
				      "missing %s", exp_path);
			ck_assert_msg(strcmp(text, expected) == 0,
				      "invalid/%s/%s:\n--- got\n%s--- expected\n%s", kinds[k], cases[i],
				      text, expected);
			ck_assert_uint_ge(s->n_diags, 1);
			if (strcmp(kinds[k], "vms") == 0) {
				ck_assert_uint_eq(s->n_vms, 0);
				ck_assert_uint_eq(strv_length(s->held_vms), 1);
			}
			if (strcmp(kinds[k], "host") == 0)
				ck_assert(!s->host_valid);
			if (strcmp(kinds[k], "images") == 0)
				ck_assert_uint_eq(s->n_images, 0);
			if (strcmp(kinds[k], "filesyncs") == 0)
				ck_assert_uint_eq(s->n_filesyncs, 0);
		}
	}
	ck_assert_uint_ge(total, 40);
}
END_TEST

static const char host_yaml[] = "bridge:\n  name: br-test\n  address: 10.0.5.1/24\n"
				"hypervisor: firecracker\n"
				"defaults:\n  vcpus: 3\n  memory: 1G\n  work_disk: 4G\n  nat: true\n";
static const char image_yaml[] = "kernel: kernels/vmlinux\nrootfs: /srv/rootfs.ext4\n"
				 "kernel_args: quiet\n";
static const char dots_yaml[] = "entries:\n  - host: files/bashrc\n    guest: ~/.bashrc\n"
				"    mode: \"0640\"\n  - host: /etc/hosts\n    guest: /etc/hosts\n";

START_TEST(test_defaults_flow)
{
	const char *const files[] = {
		"filesyncs/dots.yaml", dots_yaml,
		"host.yaml", host_yaml,
		"images/base.yaml", image_yaml,
		"vms/a.yaml", "image: base\nfilesyncs: [dots]\n",
		"vms/b.yaml", "image: base\nvcpus: 2\nmemory: 256M\nhypervisor: qemu\n"
			      "disks: {work: 2G, system_overlay: 3G}\nnetwork: {nat: false, ip: 10.0.5.9}\n"
			      "state: stopped\non_delete: purge\nhost: build-1\n",
		NULL,
	};
	_cleanup_(spec_freep) struct spec *s = load(files);
	_cleanup_free_ char *text = diags_text(s);
	const struct vm_spec *a, *b;
	const struct image_spec *img;
	const struct filesync_spec *f;

	ck_assert_msg(s->n_diags == 0, "%s", text);
	ck_assert(s->host_valid);
	ck_assert_str_eq(s->host.path, "host.yaml");
	ck_assert_str_eq(s->host.bridge_name, "br-test");
	ck_assert_uint_eq(s->host.bridge_addr, 10u << 24 | 5u << 8 | 1);
	ck_assert_str_eq(s->host.uplink, "auto");
	ck_assert_str_eq(s->host.qemu_binary, "qemu-system-x86_64");
	ck_assert_ptr_null(s->host.status_dir);
	ck_assert_uint_eq(s->n_vms, 2);
	a = spec_find_vm(s, "a");
	b = spec_find_vm(s, "b");
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	ck_assert_ptr_null(spec_find_vm(s, "c"));
	ck_assert_uint_eq(a->vcpus, 3);
	ck_assert_uint_eq(a->memory, 1ULL << 30);
	ck_assert_int_eq(a->hypervisor, HYPERVISOR_FIRECRACKER);
	ck_assert_uint_eq(a->work_disk, 4ULL << 30);
	ck_assert_uint_eq(a->system_overlay, 2ULL << 30);
	ck_assert(a->nat);
	ck_assert(!a->has_ip);
	ck_assert_int_eq(a->state, VM_STATE_RUNNING);
	ck_assert_int_eq(a->on_delete, ON_DELETE_RETAIN);
	ck_assert_ptr_null(a->host);
	ck_assert_str_eq(a->filesyncs[0], "dots");
	ck_assert_str_eq(a->path, "vms/a.yaml");
	ck_assert_str_eq(a->image_mark.file, "vms/a.yaml");
	ck_assert_uint_eq(a->image_mark.line, 1);
	ck_assert_uint_eq(a->image_mark.col, 8);
	ck_assert_uint_eq(b->vcpus, 2);
	ck_assert_uint_eq(b->memory, 256ULL << 20);
	ck_assert_int_eq(b->hypervisor, HYPERVISOR_QEMU);
	ck_assert_uint_eq(b->work_disk, 2ULL << 30);
	ck_assert_uint_eq(b->system_overlay, 3ULL << 30);
	ck_assert(!b->nat);
	ck_assert(b->has_ip);
	ck_assert_uint_eq(b->ip, 10u << 24 | 5u << 8 | 9);
	ck_assert_int_eq(b->state, VM_STATE_STOPPED);
	ck_assert_int_eq(b->on_delete, ON_DELETE_PURGE);
	ck_assert_str_eq(b->host, "build-1");
	img = spec_find_image(s, "base");
	ck_assert_ptr_nonnull(img);
	ck_assert_str_eq(img->kernel, "/state/kernels/vmlinux");
	ck_assert_str_eq(img->rootfs, "/srv/rootfs.ext4");
	ck_assert_ptr_null(img->initrd);
	ck_assert_str_eq(img->kernel_args, "quiet");
	ck_assert_str_eq(img->sha256_kernel, "");
	f = spec_find_filesync(s, "dots");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(f->n_entries, 2);
	ck_assert_str_eq(f->entries[0].host, "files/bashrc");
	ck_assert_str_eq(f->entries[0].guest, "/root/.bashrc");
	ck_assert_int_eq(f->entries[0].mode, 0640);
	ck_assert_int_eq(f->entries[1].mode, -1);
	ck_assert_uint_eq(f->entries[1].mark.line, 5);
	ck_assert_ptr_null(spec_find_filesync(s, "nope"));
}
END_TEST

START_TEST(test_no_host_yaml_defaults)
{
	const char *const files[] = { "images/base.yaml", image_yaml, "vms/a.yaml", "image: base\n",
				      NULL };
	_cleanup_(spec_freep) struct spec *s = load(files);

	ck_assert_uint_eq(s->n_diags, 0);
	ck_assert_ptr_null(s->host.path);
	ck_assert_str_eq(s->host.bridge_name, "banger0");
	ck_assert_uint_eq(s->host.bridge_addr, 10u << 24 | 77u << 16 | 1);
	ck_assert_uint_eq(s->host.bridge_prefix, 24);
	ck_assert_int_eq(s->host.hypervisor, HYPERVISOR_QEMU);
	ck_assert_uint_eq(s->vms[0].vcpus, 1);
	ck_assert_uint_eq(s->vms[0].memory, 512ULL << 20);
	ck_assert_uint_eq(s->vms[0].system_overlay, 2ULL << 30);
	ck_assert_uint_eq(s->vms[0].work_disk, 1ULL << 30);
	ck_assert(!s->vms[0].nat);
}
END_TEST

START_TEST(test_broken_host_holds_everything)
{
	const char *const files[] = {
		"host.yaml", "bridge:\n  nmae: x\n",
		"images/base.yaml", image_yaml,
		"vms/a.yaml", "image: base\n",
		"vms/b.yaml", "image: base\n",
		NULL,
	};
	_cleanup_(spec_freep) struct spec *s = load(files);
	_cleanup_free_ char *text = diags_text(s);

	ck_assert_str_eq(text, "host.yaml:2:3: bridge: found unknown key 'nmae', did you mean 'name'?\n");
	ck_assert(!s->host_valid);
	ck_assert_uint_eq(s->n_vms, 0);
	ck_assert_uint_eq(strv_length(s->held_vms), 2);
	ck_assert_str_eq(s->held_vms[0], "a");
	ck_assert_str_eq(s->held_vms[1], "b");
}
END_TEST

START_TEST(test_holding_and_cross_file)
{
	const char *const files[] = {
		"filesyncs/bad.yaml", "entries: []\n",
		"filesyncs/dots.yaml", dots_yaml,
		"host.yaml", host_yaml,
		"images/base.yaml", image_yaml,
		"images/broken.yaml", "kernel: /k\n",
		"misc/notes.yaml", "a: 1\n",
		"vms/Bad_Name.yaml", "image: base\n",
		"vms/dup1.yaml", "image: base\nnetwork:\n  ip: 10.0.5.20\n  mac: \"52:54:00:00:00:01\"\n",
		"vms/dup2.yaml", "image: base\nnetwork:\n  ip: 10.0.5.20\n",
		"vms/dup3.yaml", "image: base\nnetwork:\n  mac: \"52:54:00:00:00:01\"\n",
		"vms/dup4.yaml", "image: base\nnetwork:\n  ip: 10.0.5.30\n",
		"vms/dup5.yaml", "image: base\nnetwork:\n  mac: \"06:00:0a:00:05:1e\"\n",
		"vms/gw.yaml", "image: base\nnetwork: {ip: 10.0.5.1}\n",
		"vms/net.yaml", "image: base\nnetwork: {ip: 10.0.5.0}\n",
		"vms/bcast.yaml", "image: base\nnetwork: {ip: 10.0.5.255}\n",
		"vms/out.yaml", "image: base\nnetwork: {ip: 10.0.6.7}\n",
		"vms/ok.yaml", "image: base\nfilesyncs: [dots]\nnetwork: {ip: 10.0.5.21}\n",
		"vms/uses-broken.yaml", "image: broken\n",
		"vms/uses-missing.yaml", "image: missing\nfilesyncs: [dots, bad, none]\n",
		NULL,
	};
	_cleanup_(spec_freep) struct spec *s = load(files);
	_cleanup_free_ char *text = diags_text(s);
	static const char expected[] =
		"filesyncs/bad.yaml:1:10: entries: found an empty list, expected at least one entry\n"
		"images/broken.yaml:1:1: found no key 'rootfs', expected the path of the root file system image\n"
		"misc/notes.yaml:1:1: found a declaration in unknown folder 'misc', expected images/, vms/ or filesyncs/\n"
		"vms/Bad_Name.yaml:1:1: found file name 'Bad_Name', expected a name that is a DNS label (1 to 63 of a-z, 0-9 and '-', not starting or ending with '-')\n"
		"vms/bcast.yaml:2:15: network.ip: found 10.0.5.255, the broadcast address of 10.0.5.0/24, expected a host address\n"
		"vms/dup1.yaml:3:7: network.ip: found 10.0.5.20, also declared by vm 'dup2' (vms/dup2.yaml:3:7), expected an address unique across vms\n"
		"vms/dup1.yaml:4:8: network.mac: found 52:54:00:00:00:01, also declared by vm 'dup3' (vms/dup3.yaml:3:8), expected a mac unique across vms\n"
		"vms/dup2.yaml:3:7: network.ip: found 10.0.5.20, also declared by vm 'dup1' (vms/dup1.yaml:3:7), expected an address unique across vms\n"
		"vms/dup3.yaml:3:8: network.mac: found 52:54:00:00:00:01, also declared by vm 'dup1' (vms/dup1.yaml:4:8), expected a mac unique across vms\n"
		"vms/dup4.yaml:3:7: network.ip: found 10.0.5.30, whose mac 06:00:0a:00:05:1e vm 'dup5' declares (vms/dup5.yaml:3:8), expected an address whose mac is unique across vms, or a network.mac of its own\n"
		"vms/dup5.yaml:3:8: network.mac: found 06:00:0a:00:05:1e, also the mac of vm 'dup4' (06:00 and its address, vms/dup4.yaml:3:7), expected a mac unique across vms\n"
		"vms/gw.yaml:2:15: network.ip: found 10.0.5.1, the bridge's own address (the gateway), expected another address in 10.0.5.0/24\n"
		"vms/net.yaml:2:15: network.ip: found 10.0.5.0, the network address of 10.0.5.0/24, expected a host address\n"
		"vms/out.yaml:2:15: network.ip: found 10.0.6.7, expected an address inside the bridge network 10.0.5.0/24\n"
		"vms/uses-broken.yaml:1:8: image: found 'broken', whose file images/broken.yaml has errors, expected a valid image (holding this vm)\n"
		"vms/uses-missing.yaml:1:8: image: found 'missing', expected a declared image (there is no images/missing.yaml)\n"
		"vms/uses-missing.yaml:2:19: filesyncs[1]: found 'bad', whose file filesyncs/bad.yaml has errors, expected a valid file sync (holding this vm)\n"
		"vms/uses-missing.yaml:2:24: filesyncs[2]: found 'none', expected a declared file sync (there is no filesyncs/none.yaml)\n";

	ck_assert_str_eq(text, expected);
	ck_assert(s->host_valid);
	ck_assert_uint_eq(s->n_vms, 1);
	ck_assert_str_eq(s->vms[0].name, "ok");
	ck_assert_uint_eq(s->n_images, 1);
	ck_assert_uint_eq(s->n_filesyncs, 1);
	ck_assert_uint_eq(strv_length(s->held_vms), 11);
	{
		static const char *const held[] = { "bcast", "dup1", "dup2", "dup3", "dup4", "dup5", "gw",
						    "net", "out", "uses-broken", "uses-missing" };

		for (size_t i = 0; i < ELEMENTSOF(held); i++)
			ck_assert(strv_contains(s->held_vms, held[i]));
	}
	ck_assert(!strv_contains(s->held_vms, "Bad_Name"));
	ck_assert(!strv_contains(s->held_vms, "ok"));
}
END_TEST

START_TEST(test_read_errors_hold)
{
	_cleanup_(source_freep) struct source *src = NULL;
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_free_ char *text = NULL;
	struct error *err = NULL;
	const char *const files[] = { "images/base.yaml", image_yaml, "vms/big.yaml", "",
				      "vms/link.yaml", "", "vms/ok.yaml", "image: base\n", NULL };

	src = make_source("/state", files);
	free(src->files[1].data);
	src->files[1].data = NULL;
	src->files[1].read_error = -EFBIG;
	free(src->files[2].data);
	src->files[2].data = NULL;
	src->files[2].read_error = -EXDEV;
	ck_assert_int_eq(spec_load(src, &s, &err), 0);
	text = diags_text(s);
	ck_assert_str_eq(text,
			 "vms/big.yaml:1:1: found a file larger than 1 MiB, expected a smaller declaration\n"
			 "vms/link.yaml:1:1: found a symbolic link out of the state directory, expected a file inside it\n");
	ck_assert_uint_eq(s->n_vms, 1);
	ck_assert_str_eq(s->held_vms[0], "big");
	ck_assert_str_eq(s->held_vms[1], "link");
}
END_TEST

static void
gen_of(const char *vm_yaml, const char *img_yaml, char out[65])
{
	const char *const files[] = { "images/base.yaml", img_yaml, "vms/a.yaml", vm_yaml,
				      "filesyncs/x.yaml", dots_yaml, "filesyncs/y.yaml", dots_yaml,
				      NULL };
	_cleanup_(spec_freep) struct spec *s = load(files);
	_cleanup_free_ char *text = diags_text(s);

	ck_assert_msg(s->n_vms == 1, "%s", text);
	memcpy(out, s->vms[0].generation, 65);
}

START_TEST(test_generation)
{
	static const char base[] = "image: base\nvcpus: 2\nfilesyncs: [x, y]\n";
	char g0[65], g[65];

	gen_of(base, image_yaml, g0);
	ck_assert_uint_eq(strlen(g0), 64);
	gen_of(base, image_yaml, g);
	ck_assert_str_eq(g, g0);
	/* No restart needed: same generation. */
	gen_of("image: base\nvcpus: 2\nfilesyncs: [x, y]\nstate: stopped\nnetwork: {nat: true}\n"
	       "ssh_authorized_keys: [k]\non_delete: purge\nhost: h\n",
	       image_yaml, g);
	ck_assert_str_eq(g, g0);
	/* A workspace is re-materialised at the next start, never a restart. */
	gen_of("image: base\nvcpus: 2\nfilesyncs: [x, y]\n"
	       "workspace: {repo: /srv/app, ref: dev, mode: shallow}\n",
	       image_yaml, g);
	ck_assert_str_eq(g, g0);
	/* Defaults that equal the declared value do not change it either. */
	gen_of("image: base\nvcpus: 2\nmemory: 512M\nfilesyncs: [x, y]\n", image_yaml, g);
	ck_assert_str_eq(g, g0);
	/* Restart needed: different generation. */
	static const char *const changed[] = {
		"image: base\nvcpus: 3\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nmemory: 1G\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nhypervisor: firecracker\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\ndisks: {work: 2G}\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\ndisks: {system_overlay: 1G}\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nkernel_args: quiet\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nnetwork: {ip: 10.77.0.5}\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nnetwork: {mac: \"52:54:00:00:00:09\"}\nfilesyncs: [x, y]\n",
		"image: base\nvcpus: 2\nfilesyncs: [y, x]\n",
		"image: base\nvcpus: 2\nfilesyncs: [x]\n",
	};
	for (size_t i = 0; i < ELEMENTSOF(changed); i++) {
		gen_of(changed[i], image_yaml, g);
		ck_assert_msg(strcmp(g, g0) != 0, "case %zu kept the generation", i);
	}
	gen_of(base, "kernel: kernels/vmlinux2\nrootfs: /srv/rootfs.ext4\nkernel_args: quiet\n", g);
	ck_assert_str_ne(g, g0);
	gen_of(base, "kernel: kernels/vmlinux\nrootfs: /srv/rootfs.ext4\n", g);
	ck_assert_str_ne(g, g0);
	gen_of(base,
	       "kernel: kernels/vmlinux\nrootfs: /srv/rootfs.ext4\nkernel_args: quiet\nsha256:\n"
	       "  rootfs: a000000000000000000000000000000000000000000000000000000000000000\n",
	       g);
	ck_assert_str_ne(g, g0);
}
END_TEST

/* From a git commit, a relative host path may not leave the repository. */
START_TEST(test_filesync_git_dotdot)
{
	const char *const files[] = { "filesyncs/up.yaml",
				      "entries:\n  - host: files/../../x\n    guest: /x\n"
				      "  - host: /abs/../x\n    guest: /y\n",
				      "filesyncs/top.yaml",
				      "entries:\n  - host: ./\n    guest: /z\n"
				      "  - host: ./files\n    guest: /w\n",
				      NULL };
	_cleanup_(source_freep) struct source *src = make_source("/state", files);
	_cleanup_(spec_freep) struct spec *dir = NULL, *git = NULL;
	_cleanup_free_ char *text = NULL;

	ck_assert_int_eq(spec_load(src, &dir, NULL), 0);
	ck_assert_uint_eq(dir->n_diags, 0);
	src->commit = xstrdup("0123456789abcdef0123456789abcdef01234567");
	ck_assert_int_eq(spec_load(src, &git, NULL), 0);
	text = diags_text(git);
	/* Nor name its top: the run that copies the files would fail (for
	 * every VM, not only this file sync's). */
	ck_assert_str_eq(text, "filesyncs/top.yaml:2:11: entries[0].host: found './', "
			       "expected a path inside the repository, without '..', other than "
			       "its top (a relative path of a git source names a file or folder "
			       "of its commit)\n"
			       "filesyncs/up.yaml:2:11: entries[0].host: found 'files/../../x', "
			       "expected a path inside the repository, without '..', other than "
			       "its top (a relative path of a git source names a file or folder "
			       "of its commit)\n");
	ck_assert_uint_eq(git->n_filesyncs, 0);
}
END_TEST

START_TEST(test_generation_documented)
{
	/* The serialisation spec.h documents, written out by hand. */
	static const char text[] = "banger-generation-v1\n"
				   "image=4:base\n"
				   "image.kernel=22:/state/kernels/vmlinux\n"
				   "image.rootfs=16:/srv/rootfs.ext4\n"
				   "image.initrd=0:\n"
				   "image.kernel_args=5:quiet\n"
				   "image.sha256.kernel=0:\n"
				   "image.sha256.rootfs=0:\n"
				   "image.sha256.initrd=0:\n"
				   "vcpus=1:2\n"
				   "memory=9:536870912\n"
				   "hypervisor=4:qemu\n"
				   "disks.system_overlay=10:2147483648\n"
				   "disks.work=10:1073741824\n"
				   "kernel_args=0:\n"
				   "mac=17:52:54:00:0a:0b:0c\n"
				   "ip=10:10.77.0.20\n"
				   "filesyncs=1:2\n"
				   "filesync=1:y\n"
				   "filesync=1:x\n";
	char want[SHA256_HEX_SIZE], got[65];

	sha256_hex_buf(text, strlen(text), want);
	gen_of("image: base\nvcpus: 2\nfilesyncs: [y, x]\n"
	       "network: {ip: 10.77.0.20, mac: \"52:54:00:0A:0B:0C\"}\n",
	       image_yaml, got);
	ck_assert_str_eq(got, want);
}
END_TEST

/* Load text as vms/x.yaml alone; return the diagnostics. */
static char *
vm_diags(const char *data, size_t len)
{
	_cleanup_(spec_freep) struct spec *s = NULL;
	struct error *err = NULL;

	ck_assert_int_eq(spec_load_file(SPEC_KIND_VM, "vms/x.yaml", data, len, &s, &err), 0);
	if (s->n_diags)
		ck_assert_uint_eq(s->n_vms, 0);
	return diags_text(s);
}

#define ck_vm_diags(str, expected)                                                           \
	do {                                                                                 \
		_cleanup_free_ char *_t = vm_diags(str, sizeof(str) - 1);                    \
		ck_assert_str_eq(_t, expected);                                              \
	} while (0)

START_TEST(test_refused_constructs)
{
	ck_vm_diags("image: base\nimage: other\nvcpus: 1\nvcpus: 2\nvcpus: 3\n",
		    "vms/x.yaml:2:1: found duplicate key 'image', expected each key once (first at line 1)\n"
		    "vms/x.yaml:4:1: found duplicate key 'vcpus', expected each key once (first at line 3)\n"
		    "vms/x.yaml:5:1: found duplicate key 'vcpus', expected each key once (first at line 3)\n");
	ck_vm_diags("image: &img base\nkernel_args: *img\n",
		    "vms/x.yaml:1:8: found anchor 'img', expected plain values (anchors and aliases are not supported)\n"
		    "vms/x.yaml:2:14: found alias 'img', expected plain values (anchors and aliases are not supported)\n");
	ck_vm_diags("image: base\nvcpus: !!str 2\n",
		    "vms/x.yaml:2:8: found tag 'tag:yaml.org,2002:str', expected plain values (tags are not supported)\n");
	ck_vm_diags("image: base\n---\nimage: other\n",
		    "vms/x.yaml:2:1: found a second YAML document, expected one document per file\n");
	ck_vm_diags("image: base\n  vcpus: 2\n",
		    "vms/x.yaml:2:8: YAML syntax error: mapping values are not allowed in this context\n");
	ck_vm_diags("image: [base\n",
		    "vms/x.yaml:2:1: YAML syntax error: did not find expected ',' or ']' (while parsing a flow sequence at line 1, column 8)\n");
	ck_vm_diags("image: base\nkernel_args: \"a\\0b\"\n",
		    "vms/x.yaml:2:14: kernel_args: found a string with a NUL character, expected a string of kernel arguments\n");
	ck_vm_diags("image: base\n? [a, b]\n: 1\n",
		    "vms/x.yaml:2:3: found a list as a key, expected a string key\n");
	ck_vm_diags("image: base\n<<: {vcpus: 2}\n",
		    "vms/x.yaml:2:1: found merge key '<<', expected plain keys (merge keys are not supported)\n");
	ck_vm_diags("image: base\n\"<<\": 1\n",
		    "vms/x.yaml:2:1: found unknown key '<<', expected one of: version, image, state, vcpus, memory, hypervisor, disks, network, filesyncs, ssh_authorized_keys, kernel_args, on_delete, host, workspace, idle_stop_after\n");
	ck_vm_diags("", "vms/x.yaml:1:1: found an empty file, expected a mapping of keys\n");
	ck_vm_diags("---\n", "vms/x.yaml:2:1: found null, expected a mapping of keys\n");
	ck_vm_diags("image: b\xc3\x28se\n",
		    "vms/x.yaml:1:9: found byte 0xc3 that is not valid UTF-8, expected UTF-8 text\n");
	ck_vm_diags("image: base\nhost: caf\xff\n",
		    "vms/x.yaml:2:10: found byte 0xff that is not valid UTF-8, expected UTF-8 text\n");
	/* A byte order mark (some editors write one) is not part of the text:
	 * columns on the first line count from after it. */
	ck_vm_diags("\xef\xbb\xbfimage: base\nvcpus: 2\n", "");
	ck_vm_diags("\xef\xbb\xbfimage: base\nvcpus: x\n",
		    "vms/x.yaml:2:8: vcpus: found a string 'x', expected an integer from 1 to 32\n");
	ck_vm_diags("\xef\xbb\xbfvcpus: x\nimage: base\n",
		    "vms/x.yaml:1:8: vcpus: found a string 'x', expected an integer from 1 to 32\n");
	ck_vm_diags("\xef\xbb\xbf", "vms/x.yaml:1:1: found an empty file, expected a mapping of keys\n");
	/* Overlong encoding and a surrogate are not UTF-8 either. */
	ck_vm_diags("a: \xc0\xaf\n",
		    "vms/x.yaml:1:4: found byte 0xc0 that is not valid UTF-8, expected UTF-8 text\n");
	ck_vm_diags("a: \xed\xa0\x80\n",
		    "vms/x.yaml:1:4: found byte 0xed that is not valid UTF-8, expected UTF-8 text\n");
	/* Valid multi-byte UTF-8 is fine, and columns count characters. */
	ck_vm_diags("image: base\nhost: \"caf\xc3\xa9\"\nvcpus: é\n",
		    "vms/x.yaml:2:7: host: found 'caf\xc3\xa9', expected a host name (letters, digits, '.' and '-', at most 253 characters)\n"
		    "vms/x.yaml:3:8: vcpus: found a string 'é', expected an integer from 1 to 32\n");
	ck_vm_diags("image: base\x00\nvcpus: 1\n",
		    "vms/x.yaml:1:12: YAML syntax error: control characters are not allowed\n");
}
END_TEST

START_TEST(test_hostile_sizes)
{
	_cleanup_free_ char *big = NULL, *deep = NULL, *laughs = NULL, *keys = NULL;
	_cleanup_free_ char *t = NULL;
	size_t n;
	time_t start = time(NULL);

	/* Over 1 MiB: refused before parsing. */
	n = SOURCE_FILE_MAX + 1;
	big = xmalloc(n + 1);
	memset(big, '#', n);
	big[n] = '\0';
	t = vm_diags(big, n);
	ck_assert_str_eq(t, "vms/x.yaml:1:1: found a file larger than 1 MiB, expected a smaller declaration\n");
	free(TAKE_PTR(t));

	/* Deep nesting is cut at 64 levels, not a stack overflow. */
	n = 100000;
	deep = xmalloc(n + 1);
	memset(deep, '[', n);
	deep[n] = '\0';
	t = vm_diags(deep, n);
	ck_assert_str_eq(t, "vms/x.yaml:1:65: found nesting deeper than 64 levels, expected a shallower document\n");
	free(TAKE_PTR(t));

	/* Billion laughs: refused at the first anchor, nothing expanded. */
	laughs = xstrdup("a: &a [x, x, x, x, x, x, x, x, x]\n"
			 "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
			 "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
			 "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n");
	t = vm_diags(laughs, strlen(laughs));
	ck_assert(strstr(t, "vms/x.yaml:1:4: found anchor 'a', expected plain values") == t);
	free(TAKE_PTR(t));

	/* Near 1 MiB of keys: every one reported, in well under a second or two. */
	keys = xmalloc(SOURCE_FILE_MAX);
	n = 0;
	for (unsigned i = 0; n + 16 < SOURCE_FILE_MAX - 64; i++)
		n += (size_t)sprintf(keys + n, "k%u: 1\n", i % 50000);
	t = vm_diags(keys, n);
	ck_assert(strstr(t, "vms/x.yaml:50001:1: found duplicate key 'k0', expected each key once (first at line 1)\n") == t);
	/* Cut after DIAG_MAX_RUN, with one line saying so. */
	{
		size_t lines = 0;

		for (const char *p = t; *p; p++)
			lines += *p == '\n';
		ck_assert_uint_eq(lines, DIAG_MAX_RUN + 1);
		ck_assert(strstr(t, ": found more than 100 problems in this file, not reporting the rest\n"));
	}
	ck_assert_int_le(time(NULL) - start, 20);
}
END_TEST

START_TEST(test_diag_format)
{
	struct spec_diag d = { .file = (char *)"vms/a.yaml", .line = 3, .col = 7, .msg = (char *)"m" };
	_cleanup_free_ char *a = spec_diag_format(&d, NULL);
	_cleanup_free_ char *b = spec_diag_format(&d, "examples/");
	_cleanup_free_ char *c = spec_diag_format(&d, "/");

	ck_assert_str_eq(a, "vms/a.yaml:3:7: m");
	ck_assert_str_eq(b, "examples/vms/a.yaml:3:7: m");
	ck_assert_str_eq(c, "/vms/a.yaml:3:7: m");
	{
		struct spec_diag e = { .file = (char *)"vms/a\nb.yaml", .line = 1, .col = 1,
				       .msg = (char *)"m" };
		_cleanup_free_ char *f = spec_diag_format(&e, NULL);

		ck_assert_str_eq(f, "vms/a?b.yaml:1:1: m");
	}
}
END_TEST

START_TEST(test_size_bounds_in_strings)
{
	ck_vm_diags("image: base\nmemory: 2048G\ndisks: {work: 129G, system_overlay: 0G}\n",
		    "vms/x.yaml:2:9: memory: found '2048G', expected a size from 128M to 1024G\n"
		    "vms/x.yaml:3:15: disks.work: found '129G', expected 0 (no work disk) or a size from 1M to 128G\n"
		    "vms/x.yaml:3:37: disks.system_overlay: found '0G', expected a size from 1M to 128G\n");
	ck_vm_diags("image: base\nmemory: 99999999999999999999G\n",
		    "vms/x.yaml:2:9: memory: found '99999999999999999999G', expected a size from 128M to 1024G\n");
	ck_vm_diags("image: base\nmemory: 128M\ndisks: {work: 128G}\n", "");
	/* A work disk is none (0) or at least 1M: smaller fails only when made. */
	ck_vm_diags("image: base\ndisks: {work: 1K}\n",
		    "vms/x.yaml:2:15: disks.work: found '1K', expected 0 (no work disk) or a size "
		    "from 1M to 128G\n");
	ck_vm_diags("image: base\ndisks: {work: 1048575}\n",
		    "vms/x.yaml:2:15: disks.work: found '1048575', expected 0 (no work disk) or a "
		    "size from 1M to 128G\n");
	ck_vm_diags("image: base\ndisks: {work: 1M}\n", "");
	ck_vm_diags("image: base\ndisks: {work: 0}\n", "");
	ck_vm_diags("image: base\nnetwork: {mac: \"00:00:00:00:00:00\"}\n",
		    "vms/x.yaml:2:16: network.mac: found '00:00:00:00:00:00', expected a MAC address that is not all zero\n");
}
END_TEST

static struct spec *
vm_load(const char *data)
{
	struct spec *s = NULL;

	ck_assert_int_eq(spec_load_file(SPEC_KIND_VM, "vms/x.yaml", data, strlen(data), &s, NULL),
			 0);
	ck_assert_uint_eq(s->n_diags, 0);
	ck_assert_uint_eq(s->n_vms, 1);
	return s;
}

START_TEST(test_workspace_model)
{
	struct spec *s;
	const struct vm_workspace *w;

	s = vm_load("image: base\n");
	ck_assert_ptr_null(s->vms[0].workspace.repo);
	spec_free(s);

	s = vm_load("image: base\nworkspace: {repo: /srv/git/tools.git/}\n");
	w = &s->vms[0].workspace;
	ck_assert_str_eq(w->repo, "/srv/git/tools.git/");
	ck_assert_ptr_null(w->ref);
	ck_assert_str_eq(w->path, "/root/tools");
	ck_assert_int_eq(w->mode, WORKSPACE_FULL_COPY);
	ck_assert_uint_eq(w->mark.line, 2);
	ck_assert_uint_eq(w->mark.col, 12);
	spec_free(s);

	s = vm_load("image: base\nworkspace:\n  repo: git@example.com:team/app\n  ref: v1.2\n"
		    "  path: ~/work/app\n  mode: metadata_only\n");
	w = &s->vms[0].workspace;
	ck_assert_str_eq(w->ref, "v1.2");
	ck_assert_str_eq(w->path, "/root/work/app");
	ck_assert_int_eq(w->mode, WORKSPACE_METADATA_ONLY);
	spec_free(s);

	s = vm_load("image: base\nworkspace: {repo: \"https://h.example/x/site.git\", mode: shallow}\n");
	ck_assert_str_eq(s->vms[0].workspace.path, "/root/site");
	ck_assert_int_eq(s->vms[0].workspace.mode, WORKSPACE_SHALLOW);
	spec_free(s);

	ck_assert_str_eq(workspace_mode_to_string(WORKSPACE_SHALLOW), "shallow");
	ck_assert_int_eq(workspace_mode_from_string("metadata_only"), WORKSPACE_METADATA_ONLY);
	ck_assert_int_eq(workspace_mode_from_string("clone"), -EINVAL);

	ck_vm_diags("image: base\nworkspace: {repo: /srv/app, path: /srv/app/}\n",
		    "vms/x.yaml:2:35: workspace.path: found '/srv/app/', expected an absolute guest folder or '~/...' without '.' or '..' components or control characters, other than '/' and '/root', outside /banger\n");
	ck_vm_diags("image: base\nworkspace: {repo: /srv/app, path: \"~/\"}\n",
		    "vms/x.yaml:2:35: workspace.path: found '~/', expected an absolute guest folder or '~/...' without '.' or '..' components or control characters, other than '/' and '/root', outside /banger\n");
	ck_vm_diags("image: base\nworkspace: {repo: /srv/app, ref: -x}\n",
		    "vms/x.yaml:2:34: workspace.ref: found '-x', expected a branch, tag or commit id such as 'main' (quote a commit id made of digits)\n");
}
END_TEST

START_TEST(test_bridge_address_host_part)
{
	_cleanup_(spec_freep) struct spec *s = NULL;
	_cleanup_free_ char *t = NULL;
	static const char h[] = "bridge: {address: 10.77.0.0/24}\n";

	ck_assert_int_eq(spec_load_file(SPEC_KIND_HOST, "host.yaml", h, sizeof(h) - 1, &s, NULL), 0);
	t = diags_text(s);
	ck_assert_str_eq(t, "host.yaml:1:19: bridge.address: found '10.77.0.0/24', expected a host address of its network (not the network or broadcast address) such as '10.77.0.1/24'\n");
	ck_assert(!s->host_valid);
}
END_TEST

static Suite *
spec_suite(void)
{
	Suite *s = suite_create("spec");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_resolve_like_pyyaml);
	tcase_add_test(tc, test_scalar_int);
	tcase_add_test(tc, test_parse_size);
	tcase_add_test(tc, test_format_size);
	tcase_add_test(tc, test_enum_tables);
	tcase_add_test(tc, test_corpus_valid);
	tcase_add_test(tc, test_corpus_invalid);
	tcase_add_test(tc, test_defaults_flow);
	tcase_add_test(tc, test_no_host_yaml_defaults);
	tcase_add_test(tc, test_broken_host_holds_everything);
	tcase_add_test(tc, test_holding_and_cross_file);
	tcase_add_test(tc, test_read_errors_hold);
	tcase_add_test(tc, test_generation);
	tcase_add_test(tc, test_filesync_git_dotdot);
	tcase_add_test(tc, test_generation_documented);
	tcase_add_test(tc, test_refused_constructs);
	tcase_add_test(tc, test_hostile_sizes);
	tcase_add_test(tc, test_diag_format);
	tcase_add_test(tc, test_size_bounds_in_strings);
	tcase_add_test(tc, test_bridge_address_host_part);
	tcase_add_test(tc, test_workspace_model);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(spec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
