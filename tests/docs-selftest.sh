#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The checkers behind schema-agreement.sh and man-examples.sh do catch what
# they are meant to catch: each mutation of a scratch copy of the tree must
# make them fail with the message that names it.
set -u
: "${top_srcdir:?}"
py=/usr/bin/python3
if ! "$py" -c 'import jsonschema, yaml' 2>/dev/null; then
	echo "SKIP: /usr/bin/python3 with python3-jsonschema and python3-yaml is needed"
	exit 77
fi
scratch=$(mktemp -d) || exit 1
trap 'rm -rf "$scratch"' EXIT
fail=0

fresh() {
	rm -rf "$scratch/t"
	mkdir -p "$scratch/t/tests/data/spec/valid/vms" "$scratch/t/tests/data/spec/invalid/vms"
	cp -R "$top_srcdir/schemas" "$top_srcdir/examples" "$top_srcdir/man" "$scratch/t/"
	mkdir -p "$scratch/t/tools" "$scratch/t/tests/tools"
	cp "$top_srcdir/tools/gen-schemas.py" "$scratch/t/tools/"
	cp "$top_srcdir/tests/tools/schema-check.py" "$top_srcdir/tests/tools/man-check.py" \
		"$scratch/t/tests/tools/"
	chmod -R u+w "$scratch/t"
}

# expect CHECKER WHAT PATTERN: CHECKER fails on the scratch tree and says PATTERN.
expect() {
	out=$("$py" -B "$scratch/t/tests/tools/$1" "$scratch/t" 2>&1)
	rc=$?
	if [ $rc -ne 1 ] || ! printf '%s\n' "$out" | grep -q -- "$3"; then
		echo "FAIL: $1 does not catch $2 (exit $rc, wanted 1 and '$3'):"
		printf '%s\n' "$out" | sed 's/^/    /'
		fail=1
	else
		echo "ok: $1 catches $2"
	fi
}

fresh
for c in schema-check.py man-check.py; do
	if ! "$py" -B "$scratch/t/tests/tools/$c" "$scratch/t" >/dev/null 2>&1; then
		echo "FAIL: $c fails on an unchanged copy"
		fail=1
	fi
done

fresh
printf 'image: demo\nmemory: 64M\n' >"$scratch/t/tests/data/spec/valid/vms/small.yaml"
expect schema-check.py "a valid case the schema refuses" "valid for banger, the vm schema refuses it"

fresh
printf 'image: demo\nmemroy: 1G\n' >"$scratch/t/tests/data/spec/valid/vms/typo.yaml"
expect schema-check.py "an unknown key" "typo.yaml: valid for banger"

fresh
printf 'image: demo\nnetwork:\n  mac: "52:54:00:12:34:56"\n' \
	>"$scratch/t/tests/data/spec/invalid/vms/fine.yaml"
expect schema-check.py "an invalid case the schema accepts" "invalid for banger, the vm schema accepts it"

# What banger's reader refuses, the checker's reader refuses too, so such
# files count as invalid and agree with banger.
fresh
inv=$scratch/t/tests/data/spec/invalid/vms
printf 'image: &a demo\nkernel_args: *a\n' >"$inv/alias.yaml"
printf 'image: demo\nimage: demo\n' >"$inv/duplicate.yaml"
printf 'image: !!str demo\n' >"$inv/tag.yaml"
printf '<<: {image: demo}\n' >"$inv/merge.yaml"
printf 'image: demo\n---\nimage: demo\n' >"$inv/two-documents.yaml"
printf 'image: demo\nkernel_args: "\\0"\n' >"$inv/nul.yaml"
printf 'image: "demo\\n"\n' >"$inv/newline.yaml"
printf 'image: demo\nkernel_args: "\351t\351"\n' >"$inv/latin1.yaml"
printf 'image: demo\nssh_authorized_keys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests \351t\351"]\n' |
	iconv -f latin1 -t utf-8 >"$scratch/t/x" &&
	cp "$scratch/t/x" "$scratch/t/tests/data/spec/valid/vms/utf8.yaml"
{ printf 'image: demo\nkernel_args: '; i=0; while [ $i -lt 70 ]; do printf '['; i=$((i + 1)); done; printf '\n'; } \
	>"$inv/deep.yaml"
{ printf 'image: demo\nkernel_args: "'; head -c 1048576 /dev/zero | tr '\0' a; printf '"\n'; } \
	>"$inv/big.yaml"
out=$("$py" -B "$scratch/t/tests/tools/schema-check.py" "$scratch/t" 2>&1)
if [ $? -ne 0 ]; then
	echo "FAIL: schema-check.py does not refuse what banger's reader refuses:"
	printf '%s\n' "$out" | sed 's/^/    /'
	fail=1
else
	echo "ok: schema-check.py refuses what banger's reader refuses"
fi

fresh
sed 's/"description": "Memory, at least 128M/"x": "/' "$scratch/t/schemas/vm.schema.json" \
	>"$scratch/t/x" && mv "$scratch/t/x" "$scratch/t/schemas/vm.schema.json"
expect schema-check.py "a hand edit of a schema" "differs from what tools/gen-schemas.py writes"

fresh
sed 's/^memory: 512M$/memory: 100M/' "$scratch/t/examples/vms/web.yaml" >"$scratch/t/x" &&
	mv "$scratch/t/x" "$scratch/t/examples/vms/web.yaml"
expect schema-check.py "an invalid example" "examples/vms/web.yaml: the vm schema refuses it"

fresh
sed '1s|^.*$|# yaml-language-server: $schema=../schemas/vm.schema.json|' \
	"$scratch/t/examples/vms/worker.yaml" >"$scratch/t/x" &&
	mv "$scratch/t/x" "$scratch/t/examples/vms/worker.yaml"
expect schema-check.py "a wrong \$schema line" 'is not schemas/vm.schema.json'

fresh
sed 's/^  work: 256M$/  work: 255M/' "$scratch/t/examples/vms/web.yaml" >"$scratch/t/x" &&
	mv "$scratch/t/x" "$scratch/t/examples/vms/web.yaml"
expect man-check.py "an example that changed" "example differs from examples/vms/web.yaml"

fresh
printf 'image: demo\n' >"$scratch/t/examples/vms/third.yaml"
expect man-check.py "an example missing from EXAMPLES" "EXAMPLES lacks examples/vms/third.yaml"

fresh
sed 's/^\.It Ic on_delete Pq string$/.It Ic on_remove Pq string/' "$scratch/t/man/banger-vm.5" \
	>"$scratch/t/x" && mv "$scratch/t/x" "$scratch/t/man/banger-vm.5"
expect man-check.py "an undocumented key" "key on_delete of schemas/vm.schema.json is not documented"

fresh
sed 's/^\.Ql 512M \.$/.Ql 1G ./' "$scratch/t/man/banger-host.5" >"$scratch/t/x" &&
	mv "$scratch/t/x" "$scratch/t/man/banger-host.5"
expect man-check.py "a wrong default" "key defaults.memory does not state its default 512M"

# man-options.py against a made-up banger: a command missing from the
# SYNOPSIS and an option missing from it are both reported.
fresh
cp "$top_srcdir/tests/tools/man-options.py" "$scratch/t/tests/tools/"
cat >"$scratch/t/banger" <<'FAKE'
#!/bin/sh
case "$1" in
--help) printf 'Usage: banger COMMAND\n\nCommands:\n  validate     check\n  frobnicate   frob\n' ;;
validate) printf '  --state DIR\n  --status-dir DIR\n  --json\n  -q, --quiet\n  --fast\n' ;;
*) exit 64 ;;
esac
FAKE
chmod +x "$scratch/t/banger"
out=$("$py" -B "$scratch/t/tests/tools/man-options.py" "$scratch/t" "$scratch/t/banger" 2>&1)
rc=$?
if [ $rc -ne 1 ] ||
	! printf '%s\n' "$out" | grep -q 'lists the command frobnicate, the SYNOPSIS' ||
	! printf '%s\n' "$out" | grep -q 'validate --help shows --fast, the SYNOPSIS'; then
	echo "FAIL: man-options.py misses a command or an option (exit $rc):"
	printf '%s\n' "$out" | sed 's/^/    /'
	fail=1
else
	echo "ok: man-options.py catches an undocumented command and option"
fi

exit $fail
