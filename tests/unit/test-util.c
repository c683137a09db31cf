/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Unit tests for src/util: errors, atomic files, names, addresses, SHA-256.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/path.h"
#include "util/sha256.h"
#include "util/strv.h"

START_TEST(test_error_prefix_chain)
{
	struct error *err = NULL;
	_cleanup_free_ char *s = NULL;

	ck_assert_int_eq(error_set(&err, -EBUSY, "dm create: %s", "Device or resource busy"),
			 -EBUSY);
	ck_assert_int_eq(error_prefix(&err, "disk '%s'", "root"), -EBUSY);
	ck_assert_int_eq(error_prefix(&err, "vm '%s'", "web1"), -EBUSY);
	s = error_format(err);
	ck_assert_str_eq(s, "vm 'web1': disk 'root': dm create: Device or resource busy");
	/* A second error never overwrites the first. */
	ck_assert_int_eq(error_set(&err, -ENOENT, "other"), -ENOENT);
	ck_assert_int_eq(err->code, -EBUSY);
	error_free(err);
	ck_assert_int_eq(error_set(NULL, -EIO, "nobody listens"), -EIO);
}
END_TEST

START_TEST(test_error_position)
{
	struct error *err = NULL;
	_cleanup_free_ char *s = NULL;

	error_set_at(&err, -EINVAL, "vms/a.yaml", 3, 7, "unknown key '%s'", "vcpu");
	s = error_format(err);
	ck_assert_str_eq(s, "vms/a.yaml:3:7: unknown key 'vcpu'");
	error_free(err);
}
END_TEST

START_TEST(test_atomic_write_and_read)
{
	char dir[] = "/tmp/banger-test-XXXXXX";
	_cleanup_free_ char *path = NULL, *data = NULL;
	size_t len = 0;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/f.yaml", dir);
	ck_assert_int_eq(write_file_atomic(path, "a: 1\n", 5, 0600), 0);
	ck_assert_int_eq(write_file_atomic(path, "b: 22\n", 6, 0600), 0);
	ck_assert_int_eq(read_file(path, 1024, &data, &len), 0);
	ck_assert_uint_eq(len, 6);
	ck_assert_str_eq(data, "b: 22\n");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	free(TAKE_PTR(data));
	ck_assert_int_eq(read_file(path, 3, &data, &len), -EFBIG);
	ck_assert_int_eq(read_file(dir, 1024, &data, &len), -EISDIR);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(read_file(path, 1024, &data, &len), -ENOENT);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* A fixed temp name left by a killed writer is taken over by the next write;
 * pid-named ones go once their writer is dead, and only those. */
START_TEST(test_temporaries)
{
	char dir[] = "/tmp/banger-test-XXXXXX";
	_cleanup_free_ char *path = NULL, *tmp = NULL, *data = NULL;
	/* Not a writer's temp file, or one whose writer lives (this process). */
	const char *keep[] = { "own", "c.tmp", "d.tmp.x1", "e.tmp.012", "tmp.5", "f.tmp." };
	size_t len = 0;
	pid_t dead;
	int status;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	path = xasprintf("%s/r.yaml", dir);
	tmp = xasprintf("%s.tmp", path);
	ck_assert_int_eq(write_file_replace(tmp, "half", 4, 0600), 0);
	ck_assert_int_eq(write_file_replace_fixed(path, "whole\n", 6, 0600), 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(read_file(path, 64, &data, &len), 0);
	ck_assert_str_eq(data, "whole\n");
	ck_assert_int_eq(write_file_atomic_fixed(path, "again\n", 6, 0600), 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);

	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, &status, 0), dead);
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		_cleanup_free_ char *name = i ? xstrdup(keep[i]) : xasprintf("b.tmp.%d", (int)getpid());
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);

		ck_assert_int_eq(write_file_replace(p, "x", 1, 0600), 0);
	}
	{
		_cleanup_free_ char *a = xasprintf("%s/a.yaml.tmp.%d", dir, (int)dead);
		_cleanup_free_ char *g = xasprintf("%s/g.tmp.2147483647", dir);

		ck_assert_int_eq(write_file_replace(a, "x", 1, 0600), 0);
		ck_assert_int_eq(write_file_replace(g, "x", 1, 0600), 0);
		ck_assert_int_eq(remove_dead_temporaries(dir), 2);
		ck_assert_int_eq(access(a, F_OK), -1);
		ck_assert_int_eq(access(g, F_OK), -1);
	}
	for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
		_cleanup_free_ char *name = i ? xstrdup(keep[i]) : xasprintf("b.tmp.%d", (int)getpid());
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, name);

		ck_assert_msg(access(p, F_OK) == 0, "%s removed", name);
		ck_assert_int_eq(unlink(p), 0);
	}
	ck_assert_int_eq(remove_dead_temporaries(dir), 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_eq(remove_dead_temporaries(dir), -ENOENT);
}
END_TEST

/* A file that reports no size (procfs) is read whole by read_file and
 * read_proc_file, and the limit holds. */
START_TEST(test_read_unsized)
{
	_cleanup_free_ char *want = NULL;
	size_t wlen = 0;
	FILE *f;
	int (*readers[])(const char *, size_t, char **, size_t *) = { read_file, read_proc_file };

	want = xmalloc(1 << 20);
	f = fopen("/proc/self/cmdline", "re");
	ck_assert_ptr_nonnull(f);
	wlen = fread(want, 1, 1 << 20, f);
	fclose(f);
	ck_assert_uint_gt(wlen, 0);
	for (size_t i = 0; i < ELEMENTSOF(readers); i++) {
		_cleanup_free_ char *data = NULL;
		size_t len = 0;

		ck_assert_int_eq(readers[i]("/proc/self/cmdline", 1 << 20, &data, &len), 0);
		ck_assert_uint_eq(len, wlen);
		ck_assert(memcmp(data, want, len) == 0);
		ck_assert_int_eq(data[len], '\0');
		free(TAKE_PTR(data));
		ck_assert_int_eq(readers[i]("/proc/self/cmdline", wlen - 1, &data, &len), -EFBIG);
		ck_assert_ptr_null(data);
		ck_assert_int_eq(readers[i]("/proc/self/no-such-file", 16, &data, &len), -ENOENT);
	}
}
END_TEST

START_TEST(test_mkdir_p)
{
	char dir[] = "/tmp/banger-test-XXXXXX";
	_cleanup_free_ char *deep = NULL;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	deep = xasprintf("%s/a/b/c", dir);
	ck_assert_int_eq(mkdir_p(deep, 0700), 0);
	ck_assert_int_eq(mkdir_p(deep, 0700), 0);
	ck_assert_int_eq(stat(deep, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	rmdir(deep);
	deep[strlen(deep) - 2] = '\0';
	rmdir(deep);
	deep[strlen(deep) - 2] = '\0';
	rmdir(deep);
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(test_dns_label)
{
	ck_assert(name_is_dns_label("web1"));
	ck_assert(name_is_dns_label("a"));
	ck_assert(name_is_dns_label("a-b-c"));
	ck_assert(name_is_dns_label("0"));
	ck_assert(!name_is_dns_label(""));
	ck_assert(!name_is_dns_label("-a"));
	ck_assert(!name_is_dns_label("a-"));
	ck_assert(!name_is_dns_label("Web"));
	ck_assert(!name_is_dns_label("a_b"));
	ck_assert(!name_is_dns_label("a.b"));
	ck_assert(!name_is_dns_label("../x"));
	ck_assert(name_is_dns_label("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija12"));
	ck_assert(!name_is_dns_label("abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghija123"));
}
END_TEST

START_TEST(test_derived_names)
{
	char tap[16], dm[20];

	ck_assert(name_is_vm_id("0123456789abcdef0123456789abcdef"));
	ck_assert(!name_is_vm_id("0123456789ABCDEF0123456789abcdef"));
	ck_assert(!name_is_vm_id("0123"));
	name_tap_from_id("0123456789abcdef0123456789abcdef", tap);
	ck_assert_str_eq(tap, "bgr-01234567");
	ck_assert_uint_lt(strlen(tap), 16);
	name_dm_from_id("0123456789abcdef0123456789abcdef", dm);
	ck_assert_str_eq(dm, "banger-0123456789ab");
}
END_TEST

START_TEST(test_ipv4)
{
	uint32_t a;
	unsigned p;
	char buf[16];

	ck_assert_int_eq(ipv4_parse("10.77.0.1", &a), 0);
	ck_assert_uint_eq(a, 0x0a4d0001);
	ipv4_format(a, buf);
	ck_assert_str_eq(buf, "10.77.0.1");
	ck_assert_int_eq(ipv4_parse("256.1.1.1", &a), -EINVAL);
	ck_assert_int_eq(ipv4_parse("1.2.3", &a), -EINVAL);
	ck_assert_int_eq(ipv4_parse("1.2.3.4.5", &a), -EINVAL);
	ck_assert_int_eq(ipv4_parse("01.2.3.4", &a), -EINVAL);
	ck_assert_int_eq(ipv4_parse("1.2.3.4 ", &a), -EINVAL);
	ck_assert_int_eq(ipv4_cidr_parse("10.77.0.1/24", &a, &p), 0);
	ck_assert_uint_eq(p, 24);
	ck_assert_int_eq(ipv4_cidr_parse("10.77.0.1", &a, &p), -EINVAL);
	ck_assert_int_eq(ipv4_cidr_parse("10.77.0.1/33", &a, &p), -EINVAL);
	ck_assert_int_eq(ipv4_cidr_parse("10.77.0.1/", &a, &p), -EINVAL);
	ck_assert_int_eq(ipv4_cidr_parse("10.77.0.1/x", &a, &p), -EINVAL);
}
END_TEST

/* _i: 0 the portable code, 1 the CPU's SHA instructions (skipped without). */
START_TEST(test_sha256_vectors)
{
	char hex[SHA256_HEX_SIZE];
	struct sha256_ctx c;
	uint8_t d[SHA256_DIGEST_SIZE];
	_cleanup_free_ char *million = xmalloc(1000000);

	if (sha256_hw_select(_i == 1) != (_i == 1)) {
		(void)sha256_hw_select(true);
		return;	/* no SHA instructions on this CPU */
	}
	sha256_hex_buf("", 0, hex);
	ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex_buf("abc", 3, hex);
	ck_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	ck_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* Incremental updates of odd sizes give the same digest as one shot. */
	memset(million, 'a', 1000000);
	sha256_init(&c);
	for (size_t off = 0; off < 1000000;) {
		size_t n = 1 + off % 97;

		if (off + n > 1000000)
			n = 1000000 - off;
		sha256_update(&c, million + off, n);
		off += n;
	}
	sha256_final(&c, d);
	sha256_hex(d, hex);
	ck_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	(void)sha256_hw_select(true);
}
END_TEST

/* Both implementations agree on every length from 0 to 300 and on a long
 * input fed in uneven pieces (where the CPU has SHA instructions). */
START_TEST(test_sha256_hw_matches_portable)
{
	uint8_t buf[4096];
	uint32_t x = 2463534242U;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		buf[i] = (uint8_t)x;
	}
	if (!sha256_hw_select(true))
		return;
	for (size_t len = 0; len <= 300; len++) {
		char a[SHA256_HEX_SIZE], b[SHA256_HEX_SIZE];

		(void)sha256_hw_select(false);
		sha256_hex_buf(buf + len % 7, len, a);
		(void)sha256_hw_select(true);
		sha256_hex_buf(buf + len % 7, len, b);
		ck_assert_msg(strcmp(a, b) == 0, "length %zu: %s != %s", len, a, b);
	}
	for (int hw = 0; hw < 2; hw++) {
		static char want[SHA256_HEX_SIZE];
		char got[SHA256_HEX_SIZE];
		uint8_t d[SHA256_DIGEST_SIZE];
		struct sha256_ctx c;

		(void)sha256_hw_select(hw);
		sha256_init(&c);
		for (size_t off = 0; off < sizeof(buf);) {
			size_t n = 1 + (off * 31) % 200;

			if (off + n > sizeof(buf))
				n = sizeof(buf) - off;
			sha256_update(&c, buf + off, n);
			off += n;
		}
		sha256_final(&c, d);
		sha256_hex(d, got);
		if (hw == 0)
			memcpy(want, got, sizeof(want));
		else
			ck_assert_str_eq(got, want);
	}
	(void)sha256_hw_select(true);
}
END_TEST

START_TEST(test_strv)
{
	_cleanup_strv_free_ char **l = NULL;
	_cleanup_strv_free_ char **c = NULL;

	ck_assert_uint_eq(strv_length(l), 0);
	l = strv_append(l, "a");
	l = strv_append_take(l, xstrdup("b"));
	ck_assert_uint_eq(strv_length(l), 2);
	ck_assert(strv_contains(l, "b"));
	ck_assert(!strv_contains(l, "c"));
	c = strv_copy(l);
	ck_assert_str_eq(c[1], "b");
	ck_assert_ptr_null(c[2]);
}
END_TEST

/* strv_push over its growth points (ASan in make check catches a write past
 * the array). */
START_TEST(test_strv_push)
{
	_cleanup_strv_free_ char **l = NULL;
	size_t n = 0;

	for (unsigned i = 0; i < 1100; i++) {
		char s[16];

		snprintf(s, sizeof(s), "s%u", i);
		l = strv_push(l, &n, s);
		ck_assert_uint_eq(n, i + 1);
		ck_assert_uint_eq(strv_length(l), i + 1);
		ck_assert_str_eq(l[i], s);
	}
	ck_assert_str_eq(l[0], "s0");
	ck_assert_str_eq(l[511], "s511");
	ck_assert_str_eq(l[1099], "s1099");
	ck_assert_ptr_null(l[1100]);
}
END_TEST

START_TEST(test_path_normalize)
{
	static const char *const cases[][2] = {
		{ "/a/b/../c/", "/a/c" },
		{ "/srv/state/../../build/demo-image/vmlinux", "/build/demo-image/vmlinux" },
		{ "//a///b/./c", "/a/b/c" },
		{ "/..", "/" },
		{ "/../../x", "/x" },
		{ "/", "/" },
		{ "/a/..", "/" },
		{ "/a/...b/..c", "/a/...b/..c" },
		{ "rel/../x", "rel/../x" },
	};

	for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
		_cleanup_free_ char *s = path_normalize(cases[i][0]);

		ck_assert_msg(strcmp(s, cases[i][1]) == 0, "%s -> %s, wanted %s", cases[i][0], s,
			      cases[i][1]);
	}
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_error_prefix_chain);
	tcase_add_test(tc, test_error_position);
	tcase_add_test(tc, test_atomic_write_and_read);
	tcase_add_test(tc, test_temporaries);
	tcase_add_test(tc, test_read_unsized);
	tcase_add_test(tc, test_mkdir_p);
	tcase_add_test(tc, test_dns_label);
	tcase_add_test(tc, test_derived_names);
	tcase_add_test(tc, test_ipv4);
	tcase_add_loop_test(tc, test_sha256_vectors, 0, 2);
	tcase_add_test(tc, test_sha256_hw_matches_portable);
	tcase_add_test(tc, test_strv);
	tcase_add_test(tc, test_strv_push);
	tcase_add_test(tc, test_path_normalize);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
