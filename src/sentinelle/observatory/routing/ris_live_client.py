"""A live RIS Live (https://ris-live.ripe.net/manual/) websocket client: source ``ris-live[:URL]``.

``async for element in stream(url, prefixes, on_event=...)`` connects, sends one
``ris_subscribe`` per watched prefix (``moreSpecific`` and ``lessSpecific`` both true, so a
more-specific hijack and a covering announcement are both seen), and yields the same
``Element``s that ``rislive.read_rislive`` yields for a recording of the same frames (only
``source`` differs: ``"ris-live"`` instead of a file name).

* A malformed frame is counted in ``stats`` and logged with its number; the stream goes on.
* ``ris_error`` frames are counted, logged and reported as an ``error`` event.
* A frame over ``max_size`` bytes is refused by websockets (close code 1009): counted in
  ``stats.oversized``, then the client reconnects like after any other drop.
* Drops and failed connects are retried after an exponential backoff with full jitter, bounded
  by ``Backoff.maximum``; every (re)connection resends the subscriptions.
* Feed events (``connected``, ``resubscribed``, ``disconnected``, ``connect_failed``,
  ``error`` for a ris_error frame) go to
  ``on_event`` (a plain function, called in the event loop: it must not block; an exception it
  raises ends the stream) so that a feed-health monitor can raise feed-lost / feed-restored.
* Memory is bounded: at most ``max_queue`` (16) frames of ``max_size`` bytes are buffered
  while the consumer is busy (websockets then stops reading the socket), and the stats keep
  capped lists.

Nothing here is wired into ``sentinelle routing monitor`` yet.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import random
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

# The rislive reader's frame parser is reused as is: a live frame and a recorded one must give
# identical elements, and there must be one place that decides what a malformed frame is.
from .elements import Element
from .rislive import RisLiveStats, _frame_elements, _loads, _Malformed

log = logging.getLogger(__name__)

DEFAULT_URL = "wss://ris-live.ripe.net/v1/ws/?client=sentinelle"
SOURCE = "ris-live"
# RIS Live frames are a few KiB (a full-table UPDATE with many prefixes: a few hundred KiB);
# websockets' own default is 1 MiB. Above this the frame is refused before it is buffered whole.
MAX_FRAME_BYTES = 1024 * 1024
APP_PING_SECONDS = 30.0  # RIS Live's own {"type": "ping"}: keeps proxies from idling us out
MAX_RIS_ERRORS_KEPT = 100
# rislive.py keeps every RIS_PEER_STATE (a file is finite); a live feed is not, so only the
# latest ones are kept.
MAX_PEER_STATES_KEPT = 1000


@dataclass(frozen=True)
class FeedEvent:
    kind: str  # connected | resubscribed | disconnected | connect_failed | error (ris_error)
    url: str
    time: float  # unix seconds
    attempt: int = 0  # consecutive failures before this event (0 on a first, clean connect)
    detail: str = ""
    delay: float | None = None  # seconds until the next try (disconnected / connect_failed)


@dataclass
class LiveStats(RisLiveStats):
    """RisLiveStats (frames, elements, malformed...) plus what only a live feed has."""

    connects: int = 0
    disconnects: int = 0
    failed_connects: int = 0
    oversized: int = 0  # frames refused for max_size (close code 1009)
    pongs: int = 0
    acknowledged: int = 0  # ris_subscribe_ok frames: subscriptions the server confirmed
    ris_errors: list[str] = field(default_factory=list)  # messages, capped


@dataclass(frozen=True)
class Backoff:
    """Delay before try n (n >= 1 consecutive failures): uniform in
    [0, min(maximum, initial * factor ** (n - 1))] ("full jitter", so that many clients
    dropped at once by the same server do not come back in lockstep)."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    # A connection that lived this long counts as healthy: the failure count restarts from 0.
    # Without it a server that accepts then drops at once would be retried at `initial` forever.
    stable_after: float = 30.0

    def ceiling(self, failures: int) -> float:
        exponent = min(max(failures - 1, 0), 64)  # 2.0 ** 1100 would overflow
        return min(self.maximum, self.initial * self.factor ** exponent)

    def delay(self, failures: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0.0, self.ceiling(failures))


def normalise_prefixes(prefixes: Iterable[str]) -> list[str]:
    out: list[str] = []
    for value in prefixes:
        try:
            prefix = str(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(f"ris-live: invalid prefix {value!r}") from None
        if prefix not in out:
            out.append(prefix)
    if not out:
        # An unfiltered subscription is the whole RIS firehose (thousands of frames/s): never
        # the accidental result of an empty watch list.
        raise ValueError("ris-live: no prefix to subscribe to")
    return out


def subscribe_messages(prefixes: Iterable[str], *, host: str | None = None) -> list[str]:
    """The ris_subscribe frames for the watched prefixes, one per prefix (the protocol takes one
    prefix per subscription; subscriptions on one socket add up)."""
    messages = []
    for prefix in normalise_prefixes(prefixes):
        data: dict = {
            "prefix": prefix,
            "moreSpecific": True,
            "lessSpecific": True,
            # raw is the BGP message in hex: not used, and it doubles the bandwidth.
            # acknowledge: the server answers ris_subscribe_ok, proof the resubscription held.
            "socketOptions": {"includeRaw": False, "acknowledge": True},
        }
        if host:
            data["host"] = host
        messages.append(json.dumps({"type": "ris_subscribe", "data": data}))
    return messages


def parse_source(spec: str) -> str:
    """``ris-live`` or ``ris-live:wss://...`` -> the URL."""
    if spec == "ris-live":
        return DEFAULT_URL
    if spec.startswith("ris-live:"):
        return check_url(spec[len("ris-live:"):])
    raise ValueError(f"not a ris-live source: {spec!r}")


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"ris-live: URL must be ws:// or wss:// with a host: {url!r}")
    return url


def parse_frame(text: str | bytes, stats: LiveStats, number: int, *,
                source: str = SOURCE, where: str = "") -> list[Element]:
    """Elements of one websocket message; a malformed one is counted, logged and gives []."""
    try:
        if isinstance(text, bytes):
            text = text.decode("utf-8")  # RIS Live sends text frames; a binary one is odd
        frame = _loads(text)
        errors_before = stats.errors
        elements = _frame_elements(frame, stats, source, "")
    except (_Malformed, json.JSONDecodeError, UnicodeDecodeError) as exc:
        if isinstance(exc, json.JSONDecodeError):
            reason = f"invalid JSON: {exc.msg}"
        elif isinstance(exc, UnicodeDecodeError):
            reason = "binary frame is not UTF-8"
        else:
            reason = str(exc)
        stats.bad(number, reason)
        log.warning("%s frame %d skipped: %s (starts %r)", where or SOURCE, number,
                    reason[:300], text[:60])
        return []
    if stats.errors != errors_before:  # a ris_error frame
        data = frame.get("data") if isinstance(frame.get("data"), dict) else {}
        message = str(data.get("message", ""))[:300]
        if len(stats.ris_errors) < MAX_RIS_ERRORS_KEPT:
            stats.ris_errors.append(message)
        log.warning("%s frame %d: ris_error: %s", where or SOURCE, number, message)
    elif isinstance(frame, dict) and frame.get("type") == "pong":
        stats.pongs += 1
    elif isinstance(frame, dict) and frame.get("type") == "ris_subscribe_ok":
        stats.acknowledged += 1
    if len(stats.peer_states) > MAX_PEER_STATES_KEPT:
        del stats.peer_states[: len(stats.peer_states) - MAX_PEER_STATES_KEPT]
    stats.elements += len(elements)
    return elements


async def stream(url: str = DEFAULT_URL, prefixes: Iterable[str] = (), *,
                 on_event: Callable[[FeedEvent], None] | None = None,
                 on_frame: Callable[[str, dict], None] | None = None,
                 stats: LiveStats | None = None,
                 host: str | None = None,
                 max_size: int = MAX_FRAME_BYTES,
                 backoff: Backoff = Backoff(),
                 max_retries: int | None = None,
                 open_timeout: float = 10.0,
                 ping_interval: float | None = 20.0,
                 ping_timeout: float | None = 20.0,
                 app_ping: float | None = APP_PING_SECONDS,
                 rng: random.Random | None = None) -> AsyncIterator[Element]:
    """Yield Elements from RIS Live until the caller stops iterating.

    ``max_retries``: give up (raise ConnectionError) after that many consecutive failed tries;
    None retries forever, which is what a monitor wants (the backoff is bounded). Websocket
    pings (``ping_interval``/``ping_timeout``) detect a dead peer; an unanswered ping closes
    the connection, which is then handled like any other drop.

    ``on_frame(kind, data)`` (a plain function, called in the event loop) hears of the frames
    that carry no route but tell about the feed, in their place among the elements: ``"pong"``
    (data {}) and ``"peer-state"`` (data: the RIS_PEER_STATE as kept in ``stats.peer_states``).
    """
    url = check_url(url)
    messages = subscribe_messages(prefixes, host=host)
    stats = stats if stats is not None else LiveStats()
    where = f"ris-live {url}"
    failures = 0
    ever_connected = False
    number = 0  # frame number over the whole stream, for messages and stats.malformed

    def emit(kind: str, detail: str = "", delay: float | None = None) -> None:
        if on_event is not None:
            on_event(FeedEvent(kind, url, time.time(), failures, detail, delay))

    while True:
        connected_at: float | None = None
        try:
            async with connect(url, max_size=max_size, open_timeout=open_timeout,
                               ping_interval=ping_interval, ping_timeout=ping_timeout,
                               close_timeout=5, max_queue=16,
                               user_agent_header="sentinelle-ris-live") as ws:
                connected_at = time.monotonic()
                stats.connects += 1
                for message in messages:
                    await ws.send(message)
                emit("connected")
                if ever_connected:
                    emit("resubscribed", f"{len(messages)} prefixes")
                ever_connected = True
                pinger = (asyncio.create_task(_ping(ws, app_ping)) if app_ping else None)
                try:
                    async for message in ws:
                        number += 1
                        errors, pongs = stats.errors, stats.pongs
                        last_state = stats.peer_states[-1] if stats.peer_states else None
                        elements = parse_frame(message, stats, number, where=where)
                        if stats.errors != errors:  # ris_error: e.g. a refused subscription
                            emit("error", stats.ris_errors[-1] if stats.ris_errors else "")
                        if on_frame is not None:
                            if stats.pongs != pongs:
                                on_frame("pong", {})
                            # one frame holds at most one peer state: a new last one is it
                            if stats.peer_states and stats.peer_states[-1] is not last_state:
                                on_frame("peer-state", stats.peer_states[-1])
                        for element in elements:
                            yield element
                finally:
                    if pinger is not None:
                        pinger.cancel()
                # the iteration ends quietly only on a normal close (1000/1001)
                reason = f"closed by the server: code {ws.close_code} {ws.close_reason or ''}"
                reason = reason.strip()
        except ConnectionClosed as exc:
            # 1009 sent by us and not an echo of the server's: websockets refused a frame
            if (exc.sent is not None and exc.sent.code == 1009
                    and (exc.rcvd is None or exc.rcvd_then_sent is False)):
                stats.oversized += 1
                log.warning("%s: frame over %d bytes refused", where, max_size)
            reason = _close_reason(exc)
        except InvalidURI as exc:
            raise ValueError(f"ris-live: invalid URL {url!r}: {exc}") from None
        except (OSError, TimeoutError, InvalidHandshake) as exc:
            reason = f"{type(exc).__name__}: {exc}"[:300]
        if connected_at is not None:
            stats.disconnects += 1
            if time.monotonic() - connected_at >= backoff.stable_after:
                failures = 0
        else:
            stats.failed_connects += 1
        failures += 1
        if max_retries is not None and failures > max_retries:
            emit("disconnected" if connected_at is not None else "connect_failed", reason)
            raise ConnectionError(f"{where}: gave up after {max_retries} retries: {reason}")
        delay = backoff.delay(failures, rng)
        emit("disconnected" if connected_at is not None else "connect_failed", reason, delay)
        log.warning("%s: %s; retrying in %.1f s", where, reason, delay)
        await asyncio.sleep(delay)


async def _ping(ws, every: float) -> None:
    ping = json.dumps({"type": "ping"})
    try:
        while True:
            await asyncio.sleep(every)
            await ws.send(ping)
    except ConnectionClosed:
        return  # the reader sees the close and handles it


def _close_reason(exc: ConnectionClosed) -> str:
    frame = exc.rcvd or exc.sent
    if frame is None:
        return "connection lost (no close frame)"
    side = "server" if exc.rcvd is not None else "client"
    return f"closed by the {side}: code {frame.code} {frame.reason}".strip()[:300]
