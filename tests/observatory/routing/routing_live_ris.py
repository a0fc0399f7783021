"""The live monitor on a RIS Live replay with hijacks injected at known times (the RIS Live half
of tests/observatory/routing/routing_live_lab.py; used by
tests/observatory/routing/test_routing_live_lab.py and bench/routing_live).

A real RIS recording (rrc00 2000-03-25, rendered as RIS Live frames) keeps its own order and
times; the replay server (tests/observatory/routing/ris_live_replay.py) plays it at that pace
(`speed=1`) and notes when it sent each frame, so the delay of a delivered alert is its arrival
minus the moment the injected frame left the server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinelle.observatory.routing.mrt import read_elements
from tests.observatory.routing.bgp_lab import HIJACKER_AS, ORIGIN_AS, ORIGIN_PREFIX
from tests.observatory.routing.ris_live_replay import RisLiveReplay, frames_from_elements
from tests.observatory.routing.routing_live_lab import (
    Delivery,
    Monitor,
    WebhookReceiver,
    is_event,
)
from tests.paths import ROOT

RIS_MRT = ROOT / "tests" / "fixtures" / "bgp" / "mrt" / "bgpkit-parser" / "updates.20000325.0345.gz"
# Injected RIS peers (documentation addresses, private ASNs): three carry the legitimate route,
# a fourth, never in the baseline, carries the hijacks.
RIS_LEGIT_PEERS = (("192.0.2.101", 64501), ("192.0.2.102", 64502), ("192.0.2.103", 64503))
RIS_HIJACK_PEER = ("192.0.2.110", 64510)


def ris_frame(when: float, peer: tuple[str, int], prefix: str, path: list[int] | None,
               tag: str) -> str:
    data: dict[str, Any] = {"timestamp": when, "peer": peer[0], "peer_asn": str(peer[1]),
                            "id": f"injected-{tag}", "host": "rrc00.ripe.net", "type": "UPDATE"}
    if path is None:
        data["withdrawals"] = [prefix]
    else:
        data.update(path=path, origin="igp", community=[],
                    announcements=[{"next_hop": peer[0], "prefixes": [prefix]}])
    return json.dumps({"type": "ris_message", "data": data})


@dataclass
class Injected:
    hijack: str  # the frames' texts: the replay server reports when it sent them
    withdrawal: str
    announced_at: int  # BGP time = the episode's first_seen
    withdrawn_at: int


def ris_frames_with_hijacks(count: int, hold: int = 3, gap: int = 3, lead: int = 3,
                            mrt: Path = RIS_MRT) -> tuple[list[str], list[Injected]]:
    """The recording's frames in their own order and times, plus: the legitimate route from
    three peers at its start, then `count` hijacks of ORIGIN_PREFIX (origin AS 65666), each
    withdrawn `hold` s later, `gap` s apart, from `lead` s after the start. Returns the frames
    up to the last injected one and what was injected."""
    recorded = [(json.loads(f)["data"]["timestamp"], f)
                for f in frames_from_elements(read_elements(mrt))]
    t0 = int(recorded[0][0])
    extra: list[tuple[float, str]] = [
        (t0, ris_frame(t0, peer, ORIGIN_PREFIX, [peer[1], ORIGIN_AS], f"legit-{peer[1]}"))
        for peer in RIS_LEGIT_PEERS]
    injected = []
    for n in range(count):
        at = t0 + lead + n * (hold + gap)
        hijack = ris_frame(at, RIS_HIJACK_PEER, ORIGIN_PREFIX, [RIS_HIJACK_PEER[1], HIJACKER_AS],
                            f"hijack-{n}")
        withdrawal = ris_frame(at + hold, RIS_HIJACK_PEER, ORIGIN_PREFIX, None, f"withdraw-{n}")
        extra += [(at, hijack), (at + hold, withdrawal)]
        injected.append(Injected(hijack, withdrawal, at, at + hold))
    end = injected[-1].withdrawn_at if injected else t0
    # sorted() is stable: a recorded frame and an injected one of the same second keep the
    # recording first.
    frames = [text for when, text in sorted(recorded + extra, key=lambda p: p[0]) if when <= end]
    return frames, injected


class _SendClock:
    """Stands for the server's connection in RisLiveReplay._replay: notes when each frame went."""

    def __init__(self, ws: Any, sent_at: dict[str, float]) -> None:
        self._ws, self._sent_at = ws, sent_at

    async def send(self, text: str) -> None:
        await self._ws.send(text)
        self._sent_at.setdefault(text, time.time())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ws, name)


class RisReplayThread:
    """tests/observatory/routing/ris_live_replay.RisLiveReplay on its own event loop in a thread,
    recording when each frame was sent (`sent_at`, text -> time.time()). ``everything=True``
    ignores the subscriptions (the whole stream, as an unfiltered RIS Live firehose would send)."""

    def __init__(self, frames: list[str], *, speed: float | None = 1.0, max_gap: float = 5.0,
                 everything: bool = False) -> None:
        sent_at: dict[str, float] = {}
        self.sent_at = sent_at

        class Timed(RisLiveReplay):
            async def _replay(self, ws: Any, index: int, subscriptions: list, ready: Any) -> None:
                if everything:
                    subscriptions = [_Everything()]
                await super()._replay(_SendClock(ws, sent_at), index, subscriptions, ready)

        class _Everything:
            def matches(self, prefix: Any) -> bool:
                return True

        self.server = Timed(frames, speed=speed, max_gap=max_gap)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.__aenter__())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.server.__aexit__(None, None, None))
        self.loop.close()

    @property
    def url(self) -> str:
        return self.server.url

    def connections(self) -> int:
        return len(self.server.received)

    def __enter__(self) -> RisReplayThread:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@dataclass
class RisResult:
    injected: Injected
    sent: float
    raised: Delivery
    withdrawal_sent: float
    resolved: Delivery

    @property
    def raised_delay(self) -> float:
        return self.raised.arrived - self.sent

    @property
    def resolved_delay(self) -> float:
        return self.resolved.arrived - self.withdrawal_sent


def run_ris_replay(workdir: Path, count: int, hold: int = 3, gap: int = 3,
                   timeout: float = 30, extra: list[str] | None = None) -> list[RisResult]:
    """The monitor on a RIS Live replay at the recording's pace; one RisResult per injected
    hijack (raised matched by first_seen = the hijack frame's BGP time)."""
    frames, injected = ris_frames_with_hijacks(count, hold, gap)
    results: list[RisResult] = []
    with WebhookReceiver() as hook, RisReplayThread(frames, speed=1.0) as replay:
        monitor = Monitor(workdir, [f"ris-live:{replay.url}"], [f"webhook:{hook.url}"],
                          extra=extra or [])
        with monitor:
            for item in injected:
                raised = hook.wait(f"raised for the hijack at {item.announced_at}",
                                   lambda d, i=item: is_event("raised", "E|0", ORIGIN_PREFIX)(d)
                                   and int(d.get("first_seen") or 0) == i.announced_at,
                                   timeout + hold + gap, on_fail=monitor.logs)
                resolved = hook.wait(f"resolved {raised.get('alert_id')}",
                                     is_event("resolved", alert_id=raised.get("alert_id")),
                                     timeout + hold, on_fail=monitor.logs)
                results.append(RisResult(item, replay.sent_at[item.hijack], raised,
                                         replay.sent_at[item.withdrawal], resolved))
    return results
