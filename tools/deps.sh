#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what banger needs to build and test, from Debian 12 packages only.
# Idempotent: packages already present are left as they are.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config git ca-certificates
  libyaml-dev libgit2-dev libnl-3-dev libnl-route-3-dev libdevmapper-dev
  libnftables-dev libmnl-dev libjansson-dev check clang llvm libclang-rt-14-dev
  mandoc python3-jsonschema python3-yaml nftables iproute2 e2fsprogs
  util-linux kmod cpio busybox-static lz4 xz-utils qemu-system-x86
  qemu-utils btrfs-progs xfsprogs systemd libext2fs-dev openssh-client
  dnsmasq-base"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "tools/deps.sh: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing
fi
