/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The sampling pass of reconcile: for each running VM, one sample of its
 * hypervisor process and of the SSH sessions to it through the stats ops,
 * the idle decision (plan/idle.h), and the status file updated with the
 * sample, before planning.  A VM found idle for its idle_stop_after is
 * recorded as stopped for idleness here; the plan then stops it.  banger
 * start clears that record.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/core.h"
#include "cli/idle.h"
#include "drivers/guest.h"
#include "plan/idle.h"
#include "status/status.h"
#include "util/alloc.h"
#include "util/cleanup.h"
#include "util/name.h"
#include "util/strv.h"

int
cli_idle_pass(struct cli_run *run, const struct stats_ops *stats, char *const *only, bool dry,
	      struct error **err)
{
	const struct proc_ops *proc = run->host->ops.proc;
	uint64_t now = proc->now_ms(proc->userdata);

	if (spec_holds_all(run->spec))
		return 0;	/* every VM is held */
	for (size_t i = 0; i < run->obs->n_vms; i++) {
		struct observed_vm *o = &run->obs->vms[i];
		struct vm_status *st = &o->status;
		const struct vm_spec *vm;
		struct proc_sample ps;
		struct idle_input in = { 0 };
		struct idle_decision d;
		struct error *e = NULL;
		unsigned ssh = 0;
		int r;

		/* Only running VMs; held and undeclared VMs are left alone (their
		 * status files too). */
		if (!o->has_status || !o->proc_alive || !st->id[0])
			continue;
		vm = spec_find_vm(run->spec, o->name);
		if (!vm || strv_contains(run->spec->held_vms, o->name))
			continue;
		if (only && !strv_contains(only, o->name))
			continue;
		if (vm && vm->host && strcasecmp(vm->host, run->host_name) != 0)
			continue;
		r = stats->proc_sample(stats->userdata, o->proc_pid, &ps, &e);
		if (r < 0) {
			/* Gone since observed: the plan repairs it. */
			error_free(e);
			continue;
		}
		if (st->ip && stats->tcp_established(stats->userdata, st->ip, 22, &ssh, &e) < 0) {
			_cleanup_free_ char *msg = error_format(e);

			cli_errorf("warning: vm '%s': ssh sessions: %s, ignoring", o->name, msg);
			error_free(e);
			e = NULL;
			ssh = 1;	/* unknown: never count it as idle */
		}
		in.idle_stop_after_ms = vm->idle_stop_after * 1000;
		in.have_prev = st->cpu_sample_ms && st->cpu_start_ticks == ps.start_ticks;
		in.prev_ticks = st->cpu_ticks;
		in.prev_ms = st->cpu_sample_ms;
		in.now_ticks = ps.cpu_ticks;
		in.now_ms = now;
		in.ticks_per_second = stats->ticks_per_second(stats->userdata);
		in.ssh_sessions = ssh;
		in.idle_since_ms = in.have_prev ? st->idle_since_ms : 0;
		plan_idle_decide(&in, &d);
		st->cpu_ticks = ps.cpu_ticks;
		st->cpu_start_ticks = ps.start_ticks;
		st->cpu_sample_ms = now;
		st->cpu_permille = d.cpu_permille;
		st->idle_since_ms = d.idle_since_ms;
		if (d.stop && !st->stopped_idle) {
			st->stopped_idle = true;
			st->stopped_ms = now;
			memcpy(st->stopped_generation, vm->generation, sizeof(st->stopped_generation));
		}
		/* Dry (plan, --dry-run): what the run would decide now, in the
		 * observation only; the samples stay as recorded. */
		if (dry)
			continue;
		r = status_write(run->status_dir, st, err);
		if (r < 0)
			return error_prefix(err, "vm '%s'", o->name);
	}
	return 0;
}

int
cli_idle_clear(const char *status_dir, const char *name, bool *ret_was, struct error **err)
{
	struct vm_status st = { 0 };
	bool was;
	int r;

	r = status_read(status_dir, name, &st, err);
	if (r < 0)
		return r;
	was = st.stopped_idle;
	if (was) {
		st.stopped_idle = false;
		st.stopped_ms = 0;
		st.stopped_generation[0] = '\0';
		st.idle_since_ms = 0;
		r = status_write(status_dir, &st, err);
	}
	vm_status_done(&st);
	if (r < 0)
		return r;
	*ret_was = was;
	return 0;
}

static void
start_help(FILE *f)
{
	fputs("Usage: banger start [--json] [--host-name H] NAME\n"
	      "\n"
	      "Clear the idle stop of the VM NAME (recorded when it was stopped for being\n"
	      "idle for its idle_stop_after), then reconcile that VM alone, which starts it\n"
	      "when its declaration says state: running.\n"
	      "\n"
	      "Options:\n"
	      "      --host-name H      this host's name for 'host:' (default: the kernel's)\n",
	      f);
	cli_source_help(f);
	cli_common_help(f, true);
	fputs("\nWith --json, the output is that of 'banger reconcile --json' with a 'start'\n"
	      "member: the vm and whether its idle stop was cleared.\n"
	      "\nExit status: that of reconciling the vm alone; 1 also for a vm that is not\n"
	      "declared or is held, 64 usage error.\n",
	      f);
}

enum { OPT_HOST_NAME = CLI_OPT_FIRST_PRIVATE };

int
cli_start(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		CLI_SOURCE_LONGOPTS,
		{ "host-name", required_argument, NULL, OPT_HOST_NAME },
		{},
	};
	_cleanup_(error_freep) struct error *err = NULL;
	_cleanup_strv_free_ char **args = NULL;
	struct cli_common common;
	struct cli_run run;
	const char *name, *host_name = NULL;
	bool was = false;
	json_t *extra = NULL;
	int c, r;

	cli_common_init(&common);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (cli_common_option(&common, c, optarg))
			continue;
		if (c == CLI_OPT_HELP || c == 'h') {
			start_help(stdout);
			return EXIT_CONVERGED;
		}
		if (c == OPT_HOST_NAME) {
			if (!spec_hostname_ok(optarg)) {
				cli_errorf("start: --host-name: '%s' is not a host name (letters, "
					   "digits, '.' and '-')",
					   optarg);
				return EXIT_USAGE;
			}
			host_name = optarg;
			continue;
		}
		cli_errorf("start: unknown or incomplete option '%s'; see 'banger start --help'",
			   argv[optind - 1]);
		return EXIT_USAGE;
	}
	if (optind + 1 != argc) {
		cli_errorf("start: expected one vm name; see 'banger start --help'");
		return EXIT_USAGE;
	}
	if (!name_is_dns_label(argv[optind])) {
		cli_errorf("start: '%s' is not a vm name (a DNS label: a-z, 0-9, '-')",
			   argv[optind]);
		return EXIT_USAGE;
	}
	name = argv[optind];
	/* Under the lock, so no reconcile writes the status file meanwhile. */
	r = cli_run_prepare(&run, &common, host_name, 30000, &err);
	if (r >= 0 && !spec_find_vm(run.spec, name)) {
		bool held = strv_contains(run.spec->held_vms, name);

		cli_run_done(&run);
		if (held)
			cli_errorf("start: vm '%s' is held: its declaration (or one it depends "
				   "on) is invalid; see 'banger validate'",
				   name);
		else
			cli_errorf("start: no vm '%s' is declared", name);
		return EXIT_FAILED;
	}
	if (r >= 0)
		r = cli_idle_clear(run.status_dir, name, &was, &err);
	if (r == -ENOENT) {
		error_free(TAKE_PTR(err));
		r = 0;
	}
	/* The reconcile reads what this run read: the same state, status
	 * directory, source options and host name. */
	if (r >= 0) {
		args = strv_append(args, "reconcile");
		args = strv_append(args, "--state");
		args = strv_append(args, common.state_dir);
		args = strv_append(args, "--status-dir");
		args = strv_append(args, run.status_dir);
		args = strv_append(args, "--host-name");
		args = strv_append(args, run.host_name);
		if (common.worktree)
			args = strv_append(args, "--worktree");
		if (common.allow_rewind)
			args = strv_append(args, "--allow-rewind");
		if (common.json)
			args = strv_append(args, "--json");
	}
	cli_run_done(&run);
	if (r < 0) {
		cli_report(err);
		return r == -EBUSY ? EXIT_LOCKED : EXIT_FAILED;
	}
	if (common.json) {
		extra = json_object();
		json_object_set_new(extra, "start",
				    json_pack("{s:s, s:b}", "vm", name, "idle_stop_cleared", was));
	} else if (was)
		printf("vm '%s': idle stop cleared\n", name);
	else
		printf("vm '%s': not stopped for idleness; reconciling it as declared\n", name);
	args = strv_append(args, "--only");
	args = strv_append(args, name);
	r = cli_reconcile_extra((int)strv_length(args), args, extra);
	json_decref(extra);
	return r;
}
