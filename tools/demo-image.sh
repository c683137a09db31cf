#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Build banger's demo guest image into OUTDIR from Debian packages only:
#
#   OUTDIR/vmlinux      ELF kernel (PVH entry) from linux-image-cloud-amd64
#   OUTDIR/vmlinuz      the package's compressed bzImage, as shipped
#   OUTDIR/initrd.gz    busybox-static initramfs with the virtio modules
#   OUTDIR/rootfs.ext4  busybox-based root file system (mkfs.ext4 -d, no mount)
#                       with dropbear (dropbear-bin and its shared libraries,
#                       glibc included, taken from their .deb files)
#   OUTDIR/VERSION      the kernel release the files come from
#   OUTDIR/cache/       the downloaded .deb files, reused by later runs
#                       ($BANGER_DEB_CACHE instead, when set)
#
# Boot: the initramfs /init mounts proc, sys and devtmpfs, loads the virtio
# modules in dependency order (Debian's cloud kernel has them as modules and
# ext4 built in), mounts /dev/vda and switch_roots into it; the root's busybox
# init runs /etc/init.d/rcS, which applies ip= from /proc/cmdline to eth0,
# its name servers to /etc/resolv.conf (Debian kernels have no
# CONFIG_IP_PNP and ignore ip=), mounts the work disk
# /dev/vdb on /mnt/work when there is one, prints
#   banger-guest-ready ip=ADDR
# on the console, pings every address of banger.ping=IP[,IP...] and prints
#   banger-ping IP ok|fail
# and powers off when the ACPI power button is pressed (QMP system_powerdown).
# SSH: when the work disk holds banger/authorized_keys (banger writes it
# there), rcS copies it to /root/.ssh/authorized_keys and starts dropbear on
# port 22 (public keys only, host keys made on first boot by dropbear -R) and
# prints
#   banger-ssh started
# File syncs: when the work disk holds banger/filesyncs (banger writes the
# guest path of each declared entry there, a line each), rcS copies each
# /mnt/work/PATH to PATH and prints
#   banger-filesyncs N in place
# Workspace: when the work disk holds banger/workspace/path (banger writes the
# declared guest folder there, one absolute path), rcS bind-mounts the work
# disk's copy /mnt/work/PATH on PATH and prints
#   banger-workspace mounted on PATH
# Without a usable /dev/vda the same rcS runs from the initramfs.
#
# Device discovery: QEMU microvm describes its virtio-mmio devices in ACPI
# (keep ACPI on).  Debian's kernel is built without
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, so virtio_mmio.device= on the command
# line (how Firecracker names devices) is not understood by it; /init still
# hands MODULE.PARAM= words to insmod for kernels that have it.
#
# The kernel is never installed: apt-get download + dpkg-deb -x.
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
for t in apt-cache apt-get dpkg-deb lz4 cpio gzip mkfs.ext4 grep; do
	command -v "$t" >/dev/null 2>&1 || {
		echo "demo-image: '$t' not found (run tools/deps.sh)" >&2
		exit 1
	}
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
cache=${BANGER_DEB_CACHE:-$out/cache}
mkdir -p "$cache"
work=$(mktemp -d "$out/.work.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

# fetch PACKAGE: the .deb of PACKAGE's candidate version in $cache (kept).
fetch() {
	ver=$(apt-cache policy "$1" | awk '/Candidate:/{print $2; exit}')
	if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
		# No apt lists: fall back to whatever an earlier run cached.
		deb=$(ls -t "$cache/$1"_*.deb 2>/dev/null | head -n 1 || true)
		[ -n "$deb" ] || { echo "demo-image: package '$1' unknown to apt" >&2; exit 1; }
		echo "$deb"
		return
	fi
	# apt-get download names files NAME_VERSION_ARCH.deb with ':' as %3a.
	v=$(echo "$ver" | sed 's/:/%3a/g')
	deb=$(ls "$cache/$1_${v}"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -z "$deb" ]; then
		(cd "$work" && apt-get download -q "$1=$ver" >&2)
		mv "$work/$1"_*.deb "$cache/"
		deb=$(ls "$cache/$1_${v}"_*.deb | head -n 1)
	fi
	echo "$deb"
}

# The version suffix changes with security updates: resolve it every time.
kpkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
	awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$kpkg" ]; then
	kpkg=$(ls -t "$cache"/linux-image-[0-9]*-cloud-amd64_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$kpkg" ] || { echo "demo-image: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
	kpkg=$(basename "$kpkg" | sed 's/_.*//')
fi
kdeb=$(fetch "$kpkg")
bdeb=$(fetch busybox-static)
# dropbear and what it links against (the busybox tree has no libc).
sshdebs=
for p in dropbear-bin libc6 libcrypt1 libtomcrypt1 libtommath1 libgmp10 zlib1g; do
	sshdebs="$sshdebs $(fetch "$p")"
done

dpkg-deb -x "$kdeb" "$work/k"
dpkg-deb -x "$bdeb" "$work/b"
kver=$(ls "$work/k/lib/modules" | head -n 1)
vmlinuz="$work/k/boot/vmlinuz-$kver"
busybox="$work/b/bin/busybox"
[ -f "$vmlinuz" ] || { echo "demo-image: no vmlinuz in $kdeb" >&2; exit 1; }
[ -x "$busybox" ] || { echo "demo-image: no busybox in $bdeb" >&2; exit 1; }

# ELF vmlinux: the cloud flavour's bzImage holds an LZ4 (legacy frame)
# payload; try each LZ4 magic 02 21 4c 18 until one decompresses to an ELF.
# lz4 complains about the bytes after the payload: its status is not used,
# the ELF check is.
rm -f "$work/vmlinux"
for off in $(LC_ALL=C grep -obUaP '\x02\x21\x4c\x18' "$vmlinuz" | cut -d: -f1); do
	tail -c +$((off + 1)) "$vmlinuz" | lz4 -dc >"$work/vmlinux" 2>/dev/null || true
	if [ "$(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
		break
	fi
	rm -f "$work/vmlinux"
done
[ -s "$work/vmlinux" ] || { echo "demo-image: no LZ4 ELF payload in $vmlinuz" >&2; exit 1; }

# A busybox tree: the binary plus one symlink per applet.
mktree() {
	d=$1
	mkdir -p "$d/bin" "$d/sbin" "$d/usr/bin" "$d/usr/sbin" "$d/etc/init.d" \
		"$d/proc" "$d/sys" "$d/dev" "$d/tmp" "$d/root" "$d/mnt/work" "$d/run"
	cp "$busybox" "$d/bin/busybox"
	for a in $("$busybox" --list-full); do
		[ -e "$d/$a" ] || [ -L "$d/$a" ] || ln -s /bin/busybox "$d/$a"
	done
	cat >"$d/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
::shutdown:/bin/sync
::shutdown:/bin/umount -a -r
EOF
	cat >"$d/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# banger demo guest: network from ip=, work disk, ready marker, pings,
# power button.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
[ -e /proc/self ] || mount -t proc proc /proc
[ -e /sys/class ] || mount -t sysfs sysfs /sys
[ -e /dev/null ] || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts 2>/dev/null
mount -t tmpfs tmpfs /tmp 2>/dev/null
mount -t tmpfs tmpfs /run 2>/dev/null
hostname banger-guest
con=/dev/console

ipconf=
pings=
for w in $(cat /proc/cmdline); do
	case "$w" in
	ip=*) ipconf=${w#ip=} ;;
	banger.ping=*) pings=${w#banger.ping=} ;;
	banger.hostname=*) hostname "${w#banger.hostname=}" ;;
	esac
done

ip link set lo up
addr=none
if [ -n "$ipconf" ]; then
	# ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1
	old=$IFS
	IFS=:
	set -- $ipconf
	IFS=$old
	addr=$1
	gw=${3:-}
	mask=${4:-255.255.255.0}
	[ -n "${5:-}" ] && hostname "$5"
	dev=${6:-eth0}
	# The name servers (host.yaml dns:), for the resolver of the guest.
	if [ -n "${8:-}" ]; then
		: >/etc/resolv.conf.banger
		for ns in "${8:-}" "${9:-}"; do
			[ -n "$ns" ] && echo "nameserver $ns" >>/etc/resolv.conf.banger
		done
		mv /etc/resolv.conf.banger /etc/resolv.conf
	fi
	i=0
	while [ ! -e "/sys/class/net/$dev" ] && [ $i -lt 50 ]; do
		usleep 100000
		i=$((i + 1))
	done
	ifconfig "$dev" "$addr" netmask "$mask" up || echo "banger-init: cannot configure $dev" >$con
	[ -n "$gw" ] && route add default gw "$gw" 2>/dev/null
fi

if [ -b /dev/vdb ]; then
	mkdir -p /mnt/work
	if mount /dev/vdb /mnt/work 2>/dev/null; then
		echo "banger-work mounted /dev/vdb on /mnt/work" >$con
	else
		echo "banger-init: /dev/vdb not mountable, ignoring" >$con
	fi
fi

# Workspace: banger copied it into the work disk at its guest path and names
# that path in banger/workspace/path; bind-mount it there, so the guest finds
# it where it was declared (changes land in the work disk and survive).
if [ -f /mnt/work/banger/workspace/path ]; then
	read -r wsp </mnt/work/banger/workspace/path || wsp=
	# Only a plain absolute path: no ".", ".." or empty components.
	case "$wsp/" in
	/[!/]*) ;;
	*) wsp= ;;
	esac
	case "$wsp/" in
	*/../* | */./* | *//*) wsp= ;;
	esac
	if [ -n "$wsp" ] && [ -d "/mnt/work$wsp" ]; then
		mkdir -p "$wsp"
		if mount -o bind "/mnt/work$wsp" "$wsp"; then
			echo "banger-workspace mounted on $wsp" >$con
		else
			echo "banger-init: cannot mount the workspace on $wsp" >$con
		fi
	elif [ -n "$wsp" ]; then
		echo "banger-init: no workspace folder /mnt/work$wsp, ignoring" >$con
	fi
fi

# File syncs: banger copied them into the work disk at their guest paths and
# lists those paths in banger/filesyncs, a line each; copy each one there
# (a plain absolute path only, as for the workspace).
if [ -f /mnt/work/banger/filesyncs ]; then
	n=0
	while read -r p; do
		case "$p/" in
		/[!/]*) ;;
		*) continue ;;
		esac
		case "$p/" in
		*/../* | */./* | *//*) continue ;;
		esac
		[ -e "/mnt/work$p" ] || continue
		mkdir -p "${p%/*}/"
		if [ -d "/mnt/work$p" ]; then
			mkdir -p "$p" && cp -a "/mnt/work$p/." "$p/"
		else
			cp -a "/mnt/work$p" "$p"
		fi && n=$((n + 1))
	done </mnt/work/banger/filesyncs
	echo "banger-filesyncs $n in place" >$con
fi

# SSH: banger's keys on the work disk, dropbear when the image has it.
if [ -f /mnt/work/banger/authorized_keys ] && [ -x /usr/sbin/dropbear ]; then
	mkdir -p /root/.ssh /etc/dropbear
	chmod 0700 /root /root/.ssh
	cp /mnt/work/banger/authorized_keys /root/.ssh/authorized_keys
	chmod 0600 /root/.ssh/authorized_keys
	if dropbear -R -s -p 22 2>/dev/null; then
		echo "banger-ssh started" >$con
	else
		echo "banger-init: dropbear did not start" >$con
	fi
fi

# QMP system_powerdown presses the ACPI power button: power off on it.
for ev in /sys/class/input/event*; do
	[ -e "$ev" ] || continue
	if [ "$(cat "$ev/device/name" 2>/dev/null)" = "Power Button" ]; then
		(dd if="/dev/input/${ev##*/}" of=/dev/null bs=24 count=1 2>/dev/null &&
			echo "banger-guest: power button, powering off" >$con && poweroff) &
	fi
done

echo "banger-guest-ready ip=$addr" >$con

if [ -n "$pings" ]; then
	(
		for p in $(echo "$pings" | tr , ' '); do
			r=fail
			i=0
			while [ $i -lt 30 ]; do
				if ping -c 1 -W 1 "$p" >/dev/null 2>&1; then
					r=ok
					break
				fi
				i=$((i + 1))
			done
			echo "banger-ping $p $r" >$con
		done
	) &
fi
EOF
	chmod 0755 "$d/etc/init.d/rcS"
	echo banger-guest >"$d/etc/hostname"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
	printf 'root:x:0:\n' >"$d/etc/group"
}

# initramfs
ird="$work/initrd"
mktree "$ird"
mkdir -p "$ird/lib/modules/banger" "$ird/newroot"
mods="virtio_ring virtio virtio_mmio virtio_blk failover net_failover virtio_net button evdev"
for m in $mods; do
	f=$(find "$work/k/lib/modules/$kver" -name "$m.ko" | head -n 1)
	[ -n "$f" ] || { echo "demo-image: module '$m' not in $kdeb" >&2; exit 1; }
	cp "$f" "$ird/lib/modules/banger/"
done
cat >"$ird/init" <<EOF
#!/bin/sh
# banger demo initramfs: modules, then switch_root into /dev/vda.
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# insmod, unlike modprobe, does not read MODULE.PARAM=VALUE from the kernel
# command line: pass them on.  Firecracker (and microvm without ACPI) name
# their devices that way: virtio_mmio.device=SIZE@BASE:IRQ.
modargs() {
	for w in \$(cat /proc/cmdline); do
		case "\$w" in
		"\$1".*=*) echo "\${w#"\$1".}" ;;
		esac
	done
}
for m in $mods; do
	insmod /lib/modules/banger/\$m.ko \$(modargs \$m) ||
		echo "banger-init: insmod \$m failed" >/dev/console
done
i=0
while [ ! -b /dev/vda ] && [ \$i -lt 50 ]; do
	usleep 100000
	i=\$((i + 1))
done
if mount -t ext4 /dev/vda /newroot 2>/dev/null; then
	if [ -x /newroot/sbin/init ]; then
		mount --move /dev /newroot/dev
		mount --move /proc /newroot/proc
		mount --move /sys /newroot/sys
		exec switch_root /newroot /sbin/init
	fi
	umount /newroot
fi
echo "banger-init: no usable root file system on /dev/vda, staying in the initramfs" >/dev/console
exec /sbin/init
EOF
chmod 0755 "$ird/init"
(cd "$ird" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc -R 0:0 --quiet | gzip -9n) \
	>"$work/initrd.gz"

# root file system
rfs="$work/rootfs"
mktree "$rfs"
echo "banger demo rootfs ($kver)" >"$rfs/etc/banger-release"
# dropbear: its binaries plus every shared library of its .deb files (no
# gconv, no locale data).
mkdir -p "$work/ssh" "$rfs/lib/x86_64-linux-gnu" "$rfs/lib64" "$rfs/etc/dropbear"
for deb in $sshdebs; do
	dpkg-deb -x "$deb" "$work/ssh"
done
cp "$work/ssh/usr/sbin/dropbear" "$rfs/usr/sbin/dropbear"
cp "$work/ssh/usr/bin/dropbearkey" "$rfs/usr/bin/dropbearkey"
for d in lib/x86_64-linux-gnu usr/lib/x86_64-linux-gnu; do
	[ -d "$work/ssh/$d" ] || continue
	find "$work/ssh/$d" -maxdepth 1 -name '*.so*' | while read -r f; do
		cp -P "$f" "$rfs/lib/x86_64-linux-gnu/"
	done
done
cp -P "$work/ssh/lib64/ld-linux-x86-64.so.2" "$rfs/lib64/" 2>/dev/null ||
	ln -sf /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$rfs/lib64/ld-linux-x86-64.so.2"
printf '/bin/sh\n' >"$rfs/etc/shells"
# A new file, sparse: its inode tables and journal read as zeros already, so
# mkfs need not write them, and every root disk copied from the image is
# about 4 MiB smaller.
rm -f "$work/rootfs.ext4"
mkfs.ext4 -q -F -L banger-root -E root_owner=0:0,lazy_itable_init=1,lazy_journal_init=1 \
	-d "$rfs" "$work/rootfs.ext4" 64M >/dev/null

cp "$vmlinuz" "$work/vmlinuz"
echo "$kver" >"$work/VERSION"
for f in vmlinux vmlinuz initrd.gz rootfs.ext4 VERSION; do
	mv -f "$work/$f" "$out/$f"
done
echo "demo-image: $out (kernel $kver)"
