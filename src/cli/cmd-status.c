/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * banger status: one row per VM: name, desired and observed state, ip, tap,
 * pid, uptime, whether it drifted (what reconcile would do), last error.
 * Orphans and unusable status files are listed after.  Changes nothing.
 */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/core.h"
#include "drivers/guest.h"
#include "plan/idle.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/strv.h"

enum {
	OPT_HOST_NAME = CLI_OPT_FIRST_PRIVATE,
};

static void
help(FILE *f)
{
	fputs("Usage: banger status [NAME] [--json] [--host-name H]\n"
	      "\n"
	      "Show each VM: the state declared and the state observed (starting: the\n"
	      "guest has not said it is ready yet; idle-stop: stopped for idleness, see\n"
	      "'banger start'), address, tap, hypervisor pid, uptime, CPU use of the\n"
	      "hypervisor process (share of one core since the sample the last reconcile\n"
	      "stored), its RSS, the root disk strategy and the host bytes of the root\n"
	      "disk files and of the work disk (ROOT+WORK), drift (what reconcile would\n"
	      "do) and the last error.  Changes nothing.\n"
	      "      --host-name H      this host's name for 'host:' (default: the kernel's)\n",
	      f);
	cli_source_help(f);
	cli_common_help(f, true);
	fputs("\nExit status: 0 shown, 1 error or NAME unknown, 64 usage error.\n", f);
}

struct row {
	const char *name;
	const char *desired;
	const char *observed;
	char ip[16];
	const char *tap;
	long pid;
	uint64_t uptime_s;
	bool uptime_known;	/* a record rebuilt from host marks does not know it */
	uint64_t boot_ms;	/* spawn to guest ready of the current run; 0: unknown */
	const char *drift;
	const char *detail;
	const char *workspace_commit;
	const char *source_commit;
	const char *last_error;
	const char *held;	/* why the plan holds it, or NULL */
	int cpu_permille;	/* -1: unknown */
	uint64_t rss;		/* 0: unknown */
	bool has_disk;
	uint64_t root_bytes, work_bytes;	/* allocated on the host */
	const char *strategy;	/* how the root disk is made; NULL: not chosen yet */
	bool idle_stopped;
	uint64_t stopped_ms;
};

/*
 * Statistics through the stats ops (none on the fake host): CPU use since
 * the sample reconcile last stored (or the last interval reconcile measured
 * when the process is a new one), RSS now, allocated bytes of the root
 * disk files (the VM directory without the work disk) and the work disk.
 */
static void
fill_stats(struct row *w, const struct cli_run *run, const struct observed_vm *o, uint64_t now)
{
	const struct stats_ops *st = run->host->stats;
	const struct disk_ops *disk = run->host->ops.disk;
	struct error *e = NULL;
	struct proc_sample ps;
	uint64_t dir_bytes = 0;

	w->cpu_permille = -1;
	if (!o)
		return;
	w->idle_stopped = o->status.stopped_idle;
	w->stopped_ms = o->status.stopped_ms;
	if (!st)
		return;
	if (o->proc_alive && st->proc_sample(st->userdata, o->proc_pid, &ps, &e) >= 0) {
		w->rss = ps.rss_bytes;
		if (o->status.cpu_sample_ms && o->status.cpu_start_ticks == ps.start_ticks &&
		    now > o->status.cpu_sample_ms + 500)
			w->cpu_permille = idle_cpu_permille(o->status.cpu_ticks, ps.cpu_ticks,
							    o->status.cpu_sample_ms, now,
							    st->ticks_per_second(st->userdata));
		else
			w->cpu_permille = o->status.cpu_permille;
	}
	error_free(e);
	e = NULL;
	if (o->dir_present && disk->usage) {
		_cleanup_free_ char *dir = status_vm_dir(run->status_dir, o->name);

		if (disk->usage(disk->userdata, dir, &dir_bytes, &e) >= 0) {
			w->has_disk = true;
			if (o->status.work_path &&
			    st->file_usage(st->userdata, o->status.work_path, &w->work_bytes, &e) < 0)
				w->work_bytes = 0;
			w->root_bytes = dir_bytes > w->work_bytes ? dir_bytes - w->work_bytes : 0;
		}
		error_free(e);
	}
}

static const char *
desired_of(const struct spec *s, const char *host_name, const char *name)
{
	if (strv_contains(s->held_vms, name) || (spec_holds_all(s) && spec_find_vm(s, name)))
		return "held";
	for (size_t i = 0; i < s->n_vms; i++)
		if (strcmp(s->vms[i].name, name) == 0) {
			if (s->vms[i].host && strcasecmp(s->vms[i].host, host_name) != 0)
				return "other-host";
			return vm_state_to_string(s->vms[i].state);
		}
	return "absent";
}

/* "512K", "3.2M", "1.5G": one decimal below 10 units. */
static void
human_bytes(uint64_t b, char out[32])
{
	static const char units[] = "KMGT";
	double v = (double)b;
	int u = -1;

	if (b < 1024) {
		snprintf(out, 32, "%" PRIu64 "B", b);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(out, 32, v < 10 ? "%.1f%c" : "%.0f%c", v, units[u]);
}

static void
format_uptime(uint64_t s, char out[32])
{
	if (s >= 86400)
		snprintf(out, 32, "%" PRIu64 "d%" PRIu64 "h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(out, 32, "%" PRIu64 "h%" PRIu64 "m", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(out, 32, "%" PRIu64 "m%" PRIu64 "s", s / 60, s % 60);
	else
		snprintf(out, 32, "%" PRIu64 "s", s);
}

int
cli_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_SOURCE_LONGOPTS,
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_(plan_freep) struct plan *p = NULL;
	_cleanup_strv_free_ char **names = NULL;
	_cleanup_free_ struct row *rows = NULL;
	struct cli_common common;
	struct cli_run run;
	const char *host_name = NULL, *only = NULL;
	size_t n_rows = 0;
	uint64_t now;
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		switch (c) {
		case 'h':
		case CLI_OPT_HELP:
			help(stdout);
			return EXIT_CONVERGED;
		case OPT_HOST_NAME:
			if (!spec_hostname_ok(optarg)) {
				cli_errorf("status: --host-name: '%s' is not a host name (letters, "
					   "digits, '.' and '-')", optarg);
				return EXIT_USAGE;
			}
			host_name = optarg;
			break;
		default:
			cli_errorf("status: unknown or incomplete option '%s'; see 'banger status "
				   "--help'",
				   argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc)
		only = argv[optind++];
	if (optind < argc) {
		cli_errorf("status: unexpected argument '%s'; see 'banger status --help'",
			   argv[optind]);
		return EXIT_USAGE;
	}
	r = cli_run_prepare(&run, &common, host_name, -1, &err);
	if (r >= 0) {
		struct plan_options po = { .status_dir = run.status_dir,
					   .ssh_pubkey = run.ssh_pubkey,
					   .uplink = run.uplink,
					   .host_name = run.host_name,
					   .allow_mass_delete = true };

		memcpy(po.hv_missing, run.hv_missing, sizeof(po.hv_missing));

		r = plan_build(run.spec, run.obs, &po, &p, &err);
	}
	if (r < 0) {
		cli_report(err);
		cli_run_done(&run);
		return EXIT_FAILED;
	}
	now = run.host->ops.proc->now_ms(run.host->ops.proc->userdata);

	/* Every VM observed or declared, by name. */
	for (size_t i = 0; i < run.obs->n_vms; i++)
		names = strv_append(names, run.obs->vms[i].name);
	for (size_t i = 0; run.claimed[i]; i++)
		if (!strv_contains(names, run.claimed[i]))
			names = strv_append(names, run.claimed[i]);
	for (size_t i = 0; names && names[i]; i++) {
		const struct observed_vm *o = observed_find(run.obs, names[i]);
		struct row *w;

		if (only && strcmp(only, names[i]) != 0)
			continue;
		rows = xappend(rows, &n_rows, sizeof(*rows), (void **)&w);
		w->name = names[i];
		w->desired = desired_of(run.spec, run.host_name, names[i]);
		/* Running once the guest said it is ready; starting until then. */
		w->observed = !o ? "absent"
			      : o->proc_alive && o->has_status && !o->status.started_ms &&
					o->status.spawned_ms ? "starting"
			      : o->proc_alive ? "running"
			      : !o->has_status && !o->rebuilt ? "unknown"
			      : o->has_status && o->status.phase == VM_PHASE_FAILED ? "failed"
			      : "stopped";
		strcpy(w->ip, "-");
		if (o && o->status.ip)
			ipv4_format(o->status.ip, w->ip);
		w->tap = o && o->status.tap[0] ? o->status.tap : "-";
		w->pid = o && o->proc_alive ? (long)o->proc_pid : 0;
		if (o && o->proc_alive && o->status.started_ms && now >= o->status.started_ms) {
			w->uptime_s = (now - o->status.started_ms) / 1000;
			w->uptime_known = true;
		}
		if (o && o->proc_alive && o->status.spawned_ms &&
		    o->status.started_ms >= o->status.spawned_ms)
			w->boot_ms = o->status.started_ms - o->status.spawned_ms;
		w->drift = "-";
		for (size_t j = 0; j < p->n_changes; j++)
			if (p->changes[j].vm_name && strcmp(p->changes[j].vm_name, names[i]) == 0) {
				w->drift = change_kind_to_string(p->changes[j].kind);
				w->detail = p->changes[j].detail;
			}
		w->last_error = o ? o->status.last_error : NULL;
		/* The plan's held lines read "NAME: why". */
		for (size_t j = 0; p->held && p->held[j] && !w->held; j++) {
			size_t nl = strlen(names[i]);

			if (strncmp(p->held[j], names[i], nl) == 0 && p->held[j][nl] == ':')
				w->held = p->held[j] + nl + (p->held[j][nl + 1] == ' ' ? 2 : 1);
		}
		if (o && o->status.disk_strategy != DISK_STRATEGY_AUTO)
			w->strategy = status_strategy_to_string(o->status.disk_strategy);
		fill_stats(w, &run, o, now);
		if (w->idle_stopped && !(o && o->proc_alive))
			w->observed = "idle-stop";
		w->workspace_commit = o ? o->status.workspace_commit : NULL;
		w->source_commit = o ? o->status.source_commit : NULL;
	}
	if (only && n_rows == 0) {
		cli_errorf("status: no vm '%s' declared or observed", only);
		cli_run_done(&run);
		return EXIT_FAILED;
	}
	if (common.json) {
		json_t *root = json_object(), *vms = json_array(), *orph = json_array();

		for (size_t i = 0; i < n_rows; i++) {
			json_t *v = json_object();
			const struct row *w = &rows[i];

			json_object_set_new(v, "name", json_string(w->name));
			json_object_set_new(v, "desired", json_string(w->desired));
			json_object_set_new(v, "observed", json_string(w->observed));
			json_object_set_new(v, "ip", strcmp(w->ip, "-") ? json_string(w->ip) : json_null());
			json_object_set_new(v, "tap", strcmp(w->tap, "-") ? json_string(w->tap) : json_null());
			json_object_set_new(v, "pid", w->pid ? json_integer(w->pid) : json_null());
			json_object_set_new(v, "boot_ms", w->boot_ms ? json_integer((json_int_t)w->boot_ms)
								       : json_null());
			json_object_set_new(v, "uptime_s", w->pid && w->uptime_known
								   ? json_integer((json_int_t)w->uptime_s)
								  : json_null());
			json_object_set_new(v, "drift", strcmp(w->drift, "-") ? json_string(w->drift)
									       : json_null());
			json_object_set_new(v, "drift_detail",
					    w->detail ? json_string(w->detail) : json_null());
			json_object_set_new(v, "workspace_commit",
					    w->workspace_commit ? json_string(w->workspace_commit)
								: json_null());
			json_object_set_new(v, "source_commit",
					    w->source_commit ? json_string(w->source_commit)
							     : json_null());
			json_object_set_new(v, "last_error",
					    w->last_error ? json_string(w->last_error) : json_null());
			json_object_set_new(v, "held", w->held ? json_string(w->held) : json_null());
			json_object_set_new(v, "cpu_percent",
					    w->cpu_permille >= 0 ? json_real(w->cpu_permille / 10.0)
								 : json_null());
			json_object_set_new(v, "rss_bytes",
					    w->rss ? json_integer((json_int_t)w->rss) : json_null());
			json_object_set_new(v, "disk_strategy",
					    w->strategy ? json_string(w->strategy) : json_null());
			json_object_set_new(v, "root_disk_bytes",
					    w->has_disk ? json_integer((json_int_t)w->root_bytes)
							: json_null());
			json_object_set_new(v, "work_disk_bytes",
					    w->has_disk ? json_integer((json_int_t)w->work_bytes)
							: json_null());
			json_object_set_new(v, "stopped_reason",
					    w->idle_stopped ? json_string("idle") : json_null());
			json_object_set_new(v, "stopped_ms",
					    w->idle_stopped ? json_integer((json_int_t)w->stopped_ms)
							    : json_null());
			json_array_append_new(vms, v);
		}
		for (size_t i = 0; !only && i < run.obs->n_orphans; i++) {
			const struct observed_orphan *x = &run.obs->orphans[i];
			json_t *v = json_object();

			json_object_set_new(v, "kind", json_string(orphan_kind_to_string(x->kind)));
			json_object_set_new(v, "name", json_string(x->name));
			json_array_append_new(orph, v);
		}
		json_object_set_new(root, "source", cli_source_json(&run));
		json_object_set_new(root, "vms", vms);
		json_object_set_new(root, "orphans", orph);
		json_object_set_new(root, "problems", json_array());
		for (size_t i = 0; run.obs->problems && run.obs->problems[i]; i++)
			json_array_append_new(json_object_get(root, "problems"),
					      json_string(run.obs->problems[i]));
		json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(root);
	} else {
		int nw = 20;	/* the name column: as wide as the longest name */

		for (size_t i = 0; i < n_rows; i++)
			if ((int)strlen(rows[i].name) > nw)
				nw = (int)strlen(rows[i].name);
		cli_source_print(&run, stdout);
		printf("%-*s %-10s %-9s %-15s %-12s %-7s %-8s %-7s %-6s %-6s %-23s %-8s %-12s %-12s "
		       "%s\n",
		       nw, "NAME", "DESIRED", "OBSERVED", "IP", "TAP", "PID", "UPTIME", "BOOT", "CPU", "RSS",
		       "DISK", "DRIFT", "WORKSPACE", "COMMIT", "LAST ERROR");
		for (size_t i = 0; i < n_rows; i++) {
			const struct row *w = &rows[i];
			char pid[16] = "-", up[32] = "-", cpu[16] = "-", rss[32] = "-", disk[72] = "-";
			const char *le;
			int le_len;
			char boot[24] = "-";

			if (w->pid) {
				snprintf(pid, sizeof(pid), "%ld", w->pid);
				if (w->uptime_known)
					format_uptime(w->uptime_s, up);
			}
			if (w->boot_ms)
				snprintf(boot, sizeof(boot), "%.1fs", (double)w->boot_ms / 1000.0);
			if (w->cpu_permille >= 0)
				snprintf(cpu, sizeof(cpu), "%d.%d%%", w->cpu_permille / 10,
					 w->cpu_permille % 10);
			if (w->rss)
				human_bytes(w->rss, rss);
			if (w->has_disk) {
				char a[32], b[32];

				human_bytes(w->root_bytes, a);
				human_bytes(w->work_bytes, b);
				snprintf(disk, sizeof(disk), "%s%s%s+%s", w->strategy ? w->strategy : "",
					 w->strategy ? " " : "", a, b);
			} else if (w->strategy) {
				snprintf(disk, sizeof(disk), "%s", w->strategy);
			}
			/* One row per VM: a last error's first line (a boot
			 * failure's holds the console's last lines). */
			le = w->last_error ? w->last_error : "-";
			le_len = (int)strcspn(le, "\n");
			printf("%-*s %-10s %-9s %-15s %-12s %-7s %-8s %-7s %-6s %-6s %-23s %-8s "
			       "%-12.12s %-12.12s %.*s%s\n",
			       nw, w->name, w->desired, w->observed, w->ip, w->tap, pid, up, boot, cpu, rss,
			       disk,
			       w->drift,
			       w->workspace_commit ? w->workspace_commit : "-",
			       w->source_commit ? w->source_commit : "-",
			       le_len, le, le[le_len] ? " (more: --json)" : "");
		}
		for (size_t i = 0; i < n_rows; i++)
			if (rows[i].held)
				printf("held %s: %s\n", rows[i].name, rows[i].held);
		for (size_t i = 0; !only && i < run.obs->n_orphans; i++)
			printf("orphan %s %s\n", orphan_kind_to_string(run.obs->orphans[i].kind),
			       run.obs->orphans[i].name);
		for (size_t i = 0; run.obs->problems && run.obs->problems[i]; i++)
			printf("problem: %s\n", run.obs->problems[i]);
	}
	cli_run_done(&run);
	return EXIT_CONVERGED;
}
