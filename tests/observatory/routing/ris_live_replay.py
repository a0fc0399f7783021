"""A loopback RIS Live server that replays recorded frames (used by
tests/observatory/routing/test_routing_ris_live.py).

It speaks the part of the RIS Live protocol the client uses:

* ``ris_subscribe`` with ``prefix``/``moreSpecific``/``lessSpecific`` (and ``socketOptions.
  acknowledge``, answered with ``ris_subscribe_ok``); an UPDATE frame is sent to a connection only
  if one of its announced or withdrawn prefixes matches one of that connection's subscriptions,
  as RIS Live does (the whole message is sent, not just the matching prefixes);
* ``{"type": "ping"}`` answered with ``{"type": "pong"}``;
* frames without prefixes (RIS_PEER_STATE, ris_error, OPEN...) and lines that are not JSON are
  sent as they are, so a test can put a malformed frame in the recording.

Replay starts on a connection once it holds ``start_after`` subscriptions (the client sends all
of its subscriptions at once, but they arrive one by one), at the recording's own pace
(``speed=1``; the gaps between ``data.timestamp`` values, each capped at ``max_gap`` s),
``speed`` times faster, or as fast as possible (``speed=None``). When the recording is over
the connection stays open and quiet, like a live feed with nothing to say. Every new connection
replays from the start.

Failure on command: ``drop()`` cuts every open connection (abruptly, without a close frame,
or with a close code); ``drop_after=n`` cuts each connection after its n-th replayed frame;
``send_raw(text)`` pushes any frame (a huge one, say) to every open connection.

Standalone: ``python tests/observatory/routing/ris_live_replay.py RECORDING [--port P] [--speed
S]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def load_frames(path: str | Path) -> list[str]:
    """One frame per non-blank line, as recorded (malformed lines kept)."""
    return [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def frames_from_elements(elements: Iterable[Any], host: str = "rrc00") -> list[str]:
    """RIS Live ``ris_message`` UPDATE frames for routing Elements (from a real MRT file, say):
    consecutive elements of one kind from one peer, at one time with one path and next hop,
    share a frame, as the prefixes of one BGP UPDATE do in RIS Live."""
    frames: list[str] = []
    group: list[Any] = []

    def key(e: Any) -> tuple:
        return (e.kind, e.time, e.peer_ip, e.peer_asn, e.as_path, e.next_hop, e.communities)

    def flush() -> None:
        if not group:
            return
        first = group[0]
        data: dict[str, Any] = {
            "timestamp": first.time, "peer": first.peer_ip, "peer_asn": str(first.peer_asn),
            "id": f"{first.peer_ip}-{first.time}-{len(frames)}", "host": f"{host}.ripe.net",
            "type": "UPDATE",
        }
        if first.kind == "W":
            data["withdrawals"] = [e.prefix for e in group]
        else:
            data["path"] = [sorted(h) if isinstance(h, frozenset) else h for h in first.as_path]
            data["community"] = [[int(x) for x in c.split(":")] for c in first.communities]
            data["origin"] = "igp"
            data["announcements"] = [{"next_hop": first.next_hop,
                                      "prefixes": [e.prefix for e in group]}]
        frames.append(json.dumps({"type": "ris_message", "data": data}))
        group.clear()

    for element in elements:
        if element.kind not in ("A", "W"):
            continue
        if group and key(group[0]) != key(element):
            flush()
        group.append(element)
    flush()
    return frames


def _frame_info(text: str) -> tuple[float | None, list[Network]]:
    """(timestamp, prefixes) of a recorded frame; (None, []) if it has neither."""
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):   # a malformed frame a test replays on purpose
        return None, []
    if not isinstance(frame, dict):
        return None, []
    data = frame.get("data") if frame.get("type") == "ris_message" else frame
    if not isinstance(data, dict):
        return None, []
    try:
        when: float | None = float(data["timestamp"])
    except (KeyError, TypeError, ValueError):
        when = None
    prefixes: list[Network] = []
    raw = list(data.get("withdrawals") or [])
    for announcement in data.get("announcements") or []:
        if isinstance(announcement, dict):
            raw.extend(announcement.get("prefixes") or [])
    for value in raw:
        with contextlib.suppress(ValueError):
            prefixes.append(ipaddress.ip_network(str(value), strict=False))
    return when, prefixes


class _Subscription:
    def __init__(self, data: dict) -> None:
        prefix = data.get("prefix")
        self.prefix = ipaddress.ip_network(prefix, strict=False) if prefix else None
        self.more = bool(data.get("moreSpecific", True))  # RIS Live's defaults
        self.less = bool(data.get("lessSpecific", False))

    def matches(self, prefix: Network) -> bool:
        mine = self.prefix
        if mine is None:
            return True
        if prefix.version != mine.version:
            return False
        if prefix == mine:
            return True
        if self.more and prefix.subnet_of(mine):  # type: ignore[arg-type]
            return True
        return self.less and mine.subnet_of(prefix)  # type: ignore[arg-type]


class RisLiveReplay:
    """``async with RisLiveReplay(frames) as server: ... server.url ...``"""

    def __init__(self, frames: Iterable[str], *, speed: float | None = None,
                 max_gap: float = 5.0, start_after: int = 1, drop_after: int | None = None,
                 max_size: int = 1024 * 1024, host: str = "127.0.0.1", port: int = 0) -> None:
        self.frames = list(frames)
        self.info = [_frame_info(text) for text in self.frames]
        self.speed, self.max_gap = speed, max_gap
        self.start_after, self.drop_after = start_after, drop_after
        self.max_size, self.host, self.port = max_size, host, port
        self.connections: list[ServerConnection] = []
        self.received: list[list[Any]] = []  # client messages, one list per connection
        self.sent: list[int] = []  # frames replayed, one count per connection
        self.connected = asyncio.Event()
        self._server: Any = None

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}/v1/ws/?client=test"

    async def __aenter__(self) -> RisLiveReplay:
        self._server = await serve(self._handle, self.host, self.port, max_size=self.max_size,
                                   ping_interval=None)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def drop(self, code: int | None = None) -> None:
        """Cut every open connection: abruptly (TCP reset, no close frame) or with `code`."""
        for ws in list(self.connections):
            if code is None:
                ws.transport.abort()
            else:
                await ws.close(code, "dropped by the test")

    async def send_raw(self, text: str) -> None:
        for ws in list(self.connections):
            with contextlib.suppress(ConnectionClosed):
                await ws.send(text)

    async def wait_connections(self, count: int, timeout: float = 10.0) -> None:
        async def poll() -> None:
            while len(self.received) < count:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(poll(), timeout)

    async def _handle(self, ws: ServerConnection) -> None:
        index = len(self.received)
        self.received.append([])
        self.sent.append(0)
        self.connections.append(ws)
        subscriptions: list[_Subscription] = []
        ready = asyncio.Event()
        replay = asyncio.create_task(self._replay(ws, index, subscriptions, ready))
        try:
            async for message in ws:
                try:
                    request = json.loads(message)
                except ValueError:
                    request = message
                self.received[index].append(request)
                if not isinstance(request, dict):
                    continue
                if request.get("type") == "ping":
                    await ws.send(json.dumps({"type": "pong", "data": None}))
                elif request.get("type") == "ris_subscribe":
                    data = request.get("data") or {}
                    try:
                        subscriptions.append(_Subscription(data))
                    except ValueError as exc:
                        await ws.send(json.dumps({"type": "ris_error",
                                                  "data": {"message": str(exc)}}))
                        continue
                    if (data.get("socketOptions") or {}).get("acknowledge"):
                        await ws.send(json.dumps({"type": "ris_subscribe_ok",
                                                  "data": {"subscription": data}}))
                    if len(subscriptions) >= self.start_after:
                        ready.set()
        except ConnectionClosed:
            pass
        finally:
            replay.cancel()
            self.connections.remove(ws)

    async def _replay(self, ws: ServerConnection, index: int,
                      subscriptions: list[_Subscription], ready: asyncio.Event) -> None:
        self.connected.set()
        await ready.wait()
        previous: float | None = None
        try:
            for text, (when, prefixes) in zip(self.frames, self.info, strict=True):
                if self.speed and when is not None:
                    if previous is not None and when > previous:
                        await asyncio.sleep(min(when - previous, self.max_gap) / self.speed)
                    previous = when
                if prefixes and not any(s.matches(p) for s in subscriptions for p in prefixes):
                    continue
                await ws.send(text)
                self.sent[index] += 1
                if self.drop_after is not None and self.sent[index] >= self.drop_after:
                    ws.transport.abort()
                    return
        except ConnectionClosed:
            return


async def _main(args: argparse.Namespace) -> None:
    async with RisLiveReplay(load_frames(args.recording), speed=args.speed or None,
                             port=args.port) as server:
        print(server.url, flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("recording")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--speed", type=float, default=1.0, help="0: as fast as possible")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(parser.parse_args()))
