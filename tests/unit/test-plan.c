/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The plan corpus: tests/data/plan/CASE/ holds
 *   before    (optional) declarations applied first on an empty fake host
 *             (the observed state: status files and fake host objects)
 *   observed/ (optional) a literal observed state: host (fake host text) and
 *             status/NAME.yaml, $STATUS standing for the status directory
 *   drift     (optional) changes made behind banger's back, one per line
 *   options   (optional) host-name H | only NAME | allow-mass-delete |
 *             fail OP NTH ERRNO (the apply of desired fails there) |
 *             failures N (the VMs that fail then; default 1)
 *   desired   the declarations planned against that host
 * Declarations are a YAML state directory (read by source_dir_read and
 * spec_load) or a file in the test line format (tests/fakes/test-spec.h).
 *   expected  the plan text ($STATUS for the status directory)
 * Each case checks the text, then convergence: after applying, observing
 * and planning again, nothing is left to do and no orphan remains.
 * BANGER_UPDATE_EXPECTED=1 rewrites the expected files.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "fakes/test-spec.h"
#include "source/source.h"
#include "spec/spec.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

static char **cases;

static const char *
top_srcdir(void)
{
	const char *s = getenv("top_srcdir");

	return s && *s ? s : TOP_SRCDIR;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
load_cases(void)
{
	_cleanup_free_ char *dir = xasprintf("%s/tests/data/plan", top_srcdir());
	DIR *d = opendir(dir);
	struct dirent *de;

	cases = strv_copy(NULL);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && strcmp(de->d_name, "README") != 0)
			cases = strv_append(cases, de->d_name);
	closedir(d);
	qsort(cases, strv_length(cases), sizeof(char *), cmp_str);
}

static char *
case_file(const char *c, const char *f)
{
	return xasprintf("%s/tests/data/plan/%s/%s", top_srcdir(), c, f);
}

/*
 * Declarations of a case: a directory is a YAML state directory read by the
 * real source and spec layers; a file is the test line format.
 */
static bool
load_decl(const char *c, const char *f, struct spec **ret, bool *ret_yaml)
{
	_cleanup_free_ char *path = case_file(c, f);
	struct stat st;

	if (stat(path, &st) < 0)
		return false;
	if (S_ISDIR(st.st_mode)) {
		_cleanup_(source_freep) struct source *src = NULL;
		struct error *e = NULL;

		ck_assert_msg(source_dir_read(path, &src, &e) == 0, "%s: %s", c, e ? e->msg : "");
		ck_assert_msg(spec_load(src, ret, &e) == 0, "%s: %s", c, e ? e->msg : "");
		*ret_yaml = true;
	} else {
		ck_assert_int_eq(test_spec_load(path, ret), 0);
		*ret_yaml = false;
	}
	return true;
}

static void
decl_free(struct spec *s, bool yaml)
{
	if (yaml)
		spec_free(s);
	else
		test_spec_free(s);
}

static char *
read_opt(const char *c, const char *f)
{
	_cleanup_free_ char *path = case_file(c, f);
	char *data = NULL;

	if (read_file(path, 1 << 20, &data, NULL) < 0)
		return NULL;
	return data;
}

/*
 * A literal observed state: observed/host (the fake host's saved text) and
 * observed/status/NAME.yaml, with $STATUS standing for the status directory.
 */
static void
load_observed(const char *c, const char *dir, struct fake_host **h)
{
	_cleanup_free_ char *host = read_opt(c, "observed/host");
	_cleanup_free_ char *sdir = case_file(c, "observed/status");
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
	DIR *d;
	struct dirent *de;

	if (host) {
		_cleanup_free_ char *text = harness_replace(host, "$STATUS", dir);

		*h = fake_host_free(*h);
		ck_assert_int_eq(fake_host_load(text, h), 0);
	}
	d = opendir(sdir);
	if (!d)
		return;
	ck_assert_int_eq(mkdir_p(vms, 0700), 0);
	while ((de = readdir(d))) {
		_cleanup_free_ char *rel = NULL, *raw = NULL, *text = NULL, *dest = NULL;

		if (de->d_name[0] == '.')
			continue;
		rel = xasprintf("observed/status/%s", de->d_name);
		raw = read_opt(c, rel);
		ck_assert_ptr_nonnull(raw);
		text = harness_replace(raw, "$STATUS", dir);
		dest = xasprintf("%s/%s", vms, de->d_name);
		ck_assert_int_eq(write_file_atomic(dest, text, strlen(text), 0600), 0);
	}
	closedir(d);
}

START_TEST(test_plan_case)
{
	const char *name = cases[_i];
	char dir[] = "/tmp/banger-plan-XXXXXX";
	struct fake_host *h = fake_host_new();
	struct spec *d = NULL;
	bool d_yaml = false;
	_cleanup_free_ char *drift = read_opt(name, "drift");
	_cleanup_free_ char *options = read_opt(name, "options"), *expected = read_opt(name, "expected");
	_cleanup_strv_free_ char **only = NULL, **then_has = NULL;
	struct cycle_options co = { .apply = true };
	const char *fail_op = NULL;
	char fail_buf[64] = "";
	unsigned fail_nth = 0, n_fail = 1;
	int fail_errno = 0;
	struct cycle c = { 0 }, c2 = { 0 };

	ck_assert_ptr_nonnull(mkdtemp(dir));
	for (char *save = NULL, *l = options ? strtok_r(options, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (strncmp(l, "host-name ", 10) == 0)
			co.host_name = l + 10;
		else if (strncmp(l, "only ", 5) == 0)
			only = strv_append(only, l + 5);
		else if (strcmp(l, "allow-mass-delete") == 0)
			co.allow_mass_delete = true;
		else if (sscanf(l, "failures %u", &n_fail) == 1)
			;	/* before "fail": its %s would take "ures" */
		else if (sscanf(l, "fail %63s %u %d", fail_buf, &fail_nth, &fail_errno) == 3)
			fail_op = fail_buf;
		else if (strcmp(l, "hv-missing qemu") == 0)
			co.hv_missing[HYPERVISOR_QEMU] = true;
		else if (strncmp(l, "then-has ", 9) == 0)
			then_has = strv_append(then_has, l + 9);	/* the plan after a failure */
		else if (strcmp(l, "strategy copy") == 0)
			h->strategy = DISK_STRATEGY_COPY;
		else
			ck_abort_msg("%s: bad option line '%s'", name, l);
	}
	{
		struct spec *b = NULL;
		bool yaml = false;
		struct cycle_options bo = { .apply = true, .host_name = co.host_name };

		if (load_decl(name, "before", &b, &yaml)) {
			ck_assert_int_eq(harness_cycle(dir, h, b, &bo, &c), 0);
			ck_assert_msg(c.res.n_failed == 0, "%s: before: %s", name,
				      c.res.failures[0] ? c.res.failures[0] : "");
			cycle_done(&c);
			decl_free(b, yaml);
		}
	}
	load_observed(name, dir, &h);
	for (char *save = NULL, *l = drift ? strtok_r(drift, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save))
		ck_assert_msg(harness_drift(dir, h, l) == 0, "%s: drift '%s'", name, l);

	fake_host_new_run(h);
	h->fail_op = fail_op;
	h->fail_nth = fail_nth;
	h->fail_errno = fail_errno;
	ck_assert_msg(load_decl(name, "desired", &d, &d_yaml), "%s: no desired", name);
	co.only = only;
	ck_assert_int_eq(harness_cycle(dir, h, d, &co, &c), 0);
	if (getenv("BANGER_UPDATE_EXPECTED")) {
		_cleanup_free_ char *path = case_file(name, "expected");

		ck_assert_int_eq(write_file_atomic(path, c.text, strlen(c.text), 0644), 0);
	} else {
		ck_assert_msg(expected != NULL, "%s: no expected file", name);
		ck_assert_msg(strcmp(c.text, expected) == 0, "%s: plan differs:\n%s\n--- expected:\n%s",
			      name, c.text, expected);
	}
	if (fail_op) {
		/* The injected failure is reported and the next run finishes the job. */
		ck_assert_msg(c.res.n_failed == n_fail, "%s: expected %u failed vms, got %zu", name,
			      n_fail, (size_t)c.res.n_failed);
		cycle_done(&c);
		fake_host_new_run(h);
		ck_assert_int_eq(harness_cycle(dir, h, d, &co, &c), 0);
		for (size_t i = 0; then_has && then_has[i]; i++)
			ck_assert_msg(strstr(c.text, then_has[i]),
				      "%s: the plan after the failure lacks '%s':\n%s", name, then_has[i],
				      c.text);
	}
	ck_assert_msg(c.res.n_failed == 0, "%s: %s", name,
		      c.res.failures && c.res.failures[0] ? c.res.failures[0] : "");
	ck_assert_msg(h->clashes == 0, "%s: a guest started beside another with its address or MAC",
		      name);
	if (!only && d->host_valid && !c.refused)
		ck_assert_msg(c.n_orphans_after == 0, "%s: %zu orphans left", name, c.n_orphans_after);

	/* Convergence: the same declarations again plan nothing (a refused plan stays refused). */
	fake_host_new_run(h);
	ck_assert_int_eq(harness_cycle(dir, h, d, &co, &c2), 0);
	if (c.refused)
		ck_assert_msg(c2.refused && strcmp(c.text, c2.text) == 0, "%s: refusal changed", name);
	else
		ck_assert_msg(c2.empty, "%s: second plan not empty:\n%s", name, c2.text);
	cycle_done(&c);
	cycle_done(&c2);
	decl_free(d, d_yaml);
	fake_host_free(h);
	{
		/* Remove the temp tree: the status files and their directory. */
		_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
		DIR *dd = opendir(vms);
		struct dirent *de;

		while (dd && (de = readdir(dd))) {
			_cleanup_free_ char *p = xasprintf("%s/%s", vms, de->d_name);

			if (de->d_name[0] != '.')
				(void)unlink(p);
		}
		if (dd)
			closedir(dd);
		(void)rmdir(vms);
		(void)rmdir(dir);
	}
}
END_TEST

static Suite *
plan_suite(void)
{
	Suite *s = suite_create("plan");
	TCase *tc = tcase_create("corpus");

	load_cases();
	tcase_add_loop_test(tc, test_plan_case, 0, (int)strv_length(cases));
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(plan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	/* The corpus must stay broad: every planner rule has cases. */
	if (strv_length(cases) < 30) {
		fprintf(stderr, "plan corpus: only %zu cases\n", strv_length(cases));
		failed++;
	}
	srunner_free(sr);
	strv_free(cases);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
