#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Keep schemas/*.schema.json honest.

  schema-check.py TOP

checks, and prints one line for each problem found (exit 1 if any):
 1. every schema is a valid JSON Schema 2020-12 document, and equals what
    tools/gen-schemas.py writes;
 2. every property of every schema has a description, and a default unless it
    is required or is one of the keys that have no value when absent;
 3. the size patterns accept exactly the sizes inside their bounds (checked
    against the numbers, around every bound and for every suffix);
 4. every tests/data/spec/valid/KIND/*.yaml passes the schema of its kind and
    every tests/data/spec/invalid/KIND/*.yaml fails it (KIND: host, images,
    vms, filesyncs), and every declaration of a state directory
    tests/data/spec/states/CASE/ that banger finds valid (an empty
    CASE/expected) passes its schema;
 5. every declaration in examples/ (and in state directories examples/NAME/)
    passes its schema, and its
    "# yaml-language-server: $schema=..." line names that schema.

With SCHEMA_CHECK_VERBOSE=1 in the environment, it also prints the verdict
on every corpus file.

Files are read the way banger reads them: at most 1 MiB, UTF-8, one YAML
document, no duplicate keys, no anchors or aliases.  A file that cannot be
read so is invalid.  The values are PyYAML's (YAML 1.1: yes/no are booleans,
0644 is the integer 420), and a YAML float is never an integer even when it
has no fraction (2.0).
"""
import importlib.util
import ipaddress
import json
import random
import os
import re
import sys

import jsonschema
import yaml

KINDS = {"host": "host", "images": "image", "vms": "vm", "filesyncs": "filesync"}
FILE_MAX = 1 << 20
# Optional keys that have no value when they are absent (JSON pointers).
NO_DEFAULT = {
    "image": {"/initrd", "/kernel_args", "/sha256/kernel", "/sha256/rootfs",
              "/sha256/initrd"},
    "vm": {"/network/ip", "/network/mac", "/kernel_args", "/host", "/workspace", "/idle_stop_after",
           "/workspace/ref", "/workspace/path"},
    "filesync": {"/entries/mode"},
    "host": {"/source", "/source/branch", "/source/path"},
}

problems = []


def problem(msg):
    problems.append(msg)
    print(msg)


MAX_DEPTH = 64
MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses what banger's reader refuses: anchors, aliases,
    tags, merge keys, duplicate keys, nesting deeper than 64."""

    depth = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.MarkedYAMLError(None, None, "anchors and aliases are not allowed",
                                       event.start_mark)
        if getattr(event, "tag", None) is not None:
            raise yaml.MarkedYAMLError(None, None, "tags are not allowed", event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH + 1:
                raise yaml.MarkedYAMLError(None, None, "nesting deeper than %d" % MAX_DEPTH,
                                           event.start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                raise yaml.MarkedYAMLError(None, None, "merge keys are not allowed",
                                           key_node.start_mark)
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise yaml.MarkedYAMLError(None, None, "key is not a scalar",
                                           key_node.start_mark)
            if key in seen:
                raise yaml.MarkedYAMLError(None, None, "duplicate key %r" % (key,),
                                           key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load(path):
    """The document of path, or raise ValueError with the reason."""
    with open(path, "rb") as f:
        data = f.read(FILE_MAX + 1)
    if len(data) > FILE_MAX:
        raise ValueError("larger than 1 MiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("not UTF-8: %s" % e)
    try:
        return yaml.load(text, Loader=StrictLoader)
    except (yaml.YAMLError, RecursionError) as e:
        raise ValueError(str(e).replace("\n", " "))


def _is_integer(checker, instance):
    return isinstance(instance, int) and not isinstance(instance, bool)


def ecma_pattern(pattern):
    """pattern with ECMA-262's '$' (the end of the string only; Python's '$'
    also matches before a final newline, which would let "demo\\n" pass)."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            ch = "\\Z"
        out.append(ch)
        i += 1
    return "".join(out)


def _pattern(validator, patrn, instance, schema):
    if validator.is_type(instance, "string") and not re.search(ecma_pattern(patrn), instance):
        yield jsonschema.ValidationError("%r does not match %r" % (instance, patrn))


TYPE_CHECKER = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer)
Validator = jsonschema.validators.extend(jsonschema.Draft202012Validator,
                                         {"pattern": _pattern}, type_checker=TYPE_CHECKER)


def load_schemas(top):
    schemas = {}
    for kind in KINDS.values():
        path = os.path.join(top, "schemas", "%s.schema.json" % kind)
        try:
            with open(path) as f:
                schemas[kind] = json.load(f)
            jsonschema.Draft202012Validator.check_schema(schemas[kind])
        except (OSError, ValueError, jsonschema.SchemaError) as e:
            problem("%s: not a valid JSON Schema 2020-12: %s" % (path, str(e).split("\n")[0]))
            schemas.pop(kind, None)
    return schemas


def check_generated(top, schemas):
    spec = importlib.util.spec_from_file_location(
        "gen_schemas", os.path.join(top, "tools", "gen-schemas.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for kind in KINDS.values():
        path = os.path.join(top, "schemas", "%s.schema.json" % kind)
        with open(path) as f:
            if f.read() != gen.render(kind):
                problem("%s: differs from what tools/gen-schemas.py writes (run it)" % path)
    return gen


def walk_properties(schema, ptr=""):
    """(pointer, property schema, required?) for every property, recursively."""
    required = set(schema.get("required", []))
    for name, sub in schema.get("properties", {}).items():
        p = "%s/%s" % (ptr, name)
        yield p, sub, name in required
        if sub.get("type") == "object":
            yield from walk_properties(sub, p)
        items = sub.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            yield from walk_properties(items, p)


def check_annotations(kind, schema):
    if schema.get("additionalProperties") is not False:
        problem("%s schema: top level allows unknown keys" % kind)
    for ptr, sub, required in walk_properties(schema):
        where = "%s schema: %s" % (kind, ptr)
        if not sub.get("description"):
            problem("%s: no description" % where)
        if sub.get("type") == "object" and sub.get("additionalProperties") is not False:
            problem("%s: allows unknown keys" % where)
        items = sub.get("items")
        if isinstance(items, dict) and items.get("type") == "object" \
                and items.get("additionalProperties") is not False:
            problem("%s: items allow unknown keys" % where)
        has_default = "default" in sub
        if required and has_default:
            problem("%s: required, yet has a default" % where)
        elif not required and not has_default and ptr not in NO_DEFAULT[kind]:
            problem("%s: optional and no default" % where)
        elif has_default and ptr in NO_DEFAULT[kind]:
            problem("%s: listed as having no default, yet has one" % where)
        if has_default:
            errs = list(Validator(sub).iter_errors(sub["default"]))
            if errs:
                problem("%s: default %r does not pass: %s" % (where, sub["default"],
                                                            errs[0].message))


def check_sizes(gen, schemas):
    """The size patterns against the numbers they stand for."""
    K, M, G = 1 << 10, 1 << 20, 1 << 30
    cases = [
        ("vm", "/memory", [(gen.MEMORY_MIN, gen.MEMORY_MAX)]),
        ("host", "/defaults/memory", [(gen.MEMORY_MIN, gen.MEMORY_MAX)]),
        ("vm", "/disks/system_overlay", [(gen.DISK_MIN, gen.DISK_MAX)]),
        ("host", "/defaults/system_overlay", [(gen.DISK_MIN, gen.DISK_MAX)]),
        ("vm", "/disks/work", [(0, 0), (gen.WORK_MIN, gen.DISK_MAX)]),
        ("host", "/defaults/work_disk", [(0, 0), (gen.WORK_MIN, gen.DISK_MAX)]),
    ]
    for kind, ptr, ranges in cases:
        sub = {p: s for p, s, _ in walk_properties(schemas[kind])}[ptr]
        v = Validator(sub)
        probes = set(range(0, 40))
        for lo, hi in ranges:
            for b in (lo, hi):
                for d in (-2 * G, -G, -M - 1, -M, -K, -1, 0, 1, K, M, M + 1, G, 2 * G):
                    if b + d >= 0:
                        probes.add(b + d)
        for n in sorted(probes):
            forms = [(n, n), (str(n), n), ("00" + str(n), n)]
            for suffix, mult in (("K", K), ("M", M), ("G", G)):
                q = n // mult
                forms.append(("%d%s" % (q, suffix), q * mult))
                forms.append(("0%d%s" % (q, suffix), q * mult))
            for form, value in forms:
                want = any(lo <= value <= hi for lo, hi in ranges)
                if v.is_valid(form) != want:
                    problem("%s schema: %s: %r is %s, should be %s" % (
                        kind, ptr, form, "accepted" if not want else "refused",
                        "accepted" if want else "refused"))
        for bad in ("1g", "1 G", "1GB", "1.5G", "-1", "+1", " 1G", "1G ", "G", "", "1T",
                    "0x10", True, None, 1.0, -1, [], {}):
            if v.is_valid(bad):
                problem("%s schema: %s: %r is accepted" % (kind, ptr, bad))


def check_bridge_address(gen, schemas):
    """bridge.address against the addresses and prefixes it stands for."""
    sub = {p: s for p, s, _ in walk_properties(schemas["host"])}["/bridge/address"]
    v = Validator(sub)
    rng = random.Random(1)
    for prefix in range(0, 33):
        samples = set()
        for base in ("10.77.0.0", "192.168.255.255", "172.16.128.0", "0.0.0.0",
                     "255.255.255.255", "1.2.3.4"):
            n = ipaddress.ip_network("%s/%d" % (base, prefix), strict=False)
            samples.update((n.network_address, n.broadcast_address))
            if n.num_addresses > 2:
                samples.update((n.network_address + 1, n.broadcast_address - 1))
        samples.update(ipaddress.ip_address(rng.getrandbits(32)) for _ in range(200))
        for a in samples:
            n = ipaddress.ip_network("%s/%d" % (a, prefix), strict=False)
            want = gen.BRIDGE_PREFIX_MIN <= prefix <= gen.BRIDGE_PREFIX_MAX and \
                a not in (n.network_address, n.broadcast_address)
            s = "%s/%d" % (a, prefix)
            if v.is_valid(s) != want:
                problem("host schema: /bridge/address: %r is %s" %
                        (s, "refused" if want else "accepted"))
    for bad in ("10.77.0.1", "10.77.0.1/", "10.77.0.1/024", "010.77.0.1/24",
                "10.77.0.256/24", "10.77.0/24", "10.77.0.1/24 ", " 10.77.0.1/24"):
        if v.is_valid(bad):
            problem("host schema: /bridge/address: %r is accepted" % bad)


def check_addresses(schemas):
    """IPv4 and MAC patterns against what they stand for."""
    props = {p: s for p, s, _ in walk_properties(schemas["vm"])}
    ip, mac = Validator(props["/network/ip"]), Validator(props["/network/mac"])
    rng = random.Random(2)
    for _ in range(300):
        a = str(ipaddress.ip_address(rng.getrandbits(32)))
        if not ip.is_valid(a):
            problem("vm schema: /network/ip: %r is refused" % a)
    for a in ("0.0.0.0", "255.255.255.255", "10.77.0.9", "1.20.199.250"):
        if not ip.is_valid(a):
            problem("vm schema: /network/ip: %r is refused" % a)
    for a in ("10.77.0.09", "010.77.0.9", "10.77.0.256", "10.77.0", "10.77.0.9.1",
              "10.77.0.9/24", " 10.77.0.9", "1e1.0.0.0", 167772161):
        if ip.is_valid(a):
            problem("vm schema: /network/ip: %r is accepted" % a)
    for _ in range(300):
        octets = [rng.getrandbits(8) for _ in range(6)]
        text = ":".join("%02x" % o for o in octets)
        for t in (text, text.upper()):
            want = octets[0] % 2 == 0 and any(octets)
            if mac.is_valid(t) != want:
                problem("vm schema: /network/mac: %r is %s" %
                        (t, "refused" if want else "accepted"))
    for t in ("00:00:00:00:00:00", "01:00:5e:00:00:01", "06:00:0a:4d:00:0a:00",
              "06-00-0a-4d-00-0a", "06:00:0a:4d:00:a", "0600.0a4d.000a"):
        if mac.is_valid(t):
            problem("vm schema: /network/mac: %r is accepted" % t)


def verdict(schema, path):
    """None if path passes schema, else the reason it does not."""
    try:
        doc = load(path)
    except (OSError, ValueError) as e:
        return "unreadable: %s" % e
    errs = sorted(Validator(schema).iter_errors(doc), key=lambda e: list(e.path))
    if not errs:
        return None
    e = errs[0]
    where = "/".join(str(p) for p in e.path) or "(top)"
    return "%s: %s" % (where, e.message)


def check_corpus(top, schemas):
    base = os.path.join(top, "tests", "data", "spec")
    count = 0
    for expect in ("valid", "invalid"):
        for folder, kind in KINDS.items():
            d = os.path.join(base, expect, folder)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                if not name.endswith(".yaml"):
                    continue
                path = os.path.join(d, name)
                rel = os.path.relpath(path, top)
                why = verdict(schemas[kind], path)
                count += 1
                if os.environ.get("SCHEMA_CHECK_VERBOSE"):
                    print("%s: %s" % (rel, why or "passes"))
                if expect == "valid" and why is not None:
                    problem("%s: valid for banger, the %s schema refuses it: %s" %
                            (rel, kind, why))
                elif expect == "invalid" and why is None:
                    problem("%s: invalid for banger, the %s schema accepts it" % (rel, kind))
    return count


def state_files(d):
    """[(path relative to d, kind)] of the declarations of state directory d."""
    files = []
    if os.path.isfile(os.path.join(d, "host.yaml")):
        files.append(("host.yaml", "host"))
    for folder, kind in KINDS.items():
        sub = os.path.join(d, folder)
        if folder != "host" and os.path.isdir(sub):
            files += [(os.path.join(folder, n), kind) for n in sorted(os.listdir(sub))
                      if n.endswith(".yaml")]
    return files


def check_states(top, schemas):
    """Every declaration of a state directory that banger finds valid (its
    'expected' standard error is empty) passes its schema."""
    base = os.path.join(top, "tests", "data", "spec", "states")
    count = 0
    if not os.path.isdir(base):
        return 0
    for case in sorted(os.listdir(base)):
        d = os.path.join(base, case)
        exp = os.path.join(d, "expected")
        if not os.path.isfile(exp) or os.path.getsize(exp) != 0:
            continue
        for rel, kind in state_files(d):
            count += 1
            why = verdict(schemas[kind], os.path.join(d, rel))
            if why is not None:
                problem("tests/data/spec/states/%s/%s: valid for banger, the %s schema "
                        "refuses it: %s" % (case, rel, kind, why))
    return count


SCHEMA_LINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def check_examples(top, schemas):
    ex = os.path.join(top, "examples")
    files = state_files(ex)
    # Other state directories shipped as examples/NAME/ (such as demo/).
    for sub in sorted(os.listdir(ex)) if os.path.isdir(ex) else []:
        if sub not in KINDS and os.path.isdir(os.path.join(ex, sub)):
            files += [(os.path.join(sub, rel), kind)
                      for rel, kind in state_files(os.path.join(ex, sub))]
    for rel, kind in files:
        path = os.path.join(ex, rel)
        why = verdict(schemas[kind], path)
        if why is not None:
            problem("examples/%s: the %s schema refuses it: %s" % (rel, kind, why))
        with open(path) as f:
            m = SCHEMA_LINE.match(f.readline().rstrip("\n"))
        want = os.path.join(top, "schemas", "%s.schema.json" % kind)
        if not m:
            problem("examples/%s: first line is not '# yaml-language-server: $schema=...'" % rel)
        elif os.path.realpath(os.path.join(os.path.dirname(path), m.group(1))) != \
                os.path.realpath(want):
            problem("examples/%s: $schema=%s is not schemas/%s.schema.json" %
                    (rel, m.group(1), kind))
    kinds = {k for _, k in files}
    for kind in ("host", "image", "vm", "filesync"):
        if kind not in kinds:
            problem("examples/: declares no %s" % kind)
    return len(files)


def main():
    if len(sys.argv) != 2:
        print("usage: schema-check.py TOP_SRCDIR", file=sys.stderr)
        return 64
    top = sys.argv[1]
    schemas = load_schemas(top)
    if len(schemas) != len(KINDS):
        return 1
    gen = check_generated(top, schemas)
    for kind, schema in schemas.items():
        check_annotations(kind, schema)
    check_sizes(gen, schemas)
    check_bridge_address(gen, schemas)
    check_addresses(schemas)
    n = check_corpus(top, schemas)
    st = check_states(top, schemas)
    e = check_examples(top, schemas)
    print("%d corpus files, %d files of valid states, %d example files, %d disagreements" %
          (n, st, e, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
