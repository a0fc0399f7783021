"""Sustained rate `sentinelle routing monitor` keeps up with on one core, beside RIS Live's.

    .venv/bin/python bench/routing_live/throughput.py [--elements 200000] [--source bmp|ris-live]

The routes of a real RIS updates file (tests/fixtures: rrc00 2000-03-25, 5,378 announcements and
withdrawals from 7 peers, none inside the watch list) are repeated up to --elements and pushed
over loopback as fast as the monitor takes them, followed by one marker: a hijack of the watched
198.18.0.0/16. The monitor handles a source's items in order, so when the marker's "raised"
alert reaches the webhook receiver, everything before it went through the source, the detector
and the outbox. Rate = elements / (marker delivered - first byte sent); the monitor's own CPU
time (from /proc) gives elements per CPU second too. The monitor is pinned to core 0 and this
process (sender, webhook receiver) to core 1, so the monitor has one core.

  bmp       BMP Route Monitoring messages (RFC 7854, built by
            tests/observatory/routing/bmp_bytes.py) on one TCP connection to --source
            bmp:127.0.0.1:PORT: a router's full feed, nothing filtered
  ris-live  the same routes as RIS Live frames from the loopback replay server
            (tests/observatory/routing/ris_live_replay.py) ignoring the subscription: the unfiltered
            firehose

RIS Live's full stream, for reference (no network here, so derived, not measured): see
RIS_FULL_STREAM below and bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.observatory.routing import bmp_bytes as b  # noqa: E402
from tests.observatory.routing.bgp_lab import HIJACKER_AS, ORIGIN_PREFIX, free_port, wait_for  # noqa: E402
from tests.observatory.routing.ris_live_replay import frames_from_elements  # noqa: E402
from tests.observatory.routing.routing_live_lab import (  # noqa: E402
    Monitor,
    WebhookReceiver,
    is_event,
    monitor_problem,
)
from tests.observatory.routing.routing_live_ris import (  # noqa: E402
    RIS_HIJACK_PEER,
    RIS_MRT,
    RisReplayThread,
    ris_frame,
)

from sentinelle.observatory.routing.mrt import read_elements  # noqa: E402

# RIS Live's whole stream in elements (prefix announcements + withdrawals) per second. Derived,
# because there is no network here (bench/README.md gives the reasoning): 5-minute RIS updates
# files of 2024-01-18 22:05 UTC weigh 6 MiB (rrc00), 3 MiB (rrc01), 2 MiB (rrc15), 0.42 MiB
# (rrc14), 0.2 MiB (rrc16) gzipped (listing in bgpkit/bgpkit-broker pull request 37); RIS files
# kept here hold 5 to 17 compressed bytes per element (10 taken; newer records are longer, so
# this errs towards more elements). The five collectors: about 4,000/s; with 20 more collectors
# of 2 MiB each: about 18,000/s.
RIS_FULL_STREAM = (4_000, 18_000)


def elements(count: int) -> list:
    base = [e for e in read_elements(RIS_MRT) if e.kind in ("A", "W")]
    return (base * (count // len(base) + 1))[:count]


def bmp_stream(routes: list) -> tuple[bytes, bytes]:
    """(the routes as BMP messages after an Initiation, the marker hijack)."""
    out = [b.initiation("bench")]
    for e in routes:
        peer = b.peer_header(e.peer_ip, e.peer_asn, e.time)
        if e.kind == "A":
            upd = b.update(attrs=b.ipv4_attrs([int(h) for h in e.as_path], next_hop=e.next_hop),
                           announced=b.nlri(e.prefix))
        else:
            upd = b.update(withdrawn=b.nlri(e.prefix))
        out.append(b.route_monitoring(peer, upd))
    peer = b.peer_header(RIS_HIJACK_PEER[0], RIS_HIJACK_PEER[1], int(time.time()))
    marker = b.route_monitoring(peer, b.update(
        attrs=b.ipv4_attrs([RIS_HIJACK_PEER[1], HIJACKER_AS]), announced=b.nlri(ORIGIN_PREFIX)))
    return b"".join(out), marker


def _wait_marker(hook: WebhookReceiver, monitor: Monitor, timeout: float) -> float:
    return hook.wait("the marker hijack's raised alert", is_event("raised", "E|0", ORIGIN_PREFIX),
                     timeout, on_fail=monitor.logs).arrived


def bench_bmp(workdir: Path, count: int, timeout: float) -> dict:
    routes = elements(count)
    data, marker = bmp_stream(routes)
    port = free_port("127.0.0.1")
    with WebhookReceiver() as hook:
        monitor = Monitor(workdir, [f"bmp:127.0.0.1:{port}"], [f"webhook:{hook.url}"],
                          extra=["--log-level", "WARNING"], cpu=0)
        with monitor:
            monitor.wait_listening(port)
            cpu = monitor.cpu_seconds()
            with socket.create_connection(("127.0.0.1", port)) as sock:
                started = time.time()
                sock.sendall(data)
                sent = time.time()
                sock.sendall(marker)
                arrived = _wait_marker(hook, monitor, timeout)
                cpu = monitor.cpu_seconds() - cpu
    return {"elements": len(routes), "bytes": len(data), "wall": arrived - started,
            "send": sent - started, "cpu": cpu}


def bench_ris(workdir: Path, count: int, timeout: float) -> dict:
    routes = elements(count)
    frames = frames_from_elements(routes)
    marker = ris_frame(int(time.time()), RIS_HIJACK_PEER, ORIGIN_PREFIX,
                        [RIS_HIJACK_PEER[1], HIJACKER_AS], "marker")
    with WebhookReceiver() as hook, RisReplayThread(frames + [marker], speed=None,
                                                    everything=True) as replay:
        monitor = Monitor(workdir, [f"ris-live:{replay.url}"], [f"webhook:{hook.url}"],
                          extra=["--log-level", "WARNING"], cpu=0)
        with monitor:
            # the CPU count starts when the monitor has started up and subscribed
            wait_for("the monitor's RIS Live connection", lambda: replay.connections(), 60,
                     monitor.logs)
            cpu = monitor.cpu_seconds()
            arrived = _wait_marker(hook, monitor, timeout)
            cpu = monitor.cpu_seconds() - cpu
            started = replay.sent_at[frames[0]]
    return {"elements": len(routes), "frames": len(frames), "wall": arrived - started,
            "cpu": cpu, "bytes": sum(len(f) for f in frames)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--elements", type=int, default=200_000)
    parser.add_argument("--source", choices=("bmp", "ris-live", "both"), default="both")
    parser.add_argument("--timeout", type=float, default=300, help="per run, seconds")
    parser.add_argument("--workdir", type=Path, help="keep the logs here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    problem = monitor_problem()
    if problem:
        print(f"cannot run: {problem}", file=sys.stderr)
        return 2
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {1})  # the monitor gets core 0 to itself (see Monitor.cpu)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="routing-live-throughput-"))
    print(f"{args.elements:,} elements (routes of a real RIS updates file, repeated); "
          f"logs in {workdir}")
    results = {}
    if args.source in ("bmp", "both"):
        results["bmp"] = bench_bmp(workdir / "bmp", args.elements, args.timeout)
    if args.source in ("ris-live", "both"):
        results["ris-live"] = bench_ris(workdir / "ris", args.elements, args.timeout)
    for name, r in results.items():
        unit = f"{r['frames']:,} frames" if "frames" in r else f"{r['bytes'] / 1e6:.1f} MB"
        print(f"{name:<9} {r['elements'] / r['wall']:>9,.0f} elements/s  "
              f"{r['elements'] / max(r['cpu'], 1e-9):>9,.0f} per monitor CPU second  "
              f"(wall {r['wall']:.1f} s, monitor CPU {r['cpu']:.1f} s, {unit})")
    low, high = RIS_FULL_STREAM
    print(f"RIS Live  {low:,} to {high:,} elements/s on average: the whole stream, derived from "
          "RIS file sizes (no network here; bench/README.md)")
    if args.json:
        args.json.write_text(json.dumps({"results": results, "ris_full_stream": RIS_FULL_STREAM},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
