# SPDX-License-Identifier: GPL-2.0-or-later
# The inside of tests/crash/mass-delete.sh (in its network namespace).
set -eu
. "$top_srcdir/tests/crash/lib.sh"
ns_setup
ST=$T/state
SD=$T/status
export BANGER_STATUS_DIR=$SD
state_init "$ST" firecracker
vm_decl "$ST" a running 128M true 16M yes
vm_decl "$ST" b running 128M false 16M no
vm_decl "$ST" c stopped 128M false 0 no
"$BANGER" reconcile --state "$ST" >"$T/out" 2>&1 || { cat "$T/out"; fail "setup"; }
leaks "$SD" | sort >"$T/before"
grep -c '^process' "$T/before" | grep -qx 2 || { cat "$T/before"; fail "two guests expected"; }

# untouched STATE RC MESSAGE: reconcile exits RC saying MESSAGE, every VM stays.
untouched() {
	set +e
	"$BANGER" reconcile --state "$1" >"$T/out" 2>&1
	rc=$?
	set -e
	[ "$rc" = "$2" ] || { cat "$T/out"; fail "$1: exit $rc, wanted $2"; }
	grep -qF -- "$3" "$T/out" || { cat "$T/out"; fail "$1: no '$3' in the output"; }
	leaks "$SD" | sort >"$T/after"
	cmp -s "$T/before" "$T/after" || { diff "$T/before" "$T/after"; fail "$1: the host changed"; }
	n=$((n + 1))
}
n=0

mkdir -p "$T/empty"
untouched "$T/empty" 1 "would delete 3 of the 3 existing vms; refusing without --allow-mass-delete"

mkdir -p "$T/broken"
cp -r "$ST/images" "$ST/host.yaml" "$T/broken/"
mkdir -p "$T/broken/vms"
printf 'image: base\nmemory: [\n' >"$T/broken/vms/a.yaml"
printf 'image: base\nvcpu: 2\n' >"$T/broken/vms/b.yaml"
printf '\000\001garbage' >"$T/broken/vms/c.yaml"
untouched "$T/broken" 2 "held"
for v in a b c; do
	grep -q "vms/$v.yaml" "$T/out" || { cat "$T/out"; fail "broken: $v not named"; }
done

git init -q "$T/git"
git -C "$T/git" -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m nothing
untouched "$T/git" 1 "refusing without --allow-mass-delete"
# A work tree's uncommitted declarations are not read: still nothing.
cp -r "$ST"/* "$T/git/"
untouched "$T/git" 1 "refusing without --allow-mass-delete"

# With the guard lifted the same empty state deletes, keeping the work disks.
"$BANGER" reconcile --state "$T/empty" --allow-mass-delete >"$T/out" 2>&1 || { cat "$T/out"; fail "delete"; }
leaks "$SD" >"$T/left"
[ ! -s "$T/left" ] || { cat "$T/left"; fail "objects left"; }
ls "$SD"/retained/a-*.ext4 "$SD"/retained/b-*.ext4 >/dev/null || fail "work disks not kept"
echo "guard cases: $n, vms deleted: 0"
