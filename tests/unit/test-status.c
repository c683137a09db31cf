/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Status files and the lock: round trip, validation of every kind of
 * damage, the lock's bounded wait naming the holder.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/name.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/strv.h"

static char dir[64];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/banger-status-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void
teardown(void)
{
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
	_cleanup_free_ char *lock = xasprintf("%s/lock", dir);
	_cleanup_strv_free_ char **names = NULL;

	if (status_list(dir, &names, NULL) == 0)
		for (size_t i = 0; names[i]; i++)
			(void)status_remove(dir, names[i], NULL);
	(void)unlink(lock);
	(void)rmdir(vms);
	(void)rmdir(dir);
}

static void
sample(struct vm_status *s)
{
	memset(s, 0, sizeof(*s));
	s->name = xstrdup("web");
	snprintf(s->id, sizeof(s->id), "0123456789abcdef0123456789abcdef");
	memset(s->generation, 'a', 64);
	s->phase = VM_PHASE_RUNNING;
	s->intent = xstrdup("start");
	snprintf(s->tap, sizeof(s->tap), "bgr-01234567");
	mac_from_ip(0x0a4d0002, s->mac);
	s->has_mac = true;
	s->ip = 0x0a4d0002;
	s->pid = 4242;
	s->api_socket = xstrdup("/var/lib/banger/vms/web/api.sock");
	s->disk_strategy = DISK_STRATEGY_DM_SNAPSHOT;
	snprintf(s->dm_name, sizeof(s->dm_name), "banger-0123456789ab");
	s->root_device = xstrdup("/dev/mapper/banger-0123456789ab");
	s->image_rootfs = xstrdup("/img/rootfs.ext4");
	s->root_ready = true;
	s->work_path = xstrdup("/var/lib/banger/vms/web/work.ext4");
	s->work_ready = true;
	s->applied.state = VM_STATE_RUNNING;
	s->applied.vcpus = 2;
	s->applied.memory = 1ULL << 30;
	s->applied.hypervisor = HYPERVISOR_FIRECRACKER;
	s->applied.image = xstrdup("base");
	s->applied.kernel_args = xstrdup("quiet \"x\"\ttab");
	s->applied.nat = true;
	s->applied.on_delete = ON_DELETE_PURGE;
	s->source_commit = xstrdup("deadbeef");
	s->last_error = xstrdup("boot: guest said: caf\xc3\xa9\n");
	s->created_ms = 1700000000000ULL;
	s->updated_ms = 1700000001000ULL;
}

START_TEST(test_round_trip)
{
	struct vm_status a, b;
	struct stat st;
	_cleanup_free_ char *path = NULL;

	sample(&a);
	ck_assert_int_eq(status_write(dir, &a, NULL), 0);
	path = status_path(dir, "web");
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0600);
	ck_assert_int_eq(status_read(dir, "web", &b, NULL), 0);
	ck_assert_str_eq(b.name, "web");
	ck_assert_str_eq(b.id, a.id);
	ck_assert_str_eq(b.generation, a.generation);
	ck_assert_int_eq(b.phase, VM_PHASE_RUNNING);
	ck_assert_str_eq(b.intent, "start");
	ck_assert_str_eq(b.tap, "bgr-01234567");
	ck_assert_mem_eq(b.mac, a.mac, 6);
	ck_assert_uint_eq(b.ip, a.ip);
	ck_assert_int_eq(b.pid, 4242);
	ck_assert_str_eq(b.api_socket, a.api_socket);
	ck_assert_int_eq(b.disk_strategy, DISK_STRATEGY_DM_SNAPSHOT);
	ck_assert_str_eq(b.dm_name, a.dm_name);
	ck_assert_str_eq(b.root_device, a.root_device);
	ck_assert(b.root_ready && b.work_ready && !b.seeded);
	ck_assert_uint_eq(b.applied.vcpus, 2);
	ck_assert_uint_eq(b.applied.memory, 1ULL << 30);
	ck_assert_int_eq(b.applied.hypervisor, HYPERVISOR_FIRECRACKER);
	ck_assert_str_eq(b.applied.kernel_args, "quiet \"x\"\ttab");
	ck_assert_int_eq(b.applied.on_delete, ON_DELETE_PURGE);
	ck_assert_str_eq(b.last_error, a.last_error);
	ck_assert_str_eq(b.source_commit, "deadbeef");
	ck_assert_uint_eq(b.created_ms, a.created_ms);
	/* No root hash (a record from before it was kept): none read back. */
	ck_assert_str_eq(b.applied.root_hash, "");
	vm_status_done(&b);
	/* With one: written and read back. */
	memset(a.applied.root_hash, 'c', 64);
	ck_assert_int_eq(status_write(dir, &a, NULL), 0);
	ck_assert_int_eq(status_read(dir, "web", &b, NULL), 0);
	ck_assert_str_eq(b.applied.root_hash, a.applied.root_hash);
	vm_status_done(&a);
	vm_status_done(&b);
}
END_TEST

START_TEST(test_round_trip_line_breaks)
{
	/* NEL, LS, PS, a C1 control and a BOM in a string: YAML 1.1 folds or
	 * refuses them raw, so they must be written escaped and read back as
	 * they were (found by the status fuzzer). */
	static const char odd[] = "a\xc2\x85" "b\xe2\x80\xa8" "c\xe2\x80\xa9" "d\xc2\x9e"
				  "e\xef\xbb\xbf" "f \xc3\xa9" " \"q\" \\ \x01\x7f" "end";
	struct vm_status a, b;

	sample(&a);
	free(a.last_error);
	a.last_error = xstrdup(odd);
	ck_assert_int_eq(status_write(dir, &a, NULL), 0);
	ck_assert_int_eq(status_read(dir, "web", &b, NULL), 0);
	ck_assert_str_eq(b.last_error, odd);
	vm_status_done(&a);
	vm_status_done(&b);
}
END_TEST

static int
read_text(const char *text, struct error **err)
{
	_cleanup_free_ char *path = status_path(dir, "web");
	_cleanup_free_ char *vms = xasprintf("%s/vms", dir);
	struct vm_status s;
	int r;

	ck_assert_int_eq(mkdir_p(vms, 0700), 0);
	ck_assert_int_eq(write_file_atomic(path, text, strlen(text), 0600), 0);
	r = status_read(dir, "web", &s, err);
	if (r == 0)
		vm_status_done(&s);
	return r;
}

START_TEST(test_damage)
{
	struct vm_status a;
	_cleanup_free_ char *text = NULL, *half = NULL, *bad = NULL, *other = NULL;
	struct error *e = NULL;

	ck_assert_int_eq(status_read(dir, "web", &a, NULL), -ENOENT);
	sample(&a);
	text = status_format(&a);
	vm_status_done(&a);
	ck_assert_int_eq(read_text(text, NULL), 0);

	/* Truncated: cut at a line boundary, the end marker is missing. */
	half = xstrndup(text, (size_t)(strstr(text, "pid:") - text));
	ck_assert_int_eq(read_text(half, &e), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e->msg, "truncated"));
	e = error_free(e);

	ck_assert_int_eq(read_text("name: [oops\n", &e), -EBADMSG);
	e = error_free(e);
	ck_assert_int_eq(read_text("", &e), -EBADMSG);
	e = error_free(e);
	ck_assert_int_eq(read_text("- a\n- b\n", &e), -EBADMSG);
	e = error_free(e);

	bad = harness_replace(text, "phase: \"running\"", "phase: \"dancing\"");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_str_eq(e->msg, "bad value for 'phase'");
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "pid: 4242", "pidd: 4242");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_str_eq(e->msg, "unknown field 'pidd'");
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "0123456789abcdef0123456789abcdef", "not-an-id");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "bgr-01234567", "eth0");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "/var/lib/banger/vms/web/api.sock", "relative/api.sock");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	e = error_free(e);
	free(bad);
	/* A field gone, repeated, or a derived name that is not the id's: corrupt. */
	bad = harness_replace(text, "work_ready: true\n", "");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e->msg, "field 'work_ready' missing"));
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "work_ready: true\n", "work_ready: true\nwork_ready: false\n");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_str_eq(e->msg, "field 'work_ready' repeated");
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "bgr-01234567", "bgr-76543210");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e->msg, "tap does not derive from id"));
	e = error_free(e);
	free(bad);
	bad = harness_replace(text, "banger-0123456789ab", "banger-0123456789ac");
	ck_assert_int_eq(read_text(bad, &e), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e->msg, "dm_name does not derive from id"));
	e = error_free(e);
	/* A file naming another VM is not this VM's. */
	other = harness_replace(text, "name: \"web\"", "name: \"db\"");
	ck_assert_int_eq(read_text(other, &e), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(e->msg, "names vm 'db'"));
	e = error_free(e);
}
END_TEST

START_TEST(test_list)
{
	struct vm_status a;
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *junk = NULL;

	ck_assert_int_eq(status_list(dir, &names, NULL), 0);
	ck_assert_uint_eq(strv_length(names), 0);
	names = strv_free(names);
	sample(&a);
	ck_assert_int_eq(status_write(dir, &a, NULL), 0);
	free(a.name);
	a.name = xstrdup("api");
	ck_assert_int_eq(status_write(dir, &a, NULL), 0);
	vm_status_done(&a);
	junk = xasprintf("%s/vms/Not_A_Label.yaml", dir);
	ck_assert_int_eq(write_file_atomic(junk, "x", 1, 0600), 0);
	ck_assert_int_eq(status_list(dir, &names, NULL), 0);
	ck_assert_uint_eq(strv_length(names), 2);
	ck_assert_str_eq(names[0], "api");
	ck_assert_str_eq(names[1], "web");
	ck_assert_int_eq(unlink(junk), 0);
	ck_assert_int_eq(status_remove(dir, "api", NULL), 0);
	ck_assert_int_eq(status_remove(dir, "api", NULL), 0);
}
END_TEST

START_TEST(test_nosync_then_sync)
{
	struct vm_status a, b;
	struct error *e = NULL;
	char *both[] = { (char *)"web", (char *)"api", NULL };
	_cleanup_free_ char *other = xasprintf("%s-none", dir);
	char *none[] = { (char *)"web", NULL };

	/* Nothing to sync is fine, even without a vms folder. */
	ck_assert_int_eq(status_sync(other, NULL, NULL), 0);
	sample(&a);
	ck_assert_int_eq(status_write_nosync(dir, &a, NULL), 0);
	free(a.name);
	a.name = xstrdup("api");
	ck_assert_int_eq(status_write_nosync(dir, &a, NULL), 0);
	/* Written whole at once, whatever the sync. */
	ck_assert_int_eq(status_read(dir, "api", &b, NULL), 0);
	ck_assert_str_eq(b.name, "api");
	vm_status_done(&b);
	ck_assert_int_eq(status_remove_nosync(dir, "api", NULL), 0);
	ck_assert_int_eq(status_read(dir, "api", &b, NULL), -ENOENT);
	/* A removed one is covered by the folder's sync. */
	ck_assert_int_eq(status_sync(dir, both, NULL), 0);
	ck_assert_int_eq(status_read(dir, "web", &b, NULL), 0);
	vm_status_done(&b);
	vm_status_done(&a);
	ck_assert_int_eq(status_sync(other, none, &e), -ENOENT);
	ck_assert_ptr_nonnull(strstr(e->msg, "-none/vms"));
	e = error_free(e);
}
END_TEST

START_TEST(test_lock_busy)
{
	_cleanup_close_ int fd1 = -EBADF, fd2 = -EBADF;
	struct error *e = NULL;
	_cleanup_free_ char *want = xasprintf("(pid %d)", (int)getpid());

	ck_assert_int_eq(status_lock(dir, 0, &fd1, NULL), 0);
	/* A second open file description conflicts even in this process. */
	ck_assert_int_eq(status_lock(dir, 150, &fd2, &e), -EBUSY);
	ck_assert_ptr_nonnull(strstr(e->msg, want));
	ck_assert_ptr_nonnull(strstr(e->msg, "gave up after 150 ms"));
	e = error_free(e);
	close(TAKE_FD(fd1));
	ck_assert_int_eq(status_lock(dir, 0, &fd2, NULL), 0);
	close(TAKE_FD(fd2));
	/* The pid is written over the last one in place, the file's block
	 * kept; a longer file another writer left is cut to it. */
	{
		static const char longer[] = "1234567890 1234567890 1234567890\n";
		_cleanup_free_ char *path = xasprintf("%s/lock", dir), *text = NULL;
		_cleanup_free_ char *line = xasprintf("%20d\n", (int)getpid());
		struct stat a, b;
		size_t len = 0;

		ck_assert_int_eq(stat(path, &a), 0);
		ck_assert_int_eq(status_lock(dir, 0, &fd1, NULL), 0);
		close(TAKE_FD(fd1));
		ck_assert_int_eq(stat(path, &b), 0);
		ck_assert_uint_eq(a.st_ino, b.st_ino);
		ck_assert_int_eq(b.st_size, (off_t)strlen(line));
		ck_assert_int_eq(write_file_atomic(path, longer, strlen(longer), 0600), 0);
		ck_assert_int_eq(status_lock(dir, 0, &fd1, NULL), 0);
		ck_assert_int_eq(read_file(path, 4096, &text, &len), 0);
		ck_assert_uint_eq(len, strlen(line));
		ck_assert_str_eq(text, line);
	}
}
END_TEST

START_TEST(test_formats)
{
	uint8_t mac[6];
	char buf[32];

	mac_from_ip(0x0a4d0102, mac);
	mac_format(mac, buf);
	ck_assert_str_eq(buf, "06:00:0a:4d:01:02");
	ck_assert_int_eq(mac_parse("02:AA:bb:cc:dd:ee", mac), 0);
	ck_assert_uint_eq(mac[1], 0xaa);
	ck_assert_int_eq(mac_parse("02:aa:bb:cc:dd", mac), -EINVAL);
	ck_assert_int_eq(mac_parse("02-aa-bb-cc-dd-ee", mac), -EINVAL);
	size_format(512ULL << 20, buf);
	ck_assert_str_eq(buf, "512M");
	size_format(2ULL << 30, buf);
	ck_assert_str_eq(buf, "2G");
	size_format(1000, buf);
	ck_assert_str_eq(buf, "1000");
	ck_assert_int_eq(vm_phase_from_string("deleting"), VM_PHASE_DELETING);
	ck_assert_int_eq(vm_phase_from_string("nope"), -EINVAL);
}
END_TEST

static Suite *
status_suite(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("status");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_round_trip_line_breaks);
	tcase_add_test(tc, test_damage);
	tcase_add_test(tc, test_list);
	tcase_add_test(tc, test_nosync_then_sync);
	tcase_add_test(tc, test_lock_busy);
	tcase_add_test(tc, test_formats);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(status_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
