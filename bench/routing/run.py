"""MRT reader benchmark: Sentinelle's reader (compiled fast path and pure Python) beside bgpdump.

    .venv/bin/python bench/routing/run.py [--file F ...] [--repeat 3] [--json FILE]

Without --file it takes the largest MRT file under ../shared/data/bgp/mrt by decompressed
size, and, when bgpdump cannot read that one through (the early RIS bview with short-declared
records: bgpdump stops after its first record), also the largest file bgpdump reads in full.
For each file, in separate processes (fresh caches, honest peak memory):

  ours -m    `bgpdump -m` lines written to /dev/null (bgpdump_format.write_bgpdump, the code
             of `sentinelle routing dump`: the compiled `_mrt_accel` when it is built)
  ours -m py the same with SENTINELLE_MRT_ACCEL=0: the pure-Python reader alone
  ours -j N  the same through `sentinelle routing dump --jobs N` (parallel.ParallelDump: this
             process frames, N pool processes decode; pool start-up included)
  elements   read_elements() only, the detectors' input
  bgpdump    `bgpdump -q -m FILE > /dev/null`

Each is run --repeat times and the run with the least CPU time is kept (the machine may be
shared), except `ours -j N`, compared on wall-clock time, where the fastest run is kept; wall
time and CPU time (user+system of the measuring process and its pool workers, or of bgpdump)
are both reported, rates are routes (lines / elements) per second. Peak memory is the process's
VmHWM (for `-j N` summed over the main process and its workers, which counts the pages they
share since the fork more than once; for bgpdump sampled while it runs, so a lower bound).
"""

from __future__ import annotations

import argparse
import bz2
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_MRT = ROOT.parent / "shared" / "data" / "bgp" / "mrt"
PYTHON = sys.executable


def decompressed_size(path: Path) -> int:
    with open(path, "rb") as f:
        head = f.read(3)
        f.seek(0)
        if head[:2] == b"\x1f\x8b":
            dec = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif head == b"BZh":
            dec = bz2.BZ2Decompressor()
        else:
            return path.stat().st_size
        total = 0
        while chunk := f.read(1 << 16):  # small reads keep this process small (see RSS)
            try:
                total += len(dec.decompress(chunk))
            except (OSError, EOFError, zlib.error):
                break
            if dec.eof:
                break
        return total


def mrt_files() -> list[Path]:
    return sorted(p for p in SHARED_MRT.rglob("*") if p.is_file() and p.suffix != ".md"
                  and "test_expect" not in p.parts)


def child(mode: str, path: str) -> None:
    """Run one measurement in this (fresh) process and print it as JSON."""
    sys.path.insert(0, str(ROOT / "src"))
    from sentinelle.observatory.routing.bgpdump_format import write_bgpdump
    from sentinelle.observatory.routing.mrt import ReadStats, read_elements

    stats = ReadStats()
    if mode.startswith("jobs"):
        from sentinelle.observatory.routing.parallel import ParallelDump

        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0, c0 = time.perf_counter(), time.process_time()
        pool = ParallelDump(int(mode[4:]))
        with open(os.devnull, "w") as out:
            n = pool.write(path, out, stats)
        workers = sum(vm_hwm_mib(w.pid) for w in pool.pool._pool)  # type: ignore[attr-defined]
        pool.close()  # joins the workers: their CPU time is in RUSAGE_CHILDREN from here
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu += (kids.ru_utime - kids0.ru_utime) + (kids.ru_stime - kids0.ru_stime)
        print(json.dumps({"n": n, "wall": wall, "cpu": cpu,
                          "rss_mib": vm_hwm_mib(os.getpid()) + workers,
                          "records": stats.records}))
        return
    from sentinelle.observatory.routing import mrt_accel

    t0, c0 = time.perf_counter(), time.process_time()
    if mode.startswith("lines"):
        with open(os.devnull, "w") as out:
            n = write_bgpdump(path, out, stats)
    else:
        n = 0
        for _ in read_elements(path, stats=stats):
            n += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    rss = vm_hwm_mib(os.getpid())
    print(json.dumps({"n": n, "wall": wall, "cpu": cpu, "rss_mib": rss,
                      "records": stats.records, "compiled": mrt_accel.enabled()}))


def vm_hwm_mib(pid: int) -> float:
    """Peak resident memory of a live process (VmHWM). Not ru_maxrss: on Linux that also
    counts the parent's pages the child had between fork and exec."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def run_ours(mode: str, path: Path) -> dict:
    env = dict(os.environ)
    if mode == "lines-py":
        env["SENTINELLE_MRT_ACCEL"] = "0"
    out = subprocess.run([PYTHON, __file__, "--child", mode, str(path)], capture_output=True,
                         text=True, check=True, env=env)
    return json.loads(out.stdout)


def run_bgpdump(path: Path, count: bool = False) -> dict | None:
    """bgpdump -q -m FILE > /dev/null, timed; `count` also reads its lines through a pipe
    (to know how many it prints: that run's times include our reading of the pipe)."""
    exe = shutil.which("bgpdump")
    if exe is None:
        return None
    t0 = time.perf_counter()
    proc = subprocess.Popen([exe, "-q", "-m", str(path)],
                            stdout=subprocess.PIPE if count else subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    n = 0
    rss = 0.0
    if count:
        assert proc.stdout is not None
        for block in iter(lambda: proc.stdout.read(1 << 16), b""):  # type: ignore[union-attr]
            n += block.count(b"\n")
            rss = max(rss, vm_hwm_mib(proc.pid))  # VmHWM only grows: the last read is the peak
        _, _, usage = os.wait4(proc.pid, 0)  # this child's own CPU time
    else:
        while True:
            pid, _, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss = max(rss, vm_hwm_mib(proc.pid))
            time.sleep(0.005)
    proc.returncode = 0
    wall = time.perf_counter() - t0
    return {"n": n, "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": rss}


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["cpu"])


def bench(path: Path, repeat: int, jobs: int) -> dict:
    result = {"file": str(path.relative_to(SHARED_MRT)) if SHARED_MRT in path.parents
              else str(path), "decompressed_bytes": decompressed_size(path), "jobs": jobs}
    result["ours_lines"] = best([run_ours("lines", path) for _ in range(repeat)])
    result["ours_lines_py"] = best([run_ours("lines-py", path) for _ in range(repeat)])
    if jobs > 1:
        result["ours_jobs"] = min((run_ours(f"jobs{jobs}", path) for _ in range(repeat)),
                                  key=lambda r: r["wall"])
    result["ours_elements"] = best([run_ours("elements", path) for _ in range(repeat)])
    counted = run_bgpdump(path, count=True)
    runs = [r for r in (run_bgpdump(path) for _ in range(repeat)) if r is not None]
    if counted is not None and runs:
        fastest = min(runs, key=lambda r: r["wall"])
        result["bgpdump"] = dict(best(runs), n=counted["n"],
                                 rss_mib=max(r["rss_mib"] for r in runs + [counted]))
        result["bgpdump_wall"] = dict(fastest, n=counted["n"])
    else:
        result["bgpdump"] = None
    return result


def report(r: dict) -> None:
    print(f"\n{r['file']}  ({r['decompressed_bytes'] / 1e6:.1f} MB decompressed)")
    print(f"{'':12} {'routes':>9} {'wall s':>7} {'CPU s':>7} {'routes/s wall':>14} "
          f"{'routes/s CPU':>13} {'peak RSS':>9}")
    jobs = r.get("jobs", 1)
    print("ours -m: " + ("the compiled fast path" if r["ours_lines"].get("compiled")
                         else "pure Python (the compiled module is not built)"))
    for label, key in (("ours -m", "ours_lines"), ("ours -m py", "ours_lines_py"),
                       (f"ours -j {jobs}", "ours_jobs"),
                       ("elements", "ours_elements"), ("bgpdump -m", "bgpdump")):
        if key == "ours_jobs" and key not in r:
            continue
        m = r.get(key)
        if m is None:
            print(f"{label:12} (bgpdump not installed)")
            continue
        print(f"{label:12} {m['n']:>9,} {m['wall']:>7.2f} {m['cpu']:>7.2f} "
              f"{m['n'] / m['wall']:>14,.0f} {m['n'] / max(m['cpu'], 1e-9):>13,.0f} "
              f"{m['rss_mib']:>6.1f} MiB")
    b, o = r.get("bgpdump"), r["ours_lines"]
    if b and b["n"] < o["n"] // 2:
        print(f"note: bgpdump printed {b['n']:,} lines, we printed {o['n']:,}: "
              "it stopped early (damaged framing); no ratios")
    elif b and b["n"]:
        py = r["ours_lines_py"]
        print(f"ours -m / bgpdump, routes per CPU second: "
              f"{(o['n'] / o['cpu']) / (b['n'] / b['cpu']):.2f}; "
              f"ours -m py / bgpdump: {(py['n'] / py['cpu']) / (b['n'] / b['cpu']):.2f}; "
              f"elements / bgpdump: "
              f"{(r['ours_elements']['n'] / r['ours_elements']['cpu']) / (b['n'] / b['cpu']):.2f}")
        j, bw = r.get("ours_jobs"), r.get("bgpdump_wall")
        if j and bw:
            print(f"ours -j {jobs} / bgpdump, routes per wall-clock second (fastest runs): "
                  f"{(j['n'] / j['wall']) / (bw['n'] / bw['wall']):.2f} "
                  f"({j['wall']:.2f} s vs {bw['wall']:.2f} s); ours -m / bgpdump: "
                  f"{(o['n'] / o['wall']) / (bw['n'] / bw['wall']):.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--file", action="append", type=Path, help="MRT file(s) to measure")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--jobs", type=int, default=2,
                    help="also measure `dump --jobs N` (default 2; 1 to skip)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if args.file:
        files = args.file
    else:
        if not SHARED_MRT.exists():
            print(f"{SHARED_MRT} not found; pass --file", file=sys.stderr)
            return 1
        sized = sorted(((decompressed_size(p), p) for p in mrt_files()), reverse=True)
        files = [sized[0][1]]
        exe = shutil.which("bgpdump")
        if exe is not None:
            # bgpdump stops at damaged framing; then also take the largest file it reads
            for _, p in sized:
                n = int(subprocess.run(f"{exe} -q -m {p} | wc -l", shell=True,
                                       capture_output=True, text=True).stdout or 0)
                ours = run_ours("lines", p)["n"]
                if n >= ours * 0.99:
                    if p != files[0]:
                        files.append(p)
                    break
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    results = []
    for path in files:
        r = bench(path, args.repeat, args.jobs)
        report(r)
        results.append(r)
    if args.json:
        args.json.write_text(json.dumps({"python": platform.python_version(),
                                         "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
