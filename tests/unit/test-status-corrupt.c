/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Status corruption matrix on the fake host: a sample status file (a running
 * VM with NAT, dm root, a seeded work disk) has each of its fields removed in
 * turn, each garbled in turn, and is cut at every byte boundary.  Each time
 * the next reconcile must converge with no failure, keep the VM's identity
 * (rebuilt from the marks on its host objects), leave no object unclaimed,
 * and never lose the work disk; deleting every VM afterwards must leave only
 * the retained work disk.  Prints "status cases: N, converged: C, leaked
 * objects: L".
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "fakes/test-spec.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

#define IMG "image base kernel=/img/vmlinux rootfs=/img/rootfs.ext4\n"
#define FS "filesync dots /etc/hosts:/etc/hosts\n"
#define DECL IMG FS "vm web image=base work=1G nat=yes files=dots\nvm db image=base state=stopped\n"

static char status_dir[64];

static void
rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		_cleanup_free_ char *p = xasprintf("%s/%s", dir, de->d_name);

		if (de->d_name[0] == '.')
			continue;
		if (de->d_type == DT_DIR)
			rm_tree(p);
		else
			(void)unlink(p);
	}
	if (d)
		closedir(d);
	(void)rmdir(dir);
}

static void
setup(void)
{
	/* tmpfs when there is one: thousands of fsynced status writes. */
	snprintf(status_dir, sizeof(status_dir), "%s/banger-corrupt-XXXXXX",
		 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(status_dir));
}

static void
teardown(void)
{
	rm_tree(status_dir);
}

static struct cycle
run(struct fake_host *h, const char *text, bool allow_mass)
{
	_cleanup_(test_spec_freep) struct spec *s = NULL;
	struct cycle_options o = { .apply = true, .allow_mass_delete = allow_mass };
	struct cycle c = { 0 };

	ck_assert_int_eq(test_spec_parse(text, &s), 0);
	fake_host_new_run(h);
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	return c;
}

static void
write_text(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Objects of the fake host no VM with a status file claims (retained work
 * disks and the bridge are not VM objects). */
static size_t
unclaimed(struct fake_host *h, const char *ctx)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *retained = xasprintf("%s/retained/", status_dir);
	struct vm_status sts[8];
	size_t n = 0, bad = 0;

	ck_assert_int_eq(status_list(status_dir, &names, NULL), 0);
	for (size_t i = 0; names[i] && n < 8; i++) {
		ck_assert_msg(status_read(status_dir, names[i], &sts[n], NULL) == 0,
			      "%s: status %s unreadable after reconcile", ctx, names[i]);
		n++;
	}
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		const char *path = o->kind == FAKE_LOOP ? o->backing : o->name;
		bool ok = o->kind == FAKE_BRIDGE ||
			  (o->kind == FAKE_FILE && strncmp(o->name, retained, strlen(retained)) == 0);

		for (size_t j = 0; j < n && !ok; j++) {
			_cleanup_free_ char *dir = status_vm_dir(status_dir, sts[j].name);
			size_t dl = strlen(dir);

			switch (o->kind) {
			case FAKE_LINK:
				ok = strcmp(o->name, sts[j].tap) == 0;
				break;
			case FAKE_RULE:
				ok = o->vm_id && strcmp(o->vm_id, sts[j].id) == 0;
				break;
			case FAKE_DM:
				ok = strcmp(o->name, sts[j].dm_name) == 0;
				break;
			default:
				ok = path && strncmp(path, dir, dl) == 0 &&
				     (!path[dl] || path[dl] == '/');
			}
		}
		if (!ok) {
			fprintf(stderr, "%s: unclaimed %s\n", ctx, o->name);
			bad++;
		}
	}
	for (size_t j = 0; j < n; j++)
		vm_status_done(&sts[j]);
	return bad;
}

/* Lines of text, without their newlines. */
static char **
split_lines(const char *text)
{
	char **l = strv_copy(NULL);

	while (*text) {
		const char *nl = strchr(text, '\n');
		size_t n = nl ? (size_t)(nl - text) : strlen(text);

		l = strv_append_take(l, xasprintf("%.*s", (int)n, text));
		text += n + (nl ? 1 : 0);
	}
	return l;
}

struct tally {
	unsigned cases, converged;
	size_t leaked;
};

/* One corrupted web.yaml: recover, check, delete everything, check. */
static void
one_case(const char *host_text, const char *db_text, const char *id, const char *web,
	 size_t len, const char *ctx, struct tally *t)
{
	_cleanup_(fake_host_freep) struct fake_host *h = NULL;
	_cleanup_free_ char *vms = NULL, *p = NULL, *work = NULL, *kept = NULL;
	struct vm_status st = { 0 };
	struct cycle c;
	bool ok = true;
	size_t leaked;

	rm_tree(status_dir);
	ck_assert_int_eq(mkdir(status_dir, 0700), 0);
	vms = xasprintf("%s/vms", status_dir);
	ck_assert_int_eq(mkdir(vms, 0700), 0);
	p = status_path(status_dir, "db");
	write_text(p, db_text, strlen(db_text));
	free(p);
	p = status_path(status_dir, "web");
	write_text(p, web, len);
	ck_assert_int_eq(fake_host_load(host_text, &h), 0);
	t->cases++;

	c = run(h, DECL, false);
	if (c.res.n_failed || c.n_orphans_after || c.refused) {
		fprintf(stderr, "%s: recovery: %zu failed (%s), %zu orphans\n", ctx, c.res.n_failed,
			c.res.failures && c.res.failures[0] ? c.res.failures[0] : "-",
			c.n_orphans_after);
		ok = false;
	}
	cycle_done(&c);
	c = run(h, DECL, false);
	if (!c.empty) {
		fprintf(stderr, "%s: not converged:\n%s", ctx, c.text);
		ok = false;
	}
	cycle_done(&c);
	/* The identity came back from the marks: same id, so the same work disk. */
	if (status_read(status_dir, "web", &st, NULL) < 0 || strcmp(st.id, id) != 0) {
		fprintf(stderr, "%s: identity lost (id '%s')\n", ctx, st.id);
		ok = false;
	}
	vm_status_done(&st);
	work = status_work_path(status_dir, "web");
	if (!fake_host_find(h, FAKE_FILE, work)) {
		fprintf(stderr, "%s: work disk gone\n", ctx);
		ok = false;
	}
	leaked = unclaimed(h, ctx);

	/* Delete everything: only the retained work disk may stay. */
	c = run(h, IMG, true);
	if (c.res.n_failed) {
		fprintf(stderr, "%s: delete: %s\n", ctx, c.res.failures[0]);
		ok = false;
	}
	cycle_done(&c);
	kept = status_retained_path(status_dir, "web", id);
	if (!fake_host_find(h, FAKE_FILE, kept)) {
		fprintf(stderr, "%s: work disk not retained\n", ctx);
		ok = false;
	}
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];

		if (o->kind == FAKE_BRIDGE || (o->kind == FAKE_FILE && strstr(o->name, "/retained/")))
			continue;
		fprintf(stderr, "%s: left after delete: %s\n", ctx, o->name);
		leaked++;
	}
	t->leaked += leaked;
	if (ok && !leaked)
		t->converged++;
}

START_TEST(test_corruption_matrix)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *host_text = NULL, *web = NULL, *db = NULL, *p = NULL;
	_cleanup_strv_free_ char **lines = NULL;
	struct tally t = { 0 };
	struct vm_status st = { 0 };
	char id[33];
	struct cycle c;
	size_t len = 0, n_fields = 0;

	c = run(h, DECL, false);
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	host_text = fake_host_save(h);
	p = status_path(status_dir, "web");
	ck_assert_int_eq(read_file(p, 1 << 20, &web, &len), 0);
	free(p);
	p = status_path(status_dir, "db");
	ck_assert_int_eq(read_file(p, 1 << 20, &db, NULL), 0);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	memcpy(id, st.id, sizeof(id));
	ck_assert_str_eq(st.phase == VM_PHASE_RUNNING ? "running" : "?", "running");
	vm_status_done(&st);

	/* The untouched file first: the baseline must pass. */
	one_case(host_text, db, id, web, len, "intact", &t);
	ck_assert_uint_eq(t.converged, 1);

	/* Each field removed, then garbled. */
	lines = split_lines(web);
	for (size_t i = 0; lines[i]; i++) {
		_cleanup_free_ char *without = xstrdup(""), *garbled = xstrdup("");
		const char *colon = strchr(lines[i], ':');
		char ctx[160];

		if (!*lines[i] || lines[i][0] == '#' || !colon)
			continue;
		n_fields++;
		for (size_t j = 0; lines[j]; j++) {
			char *a, *b;

			a = j == i ? xstrdup(without) : xasprintf("%s%s\n", without, lines[j]);
			b = j == i ? xasprintf("%s%.*s: \"\\x01{garbled: [\n", garbled,
					       (int)(colon - lines[i]), lines[i])
				   : xasprintf("%s%s\n", garbled, lines[j]);
			free(without);
			free(garbled);
			without = a;
			garbled = b;
		}
		snprintf(ctx, sizeof(ctx), "without '%.*s'", (int)(colon - lines[i]), lines[i]);
		one_case(host_text, db, id, without, strlen(without), ctx, &t);
		snprintf(ctx, sizeof(ctx), "garbled '%.*s'", (int)(colon - lines[i]), lines[i]);
		one_case(host_text, db, id, garbled, strlen(garbled), ctx, &t);
	}
	ck_assert_uint_gt(n_fields, 30);

	/* Cut at every byte boundary (0: an empty file). */
	for (size_t cut = 0; cut < len; cut++) {
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "cut at %zu of %zu", cut, len);
		one_case(host_text, db, id, web, cut, ctx, &t);
	}
	printf("status cases: %u, converged: %u, leaked objects: %zu\n", t.cases, t.converged,
	       t.leaked);
	fflush(stdout);
	ck_assert_uint_eq(t.converged, t.cases);
	ck_assert_uint_eq(t.leaked, 0);
}
END_TEST

static Suite *
corrupt_suite(void)
{
	Suite *s = suite_create("status-corrupt");
	TCase *tc = tcase_create("corrupt");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_corruption_matrix);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(corrupt_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
