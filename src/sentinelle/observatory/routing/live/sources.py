"""The live monitor's ``--source`` specs and the tasks that read them.

``parse_source(spec)`` checks a spec when the monitor starts (a typo must not surface an hour
later as a dead feed); ``run_source(spec, put, prefixes=..., state=...)`` then runs until
cancelled, turning what the source says into ``SourceItem``s handed to ``put`` (the monitor's
bounded queue: a slow detector makes the source wait, and websockets / the BMP sockets then
stop reading, which is TCP back-pressure rather than unbounded memory).

* ``ris-live`` / ``ris-live:ws://...`` / ``ris-live:wss://...``: ``ris_live_client.stream``
  subscribed to the watched prefixes (it reconnects and resubscribes by itself). Its feed
  events (connected, disconnected, resubscribed, ...) become ``status`` items; a pong becomes
  ``alive``; a RIS_PEER_STATE "down" becomes ``peer-down`` (collector, peer address, peer ASN),
  any other peer state ``alive``. They keep their place among the elements.
* ``bmp:HOST:PORT`` (IPv6: ``bmp:[::1]:PORT``): a BMP collector listening there
  (``bmp_listener.handle_connection`` per router). Peer Down -> ``peer-down``; Initiation and
  Statistics Reports -> ``alive``; Peer Up -> ``peer-up`` and an End-of-RIB marker ->
  ``end-of-rib`` (detail "ipv4 unicast" / "ipv6 unicast"), both with the peer (the detector
  withdraws the routes a peer's re-sent table left out); a router whose connection ends (or
  that sends Termination) takes its peers' routes with it, so every peer still up on it gets
  a ``peer-down``. The collector name is the router's sysName once it sent its Initiation.
* ``mrt-dir:DIR``: live/mrt_dir.py, polled every ``poll_interval`` s; its file positions live
  in ``state`` (changed in place; the monitor saves it and passes it back after a restart).

Cancelling the task stops the source: the websocket is closed, the BMP server and every
router connection are closed, a file being read is closed once the worker thread's current
(bounded) batch is done; no task is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import ris_live_client as rlc
from ..bmp import MAX_MESSAGE, BmpEvent
from ..bmp_listener import handle_connection
from ..elements import Element
from .events import SourceItem
from .mrt_dir import MrtDirTailer

__all__ = ["FORMS", "SourceOptions", "SourceSpec", "parse_source", "run_source"]

log = logging.getLogger(__name__)

Put = Callable[[SourceItem], Awaitable[None]]

FORMS = ("ris-live, ris-live:ws://HOST[:PORT]/PATH, ris-live:wss://HOST[:PORT]/PATH, "
         "bmp:HOST:PORT, bmp:[IPv6]:PORT, mrt-dir:DIR")
_HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$")
# RIS Live peer states meaning the session is gone (RIS sends "down" and "connected")
_DOWN_STATES = {"down", "idle", "active", "connect", "opensent", "openconfirm"}
# items waiting between the websocket reader and put: above this the reader waits
_RIS_HIGH_WATER = 64


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # "ris-live" | "bmp" | "mrt-dir"
    text: str  # the spec as given: the name of the source in items and events
    url: str = ""  # ris-live
    host: str = ""  # bmp: address to listen on
    port: int = 0
    directory: Path | None = None  # mrt-dir


@dataclass(frozen=True)
class SourceOptions:
    """Timings; the defaults are the monitor's, tests make them short."""

    poll_interval: float = 1.0  # mrt-dir
    ris_backoff: rlc.Backoff = field(default_factory=rlc.Backoff)
    ris_app_ping: float | None = rlc.APP_PING_SECONDS
    bmp_max_message: int = MAX_MESSAGE
    # a message begun must be whole within this many seconds (slowloris); a router may stay
    # silent between messages as long as it likes (BMP has no keepalive)
    bmp_frame_timeout: float | None = 30.0
    bmp_max_routers: int = 64  # connections at once; more are closed at once
    # BMP has no authentication: only routers from these networks may feed the monitor
    # (`--bmp-allow`); empty allows any address that reaches the port (firewall it then)
    bmp_allow: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()


def _refuse(spec: str, reason: str) -> ValueError:
    return ValueError(f"source {spec!r}: {reason}; accepted forms: {FORMS}")


def parse_source(spec: str) -> SourceSpec:
    """The parsed ``--source``; ValueError naming the spec and the accepted forms otherwise."""
    if spec == "ris-live":
        return SourceSpec("ris-live", spec, url=rlc.DEFAULT_URL)
    if spec.startswith("ris-live:"):
        try:
            url = rlc.check_url(spec[len("ris-live:"):])
        except ValueError:
            raise _refuse(spec, "the URL must be ws:// or wss:// with a host") from None
        return SourceSpec("ris-live", spec, url=url)
    if spec.startswith("bmp:"):
        host, port = _host_port(spec, spec[len("bmp:"):])
        return SourceSpec("bmp", spec, host=host, port=port)
    if spec.startswith("mrt-dir:"):
        text = spec[len("mrt-dir:"):]
        if not text:
            raise _refuse(spec, "no directory given")
        directory = Path(text)
        if not directory.exists():
            raise _refuse(spec, f"directory {text} does not exist")
        if not directory.is_dir():
            raise _refuse(spec, f"{text} is not a directory")
        return SourceSpec("mrt-dir", spec, directory=directory)
    raise _refuse(spec, "unknown source")


def _host_port(spec: str, rest: str) -> tuple[str, int]:
    if rest.startswith("["):
        host, sep, port = rest[1:].partition("]:")
        if not sep:
            raise _refuse(spec, "an IPv6 address needs a port after it: bmp:[::1]:11019")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise _refuse(spec, f"{host!r} is not an IPv6 address") from None
    else:
        host, sep, port = rest.rpartition(":")
        if not sep or not host:
            raise _refuse(spec, "HOST:PORT expected")
        if ":" in host:
            raise _refuse(spec, "write an IPv6 address in brackets: bmp:[::1]:11019")
        if not _HOSTNAME.match(host):
            raise _refuse(spec, f"{host!r} is not a host name or IPv4 address")
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise _refuse(spec, f"port {port!r} is not a number from 0 to 65535")
    return host, int(port)


async def run_source(spec: SourceSpec, put: Put, *, prefixes: list[str],
                     state: dict | None, options: SourceOptions | None = None) -> None:
    """Read ``spec`` until cancelled (see the module docstring). Raises ValueError for a
    configuration the source refuses (ris-live without prefixes), OSError when a BMP port
    cannot be bound."""
    options = options or SourceOptions()
    if spec.kind == "ris-live":
        await _run_ris_live(spec, put, prefixes, options)
    elif spec.kind == "bmp":
        await _run_bmp(spec, put, options)
    elif spec.kind == "mrt-dir":
        assert spec.directory is not None
        tailer = MrtDirTailer(spec.directory, source=spec.text, state=state)
        await tailer.run(put, options.poll_interval)
    else:
        raise ValueError(f"unknown source kind {spec.kind!r}")


async def _together(*coroutines: Coroutine[Any, Any, None]) -> None:
    """Run the coroutines until one fails (its exception is raised, not wrapped in an
    ExceptionGroup) or the caller is cancelled; the others are cancelled and awaited."""
    tasks = [asyncio.create_task(c) for c in coroutines]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# --------------------------------------------------------------------------- ris-live

async def _run_ris_live(spec: SourceSpec, put: Put, prefixes: list[str],
                        options: SourceOptions) -> None:
    rlc.normalise_prefixes(prefixes)  # refuse an empty watch list before connecting
    # The client's callbacks are plain functions called in the middle of its iteration,
    # while put is a coroutine: everything goes through one local queue, in order, and the
    # reader waits for it to drain when it holds _RIS_HIGH_WATER items.
    pending: asyncio.Queue[SourceItem] = asyncio.Queue()

    def item(kind: str, **kw: Any) -> None:
        pending.put_nowait(SourceItem(kind, spec.text, time.time(), **kw))

    def on_event(event: rlc.FeedEvent) -> None:
        detail = event.kind + (f": {event.detail}" if event.detail else "")
        if event.delay is not None:
            detail += f" (next try in {event.delay:.1f} s)"
        item("status", detail=detail)

    def on_frame(kind: str, data: dict) -> None:
        if kind == "pong":
            item("alive", detail="pong")
            return
        state = str(data.get("state", "")).lower()
        peer = (str(data.get("collector", "")), str(data.get("peer_ip", "")),
                int(data.get("peer_asn", 0)))
        if state in _DOWN_STATES:
            item("peer-down", peer=peer, detail=f"RIS_PEER_STATE {state}")
        else:
            item("alive", detail=f"RIS_PEER_STATE {state} {peer[1]}")

    async def read() -> None:
        stream = rlc.stream(spec.url, prefixes, on_event=on_event, on_frame=on_frame,
                            backoff=options.ris_backoff, app_ping=options.ris_app_ping)
        async with contextlib.aclosing(stream) as elements:
            async for element in elements:
                pending.put_nowait(SourceItem("element", spec.text, time.time(),
                                              element=element))
                if pending.qsize() >= _RIS_HIGH_WATER:
                    await pending.join()

    async def forward() -> None:
        while True:
            one = await pending.get()
            try:
                await put(one)
            finally:
                pending.task_done()

    await _together(read(), forward())


# --------------------------------------------------------------------------- bmp

async def _run_bmp(spec: SourceSpec, put: Put, options: SourceOptions) -> None:
    connections: set[asyncio.Task] = set()
    refused = strangers = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal refused, strangers
        task = asyncio.current_task()
        assert task is not None
        peername = writer.get_extra_info("peername")
        if options.bmp_allow and not _allowed(peername, options.bmp_allow):
            # the first, then every 100th: a stranger connecting in a loop must not fill the
            # disk with log lines
            strangers += 1
            if strangers == 1 or strangers % 100 == 0:
                log.warning("%s: connection from %s refused: not in --bmp-allow (%d refused "
                            "so far)", spec.text, peername[0] if peername else "?", strangers)
            writer.close()
            return
        if len(connections) >= options.bmp_max_routers:
            # Anyone who reaches the port may connect: a cap keeps thousands of idle
            # connections (each a task and a buffer of up to bmp_max_message) from piling up.
            refused += 1
            if refused == 1 or refused % 100 == 0:
                log.warning("%s: %d routers connected already (the limit); refused %d "
                            "connection(s) so far, the last from %s", spec.text,
                            len(connections), refused, writer.get_extra_info("peername"))
            writer.close()
            return
        connections.add(task)
        # The peers up on THIS connection, named as its elements named them: a router that
        # leaves takes only its own peers' routes with it. Keyed by router name, a stranger
        # sending an Initiation with a real router's sysName and disconnecting would take the
        # real router's peers down.
        up: set[tuple[str, str, int]] = set()

        async def on_element(element: Element) -> None:
            up.add((element.collector, element.peer_ip, element.peer_asn))
            await put(SourceItem("element", spec.text, time.time(), element=element))

        async def all_down(why: str) -> None:
            for peer in sorted(up):
                await put(SourceItem("peer-down", spec.text, time.time(), peer=peer, detail=why))
            up.clear()

        async def on_event(event: BmpEvent) -> None:
            now = time.time()
            router = event.router
            if event.kind == "peer_down":
                up.discard((router, event.peer_ip, event.peer_asn))
                await put(SourceItem("peer-down", spec.text, now,
                                     peer=(router, event.peer_ip, event.peer_asn),
                                     detail=event.info.get("reason", "")))
            elif event.kind == "peer_up":
                # the router re-sends the peer's table next: what it leaves out is gone
                up.add((router, event.peer_ip, event.peer_asn))
                await put(SourceItem("peer-up", spec.text, now,
                                     peer=(router, event.peer_ip, event.peer_asn),
                                     detail=f"peer up {event.peer_ip} AS{event.peer_asn}"))
            elif event.kind == "end_of_rib":
                await put(SourceItem("end-of-rib", spec.text, now,
                                     peer=(router, event.peer_ip, event.peer_asn),
                                     detail=event.info.get("family", "")))
            elif event.kind in ("initiation", "statistics"):
                await put(SourceItem("alive", spec.text, now,
                                     detail=f"{event.kind} from {router}"))
            elif event.kind == "termination":
                await put(SourceItem("status", spec.text, now,
                                     detail=f"termination from {router}: "
                                            f"{event.info.get('reason', '')}".rstrip(": ")))
                await all_down("router terminated its BMP session")
            elif event.kind == "connected":
                await put(SourceItem("status", spec.text, now,
                                     detail=f"router {router} connected"))
            elif event.kind == "disconnected":
                error = event.info.get("error", "")
                await put(SourceItem("status", spec.text, now,
                                     detail=f"router {router} disconnected"
                                            + (f": {error}" if error else "")))
                await all_down("router's BMP connection ended")

        try:
            await handle_connection(reader, writer, on_element, on_event,
                                    max_message=options.bmp_max_message, statistics=True,
                                    frame_timeout=options.bmp_frame_timeout)
        except asyncio.CancelledError:
            # the source is stopping (see below); asyncio 3.11's stream callback would log
            # a cancelled connection task as an error
            pass
        except Exception:  # a bug or a failing put must not take the other routers down
            log.exception("%s: router connection handler failed", spec.text)
            writer.close()
        finally:
            connections.discard(task)

    # Python 3.11's Server.close() leaves the accepted connections open: they are tracked and
    # cancelled here (handle_connection closes its socket on the way out).
    server = await asyncio.start_server(client, spec.host, spec.port,
                                        limit=options.bmp_max_message)
    try:
        names = ", ".join(_address(s.getsockname()) for s in server.sockets)
        await put(SourceItem("status", spec.text, time.time(), detail=f"listening on {names}"))
        await server.serve_forever()
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        with contextlib.suppress(Exception):
            await server.wait_closed()


def _allowed(peername: tuple | None,
             networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    if not peername:
        return False
    try:
        address = ipaddress.ip_address(peername[0].split("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # a dual-stack socket names IPv4 routers ::ffff:a.b.c.d
    return any(address.version == net.version and address in net for net in networks)


def _address(sockname: tuple) -> str:
    host, port = sockname[0], sockname[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
