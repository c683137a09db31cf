# SPDX-License-Identifier: GPL-2.0-or-later
# Shared by the crash tests; sourced inside the network namespace the test
# made.  Needs $T (the test's scratch directory), $BANGER, $IMG.

. "$top_srcdir/tests/procs-lib.sh"

fail() { echo "FAIL: $*" >&2; exit 1; }

# lo up, and an uplink with a default route for the NAT rules ("uplink: auto").
ns_setup() {
	ip link set lo up
	ip link add bgt-up0 type veth peer name bgt-up1
	ip addr add 192.0.2.1/24 dev bgt-up0
	ip link set bgt-up0 up
	ip link set bgt-up1 up
	ip route add default via 192.0.2.2
}

# The start of most inner scripts: ns_setup, then $ST (declarations, made
# by state_init with the fake Firecracker) and $SD (status) under $T, both
# exported as banger's defaults.
inner_setup() {
	ns_setup
	ST=$T/state
	SD=$T/status
	export BANGER_STATE="$ST" BANGER_STATUS_DIR="$SD"
	state_init "$ST" firecracker
}

# host.yaml and the image; $1: state directory, $2: hypervisor
# (firecracker: the fake one, or qemu).
state_init() {
	mkdir -p "$1/images" "$1/vms" "$1/filesyncs" "$1/files"
	if [ "$2" = qemu ]; then
		printf 'hypervisor: qemu\n' >"$1/host.yaml"
		{
			echo "kernel: $QIMG/vmlinux"
			echo "rootfs: $QIMG/rootfs.ext4"
			[ -f "$QIMG/initrd.gz" ] && echo "initrd: $QIMG/initrd.gz"
		} >"$1/images/base.yaml"
	else
		printf 'hypervisor: firecracker\nfirecracker:\n  binary: %s\n' \
			"$top_srcdir/tests/fakes/fake-firecracker" >"$1/host.yaml"
		printf 'kernel: %s\nrootfs: %s\n' "$IMG/vmlinux" "$IMG/rootfs.ext4" >"$1/images/base.yaml"
	fi
	printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n' >"$1/filesyncs/motd.yaml"
	echo "one" >"$1/files/motd"
}

# vm_decl STATE NAME [running|stopped] [memory] [nat true|false] [work 0|SIZE] [files yes|no]
vm_decl() {
	{
		printf 'image: base\nstate: %s\nmemory: %s\n' "$3" "$4"
		printf 'network:\n  nat: %s\n' "$5"
		printf 'disks:\n  work: %s\n' "$6"
		if [ "$7" = yes ]; then printf 'filesyncs: [motd]\n'; fi
	} >"$1/vms/$2.yaml"
}

# Every banger object on this host under status directory $1, one per line,
# with its kind; work disks kept in $1/retained, the lock, the git cache
# ($1/source), banger's ssh key pair ($1/ssh), the empty work-disk templates
# ($1/cache/work-SIZE.ext4) and a hosts fragment that names no VM are not
# objects to clean.
leaks() {
	ip -br link 2>/dev/null | awk '$1 ~ /^bgr-/ { sub(/@.*/, "", $1); print "tap " $1 }'
	# Rules in banger's table: every one but the shared ones belongs to a VM.
	nft -a list table inet banger 2>/dev/null | grep -E '# handle [0-9]+$' | grep -vE '(table|chain) [a-z_ ]+\{' |
		grep -vF 'comment "banger shared"' | sed 's/^[[:space:]]*/nat-rule /' || true
	losetup -n -O NAME,BACK-FILE -l 2>/dev/null | awk -v t="$1/" 'index($2, t) == 1 { print "loop " $1 " " $2 }'
	if [ -e /dev/mapper/control ] && command -v dmsetup >/dev/null; then
		dmsetup ls 2>/dev/null | awk '$1 ~ /^banger-/ { print "dm " $1 }'
	fi
	for d in /proc/[0-9]*; do
		c=$(tr '\0' ' ' 2>/dev/null <"$d/cmdline" || true)
		case $c in *"$1/"*) echo "process ${d#/proc/} $c" ;; esac
	done
	[ -d "$1/vms" ] && find "$1/vms" -mindepth 1 -maxdepth 1 | sed 's/^/file /'
	[ -d "$1" ] && find "$1" -mindepth 1 -maxdepth 1 ! -name vms ! -name retained ! -name lock \
		! -name source ! -name ssh ! -name hosts ! -name cache | sed 's/^/file /'
	[ -f "$1/hosts" ] && grep -v '^#' "$1/hosts" | grep -q . && sed 's/^/hosts-entry /' "$1/hosts"
	[ -d "$1/ssh/keys" ] && find "$1/ssh/keys" -mindepth 1 | sed 's/^/file /'
	[ -d "$1/retained" ] && find "$1/retained" -mindepth 1 ! -name '*.ext4' | sed 's/^/file /'
	[ -d "$1/cache" ] && find "$1/cache" -mindepth 1 ! -name 'work-*.ext4' | sed 's/^/file /'
	true
}

# The outer half of a real-host crash test (run in the host's namespaces,
# before unshare): skip unless root with the tools, a scratch $T removed at
# exit with every process whose command line names it and every loop device
# backed by a file in it.  The caller then runs its inner script in
# `unshare --net`.
real_host_prepare() {
	: "${BANGER:?}" "${top_builddir:?}" "${top_srcdir:?}"
	[ "$(id -u)" = 0 ] || { echo "skip: not root"; exit 77; }
	for c in unshare ip nft losetup; do
		command -v $c >/dev/null || { echo "skip: no $c"; exit 77; }
	done
	[ -x /usr/bin/python3 ] || { echo "skip: no python3 for the fake firecracker"; exit 77; }
	top_srcdir=$(cd "$top_srcdir" && pwd)
	T=$(mktemp -d /tmp/banger-crash-XXXXXX)
	trap real_host_cleanup EXIT
	IMG=$T/img
	mkdir -p "$IMG"
	head -c 4096 /dev/urandom >"$IMG/vmlinux"
	truncate -s 16M "$IMG/rootfs.ext4"
	export T BANGER IMG top_srcdir top_builddir
}

real_host_cleanup() {
	kill_naming "$T/"
	for l in $(losetup -n -O NAME,BACK-FILE -l 2>/dev/null |
		awk -v t="$T/" 'index($2, t) == 1 { print $1 }'); do
		losetup -d "$l" 2>/dev/null || true
	done
	rm -rf "$T"
}
