# SPDX-License-Identifier: GPL-2.0-or-later
# The fault matrix itself (tests/crash/fault-matrix.sh runs it inside its
# network namespace).  Needs $T, $BANGER, $IMG, $QIMG, $QEMU, $top_srcdir.
set -eu
. "$top_srcdir/tests/crash/lib.sh"
ns_setup

ST=$T/state
SD=$T/status
export BANGER_STATE=$ST BANGER_STATUS_DIR=$SD
MEM=128M
MEM2=192M

# Scenarios: before_X writes the declarations the host starts from, after_X
# the ones the faulted run applies.
before_create() { :; }
after_create() { vm_decl "$ST" a running $MEM true 32M yes; }
before_stop() { vm_decl "$ST" a running $MEM true 32M yes; }
after_stop() { vm_decl "$ST" a stopped $MEM true 32M yes; }
before_start() { vm_decl "$ST" a stopped $MEM true 32M yes; }
after_start() { vm_decl "$ST" a running $MEM true 32M yes; }
before_restart() { vm_decl "$ST" a running $MEM true 32M yes; }
after_restart() { vm_decl "$ST" a running $MEM2 true 32M yes; }
before_delete() { vm_decl "$ST" a running $MEM true 32M yes; }
after_delete() { rm -f "$ST/vms/a.yaml"; }
before_nat() { vm_decl "$ST" a running $MEM false 32M yes; }
after_nat() { vm_decl "$ST" a running $MEM true 32M yes; }
before_filesync() { vm_decl "$ST" a running $MEM true 32M yes; }
after_filesync() {
	echo "two" >"$ST/files/motd"
	printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n  - host: files/motd\n    guest: /etc/issue\n' \
		>"$ST/filesyncs/motd.yaml"
}

rec() { "$BANGER" reconcile --allow-mass-delete "$@" >"$T/out" 2>&1; }

# point SCENARIO HYPERVISOR FAULT: 0 when the host converged and was left
# clean; leaked objects are added to $T/leaked.
point() {
	s=$1 h=$2 f=$3
	rm -rf "$ST" "$SD"
	state_init "$ST" "$h"
	before_$s
	rec || { cat "$T/out"; echo "  $s/$h/$f: setup run failed"; return 1; }
	had_work=0
	[ -f "$SD/vms/a/work.ext4" ] && had_work=1
	after_$s
	set +e
	if [ "$f" = count ]; then
		rm -f "$T/count"
		BANGER_FAULT_COUNT=$T/count rec
	else
		BANGER_FAULT=$f rec
	fi
	rc=$?
	set -e
	case $f in
	count) [ "$rc" = 0 ] || { cat "$T/out"; echo "  $s/$h: unfaulted run exit $rc"; return 1; } ;;
	*) [ "$rc" = 137 ] || { cat "$T/out"; echo "  $s/$h/$f: run not killed (exit $rc)"; return 1; } ;;
	esac
	ok=0
	if ! rec; then
		cat "$T/out"; echo "  $s/$h/$f: recovery run failed"; ok=1
	elif ! "$BANGER" plan >"$T/out" 2>&1 || ! grep -q '^No changes' "$T/out"; then
		cat "$T/out"; echo "  $s/$h/$f: not converged after recovery"; ok=1
	fi
	[ "$had_work" = 0 ] || [ -f "$SD/vms/a/work.ext4" ] || [ "$s" = delete ] ||
		{ echo "  $s/$h/$f: work disk gone"; ok=1; }
	if [ "$s" != delete ] && [ -f "$SD/vms/a/work.ext4" ]; then
		had_work=1
	fi
	if [ "$f" = count ] && [ "$s" != delete ]; then
		# The leak finder must see what the scenario made, or it proves nothing.
		leaks "$SD" >"$T/leaks"
		for k in tap file $([ "$s" != stop ] && echo process; grep -q 'nat: true' "$ST/vms/a.yaml" && echo nat-rule); do
			grep -q "^$k " "$T/leaks" || { cat "$T/leaks"; echo "  $s/$h: the leak finder misses a $k"; ok=1; }
		done
	fi
	rm -f "$ST"/vms/*.yaml
	rec || { cat "$T/out"; echo "  $s/$h/$f: delete-all run failed"; ok=1; }
	leaks "$SD" >"$T/leaks"
	if [ -s "$T/leaks" ]; then
		sed "s|^|  $s/$h/$f: leaked: |" "$T/leaks"
		wc -l <"$T/leaks" >>"$T/leaked"
		ok=1
	fi
	if [ "$had_work" = 1 ] && ! ls "$SD"/retained/a-*.ext4 >/dev/null 2>&1; then
		echo "  $s/$h/$f: work disk lost"; ok=1
	fi
	return $ok
}

: >"$T/leaked"
total=0 conv=0
matrix() {
	h=$1 variants=$2
	shift 2
	for s in "$@"; do
		point "$s" "$h" count || fail "$s/$h: the unfaulted scenario does not converge cleanly"
		n=$(cat "$T/count" 2>/dev/null || echo 0)
		[ "$n" -gt 0 ] || fail "$s/$h: no side effects counted"
		echo "# $s ($h): $n side effects"
		for v in $variants; do
			i=1
			while [ "$i" -le "$n" ]; do
				f=$i
				[ "$v" = before ] && f=before:$i
				total=$((total + 1))
				if point "$s" "$h" "$f"; then conv=$((conv + 1)); fi
				i=$((i + 1))
			done
		done
	done
}

# shellcheck disable=SC2086
matrix firecracker "${BANGER_CRASH_VARIANTS:-after before}" \
	${BANGER_CRASH_SCENARIOS:-create stop start restart delete nat filesync}
if [ "$QEMU" = 1 ]; then
	# QEMU boots a real guest each time: a smaller subset.
	MEM=256M MEM2=320M
	# shellcheck disable=SC2086
	matrix qemu after ${BANGER_CRASH_QEMU_SCENARIOS:-stop}
fi
leaked=$(awk '{ n += $1 } END { print n + 0 }' "$T/leaked")
echo "fault points: $total, converged: $conv, leaked objects: $leaked"
[ "$total" -gt 0 ] && [ "$conv" = "$total" ] && [ "$leaked" = 0 ]
