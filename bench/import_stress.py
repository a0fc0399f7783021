"""Writers beside a long import (issue 20, part 2): 16 API clients submit reports over HTTP
while one import runs for --seconds (60 by default, the issue's figure); prints errors, p50 and
p99 of the submissions for each feed.

    .venv/bin/python bench/import_stress.py [--seconds 60] [--feeds stix,ooni]
        [--database-url postgres://sentinelle:sentinelle@127.0.0.1:5432/sentinelle_stress]
        [--src OTHER_CHECKOUT/src] [--clients 16] [--pause 0.5] [--json FILE]
        [--indicators N] [--reports N]

--seconds 0 hands the records over as fast as they are read: the import's length is then its
own work, and what other writers wait for is the part of it spent writing.

Without --database-url the instance is SQLite in a temporary directory; with it, that
PostgreSQL database is dropped, re-created and dropped at the end. --src runs another
checkout's code (the "before") under the same driver. The driver, the feeds and what is
measured are tests/exchange/import_stress.py's, the same as tests/exchange/
test_import_concurrency.py's (which runs them for SENTINELLE_STRESS_SECONDS, 10 s by default).
Exit status 1 if any submission was not a 201 or the p99 reached 2 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.exchange.import_stress import Instance, run  # noqa: E402

FEEDS = {"stix": {"indicators": 3000, "reports": 30}, "ooni": {"reports": 60}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--feeds", default="stix,ooni")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--src", type=Path, default=None)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument("--indicators", type=int, default=None,
                        help="the STIX feed's indicators (3,000)")
    parser.add_argument("--reports", type=int, default=None,
                        help="the feed's reports (STIX 30, OONI 60)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    for fmt in FEEDS:
        if args.reports is not None:
            FEEDS[fmt]["reports"] = args.reports
    if args.indicators is not None:
        FEEDS["stix"]["indicators"] = args.indicators
    rows, failed = [], False
    print(f"{'feed':5} {'db':10} {'import s':>8} {'ok/n':>9} {'errors':>6} {'p50 ms':>7} "
          f"{'p99 ms':>7} {'max ms':>7}  statuses")
    for fmt in args.feeds.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            instance = Instance(Path(tmp) / "instance", args.database_url, args.src)
            instance.create()
            try:
                with instance.serve() as port:
                    result = run(instance, port, args.seconds, fmt=fmt, clients=args.clients,
                                 pause=args.pause, **FEEDS[fmt])
            finally:
                instance.drop()
        n = sum(result.statuses.values())
        row = {"feed": fmt, "database": instance.vendor, "import_seconds": round(result.seconds, 1),
               "submissions": n, "errors": result.errors, "statuses": result.statuses,
               "p50_ms": round(result.percentile(50) * 1000),
               "p99_ms": round(result.percentile(99) * 1000),
               "max_ms": round(max(result.latencies, default=0) * 1000),
               "first_errors": result.bodies, "import": result.import_output,
               "src": str(args.src or ROOT / "src")}
        rows.append(row)
        failed = failed or result.errors > 0 or result.percentile(99) >= 2.0
        print(f"{fmt:5} {instance.vendor:10} {row['import_seconds']:8} "
              f"{n - result.errors:>4}/{n:<4} {result.errors:6} {row['p50_ms']:7} "
              f"{row['p99_ms']:7} {row['max_ms']:7}  {result.statuses}", flush=True)
        for body in result.bodies[:2]:
            print(f"      first errors: {' '.join(body.split())[:200]}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
