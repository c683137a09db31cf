# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the tests that start processes through banger (guests, the
# fake Firecracker): they end only those, each by its pid.
# kill_naming TEXT: SIGKILL every process whose command line contains TEXT.
kill_naming() {
	for _d in /proc/[0-9]*; do
		if tr '\0' ' ' 2>/dev/null <"$_d/cmdline" | grep -qF "$1"; then
			kill -9 "${_d#/proc/}" 2>/dev/null || true
		fi
	done
}
