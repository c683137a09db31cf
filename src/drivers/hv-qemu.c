/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU microvm backend of struct hv_ops: builds and validates the argv,
 * picks the accelerator, spawns QEMU detached through hv-common, speaks QMP
 * (jansson) on the VM's api socket for the handshake and system_powerdown.
 * Depends on util/, drivers/hv.h and drivers/hv-common.h only.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "drivers/hv-qemu.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

#define QEMU_DEFAULT_BINARY "qemu-system-x86_64"
/* How long QEMU may take to open its QMP socket after spawn. */
#define QMP_OPEN_TIMEOUT_MS 15000
/* One QMP exchange (greeting, capabilities, a command). */
#define QMP_IO_TIMEOUT_MS 3000
/* After SIGKILL only the kernel's teardown is left to wait for. */
#define KILL_WAIT_MS 3000
/* Console lines handed back when the guest died. */
#define TAIL_LINES 20
#define QMP_LINE_MAX (1024 * 1024)

#define MIB (UINT64_C(1) << 20)

struct hv_qemu {
	struct hv_ops ops;
	struct hv_qemu_host host;
	bool host_unprobed;	/* hv_qemu_new: probed at the first spawn */
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ---- accelerator ---------------------------------------------------- */

bool
hv_qemu_accel_needs_probe(enum qemu_accel want, const struct hv_qemu_host *host)
{
	return want == QEMU_ACCEL_AUTO && host->kvm_dev && !host->pvm && !host->kvm_probed;
}

enum qemu_accel
hv_qemu_accel_resolve(enum qemu_accel want, const struct hv_qemu_host *host)
{
	switch (want) {
	case QEMU_ACCEL_KVM:
	case QEMU_ACCEL_TCG:
		return want;
	case QEMU_ACCEL_AUTO:
		if (host->kvm_dev && !host->pvm && host->kvm_probed && host->kvm_runs)
			return QEMU_ACCEL_KVM;
		return QEMU_ACCEL_TCG;
	default:
		return _QEMU_ACCEL_INVALID;
	}
}

int
hv_qemu_tsc_khz_parse(const char *cpuinfo, unsigned *ret_khz)
{
	for (const char *l = cpuinfo; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *p;
		char *end;
		double mhz;

		if (strncmp(l, "cpu MHz", 7) != 0)
			continue;
		p = l + 7;
		p += strspn(p, " \t");
		if (*p != ':')
			return -EINVAL;
		p++;
		p += strspn(p, " \t");
		errno = 0;
		mhz = strtod(p, &end);
		if (errno || end == p || (*end != '\n' && *end != '\0' && *end != ' '))
			return -EINVAL;
		if (!(mhz >= 1.0 && mhz <= 100000.0))
			return -EINVAL;
		*ret_khz = (unsigned)(mhz * 1000.0 + 0.5);
		return 0;
	}
	return -ENOENT;
}

void
hv_qemu_host_probe(struct hv_qemu_host *ret)
{
	struct hv_qemu_host h = { 0 };
	_cleanup_free_ char *cpuinfo = NULL;
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		h.kvm_dev = true;
		(void)close(fd);
	}
	h.pvm = access("/sys/module/kvm_pvm", F_OK) == 0;
	if (read_file("/proc/cpuinfo", 4 * 1024 * 1024, &cpuinfo, NULL) >= 0)
		(void)hv_qemu_tsc_khz_parse(cpuinfo, &h.tsc_khz);
	*ret = h;
}

/*
 * A real-mode guest of four bytes, "mov ax, 0x1234; hlt", at 0x1000: KVM
 * "really works" when it exits with KVM_EXIT_HLT and ax holds 0x1234.
 */
static bool
kvm_guest_runs(void)
{
	static const unsigned char code[] = { 0xb8, 0x34, 0x12, 0xf4 };
	_cleanup_close_ int kvm = -EBADF, vm = -EBADF, vcpu = -EBADF;
	struct kvm_userspace_memory_region region = { 0 };
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	struct kvm_run *run = MAP_FAILED;
	void *mem = MAP_FAILED;
	long run_size;
	bool ok = false;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 || ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return false;
	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return false;
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return false;
	memcpy(mem, code, sizeof(code));
	region.slot = 0;
	region.guest_phys_addr = 0x1000;
	region.memory_size = 0x1000;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		goto out;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		goto out;
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (long)sizeof(*run))
		goto out;
	run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		goto out;
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		goto out;
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		goto out;
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		goto out;
	if (ioctl(vcpu, KVM_RUN, 0) < 0 || run->exit_reason != KVM_EXIT_HLT)
		goto out;
	if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0)
		goto out;
	ok = (regs.rax & 0xffff) == 0x1234;
out:
	if (run != MAP_FAILED)
		(void)munmap(run, (size_t)run_size);
	(void)munmap(mem, 0x1000);
	return ok;
}

void
hv_qemu_host_probe_kvm(struct hv_qemu_host *host)
{
	host->kvm_runs = host->kvm_dev && kvm_guest_runs();
	host->kvm_probed = true;
}

/* ---- argv ----------------------------------------------------------- */

char *
hv_qemu_opt_escape(const char *s)
{
	size_t n = 0;
	char *out, *q;

	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	q = out = xmalloc(n + 1);
	for (const char *p = s; *p; p++) {
		*q++ = *p;
		if (*p == ',')
			*q++ = ',';
	}
	*q = '\0';
	return out;
}

/* Is there a word "key..." (key ends in '=') or exactly "key" in line? */
static bool
cmdline_has(const char *line, const char *key)
{
	size_t kl = strlen(key);
	bool prefix = kl > 0 && key[kl - 1] == '=';

	for (const char *p = line; *p;) {
		size_t wl;

		p += strspn(p, " \t");
		wl = strcspn(p, " \t");
		if (wl == 0)
			break;
		if (prefix ? (wl >= kl && strncmp(p, key, kl) == 0)
			   : (wl == kl && strncmp(p, key, kl) == 0))
			return true;
		p += wl;
	}
	return false;
}

char *
hv_qemu_kernel_cmdline(const char *cmdline, const struct hv_qemu_host *host)
{
	char *s = xstrdup(cmdline ? cmdline : "");
	char *t;

	/* The serial port is the console log; ttyS0 comes first so the
	 * caller's own console= wins. */
	if (!cmdline_has(s, "console=")) {
		t = xasprintf("console=ttyS0%s%s", *s ? " " : "", s);
		free(s);
		s = t;
	}
	/* A panicking guest reboots, and -no-reboot turns that into QEMU
	 * exiting: readiness then reports the console instead of waiting. */
	if (!cmdline_has(s, "panic=")) {
		t = xasprintf("%s panic=-1", s);
		free(s);
		s = t;
	}
	/* microvm has no HPET or PM timer: without a known TSC frequency one
	 * boot in three hangs calibrating against the PIT. */
	if (host && host->tsc_khz > 0 && !cmdline_has(s, "tsc_early_khz=")) {
		t = xasprintf("%s tsc_early_khz=%u", s, host->tsc_khz);
		free(s);
		s = t;
	}
	return s;
}

static bool
has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* An absolute path QEMU can take.  comma_ok: it goes into key=value
 * syntax through hv_qemu_opt_escape(); otherwise a comma is refused. */
static int
check_path(const char *what, const char *p, bool comma_ok, struct error **err)
{
	if (!p || !*p)
		return error_set(err, -EINVAL, "%s: missing", what);
	if (p[0] != '/')
		return error_set(err, -EINVAL, "%s '%s': not an absolute path", what, p);
	if (strlen(p) >= PATH_MAX)
		return error_set(err, -EINVAL, "%s: path too long", what);
	if (has_control(p))
		return error_set(err, -EINVAL, "%s: control character in path", what);
	if (!comma_ok && strchr(p, ','))
		return error_set(err, -EINVAL, "%s '%s': comma in path", what, p);
	return 0;
}

static int
check_tap(const char *tap, struct error **err)
{
	size_t l = strlen(tap);

	if (strncmp(tap, TAP_PREFIX, strlen(TAP_PREFIX)) != 0 || l <= strlen(TAP_PREFIX) ||
	    l > 15)
		return error_set(err, -EINVAL, "tap '%s': not a banger tap name (%s..., at most 15)",
				 tap, TAP_PREFIX);
	for (const char *p = tap; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
			return error_set(err, -EINVAL, "tap '%s': bad character", tap);
	return 0;
}

static int
validate(const struct hv_config *cfg, struct error **err)
{
	struct sockaddr_un sa;
	int r;

	if (cfg->kind != HYPERVISOR_QEMU)
		return error_set(err, -EINVAL, "not a qemu vm");
	if (!cfg->vm_name || !name_is_dns_label(cfg->vm_name))
		return error_set(err, -EINVAL, "vm name '%s': not a DNS label",
				 cfg->vm_name ? cfg->vm_name : "");
	if (cfg->binary && (!*cfg->binary || has_control(cfg->binary)))
		return error_set(err, -EINVAL, "qemu binary: bad name");
	if (cfg->vcpus < 1 || cfg->vcpus > 255)
		return error_set(err, -EINVAL, "vcpus %u: out of range 1-255", cfg->vcpus);
	if (cfg->memory < 32 * MIB || cfg->memory > (UINT64_C(1) << 40))
		return error_set(err, -EINVAL, "memory %" PRIu64 ": out of range 32M-1T",
				 cfg->memory);
	if (cfg->memory % MIB)
		return error_set(err, -EINVAL, "memory %" PRIu64 ": not a whole number of MiB",
				 cfg->memory);
	r = check_path("kernel", cfg->kernel, false, err);
	if (r < 0)
		return r;
	if (cfg->initrd) {
		r = check_path("initrd", cfg->initrd, false, err);
		if (r < 0)
			return r;
	}
	if (cfg->cmdline && has_control(cfg->cmdline))
		return error_set(err, -EINVAL, "kernel command line: control character");
	r = check_path("root disk", cfg->root_disk, true, err);
	if (r < 0)
		return r;
	if (cfg->work_disk) {
		r = check_path("work disk", cfg->work_disk, true, err);
		if (r < 0)
			return r;
	}
	r = check_path("console log", cfg->console_log, true, err);
	if (r < 0)
		return r;
	/* Liveness looks for the socket path verbatim on the command line, so
	 * it cannot be escaped: refuse commas. */
	r = check_path("qmp socket", cfg->api_socket, false, err);
	if (r < 0)
		return r;
	if (strlen(cfg->api_socket) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "qmp socket '%s': path too long",
				 cfg->api_socket);
	if (cfg->tap) {
		r = check_tap(cfg->tap, err);
		if (r < 0)
			return r;
		if (cfg->mac[0] & 1)
			return error_set(err, -EINVAL, "mac: multicast address");
	}
	return 0;
}

static char **
add(char **v, const char *s)
{
	return strv_append(v, s);
}

static char **
addf(char **v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static char **
addf(char **v, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return strv_append_take(v, s);
}

int
hv_qemu_build_argv(const struct hv_config *cfg, const struct hv_qemu_host *host,
		   enum qemu_accel accel, char ***ret_argv, struct error **err)
{
	_cleanup_strv_free_ char **v = NULL;
	_cleanup_free_ char *cmdline = NULL, *log = NULL, *root = NULL, *work = NULL;
	int r;

	r = validate(cfg, err);
	if (r < 0)
		return r;
	if (accel != QEMU_ACCEL_KVM && accel != QEMU_ACCEL_TCG)
		return error_set(err, -EINVAL, "accel: must be resolved to kvm or tcg");

	cmdline = hv_qemu_kernel_cmdline(cfg->cmdline, host);
	/* x86 COMMAND_LINE_SIZE: QEMU refuses longer. */
	if (strlen(cmdline) >= 2048)
		return error_set(err, -E2BIG, "kernel command line: longer than 2047 bytes");
	log = hv_qemu_opt_escape(cfg->console_log);
	root = hv_qemu_opt_escape(cfg->root_disk);

	v = add(v, cfg->binary ? cfg->binary : QEMU_DEFAULT_BINARY);
	v = add(v, "-name");
	v = addf(v, "banger-%s", cfg->vm_name);
	v = add(v, "-M");
	v = add(v, "microvm");
	v = add(v, "-accel");
	v = add(v, accel == QEMU_ACCEL_KVM ? "kvm" : "tcg");
	v = add(v, "-cpu");
	v = add(v, accel == QEMU_ACCEL_KVM ? "host" : "max");
	v = add(v, "-smp");
	v = addf(v, "%u", cfg->vcpus);
	v = add(v, "-m");
	v = addf(v, "%" PRIu64 "M", cfg->memory / MIB);
	v = add(v, "-nodefaults");
	v = add(v, "-no-user-config");
	v = add(v, "-display");
	v = add(v, "none");
	v = add(v, "-no-reboot");
	/* The serial port appends to the log QEMU's own stderr goes to. */
	v = add(v, "-chardev");
	v = addf(v, "file,id=console,path=%s,append=on", log);
	v = add(v, "-serial");
	v = add(v, "chardev:console");
	v = add(v, "-kernel");
	v = add(v, cfg->kernel);
	if (cfg->initrd) {
		v = add(v, "-initrd");
		v = add(v, cfg->initrd);
	}
	v = add(v, "-append");
	v = add(v, cmdline);
	/* Disks appear to the guest in this order: vda root, vdb work. */
	v = add(v, "-drive");
	v = addf(v, "file=%s,format=raw,if=none,id=root", root);
	v = add(v, "-device");
	v = add(v, "virtio-blk-device,drive=root");
	if (cfg->work_disk) {
		work = hv_qemu_opt_escape(cfg->work_disk);
		v = add(v, "-drive");
		v = addf(v, "file=%s,format=raw,if=none,id=work", work);
		v = add(v, "-device");
		v = add(v, "virtio-blk-device,drive=work");
	}
	if (cfg->tap) {
		v = add(v, "-netdev");
		v = addf(v, "tap,id=net0,ifname=%s,script=no,downscript=no", cfg->tap);
		v = add(v, "-device");
		v = addf(v, "virtio-net-device,netdev=net0,mac=%02x:%02x:%02x:%02x:%02x:%02x",
			 cfg->mac[0], cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4],
			 cfg->mac[5]);
	}
	v = add(v, "-qmp");
	v = addf(v, "unix:%s,server=on,wait=off", cfg->api_socket);

	*ret_argv = TAKE_PTR(v);
	return 0;
}

/* ---- QMP ------------------------------------------------------------ */

struct qmp {
	int fd;
	char *buf;
	size_t len;
	size_t cap;
	uint64_t deadline;
	const char *path;
};

static void
qmp_done(struct qmp *q)
{
	if (q->fd >= 0)
		(void)close(q->fd);
	q->fd = -EBADF;
	free(q->buf);
	q->buf = NULL;
}

static int
qmp_connect_once(struct qmp *q, struct error **err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(q->path) >= sizeof(sa.sun_path))
		return error_set(err, -ENAMETOOLONG, "qmp '%s': path too long", q->path);
	memcpy(sa.sun_path, q->path, strlen(q->path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int r = -errno;

		return error_set(err, r, "qmp '%s': socket: %s", q->path, strerror(-r));
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		(void)close(fd);
		return error_set(err, r, "qmp '%s': connect: %s", q->path, strerror(-r));
	}
	q->fd = fd;
	return 0;
}

/* Wait for fd to be ready for events until q->deadline. */
static int
qmp_wait(struct qmp *q, short events, struct error **err)
{
	for (;;) {
		uint64_t now = mono_ms();
		struct pollfd p = { .fd = q->fd, .events = events };
		int r;

		if (now >= q->deadline)
			return error_set(err, -ETIMEDOUT, "qmp '%s': no answer in time", q->path);
		r = poll(&p, 1, (int)(q->deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			return error_set(err, r, "qmp '%s': poll: %s", q->path, strerror(-r));
		}
		if (r > 0)
			return 0;
	}
}

/* Read one newline-terminated JSON object. */
static int
qmp_read(struct qmp *q, json_t **ret, struct error **err)
{
	for (;;) {
		char *nl = q->buf ? memchr(q->buf, '\n', q->len) : NULL;
		ssize_t n;
		int r;

		if (nl) {
			size_t l = (size_t)(nl - q->buf);
			json_error_t je;
			json_t *j = json_loadb(q->buf, l, 0, &je);

			memmove(q->buf, nl + 1, q->len - l - 1);
			q->len -= l + 1;
			if (!j || !json_is_object(j)) {
				json_decref(j);
				return error_set(err, -EBADMSG, "qmp '%s': bad message: %s", q->path,
						 j ? "not an object" : je.text);
			}
			*ret = j;
			return 0;
		}
		if (q->len >= QMP_LINE_MAX)
			return error_set(err, -EMSGSIZE, "qmp '%s': message too long", q->path);
		if (q->cap - q->len < 4096) {
			q->cap = q->cap ? q->cap * 2 : 8192;
			q->buf = xrealloc(q->buf, q->cap);
		}
		r = qmp_wait(q, POLLIN, err);
		if (r < 0)
			return r;
		n = read(q->fd, q->buf + q->len, q->cap - q->len);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = -errno;
			return error_set(err, r, "qmp '%s': read: %s", q->path, strerror(-r));
		}
		if (n == 0)
			return error_set(err, -ECONNRESET, "qmp '%s': connection closed", q->path);
		q->len += (size_t)n;
	}
}

static int
qmp_write(struct qmp *q, const char *s, struct error **err)
{
	size_t len = strlen(s), off = 0;

	while (off < len) {
		ssize_t n;
		int r = qmp_wait(q, POLLOUT, err);

		if (r < 0)
			return r;
		n = send(q->fd, s + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0) {
			r = -errno;
			return error_set(err, r, "qmp '%s': write: %s", q->path, strerror(-r));
		}
		off += (size_t)n;
	}
	return 0;
}

/* Run command; events arriving meanwhile are skipped.  *ret_return (when
 * asked for) gets the "return" value (caller decrefs). */
static int
qmp_execute(struct qmp *q, const char *command, json_t **ret_return, struct error **err)
{
	_cleanup_free_ char *msg = NULL;
	json_t *req;
	int r;

	req = json_pack("{s:s}", "execute", command);
	if (!req)
		return error_set(err, -ENOMEM, "qmp: cannot build request");
	msg = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!msg)
		return error_set(err, -ENOMEM, "qmp: cannot build request");
	r = qmp_write(q, msg, err);
	if (r >= 0)
		r = qmp_write(q, "\n", err);
	if (r < 0)
		return r;
	for (;;) {
		json_t *j = NULL, *v;

		r = qmp_read(q, &j, err);
		if (r < 0)
			return r;
		if ((v = json_object_get(j, "return"))) {
			if (ret_return)
				*ret_return = json_incref(v);
			json_decref(j);
			return 0;
		}
		if ((v = json_object_get(j, "error"))) {
			const char *desc = json_string_value(json_object_get(v, "desc"));

			r = error_set(err, -EIO, "qmp '%s': %s", command, desc ? desc : "error");
			json_decref(j);
			return r;
		}
		json_decref(j);	/* an event */
	}
}

/* Connect (retrying until deadline while pid lives), read the greeting,
 * negotiate capabilities. */
static int
qmp_open(struct qmp *q, const char *path, pid_t pid, unsigned timeout_ms, struct error **err)
{
	json_t *greeting = NULL;
	int r;

	*q = (struct qmp){ .fd = -EBADF, .path = path, .deadline = mono_ms() + timeout_ms };
	for (;;) {
		struct error *cerr = NULL;
		bool alive = false;

		r = qmp_connect_once(q, &cerr);
		if (r >= 0)
			break;
		if ((r != -ENOENT && r != -ECONNREFUSED) || mono_ms() >= q->deadline) {
			/* Keep the connect error; it says why. */
			if (err && !*err)
				*err = cerr;
			else
				error_free(cerr);
			return r;
		}
		error_free(cerr);	/* not up yet: retry */
		r = hv_process_alive(pid, path, &alive, err);
		if (r < 0)
			return r;
		if (!alive)
			return error_set(err, -ESRCH, "qemu exited before opening qmp");
		sleep_ms(50);
	}
	r = qmp_read(q, &greeting, err);
	if (r < 0)
		return r;
	if (!json_object_get(greeting, "QMP")) {
		json_decref(greeting);
		return error_set(err, -EPROTO, "qmp '%s': no greeting", path);
	}
	json_decref(greeting);
	return qmp_execute(q, "qmp_capabilities", NULL, err);
}

/* ---- hv_ops --------------------------------------------------------- */

/* The error for a QEMU that died: its console's last lines say why. */
static int
died_error(const struct hv_config *cfg, struct error **err)
{
	_cleanup_free_ char *tail = NULL;
	bool ready = false;

	if (hv_console_ready(cfg->console_log, &ready, &tail, TAIL_LINES, NULL) >= 0 && tail &&
	    *tail)
		return error_set(err, -ESRCH, "qemu exited; console:\n%s", tail);
	return error_set(err, -ESRCH, "qemu exited");
}

static int
qemu_spawn(void *userdata, const struct hv_config *cfg, pid_t *ret_pid, struct error **err)
{
	struct hv_qemu *q = userdata;
	_cleanup_strv_free_ char **argv = NULL;
	enum qemu_accel accel;
	struct stat st;
	int r;

	/* Spawns come one at a time (hv.h): no lock for this. */
	if (q->host_unprobed) {
		hv_qemu_host_probe(&q->host);
		q->host_unprobed = false;
	}
	if (hv_qemu_accel_needs_probe(cfg->accel, &q->host))
		hv_qemu_host_probe_kvm(&q->host);
	accel = hv_qemu_accel_resolve(cfg->accel, &q->host);
	if (accel < 0)
		return error_set(err, -EINVAL, "accel: unknown value %d", (int)cfg->accel);
	r = hv_qemu_build_argv(cfg, &q->host, accel, &argv, err);
	if (r < 0)
		return r;

	/* A stale socket would make QEMU fail to bind; anything else at that
	 * path is not ours to delete. */
	if (lstat(cfg->api_socket, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return error_set(err, -EEXIST, "qmp socket '%s': exists and is not a socket",
					 cfg->api_socket);
		if (st.st_uid != geteuid())
			return error_set(err, -EPERM, "qmp socket '%s' is another user's: left alone",
					 cfg->api_socket);
		if (unlink(cfg->api_socket) < 0 && errno != ENOENT) {
			r = -errno;
			return error_set(err, r, "qmp socket '%s': remove: %s", cfg->api_socket,
					 strerror(-r));
		}
	} else if (errno != ENOENT) {
		r = -errno;
		return error_set(err, r, "qmp socket '%s': %s", cfg->api_socket, strerror(-r));
	}
	return hv_spawn_detached(argv, cfg->console_log, ret_pid, err);
}

static int
qemu_boot(void *userdata, const struct hv_config *cfg, pid_t pid, struct error **err)
{
	struct qmp q = { .fd = -EBADF };
	struct error *e = NULL;
	json_t *status = NULL;
	const char *s;
	int r;

	(void)userdata;
	/* QEMU runs the guest from the start (no -S): the handshake proves it
	 * is up and answering, query-status that the guest runs. */
	r = qmp_open(&q, cfg->api_socket, pid, QMP_OPEN_TIMEOUT_MS, &e);
	if (r >= 0) {
		q.deadline = mono_ms() + QMP_IO_TIMEOUT_MS;
		r = qmp_execute(&q, "query-status", &status, &e);
	}
	qmp_done(&q);
	if (r < 0) {
		bool alive = true;

		if (hv_process_alive(pid, cfg->api_socket, &alive, NULL) >= 0 && !alive) {
			/* The console says more than the broken connection. */
			error_free(e);
			return died_error(cfg, err);
		}
		if (err && !*err)
			*err = e;
		else
			error_free(e);
		return r;
	}
	s = json_string_value(json_object_get(status, "status"));
	if (!s || (strcmp(s, "running") != 0 && strcmp(s, "prelaunch") != 0)) {
		r = error_set(err, -EIO, "qemu status '%s', not running", s ? s : "?");
		json_decref(status);
		return r;
	}
	json_decref(status);
	return 0;
}

static int
qemu_ready(void *userdata, const struct hv_config *cfg, pid_t pid, bool *ret_ready,
	   char **ret_tail, struct error **err)
{
	bool alive = false, ready = false;
	char *tail = NULL;
	int r;

	(void)userdata;
	r = hv_process_alive(pid, cfg->api_socket, &alive, err);
	if (r < 0)
		return r;
	if (!alive) {
		r = hv_console_ready(cfg->console_log, &ready, &tail, TAIL_LINES, err);
		if (r < 0)
			return r;
		*ret_ready = false;
		if (ret_tail)
			*ret_tail = tail;
		else
			free(tail);
		return 0;
	}
	r = hv_console_ready(cfg->console_log, &ready, NULL, 0, err);
	if (r < 0)
		return r;
	*ret_ready = ready;
	if (ret_tail)
		*ret_tail = NULL;
	return 0;
}

/* Ask the guest to power off (ACPI power button); errors are the caller's
 * cue to escalate. */
static int
qmp_powerdown(const char *path, pid_t pid, unsigned timeout_ms, struct error **err)
{
	struct qmp q = { .fd = -EBADF };
	int r;

	r = qmp_open(&q, path, pid, timeout_ms, err);
	if (r >= 0)
		r = qmp_execute(&q, "system_powerdown", NULL, err);
	qmp_done(&q);
	return r;
}

static int
qemu_stop(void *userdata, enum hypervisor_kind kind, pid_t pid, const char *api_socket,
	  unsigned timeout_ms, struct error **err)
{
	struct error *e = NULL;
	uint64_t start = mono_ms();
	unsigned graceful, left;
	bool alive = false;
	struct stat st;
	int r;

	(void)userdata;
	if (kind != HYPERVISOR_QEMU)
		return error_set(err, -EINVAL, "not a qemu vm");
	r = hv_process_alive(pid, api_socket, &alive, err);
	if (r < 0)
		return r;

	/*
	 * Steps, within timeout_ms in all but the last:
	 *  1. QMP system_powerdown, then wait (3/4 of the time) for the guest
	 *     to power off, which ends QEMU;
	 *  2. SIGTERM (QEMU shuts down cleanly), wait for the rest;
	 *  3. SIGKILL, wait for the kernel to tear it down;
	 *  4. remove the socket QEMU leaves behind when killed.
	 */
	if (!alive) {
		/* Not the VM's, or already exiting: then wait for the exit to end. */
		r = hv_signal_wait(pid, api_socket, 0, timeout_ms, err);
		if (r < 0)
			return r;
	} else {
		graceful = timeout_ms / 4 * 3;
		r = qmp_powerdown(api_socket, pid, graceful < QMP_IO_TIMEOUT_MS ? graceful
										: QMP_IO_TIMEOUT_MS,
				  &e);
		/* A failed powerdown only means escalating sooner. */
		e = error_free(e);
		if (r >= 0) {
			uint64_t used = mono_ms() - start;

			r = hv_signal_wait(pid, api_socket, 0,
					   used >= graceful ? 0 : (unsigned)(graceful - used), &e);
			e = error_free(e);
		}
		if (r < 0) {
			uint64_t used = mono_ms() - start;

			left = used >= timeout_ms ? 0 : (unsigned)(timeout_ms - used);
			r = hv_signal_wait(pid, api_socket, SIGTERM, left, &e);
			/* Still there: SIGKILL comes next, the timeout is not an error. */
			if (r == -ETIMEDOUT)
				e = error_free(e);
			else if (r < 0) {
				if (err && !*err)
					*err = e;
				else
					error_free(e);
				return r;
			}
		}
		if (r < 0) {
			r = hv_signal_wait(pid, api_socket, SIGKILL, KILL_WAIT_MS, err);
			if (r < 0)
				return r;
		}
	}
	/* QEMU's own socket, that is: another user's is left alone. */
	if (lstat(api_socket, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == geteuid() &&
	    unlink(api_socket) < 0 && errno != ENOENT) {
		r = -errno;
		return error_set(err, r, "qmp socket '%s': remove: %s", api_socket, strerror(-r));
	}
	return 0;
}

static int
qemu_alive(void *userdata, pid_t pid, const char *api_socket, bool *ret, struct error **err)
{
	(void)userdata;
	return hv_process_alive(pid, api_socket, ret, err);
}

static int
qemu_list(void *userdata, const char *sock_dir, struct hv_proc **ret, size_t *ret_n,
	  struct error **err)
{
	(void)userdata;
	return hv_process_list(sock_dir, ret, ret_n, err);
}

int
hv_qemu_new_with_host(const struct hv_qemu_host *host, struct hv_ops **ret, struct error **err)
{
	struct hv_qemu *q = xcalloc(1, sizeof(*q));

	(void)err;
	q->host = *host;
	q->ops = (struct hv_ops){
		.spawn = qemu_spawn,
		.boot = qemu_boot,
		.ready = qemu_ready,
		.stop = qemu_stop,
		.alive = qemu_alive,
		.list = qemu_list,
		.parallel = true,
		.userdata = q,
	};
	*ret = &q->ops;
	return 0;
}

/* The host (/dev/kvm, /proc/cpuinfo: a read that grows with the CPUs) is
 * probed when a VM first starts, not by every run that only looks. */
int
hv_qemu_new(struct hv_ops **ret, struct error **err)
{
	static const struct hv_qemu_host unknown;
	int r;

	r = hv_qemu_new_with_host(&unknown, ret, err);
	if (r >= 0)
		((struct hv_qemu *)(*ret)->userdata)->host_unprobed = true;
	return r;
}

struct hv_ops *
hv_qemu_free(struct hv_ops *ops)
{
	/* ops is the first member of struct hv_qemu. */
	free(ops ? ops->userdata : NULL);
	return NULL;
}
