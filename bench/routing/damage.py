"""Damaged length fields against `routing dump` (issue 20, part 5): every length field of real
MRT files set in turn to 0, +1, -1, all ones and its top bit flipped, each damaged copy
dumped by both readers (compiled and pure Python) and judged against the intact output.

    PYTHONPATH=src:. .venv/bin/python bench/routing/damage.py [--file F ...] [--window N]

Figures per reader, in cases (one field given one damaged value):

  altered          printed a route line the intact file does not print (or prints fewer times)
  intact dropped   lost lines of records other than the damaged one
  unreported       lost lines no reported skipped byte range covers (`ReadStats.skipped_ranges`;
                   a reader without it counts a loss as unreported only when it said nothing)
  not covered      the output changed but no reported range holds the damaged field
  skipped whole    lines lost, none altered: the damaged record was dropped whole
  well-formed      a damaged prefix length left its NLRI whole prefixes all the same (24 -> 16
                   turns "24 a b c" into a /16 and a /c): the damaged file says other routes,
                   which no reader can tell from intact ones; counted apart from "altered"

A prefix length changed within the same number of address bytes (24 -> 23) is not tried: that
is a value change, the file stays well-formed. The judging is
`tests/observatory/routing/mrt_damage.py`; test_routing_mrt_damage.py runs a sample of it.

Each case dumps the damaged record within a window of records around it (--window, default 60:
the record before it and 59 after, plus the PEER_INDEX_TABLE of a RIB); --window 0 dumps the
whole file each time. Defaults: the first 796 records of a 2010 RIS update file and the first
12 records of a 2014 RouteViews RIB (the test fixtures).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "bgp" / "mrt"
DEFAULT = [FIXTURES / "bgpkit-parser" / "updates.20100227.1600.first-796-records.gz",
           FIXTURES / "pyasn" / "rib.20140523.0600_first12.bz2"]
KINDS = ("altered", "intact dropped", "unreported", "not covered", "skipped whole",
         "well-formed")


def plain(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    return data


def main() -> int:
    from tests.observatory.routing import mrt_damage as md

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--file", action="append", type=Path)
    ap.add_argument("--window", type=int, default=60)
    ap.add_argument("--show", type=int, default=3, help="examples printed per kind")
    args = ap.parse_args()
    totals = {"compiled": Counter(), "python": Counter()}
    worst: Counter = Counter()
    examples: dict[str, list[str]] = {k: [] for k in KINDS}
    start = time.process_time()
    for path in args.file or DEFAULT:
        data = plain(path)
        for f, chunk, intact in md.windows(data, md.length_fields(data), args.window):
            for value in md.damage_values(f):
                bad = md.damaged(chunk, f, value)
                for reader, accel in (("compiled", True), ("python", False)):
                    lines, stats = md.dump(bad, accel)
                    v = md.judge(intact, f, lines, stats)
                    t = totals[reader]
                    t["cases"] += 1
                    kinds = []
                    if v.altered and md.well_formed(bad, f):
                        kinds.append("well-formed")  # and nothing else: the file says so
                        v.lost = v.lost_intact = v.unreported = 0
                    elif v.altered:
                        kinds.append("altered")
                        t["altered lines"] += len(v.altered)
                    if v.lost_intact:
                        kinds.append("intact dropped")
                        worst[reader] = max(worst[reader], v.lost_intact)
                    if v.unreported:
                        kinds.append("unreported")
                    if (v.lost or v.altered and not kinds) and not v.covered:
                        kinds.append("not covered")
                    if v.lost and not v.altered:
                        kinds.append("skipped whole")
                    for kind in kinds:
                        t[kind] += 1
                        if reader == "python" and len(examples[kind]) < args.show:
                            examples[kind].append(
                                f"{path.name}: {f.kind} of record {f.record} in its window "
                                f"{f.value} -> {value}: altered {v.altered[:1]}, lost "
                                f"{v.lost} (intact {v.lost_intact}, unreported {v.unreported})")
    for reader, t in totals.items():
        print(f"{reader}: {t['cases']} cases; altered {t['altered']} "
              f"({t['altered lines']} lines); intact dropped {t['intact dropped']} (at most "
              f"{worst[reader]} lines); unreported {t['unreported']}; not covered "
              f"{t['not covered']}; skipped whole {t['skipped whole']}; well-formed "
              f"{t['well-formed']}")
    for kind, lines in examples.items():
        if kind != "skipped whole":
            for line in lines:
                print(f"  {kind}: {line}")
    print(f"CPU {time.process_time() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
