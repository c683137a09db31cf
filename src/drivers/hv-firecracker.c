/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Firecracker backend of struct hv_ops.  Process handling (spawn, liveness,
 * signals, console) comes from hv-common; the API calls follow
 * firecracker-api.yaml and go through fc-http.  Must not depend on the
 * reconciler, status or spec parsing.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drivers/fc-http.h"
#include "drivers/hv-common.h"
#include "drivers/hv-firecracker.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"

#define MIB (UINT64_C(1) << 20)
#define POLL_MS 10
#define DEFAULT_API_TIMEOUT_MS 5000
#define DEFAULT_SOCKET_WAIT_MS 10000

struct fc_state {
	struct hv_firecracker_options opts;
};

void
fc_calls_free(struct fc_call *c, size_t n)
{
	if (!c)
		return;
	for (size_t i = 0; i < n; i++) {
		free(c[i].path);
		free(c[i].body);
	}
	free(c);
}

/* Append a call; takes the reference on body. */
static void
calls_add(struct fc_call **calls, size_t *n, const char *method, char *path, json_t *body)
{
	struct fc_call *c;
	char *s;

	s = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!s)
		abort();	/* only fails on out of memory */
	*calls = xappend(*calls, n, sizeof(**calls), (void **)&c);
	c->method = method;
	c->path = path;
	c->body = xstrdup(s);
	free(s);
}

static void
json_set_str(json_t *o, const char *key, const char *value)
{
	if (json_object_set_new(o, key, json_string(value)) < 0)
		abort();
}

static void
json_set(json_t *o, const char *key, json_t *value)
{
	if (!value || json_object_set_new(o, key, value) < 0)
		abort();
}

static json_t *
drive_body(const char *id, const char *path, bool root)
{
	json_t *o = json_object();

	if (!o)
		abort();
	json_set_str(o, "drive_id", id);
	json_set_str(o, "path_on_host", path);
	json_set(o, "is_root_device", json_boolean(root));
	json_set(o, "is_read_only", json_false());
	return o;
}

int
fc_boot_calls(const struct hv_config *cfg, struct fc_call **ret, size_t *ret_n,
	      struct error **err)
{
	struct fc_call *calls = NULL;
	size_t n = 0;
	json_t *o;

	if (cfg->memory == 0 || cfg->memory % MIB != 0)
		return error_set(err, -EINVAL, "memory %llu is not a whole number of MiB",
				 (unsigned long long)cfg->memory);
	if (cfg->memory / MIB > INT64_MAX)
		return error_set(err, -ERANGE, "memory %llu too large",
				 (unsigned long long)cfg->memory);
	if (!cfg->kernel)
		return error_set(err, -EINVAL, "no kernel given");
	if (!cfg->root_disk)
		return error_set(err, -EINVAL, "no root disk given");

	o = json_object();
	if (!o)
		abort();
	json_set(o, "vcpu_count", json_integer((json_int_t)cfg->vcpus));
	json_set(o, "mem_size_mib", json_integer((json_int_t)(cfg->memory / MIB)));
	calls_add(&calls, &n, "PUT", xstrdup("/machine-config"), o);

	o = json_object();
	if (!o)
		abort();
	json_set_str(o, "kernel_image_path", cfg->kernel);
	if (cfg->cmdline)
		json_set_str(o, "boot_args", cfg->cmdline);
	if (cfg->initrd)
		json_set_str(o, "initrd_path", cfg->initrd);
	calls_add(&calls, &n, "PUT", xstrdup("/boot-source"), o);

	calls_add(&calls, &n, "PUT", xstrdup("/drives/" FC_DRIVE_ROOT),
		  drive_body(FC_DRIVE_ROOT, cfg->root_disk, true));
	if (cfg->work_disk)
		calls_add(&calls, &n, "PUT", xstrdup("/drives/" FC_DRIVE_WORK),
			  drive_body(FC_DRIVE_WORK, cfg->work_disk, false));

	if (cfg->tap) {
		char mac[18];

		snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", cfg->mac[0],
			 cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4], cfg->mac[5]);
		o = json_object();
		if (!o)
			abort();
		json_set_str(o, "iface_id", FC_IFACE);
		json_set_str(o, "host_dev_name", cfg->tap);
		json_set_str(o, "guest_mac", mac);
		calls_add(&calls, &n, "PUT", xstrdup("/network-interfaces/" FC_IFACE), o);
	}

	o = json_object();
	if (!o)
		abort();
	json_set_str(o, "action_type", "InstanceStart");
	calls_add(&calls, &n, "PUT", xstrdup("/actions"), o);

	*ret = calls;
	*ret_n = n;
	return 0;
}

/*
 * One API call; a non-2xx answer becomes an error whose text is the
 * fault_message Firecracker gave (400: -EINVAL, 413: -EMSGSIZE, else -EIO).
 * The answer is handed back in *ret when asked for.
 */
static int
api_call(const struct fc_state *st, const char *socket_path, const char *method,
	 const char *path, const char *body, struct fc_http_response *ret, struct error **err)
{
	struct fc_http_response resp = { 0 };
	_cleanup_free_ char *fault = NULL;
	int r;

	r = fc_http_call(socket_path, method, path, body, st->opts.api_timeout_ms, &resp, err);
	if (r < 0)
		return r;
	if (resp.status >= 200 && resp.status < 300) {
		if (ret)
			*ret = resp;
		else
			fc_http_response_done(&resp);
		return 0;
	}
	fault = fc_http_fault_message(resp.body, resp.body_len);
	r = resp.status == 400 ? -EINVAL : resp.status == 413 ? -EMSGSIZE : -EIO;
	if (fault && resp.status >= 400 && resp.status < 500)
		error_set(err, r, "%s %s: %s", method, path, fault);
	else
		error_set(err, r, "%s %s: http status %d%s%s", method, path, resp.status,
			  fault ? ": " : "", fault ? fault : "");
	fc_http_response_done(&resp);
	return r;
}

static bool
kind_ok(enum hypervisor_kind kind)
{
	return kind == HYPERVISOR_FIRECRACKER;
}

static int
check_socket_path(const char *path, struct error **err)
{
	struct sockaddr_un sa;

	if (!path || path[0] != '/')
		return error_set(err, -EINVAL, "api socket '%s' is not an absolute path",
				 path ? path : "");
	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "api socket '%s' is longer than %zu bytes",
				 path, sizeof(sa.sun_path) - 1);
	return 0;
}

/* Remove a socket left by a dead process; anything else at path is refused. */
static int
remove_stale_socket(const char *path, struct error **err)
{
	struct stat st;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return error_set(err, -errno, "stat '%s': %s", path, strerror(errno));
	}
	if (!S_ISSOCK(st.st_mode))
		return error_set(err, -EEXIST, "'%s' exists and is not a socket", path);
	if (st.st_uid != geteuid())
		return error_set(err, -EPERM, "'%s' is another user's socket: left alone", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return error_set(err, -errno, "remove stale socket '%s': %s", path,
				 strerror(errno));
	return 0;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
fc_spawn(void *userdata, const struct hv_config *cfg, pid_t *ret_pid, struct error **err)
{
	const char *binary = cfg->binary ? cfg->binary : "firecracker";
	int r;

	(void)userdata;
	if (!kind_ok(cfg->kind))
		return error_set(err, -EINVAL, "vm '%s' does not use firecracker",
				 cfg->vm_name ? cfg->vm_name : "");
	if (!cfg->vm_name || !name_is_dns_label(cfg->vm_name))
		return error_set(err, -EINVAL, "invalid vm name '%s'",
				 cfg->vm_name ? cfg->vm_name : "");
	if (!cfg->console_log)
		return error_set(err, -EINVAL, "no console log given");
	r = check_socket_path(cfg->api_socket, err);
	if (r < 0)
		return r;
	/* A socket that still answers belongs to a live VMM: never steal it. */
	if (fc_http_socket_ready(cfg->api_socket))
		return error_set(err, -EBUSY, "api socket '%s' is in use", cfg->api_socket);
	r = remove_stale_socket(cfg->api_socket, err);
	if (r < 0)
		return r;

	/* The instance id is the VM name: a DNS label always fits Firecracker's
	 * [A-Za-z0-9-]{1,64}. */
	_cleanup_free_ char *a0 = xstrdup(binary), *a1 = xstrdup("--api-sock"),
			    *a2 = xstrdup(cfg->api_socket), *a3 = xstrdup("--id"),
			    *a4 = xstrdup(cfg->vm_name);
	char *const argv[] = { a0, a1, a2, a3, a4, NULL };

	return hv_spawn_detached(argv, cfg->console_log, ret_pid, err);
}

/* The last non-empty console line, or NULL. */
static char *
console_last_line(const char *console_log)
{
	_cleanup_free_ char *tail = NULL;
	struct error *e = NULL;
	bool ready;
	char *end, *start;

	if (!console_log || hv_console_ready(console_log, &ready, &tail, 5, &e) < 0) {
		/* Only decorates another error: losing it costs a hint, nothing more. */
		(void)error_free(e);
		return NULL;
	}
	if (!tail)
		return NULL;
	end = tail + strlen(tail);
	while (end > tail && (end[-1] == '\n' || end[-1] == '\r' || end[-1] == ' '))
		end--;
	*end = '\0';
	start = strrchr(tail, '\n');
	start = start ? start + 1 : tail;
	return *start ? xstrdup(start) : NULL;
}

/*
 * Has pid ended (no such process, or a zombie)?  Right after spawn the child
 * may not have exec'd yet, so its command line is still its parent's and
 * hv_process_alive() says no: that process is not gone.
 */
static bool
pid_gone(pid_t pid)
{
	_cleanup_free_ char *path = NULL, *stat = NULL;
	const char *p;
	size_t len = 0;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	path = xasprintf("/proc/%d/stat", (int)pid);
	if (read_file(path, 64 * 1024, &stat, &len) < 0)
		return true;
	p = strrchr(stat, ')');
	return !p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X';
}

/* Wait until the api socket accepts connections while pid lives. */
static int
wait_socket(const struct fc_state *st, const struct hv_config *cfg, pid_t pid,
	    struct error **err)
{
	uint64_t deadline = mono_ms() + st->opts.socket_wait_ms;

	for (;;) {
		bool alive = false;
		int r;

		if (fc_http_socket_ready(cfg->api_socket))
			return 0;
		r = hv_process_alive(pid, cfg->api_socket, &alive, err);
		if (r < 0)
			return r;
		if (!alive && pid_gone(pid)) {
			_cleanup_free_ char *last = console_last_line(cfg->console_log);

			return error_set(err, -ESRCH,
					 "firecracker (pid %d) exited before its api socket "
					 "appeared%s%s",
					 (int)pid, last ? ": " : "", last ? last : "");
		}
		if (mono_ms() >= deadline)
			return error_set(err, -ETIMEDOUT,
					 "api socket '%s' not ready after %u ms", cfg->api_socket,
					 st->opts.socket_wait_ms);
		(void)poll(NULL, 0, POLL_MS);
	}
}

/* GET / must show a Firecracker instance that has not started yet. */
static int
check_instance(const struct fc_state *st, const char *socket_path, struct error **err)
{
	struct fc_http_response resp = { 0 };
	json_auto_t *root = NULL;
	const char *state;
	int r;

	r = api_call(st, socket_path, "GET", "/", NULL, &resp, err);
	if (r < 0)
		return r;
	root = json_loadb(resp.body, resp.body_len, 0, NULL);
	fc_http_response_done(&resp);
	state = json_string_value(json_object_get(root, "state"));
	if (!state)
		return error_set(err, -EBADMSG, "GET /: answer without an instance state");
	if (strcmp(state, "Not started") != 0)
		return error_set(err, -EBUSY, "instance already in state '%s'", state);
	return 0;
}

static int
fc_boot(void *userdata, const struct hv_config *cfg, pid_t pid, struct error **err)
{
	const struct fc_state *st = userdata;
	struct fc_call *calls = NULL;
	size_t n = 0;
	int r;

	if (!kind_ok(cfg->kind))
		return error_set(err, -EINVAL, "vm '%s' does not use firecracker",
				 cfg->vm_name ? cfg->vm_name : "");
	r = check_socket_path(cfg->api_socket, err);
	if (r < 0)
		return r;
	r = fc_boot_calls(cfg, &calls, &n, err);
	if (r < 0)
		return r;
	r = wait_socket(st, cfg, pid, err);
	if (r >= 0)
		r = check_instance(st, cfg->api_socket, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = api_call(st, cfg->api_socket, calls[i].method, calls[i].path, calls[i].body,
			     NULL, err);
	fc_calls_free(calls, n);
	return r < 0 ? r : 0;
}

static int
fc_alive(void *userdata, pid_t pid, const char *api_socket, bool *ret, struct error **err)
{
	(void)userdata;
	return hv_process_alive(pid, api_socket, ret, err);
}

static int
fc_ready(void *userdata, const struct hv_config *cfg, pid_t pid, bool *ret_ready,
	 char **ret_tail, struct error **err)
{
	bool ready = false, alive = false;
	char *tail = NULL;
	int r;

	(void)userdata;
	r = hv_console_ready(cfg->console_log, &ready, NULL, 0, err);
	if (r < 0)
		return r;
	/* After the console: a guest that said ready and then died is not ready. */
	r = hv_process_alive(pid, cfg->api_socket, &alive, err);
	if (r < 0)
		return r;
	if (!alive) {
		ready = false;
		if (ret_tail) {
			bool dummy;

			r = hv_console_ready(cfg->console_log, &dummy, &tail, 20, err);
			if (r < 0)
				return r;
			if (!tail)
				tail = xstrdup("");
		}
	}
	*ret_ready = ready;
	if (ret_tail)
		*ret_tail = tail;
	return 0;
}

/* Hand a local error up (or drop it when nobody listens); returns r. */
static int
error_pass(struct error **err, struct error *e, int r)
{
	if (err && !*err)
		*err = e;
	else
		(void)error_free(e);
	return r;
}

/*
 * Stop in three steps, the whole bounded by timeout_ms:
 *   1. PUT /actions SendCtrlAltDel (the guest reboots, Firecracker exits on
 *      the CPU reset), then wait up to 3/5 of the time;
 *   2. SIGTERM, wait up to 1/4;
 *   3. SIGKILL, wait for the rest (at least 100 ms).
 * Then remove the api socket unless another process serves it.  A process
 * already gone, or a pid that is not this VM's, is success.
 */
static int
fc_stop(void *userdata, enum hypervisor_kind kind, pid_t pid, const char *api_socket,
	unsigned timeout_ms, struct error **err)
{
	const struct fc_state *st = userdata;
	uint64_t start = mono_ms();
	unsigned graceful_ms = timeout_ms / 5 * 3, term_ms = timeout_ms / 4, kill_ms;
	bool alive = false, gone = false;
	int r;

	if (!kind_ok(kind))
		return error_set(err, -EINVAL, "not a firecracker process");
	r = check_socket_path(api_socket, err);
	if (r < 0)
		return r;
	kill_ms = timeout_ms - graceful_ms - term_ms;
	if (kill_ms < 100)
		kill_ms = 100;

	r = hv_process_alive(pid, api_socket, &alive, err);
	if (r < 0)
		return r;
	if (alive && graceful_ms > 0) {
		struct fc_state quick = *st;
		struct error *e = NULL;

		if (quick.opts.api_timeout_ms > graceful_ms)
			quick.opts.api_timeout_ms = graceful_ms;
		r = api_call(&quick, api_socket, "PUT", "/actions",
			     "{\"action_type\":\"SendCtrlAltDel\"}", NULL, &e);
		/* A VMM that cannot take the request (hung, not booted, no
		 * socket) is dealt with by the signals below. */
		e = error_free(e);
		if (r >= 0) {
			uint64_t now = mono_ms();
			unsigned left = now >= start + graceful_ms ? 0 :
				(unsigned)(start + graceful_ms - now);

			/* Signal 0: only wait for the exit (and reap our child). */
			r = hv_signal_wait(pid, api_socket, 0, left, &e);
			if (r == -ETIMEDOUT) {
				/* Guest ignored the keyboard: signals next. */
				e = error_free(e);
			} else if (r < 0)
				return error_pass(err, e, r);
			else
				gone = true;
		}
	} else
		gone = !alive;

	if (!gone) {
		struct error *e = NULL;

		r = hv_signal_wait(pid, api_socket, SIGTERM, term_ms, &e);
		if (r == -ETIMEDOUT) {
			/* Expected for a process that ignores SIGTERM: escalate. */
			(void)error_free(e);
			e = NULL;
			r = hv_signal_wait(pid, api_socket, SIGKILL, kill_ms, &e);
		}
		if (r < 0) {
			(void)error_pass(err, e, r);
			if (err)
				(void)error_prefix(err, "stop firecracker (pid %d)", (int)pid);
			return r;
		}
	}

	/* A socket someone still serves is not ours to remove (pid was stale). */
	if (fc_http_socket_ready(api_socket))
		return 0;
	return remove_stale_socket(api_socket, err);
}

static int
fc_list(void *userdata, const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
	struct error **err)
{
	(void)userdata;
	return hv_process_list(sock_dir, ret, ret_n, err);
}

int
hv_firecracker_new_with_options(const struct hv_firecracker_options *opts, struct hv_ops **ret,
				struct error **err)
{
	struct hv_ops *ops;
	struct fc_state *st;

	(void)err;
	st = xcalloc(1, sizeof(*st));
	st->opts.api_timeout_ms = DEFAULT_API_TIMEOUT_MS;
	st->opts.socket_wait_ms = DEFAULT_SOCKET_WAIT_MS;
	if (opts && opts->api_timeout_ms)
		st->opts.api_timeout_ms = opts->api_timeout_ms;
	if (opts && opts->socket_wait_ms)
		st->opts.socket_wait_ms = opts->socket_wait_ms;

	ops = xcalloc(1, sizeof(*ops));
	ops->spawn = fc_spawn;
	ops->boot = fc_boot;
	ops->ready = fc_ready;
	ops->stop = fc_stop;
	ops->parallel = true;
	ops->alive = fc_alive;
	ops->list = fc_list;
	ops->userdata = st;
	*ret = ops;
	return 0;
}

int
hv_firecracker_new(struct hv_ops **ret, struct error **err)
{
	return hv_firecracker_new_with_options(NULL, ret, err);
}

struct hv_ops *
hv_firecracker_free(struct hv_ops *ops)
{
	if (!ops)
		return NULL;
	free(ops->userdata);
	free(ops);
	return NULL;
}
