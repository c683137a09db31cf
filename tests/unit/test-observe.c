/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Observation on the fake host: host objects matched to VMs by their marks,
 * identities rebuilt from the tap alias when a status file is lost, orphans
 * collected, objects without banger's mark ignored.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
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

/* Two processes on web's socket: the guest is the one its record names,
 * whichever the list gives first; the other is an orphan. */
START_TEST(test_recorded_guest_first)
{
	char id[33];
	_cleanup_(fake_host_freep) struct fake_host *h = host_with_web(id);
	_cleanup_(observed_freep) struct observed *o = NULL;
	_cleanup_free_ char *sock = status_api_socket(dir, "web");
	char *claimed[] = { (char *)"web", NULL };
	size_t guest = SIZE_MAX;
	struct fake_obj t;

	for (size_t i = 0; i < h->n_objs; i++)
		if (h->objs[i].kind == FAKE_PROC && h->objs[i].pid == 1000)
			guest = i;
	ck_assert_uint_ne(guest, SIZE_MAX);
	fake_host_add(h, &(struct fake_obj){ .kind = FAKE_PROC, .name = sock, .pid = 999,
					     .booted = true });
	t = h->objs[guest];
	h->objs[guest] = h->objs[h->n_objs - 1];
	h->objs[h->n_objs - 1] = t;
	ck_assert_int_eq(observe_host(dir, &h->ops, claimed, &o, NULL), 0);
	ck_assert(observed_find(o, "web")->proc_alive);
	ck_assert_int_eq(observed_find(o, "web")->proc_pid, 1000);
	ck_assert_uint_eq(o->n_orphans, 1);
	ck_assert_int_eq(o->orphans[0].kind, ORPHAN_PROC);
	ck_assert_int_eq(o->orphans[0].pid, 999);
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

/*
 * Listings that note the thread they ran on, one of them failing when told:
 * observation on a host whose ops allow concurrent listings.
 */
struct stub_lists {
	pthread_t on[4];	/* net, nat, disk, hv */
	int fail[4];		/* a negative errno to fail with */
	int calls[4];
};

static int
stub_enter(struct stub_lists *s, int i, struct error **err)
{
	s->on[i] = pthread_self();
	s->calls[i]++;
	if (s->fail[i] < 0)
		return error_set(err, s->fail[i], "listing %d failed", i);
	return 0;
}

static int
stub_link_list(void *ud, struct net_link **ret, size_t *ret_n, struct error **err)
{
	int r = stub_enter(ud, 0, err);

	if (r < 0)
		return r;
	*ret = xcalloc(1, sizeof(**ret));
	(*ret)->name = xstrdup("eth9");	/* not banger's name: not even a problem */
	*ret_n = 1;
	return 0;
}

static int
stub_rule_list(void *ud, struct nat_rule **ret, size_t *ret_n, struct error **err)
{
	int r = stub_enter(ud, 1, err);

	if (r < 0)
		return r;
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

static int
stub_disk_list(void *ud, const char *status_dir, struct disk_obj **ret, size_t *ret_n,
	       struct error **err)
{
	int r = stub_enter(ud, 2, err);

	(void)status_dir;
	if (r < 0)
		return r;
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

static int
stub_hv_list(void *ud, const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
	     struct error **err)
{
	int r = stub_enter(ud, 3, err);

	(void)sock_dir;
	if (r < 0)
		return r;
	*ret = NULL;
	*ret_n = 0;
	return 0;
}

static int
observe_stub(struct stub_lists *s, bool concurrent, struct observed **o, struct error **err)
{
	struct net_ops net = { .link_list = stub_link_list, .userdata = s };
	struct nat_ops nat = { .rule_list = stub_rule_list, .userdata = s };
	struct disk_ops disk = { .list = stub_disk_list, .userdata = s };
	struct hv_ops hv = { .list = stub_hv_list, .userdata = s };
	struct host_ops ops = { &net, &nat, &disk, &hv, NULL, concurrent };
	char *claimed[] = { NULL };

	return observe_host(dir, &ops, claimed, o, err);
}

START_TEST(test_concurrent_lists)
{
	struct stub_lists s = { 0 };
	_cleanup_(observed_freep) struct observed *o = NULL;
	pthread_t self = pthread_self();

	/* Allowed: nat on a thread of its own, disk and hv on another. */
	ck_assert_int_eq(observe_stub(&s, true, &o, NULL), 0);
	for (size_t i = 0; i < 4; i++)
		ck_assert_int_eq(s.calls[i], 1);
	ck_assert(pthread_equal(s.on[0], self));
	ck_assert(!pthread_equal(s.on[1], self));
	ck_assert(!pthread_equal(s.on[2], self));
	ck_assert(!pthread_equal(s.on[2], s.on[1]));
	ck_assert(pthread_equal(s.on[3], s.on[2]));
	ck_assert_uint_eq(o->n_orphans, 0);
	o = observed_free(o);

	/* Not allowed (the fake host): all four in turn, here. */
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(observe_stub(&s, false, &o, NULL), 0);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_int_eq(s.calls[i], 1);
		ck_assert(pthread_equal(s.on[i], self));
	}
}
END_TEST

START_TEST(test_concurrent_list_failures)
{
	struct stub_lists s = { .fail = { 0, -EIO, 0, -EPERM } };
	struct observed *o = NULL;
	struct error *e = NULL;

	/* The first failure in the order net, nat, disk, hv is the one
	 * reported; what the others listed is freed (the sanitizers' leak
	 * check would say). */
	ck_assert_int_eq(observe_stub(&s, true, &o, &e), -EIO);
	ck_assert_ptr_null(o);
	ck_assert_str_eq(e->msg, "listing 1 failed");
	e = error_free(e);

	s = (struct stub_lists){ .fail = { -EACCES, -EIO, 0, 0 } };
	ck_assert_int_eq(observe_stub(&s, true, &o, &e), -EACCES);
	ck_assert_str_eq(e->msg, "listing 0 failed");
	e = error_free(e);

	/* In turn, a failure ends the pass: nothing after it is asked. */
	s = (struct stub_lists){ .fail = { 0, -EIO, 0, 0 } };
	ck_assert_int_eq(observe_stub(&s, false, &o, &e), -EIO);
	ck_assert_int_eq(s.calls[2] + s.calls[3], 0);
	e = error_free(e);

	/* No error wanted: the failure is still returned. */
	s = (struct stub_lists){ .fail = { 0, 0, -ENOSPC, 0 } };
	ck_assert_int_eq(observe_stub(&s, true, &o, NULL), -ENOSPC);
	ck_assert_int_eq(s.calls[3], 0);
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
	tcase_add_test(tc, test_recorded_guest_first);
	tcase_add_test(tc, test_list_failure);
	tcase_add_test(tc, test_concurrent_lists);
	tcase_add_test(tc, test_concurrent_list_failures);
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
