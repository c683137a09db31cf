/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The real doctor probes: ioctls on /dev/kvm, opens of device nodes,
 * libnftables for the ruleset, libnl-route-3 for the bridge, posix_spawn for
 * hypervisor versions, stat and statvfs, and systemd-resolved's configuration
 * files.  Read-only: nothing here creates,
 * changes or deletes a host object (the KVM test VM lives only as long as
 * its file descriptors).
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <net/if.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/socket.h>
#include <nftables/libnftables.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "drivers/doctor-probe.h"
#include "drivers/nat.h"
#include "drivers/net.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/fileio.h"

extern char **environ;

static uint64_t mono_ms(void);

struct doctor_probe_real {
	struct doctor_probe_ops ops;
	struct nl_sock *sk;		/* opened on first bridge_get */
	struct nft_ctx *nft;		/* created on first nft_ruleset */
};

/* ---- KVM ---- */

/*
 * 1. open /dev/kvm, KVM_GET_API_VERSION;
 * 2. KVM_CREATE_VM, one page of guest memory at 0x1000 holding
 *    "mov dx,0x3f8; mov al,'K'; out dx,al; hlt";
 * 3. KVM_CREATE_VCPU, real mode at cs:ip 0:0x1000;
 * 4. KVM_RUN until hlt (expecting the port write first), a few runs at most.
 * Everything is released when the descriptors close.
 */
static void
kvm_guest_run(int kvm, struct doctor_kvm *k)
{
	static const unsigned char code[] = { 0xba, 0xf8, 0x03, 0xb0, 'K', 0xee, 0xf4 };
	_cleanup_close_ int vm = -EBADF, vcpu = -EBADF;
	struct kvm_userspace_memory_region reg = { 0 };
	struct kvm_run *run = NULL;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	bool saw_out = false;
	void *mem = MAP_FAILED;
	int mmap_size = 0;

#define FAIL(what)                                                                           \
	do {                                                                                 \
		k->guest_error = -errno;                                                     \
		snprintf(k->guest_detail, sizeof(k->guest_detail), "%s: %s", what,           \
			 strerror(errno));                                                   \
		goto out;                                                                    \
	} while (0)

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		FAIL("KVM_CREATE_VM");
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		FAIL("mmap");
	memcpy(mem, code, sizeof(code));
	reg.slot = 0;
	reg.guest_phys_addr = 0x1000;
	reg.memory_size = 0x1000;
	reg.userspace_addr = (uint64_t)(uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
		FAIL("KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		FAIL("KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(*run))
		FAIL("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED) {
		run = NULL;
		FAIL("vcpu mmap");
	}
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		FAIL("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		FAIL("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = 0x1000;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		FAIL("KVM_SET_REGS");
	for (int i = 0; i < 4; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			FAIL("KVM_RUN");
		if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT &&
		    run->io.port == 0x3f8) {
			saw_out = true;
			continue;
		}
		if (run->exit_reason == KVM_EXIT_HLT && saw_out) {
			k->guest_error = 0;
			goto out;
		}
		k->guest_error = -EIO;
		if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
			snprintf(k->guest_detail, sizeof(k->guest_detail),
				 "guest stopped with a KVM internal error (suberror %u)",
				 run->internal.suberror);
		else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			snprintf(k->guest_detail, sizeof(k->guest_detail),
				 "guest entry failed (reason 0x%llx)",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		else
			snprintf(k->guest_detail, sizeof(k->guest_detail),
				 "unexpected guest exit %u", run->exit_reason);
		goto out;
	}
	k->guest_error = -ETIMEDOUT;
	snprintf(k->guest_detail, sizeof(k->guest_detail), "guest did not reach its hlt");
out:
#undef FAIL
	if (run)
		(void)munmap(run, (size_t)mmap_size);
	if (mem != MAP_FAILED)
		(void)munmap(mem, 0x1000);
}

/*
 * Run the test guest in a child process, so that a guest which never exits
 * cannot hang doctor: the child sends its result through a pipe; at the
 * deadline it is killed (SIGKILL, by its pid) and reaped.
 */
static void
kvm_guest_bounded(int kvm, struct doctor_kvm *k, unsigned timeout_ms)
{
	_cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
	struct {
		int error;
		char detail[sizeof(k->guest_detail)];
	} res = { 0 };
	size_t got = 0;
	uint64_t deadline;
	int fds[2];
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0) {
		k->guest_error = -errno;
		snprintf(k->guest_detail, sizeof(k->guest_detail), "pipe: %s", strerror(errno));
		return;
	}
	rfd = fds[0];
	wfd = fds[1];
	pid = fork();
	if (pid < 0) {
		k->guest_error = -errno;
		snprintf(k->guest_detail, sizeof(k->guest_detail), "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		struct doctor_kvm c = *k;
		ssize_t w;

		kvm_guest_run(kvm, &c);
		res.error = c.guest_error;
		memcpy(res.detail, c.guest_detail, sizeof(res.detail));
		w = write(wfd, &res, sizeof(res));
		_exit(w == (ssize_t)sizeof(res) ? 0 : 1);
	}
	(void)close(TAKE_FD(wfd));
	deadline = mono_ms() + timeout_ms;
	while (got < sizeof(res)) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		uint64_t now = mono_ms();
		ssize_t n;
		int r;

		if (now >= deadline)
			break;
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno != EINTR)
			break;
		if (r <= 0)
			continue;
		n = read(rfd, (char *)&res + got, sizeof(res) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got < sizeof(res))
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (got < sizeof(res)) {
		k->guest_error = -ETIMEDOUT;
		snprintf(k->guest_detail, sizeof(k->guest_detail),
			 "the test guest gave no result within %u ms", timeout_ms);
		return;
	}
	k->guest_error = res.error;
	memcpy(k->guest_detail, res.detail, sizeof(k->guest_detail));
	k->guest_detail[sizeof(k->guest_detail) - 1] = '\0';
}

static void
real_kvm(void *userdata, struct doctor_kvm *k)
{
	_cleanup_close_ int fd = -EBADF;
	struct stat st;

	(void)userdata;
	memset(k, 0, sizeof(*k));
	k->pvm = stat(DOCTOR_PVM_PATH, &st) == 0;
	fd = open(DOCTOR_KVM_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		k->open_error = -errno;
		return;
	}
	k->api_version = ioctl(fd, KVM_GET_API_VERSION, 0);
	if (k->api_version < 0) {
		k->open_error = -errno;
		return;
	}
	if (k->api_version != DOCTOR_KVM_API_VERSION)
		return;
	kvm_guest_bounded(fd, k, DOCTOR_KVM_GUEST_TIMEOUT_MS);
}

/* ---- device nodes ---- */

static int
real_dev_open(void *userdata, const char *path)
{
	int fd;

	(void)userdata;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	(void)close(fd);
	return 0;
}

/* ---- nftables ---- */

static int
real_nft_ruleset(void *userdata, bool *ret_has_table, struct error **err)
{
	struct doctor_probe_real *p = userdata;
	_cleanup_(nat_nl_freep) struct nat_nl *nl = NULL;
	struct nat_rule *rules = NULL;
	const char *errtext;
	size_t n = 0;
	bool has = false;
	int rc, r;

	if (!p->nft) {
		p->nft = nft_ctx_new(NFT_CTX_DEFAULT);
		if (!p->nft)
			return error_set(err, -ENOMEM, "nft: context creation");
		if (nft_ctx_buffer_output(p->nft) < 0 || nft_ctx_buffer_error(p->nft) < 0)
			return error_set(err, -ENOMEM, "nft: output buffers");
	}
	/* libnftables writes banger's rules: it must reach the kernel. */
	rc = nft_run_cmd_from_buffer(p->nft, "list tables\n");
	(void)nft_ctx_get_output_buffer(p->nft);
	errtext = nft_ctx_get_error_buffer(p->nft);
	if (rc != 0) {
		const char *e = errtext && *errtext ? errtext : "list tables refused";
		const char *line = strstr(e, "Error: ");

		line = line ? line + strlen("Error: ") : e;
		if (strstr(line, strerror(EPERM)) || strstr(line, strerror(EACCES)))
			r = -EPERM;
		else
			r = -EIO;
		return error_set(err, r, "nft list tables: %.*s", (int)strcspn(line, "\n"),
				 line);
	}
	/* Reconcile reads the table over nf_tables netlink: the same way here. */
	r = nat_nl_new(&nl, err);
	if (r >= 0)
		r = nat_nl_list(nl, &rules, &n, &has, NULL, err);
	if (r < 0)
		return r;
	nat_rules_free(rules, n);
	*ret_has_table = has;
	return 0;
}

/* ---- bridge ---- */

static void
rtnl_link_putp(struct rtnl_link **l)
{
	if (*l)
		rtnl_link_put(*l);
}

static void
nl_cache_freep(struct nl_cache **c)
{
	if (*c)
		nl_cache_free(*c);
}

static int
real_bridge_get(void *userdata, const char *name, struct doctor_bridge *ret,
		struct error **err)
{
	struct doctor_probe_real *p = userdata;
	_cleanup_(rtnl_link_putp) struct rtnl_link *l = NULL;
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	struct doctor_bridge b = { 0 };
	const char *type;
	int r, ifindex;

	if (!net_ifname_is_valid(name))
		return error_set(err, -EINVAL, "bridge '%s': invalid interface name",
				 name ? name : "");
	if (!p->sk) {
		p->sk = nl_socket_alloc();
		if (!p->sk)
			abort();
		r = nl_connect(p->sk, NETLINK_ROUTE);
		if (r < 0) {
			nl_socket_free(p->sk);
			p->sk = NULL;
			return error_set(err, -EIO, "rtnetlink connect: %s", nl_geterror(r));
		}
	}
	r = rtnl_link_get_kernel(p->sk, 0, name, &l);
	if (r == -NLE_OBJ_NOTFOUND || r == -NLE_NODEV) {
		*ret = b;
		return 0;
	}
	if (r < 0)
		return error_set(err, -EIO, "link get '%s': %s", name, nl_geterror(r));
	b.exists = true;
	type = rtnl_link_get_type(l);
	b.is_bridge = type && strcmp(type, "bridge") == 0;
	b.up = (rtnl_link_get_flags(l) & IFF_UP) != 0;
	ifindex = rtnl_link_get_ifindex(l);
	r = rtnl_addr_alloc_cache(p->sk, &cache);
	if (r < 0)
		return error_set(err, -EIO, "address dump: %s", nl_geterror(r));
	for (struct nl_object *o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local;
		uint32_t be;

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET)
			continue;
		local = rtnl_addr_get_local(a);
		if (!local || nl_addr_get_len(local) != 4)
			continue;
		if (b.n_addrs == DOCTOR_BRIDGE_MAX_ADDRS)
			break;
		memcpy(&be, nl_addr_get_binary_addr(local), 4);
		b.addrs[b.n_addrs] = ntohl(be);
		b.prefixes[b.n_addrs] = (unsigned)rtnl_addr_get_prefixlen(a);
		b.n_addrs++;
	}
	*ret = b;
	return 0;
}

/* ---- programs ---- */

static bool
is_executable_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int
doctor_find_program(const char *name, char **ret)
{
	const char *path, *p;

	if (!name || !*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (!is_executable_file(name))
			return -ENOENT;
		*ret = xstrdup(name);
		return 0;
	}
	path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	for (p = path; p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		_cleanup_free_ char *cand = NULL;

		/* An empty entry means the current directory: never search it. */
		if (len > 0) {
			cand = xasprintf("%.*s/%s", (int)len, p, name);
			if (is_executable_file(cand)) {
				*ret = TAKE_PTR(cand);
				return 0;
			}
		}
		p = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
spawn_actions_destroyp(posix_spawn_file_actions_t **a)
{
	if (*a)
		(void)posix_spawn_file_actions_destroy(*a);
}

/* First non-blank line of out, trimmed, at most 200 bytes. */
static char *
first_line(const char *out)
{
	const char *p = out;
	size_t len;

	while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t')
		p++;
	len = strcspn(p, "\r\n");
	while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len > 200)
		len = 200;
	return xstrndup(p, len);
}

/*
 * 1. resolve the program;
 * 2. pipe (O_CLOEXEC), posix_spawn with stdin /dev/null and stdout+stderr on
 *    the pipe's write end;
 * 3. read until EOF or the deadline (poll), keeping the first 4 KiB;
 * 4. on the deadline SIGKILL the child we spawned; reap it in every case.
 */
int
doctor_program_version(const char *program, unsigned timeout_ms, char **ret_path,
		       char **ret_version, struct error **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int rfd = -EBADF, wfd = -EBADF;
	posix_spawn_file_actions_t actions;
	_cleanup_(spawn_actions_destroyp) posix_spawn_file_actions_t *actionsp = NULL;
	char out[4096];
	size_t used = 0;
	bool timed_out = false;
	uint64_t deadline;
	int fds[2], r, status;
	pid_t pid;

	r = doctor_find_program(program, &path);
	if (r < 0)
		return error_set(err, r, "'%s' not found%s", program,
				 strchr(program, '/') ? "" : " in PATH");
	if (pipe2(fds, O_CLOEXEC) < 0)
		return error_set(err, -errno, "pipe: %s", strerror(errno));
	rfd = fds[0];
	wfd = fds[1];
	r = posix_spawn_file_actions_init(&actions);
	if (r != 0)
		return error_set(err, -r, "spawn actions: %s", strerror(r));
	actionsp = &actions;
	r = posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&actions, wfd, 1);
	if (r == 0)
		r = posix_spawn_file_actions_adddup2(&actions, wfd, 2);
	if (r != 0)
		return error_set(err, -r, "spawn actions: %s", strerror(r));
	{
		char *argv[] = { path, (char *)"--version", NULL };

		r = posix_spawn(&pid, path, &actions, NULL, argv, environ);
	}
	if (r != 0)
		return error_set(err, -r, "spawn '%s': %s", path, strerror(r));
	(void)close(TAKE_FD(wfd));

	deadline = mono_ms() + timeout_ms;
	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		uint64_t now = mono_ms();
		char buf[1024];
		ssize_t k;

		if (now >= deadline) {
			timed_out = true;
			break;
		}
		r = poll(&pfd, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
			return error_set(err, r, "poll: %s", strerror(-r));
		}
		if (r == 0)
			continue;
		k = read(rfd, buf, sizeof(buf));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		if (used < sizeof(out) - 1) {
			size_t take = (size_t)k < sizeof(out) - 1 - used ? (size_t)k
									  : sizeof(out) - 1 - used;

			memcpy(out + used, buf, take);
			used += take;
		}
	}
	out[used] = '\0';
	if (timed_out)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return error_set(err, -errno, "waitpid: %s", strerror(errno));
	}
	if (timed_out)
		return error_set(err, -ETIMEDOUT, "'%s --version' gave no answer within %u ms",
				 path, timeout_ms);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		_cleanup_free_ char *line = first_line(out);

		if (WIFSIGNALED(status))
			return error_set(err, -EIO, "'%s --version' was killed by signal %d", path,
					 WTERMSIG(status));
		return error_set(err, -EIO, "'%s --version' exited with status %d%s%s", path,
				 WEXITSTATUS(status), line[0] ? ": " : "", line);
	}
	*ret_version = first_line(out);
	*ret_path = TAKE_PTR(path);
	return 0;
}

static int
real_program_version(void *userdata, const char *program, char **ret_path, char **ret_version,
		     struct error **err)
{
	(void)userdata;
	return doctor_program_version(program, DOCTOR_VERSION_TIMEOUT_MS, ret_path, ret_version,
				      err);
}

/* ---- directories ---- */

static int
real_dir_stat(void *userdata, const char *path, struct stat *ret)
{
	(void)userdata;
	if (stat(path, ret) < 0)
		return -errno;
	return 0;
}

static int
real_free_bytes(void *userdata, const char *path, uint64_t *ret, struct error **err)
{
	struct statvfs sv;

	(void)userdata;
	if (statvfs(path, &sv) < 0)
		return error_set(err, -errno, "statvfs '%s': %s", path, strerror(errno));
	*ret = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}

static uid_t
real_euid(void *userdata)
{
	(void)userdata;
	return geteuid();
}

/* ---- systemd-resolved ---- */

static const char *const resolved_dropin_dirs[] = {
	"etc/systemd/resolved.conf.d",
	"run/systemd/resolved.conf.d",
	"usr/local/lib/systemd/resolved.conf.d",
	"usr/lib/systemd/resolved.conf.d",
};

/* systemd's boolean words; -1 for anything else. */
static int
parse_bool(const char *v)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* Apply one resolved.conf-style file: its [Resolve] ReadEtcHosts= lines. */
static void
resolved_apply_file(const char *path, struct doctor_resolved *ret)
{
	_cleanup_free_ char *data = NULL;
	bool in_resolve = false;
	size_t len = 0;
	char *line, *save = NULL;
	int r;

	r = read_file(path, 1024 * 1024, &data, &len);
	if (r == -ENOENT)
		return;
	if (r < 0) {
		snprintf(ret->unreadable, sizeof(ret->unreadable), "%s", path);
		return;
	}
	for (line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *l = trim(line), *eq;
		int b;

		if (*l == '#' || *l == ';' || !*l)
			continue;
		if (*l == '[') {
			in_resolve = strcmp(l, "[Resolve]") == 0;
			continue;
		}
		eq = strchr(l, '=');
		if (!in_resolve || !eq)
			continue;
		*eq = '\0';
		if (strcmp(trim(l), "ReadEtcHosts") != 0)
			continue;
		b = parse_bool(trim(eq + 1));
		/* An empty value resets to the default; a bad one is ignored
		 * by resolved too. */
		if (!*trim(eq + 1))
			b = 1;
		if (b < 0)
			continue;
		ret->read_etc_hosts = b;
		snprintf(ret->where, sizeof(ret->where), "%s", path);
	}
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void
doctor_resolved_read(const char *root, struct doctor_resolved *ret)
{
	const char *sep = root[strlen(root) - 1] == '/' ? "" : "/";
	_cleanup_free_ char *run = xasprintf("%s%s%s", root, sep, "run/systemd/resolve");
	_cleanup_free_ char *main_conf = xasprintf("%s%s%s", root, sep,
						   "etc/systemd/resolved.conf");
	char **names = NULL, **paths = NULL;
	size_t n = 0;
	struct stat st;

	memset(ret, 0, sizeof(*ret));
	ret->present = stat(run, &st) == 0 && S_ISDIR(st.st_mode);
	ret->read_etc_hosts = true;
	resolved_apply_file(main_conf, ret);
	/* Drop-ins: unique names, the first folder's file for each. */
	for (size_t d = 0; d < sizeof(resolved_dropin_dirs) / sizeof(resolved_dropin_dirs[0]); d++) {
		_cleanup_free_ char *dir = xasprintf("%s%s%s", root, sep, resolved_dropin_dirs[d]);
		DIR *dh = opendir(dir);
		struct dirent *de;

		if (!dh) {
			if (errno != ENOENT && errno != ENOTDIR)
				snprintf(ret->unreadable, sizeof(ret->unreadable), "%s", dir);
			continue;
		}
		while ((de = readdir(dh))) {
			size_t l = strlen(de->d_name);
			bool seen = false;

			if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
				continue;
			for (size_t i = 0; i < n && !seen; i++)
				seen = strcmp(strrchr(paths[i], '/') + 1, de->d_name) == 0;
			if (seen)
				continue;
			names = xrealloc(names, (n + 1) * sizeof(*names));
			paths = xrealloc(paths, (n + 1) * sizeof(*paths));
			paths[n] = xasprintf("%s/%s", dir, de->d_name);
			names[n] = xasprintf("%s%c%s", de->d_name, '\0', paths[n]);
			n++;
		}
		closedir(dh);
	}
	/* names[i] is "NAME\0PATH": sorting by NAME keeps each path with it. */
	if (n)
		qsort(names, n, sizeof(*names), cmp_str);
	for (size_t i = 0; i < n; i++) {
		resolved_apply_file(names[i] + strlen(names[i]) + 1, ret);
		free(names[i]);
		free(paths[i]);
	}
	free(names);
	free(paths);
}

static void
real_resolved(void *userdata, struct doctor_resolved *ret)
{
	(void)userdata;
	doctor_resolved_read("/", ret);
}

static int
real_read_head(void *userdata, const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -EBADF;
	size_t got = 0;

	(void)userdata;
	assert(size > 0);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (got < size - 1) {
		ssize_t k = read(fd, buf + got, size - 1 - got);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	buf[got] = '\0';
	return 0;
}

int
doctor_probe_real_new(struct doctor_probe_ops **ret, struct error **err)
{
	struct doctor_probe_real *p;

	(void)err;
	p = xcalloc(1, sizeof(*p));
	p->ops = (struct doctor_probe_ops){
		.kvm = real_kvm,
		.dev_open = real_dev_open,
		.nft_ruleset = real_nft_ruleset,
		.bridge_get = real_bridge_get,
		.program_version = real_program_version,
		.dir_stat = real_dir_stat,
		.free_bytes = real_free_bytes,
		.euid = real_euid,
		.resolved = real_resolved,
		.read_head = real_read_head,
		.userdata = p,
	};
	*ret = &p->ops;
	return 0;
}

struct doctor_probe_ops *
doctor_probe_real_free(struct doctor_probe_ops *ops)
{
	struct doctor_probe_real *p;

	if (!ops)
		return NULL;
	p = ops->userdata;
	if (p->sk)
		nl_socket_free(p->sk);
	if (p->nft)
		nft_ctx_free(p->nft);
	free(p);
	return NULL;
}
