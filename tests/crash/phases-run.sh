# SPDX-License-Identifier: GPL-2.0-or-later
# The inside of tests/crash/phases.sh (in its network namespace).
set -eu
. "$top_srcdir/tests/crash/lib.sh"
inner_setup
# Every guest notes its start and exit, and takes 600 ms to stop.
export FAKE_FIRECRACKER_EVENTS=$T/events FAKE_FIRECRACKER_EXIT_DELAY_MS=600

decl() { # decl NAME [IP]
	{
		printf 'image: base\nmemory: 128M\ndisks:\n  work: 0\n'
		[ -z "${2:-}" ] || printf 'network:\n  ip: %s\n' "$2"
	} >"$ST/vms/$1.yaml"
}
run() { # run WHAT [JOBS]
	"$BANGER" reconcile --jobs "${2:-8}" >"$T/out" 2>&1 || { cat "$T/out"; fail "reconcile $1"; }
}
# before OLD NEW: OLD's guest exited before NEW's started (their api sockets).
before() {
	old=$SD/vms/$1/api.sock
	new=$SD/vms/$2/api.sock
	awk -v o="$old" -v n="$new" '
		$2 == o && $3 == "exit" { ox = $1 }
		$2 == n && $3 == "start" { ns = $1 }
		END { if (!ox || !ns || ox > ns) exit 1 }' "$T/events" ||
		{ cat "$T/events"; fail "$1 was not stopped before $2 started"; }
}

decl web 10.77.0.10
decl a
decl b
run first
grep -qF 'ip: "10.77.0.2"' "$SD/vms/a.yaml" || { cat "$SD/vms/a.yaml"; fail "a's address"; }

# A rename: web's file becomes web2's, the address stays.
mv "$ST/vms/web.yaml" "$ST/vms/web2.yaml"
: >"$T/events"
run rename
before web web2

# An address declared that a had been given: a moves first.
decl c 10.77.0.2
: >"$T/events"
run claim
before a c
grep -qF 'ip: "10.77.0.2"' "$SD/vms/c.yaml" || fail "c's address"
grep -qF 'ip: "10.77.0.2"' "$SD/vms/a.yaml" && fail "a kept the address c declares"

# Two VMs trading addresses in one run, one job: both guests stop before
# either starts.
decl web2 10.77.0.2
decl c 10.77.0.10
: >"$T/events"
run trade 1
before web2 c
before c web2
grep -qF 'ip: "10.77.0.2"' "$SD/vms/web2.yaml" || fail "web2's address"
grep -qF 'ip: "10.77.0.10"' "$SD/vms/c.yaml" || fail "c's address"

# A chain: p takes q's address, q takes r's, r a free one.
decl p 10.77.0.20
decl q 10.77.0.21
decl r 10.77.0.22
run chain-before
decl p 10.77.0.21
decl q 10.77.0.22
decl r 10.77.0.23
: >"$T/events"
run chain 1
before q p
before r q
grep -qF 'ip: "10.77.0.21"' "$SD/vms/p.yaml" || fail "p's address"
echo "ok"
