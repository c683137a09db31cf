# SPDX-License-Identifier: GPL-2.0-or-later
# The inside of tests/crash/jobs-kill.sh (in its network namespace).
set -eu
. "$top_srcdir/tests/crash/lib.sh"
inner_setup

# declare_all [flip]: a third of the VMs running; with flip, the other two
# thirds, and v0 still running with more memory (stops, starts, a restart).
declare_all() {
	for i in 0 1 2 3 4 5 6 7 8 9 10 11; do
		s=stopped
		[ $((i % 3)) = 0 ] && s=running
		m=128M
		if [ "${1:-}" = flip ] && [ $i = 0 ]; then
			m=192M
		elif [ "${1:-}" = flip ]; then
			if [ $s = running ]; then s=stopped; else s=running; fi
		fi
		vm_decl "$ST" "v$i" $s $m true 16M yes
	done
}

# converged PHASE RUNNING: the run after the kill converged, with RUNNING VMs
# running and no temp file left.
converged() {
	"$BANGER" reconcile --jobs 4 >"$T/out" 2>&1 ||
		{ cat "$T/killed.out" "$T/out"; fail "$1 killed after $delay ms: the next run failed"; }
	"$BANGER" plan >"$T/plan" 2>&1 && grep -q '^No changes' "$T/plan" ||
		{ cat "$T/plan"; fail "$1 killed after $delay ms: not converged"; }
	[ "$(grep -c '^phase: "*running' "$SD"/vms/*.yaml | awk -F: '{ s += $2 } END { print s }')" = "$2" ] ||
		fail "$1 killed after $delay ms: not $2 running VMs"
	# The fake hypervisor's own record (api.sock.json, written through a
	# temp file named by its pid) is not banger's: a fake stopped while it
	# writes leaves its temp file, as no real hypervisor does.
	tmp=$(find "$SD" -name '*.tmp*' ! -name 'api.sock.json.tmp.*')
	[ -z "$tmp" ] || { echo "$tmp"; fail "$1 killed after $delay ms: temporary files left"; }
}

# Run reconcile ($@) with --jobs 4 and SIGKILL it after $delay ms; count
# the runs that were still going.
killed=0
run_killed() {
	"$BANGER" reconcile --jobs 4 "$@" >"$T/killed.out" 2>&1 &
	p=$!
	sleep "$(printf '0.%03d' "$delay")"
	if kill -9 "$p" 2>/dev/null; then
		killed=$((killed + 1))
	fi
	wait "$p" 2>/dev/null || true
}

for delay in 5 20 50 100 200 400; do
	declare_all
	run_killed
	converged create 4
	declare_all flip
	run_killed
	converged change 9

	rm -f "$ST"/vms/*.yaml
	run_killed --allow-mass-delete
	"$BANGER" reconcile --jobs 4 --allow-mass-delete >"$T/out" 2>&1 ||
		{ cat "$T/killed.out" "$T/out"; fail "delete killed after $delay ms: the next run failed"; }
	left=$(leaks "$SD")
	[ -z "$left" ] || { echo "$left"; fail "delete killed after $delay ms: left behind"; }
	echo "killed after $delay ms: converged, nothing left"
done
# Most runs must have been cut short, or the test tested nothing.
[ "$killed" -ge 9 ] || fail "only $killed of 18 runs were still going when killed"
echo "$killed of 18 runs killed part way"
