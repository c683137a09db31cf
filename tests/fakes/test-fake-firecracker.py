#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The fake must not accept what the spec rejects.  For every route of the
# OpenAPI document that takes a body, build a body holding every property the
# schema describes (recursively, through $ref), check that the fake lets it
# through its schema stage, then derive from the spec alone the bodies it must
# refuse: each required field removed, each value of the wrong type, each enum
# given a value outside it, each bound crossed, an unknown field added to each
# object.  Every one must get 400 with a fault_message from the schema check.
# Independent of the C code: a plain socket client.

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import yaml

SRC = os.environ.get("top_srcdir") or os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "..")
FAKE = os.path.join(SRC, "tests", "fakes", "fake-firecracker")
SPEC = os.path.join(SRC, "tests", "data", "firecracker", "firecracker-api.yaml")
UNKNOWN = "banger_not_in_spec"


def call(sock, method, path, body):
    data = b"" if body is None else json.dumps(body).encode()
    head = "%s %s HTTP/1.1\r\nHost: localhost\r\n" % (method, path)
    if body is not None:
        head += "Content-Type: application/json\r\nContent-Length: %d\r\n" % len(data)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    s.sendall(head.encode() + b"\r\n" + data)
    f = s.makefile("rb")
    status = int(f.readline().split()[1])
    length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode().split(":", 1)
        if k.lower() == "content-length":
            length = int(v)
    out = f.read(length) if length else b""
    s.close()
    fault = json.loads(out).get("fault_message") if out else None
    return status, fault


class Gen:
    def __init__(self, definitions):
        self.defs = definitions

    def resolve(self, schema):
        while "$ref" in schema:
            schema = self.defs[schema["$ref"].split("/")[-1]]
        return schema

    def value(self, schema, depth=0):
        """A valid value holding every property (depth-limited)."""
        schema = self.resolve(schema)
        if "enum" in schema:
            return schema["enum"][0]
        t = schema.get("type", "object")
        if t == "string":
            return "x"
        if t == "integer":
            v = max(schema.get("minimum", 1), 1)
            return min(v, schema["maximum"]) if "maximum" in schema else v
        if t == "number":
            return 1.5
        if t == "boolean":
            return False
        if t == "array":
            return [self.value(schema["items"], depth + 1)] if depth < 3 else []
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out = {}
        for name, sub in props.items():
            if name in required or depth < 3:
                out[name] = self.value(sub, depth + 1)
        if "additionalProperties" in schema and isinstance(schema["additionalProperties"], dict):
            out["k"] = self.value(schema["additionalProperties"], depth + 1)
        return out

    def mutations(self, schema, value, where=""):
        """(description, mutate(value) -> new value) pairs that must be invalid."""
        schema = self.resolve(schema)
        out = []
        t = schema.get("type", "object")
        wrong = {"string": 12345, "integer": "1", "number": "1.5", "boolean": "true",
                 "array": "x", "object": "x"}
        out.append(("%s wrong type" % (where or "body"), lambda v, w=wrong[t]: w))
        if "enum" in schema:
            out.append(("%s outside enum" % where, lambda v: "NotInTheEnum"))
        if t == "integer" and "minimum" in schema:
            out.append(("%s below minimum" % where, lambda v, m=schema["minimum"]: m - 1))
        if t == "integer" and "maximum" in schema:
            out.append(("%s above maximum" % where, lambda v, m=schema["maximum"]: m + 1))
        if t == "object" and isinstance(value, dict):
            addl = schema.get("additionalProperties")
            if addl is None or addl is False:
                out.append(("%s unknown field" % (where or "body"),
                            lambda v: dict(v, **{UNKNOWN: 1})))
            for name in schema.get("required", []):
                out.append(("%s missing '%s'" % (where or "body", name),
                            lambda v, n=name: {k: x for k, x in v.items() if k != n}))
            for name, sub in schema.get("properties", {}).items():
                if name not in value:
                    continue
                for desc, fn in self.mutations(sub, value[name], "%s/%s" % (where, name)):
                    out.append((desc, lambda v, n=name, f=fn: dict(v, **{n: f(v[n])})))
        if t == "array" and isinstance(value, list) and value:
            for desc, fn in self.mutations(schema["items"], value[0], where + "/0"):
                out.append((desc, lambda v, f=fn: [f(v[0])] + v[1:]))
        return out


def main():
    spec = yaml.safe_load(open(SPEC, "rb"))
    gen = Gen(spec["definitions"])
    tmp = tempfile.mkdtemp(prefix="banger-fakefc-")
    sock = os.path.join(tmp, "api.sock")
    env = dict(os.environ, FAKE_FIRECRACKER_WATCH_PID=str(os.getpid()))
    log = open(os.path.join(tmp, "console.log"), "wb")
    proc = subprocess.Popen([FAKE, "--api-sock", sock, "--id", "strict"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    failures = []
    checked = 0
    try:
        # Up once the socket accepts (it exists a moment before listen()).
        for _ in range(750):
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                    probe.connect(sock)
                break
            except OSError:
                pass
            if proc.poll() is not None:
                raise SystemExit("fake-firecracker exited early")
            time.sleep(0.02)
        else:
            raise SystemExit("fake-firecracker did not come up")
        for tmpl, ops in spec["paths"].items():
            path = tmpl.replace("{", "").replace("}", "")
            for method, op in ops.items():
                body = [p for p in op.get("parameters", []) if p.get("in") == "body"]
                if not body:
                    continue
                schema = body[0]["schema"]
                good = gen.value(schema)
                # Path ids must match body ids (drive_id, iface_id, id).
                for p in op.get("parameters", []):
                    if p.get("in") == "path" and isinstance(good, dict):
                        if p["name"] in good:
                            good[p["name"]] = p["name"]
                # An InstanceStart would move the fake past pre-boot calls.
                if tmpl == "/actions":
                    good = {"action_type": "FlushMetrics"}
                status, fault = call(sock, method.upper(), path, good)
                checked += 1
                if status == 400 and fault and fault.startswith("invalid body"):
                    failures.append("%s %s: spec-valid body refused: %s" % (method, tmpl, fault))
                for desc, fn in gen.mutations(schema, good):
                    bad = fn(json.loads(json.dumps(good)))
                    status, fault = call(sock, method.upper(), path, bad)
                    checked += 1
                    if status != 400 or not fault or not fault.startswith("invalid body"):
                        failures.append("%s %s: %s accepted (status %d, %s): %s"
                                        % (method.upper(), tmpl, desc, status, fault,
                                           json.dumps(bad)))
    finally:
        proc.kill()
        proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in failures:
        print("FAIL:", f)
    print("%d requests checked, %d failures" % (checked, len(failures)))
    sys.exit(1 if failures or checked < 100 else 0)


if __name__ == "__main__":
    main()
