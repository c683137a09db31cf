/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Apply on the fake host: the transcript of a create, write-ahead records,
 * failure injection (last_error, the other VMs go on), and the crash test:
 * for every side-effect index N of create, stop, start, restart and delete,
 * crash after N, run again: it converges and no object is left unclaimed.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakes/harness.h"
#include "fakes/test-spec.h"
#include "observe/observe.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

#define IMG "image base kernel=/img/vmlinux rootfs=/img/rootfs.ext4\n"
#define IMG2 "image base kernel=/img/vmlinux rootfs=/img/rootfs-v2.ext4\n"
#define FS "filesync dots /etc/hosts:/etc/hosts\n"

static char status_dir[64];

static void
setup(void)
{
	snprintf(status_dir, sizeof(status_dir), "/tmp/banger-apply-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(status_dir));
}

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
teardown(void)
{
	rm_tree(status_dir);
}

static struct spec *
spec_of(const char *text)
{
	struct spec *s = NULL;

	ck_assert_int_eq(test_spec_parse(text, &s), 0);
	return s;
}

/* Run a full cycle with apply; return it. */
static struct cycle
run(struct fake_host *h, const char *text)
{
	_cleanup_(test_spec_freep) struct spec *s = spec_of(text);
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };

	fake_host_new_run(h);
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	return c;
}

/* A work disk declared smaller (recorded, kept), then larger again but not
 * larger than it is: the run converges, the disk as it was, the VM running. */
START_TEST(test_work_shrink_then_grow)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *work = xasprintf("%s/vms/web/work.ext4", status_dir);
	struct cycle c;
	/* What each plan says: made, kept (smaller), kept (still not larger
	 * than it is), nothing, grown from its real size.  (No restart for a
	 * size kept: tests/data/plan/work-shrink, whose declarations are YAML;
	 * the line format's generation is a test's own.) */
	const char *sizes[] = { "2G", "1G", "1536M", "1536M", "3G" };
	const char *says[] = { "work disk 2G", "never shrunk", "never shrunk", NULL,
			       "grow the work disk 2G -> 3G" };

	for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
		_cleanup_free_ char *decl = xasprintf(IMG "vm web image=base work=%s\n", sizes[i]);

		c = run(h, decl);
		ck_assert_msg(c.res.n_failed == 0, "work=%s: %s", sizes[i], c.res.failures[0]);
		if (says[i])
			ck_assert_msg(strstr(c.text, says[i]), "work=%s:\n%s", sizes[i], c.text);
		else
			ck_assert_msg(c.empty, "not converged:\n%s", c.text);
		cycle_done(&c);
	}
	ck_assert_uint_eq(fake_host_find(h, FAKE_FILE, work)->size, 3ULL << 30);
	ck_assert_uint_eq(fake_host_count(h, FAKE_PROC), 1);
}
END_TEST

START_TEST(test_create_transcript)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *t = NULL;
	struct cycle c = { 0 };
	struct vm_status st;
	const char *want =
		"net.link_list\n"
		"nat.rule_list\n"
		"disk.list\n"
		"hv.list\n"
		"proc.random_id 352c022f\n"
		"disk.strategy_probe 0\n"
		"net.bridge_ensure banger0 10.77.0.1/24\n"
		"net.tap_ensure bgr-352c022f banger0 web\n"
		"net.forwarding_ensure\n"
		"net.uplink_resolve auto\n"
		"nat.table_ensure\n"
		"nat.vm_add 352c022f bgr-352c022f 10.77.0.2 eth0\n"
		"disk.vm_dir_create $STATUS/vms/web\n"
		"disk.strategy_probe 0\n"
		"disk.root_create dm-snapshot $STATUS/vms/web banger-352c022fc8ea\n"
		"disk.work_create_seeded $STATUS/vms/web/work.ext4 1073741824 2\n"
		"disk.vm_dir_sync $STATUS/vms/web\n"
		"hv.spawn vm=web vcpus=1 memory=512M tap=bgr-352c022f "
		"root=/dev/mapper/banger-352c022fc8ea work=$STATUS/vms/web/work.ext4\n"
		"hv.boot web 1000\n"
		"hv.ready web 1000\n"
		"net.link_list\n"
		"nat.rule_list\n"
		"disk.list\n"
		"hv.list\n";
	_cleanup_free_ char *raw = NULL;

	c = run(h, IMG FS "vm web image=base work=1G nat=yes files=dots\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	raw = fake_host_transcript(h);
	t = harness_replace(raw, status_dir, "$STATUS");
	ck_assert_str_eq(t, want);
	cycle_done(&c);

	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert_int_eq(st.phase, VM_PHASE_RUNNING);
	ck_assert_int_eq(st.pid, 1000);
	ck_assert_str_eq(st.tap, "bgr-352c022f");
	ck_assert_str_eq(st.dm_name, "banger-352c022fc8ea");
	ck_assert_int_eq(st.disk_strategy, DISK_STRATEGY_DM_SNAPSHOT);
	ck_assert(st.root_ready && st.work_ready && st.seeded);
	ck_assert_ptr_null(st.intent);
	ck_assert_ptr_null(st.last_error);
	ck_assert_uint_eq(st.ip, (10U << 24) | (77U << 16) | 2);
	ck_assert_uint_eq(st.applied.memory, 512ULL << 20);
	ck_assert(st.created_ms > 0 && st.started_ms >= st.created_ms);
	vm_status_done(&st);
}
END_TEST

/* A workspace: materialised after the file syncs, before the start, recorded. */
START_TEST(test_workspace)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *raw = NULL, *created = NULL;
	struct cycle c = { 0 };
	struct vm_status st;
	const char *ws, *spawn, *fsync;

	c = run(h, IMG FS "vm web image=base work=1G files=dots workspace=/srv/app@main "
		"state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	raw = fake_host_transcript(h);
	ck_assert_ptr_nonnull(strstr(raw, "disk.workspace_apply "));
	ck_assert_ptr_nonnull(strstr(raw, "/vms/web/work.ext4 /srv/app full_copy /root/ws\n"));
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert_ptr_nonnull(st.workspace_commit);
	ck_assert_uint_eq(strlen(st.workspace_commit), 40);
	created = xstrdup(st.workspace_commit);
	vm_status_done(&st);

	/* A running VM keeps its workspace when the declaration changes... */
	free(raw);
	c = run(h, IMG FS "vm web image=base work=1G files=dots workspace=/srv/app@dev\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	raw = fake_host_transcript(h);
	ws = strstr(raw, "disk.workspace_apply ");
	fsync = strstr(raw, "hv.spawn ");
	ck_assert_ptr_nonnull(ws);
	ck_assert_ptr_nonnull(fsync);
	ck_assert(ws < fsync);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert_str_ne(st.workspace_commit, created);
	vm_status_done(&st);
	free(raw);
	c = run(h, IMG FS "vm web image=base work=1G files=dots workspace=/srv/app@other\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	raw = fake_host_transcript(h);
	ck_assert_ptr_null(strstr(raw, "disk.workspace_apply "));
	/* ...and gets it again at its next start from stopped. */
	free(raw);
	c = run(h, IMG FS "vm web image=base work=1G files=dots workspace=/srv/app@other "
		"state=stopped\n");
	cycle_done(&c);
	raw = NULL;
	c = run(h, IMG FS "vm web image=base work=1G files=dots workspace=/srv/app@other\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	raw = fake_host_transcript(h);
	ws = strstr(raw, "disk.workspace_apply ");
	spawn = strstr(raw, "hv.spawn ");
	ck_assert_ptr_nonnull(ws);
	ck_assert_ptr_nonnull(spawn);
	ck_assert(ws < spawn);
}
END_TEST

/* The kernel command line carries the first two name servers (ip= has two fields). */
START_TEST(test_cmdline_dns)
{
	_cleanup_(test_spec_freep) struct spec *s = spec_of(IMG "vm web image=base\n");
	_cleanup_free_ char *none = NULL, *one = NULL, *three = NULL;
	uint32_t ip = (10U << 24) | (77U << 16) | 2;

	none = apply_cmdline(s, &s->images[0], &s->vms[0], ip);
	ck_assert_ptr_nonnull(strstr(none, " ip=10.77.0.2::10.77.0.1:255.255.255.0:web:eth0:off"));
	ck_assert_ptr_null(strstr(none, "eth0:off:"));
	s->host.dns = xcalloc(3, sizeof(*s->host.dns));
	s->host.dns[0] = (192U << 24) | (0U << 16) | (2U << 8) | 53;
	s->host.dns[1] = (9U << 24) | (9U << 16) | (9U << 8) | 9;
	s->host.dns[2] = (1U << 24) | (1U << 16) | (1U << 8) | 1;
	s->host.n_dns = 1;
	one = apply_cmdline(s, &s->images[0], &s->vms[0], ip);
	ck_assert_ptr_nonnull(strstr(one, ":web:eth0:off:192.0.2.53"));
	ck_assert_ptr_null(strstr(one, "192.0.2.53:"));
	s->host.n_dns = 3;
	three = apply_cmdline(s, &s->images[0], &s->vms[0], ip);
	ck_assert_ptr_nonnull(strstr(three, ":web:eth0:off:192.0.2.53:9.9.9.9"));
	ck_assert_ptr_null(strstr(three, "1.1.1.1"));
}
END_TEST

/* An uplink that cannot be resolved: the error names host.yaml, where the fix is. */
START_TEST(test_uplink_error_names_host_yaml)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_(test_spec_freep) struct spec *s = spec_of(IMG "vm web image=base nat=yes\n");
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };

	h->fail_op = "net.uplink_resolve";
	h->fail_nth = 1;
	h->fail_errno = ENODEV;
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	ck_assert_uint_eq(c.res.n_failed, 1);
	ck_assert_str_eq(c.res.failures[0], "web: nat: host.yaml: net.uplink_resolve: No such device");
	cycle_done(&c);
}
END_TEST

START_TEST(test_write_ahead_identity)
{
	/* root_create fails: the status file already names the dm target it
	 * was about to create, with the intent, and the error. */
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_(test_spec_freep) struct spec *s = spec_of(IMG "vm web image=base\n");
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };
	struct vm_status st;

	h->fail_op = "disk.root_create";
	h->fail_nth = 1;
	h->fail_errno = EIO;
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	ck_assert_uint_eq(c.res.n_failed, 1);
	ck_assert_str_eq(c.res.failures[0], "web: root: disk.root_create: Input/output error");
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert_str_eq(st.intent, "root");
	ck_assert_str_eq(st.dm_name, "banger-352c022fc8ea");
	ck_assert(!st.root_ready);
	ck_assert_int_eq(st.phase, VM_PHASE_FAILED);
	ck_assert_str_eq(st.last_error, "disk.root_create: Input/output error");
	ck_assert_ptr_null(fake_host_find(h, FAKE_DM, "banger-352c022fc8ea"));
	vm_status_done(&st);
}
END_TEST

/* The records of web put in place (renamed onto its name) that fd saw. */
static unsigned
records_written(int fd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	unsigned n = 0;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + len;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			if (ev->len && (ev->mask & IN_MOVED_TO) && strcmp(ev->name, "web.yaml") == 0)
				n++;
			p += sizeof(*ev) + ev->len;
		}
	return n;
}

/*
 * A stopped VM's creation writes its record twice: its identities before
 * the first object is made, and the result.  What the disk steps report on
 * the way (disks ready, the work disk's size) waits for the result: a run
 * cut short redoes those steps (test_crash_everywhere).
 */
START_TEST(test_create_writes_record_twice)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *vms = xasprintf("%s/vms", status_dir);
	_cleanup_close_ int fd = -EBADF;
	struct vm_status st;
	struct cycle c;

	ck_assert_int_eq(mkdir(vms, 0700), 0);
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	/* Each record's temp file made between two renames: inotify does not
	 * fold them into one event. */
	ck_assert_int_ge(inotify_add_watch(fd, vms, IN_MOVED_TO | IN_CREATE), 0);
	c = run(h, IMG "vm web image=base work=64M state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	ck_assert_uint_eq(records_written(fd), 2);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert(st.work_ready && st.root_ready);
	ck_assert_uint_eq(st.work_size, 64ULL << 20);
	vm_status_done(&st);
}
END_TEST

START_TEST(test_failure_isolated)
{
	/* The first tap fails: that VM stops there, the other is created. */
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_(test_spec_freep) struct spec *s = spec_of(IMG "vm a image=base\nvm b image=base\n");
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };
	struct vm_status st;

	h->fail_op = "net.tap_ensure";
	h->fail_nth = 1;
	h->fail_errno = EBUSY;
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	ck_assert_uint_eq(c.res.n_failed, 1);
	ck_assert_uint_eq(c.res.n_ok, 1);
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "a", &st, NULL), 0);
	ck_assert_int_eq(st.phase, VM_PHASE_FAILED);
	ck_assert_str_eq(st.last_error, "net.tap_ensure: Device or resource busy");
	vm_status_done(&st);
	ck_assert_int_eq(status_read(status_dir, "b", &st, NULL), 0);
	ck_assert_int_eq(st.phase, VM_PHASE_RUNNING);
	vm_status_done(&st);
	ck_assert_uint_eq(fake_host_count(h, FAKE_PROC), 1);
	/* The next run finishes a and clears its error. */
	c = run(h, IMG "vm a image=base\nvm b image=base\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "a", &st, NULL), 0);
	ck_assert_ptr_null(st.last_error);
	ck_assert_int_eq(st.phase, VM_PHASE_RUNNING);
	vm_status_done(&st);
}
END_TEST

START_TEST(test_guest_dies_before_ready)
{
	/* A guest that dies while booting fails at once with its console's
	 * last lines, instead of waiting out the boot timeout. */
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_(test_spec_freep) struct spec *s = spec_of(IMG "vm a image=base\n");
	struct cycle_options o = { .apply = true };
	struct cycle c = { 0 };
	struct vm_status st;
	unsigned polls = 0;

	h->guest_dies = true;
	ck_assert_int_eq(harness_cycle(status_dir, h, s, &o, &c), 0);
	ck_assert_uint_eq(c.res.n_failed, 1);
	cycle_done(&c);
	for (size_t i = 0; h->transcript && h->transcript[i]; i++)
		polls += strncmp(h->transcript[i], "hv.ready ", 9) == 0;
	ck_assert_uint_eq(polls, 1);
	ck_assert_int_eq(status_read(status_dir, "a", &st, NULL), 0);
	ck_assert_int_eq(st.phase, VM_PHASE_FAILED);
	ck_assert_str_eq(st.last_error,
			 "guest died before it was ready; console: fake: process gone");
	vm_status_done(&st);
	ck_assert_uint_eq(fake_host_count(h, FAKE_PROC), 0);
	/* Once the guest boots, the next run brings it up. */
	h->guest_dies = false;
	c = run(h, IMG "vm a image=base\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "a", &st, NULL), 0);
	ck_assert_int_eq(st.phase, VM_PHASE_RUNNING);
	vm_status_done(&st);
}
END_TEST

START_TEST(test_delete_retains_work_disk)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	struct cycle c;
	_cleanup_free_ char *kept = NULL;
	struct vm_status st;

	c = run(h, IMG "vm web image=base work=1G\n");
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	kept = status_retained_path(status_dir, "web", st.id);
	vm_status_done(&st);
	c = run(h, IMG);
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), -ENOENT);
	ck_assert_ptr_nonnull(fake_host_find(h, FAKE_FILE, kept));
	ck_assert_uint_eq(fake_host_count(h, FAKE_LINK), 0);
	ck_assert_uint_eq(fake_host_count(h, FAKE_DM), 0);
	ck_assert_uint_eq(fake_host_count(h, FAKE_LOOP), 0);
	ck_assert_uint_eq(fake_host_count(h, FAKE_DIR), 0);
	ck_assert_uint_eq(fake_host_count(h, FAKE_PROC), 0);
}
END_TEST

/*
 * Several jobs: disk steps that overlap (and end out of order: the first
 * VM's are the slowest), progress still reported in plan order, a failed
 * VM's error recorded and the others done.  The disk ops here only count;
 * the fake host's own ops (not thread-safe) are all called under apply's
 * lock.
 */
static struct {
	pthread_mutex_t lock;
	unsigned active, max_active, calls;
	char *fail_path;	/* work_create of this path fails */
} slow = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
slow_call(const char *path)
{
	pthread_mutex_lock(&slow.lock);
	slow.calls++;
	if (++slow.active > slow.max_active)
		slow.max_active = slow.active;
	pthread_mutex_unlock(&slow.lock);
	(void)usleep(strstr(path, "/vms/first") ? 40000 : 4000);
	pthread_mutex_lock(&slow.lock);
	slow.active--;
	pthread_mutex_unlock(&slow.lock);
}

static int
slow_vm_dir_create(void *userdata, const char *vm_dir, struct error **err)
{
	(void)userdata;
	(void)err;
	slow_call(vm_dir);
	return 0;
}

static int
slow_root_create(void *userdata, const struct disk_root_req *req, char **ret_device,
		 struct error **err)
{
	(void)userdata;
	(void)err;
	slow_call(req->vm_dir);
	*ret_device = xasprintf("%s/root.img", req->vm_dir);
	return 0;
}

static int
slow_work_create(void *userdata, const char *path, uint64_t size, struct error **err)
{
	(void)userdata;
	(void)size;
	slow_call(path);
	if (slow.fail_path && strcmp(path, slow.fail_path) == 0)
		return error_set(err, -ENOSPC, "no room for '%s'", path);
	return 0;
}

static int
slow_filesync_apply(void *userdata, const char *work_path, const struct filesync_entry *e,
		    size_t n, const char *state_root, struct error **err)
{
	(void)userdata;
	(void)e;
	(void)n;
	(void)state_root;
	(void)err;
	slow_call(work_path);
	return 0;
}

struct seen {
	const struct plan *p;
	long last;		/* index of the last action reported */
	bool ordered;
	size_t n;
};

static void
seen_step(void *userdata, const struct plan_change *ch, const struct plan_action *a, int r,
	  const struct error *e)
{
	struct seen *sn = userdata;
	long j = a - sn->p->actions;

	(void)r;
	(void)e;
	if (j <= sn->last || a->change != (size_t)(ch - sn->p->changes))
		sn->ordered = false;
	sn->last = j;
	sn->n++;
}

START_TEST(test_jobs)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *text = xstrdup(IMG FS);
	_cleanup_(test_spec_freep) struct spec *d = NULL;
	_cleanup_(observed_freep) struct observed *obs = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **claimed = NULL;
	struct plan_options po = { .status_dir = status_dir, .host_name = "testhost" };
	struct apply_result res = { 0 };
	struct seen sn = { .last = -1, .ordered = true };
	struct apply_options ao = { .status_dir = status_dir, .jobs = 4, .on_step = seen_step,
				    .step_userdata = &sn };
	struct error *e = NULL;
	size_t n_ok_actions = 0;

	for (int i = 0; i < 8; i++) {
		char *t = xasprintf("%svm %s%d image=base work=64M files=dots state=stopped\n", text,
				    i ? "v" : "first", i);

		free(text);
		text = t;
	}
	d = spec_of(text);
	h->disk.vm_dir_create = slow_vm_dir_create;
	h->disk.root_create = slow_root_create;
	h->disk.work_create = slow_work_create;
	h->disk.filesync_apply = slow_filesync_apply;
	/* Stand-ins only: the fake host is one object, and makes no folders here. */
	h->disk.work_create_seeded = NULL;
	h->disk.vm_dir_sync = NULL;
	h->disk.parallel = true;
	slow.fail_path = xasprintf("%s/vms/v3/work.ext4", status_dir);
	claimed = harness_claimed(d);
	fake_host_new_run(h);
	ck_assert_int_eq(observe_host(status_dir, &h->ops, claimed, &obs, &e), 0);
	ck_assert_int_eq(plan_build(d, obs, &po, &p, &e), 0);
	sn.p = p;
	ck_assert_int_eq(apply_plan(p, d, &h->ops, &ao, &res, &e), 0);

	ck_assert_uint_gt(slow.max_active, 1);
	ck_assert_uint_le(slow.max_active, 4);
	ck_assert_msg(sn.ordered, "progress not in plan order");
	ck_assert_uint_eq(res.n_ok, 7);
	ck_assert_uint_eq(res.n_failed, 1);
	ck_assert_uint_eq(strv_length(res.failures), 1);
	ck_assert_ptr_nonnull(strstr(res.failures[0], "v3: work: no room for"));
	/* Every action but v3's from its work disk on. */
	for (size_t j = 0, v3_failed = 0; j < p->n_actions; j++) {
		bool v3 = strcmp(p->changes[p->actions[j].change].vm_name, "v3") == 0;

		v3_failed |= v3 && p->actions[j].kind == ACTION_WORK;
		if (!v3 || !v3_failed)
			n_ok_actions++;
	}
	ck_assert_uint_eq(res.n_actions, n_ok_actions);
	ck_assert_uint_eq(sn.n, res.n_actions + 1);
	for (int i = 0; i < 8; i++) {
		_cleanup_free_ char *name = i ? xasprintf("v%d", i) : xstrdup("first0");
		struct vm_status st;

		ck_assert_int_eq(status_read(status_dir, name, &st, NULL), 0);
		if (i == 3) {
			ck_assert_int_eq(st.phase, VM_PHASE_FAILED);
			ck_assert_ptr_nonnull(strstr(st.last_error, "no room for"));
		} else {
			ck_assert_int_eq(st.phase, VM_PHASE_STOPPED);
			ck_assert(st.root_ready && st.work_ready && st.seeded);
		}
		vm_status_done(&st);
	}
	apply_result_done(&res);

	/* With a driver that cannot, one job: nothing overlaps. */
	plan_free(TAKE_PTR(p));
	observed_free(TAKE_PTR(obs));
	rm_tree(status_dir);
	ck_assert_int_eq(mkdir(status_dir, 0700), 0);
	h->disk.parallel = false;
	slow.max_active = 0;
	fake_host_new_run(h);
	ck_assert_int_eq(observe_host(status_dir, &h->ops, claimed, &obs, &e), 0);
	ck_assert_int_eq(plan_build(d, obs, &po, &p, &e), 0);
	sn = (struct seen){ .p = p, .last = -1, .ordered = true };
	ck_assert_int_eq(apply_plan(p, d, &h->ops, &ao, &res, &e), 0);
	ck_assert_uint_eq(slow.max_active, 1);
	ck_assert(sn.ordered);
	ck_assert_uint_eq(res.n_ok, 7);
	apply_result_done(&res);
	free(slow.fail_path);
	slow.fail_path = NULL;
}
END_TEST

/* Every object on the fake host belongs to a VM with a status file. */
static void
assert_all_claimed(struct fake_host *h, const char *ctx)
{
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ char *retained = xasprintf("%s/retained/", status_dir);
	struct vm_status *sts = NULL;
	size_t n = 0;

	ck_assert_int_eq(status_list(status_dir, &names, NULL), 0);
	for (size_t i = 0; names[i]; i++) {
		sts = xrealloc(sts, (n + 1) * sizeof(*sts));
		ck_assert_msg(status_read(status_dir, names[i], &sts[n], NULL) == 0, "%s: status %s",
			      ctx, names[i]);
		n++;
	}
	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		const char *path = o->kind == FAKE_LOOP ? o->backing : o->name;
		bool ok = false;

		for (size_t j = 0; j < n && !ok; j++) {
			const struct vm_status *s = &sts[j];
			_cleanup_free_ char *dir = status_vm_dir(status_dir, s->name);
			size_t dl = strlen(dir);
			bool in_dir = path && strncmp(path, dir, dl) == 0 && (!path[dl] || path[dl] == '/');

			switch (o->kind) {
			case FAKE_LINK:
				ok = strcmp(o->name, s->tap) == 0;
				break;
			case FAKE_RULE:
				ok = o->vm_id && strcmp(o->vm_id, s->id) == 0;
				break;
			case FAKE_DM:
				ok = strcmp(o->name, s->dm_name) == 0;
				break;
			default:
				ok = in_dir;
			}
		}
		if (o->kind == FAKE_BRIDGE || (o->kind == FAKE_FILE && strncmp(o->name, retained,
									       strlen(retained)) == 0))
			ok = true;
		ck_assert_msg(ok, "%s: unclaimed object %s", ctx, o->name);
	}
	for (size_t j = 0; j < n; j++)
		vm_status_done(&sts[j]);
	free(sts);
}

struct scenario {
	const char *name;
	const char *before;
	const char *desired;
};

static const struct scenario scenarios[] = {
	{ "create", NULL, IMG FS "vm web image=base work=1G nat=yes files=dots\n" },
	{ "stop", IMG FS "vm web image=base work=1G nat=yes files=dots\n",
	  IMG FS "vm web image=base work=1G nat=yes files=dots state=stopped\n" },
	{ "start", IMG FS "vm web image=base work=1G nat=yes files=dots state=stopped\n",
	  IMG FS "vm web image=base work=1G nat=yes files=dots\n" },
	{ "restart", IMG FS "vm web image=base work=1G nat=yes files=dots memory=1G\n",
	  IMG2 FS "vm web image=base work=1G nat=yes files=dots memory=2G\n" },
	{ "create-workspace", NULL, IMG "vm web image=base work=1G workspace=/srv/app@main\n" },
	{ "start-workspace", IMG "vm web image=base work=1G workspace=/srv/app state=stopped\n",
	  IMG "vm web image=base work=1G workspace=/srv/app@dev\n" },
	{ "delete",
	  IMG FS "vm web image=base work=1G nat=yes files=dots\nvm db image=base\nvm api image=base\n",
	  IMG FS "vm db image=base\nvm api image=base\n" },
	{ "delete-purge",
	  IMG "vm web image=base work=1G nat=yes on_delete=purge\nvm db image=base\nvm api image=base\n",
	  IMG "vm db image=base\nvm api image=base\n" },
	/* A running VM moving to another address, and one taking the address
	 * another VM had been given (which moves off it first). */
	{ "move", IMG "vm web image=base nat=yes ip=10.77.0.5\n",
	  IMG "vm web image=base nat=yes ip=10.77.0.9\n" },
	{ "claim", IMG "vm a image=base nat=yes\nvm b image=base\n",
	  IMG "vm a image=base nat=yes\nvm b image=base\nvm clash image=base ip=10.77.0.2\n" },
	{ "mac-given-up", IMG "vm a image=base mac=02:aa:bb:cc:dd:ee\n",
	  IMG "vm a image=base\nvm b image=base mac=02:aa:bb:cc:dd:ee\n" },
	/* A work disk grown under a restart. */
	{ "grow", IMG FS "vm web image=base work=1G files=dots\n",
	  IMG FS "vm web image=base work=2G files=dots\n" },
	/* Two running VMs trading addresses. */
	{ "trade", IMG "vm a image=base nat=yes ip=10.77.0.5\nvm b image=base ip=10.77.0.6\n",
	  IMG "vm a image=base nat=yes ip=10.77.0.6\nvm b image=base ip=10.77.0.5\n" },
};

/* Every guest runs on the address its record gives, and no two share one. */
static void
assert_guests_match_records(const struct fake_host *h, const char *ctx)
{
	uint32_t seen[16];
	size_t n_seen = 0;

	for (size_t i = 0; i < h->n_objs; i++) {
		const struct fake_obj *o = &h->objs[i];
		_cleanup_free_ char *vms = xasprintf("%s/vms/", status_dir);
		_cleanup_free_ char *name = NULL;
		struct vm_status st;

		if (o->kind != FAKE_PROC || !o->addr || strncmp(o->name, vms, strlen(vms)) != 0)
			continue;
		name = xstrndup(o->name + strlen(vms), strcspn(o->name + strlen(vms), "/"));
		ck_assert_msg(status_read(status_dir, name, &st, NULL) == 0, "%s: no record of %s",
			      ctx, name);
		ck_assert_msg(st.ip == o->addr, "%s: %s runs on %08x, its record says %08x", ctx,
			      name, o->addr, st.ip);
		ck_assert_msg(memcmp(st.mac, o->mac, 6) == 0, "%s: %s's guest has another MAC "
			      "than its record", ctx, name);
		vm_status_done(&st);
		for (size_t j = 0; j < n_seen; j++)
			ck_assert_msg(seen[j] != o->addr, "%s: two guests on %08x", ctx, o->addr);
		if (n_seen < ELEMENTSOF(seen))
			seen[n_seen++] = o->addr;
	}
}

/* The disk steps and the folder's sync, in the order apply called them. */
static char *disk_calls;
static struct disk_ops real_disk;

static void
disk_call(const char *what, const char *path)
{
	char *t = xasprintf("%s%s %s\n", disk_calls ? disk_calls : "", what, path);

	free(disk_calls);
	disk_calls = t;
}

static int
rec_root_create(void *ud, const struct disk_root_req *req, char **ret, struct error **err)
{
	disk_call("root", req->vm_dir);
	return real_disk.root_create(ud, req, ret, err);
}

static int
rec_work_create(void *ud, const char *path, uint64_t size, struct error **err)
{
	disk_call("work", path);
	return real_disk.work_create(ud, path, size, err);
}

static int
rec_vm_dir_sync(void *ud, const char *vm_dir, struct error **err)
{
	(void)ud;
	(void)err;
	disk_call("sync", vm_dir);
	return 0;
}

static int
rec_filesync_apply(void *ud, const char *work_path, const struct filesync_entry *e, size_t n,
		   const char *state_root, struct error **err)
{
	disk_call("files", work_path);
	return real_disk.filesync_apply(ud, work_path, e, n, state_root, err);
}

static int seeded_answer;	/* what rec_work_create_seeded returns after making the disk */

static int
rec_work_create_seeded(void *ud, const char *path, uint64_t size, const struct filesync_entry *e,
		       size_t n, const char *state_root, struct error **err)
{
	(void)state_root;
	disk_call("work+files", path);
	/* The declared entry and the list of guest paths. */
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(e[1].guest, PLAN_SYNCS_GUEST_PATH);
	if (seeded_answer < 0)
		return error_set(err, -EIO, "seeding failed");
	return seeded_answer > 0 ? real_disk.work_create(ud, path, size, err) >= 0 : 0;
}

/* A driver that seeds new work disks: the file-sync step is left out when it
 * did; when it made nothing (0), or failed, the step runs as before. */
START_TEST(test_work_seeded)
{
	static const int answers[] = { 1, -1 };

	for (size_t i = 0; i < ELEMENTSOF(answers); i++) {
		_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
		_cleanup_free_ char *t = NULL;
		struct cycle c;
		struct vm_status st;

		rm_tree(status_dir);
		ck_assert_int_eq(mkdir(status_dir, 0700), 0);
		real_disk = h->disk;
		h->disk.work_create = rec_work_create;
		h->disk.work_create_seeded = rec_work_create_seeded;
		h->disk.filesync_apply = rec_filesync_apply;
		seeded_answer = answers[i];
		c = run(h, IMG FS "vm web image=base work=64M files=dots state=stopped\n");
		ck_assert_uint_eq(c.res.n_failed, 0);
		cycle_done(&c);
		t = harness_replace(disk_calls, status_dir, "$S");
		if (answers[i] > 0)
			ck_assert_str_eq(t, "work+files $S/vms/web/work.ext4\n");
		else
			ck_assert_str_eq(t, "work+files $S/vms/web/work.ext4\n"
					    "work $S/vms/web/work.ext4\n"
					    "files $S/vms/web/work.ext4\n");
		free(disk_calls);
		disk_calls = NULL;
		ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
		ck_assert(st.work_ready && st.seeded);
		vm_status_done(&st);
	}
}
END_TEST

/* One sync of the VM's folder per change, after its last disk step and
 * before the file syncs (and the start); none when no disk was made. */
START_TEST(test_vm_dir_synced_once)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *t = NULL;
	struct cycle c;

	real_disk = h->disk;
	h->disk.root_create = rec_root_create;
	h->disk.work_create = rec_work_create;
	h->disk.work_create_seeded = NULL;
	h->disk.vm_dir_sync = rec_vm_dir_sync;
	h->disk.filesync_apply = rec_filesync_apply;
	c = run(h, IMG FS "vm web image=base work=64M files=dots\n"
		"vm db image=base work=0 state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	t = harness_replace(disk_calls, status_dir, "$S");
	ck_assert_str_eq(t, "root $S/vms/db\n"
			    "sync $S/vms/db\n"
			    "root $S/vms/web\n"
			    "work $S/vms/web/work.ext4\n"
			    "sync $S/vms/web\n"
			    "files $S/vms/web/work.ext4\n");
	free(disk_calls);
	disk_calls = NULL;
	/* Converged: nothing made, nothing synced. */
	c = run(h, IMG FS "vm web image=base work=64M files=dots\n"
		"vm db image=base work=0 state=stopped\n");
	cycle_done(&c);
	ck_assert_ptr_null(disk_calls);
}
END_TEST

static int sync_fails;	/* rec_vm_dir_sync: fail with this (0: no) */

static int
fail_work_create(void *ud, const char *path, uint64_t size, struct error **err)
{
	(void)ud;
	(void)size;
	disk_call("work", path);
	return error_set(err, -ENOSPC, "no space");
}

static int
flaky_vm_dir_sync(void *ud, const char *vm_dir, struct error **err)
{
	if (sync_fails) {
		disk_call("sync-failed", vm_dir);
		return error_set(err, sync_fails, "sync failed");
	}
	return rec_vm_dir_sync(ud, vm_dir, err);
}

/*
 * The root disk made, its folder's sync left to the work disk's step, which
 * fails: the folder is synced before the failure record keeps the root disk
 * as made.  When that sync fails too, the record does not say the root disk
 * is there, and the next run makes sure of it and syncs.
 */
START_TEST(test_vm_dir_synced_on_failure)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *t = NULL;
	struct cycle c;
	struct vm_status st;

	real_disk = h->disk;
	h->disk.root_create = rec_root_create;
	h->disk.work_create = fail_work_create;
	h->disk.work_create_seeded = NULL;
	h->disk.vm_dir_sync = flaky_vm_dir_sync;
	sync_fails = 0;
	c = run(h, IMG "vm web image=base work=64M state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 1);
	cycle_done(&c);
	t = harness_replace(disk_calls, status_dir, "$S");
	ck_assert_str_eq(t, "root $S/vms/web\n"
			    "work $S/vms/web/work.ext4\n"
			    "sync $S/vms/web\n");
	ck_assert_int_eq(status_read(status_dir, "web", &st, NULL), 0);
	ck_assert(st.root_ready);
	ck_assert(!st.work_ready);
	vm_status_done(&st);
	free(disk_calls);
	disk_calls = NULL;
	free(t);

	/* Again, the sync failing too: the root disk is not recorded as made. */
	c = run(h, IMG "vm db image=base work=64M state=stopped\n");
	cycle_done(&c);
	free(disk_calls);
	disk_calls = NULL;
	sync_fails = -EIO;
	c = run(h, IMG "vm db image=base work=64M state=stopped\n"
		"vm app image=base work=64M state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 2);
	cycle_done(&c);
	ck_assert_int_eq(status_read(status_dir, "app", &st, NULL), 0);
	ck_assert(!st.root_ready);
	vm_status_done(&st);
	free(disk_calls);
	disk_calls = NULL;

	/* The disks come back: root made sure of again, then the folder synced. */
	sync_fails = 0;
	h->disk.work_create = rec_work_create;
	c = run(h, IMG "vm app image=base work=64M state=stopped\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	t = harness_replace(disk_calls, status_dir, "$S");
	ck_assert_str_eq(t, "root $S/vms/app\n"
			    "work $S/vms/app/work.ext4\n"
			    "sync $S/vms/app\n");
	free(disk_calls);
	disk_calls = NULL;
}
END_TEST

static int
rec_work_recover(void *ud, const char *path, struct error **err)
{
	(void)ud;
	(void)err;
	disk_call("recover", path);
	return 0;
}

/* A start first puts back a work disk a killed run left half changed. */
START_TEST(test_start_recovers_work_disk)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *t = NULL;
	struct cycle c;

	h->disk.work_recover = rec_work_recover;
	c = run(h, IMG "vm web image=base work=64M\nvm db image=base work=0\n");
	ck_assert_uint_eq(c.res.n_failed, 0);
	cycle_done(&c);
	t = harness_replace(disk_calls, status_dir, "$S");
	ck_assert_str_eq(t, "recover $S/vms/web/work.ext4\n");
	free(disk_calls);
	disk_calls = NULL;
}
END_TEST

/* How many tap_ensure and vm_add calls were under way at once. */
static struct {
	pthread_mutex_t lock;
	unsigned taps, nats, max_taps, max_nats, max_both;
} busy = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void
busy_call(unsigned *n, unsigned *max)
{
	pthread_mutex_lock(&busy.lock);
	if (++*n > *max)
		*max = *n;
	if (busy.taps + busy.nats > busy.max_both)
		busy.max_both = busy.taps + busy.nats;
	pthread_mutex_unlock(&busy.lock);
	(void)usleep(3000);
	pthread_mutex_lock(&busy.lock);
	--*n;
	pthread_mutex_unlock(&busy.lock);
}

static int
busy_tap_ensure(void *ud, const char *tap, const char *bridge, const char *vm_name,
		const char *vm_id, struct error **err)
{
	(void)ud;
	(void)tap;
	(void)bridge;
	(void)vm_name;
	(void)vm_id;
	(void)err;
	busy_call(&busy.taps, &busy.max_taps);
	return 0;
}

static int
busy_vm_add(void *ud, const char *vm_id, const char *tap, uint32_t ip, const char *uplink,
	    struct error **err)
{
	(void)ud;
	(void)vm_id;
	(void)tap;
	(void)ip;
	(void)uplink;
	(void)err;
	busy_call(&busy.nats, &busy.max_nats);
	return 0;
}

static int
ok_bridge_ensure(void *ud, const char *name, uint32_t addr, unsigned prefix, struct error **err)
{
	(void)ud;
	(void)name;
	(void)addr;
	(void)prefix;
	(void)err;
	return 0;
}

static int
ok_ensure(void *ud, struct error **err)
{
	(void)ud;
	(void)err;
	return 0;
}

static int
ok_uplink(void *ud, const char *want, char **ret, struct error **err)
{
	(void)ud;
	(void)want;
	(void)err;
	*ret = xstrdup("eth0");
	return 0;
}

/* With several jobs, one VM's tap is made while another's NAT rule goes in,
 * but each driver is called by one worker at a time. */
START_TEST(test_net_nat_locks)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_free_ char *text = xstrdup(IMG);
	_cleanup_(test_spec_freep) struct spec *d = NULL;
	_cleanup_(observed_freep) struct observed *obs = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **claimed = NULL;
	struct plan_options po = { .status_dir = status_dir, .host_name = "testhost" };
	struct apply_options ao = { .status_dir = status_dir, .jobs = 4 };
	struct apply_result res = { 0 };
	struct error *e = NULL;

	for (int i = 0; i < 8; i++) {
		char *t = xasprintf("%svm v%d image=base work=64M nat=yes state=stopped\n", text, i);

		free(text);
		text = t;
	}
	d = spec_of(text);
	claimed = harness_claimed(d);
	fake_host_new_run(h);
	ck_assert_int_eq(observe_host(status_dir, &h->ops, claimed, &obs, &e), 0);
	ck_assert_int_eq(plan_build(d, obs, &po, &p, &e), 0);
	/* Only stand-ins from here: the fake host is one object, not to be
	 * used by two drivers at once. */
	h->net.tap_ensure = busy_tap_ensure;
	h->disk.work_create_seeded = NULL;
	h->disk.vm_dir_sync = NULL;
	h->net.bridge_ensure = ok_bridge_ensure;
	h->net.forwarding_ensure = ok_ensure;
	h->net.uplink_resolve = ok_uplink;
	h->nat.table_ensure = ok_ensure;
	h->nat.vm_add = busy_vm_add;
	h->disk.vm_dir_create = slow_vm_dir_create;
	h->disk.root_create = slow_root_create;
	h->disk.work_create = slow_work_create;
	h->disk.filesync_apply = slow_filesync_apply;
	/* Stand-ins only: the fake host is one object, and makes no folders here. */
	h->disk.work_create_seeded = NULL;
	h->disk.vm_dir_sync = NULL;
	h->disk.parallel = true;
	ck_assert_int_eq(apply_plan(p, d, &h->ops, &ao, &res, &e), 0);
	ck_assert_uint_eq(res.n_ok, 8);
	ck_assert_uint_eq(busy.max_taps, 1);
	ck_assert_uint_eq(busy.max_nats, 1);
	ck_assert_uint_eq(busy.max_both, 2);
	apply_result_done(&res);
}
END_TEST

/* What the file-sync step was given, entry by entry. */
static char *synced_entries;

static int
record_filesync_apply(void *userdata, const char *work_path, const struct filesync_entry *e,
		      size_t n, const char *state_root, struct error **err)
{
	(void)userdata;
	(void)work_path;
	(void)state_root;
	(void)err;
	for (size_t i = 0; i < n; i++) {
		char *t = xasprintf("%s%s %s %04o [%.*s]\n", synced_entries ? synced_entries : "",
				    e[i].host ? e[i].host : "-", e[i].guest,
				    e[i].mode >= 0 ? (unsigned)e[i].mode : 0U,
				    e[i].content ? (int)e[i].content_len : 0,
				    e[i].content ? e[i].content : "");

		free(synced_entries);
		synced_entries = t;
	}
	return 0;
}

static struct disk_ops fake_disk;	/* the fake host's own, under the recorders */

static int
record_work_create_seeded(void *userdata, const char *path, uint64_t size,
			  const struct filesync_entry *e, size_t n, const char *state_root,
			  struct error **err)
{
	int r = record_filesync_apply(userdata, path, e, n, state_root, err);

	return r < 0 ? r : fake_disk.work_create_seeded(userdata, path, size, e, n, state_root, err);
}

/* The keys reach the work disk as bytes of the entry, banger's first, and
 * the VM's folder holds no copy (an old one, or its temp file, is removed):
 * by the file-sync step (_i 0) or with a new disk that gets them (_i 1). */
START_TEST(test_keys_synced_from_memory)
{
	_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
	_cleanup_(test_spec_freep) struct spec *d = spec_of(IMG FS
		"vm web image=base work=64M files=dots state=stopped\n");
	_cleanup_(observed_freep) struct observed *obs = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **claimed = NULL;
	_cleanup_free_ char *vm_dir = xasprintf("%s/vms/web", status_dir);
	_cleanup_free_ char *old = xasprintf("%s/authorized_keys", vm_dir);
	_cleanup_free_ char *old_tmp = xasprintf("%s.tmp", old);
	struct plan_options po = { .status_dir = status_dir, .host_name = "testhost" };
	struct apply_options ao = { .status_dir = status_dir,
				    .ssh_pubkey = "ssh-ed25519 AAAAbanger banger@host" };
	struct apply_result res = { 0 };
	struct error *e = NULL;

	d->vms[0].ssh_authorized_keys = strv_append(NULL, "ssh-ed25519 AAAAuser user@x");
	d->vms[0].ssh_authorized_keys = strv_append(d->vms[0].ssh_authorized_keys,
						    "ssh-rsa AAAAother other@y");
	fake_disk = h->disk;
	h->disk.filesync_apply = record_filesync_apply;
	h->disk.work_create_seeded = _i ? record_work_create_seeded : NULL;
	ck_assert_int_eq(mkdir_p(vm_dir, 0700), 0);
	ck_assert_int_eq(write_file_atomic(old, "stale\n", 6, 0600), 0);
	ck_assert_int_eq(write_file_atomic(old_tmp, "stale\n", 6, 0600), 0);
	claimed = harness_claimed(d);
	fake_host_new_run(h);
	ck_assert_int_eq(observe_host(status_dir, &h->ops, claimed, &obs, &e), 0);
	ck_assert_int_eq(plan_build(d, obs, &po, &p, &e), 0);
	ck_assert_int_eq(apply_plan(p, d, &h->ops, &ao, &res, &e), 0);
	ck_assert_uint_eq(res.n_failed, 0);
	/* The declared entries, the list of their guest paths, the keys. */
	ck_assert_str_eq(synced_entries,
			 "/etc/hosts /etc/hosts 0000 []\n"
			 "- " PLAN_SYNCS_GUEST_PATH " 0600 [/etc/hosts\n]\n"
			 "- " PLAN_KEYS_GUEST_PATH " 0600 [ssh-ed25519 AAAAbanger banger@host\n"
			 "ssh-ed25519 AAAAuser user@x\nssh-rsa AAAAother other@y\n]\n");
	ck_assert_int_eq(access(old, F_OK), -1);
	ck_assert_int_eq(access(old_tmp, F_OK), -1);
	apply_result_done(&res);
	free(synced_entries);
	synced_entries = NULL;

	/* Its file syncs all gone: the list is written again, empty (an old
	 * one would have the guest put back what is no longer declared). */
	{
		_cleanup_(test_spec_freep) struct spec *d2 = spec_of(IMG FS
			"vm web image=base work=64M state=stopped\n");
		_cleanup_(observed_freep) struct observed *obs2 = NULL;
		_cleanup_(plan_freep) struct plan *p2 = NULL;
		_cleanup_strv_free_ char **claimed2 = harness_claimed(d2);

		d2->vms[0].ssh_authorized_keys = strv_append(NULL, "ssh-ed25519 AAAAuser user@x");
		fake_host_new_run(h);
		ck_assert_int_eq(observe_host(status_dir, &h->ops, claimed2, &obs2, &e), 0);
		ck_assert_int_eq(plan_build(d2, obs2, &po, &p2, &e), 0);
		ck_assert_int_eq(apply_plan(p2, d2, &h->ops, &ao, &res, &e), 0);
		ck_assert_uint_eq(res.n_failed, 0);
		ck_assert_ptr_nonnull(synced_entries);
		ck_assert_ptr_nonnull(strstr(synced_entries, "- " PLAN_SYNCS_GUEST_PATH " 0600 []\n"));
		apply_result_done(&res);
		free(synced_entries);
		synced_entries = NULL;
	}
}
END_TEST

START_TEST(test_crash_everywhere)
{
	const struct scenario *sc = &scenarios[_i];
	unsigned total;

	/* Count the side effects of an uninterrupted run. */
	{
		_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
		struct cycle c;

		if (sc->before) {
			c = run(h, sc->before);
			cycle_done(&c);
		}
		c = run(h, sc->desired);
		ck_assert_uint_eq(c.res.n_failed, 0);
		total = h->effects;
		cycle_done(&c);
		rm_tree(status_dir);
		ck_assert_int_eq(mkdir(status_dir, 0700), 0);
	}
	ck_assert_uint_gt(total, 3);
	for (unsigned n = 1; n <= total; n++) {
		_cleanup_(fake_host_freep) struct fake_host *h = fake_host_new();
		_cleanup_(test_spec_freep) struct spec *d = spec_of(sc->desired);
		struct cycle_options o = { .apply = true };
		struct cycle c = { 0 };
		char ctx[64];

		snprintf(ctx, sizeof(ctx), "%s: crash after %u of %u", sc->name, n, total);
		if (sc->before) {
			c = run(h, sc->before);
			cycle_done(&c);
		}
		fake_host_new_run(h);
		h->crash_after = n;
		ck_assert_int_eq(harness_cycle(status_dir, h, d, &o, &c), 0);
		ck_assert_msg(h->crashed && c.apply_r == -ECANCELED, "%s: did not crash", ctx);
		cycle_done(&c);

		/* The next run on the same host converges... */
		c = run(h, sc->desired);
		ck_assert_msg(c.res.n_failed == 0, "%s: rerun failed: %s", ctx, c.res.failures[0]);
		ck_assert_msg(c.n_orphans_after == 0, "%s: %zu orphans", ctx, c.n_orphans_after);
		cycle_done(&c);
		c = run(h, sc->desired);
		ck_assert_msg(c.empty, "%s: not converged:\n%s", ctx, c.text);
		cycle_done(&c);
		/* ...and leaves nothing no VM claims, every guest where its
		 * record says. */
		assert_all_claimed(h, ctx);
		assert_guests_match_records(h, ctx);
		ck_assert_msg(h->clashes == 0, "%s: a guest started beside another with its "
					       "address or MAC", ctx);
		rm_tree(status_dir);
		ck_assert_int_eq(mkdir(status_dir, 0700), 0);
	}
}
END_TEST

static Suite *
apply_suite(void)
{
	Suite *s = suite_create("apply");
	TCase *tc = tcase_create("apply");
	TCase *crash = tcase_create("crash");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_transcript);
	tcase_add_test(tc, test_work_shrink_then_grow);
	tcase_add_test(tc, test_workspace);
	tcase_add_test(tc, test_write_ahead_identity);
	tcase_add_test(tc, test_create_writes_record_twice);
	tcase_add_test(tc, test_uplink_error_names_host_yaml);
	tcase_add_test(tc, test_cmdline_dns);
	tcase_add_test(tc, test_failure_isolated);
	tcase_add_test(tc, test_guest_dies_before_ready);
	tcase_add_test(tc, test_delete_retains_work_disk);
	tcase_add_test(tc, test_jobs);
	tcase_add_loop_test(tc, test_keys_synced_from_memory, 0, 2);
	tcase_add_test(tc, test_vm_dir_synced_once);
	tcase_add_test(tc, test_vm_dir_synced_on_failure);
	tcase_add_test(tc, test_start_recovers_work_disk);
	tcase_add_test(tc, test_work_seeded);
	tcase_add_test(tc, test_net_nat_locks);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(crash, setup, teardown);
	tcase_add_loop_test(crash, test_crash_everywhere, 0, (int)ELEMENTSOF(scenarios));
	tcase_set_timeout(crash, 120);
	suite_add_tcase(s, crash);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(apply_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
