#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# No host object is created or removed outside apply's step(): every call of
# an op that changes the host (tap_ensure, vm_add, root_create, spawn, ...)
# must sit in step() or in the helpers only step() calls (start_vm,
# remove_orphan, make_work_disk, sync_vm_dir, sync_vm_dir_on_failure, nat_add)
# of src/apply/apply.c,
# or in finish() (the batched end of a run: taps given up, deleted together);
# hv-dispatch.c may only forward each op to its backend from its own op; the
# kernel primitives that make objects (TUNSETIFF, LOOP_CTL_GET_FREE,
# posix_spawn, dm tasks, nft commands, rtnl link adds) appear only in
# src/drivers/.  The checker is run on the source tree (must pass) and on
# copies with one planted violation each (must fail), so it is known to be
# able to fail.
set -eu
: "${top_srcdir:?}"

OPS='tap_ensure|tap_delete|tap_flush|flush|bridge_ensure|forwarding_ensure|vm_add|vm_delete|rule_delete|table_ensure|root_create|root_remove|work_create|work_create_seeded|work_retain|work_recover|vm_dir_create|vm_dir_remove|vm_dir_sync|filesync_apply|workspace_apply|obj_remove|spawn|boot|stop'
PRIM='TUNSETIFF|LOOP_CTL_GET_FREE|LOOP_CONFIGURE|LOOP_SET_FD|posix_spawn|execve|fork\(|dm_task_create|nft_run_cmd_from_buffer|rtnl_link_add'

# check SRC: prints each violation as FILE:LINE: why; exits 1 if any.
check() {
	src=$1
	bad=0
	files=$(cd "$src" && find . -name '*.c' -o -name '*.h' | sed 's|^\./||' | LC_ALL=C sort)
	[ -n "$files" ] || { echo "no sources in $src"; return 1; }
	for f in $files; do
		awk -v f="$f" -v ops="$OPS" -v prim="$PRIM" '
			# the function a line is in: its name starts a line (STYLE.md)
			/^[a-z_][a-z0-9_]*\(/ { fn = $0; sub(/\(.*/, "", fn) }
			{
				line = $0
				# comments and strings do not count
				gsub(/\/\*.*\*\//, "", line)
				gsub(/"([^"\\]|\\.)*"/, "\"\"", line)
				if (line ~ ("(->|\\.)(" ops ")\\(")) {
					ok = 0
					if (f == "apply/apply.c" && (fn == "step" || fn == "start_vm" || fn == "remove_orphan" || fn == "make_work_disk" || fn == "sync_vm_dir" || fn == "sync_vm_dir_on_failure" || fn == "nat_add" || fn == "finish"))
						ok = 1
					if (f == "drivers/hv-dispatch.c" && (fn == "d_spawn" || fn == "d_boot" || fn == "d_stop"))
						ok = 1
					if (!ok) { printf "%s:%d: host op called outside step() (in %s)\n", f, NR, fn; bad = 1 }
				}
				if (line ~ ("(" prim ")") && f !~ /^drivers\//) {
					printf "%s:%d: host primitive outside src/drivers\n", f, NR; bad = 1
				}
				if (f == "apply/apply.c" && fn != "step" && line ~ /[^a-z_](start_vm|remove_orphan|make_work_disk|sync_vm_dir|sync_vm_dir_on_failure|nat_add)\(/ && line !~ /^(start_vm|remove_orphan|make_work_disk|sync_vm_dir|sync_vm_dir_on_failure|nat_add)\(/) {
					printf "%s:%d: step helper called outside step() (in %s)\n", f, NR, fn; bad = 1
				}
			}
			END { exit bad }' "$src/$f" || bad=1
	done
	return $bad
}

T=$(mktemp -d /tmp/banger-side-effects-XXXXXX)
trap 'rm -rf "$T"' EXIT

check "$top_srcdir/src" || { echo "FAIL: side effects outside step()"; exit 1; }
n=$(grep -cE "(->|\.)($OPS)\(" "$top_srcdir/src/apply/apply.c")
[ "$n" -ge 15 ] || { echo "FAIL: only $n op calls found in apply.c: the pattern is stale"; exit 1; }

# Each plant must be caught.
plant() {
	rm -rf "$T/src"
	cp -r "$top_srcdir/src" "$T/src"
	chmod -R u+w "$T/src"
	printf '%s\n' "$2" >>"$T/src/$1"
	if check "$T/src" >"$T/out"; then
		echo "FAIL: the checker missed: $1: $2"
		exit 1
	fi
	grep -q "^$1:" "$T/out" || { cat "$T/out"; echo "FAIL: wrong report for $1"; exit 1; }
}
plant cli/cmd-reconcile.c 'static void
sneak(const struct host_ops *o)
{
	(void)o->net->tap_ensure(o->net->userdata, "bgr-x", "b", "v", "i", NULL);
}'
plant apply/apply.c 'static int
cleanup_after(struct actx *a)
{
	return a->ops->nat->vm_add(a->ops->nat->userdata, "i", "t", 0, "u", NULL);
}'
plant apply/apply.c 'static int
helper(struct actx *a, const struct plan_change *ch, struct vm_status *st)
{
	return start_vm(a, ch, st, NULL);
}'
plant apply/apply.c 'static int
helper2(struct actx *a, const struct plan_change *ch, const struct plan_action *act,
	const struct vm_status *st)
{
	return make_work_disk(a, ch, act, st, NULL);
}'
plant observe/observe.c 'static void
sneak(const struct disk_ops *d) { (void)d->root_create(d->userdata, NULL, NULL, NULL); }'
plant cli/run.c 'static int
sneak(pid_t *p, char **argv) { return posix_spawn(p, argv[0], NULL, NULL, argv, NULL); }'
plant plan/plan.c 'static void
sneak(const struct hv_ops *h) { (void)h->spawn(h->userdata, NULL, NULL, NULL); }'
# The fault switch exists only in fault-injection builds.
if [ -n "${BANGER:-}" ] && [ -f "${top_builddir:-}/config.h" ]; then
	if grep -q '^#define BANGER_FAULT_INJECTION 1' "$top_builddir/config.h"; then
		grep -q BANGER_FAULT_COUNT "$BANGER" || { echo "FAIL: no fault switch in a fault build"; exit 1; }
	else
		! grep -q BANGER_FAULT "$BANGER" || { echo "FAIL: the fault switch is in a normal build"; exit 1; }
	fi
fi
echo "ok: host ops only in step(); 7 planted violations caught"
