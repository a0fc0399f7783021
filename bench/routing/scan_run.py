"""`sentinelle routing scan` beside `bgpdump -m` on the same MRT file, in the same run.

    .venv/bin/python bench/routing/scan_run.py [--file F ...] [--repeat 3] [--src DIR] [--json F]

The configuration is tests/fixtures/bgp/scan (bench/routing/make_scan_config.py): a watch list
of ten States (3,758 prefixes from real VRPs and a RIB), the 5,000 real VRPs of
rpki-validator_test_5000vrps.json, and an as-rel of 89,313 links inferred from the files' own
AS paths. RIB files are scanned with --full-feed-v4 5000 (they are the first megabyte of a RIB:
~8,000 prefixes per peer), update files with the defaults. For each file, each in a fresh
process, the run with the least CPU time of --repeat kept:

  bgpdump -m   `bgpdump -q -m FILE > /dev/null` (the reference)
  reader       `mrt.read_elements` alone: the scan's input
  scan         reader + detectors in one process (`Scanner.feed_all`, as the CLI does), the
               configuration loaded before the clock starts; detectors = scan - reader
  command      the whole `routing scan --mrt F --watch --vrp --as-rel --output -q` process:
               interpreter start, loading the configuration, writing alerts.jsonl; peak RSS

--src measures another tree's code with the same configuration (e.g. the "before" commit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SHARED_MRT, run_bgpdump, vm_hwm_mib  # noqa: E402 - the sibling bench

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "fixtures" / "bgp" / "scan"
VRPS = ROOT / "tests" / "fixtures" / "bgp" / "rpki" / "rpki-validator_test_5000vrps.json"
PYTHON = sys.executable
DEFAULT_FILES = ["ripe-ncc-bgpdump/test_data/updates.et-header.2015.gz",
                 "pyasn/rib.20140523.0600_firstMB.bz2",
                 "ripe-ncc-bgpdump/test_data/bview.20020722.2337.gz"]


def _options(path: Path) -> dict:
    return {"full_feed_v4": 5000} if ("rib" in path.name or "bview" in path.name) else {}


def child(mode: str, path: str, src: str) -> None:
    sys.path.insert(0, src)
    from sentinelle.observatory.routing.asrel import ASRelationships
    from sentinelle.observatory.routing.mrt import read_elements
    from sentinelle.observatory.routing.rpki import load_vrps
    from sentinelle.observatory.routing.scan import Scanner, ScanOptions
    from sentinelle.observatory.routing.watchlist import load

    scanner = None
    if mode == "scan":
        scanner = Scanner(load(CONFIG / "watch.yaml"), load_vrps(VRPS),
                          ASRelationships.load(CONFIG / "as-rel.txt.gz"),
                          ScanOptions(**_options(Path(path))))
    c0, t0 = time.process_time(), time.perf_counter()
    alerts = 0
    if scanner is None:
        n = sum(1 for _ in read_elements(path))
    else:
        elements = read_elements(path)
        if hasattr(scanner, "feed_all"):
            n = scanner.feed_all(elements)
        else:  # a tree from before feed_all
            n = 0
            for element in elements:
                n += 1
                scanner.feed(element)
        alerts = len(scanner.finish())
    cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    print(json.dumps({"n": n, "cpu": cpu, "wall": wall, "alerts": alerts,
                      "rss_mib": vm_hwm_mib(os.getpid())}))


def run_child(mode: str, path: Path, src: str) -> dict:
    out = subprocess.run([PYTHON, __file__, "--child", mode, str(path), src],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_command(path: Path, src: str) -> dict:
    """The whole `routing scan` process, timed with wait4 (its own CPU), VmHWM sampled."""
    with tempfile.TemporaryDirectory() as tmp:
        output = Path(tmp) / "alerts.jsonl"
        argv = [PYTHON, "-m", "sentinelle.observatory.routing.cli", "scan", "--mrt", str(path),
                "--watch", str(CONFIG / "watch.yaml"), "--vrp", str(VRPS),
                "--as-rel", str(CONFIG / "as-rel.txt.gz"), "--output", str(output), "-q"]
        if _options(path):
            argv += ["--full-feed-v4", str(_options(path)["full_feed_v4"])]
        env = dict(os.environ, PYTHONPATH=src)
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        rss = 0.0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = max(rss, vm_hwm_mib(proc.pid))
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise RuntimeError(f"routing scan failed: {proc.stderr.read().decode()[-2000:]}")
        alerts = len(output.read_text().splitlines())
    return {"cpu": usage.ru_utime + usage.ru_stime, "wall": time.perf_counter() - t0,
            "rss_mib": max(rss, usage.ru_maxrss / 1024), "alerts": alerts}


def bench(path: Path, repeat: int, src: str) -> dict:
    best = lambda runs: min(runs, key=lambda r: r["cpu"])  # noqa: E731
    r: dict = {"file": str(path.relative_to(SHARED_MRT)) if SHARED_MRT in path.parents
               else str(path), "src": src, "options": _options(path)}
    counted = run_bgpdump(path, count=True)
    runs = [x for x in (run_bgpdump(path) for _ in range(repeat)) if x is not None]
    r["bgpdump"] = dict(best(runs), n=counted["n"]) if counted and runs else None
    r["reader"] = best([run_child("reader", path, src) for _ in range(repeat)])
    r["scan"] = best([run_child("scan", path, src) for _ in range(repeat)])
    r["command"] = best([run_command(path, src) for _ in range(repeat)])
    return r


def report(r: dict) -> None:
    n = r["reader"]["n"]
    print(f"\n{r['file']}  ({n:,} routes; scan options {r['options'] or 'defaults'})")
    print(f"{'':12} {'CPU s':>7} {'routes/CPU s':>13} {'x bgpdump':>10} {'peak RSS':>10}")
    b = r["bgpdump"]
    base = b["n"] / b["cpu"] if b and b["n"] >= n * 0.99 else None
    rows = [("bgpdump -m", b, b["n"] if b else 0), ("reader", r["reader"], n),
            ("scan", r["scan"], n), ("command", r["command"], n)]
    for label, m, count in rows:
        if m is None:
            print(f"{label:12} (not installed)")
            continue
        rate = count / max(m["cpu"], 1e-9)
        ratio = f"{rate / base:.2f}" if base else "-"
        print(f"{label:12} {m['cpu']:>7.2f} {rate:>13,.0f} {ratio:>10} {m['rss_mib']:>6.1f} MiB")
    detectors = r["scan"]["cpu"] - r["reader"]["cpu"]
    print(f"detectors = scan - reader: {detectors:.2f} CPU s "
          f"({100 * detectors / r['reader']['cpu']:.0f} % on top of the reader); "
          f"alerts {r['scan']['alerts']} (command: {r['command']['alerts']})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", action="append", type=Path)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--src", default=str(ROOT / "src"), help="the tree whose code is measured")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    files = args.file or [SHARED_MRT / f for f in DEFAULT_FILES]
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}; code from {args.src}")
    results = []
    for path in files:
        r = bench(path, args.repeat, str(Path(args.src).resolve()))
        report(r)
        results.append(r)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps({"python": platform.python_version(),
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
