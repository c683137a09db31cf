# SPDX-License-Identifier: GPL-2.0-or-later
# Sourced by the tests that boot the demo image: build it once, under a lock,
# so tests running in parallel never see a half-written image, and again
# whenever tools/demo-image.sh changed since it was built.
# demo_image_ensure DIR: 0 when DIR holds the image, 1 when it cannot be built.
demo_image_ensure() {
	_img=$1
	_want=$(sha256sum "$top_srcdir/tools/demo-image.sh" | cut -d' ' -f1)
	mkdir -p "$(dirname "$_img")"
	(
		flock 9
		if [ ! -f "$_img/vmlinux" ] || [ ! -f "$_img/initrd.gz" ] ||
			[ ! -f "$_img/rootfs.ext4" ] ||
			[ "$(cat "$_img/.built-by" 2>/dev/null)" != "$_want" ]; then
			_t=$(date +%s)
			sh "$top_srcdir/tools/demo-image.sh" "$_img" >"$_img.build.log" 2>&1 || {
				tail -n 20 "$_img.build.log"
				exit 1
			}
			echo "$_want" >"$_img/.built-by"
			echo "demo image built in $(($(date +%s) - _t)) s"
		fi
	) 9>"$_img.lock"
}
