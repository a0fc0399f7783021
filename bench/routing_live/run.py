"""RIS Live client throughput: how many frames per second one core parses.

    .venv/bin/python bench/routing_live/run.py [--repeat 5] [--frames 20000] [--no-socket]

Frames are a real RIS MRT updates file (tests/fixtures, rrc00 2000-03-25, 5,378 routes) rendered
as RIS Live UPDATE frames (tests/observatory/routing/ris_live_replay.frames_from_elements), repeated
up to --frames.

  parse      ris_live_client.parse_frame on each frame (JSON decode, checks, Elements): the
             client's own CPU cost per frame; best of --repeat by CPU time
  loopback   the same frames through the loopback replay server and the full client
             (websockets framing, subscription filter, asyncio), server and client in this one
             process, so on one core: a lower bound for the client alone

RIS Live's whole firehose averages a few hundred to a few thousand frames/s; a watch list's
prefix subscriptions see a tiny fraction of it.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.observatory.routing.ris_live_replay import RisLiveReplay, frames_from_elements  # noqa: E402

from sentinelle.observatory.routing import ris_live_client as rlc  # noqa: E402
from sentinelle.observatory.routing.mrt import read_elements  # noqa: E402

MRT = ROOT / "tests" / "fixtures" / "bgp" / "mrt" / "bgpkit-parser" / "updates.20000325.0345.gz"


def frames(count: int) -> list[str]:
    base = frames_from_elements(read_elements(MRT))
    return (base * (count // len(base) + 1))[:count]


def bench_parse(data: list[str], repeat: int) -> tuple[float, float, int]:
    best_cpu, best_wall, elements = float("inf"), 0.0, 0
    for _ in range(repeat):
        stats = rlc.LiveStats()
        wall, cpu = time.perf_counter(), time.process_time()
        for number, text in enumerate(data, 1):
            rlc.parse_frame(text, stats, number)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if cpu < best_cpu:
            best_cpu, best_wall, elements = cpu, wall, stats.elements
    return best_cpu, best_wall, elements


async def bench_loopback(data: list[str], elements: int) -> tuple[float, float]:
    async with RisLiveReplay(data) as server:
        wall, cpu = time.perf_counter(), time.process_time()
        got = 0
        agen = rlc.stream(server.url, ["0.0.0.0/0"], app_ping=None)
        async for _element in agen:
            got += 1
            if got >= elements:
                break
        await agen.aclose()
        return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--no-socket", action="store_true", help="skip the loopback run")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    data = frames(args.frames)
    size = sum(len(f) for f in data)
    print(f"{len(data):,} frames, {size / len(data):.0f} characters each on average")
    cpu, wall, elements = bench_parse(data, args.repeat)
    print(f"parse     {len(data) / cpu:>10,.0f} frames/s  {elements / cpu:>10,.0f} elements/s"
          f"  (CPU {cpu:.2f} s, wall {wall:.2f} s, best of {args.repeat})")
    if not args.no_socket:
        cpu, wall = asyncio.run(bench_loopback(data, elements))
        print(f"loopback  {len(data) / wall:>10,.0f} frames/s  {elements / wall:>10,.0f} elements/s"
              f"  (wall {wall:.2f} s, CPU {cpu:.2f} s; server and client on one core)")


if __name__ == "__main__":
    main()
