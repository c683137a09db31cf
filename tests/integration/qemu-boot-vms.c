/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Boot guests through the hv-qemu driver and stop them again: the program
 * tests/integration/qemu-boot.sh runs inside its private network namespace.
 *
 *   qemu-boot-vms IMAGE_DIR WORK_DIR NAME:TAP:IP:GATEWAY:PING[,PING...] ...
 *
 * Each VM boots IMAGE_DIR/vmlinux + initrd.gz with WORK_DIR/NAME/root.ext4
 * as vda and WORK_DIR/NAME/work.ext4 (when present) as vdb, QMP socket
 * WORK_DIR/run/NAME/qmp.sock, console WORK_DIR/NAME/console.log.  Steps:
 * spawn + boot all, wait until all are ready, wait until every guest reports
 * "banger-ping IP ok" for each PING, stop all (system_powerdown first),
 * check each process is gone and that list(WORK_DIR/run) finds nothing,
 * then start the first VM once more on the same console log (not ready from
 * the old marker; ready again) and stop it; and once more with an init that
 * does not exist: the guest panics and ready reports QEMU dead with the
 * panic in the console's last lines.
 * Timings go to stdout.  Exit 0 on success, 1 on failure; on failure the
 * VMs started are stopped.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "drivers/hv-common.h"
#include "drivers/hv-qemu.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/fileio.h"
#include "util/name.h"
#include "util/strv.h"

#define READY_TIMEOUT_MS 90000
#define PING_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 20000

struct vm {
	char *name;
	char *tap;
	char *ip;
	char **pings;
	char *root, *work, *sock, *log, *cmdline, *initrd, *kernel;
	struct hv_config cfg;
	pid_t pid;
	uint64_t t_spawn, t_ready, t_pings;
	bool ready, pinged;
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
report(struct error *e, const char *what)
{
	fprintf(stderr, "qemu-boot-vms: %s: %s\n", what, e ? e->msg : "?");
	error_free(e);
}

static int
parse_vm(struct vm *vm, const char *image, const char *work, const char *spec)
{
	_cleanup_free_ char *copy = xstrdup(spec), *sock_dir = NULL;
	char *f[5];
	char *p = copy;
	uint32_t a;
	struct stat st;

	for (int i = 0; i < 5; i++) {
		f[i] = strsep(&p, ":");
		if (!f[i])
			return -EINVAL;
	}
	if (!name_is_dns_label(f[0]) || ipv4_parse(f[2], &a) < 0)
		return -EINVAL;
	vm->name = xstrdup(f[0]);
	vm->tap = xstrdup(f[1]);
	vm->ip = xstrdup(f[2]);
	vm->cmdline = xasprintf("ip=%s::%s:255.255.255.0::eth0:off banger.ping=%s", f[2], f[3],
				f[4]);
	for (char *q = f[4], *t; (t = strsep(&q, ","));)
		if (*t)
			vm->pings = strv_append(vm->pings, t);
	vm->kernel = xasprintf("%s/vmlinux", image);
	vm->initrd = xasprintf("%s/initrd.gz", image);
	vm->root = xasprintf("%s/%s/root.ext4", work, vm->name);
	vm->work = xasprintf("%s/%s/work.ext4", work, vm->name);
	vm->sock = xasprintf("%s/run/%s/qmp.sock", work, vm->name);
	vm->log = xasprintf("%s/%s/console.log", work, vm->name);
	sock_dir = xasprintf("%s/run/%s", work, vm->name);
	if (mkdir_p(sock_dir, 0755) < 0)
		return -EIO;
	vm->cfg = (struct hv_config){
		.vm_name = vm->name,
		.vm_id = "00000000000000000000000000000000",
		.kind = HYPERVISOR_QEMU,
		.accel = QEMU_ACCEL_AUTO,
		.vcpus = 1,
		.memory = 256ULL << 20,
		.kernel = vm->kernel,
		.initrd = vm->initrd,
		.cmdline = vm->cmdline,
		.root_disk = vm->root,
		.work_disk = stat(vm->work, &st) == 0 ? vm->work : NULL,
		.tap = vm->tap,
		.mac = { 0x06, 0x00, (uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8),
			 (uint8_t)a },
		.api_socket = vm->sock,
		.console_log = vm->log,
	};
	return 0;
}

/* Has the console of vm reported every ping?  *ret_failed on a "fail". */
static bool
pings_done(const struct vm *vm, bool *ret_failed)
{
	_cleanup_free_ char *data = NULL;

	*ret_failed = false;
	if (read_file(vm->log, 64 << 20, &data, NULL) < 0)
		return false;
	for (char **p = vm->pings; p && *p; p++) {
		_cleanup_free_ char *ok = xasprintf("banger-ping %s ok", *p);
		_cleanup_free_ char *fail = xasprintf("banger-ping %s fail", *p);

		if (strstr(data, fail)) {
			*ret_failed = true;
			return true;
		}
		if (!strstr(data, ok))
			return false;
	}
	return true;
}

static void
print_tail(const struct vm *vm)
{
	_cleanup_free_ char *tail = NULL;
	bool ready = false;

	if (hv_console_ready(vm->log, &ready, &tail, 25, NULL) >= 0)
		fprintf(stderr, "--- %s console (last lines) ---\n%s---\n", vm->name, tail);
}

static void
stop_all(struct hv_ops *ops, struct vm *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct error *e = NULL;

		if (vms[i].pid > 0 &&
		    ops->stop(ops->userdata, HYPERVISOR_QEMU, vms[i].pid, vms[i].sock, 5000, &e) < 0)
			report(e, vms[i].name);
	}
}

/*
 * Start the first VM again on the same console log: right after spawn it is
 * not ready (its earlier boot's marker does not count), then it gets ready
 * and stops again.
 */
static int
restart_first(struct hv_ops *ops, struct vm *vm)
{
	struct error *e = NULL;
	uint64_t t = now_ms();
	bool ready = true, alive = true;
	char *tail = NULL;

	if (ops->spawn(ops->userdata, &vm->cfg, &vm->pid, &e) < 0) {
		report(e, vm->name);
		return -1;
	}
	printf("spawned %s pid=%d\n", vm->name, (int)vm->pid);
	if (ops->boot(ops->userdata, &vm->cfg, vm->pid, &e) < 0 ||
	    ops->ready(ops->userdata, &vm->cfg, vm->pid, &ready, &tail, &e) < 0) {
		report(e, vm->name);
		stop_all(ops, vm, 1);
		return -1;
	}
	if (ready || tail) {
		fprintf(stderr, "qemu-boot-vms: %s: ready at once after a restart\n", vm->name);
		free(tail);
		stop_all(ops, vm, 1);
		return -1;
	}
	while (!ready) {
		if (ops->ready(ops->userdata, &vm->cfg, vm->pid, &ready, &tail, &e) < 0) {
			report(e, vm->name);
			stop_all(ops, vm, 1);
			return -1;
		}
		if (tail || now_ms() - t > READY_TIMEOUT_MS) {
			fprintf(stderr, "qemu-boot-vms: %s: restart never got ready\n", vm->name);
			free(tail);
			print_tail(vm);
			stop_all(ops, vm, 1);
			return -1;
		}
		if (!ready)
			usleep(100000);
	}
	printf("restarted %s, ready after %llu ms\n", vm->name,
	       (unsigned long long)(now_ms() - t));
	t = now_ms();
	if (ops->stop(ops->userdata, HYPERVISOR_QEMU, vm->pid, vm->sock, STOP_TIMEOUT_MS, &e) < 0 ||
	    ops->alive(ops->userdata, vm->pid, vm->sock, &alive, &e) < 0) {
		report(e, vm->name);
		return -1;
	}
	if (alive || kill(vm->pid, 0) == 0) {
		fprintf(stderr, "qemu-boot-vms: %s: pid %d still there after stop\n", vm->name,
			(int)vm->pid);
		return -1;
	}
	printf("stopped %s in %llu ms\n", vm->name, (unsigned long long)(now_ms() - t));
	return 0;
}

/*
 * A guest that cannot start its init panics; panic=-1 and -no-reboot end
 * QEMU, and ready reports the death with the console's last lines.
 */
static int
panic_first(struct hv_ops *ops, struct vm *vm)
{
	_cleanup_free_ char *cmdline = xasprintf("%s rdinit=/banger-no-such-init", vm->cmdline);
	struct hv_config cfg = vm->cfg;
	struct error *e = NULL;
	uint64_t t = now_ms();
	char *tail = NULL;
	bool ready = false;

	cfg.cmdline = cmdline;
	cfg.tap = NULL;
	if (ops->spawn(ops->userdata, &cfg, &vm->pid, &e) < 0) {
		report(e, vm->name);
		return -1;
	}
	printf("spawned %s pid=%d\n", vm->name, (int)vm->pid);
	while (!tail) {
		if (ops->ready(ops->userdata, &cfg, vm->pid, &ready, &tail, &e) < 0) {
			report(e, vm->name);
			stop_all(ops, vm, 1);
			return -1;
		}
		if (ready || now_ms() - t > READY_TIMEOUT_MS) {
			fprintf(stderr, "qemu-boot-vms: %s: panicking guest %s\n", vm->name,
				ready ? "reported ready" : "never died");
			free(tail);
			stop_all(ops, vm, 1);
			return -1;
		}
		if (!tail)
			usleep(100000);
	}
	if (!strstr(tail, "Kernel panic")) {
		fprintf(stderr, "qemu-boot-vms: %s: no panic in the tail:\n%s", vm->name, tail);
		free(tail);
		return -1;
	}
	free(tail);
	printf("panicking %s reported dead after %llu ms, tail shows the panic\n", vm->name,
	       (unsigned long long)(now_ms() - t));
	/* This program is its parent: reap it, or it lingers as a zombie. */
	for (int i = 0; i < 50 && waitpid(vm->pid, NULL, WNOHANG) == 0; i++)
		usleep(100000);
	return 0;
}

static void
vms_free(struct vm *vms, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct vm *v = &vms[i];

		free(v->name), free(v->tap), free(v->ip), strv_free(v->pings);
		free(v->root), free(v->work), free(v->sock), free(v->log);
		free(v->cmdline), free(v->initrd), free(v->kernel);
	}
	free(vms);
}

static int
run(struct hv_ops *ops, struct vm *vms, size_t n, const char *work)
{
	struct error *e = NULL;
	uint64_t t0, deadline;
	_cleanup_free_ char *run_dir = NULL;
	struct hv_proc *procs = NULL;
	size_t n_procs = 0;
	bool ok = true;

	run_dir = xasprintf("%s/run", work);
	t0 = now_ms();
	for (size_t i = 0; i < n; i++) {
		vms[i].t_spawn = now_ms();
		if (ops->spawn(ops->userdata, &vms[i].cfg, &vms[i].pid, &e) < 0) {
			report(e, vms[i].name);
			stop_all(ops, vms, n);
			return 1;
		}
		printf("spawned %s pid=%d\n", vms[i].name, (int)vms[i].pid);
	}
	for (size_t i = 0; i < n; i++) {
		if (ops->boot(ops->userdata, &vms[i].cfg, vms[i].pid, &e) < 0) {
			report(e, vms[i].name);
			stop_all(ops, vms, n);
			return 1;
		}
		printf("qmp up %s after %llu ms\n", vms[i].name,
		       (unsigned long long)(now_ms() - vms[i].t_spawn));
	}
	fflush(stdout);

	deadline = t0 + READY_TIMEOUT_MS;
	for (size_t done = 0; done < n && ok;) {
		for (size_t i = 0; i < n; i++) {
			char *tail = NULL;
			bool r = false;

			if (vms[i].ready)
				continue;
			if (ops->ready(ops->userdata, &vms[i].cfg, vms[i].pid, &r, &tail, &e) < 0) {
				report(e, vms[i].name);
				ok = false;
				break;
			}
			if (tail) {
				fprintf(stderr, "qemu-boot-vms: %s died; console:\n%s", vms[i].name,
					tail);
				free(tail);
				ok = false;
				break;
			}
			if (r) {
				vms[i].ready = true;
				vms[i].t_ready = now_ms();
				printf("ready %s after %llu ms\n", vms[i].name,
				       (unsigned long long)(vms[i].t_ready - vms[i].t_spawn));
				fflush(stdout);
				done++;
			}
		}
		if (ok && done < n) {
			if (now_ms() > deadline) {
				fprintf(stderr, "qemu-boot-vms: not ready within %d ms\n",
					READY_TIMEOUT_MS);
				ok = false;
			}
			usleep(100000);
		}
	}
	printf("all ready after %llu ms\n", (unsigned long long)(now_ms() - t0));

	/* list finds exactly our VMs, each with its own socket. */
	if (ok && ops->list(ops->userdata, run_dir, &procs, &n_procs, &e) < 0) {
		report(e, "list");
		ok = false;
	} else if (ok) {
		size_t found = 0;

		for (size_t i = 0; i < n_procs; i++)
			for (size_t j = 0; j < n; j++)
				if (procs[i].pid == vms[j].pid &&
				    strcmp(procs[i].api_socket, vms[j].sock) == 0)
					found++;
		if (n_procs != n || found != n) {
			fprintf(stderr, "qemu-boot-vms: list found %zu processes, %zu of ours\n",
				n_procs, found);
			ok = false;
		} else {
			printf("list finds %zu vms\n", n_procs);
		}
		hv_procs_free(procs, n_procs);
		procs = NULL;
		n_procs = 0;
	}

	deadline = now_ms() + PING_TIMEOUT_MS;
	for (size_t done = 0; done < n && ok;) {
		for (size_t i = 0; i < n; i++) {
			bool failed = false;

			if (vms[i].pinged)
				continue;
			if (pings_done(&vms[i], &failed)) {
				if (failed) {
					fprintf(stderr, "qemu-boot-vms: %s: a ping failed\n",
						vms[i].name);
					ok = false;
					break;
				}
				vms[i].pinged = true;
				vms[i].t_pings = now_ms();
				printf("pings ok %s after %llu ms\n", vms[i].name,
				       (unsigned long long)(vms[i].t_pings - vms[i].t_spawn));
				done++;
			}
		}
		if (ok && done < n) {
			if (now_ms() > deadline) {
				fprintf(stderr, "qemu-boot-vms: pings not done within %d ms\n",
					PING_TIMEOUT_MS);
				ok = false;
			}
			usleep(100000);
		}
	}
	if (!ok) {
		for (size_t i = 0; i < n; i++)
			print_tail(&vms[i]);
		stop_all(ops, vms, n);
		return 1;
	}

	for (size_t i = 0; i < n; i++) {
		uint64_t t = now_ms();
		bool alive = true;

		if (ops->stop(ops->userdata, HYPERVISOR_QEMU, vms[i].pid, vms[i].sock,
			      STOP_TIMEOUT_MS, &e) < 0) {
			report(e, vms[i].name);
			ok = false;
			continue;
		}
		if (ops->alive(ops->userdata, vms[i].pid, vms[i].sock, &alive, &e) < 0) {
			report(e, vms[i].name);
			ok = false;
			continue;
		}
		if (alive || kill(vms[i].pid, 0) == 0) {
			fprintf(stderr, "qemu-boot-vms: %s: pid %d still there after stop\n",
				vms[i].name, (int)vms[i].pid);
			ok = false;
		}
		printf("stopped %s in %llu ms\n", vms[i].name, (unsigned long long)(now_ms() - t));
	}
	if (ops->list(ops->userdata, run_dir, &procs, &n_procs, &e) < 0) {
		report(e, "list");
		ok = false;
	} else if (n_procs > 0) {
		for (size_t i = 0; i < n_procs; i++)
			fprintf(stderr, "qemu-boot-vms: still listed: pid %d %s\n",
				(int)procs[i].pid, procs[i].api_socket);
		ok = false;
	}
	hv_procs_free(procs, n_procs);
	for (size_t i = 0; i < n; i++) {
		/* A clean guest shutdown, not a signal, ended each QEMU. */
		_cleanup_free_ char *data = NULL;

		if (!ok)
			break;
		if (read_file(vms[i].log, 64 << 20, &data, NULL) < 0 ||
		    !strstr(data, "reboot: Power down")) {
			fprintf(stderr, "qemu-boot-vms: %s: guest did not power off\n",
				vms[i].name);
			print_tail(&vms[i]);
			ok = false;
		}
	}
	if (ok && restart_first(ops, &vms[0]) < 0)
		ok = false;
	if (ok && panic_first(ops, &vms[0]) < 0)
		ok = false;
	printf("total %llu ms\n", (unsigned long long)(now_ms() - t0));
	return ok ? 0 : 1;
}

int
main(int argc, char **argv)
{
	struct hv_ops *ops = NULL;
	struct error *e = NULL;
	struct vm *vms;
	size_t n;
	int r;

	/* The shell test reads the pids as they come, even if we crash. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4) {
		fprintf(stderr, "usage: %s IMAGE_DIR WORK_DIR NAME:TAP:IP:GW:PINGS...\n", argv[0]);
		return 2;
	}
	n = (size_t)argc - 3;
	vms = xcalloc(n, sizeof(*vms));
	for (size_t i = 0; i < n; i++)
		if (parse_vm(&vms[i], argv[1], argv[2], argv[3 + i]) < 0) {
			fprintf(stderr, "qemu-boot-vms: bad vm '%s'\n", argv[3 + i]);
			vms_free(vms, n);
			return 2;
		}
	if (hv_qemu_new(&ops, &e) < 0) {
		report(e, "hv_qemu_new");
		vms_free(vms, n);
		return 1;
	}
	r = run(ops, vms, n, argv[2]);
	hv_qemu_free(ops);
	vms_free(vms, n);
	return r;
}
