/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Observation on the fake host: host objects matched to VMs by their marks,
 * identities rebuilt from the tap alias when a status file is lost, orphans
 * collected, objects without banger's mark ignored.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "fakes/test-spec.h"
#include "observe/observe.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/strv.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/banger-observe-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);

	if (status_list(dir, &names, NULL) == 0)
		for (size_t i = 0; names[i]; i++)
			(void)status_remove(dir, names[i], NULL);
	(void)rmdir(vms);
	(void)rmdir(dir);
}

/* A host with one running VM 'web' (nat, work disk); returns its id. */
static struct fake_host *
host_with_web(char id[33])
{
	struct fake_host *h = fake_host_new();
	struct spec *s = NULL;
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };
	struct vm_status st;

	ck_assert_int_eq(test_spec_parse("image base kernel=/k rootfs=/r\n"
					 "vm web image=base nat=yes work=1G\n",
					 &s),
			 0);
	ck_assert_int_eq(harness_cycle(dir, h, s, &o, &c), 0);
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	test_spec_free(s);
	ck_assert_int_eq(status_read(dir, "web", &st, NULL), 0);
	memcpy(id, st.id, 33);
	vm_status_done(&st);
	return h;
}

START_TEST(test_matched)
{
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	_cleanup_(observed_freep) struct observed *o = NULL;
	char *claimed[] = { (char *)"web", NULL };
	const struct observed_vm *v;

	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, NULL), 0);
	ck_assert_uint_eq(o->n_vms, 1);
	ck_assert_uint_eq(o->n_orphans, 0);
	v = observed_find(o, "web");
	ck_assert_ptr_nonnull(v);
	ck_assert(v->has_status && !v->rebuilt);
	ck_assert(v->tap_present && v->tap_ok);
	ck_assert_str_eq(v->tap_master, "banger0");
	ck_assert(v->nat_masq && v->nat_fwd);
	ck_assert_uint_eq(v->n_nat_rules, 2);
	ck_assert(v->dm_present && v->dir_present);
	ck_assert_uint_eq(v->n_loops, 1);
	ck_assert(v->proc_alive);
	ck_assert_int_eq(v->proc_pid, 1000);
	ck_assert_uint_eq(strv_length(o->problems), 0);
}
END_TEST

START_TEST(test_rebuilt_from_marks)
{
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	_cleanup_(observed_freep) struct observed *o = NULL;
	_cleanup_free_ char *path = status_path(dir, "web");
	char *claimed[] = { (char *)"web", NULL };
	const struct observed_vm *v;

	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, NULL), 0);
	v = observed_find(o, "web");
	ck_assert_ptr_nonnull(v);
	ck_assert(!v->has_status && v->rebuilt);
	ck_assert_str_eq(v->status.id, id);
	ck_assert_str_eq(v->status.tap, "bgr-352c022f");
	ck_assert_uint_eq(v->status.ip, (10U << 24) | (77U << 16) | 2);
	ck_assert_str_eq(v->status.dm_name, "banger-352c022fc8ea");
	ck_assert(v->tap_present && v->dm_present && v->dir_present && v->proc_alive);
	ck_assert_uint_eq(o->n_orphans, 0);
	ck_assert_uint_eq(strv_length(o->problems), 1);
	ck_assert_ptr_nonnull(strstr(o->problems[0], "rebuilt from host marks"));
}
END_TEST

START_TEST(test_orphans_when_undeclared)
{
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	_cleanup_(observed_freep) struct observed *o = NULL;
	_cleanup_free_ char *path = status_path(dir, "web");
	char *claimed[] = { NULL };
	unsigned kinds = 0;

	ck_assert_int_eq(unlink(path), 0);
	/* Not banger's (no alias): never an orphan, never matched. */
	fake_host_add(h, &(struct fake_obj){ .kind = FAKE_LINK, .name = (char *)"bgr-handmade",
					     .up = true });
	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, NULL), 0);
	ck_assert_uint_eq(o->n_vms, 0);
	ck_assert_uint_eq(o->n_orphans, 7);
	for (size_t i = 0; i < o->n_orphans; i++) {
		kinds |= 1u << o->orphans[i].kind;
		ck_assert_str_ne(o->orphans[i].name, "bgr-handmade");
	}
	ck_assert_uint_eq(kinds, (1u << ORPHAN_PROC) | (1u << ORPHAN_NAT_RULE) | (1u << ORPHAN_TAP) |
					 (1u << ORPHAN_DM) | (1u << ORPHAN_LOOP) |
					 (1u << ORPHAN_VM_DIR));
}
END_TEST

START_TEST(test_old_incarnation_is_orphan)
{
	/* A tap naming web with another id belongs to an earlier web. */
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	_cleanup_(observed_freep) struct observed *o = NULL;
	char *claimed[] = { (char *)"web", NULL };

	ck_assert_int_eq(harness_drift(dir, h, "orphan-tap web"), 0);
	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, NULL), 0);
	ck_assert_uint_eq(o->n_orphans, 1);
	ck_assert_int_eq(o->orphans[0].kind, ORPHAN_TAP);
	ck_assert_str_eq(o->orphans[0].name, "bgr-01234567");
	ck_assert_str_eq(o->orphans[0].vm_id, "0123456789abcdef0123456789abcdef");
	ck_assert(observed_find(o, "web")->tap_present);
}
END_TEST

START_TEST(test_list_failure)
{
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	struct observed *o = NULL;
	struct error *e = NULL;
	char *claimed[] = { NULL };

	fake_host_new_run(h);
	h->fail_op = "disk.list";
	h->fail_nth = 1;
	h->fail_errno = EACCES;
	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, &e), -EACCES);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(e->msg, "disk.list: Permission denied");
	error_free(e);
}
END_TEST

static Suite *
observe_suite(void)
{
	Suite *s = suite_create("observe");
	TCase *tc = tcase_create("observe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_matched);
	tcase_add_test(tc, test_rebuilt_from_marks);
	tcase_add_test(tc, test_orphans_when_undeclared);
	tcase_add_test(tc, test_old_incarnation_is_orphan);
	tcase_add_test(tc, test_list_failure);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(observe_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
