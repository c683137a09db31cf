#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# banger logs: whole log, last lines, follow, bad names, missing logs.
set -eu
: "${BANGER:?}"
T=$(mktemp -d /tmp/banger-logs-XXXXXX)
F=
trap '[ -n "$F" ] && kill "$F" 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export BANGER_STATUS_DIR=$T/status BANGER_STATE=$T/state
mkdir -p "$T/status/vms/web" "$T/state"
printf 'one\ntwo\nthree\n' >"$T/status/vms/web/console.log"

[ "$("$BANGER" logs web)" = "$(printf 'one\ntwo\nthree')" ] || fail "whole log"
[ "$("$BANGER" logs -n 2 web)" = "$(printf 'two\nthree')" ] || fail "last 2 lines"
[ "$("$BANGER" logs web -n 2)" = "$(printf 'two\nthree')" ] || fail "options after the name"
[ "$(BANGER_STATUS_DIR=$T/none "$BANGER" --status-dir "$T/status" logs web --lines=1)" = "three" ] ||
	fail "--status-dir before the command"
[ "$("$BANGER" logs --lines 0 web)" = "" ] || fail "0 lines"
[ "$("$BANGER" logs -n 9 web)" = "$(printf 'one\ntwo\nthree')" ] || fail "more lines than the log"
[ "$(cd "$T" && "$BANGER" logs --status-dir ./status/../status -n 1 web)" = "three" ] ||
	fail "relative --status-dir"

# Wait (up to 5 s) until file $2 holds $1, else fail with $3.
wait_for() {
	i=0
	until grep -q "$1" "$2"; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "$3"
		sleep 0.1
	done
}
# End the `banger logs -f` started in the background as $F.
stop_follow() {
	kill "$F"
	wait "$F" 2>/dev/null || true
	F=
}

# Follow: what is appended later shows up.
"$BANGER" logs -f web >"$T/follow" 2>&1 &
F=$!
sleep 0.5
printf 'four\n' >>"$T/status/vms/web/console.log"
wait_for four "$T/follow" "follow did not print the appended line"
stop_follow

# Follow across a purge and a new VM of that name: the folder goes, a while
# later a new log is made at the same path (as long as the old one, so its
# size says nothing), then another replaces it by rename.  Each new file is
# printed from its start.
L=$T/status/vms/web/console.log
printf 'old\n' >"$L"
"$BANGER" logs -f web >"$T/follow" 2>&1 &
F=$!
wait_for old "$T/follow" "follow did not print the log"
rm -rf "$T/status/vms/web"
sleep 0.5	# the path is gone for a few polls: still followed
mkdir "$T/status/vms/web"
printf 'new\n' >"$L"
wait_for new "$T/follow" "follow did not print the log made again after a purge"
printf 'more\n' >>"$L"
wait_for more "$T/follow" "follow did not print what was appended to the new log"
printf 'renamed in\n' >"$L.tmp"
mv "$L.tmp" "$L"
wait_for renamed "$T/follow" "follow did not print the log renamed over the old one"
stop_follow
[ "$(cat "$T/follow")" = "$(printf 'old\nnew\nmore\nrenamed in')" ] ||
	{ od -c "$T/follow"; fail "follow across new files"; }

# A guest's escape sequences reach a terminal as '?'; a pipe gets the bytes.
printf 'red \033[31mX\033]0;title\007 c1 \302\233Y\r\nok \303\251\n' >"$T/status/vms/web/console.log"
cmp -s "$T/status/vms/web/console.log" - <<EOF2 || fail "piped output changed"
$("$BANGER" logs web)
EOF2
if command -v script >/dev/null; then
	script -qec "\"$BANGER\" logs web" /dev/null >"$T/tty" </dev/null
	if grep -q "$(printf '\033')" "$T/tty" || grep -q "$(printf '\302\233')" "$T/tty"; then
		od -c "$T/tty"
		fail "control characters reached the terminal"
	fi
	grep -q 'red ?\[31mX?\]0;title? c1 ?Y' "$T/tty" || { od -c "$T/tty"; fail "terminal text"; }
	grep -q "ok $(printf '\303\251')" "$T/tty" || fail "UTF-8 text on the terminal"
	# A character cut by the 64 KiB read, a lone 8-bit CSI, a UTF-8 C1.
	{
		head -c 65535 /dev/zero | tr '\0' x
		printf '\302abc \233[2J \302\233[2J \303\n'
	} >"$T/status/vms/web/console.log"
	script -qec "\"$BANGER\" logs web" /dev/null >"$T/tty" </dev/null
	tail -c 40 "$T/tty" | grep -q 'x?abc ?\[2J ?\[2J ?' || { tail -c 40 "$T/tty" | od -c; fail "terminal filter"; }
	# Following: a C2 the log ended in, then a 9B appended later, is still
	# one C1 control.
	printf 'hi\302' >"$T/status/vms/web/console.log"
	script -qec "\"$BANGER\" logs -f web" /dev/null >"$T/tty" </dev/null &
	F=$!
	sleep 0.5
	printf '\233[2Jend\n' >>"$T/status/vms/web/console.log"
	wait_for end "$T/tty" "follow on a terminal"
	stop_follow
	grep -q "$(printf '\233')" "$T/tty" && { od -c "$T/tty"; fail "a C1 control reached the terminal when following"; }
	grep -q 'hi?\[2Jend' "$T/tty" || { od -c "$T/tty"; fail "following on a terminal"; }
	# Not UTF-8 (RFC 3629), each maximal part of a character as one '?':
	# overlong forms (E0 82 9B is a CSI), surrogates, above U+10FFFF, bytes
	# that never occur, and characters cut short.  Then valid characters at
	# the edges of each range pass.
	{
		printf 'a \340\202\233[2J b \355\240\200 c \364\220\200\200 d \300\257 e \301\277\n'
		printf 'f \360\200\200\200 g \365\200\200\200 h \370\377 i \340\240x j \360\220\200y\n'
		printf 'k \340\240\200 \355\237\277 \356\200\200 \357\277\275 \360\220\200\200 \364\217\277\277 \360\237\230\200 \302\240\n'
	} >"$T/status/vms/web/console.log"
	script -qec "\"$BANGER\" logs web" /dev/null >"$T/tty" </dev/null
	{
		printf 'a ???[2J b ??? c ???? d ?? e ??\n'
		printf 'f ???? g ???? h ?? i ?x j ?y\n'
		printf 'k \340\240\200 \355\237\277 \356\200\200 \357\277\275 \360\220\200\200 \364\217\277\277 \360\237\230\200 \302\240\n'
	} >"$T/want"
	tr -d '\r' <"$T/tty" | cmp -s "$T/want" - || { od -c "$T/tty"; fail "invalid UTF-8 on the terminal"; }
fi
printf 'one\ntwo\nthree\nfour\n' >"$T/status/vms/web/console.log"

set +e
"$BANGER" logs db >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "unknown vm exited $rc"
grep -q "no vm 'db' here" "$T/err" || fail "unknown vm message"
: >"$T/status/vms/db.yaml"	# a record, no log: never started
set +e
"$BANGER" logs db >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc = 1 ] || fail "missing log exited $rc"
grep -q "vm 'db' has no console log" "$T/err" || fail "missing log message"
set +e
"$BANGER" logs ../etc >/dev/null 2>"$T/err"; rc=$?
set -e
[ $rc = 64 ] || fail "bad name exited $rc"
grep -q "is not a VM name" "$T/err" || fail "bad name message"
set +e
"$BANGER" logs >/dev/null 2>&1; rc=$?
set -e
[ $rc = 64 ] || fail "no name exited $rc"
# host.yaml's status_dir is honoured when no --status-dir is given.
mkdir -p "$T/other/vms/web"
printf 'elsewhere\n' >"$T/other/vms/web/console.log"
printf 'status_dir: %s/other\n' "$T" >"$T/state/host.yaml"
[ "$(env -u BANGER_STATUS_DIR "$BANGER" logs web)" = "elsewhere" ] || fail "host.yaml status_dir"
echo "logs: ok"
