#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Write schemas/{host,image,vm,filesync}.schema.json.

The schemas are plain JSON Schema 2020-12, committed so that editors can use
them straight from a checkout.  This script is how they are made: the size
patterns (a number with an optional K/M/G suffix, bounded) are regular
expressions over decimal ranges that nobody should write by hand.  Run it
after changing a rule, then commit both; tests/schema-agreement.sh fails when
the committed files differ from what this script writes.

Usage: tools/gen-schemas.py [OUTDIR]   (default: schemas/ next to tools/)
"""
import json
import os
import sys

K, M, G = 1 << 10, 1 << 20, 1 << 30

# The bounds the C validator applies (src/spec/spec.h).
MEMORY_MIN = 128 * M
MEMORY_MAX = 1024 * G
DISK_MIN = 1 * M  # OVERLAY_MIN
DISK_MAX = 128 * G
WORK_MIN = 1 * M  # WORK_DISK_MIN
VCPUS_MIN, VCPUS_MAX = 1, 32
FILE_MAX = 1 << 20
KERNEL_ARGS_MAX = 768  # KERNEL_ARGS_MAX
KERNEL_ARGS = "^[ -~]*$"  # printable ASCII

DNS_LABEL = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
IPV4 = "^%s(\\.%s){3}$" % (OCTET, OCTET)
BRIDGE_PREFIX_MIN, BRIDGE_PREFIX_MAX = 8, 30
# Interface names: 1 to 15 characters.
IFNAME = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$"
# Unicast: the lowest bit of the first octet is clear.
MAC = "^[0-9a-fA-F][02468aceACE](:[0-9a-fA-F]{2}){5}$"
MAC_ZERO = "^00(:00){5}$"
SHA256 = "^[0-9a-fA-F]{64}$"
MODE = "^[0-7]{3,4}$"
HOSTNAME = "^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$"
HOSTNAME_MAX = 253
# Free text: anything but NUL (which banger refuses in every string).
TEXT = "^[^\\u0000]*$"
# A git repository: an absolute path, a URL ("://") or scp-like (user@host:path).
REPO = "^(/|[^\\u0000]*://|[^\\u0000]*@)[^\\u0000]*$"
# Branch, tag or commit id: git's ref name rules narrowed to a safe alphabet.
REF = "^([A-Za-z0-9._][A-Za-z0-9._/-]{0,198}[A-Za-z0-9_-]|[A-Za-z0-9_])$"
REF_BAD = "\\.\\.|//|\\.lock$"
# A relative folder inside a repository: no empty, "." or ".." component.
REPO_PATH = "^[^/\\u0000]+(/[^/\\u0000]+)*$"
DOT_COMPONENT = "(^|/)\\.\\.?(/|$)"
# A guest folder for a workspace: absolute or ~/..., same components, not /root,
# no control characters.
GUEST_DIR = "^(/|~/)[^/\\u0000-\\u001f\\u007f]+(/[^/\\u0000-\\u001f\\u007f]+)*$"
# banger's own folder on the work disk (its list of synced paths, the ssh keys).
BANGER_DIR = "^/banger(/|$)"
# A repository whose last component (trailing slashes and .git aside) makes a
# folder name: not empty, ".", "..", and without control characters.
REPO_FOLDER = "(^|[/:])[^/:\\u0000-\\u001f\\u007f]+/*$"
REPO_FOLDER_BAD = "(^|[/:])(\\.|\\.\\.|\\.\\.git|\\.\\.\\.git)/*$"
# A size of 0 bytes.
ZERO_SIZE = {"anyOf": [{"type": "integer", "const": 0},
                       {"type": "string", "pattern": "^0+[KMG]?$"}]}
# A path component "..".
DOTDOT = "(^|/)\\.\\.(/|$)"


def _same_len(s, e):
    """Alternatives matching the decimal numbers from s to e (same length)."""
    if s == e:
        return [s]
    if len(s) == 1:
        return ["[%s-%s]" % (s, e)]
    if s[0] == e[0]:
        return [s[0] + p for p in _same_len(s[1:], e[1:])]
    n = len(s) - 1
    out = []
    if s[1:] == "0" * n:
        first_lo = int(s[0])
    else:
        out += [s[0] + p for p in _same_len(s[1:], "9" * n)]
        first_lo = int(s[0]) + 1
    tail = []
    if e[1:] == "9" * n:
        first_hi = int(e[0])
    else:
        first_hi = int(e[0]) - 1
        tail = [e[0] + p for p in _same_len("0" * n, e[1:])]
    if first_lo <= first_hi:
        d = str(first_lo) if first_lo == first_hi else "[%d-%d]" % (first_lo, first_hi)
        out.append(d + ("[0-9]" if n == 1 else "[0-9]{%d}" % n))
    return out + tail


def range_regex(lo, hi):
    """A regex (no anchors) for the decimal integers lo..hi, no leading zeros."""
    assert 0 <= lo <= hi
    out = []
    while lo <= hi:
        top = min(hi, 10 ** len(str(lo)) - 1)
        out += _same_len(str(lo), str(top))
        lo = top + 1
    return "|".join(out)


def cidr_pattern():
    """IPv4/prefix with the prefix in the bridge's bounds."""
    return "^%s(\\.%s){3}/(%s)$" % (OCTET, OCTET,
                                     range_regex(BRIDGE_PREFIX_MIN, BRIDGE_PREFIX_MAX))


def network_or_broadcast_pattern():
    """IPv4/prefix where the address is the network's or its broadcast address,
    for every prefix the bridge allows."""
    alts = []
    for p in range(BRIDGE_PREFIX_MIN, BRIDGE_PREFIX_MAX + 1):
        i, h = p // 8, 8 - p % 8
        rest = 3 - i
        net = [v for v in range(256) if v % (1 << h) == 0]
        bc = [v for v in range(256) if v % (1 << h) == (1 << h) - 1]
        lead = "(%s\\.){%d}" % (OCTET, i) if i else ""
        zeros = "(\\.0){%d}" % rest if rest else ""
        ones = "(\\.255){%d}" % rest if rest else ""
        alts.append("%s((%s)%s|(%s)%s)/%d" % (lead, "|".join(map(str, net)), zeros,
                                              "|".join(map(str, bc)), ones, p))
    return "^(%s)$" % "|".join(alts)


def size(ranges, description, default=None):
    """A size: integer bytes or a string with an optional K, M or G suffix,
    whose value lies in one of the closed byte ranges."""
    ints = [{"type": "integer", "minimum": lo, "maximum": hi} for lo, hi in ranges]
    alts = []
    for suffix, mult in (("", 1), ("K", K), ("M", M), ("G", G)):
        parts = []
        for lo, hi in ranges:
            nlo, nhi = -(-lo // mult), hi // mult
            if nlo <= nhi:
                parts.append(range_regex(nlo, nhi))
        if parts:
            alts.append("0*(%s)%s" % ("|".join(parts), suffix))
    strs = {"type": "string", "pattern": "^(%s)$" % "|".join(alts)}
    s = {"description": description, "anyOf": ints + [strs]}
    if default is not None:
        s["default"] = default
    return s


def prop(typ, description, default=None, **kw):
    s = {"type": typ, "description": description}
    s.update(kw)
    if default is not None:
        s["default"] = default
    return s


def obj(properties, description, default=None, required=None, **kw):
    s = {"type": "object", "description": description,
         "additionalProperties": False, "properties": properties}
    if required:
        s["required"] = required
    s.update(kw)
    if default is not None:
        s["default"] = default
    return s


def top(name, title, description, properties, required=None, extra=None):
    properties = dict(properties)
    properties["version"] = {
        "description": "Version of the declaration format. Optional; only 1 exists.",
        "const": 1, "default": 1}
    s = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }
    if required:
        s["required"] = required
    s.update(extra or {})
    return s


def memory(description, default="512M"):
    return size([(MEMORY_MIN, MEMORY_MAX)], description, default)


def disk(description, default):
    return size([(DISK_MIN, DISK_MAX)], description, default)


def work(description, default):
    return size([(0, 0), (WORK_MIN, DISK_MAX)], description, default)


def vcpus(description):
    return prop("integer", description, 1, minimum=VCPUS_MIN, maximum=VCPUS_MAX)


HYPERVISORS = ["firecracker", "qemu"]


def host_schema():
    defaults = {"vcpus": 1, "memory": "512M", "system_overlay": "2G",
                "work_disk": "1G", "nat": False}
    return top("host", "banger host.yaml",
               "Settings of the host itself: the bridge the VMs share, NAT uplink, DNS, "
               "hypervisor and disk strategy, and defaults for every VM. The file is "
               "optional; every key has a default.",
               {
                   "bridge": obj({
                       "name": prop("string", "Name of the bridge banger creates and owns "
                                    "(a Linux interface name, at most 15 characters).",
                                    "banger0", pattern=IFNAME),
                       "address": prop("string", "IPv4 address of the host on the bridge "
                                       "with the prefix length of the guest network "
                                       "(CIDR). The address is the guests' gateway; guest "
                                       "addresses are allocated from the rest of the range.",
                                       "10.77.0.1/24", pattern=cidr_pattern(),
                                       **{"not": {"pattern": network_or_broadcast_pattern()}}),
                   }, "The bridge that connects the VMs' tap devices to the host.",
                       {"name": "banger0", "address": "10.77.0.1/24"}),
                   "uplink": prop("string", "Interface whose traffic NAT masquerades "
                                  "behind, or auto for the interface of the default route.",
                                  "auto", pattern=IFNAME),
                   "dns": prop("array", "IPv4 addresses of name servers handed to the "
                               "guests on the kernel command line. Empty: none.", [],
                               items={"type": "string", "pattern": IPV4,
                                      "description": "An IPv4 address."}),
                   "hypervisor": prop("string", "Hypervisor for VMs that do not name one.",
                                      "qemu", enum=HYPERVISORS),
                   "firecracker": obj({
                       "binary": prop("string", "Firecracker program: an absolute path or "
                                      "a name looked up in PATH.", "firecracker",
                                      minLength=1, pattern=TEXT),
                   }, "Settings of the Firecracker hypervisor.",
                       {"binary": "firecracker"}),
                   "qemu": obj({
                       "binary": prop("string", "QEMU program: an absolute path or a name "
                                      "looked up in PATH.", "qemu-system-x86_64",
                                      minLength=1, pattern=TEXT),
                       "accel": prop("string", "QEMU accelerator: kvm, tcg, or auto (KVM "
                                     "when it works on this host, TCG otherwise).", "auto",
                                     enum=["auto", "kvm", "tcg"]),
                   }, "Settings of the QEMU (microvm machine) hypervisor.",
                       {"binary": "qemu-system-x86_64", "accel": "auto"}),
                   "disk_strategy": prop("string", "How each VM's copy-on-write root disk "
                                         "is made over the image's rootfs: dm-snapshot, "
                                         "reflink, copy, or auto (the first that works, "
                                         "in that order).", "auto",
                                         enum=["auto", "dm-snapshot", "reflink", "copy"]),
                   "status_dir": prop("string", "Absolute path of the status directory. "
                                      "The --status-dir option and BANGER_STATUS_DIR win "
                                      "over it.", "/var/lib/banger",
                                      pattern="^/[^\\u0000]*$"),
                   "defaults": obj({
                       "vcpus": vcpus("Virtual CPUs of a VM that does not declare vcpus "
                                      "(1 to 32)."),
                       "memory": memory("Memory of a VM that does not declare memory: "
                                        "at least 128M."),
                       "system_overlay": disk("Size of a VM's writable root disk "
                                              "(copy-on-write over the image), from 1M to 128G.",
                                              "2G"),
                       "work_disk": work("Size of a VM's work disk (ext4, holds the file "
                                         "syncs), from 1M to 128G; 0 for none.", "1G"),
                       "nat": prop("boolean", "Whether a VM that does not say gets NAT "
                                   "to the outside through the uplink.", False),
                   }, "Defaults for the keys a VM declaration leaves out.", defaults),
                   "domain": prop("string", "DNS suffix of the VMs' names: each VM with an "
                                  "address is NAME.DOMAIN in the hosts fragment "
                                  "STATUS_DIR/hosts, the marked block of the hosts file, and "
                                  "banger ssh-config. DNS labels joined by dots, at most 253 "
                                  "characters, no trailing dot.", "vm",
                                  pattern="^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
                                          "(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                                  maxLength=253),
                   "source": obj({
                       "git": prop("string", "The repository: an absolute path, or a URL "
                                   "(file://, https://, ssh://, or scp-like user@host:path). "
                                   "Required.", pattern=REPO, minLength=1),
                       "branch": prop("string", "The branch whose last commit is applied. "
                                      "No default: the repository's HEAD branch, or main.",
                                      pattern=REF, **{"not": {"pattern": REF_BAD}}),
                       "path": prop("string", "The folder of the repository that holds the "
                                    "declarations, relative, without '.' or '..' components. "
                                    "No default: the root of the tree.", pattern=REPO_PATH,
                                    **{"not": {"pattern": DOT_COMPONENT}}),
                   }, "Declarations come from a commit of this git repository instead of "
                      "the state directory's files. No default: from the state directory.",
                       required=["git"]),
               })


def image_schema():
    sha = {"type": "string", "pattern": SHA256}
    return top("image", "banger images/NAME.yaml",
               "A bootable image: kernel, root file system and optional initrd. The file "
               "name without .yaml is the image's name. Paths are absolute or relative to "
               "the state directory.",
               {
                   "kernel": prop("string", "Kernel to boot: an uncompressed ELF vmlinux "
                                  "(Firecracker) or a bzImage (QEMU). Required.",
                                  minLength=1, pattern=TEXT),
                   "rootfs": prop("string", "Root file system image (ext4), used read-only "
                                  "as the base of each VM's root disk. Required.",
                                  minLength=1, pattern=TEXT),
                   "initrd": prop("string", "Initial ram disk. No default: none.",
                                  minLength=1, pattern=TEXT),
                   "kernel_args": prop("string", "Kernel command line arguments of every "
                                       "VM of this image, printable ASCII, at most 768 "
                                       "bytes. No default: none beyond what banger adds "
                                       "(console, root, ip=).",
                                       maxLength=KERNEL_ARGS_MAX, pattern=KERNEL_ARGS),
                   "sha256": obj({
                       "kernel": dict(sha, description="Expected SHA-256 of kernel "
                                      "(64 hexadecimal digits). No default: not checked."),
                       "rootfs": dict(sha, description="Expected SHA-256 of rootfs. "
                                      "No default: not checked."),
                       "initrd": dict(sha, description="Expected SHA-256 of initrd. "
                                      "No default: not checked."),
                   }, "Pins: a file whose digest differs holds every VM of the image.", {}),
               }, ["kernel", "rootfs"],
               {"if": {"required": ["sha256"],
                       "properties": {"sha256": {"required": ["initrd"]}}},
                "then": {"required": ["initrd"]}})


def vm_schema():
    return top("vm", "banger vms/NAME.yaml",
               "One microVM. The file name without .yaml is the VM's name (a DNS label).",
               {
                   "image": prop("string", "Name of a declared image (images/NAME.yaml). "
                                 "Required.", pattern=DNS_LABEL),
                   "state": prop("string", "Whether the VM should be running or stopped.",
                                 "running", enum=["running", "stopped"]),
                   "vcpus": vcpus("Virtual CPUs, 1 to 32. Default: host.yaml "
                                  "defaults.vcpus (1)."),
                   "memory": memory("Memory, at least 128M. Default: host.yaml "
                                    "defaults.memory (512M)."),
                   "hypervisor": prop("string", "Hypervisor that runs the VM. Default: "
                                      "host.yaml hypervisor (qemu).", "qemu",
                                      enum=HYPERVISORS),
                   "disks": obj({
                       "system_overlay": disk("Size of the writable root disk, from 1M to 128G. "
                                              "Default: host.yaml defaults.system_overlay "
                                              "(2G).", "2G"),
                       "work": work("Size of the work disk, from 1M to 128G; 0 for none. "
                                    "Default: host.yaml defaults.work_disk (1G).", "1G"),
                   }, "Disk sizes.", {"system_overlay": "2G", "work": "1G"}),
                   "network": obj({
                       "nat": prop("boolean", "NAT to the outside through the uplink. "
                                   "Default: host.yaml defaults.nat (false).", False),
                       "ip": prop("string", "Guest IPv4 address: inside the bridge range, "
                                  "not the gateway, unique across VMs. No default: the "
                                  "first free address of the range, kept once allocated.",
                                  pattern=IPV4),
                       "mac": prop("string", "Guest MAC address: unicast, unique across "
                                   "VMs. No default: 06:00 followed by the four octets of "
                                   "the IPv4 address.", pattern=MAC,
                                   **{"not": {"pattern": MAC_ZERO}}),
                   }, "The VM's network interface on the bridge.", {"nat": False}),
                   "filesyncs": prop("array", "Names of declared file syncs "
                                     "(filesyncs/NAME.yaml) copied to the work disk.", [],
                                     items={"type": "string", "pattern": DNS_LABEL,
                                            "description": "A file sync name."},
                                     uniqueItems=True),
                   "ssh_authorized_keys": prop("array", "Public keys written to "
                                               "/root/.ssh/authorized_keys in the guest.",
                                               [], items={"type": "string",
                                                          "minLength": 1,
                                                          "pattern": "^[^\\u0000\\n\\r]*$",
                                                          "description": "One key line."}),
                   "kernel_args": prop("string", "Kernel arguments appended to the image's, "
                                       "printable ASCII, at most 768 bytes. No default: "
                                       "none.", maxLength=KERNEL_ARGS_MAX, pattern=KERNEL_ARGS),
                   "on_delete": prop("string", "What happens to the work disk when the "
                                     "declaration is removed: retain (moved aside) or "
                                     "purge (deleted).", "retain",
                                     enum=["retain", "purge"]),
                   "host": prop("string", "Host name of the one host that runs this VM "
                                "(letters, digits, '-' and '.', at most 253 characters). "
                                "No default: every host that reads the declaration runs it.",
                                pattern=HOSTNAME, maxLength=HOSTNAME_MAX),
                   "idle_stop_after": prop("string", "Stop the VM once it has been idle "
                                           "(under 10% of one core, no SSH connection) that "
                                           "long: digits and s, m or h, from 10s to 720h. "
                                           "It starts again when its declaration changes or "
                                           "on banger start. No default: never.",
                                           pattern="^0*((%s)s|(%s)m|(%s)h)$" % (
                                               range_regex(10, 720 * 3600),
                                               range_regex(1, 720 * 60),
                                               range_regex(1, 720))),
                   "workspace": obj({
                       "repo": prop("string", "The git repository: an absolute path, or a "
                                    "URL (file://, https://, ssh://, or scp-like "
                                    "user@host:path). Required.", pattern=REPO, minLength=1),
                       "ref": prop("string", "The branch, tag or commit id (7 to 40 hex "
                                   "digits; quote one made of digits only) to materialise. "
                                   "No default: the repository's HEAD.", pattern=REF,
                                   **{"not": {"pattern": REF_BAD}}),
                       "path": prop("string", "The guest folder: absolute or ~/..., without "
                                    "'.', '..' or empty components or control characters, "
                                    "not / or /root, not /banger or under it. No "
                                    "default: /root/ and the repository's last component "
                                    "without .git.", pattern=GUEST_DIR,
                                    **{"not": {"anyOf": [{"pattern": DOT_COMPONENT},
                                                         {"pattern": "^/root$"},
                                                         {"pattern": BANGER_DIR}]}}),
                       "mode": prop("string", "full_copy (the repository with its history, "
                                    "the commit checked out), shallow (the commit's files "
                                    "and a one-commit repository) or metadata_only (the "
                                    ".git folder alone).", "full_copy",
                                    enum=["full_copy", "shallow", "metadata_only"]),
                   }, "A git commit materialised into the work disk when the VM is "
                      "created and on each start from stopped. It needs a work disk. No "
                      "default: none.", required=["repo"],
                       **{"if": {"required": ["path"]},
                          "else": {"properties": {"repo": {
                              "pattern": REPO_FOLDER,
                              "not": {"pattern": REPO_FOLDER_BAD}}}}}),
               }, ["image"],
               # A workspace, file syncs or keys are written to the work disk.
               {"if": {"required": ["disks"],
                       "properties": {"disks": {"required": ["work"],
                                                "properties": {"work": ZERO_SIZE}}},
                       "anyOf": [{"required": ["workspace"]},
                                 {"required": ["filesyncs"],
                                  "properties": {"filesyncs": {"minItems": 1}}},
                                 {"required": ["ssh_authorized_keys"],
                                  "properties": {"ssh_authorized_keys": {"minItems": 1}}}]},
                "then": False})


def filesync_schema():
    entry = obj({
        "host": prop("string", "File or directory on the host: absolute, ~/... (the home "
                     "of the user running banger), or relative to the state directory. "
                     "Required.", minLength=1, pattern=TEXT),
        "guest": prop("string", "Destination in the guest: absolute, or ~/... meaning "
                      "/root/..., without a '..' component or control characters, not "
                      "/banger or under it (banger's own folder on the work disk). Required.",
                      pattern="^(/|~/)[^\\u0000-\\u001f\\u007f]*$",
                      **{"not": {"anyOf": [{"pattern": DOTDOT}, {"pattern": BANGER_DIR}]}}),
        "mode": prop("string", "Permissions of the copy as a string of 3 or 4 octal "
                     "digits (quote it: 0644 unquoted is a YAML integer). No default: "
                     "0600 for a file; for a directory, 0755 for its directories and "
                     "0600 for its files (0700 for those executable by their owner).",
                     pattern=MODE),
    }, "One copy from the host to the guest.", required=["host", "guest"])
    return top("filesync", "banger filesyncs/NAME.yaml",
               "Files copied from the host to the work disk of every VM that lists this "
               "file sync. The file name without .yaml is its name.",
               {
                   "entries": prop("array", "The copies, in order. Required, at least one.",
                                   items=entry, minItems=1),
               }, ["entries"])


SCHEMAS = {
    "host": host_schema,
    "image": image_schema,
    "vm": vm_schema,
    "filesync": filesync_schema,
}


def render(kind):
    return json.dumps(SCHEMAS[kind](), indent=2) + "\n"


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "schemas")
    for kind in SCHEMAS:
        path = os.path.join(out, "%s.schema.json" % kind)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(render(kind))
        os.rename(tmp, path)


if __name__ == "__main__":
    main()
