#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Keep the section 5 man pages honest.

  man-check.py TOP [--update]

For man/banger-{host,image,vm,filesync}.5:
 1. every literal block marked  .\\" example: REL  in EXAMPLES is, once its
    roff escapes are undone, exactly the file examples/REL;
 2. every declaration of its kind in examples/ appears in such a block;
 3. its keys (".It Ic KEY" in the Keys list, nested keys written a.b and
    list items a[].b) are exactly the properties of schemas/KIND.schema.json,
    and the text of each key whose schema default is a scalar states it.
Prints one line per problem, exit 1 if any.  With --update, rewrites the
example blocks from examples/ instead of checking them (then run it again).
"""
import json
import os
import re
import sys

PAGES = {"host": "host.yaml", "image": "images", "vm": "vms", "filesync": "filesyncs"}
MARK = re.compile(r'^\.\\" example: (\S+)$')
ESCAPES = {"e": "\\", "-": "-", "&": "", "(aq": "'", "(ga": "`", "(dq": '"'}
ESC_RE = re.compile(r"\\(\(..|.)")

problems = []


def problem(msg):
    problems.append(msg)
    print(msg)


def unescape(line, where):
    def sub(m):
        if m.group(1) not in ESCAPES:
            problem("%s: unexpected roff escape \\%s in an example" % (where, m.group(1)))
            return m.group(0)
        return ESCAPES[m.group(1)]
    return ESC_RE.sub(sub, line)


def escape(line):
    line = (line.replace("\\", "\\e").replace("-", "\\-").replace("'", "\\(aq")
            .replace("`", "\\(ga"))
    if line.startswith(".") or line.startswith("'"):
        line = "\\&" + line
    return line


def examples_of(top, kind):
    ex = os.path.join(top, "examples")
    if kind == "host":
        return ["host.yaml"] if os.path.exists(os.path.join(ex, "host.yaml")) else []
    d = os.path.join(ex, PAGES[kind])
    if not os.path.isdir(d):
        return []
    return sorted("%s/%s" % (PAGES[kind], n) for n in os.listdir(d) if n.endswith(".yaml"))


def blocks(lines, page):
    """[(rel, index of the .Bd line, index of the .Ed line)] of marked blocks."""
    out = []
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if m:
            if i + 1 >= len(lines) or not lines[i + 1].startswith(".Bd -literal"):
                problem("%s:%d: example mark not followed by .Bd -literal" % (page, i + 1))
                i += 1
                continue
            j = i + 2
            while j < len(lines) and lines[j] != ".Ed":
                j += 1
            if j == len(lines):
                problem("%s:%d: example block without .Ed" % (page, i + 2))
                break
            out.append((m.group(1), i + 1, j))
            i = j
        i += 1
    return out


def check_examples(top, kind, page, lines, update):
    seen = set()
    for rel, bd, ed in reversed(blocks(lines, page)):
        seen.add(rel)
        path = os.path.join(top, "examples", rel)
        try:
            with open(path) as f:
                want = f.read().split("\n")
        except OSError as e:
            problem("%s:%d: example %s: %s" % (page, bd, rel, e.strerror))
            continue
        if want and want[-1] == "":
            want.pop()
        if update:
            lines[bd + 1:ed] = [escape(w) for w in want]
            continue
        got = [unescape(l, "%s:%d" % (page, bd + 2 + n)) for n, l in enumerate(lines[bd + 1:ed])]
        if got != want:
            for n, (g, w) in enumerate(zip(got + [None] * len(want), want + [None] * len(got))):
                if g != w:
                    problem("%s:%d: example differs from examples/%s line %d: %r, file has %r"
                            % (page, bd + 2 + n, rel, n + 1, g, w))
                    break
    for rel in examples_of(top, kind):
        if rel not in seen:
            problem("%s: EXAMPLES lacks examples/%s" % (page, rel))


def schema_keys(schema, prefix=""):
    """{dotted key: property schema}."""
    out = {}
    for name, sub in schema.get("properties", {}).items():
        key = prefix + name
        out[key] = sub
        if sub.get("type") == "object":
            out.update(schema_keys(sub, key + "."))
        items = sub.get("items")
        if isinstance(items, dict) and items.get("type") == "object":
            out.update(schema_keys(items, key + "[]."))
    return out


def scalar_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def check_keys(top, kind, page, lines):
    with open(os.path.join(top, "schemas", "%s.schema.json" % kind)) as f:
        keys = schema_keys(json.load(f))
    items = {}
    cur = None
    for n, l in enumerate(lines):
        m = re.match(r"^\.It Ic (\S+)", l)
        if m:
            cur = m.group(1)
            if cur in items:
                problem("%s:%d: key %s documented twice" % (page, n + 1, cur))
            items[cur] = []
        elif l.startswith(".It") or l.startswith(".El") or l.startswith(".Sh"):
            cur = None
        elif cur:
            items[cur].append(l)
    for key in sorted(set(keys) - set(items)):
        problem("%s: key %s of schemas/%s.schema.json is not documented" % (page, key, kind))
    for key in sorted(set(items) - set(keys)):
        problem("%s: documents key %s, which schemas/%s.schema.json lacks" % (page, key, kind))
    for key, sub in keys.items():
        if key not in items or "default" not in sub:
            continue
        d = sub["default"]
        if isinstance(d, (dict, list)):
            continue
        text = "\n".join(items[key]).replace("\\-", "-").replace("\\&", "")
        if not re.search(r"(^|[\s/])%s($|[\s.,])" % re.escape(scalar_text(d)), text):
            problem("%s: key %s does not state its default %s" % (page, key, scalar_text(d)))


def main():
    args = [a for a in sys.argv[1:] if a != "--update"]
    update = "--update" in sys.argv[1:]
    if len(args) != 1:
        print("usage: man-check.py TOP_SRCDIR [--update]", file=sys.stderr)
        return 64
    top = args[0]
    for kind in PAGES:
        page = os.path.join("man", "banger-%s.5" % kind)
        with open(os.path.join(top, page)) as f:
            lines = f.read().split("\n")
        check_examples(top, kind, page, lines, update)
        if update:
            with open(os.path.join(top, page), "w") as f:
                f.write("\n".join(lines))
            continue
        check_keys(top, kind, page, lines)
    print("%d problems" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
