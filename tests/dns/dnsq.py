#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Ask a DNS server for the A records of a name, over UDP.

Usage: dnsq.py SERVER PORT NAME
Prints "rcode N" and then one "A ADDRESS" line per IPv4 answer; exits 0 when
an answer came back, 2 on a timeout or a malformed reply.  Only for tests:
it sends one query, to the address it is given (a test's own loopback).
"""
import random
import socket
import struct
import sys


def query(name):
    qid = random.randrange(1 << 16)
    header = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    q = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        q += bytes([len(raw)]) + raw
    return qid, header + q + b"\0" + struct.pack(">HH", 1, 1)


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def main():
    server, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    qid, pkt = query(name)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(pkt, (server, port))
    try:
        msg, _ = s.recvfrom(4096)
    except socket.timeout:
        print("timeout")
        return 2
    rid, flags, qd, an = struct.unpack(">HHHH", msg[:8])
    if rid != qid or not flags & 0x8000:
        print("bad reply")
        return 2
    print("rcode %d" % (flags & 0xF))
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    for _ in range(an):
        off = skip_name(msg, off)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        if rtype == 1 and rdlen == 4:
            print("A %s" % socket.inet_ntoa(msg[off:off + 4]))
        off += rdlen
    return 0


if __name__ == "__main__":
    sys.exit(main())
