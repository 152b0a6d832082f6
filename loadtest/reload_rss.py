#!/usr/bin/env python3
"""Reload time and memory: serve a bundle, replace it N times (temp file + rename, as `build`
does) and SIGHUP, and for each reload report `took_ms`/`load_ms` from the server's log and
VmRSS / RssAnon / RssFile (from /proc/PID/status) before, at the peak during, and after.

    python3 loadtest/reload_rss.py BIN BUNDLE [--reloads 5] [--interval-ms 2] [--load]

"before" is sampled after warm-up requests; "during" is the maximum sampled every
--interval-ms from the signal until the install line appears; "after" is sampled 1 s after
the install (the old snapshot freed). "cpu" is the server's user+system time from the signal
to 1 s after the install (10 ms ticks; without --load that is the reload's own work), next to
the wall-clock `took_ms` that a busy machine stretches. The phases come from the debug log
(checksum on its own thread, in parallel with archive + consistency + index). With --load, two
client threads keep requesting during the reloads (the served snapshot then maps back the
pages they read). Runs the server with --reload-interval-ms 0.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request


def rss(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                out[key] = int(value.split()[0])  # kB
    return out


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin")
    ap.add_argument("bundle")
    ap.add_argument("--reloads", type=int, default=5)
    ap.add_argument("--interval-ms", type=float, default=2.0)
    ap.add_argument("--load", action="store_true")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="reload-rss-")
    live = os.path.join(work, "current.bundle")
    shutil.copyfile(args.bundle, live)
    env = dict(os.environ, RUST_LOG="info,mirrorlist::snapshot=debug")
    proc = subprocess.Popen(
        [args.bin, "--log-format", "json", "serve", "--bundle", live, "--port", "0",
         "--admin-listen", "none", "--reload-interval-ms", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    installed = threading.Event()

    def read_stderr():
        for line in proc.stderr:
            lines.append(line)
            if '"snapshot installed"' in line:
                installed.set()

    threading.Thread(target=read_stderr, daemon=True).start()
    addr = None
    for line in proc.stdout:
        if line.startswith("Listening on http://"):
            addr = line.strip().split("http://")[1]
            break
    if addr is None:
        sys.exit("server did not start:\n" + "".join(lines))
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()

    def warm():
        for path in ("/mirrorlist?repo=fedora-42&arch=x86_64", "/metalink?repo=fedora-42&arch=x86_64"):
            for _ in range(50):
                try:
                    urllib.request.urlopen(f"http://{addr}{path}").read()
                except Exception:
                    pass

    warm()
    stop = threading.Event()

    def load():
        while not stop.is_set():
            warm()

    if args.load:
        for _ in range(2):
            threading.Thread(target=load, daemon=True).start()
    time.sleep(0.5)
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    rows = []
    for i in range(args.reloads):
        tmp = live + ".tmp"
        shutil.copyfile(args.bundle, tmp)
        os.rename(tmp, live)
        before = rss(proc.pid)
        cpu0 = cpu_ticks(proc.pid)
        installed.clear()
        n_lines = len(lines)
        peak = dict(before)
        samples = 0
        t0 = time.monotonic()
        proc.send_signal(signal.SIGHUP)
        while not installed.is_set() and time.monotonic() - t0 < 60:
            now = rss(proc.pid)
            samples += 1
            for k, v in now.items():
                peak[k] = max(peak[k], v)
            time.sleep(args.interval_ms / 1000)
        wall_ms = (time.monotonic() - t0) * 1000
        time.sleep(1.0)
        after = rss(proc.pid)
        cpu_ms = (cpu_ticks(proc.pid) - cpu0) * tick_ms
        fields = {}
        for l in lines[n_lines:]:
            if '"fields"' in l:
                fields.update(json.loads(l)["fields"])
        phases = "/".join(str(fields.get(k, "?")) for k in ("checksum_ms", "archive_ms", "consistency_ms", "index_ms"))
        rows.append((i + 1, fields.get("took_ms"), fields.get("load_ms"), phases, cpu_ms, before, peak, after, samples))
        if not args.load:
            warm()
    stop.set()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    shutil.rmtree(work)

    size = os.path.getsize(args.bundle)
    print(f"bundle {args.bundle}: {size / 1e6:.1f} MB")
    print(f"load during reloads: {'2 client threads' if args.load else 'none'}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| reload | took_ms | load_ms | checksum/archive/consistency/index ms | cpu ms | VmRSS before | VmRSS peak during | VmRSS after | rise | RssAnon before/peak/after | RssFile before/peak/after | samples |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n, took, load, phases, cpu, b, p, a, s in rows:
        rise = (p["VmRSS"] - b["VmRSS"]) / b["VmRSS"] * 100
        print(f"| {n} | {took} | {load} | {phases} | {cpu:.0f} | {b['VmRSS'] / 1024:.1f} MB | {p['VmRSS'] / 1024:.1f} MB | "
              f"{a['VmRSS'] / 1024:.1f} MB | {rise:+.1f}% | "
              f"{b['RssAnon'] / 1024:.1f} / {p['RssAnon'] / 1024:.1f} / {a['RssAnon'] / 1024:.1f} MB | "
              f"{b['RssFile'] / 1024:.1f} / {p['RssFile'] / 1024:.1f} / {a['RssFile'] / 1024:.1f} MB | {s} |")


if __name__ == "__main__":
    main()
