# SPDX-License-Identifier: GPL-2.0-or-later
# The inside of tests/crash/concurrency.sh (in its network namespace).
set -eu
. "$top_srcdir/tests/crash/lib.sh"
inner_setup
vm_decl "$ST" a running 128M true 16M yes
vm_decl "$ST" b running 128M false 0 no
"$BANGER" reconcile >"$T/out" 2>&1 || { cat "$T/out"; fail "first reconcile"; }

# readers: until $T/stop exists, status and plan in turn, each timed.
reader() {
	i=0
	: >"$T/reads"
	while [ ! -e "$T/stop" ]; do
		for cmd in status plan; do
			t0=$(date +%s%N)
			set +e
			if [ $cmd = status ]; then
				"$BANGER" status --json >"$T/rout" 2>"$T/rerr"
			else
				"$BANGER" plan >"$T/rout" 2>"$T/rerr"
			fi
			rc=$?
			set -e
			t1=$(date +%s%N)
			torn=0
			grep -qE 'truncated|missing|unparsable|repeated|does not derive|bad value|status file' \
				"$T/rout" "$T/rerr" && torn=1
			if [ $cmd = status ]; then
				[ $rc = 0 ] && /usr/bin/python3 -c 'import json,sys; json.load(open(sys.argv[1]))' \
					"$T/rout" 2>/dev/null || torn=1
			else
				[ $rc = 0 ] || [ $rc = 2 ] || torn=1
			fi
			[ $torn = 0 ] || { echo "torn $cmd read (exit $rc):"; cat "$T/rout" "$T/rerr"; } >>"$T/torn"
			echo "$(((t1 - t0) / 1000000))" >>"$T/reads"
		done
		i=$((i + 1))
	done
}
reader &
rpid=$!

e0=0 e3=0 other=0 conv=0
r=1
while [ "$r" -le 20 ]; do
	case $((r % 4)) in
	0) vm_decl "$ST" a running 128M true 16M yes ;;
	1) vm_decl "$ST" a stopped 128M true 16M yes ;;
	2) vm_decl "$ST" a running 192M false 16M yes ;;
	3) vm_decl "$ST" b stopped 128M false 0 no ;;
	esac
	[ $((r % 4)) = 0 ] && vm_decl "$ST" b running 128M false 0 no
	lt=
	[ $((r % 2)) = 1 ] && lt="--lock-timeout 0"
	"$BANGER" reconcile >"$T/o1" 2>&1 &
	p1=$!
	# shellcheck disable=SC2086
	"$BANGER" reconcile $lt >"$T/o2" 2>&1 &
	p2=$!
	set +e
	wait $p1
	c1=$?
	wait $p2
	c2=$?
	set -e
	for c in $c1 $c2; do
		case $c in
		0) e0=$((e0 + 1)) ;;
		3) e3=$((e3 + 1)) ;;
		*) other=$((other + 1)); echo "round $r: exit $c"; cat "$T/o1" "$T/o2" ;;
		esac
	done
	[ "$c1" = 3 ] && ! grep -q 'another run\|lock' "$T/o1" && { cat "$T/o1"; fail "exit 3 without saying why"; }
	[ "$c2" = 3 ] && ! grep -q 'another run\|lock' "$T/o2" && { cat "$T/o2"; fail "exit 3 without saying why"; }
	if "$BANGER" plan >"$T/p" 2>&1 && grep -q '^No changes' "$T/p"; then
		conv=$((conv + 1))
	else
		echo "round $r: not converged"; cat "$T/p"
	fi
	r=$((r + 1))
done
touch "$T/stop"
wait $rpid
reads=$(wc -l <"$T/reads")
slow=$(sort -n "$T/reads" | tail -n 1)
torn=0
[ -f "$T/torn" ] && torn=$(grep -c '^torn' "$T/torn") && cat "$T/torn"
echo "rounds: 20, exit 0: $e0, exit 3: $e3, other exits: $other, converged: $conv"
echo "reads during runs: $reads, slowest: ${slow} ms, torn: $torn"
rm -f "$ST"/vms/*.yaml
"$BANGER" reconcile --allow-mass-delete >"$T/out" 2>&1 || { cat "$T/out"; fail "delete all"; }
leaks "$SD" >"$T/leaks"
[ ! -s "$T/leaks" ] || { cat "$T/leaks"; fail "objects left"; }
[ "$other" = 0 ] && [ "$conv" = 20 ] && [ "$torn" = 0 ] && [ "$reads" -gt 20 ] && [ "$slow" -lt 5000 ] &&
	[ "$e3" -gt 0 ]
