#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# GitOps on the fake host: declarations from local bare repositories over
# file://, a change, a force push (refused, then --allow-rewind), a broken
# remote (last good commit kept, exit 2), a dirty work tree (ignored unless
# --worktree), per-host selection, and a host.yaml source block; then
# source.path's file-sync folders, --worktree on a plain folder and a bare
# repository, a branch the remote lacks, a branch named with another's as
# a prefix, file syncs gone, and a detached HEAD.
set -eu
: "${BANGER:?}"
command -v git >/dev/null 2>&1 || { echo "skip: no git"; exit 77; }
T=$(mktemp -d /tmp/banger-gitops-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
run() { # run EXPECTED-EXIT banger-args...
	want=$1; shift
	set +e
	"$BANGER" "$@" >"$T/out" 2>"$T/err"
	got=$?
	set -e
	[ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "banger $* exited $got, wanted $want"; }
}
has() { grep -qF -- "$1" "$T/out" || { cat "$T/out" >&2; fail "stdout lacks '$1'"; }; }
has_err() { grep -qF -- "$1" "$T/err" || { cat "$T/err" >&2; fail "stderr lacks '$1'"; }; }
status_commit() { sed -n 's/^source_commit: "\{0,1\}\([0-9a-f]*\)"\{0,1\}$/\1/p' "$T/status/vms/$1.yaml"; }

export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.invalid GIT_CONFIG_NOSYSTEM=1 HOME=$T
export BANGER_FAKE_HOST=$T/fakehost BANGER_STATUS_DIR=$T/status
git init -q --bare -b main "$T/fleet.git"
git init -q -b main "$T/wt"
cd "$T/wt"
mkdir images vms
printf 'kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n' >images/base.yaml
printf 'image: base\nmemory: 512M\n' >vms/web.yaml
printf 'image: base\nhost: beta\n' >vms/build.yaml
git add -A && git commit -q -m one && git remote add origin "$T/fleet.git" && git push -q origin main
c1=$(git rev-parse HEAD)

# 1. Reconcile from the bare repository: this host's share only.
# validate says which commit it read, and that uncommitted edits are not.
printf 'image: base\nbogus: 1\n' >"$T/wt/vms/web.yaml"
run 0 validate --state "$T/wt"
has_err "validated commit $(echo "$c1" | cut -c1-12) of '$T/wt'"
run 1 validate --state "$T/wt" --worktree
git checkout -q vms/web.yaml
mkdir -p "$T/host-only"
printf 'source:\n  git: %s\n' "$T/fleet.git" >"$T/host-only/host.yaml"
run 0 validate --state "$T/host-only"
has_err "host.yaml names the git source '$T/fleet.git'"

run 0 reconcile --state "$T/fleet.git" --host-name alpha
has "source: commit $(echo "$c1" | cut -c1-12) (the tip)"
[ "$(status_commit web)" = "$c1" ] || fail "web's source_commit is not $c1"
[ ! -e "$T/status/vms/build.yaml" ] || fail "beta's VM was created on alpha"
run 0 plan --state "$T/fleet.git" --host-name beta
has "+ create build"
run 0 status --state "$T/fleet.git" --host-name alpha --json
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["source"]["commit"]==sys.argv[2], d; assert [v["source_commit"] for v in d["vms"] if v["name"]=="web"]==[sys.argv[2]], d' "$T/out" "$c1"

# 2. A change: applied from the new commit.
printf 'image: base\nmemory: 1G\n' >vms/web.yaml
git commit -q -am two && git push -q origin main
c2=$(git rev-parse HEAD)
run 0 plan --state "$T/fleet.git" --host-name alpha
has "memory 512M -> 1G"
run 0 reconcile --state "$T/fleet.git" --host-name alpha
[ "$(status_commit web)" = "$c2" ] || fail "web's source_commit is not $c2"

# 3. A force push that rewrites history: refused, the applied commit stays.
git reset -q --hard "$c1"
printf 'image: base\nmemory: 2G\n' >vms/web.yaml
git commit -q -am rewrite && git push -q -f origin main
c3=$(git rev-parse HEAD)
run 2 reconcile --state "$T/fleet.git" --host-name alpha
has_err "does not descend from the applied commit"
has_err "--allow-rewind"
has "Nothing to do"
[ "$(status_commit web)" = "$c2" ] || fail "a refused rewind moved web"
run 0 reconcile --state "$T/fleet.git" --host-name alpha --allow-rewind
[ "$(status_commit web)" = "$c3" ] || fail "--allow-rewind did not apply $c3"

# 4. A host.yaml source block in a plain state directory names the
# repository; when the remote breaks, the last fetched commit is kept and
# nothing is deleted.
mkdir -p "$T/etc"
printf 'source:\n  git: file://%s/fleet.git\n  branch: main\n' "$T" >"$T/etc/host.yaml"
run 0 reconcile --state "$T/etc" --host-name alpha
has "source: commit $(echo "$c3" | cut -c1-12) (the tip)"
has "Nothing to do"
mv "$T/fleet.git" "$T/gone.git"
run 2 reconcile --state "$T/etc" --host-name alpha
has_err "warning: git source: fetch"
has "(the last one fetched)"
has "Nothing to do"
[ "$(status_commit web)" = "$c3" ] || fail "a failed fetch moved web"
# A cache that never fetched anything: an error, never "nothing declared".
run 1 plan --state "$T/etc" --host-name alpha --status-dir "$T/other-status"
has_err "fetch"
mv "$T/gone.git" "$T/fleet.git"
printf 'source:\n  git: file://%s/fleet.git\n  branch: nope\n' "$T" >"$T/etc/host.yaml"
run 1 plan --state "$T/etc" --host-name alpha
has_err "no branch 'nope'"

# 5. A dirty work tree is not applied; --worktree applies it and says so.
printf 'image: base\nmemory: 4G\n' >vms/web.yaml
printf 'image: [broken\n' >vms/half.yaml
run 0 plan --state "$T/wt" --host-name alpha
has "No changes"
run 2 plan --state "$T/wt" --host-name alpha --worktree
has_err "uncommitted edits included"
has "memory 2G -> 4G"
has "! held"
git checkout -q -- vms/web.yaml && rm vms/half.yaml

# 6. File syncs' relative host paths are read from the commit too, never
# from a work tree: reconcile writes what they name (files, folders, modes,
# links) under STATUS_DIR/source-files/COMMIT/ and copies from there.
mkdir -p filesyncs files/etc
printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n  - host: files/etc\n    guest: /etc/app\n  - host: files/etc/app.conf\n    guest: /etc/app.conf\n  - host: files/missing\n    guest: /etc/missing\n  - host: ./files//dot.txt\n    guest: /etc/dot.txt\n' >filesyncs/motd.yaml
echo dot >files/dot.txt
echo committed >files/motd
echo conf >files/etc/app.conf
printf '#!/bin/sh\n' >files/etc/run.sh
chmod 0755 files/etc/run.sh
ln -s app.conf files/etc/link
printf 'image: base\nmemory: 2G\nfilesyncs: [motd]\n' >vms/web.yaml
git add -A && git commit -q -m files && git push -q origin main
c4=$(git rev-parse HEAD)
echo uncommitted >files/motd
run 0 plan --state "$T/wt" --host-name alpha
[ ! -e "$T/status/source-files/$c4" ] || fail "plan wrote the commit's files"
run 0 reconcile --state "$T/wt" --host-name alpha
has "file syncs: "
d=$T/status/source-files/$c4
[ "$(cat "$d/files/motd")" = committed ] || fail "files/motd is not the committed one"
[ "$(cat "$d/files/etc/app.conf")" = conf ] || fail "files/etc/app.conf"
[ -x "$d/files/etc/run.sh" ] && [ ! -x "$d/files/etc/app.conf" ] || fail "modes of files/etc"
[ "$(readlink "$d/files/etc/link")" = app.conf ] || fail "files/etc/link is not a link"
[ ! -e "$d/files/missing" ] || fail "files/missing made up"
[ "$(cat "$d/files/dot.txt")" = dot ] || fail "./files//dot.txt not written as files/dot.txt"
git checkout -q -- files/motd
echo second >files/motd
git commit -q -am six && git push -q origin main
c5=$(git rev-parse HEAD)
run 0 reconcile --state "$T/fleet.git" --host-name alpha
[ "$(cat "$T/status/source-files/$c5/files/motd")" = second ] || fail "files/motd of $c5"
[ "$(ls -A "$T/status/source-files")" = "$c5" ] || fail "other commits' files kept: $(ls -A "$T/status/source-files")"

# A relative path out of the repository ('..') is refused for a git source:
# the file sync is invalid and holds the VM that lists it.
git checkout -q -- files/motd
printf 'entries:\n  - host: files/../../secret\n    guest: /etc/secret\n' >filesyncs/up.yaml
printf 'image: base\nmemory: 2G\nfilesyncs: [motd, up]\n' >vms/web.yaml
git add -A && git commit -q -m up && git push -q origin main
run 2 reconcile --state "$T/fleet.git" --host-name alpha
has "filesyncs/up.yaml:2:11: entries[0].host: found 'files/../../secret', expected a path inside the repository"
git rm -q filesyncs/up.yaml
printf 'image: base\nmemory: 2G\nfilesyncs: [motd]\n' >vms/web.yaml
git commit -q -am down && git push -q origin main
run 0 reconcile --state "$T/fleet.git" --host-name alpha
# Nor its top ('.'): the VM that lists it is held, the others applied (the
# run failed as a whole, exit 1, when the copy of the files refused it).
printf 'entries:\n  - host: .\n    guest: /etc/all\n' >filesyncs/all.yaml
printf 'image: base\nmemory: 2G\nfilesyncs: [motd, all]\n' >vms/web.yaml
printf 'image: base\n' >vms/side.yaml
git add -A && git commit -q -m top && git push -q origin main
run 2 reconcile --state "$T/fleet.git" --host-name alpha
has "filesyncs/all.yaml:2:11: entries[0].host: found '.', expected a path inside the repository, without '..', other than its top"
has "create side"
git rm -q filesyncs/all.yaml vms/side.yaml
printf 'image: base\nmemory: 2G\nfilesyncs: [motd]\n' >vms/web.yaml
git commit -q -am untop && git push -q origin main
run 0 reconcile --state "$T/fleet.git" --host-name alpha

# banger start reads what its reconcile reads: a VM declared in the work tree
# only is unknown at the tip, and started with --worktree.
printf 'image: base\n' >vms/fresh.yaml
run 1 start --state "$T/wt" --host-name alpha fresh
has_err "no vm 'fresh' is declared"
run 0 start --state "$T/wt" --host-name alpha --worktree fresh
has "create fresh"
[ -e "$T/status/vms/fresh.yaml" ] || fail "start --worktree did not create fresh"
rm vms/fresh.yaml
run 0 reconcile --state "$T/fleet.git" --host-name alpha
[ ! -e "$T/status/vms/fresh.yaml" ] || fail "fresh was not deleted"

# 7. A crafted commit whose synced folder files/etc holds an entry named '../../evil'
# (git fsck would refuse it; a remote need not run it): refused, nothing
# written outside the commit's folder.
b=$(echo evil | git hash-object -w --stdin)
/usr/bin/python3 -c 'import sys; sys.stdout.buffer.write(b"100644 ../../evil\0" + bytes.fromhex(sys.argv[1]))' "$b" >"$T/tree.bin"
t=$(git hash-object -t tree -w --literally --stdin <"$T/tree.bin")
files=$( (git ls-tree HEAD:files | grep -v "	etc\$"; printf '040000 tree %s\tetc\n' "$t") | git mktree)
root=$( (git ls-tree HEAD | grep -v "	files\$"; printf '040000 tree %s\tfiles\n' "$files") | git mktree)
c6=$(git commit-tree "$root" -p HEAD -m crafted)
git update-ref refs/heads/main "$c6" && git push -q origin main
run 1 reconcile --state "$T/fleet.git" --host-name alpha
has_err "an entry named '../../evil' in the commit"
[ -z "$(find "$T/status" -name evil)" ] || fail "a crafted entry was written: $(find "$T/status" -name evil)"
[ ! -e "$T/status/source-files/$c6" ] || fail "a refused commit's folder was kept"

# 8. source.path: what a file sync names is read under this run's path,
# never from the folder a run with another path wrote for the same commit.
git init -q --bare -b main "$T/paths.git"
git init -q -b main "$T/pwt"
cd "$T/pwt"
for p in a b; do
	mkdir -p $p/images $p/vms $p/filesyncs $p/files
	printf 'kernel: /img/vmlinux\nrootfs: /img/rootfs.ext4\n' >$p/images/base.yaml
	printf 'image: base\nfilesyncs: [motd]\n' >$p/vms/web.yaml
	printf 'entries:\n  - host: files/motd\n    guest: /etc/motd\n' >$p/filesyncs/motd.yaml
	echo "motd of $p" >$p/files/motd
done
git add -A && git commit -q -m paths && git push -q "$T/paths.git" main
S=$T/status-paths
export BANGER_FAKE_HOST=$T/fakehost-paths
printf 'source:\n  git: file://%s/paths.git\n  path: a\n' "$T" >"$T/etc/host.yaml"
run 0 reconcile --state "$T/etc" --status-dir "$S"
[ "$(cat "$S"/source-files/*/files/motd)" = "motd of a" ] || fail "path a: $(cat "$S"/source-files/*/files/motd)"
printf 'source:\n  git: file://%s/paths.git\n  path: b\n' "$T" >"$T/etc/host.yaml"
run 0 reconcile --state "$T/etc" --status-dir "$S"
[ "$(ls -A "$S/source-files" | wc -l)" = 1 ] || fail "path b: $(ls -A "$S/source-files")"
[ "$(cat "$S"/source-files/*/files/motd)" = "motd of b" ] || fail "path b: $(cat "$S"/source-files/*/files/motd)"

# 9. --worktree applies to a state that is a work tree only: on a plain
# folder the source block is followed as without it; a bare repository has
# no work tree, an error.  Neither plans to delete anything.
run 0 reconcile --state "$T/etc" --status-dir "$S" --worktree
has "Nothing to do"
[ -e "$S/vms/web.yaml" ] || fail "--worktree on a plain folder deleted web"
run 1 plan --state "$T/paths.git" --status-dir "$S" --worktree
has_err "'$T/paths.git' is a bare repository: it has no work tree to read (--worktree)"
[ ! -s "$T/out" ] || fail "plan printed a plan for a bare repository's work tree: $(cat "$T/out")"

# 10. A branch the remote lacks is never read from an earlier fetch:
# another repository's is an error, the same repository's a failed fetch
# (the last accepted commit, exit 2).
git init -q --bare -b master "$T/master.git"
git -C "$T/pwt" push -q "$T/master.git" main:master
printf 'source:\n  git: file://%s/master.git\n  branch: main\n  path: b\n' "$T" >"$T/etc/host.yaml"
run 1 reconcile --state "$T/etc" --status-dir "$S"
has_err "fetch 'file://$T/master.git': no branch 'main' there"
[ -e "$S/vms/web.yaml" ] || fail "a missing branch deleted web"
printf 'source:\n  git: file://%s/paths.git\n  branch: main\n  path: b\n' "$T" >"$T/etc/host.yaml"
git -C "$T/paths.git" branch -m main trunk
run 2 reconcile --state "$T/etc" --status-dir "$S"
has_err "no branch 'main' there"
has "(the last one fetched)"
# A branch named with another's as a prefix, and back.
git -C "$T/paths.git" branch -m trunk release
printf 'source:\n  git: file://%s/paths.git\n  branch: release\n  path: b\n' "$T" >"$T/etc/host.yaml"
run 0 reconcile --state "$T/etc" --status-dir "$S"
tip=$(git -C "$T/paths.git" rev-parse release)
git -C "$T/paths.git" update-ref -d refs/heads/release
git -C "$T/paths.git" update-ref refs/heads/release/v2 "$tip"
printf 'source:\n  git: file://%s/paths.git\n  branch: release/v2\n  path: b\n' "$T" >"$T/etc/host.yaml"
run 0 reconcile --state "$T/etc" --status-dir "$S"
has "(the tip)"

# 11. Once no file sync names a relative path, the folder of the commit
# before is removed too.
cd "$T/pwt"
printf 'image: base\n' >b/vms/web.yaml
git rm -q b/filesyncs/motd.yaml
git commit -q -am "no file syncs" && git push -q "$T/paths.git" main:release/v2
[ -n "$(ls -A "$S/source-files")" ] || fail "no folder to remove in $S/source-files"
run 0 reconcile --state "$T/etc" --status-dir "$S"
[ -z "$(ls -A "$S/source-files")" ] || fail "an old commit's files kept: $(ls -A "$S/source-files")"

# 12. A work tree on a detached HEAD has no branch to read: an error that
# says so, even where main exists.
git -C "$T/wt" checkout -q --detach
run 1 plan --state "$T/wt" --status-dir "$S"
has_err "'$T/wt': HEAD is detached, no branch to read: check out a branch (git switch BRANCH)"
git -C "$T/wt" checkout -q main
run 0 validate --state "$T/wt"

echo "gitops: ok"
