"""Detection delay of `sentinelle routing monitor`: announcement to delivered webhook alert.

    .venv/bin/python bench/routing_live/delay.py [--cycles 20] [--mrt 10] [--ris 20] [--no-bmp]

BMP (needs gobgpd, gobgp, bird, exabgp; binds 127.0.0.11-13): the lab of
tests/observatory/routing/routing_live_lab.py. ExaBGP (AS 65666) announces the origin's
198.18.0.0/16, the harness waits for the "raised" delivery at its webhook receiver, has ExaBGP
withdraw it and waits for "resolved"; --cycles times. raised delay = arrival at the receiver - the
moment the harness told ExaBGP to announce; resolved delay = arrival - the moment it told it to
withdraw. The path: ExaBGP's command helper (polls every 50 ms) -> BGP -> GoBGP -> BMP -> monitor
(source, detector, outbox on disk) -> signed webhook POST.

mrt-dir: the same lab, the monitor reading GoBGP's MRT updates dump (--source mrt-dir:DIR, which
polls every second) instead of BMP; --mrt cycles.

RIS Live: a real RIS recording (rrc00 2000-03-25 as RIS Live frames) replayed on loopback at its
original pace (gaps capped at 5 s), with --ris hijacks of 198.18.0.0/16 injected every --hold +
--gap s; delay = arrival - the moment the replay server sent the injected frame.

The issue's goal: p95 below 5 s. Exit status 1 if a p95 misses it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.observatory.routing.bgp_lab import ORIGIN_PREFIX, SUB_PREFIX  # noqa: E402
from tests.observatory.routing.routing_live_lab import (  # noqa: E402
    Cycle,
    lab_problem,
    live_lab,
    monitor_problem,
    run_cycles,
    summary,
    summary_line,
)
from tests.observatory.routing.routing_live_ris import run_ris_replay  # noqa: E402

GOAL = 5.0


def bench_lab(workdir: Path, cycles: int, prefix: str, feed: str) -> dict:
    def progress(number: int, cycle: Cycle) -> None:
        print(f"  {feed} cycle {number + 1:>3}: raised {cycle.raised_delay:6.3f} s   "
              f"resolved {cycle.resolved_delay:6.3f} s   "
              f"({cycle.raised.get('alert_id')})", flush=True)

    with live_lab(workdir, feed=feed) as (lab, hook, monitor):
        done = run_cycles(lab, hook, cycles, prefix, monitor=monitor, progress=progress)
    return {"raised": [c.raised_delay for c in done],
            "resolved": [c.resolved_delay for c in done]}


def bench_ris(workdir: Path, count: int, hold: int, gap: int) -> dict:
    results = run_ris_replay(workdir, count, hold=hold, gap=gap)
    for number, r in enumerate(results, 1):
        print(f"  ris hijack {number:>3}: raised {r.raised_delay:6.3f} s   "
              f"resolved {r.resolved_delay:6.3f} s", flush=True)
    return {"raised": [r.raised_delay for r in results],
            "resolved": [r.resolved_delay for r in results]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=20, help="BMP lab hijacks (default 20)")
    parser.add_argument("--sub-prefix", action="store_true",
                        help=f"hijack the more-specific {SUB_PREFIX} (S|0) instead of "
                             f"{ORIGIN_PREFIX} (E|0)")
    parser.add_argument("--no-bmp", action="store_true", help="skip the BGP lab")
    parser.add_argument("--mrt", type=int, default=10,
                        help="lab hijacks seen through GoBGP's MRT dump, --source mrt-dir "
                             "(default 10; 0 skips)")
    parser.add_argument("--ris", type=int, default=20,
                        help="RIS Live replay hijacks (default 20; 0 skips)")
    parser.add_argument("--hold", type=int, default=2, help="RIS: seconds a hijack lasts")
    parser.add_argument("--gap", type=int, default=2, help="RIS: seconds between hijacks")
    parser.add_argument("--workdir", type=Path, help="keep the logs here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write every delay to this file")
    args = parser.parse_args()

    problem = monitor_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="routing-live-delay-"))
    print(f"work directory (logs): {workdir}")
    results: dict[str, dict] = {}
    prefix = SUB_PREFIX if args.sub_prefix else ORIGIN_PREFIX
    for feed, cycles in (("bmp", 0 if args.no_bmp else args.cycles), ("mrt-dir", args.mrt)):
        if not cycles:
            continue
        problem = lab_problem()
        if problem:
            print(f"{feed} lab skipped: {problem}", file=sys.stderr)
            continue
        started = time.monotonic()
        results[feed] = bench_lab(workdir / feed, cycles, prefix, feed)
        print(f"  ({time.monotonic() - started:.0f} s)")
    if args.ris:
        started = time.monotonic()
        results["ris-live"] = bench_ris(workdir / "ris", args.ris, args.hold, args.gap)
        print(f"  ({time.monotonic() - started:.0f} s)")

    print("\ndelay from announcement (or withdrawal) to the delivered webhook alert")
    met = True
    for source, delays in results.items():
        for kind in ("raised", "resolved"):
            print(summary_line(f"{source} {kind}", delays[kind]))
            met = met and summary(delays[kind])["p95"] < GOAL
    print(f"goal p95 < {GOAL:.0f} s: {'met' if met else 'NOT met'}")
    if args.json:
        args.json.write_text(json.dumps(
            {s: {k: {"delays": v, **summary(v)} for k, v in d.items()}
             for s, d in results.items()}, indent=2))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
