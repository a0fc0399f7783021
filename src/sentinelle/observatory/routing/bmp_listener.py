"""An asyncio BMP collector: routers connect, their route monitoring becomes `Element`s.

`serve(host, port, on_element, on_event)` starts a TCP server (BMP routers are the clients,
RFC 7854 section 3.2); each connection is read by its own task, one framed message at a time,
with the declared length checked before anything is buffered (`bmp.check_header`), so memory
per router stays below `max_message`. A malformed message closes that router's connection
(logged with its address and the stream offset) and never disturbs the others.

The callbacks may be plain functions or coroutine functions; a coroutine is awaited before the
next message is read, which gives back-pressure to a slow consumer through TCP. Decoding runs
on the loop but yields to it after every message, so one busy router cannot starve the rest.

Besides the routers' own events, `on_event` gets "connected" and "disconnected" events (the
latter with `info["error"]` when the stream was malformed), so a monitor knows which feeds are
live. Not yet wired into a command: `sentinelle routing monitor` will call this.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import time
from collections.abc import Callable
from typing import Any

from .bmp import (
    COMMON_HEADER,
    MAX_MESSAGE,
    STATISTICS,
    BmpError,
    BmpEvent,
    BmpSession,
    BmpStats,
    check_header,
)
from .elements import Element

__all__ = ["serve", "handle_connection"]

log = logging.getLogger(__name__)

OnElement = Callable[[Element], Any]
OnEvent = Callable[[BmpEvent], Any]


async def _call(callback: Callable[[Any], Any] | None, value: Any) -> None:
    if callback is None:
        return
    result = callback(value)
    if inspect.isawaitable(result):
        await result


async def read_frame_async(reader: asyncio.StreamReader, offset: int,
                           max_message: int = MAX_MESSAGE,
                           began: list[float] | None = None) -> bytes | None:
    """The next whole message, None at a clean end of stream (between messages); BmpError
    when the stream stops inside a message or the header is wrong. ``began[0]`` (if given) is
    set to time.monotonic() when a message's first byte arrives and to 0 once it is whole:
    handle_connection's watchdog closes a connection stalled inside a message."""
    try:
        first = await reader.readexactly(1)   # between messages: as long as the caller waits
    except asyncio.IncompleteReadError:
        return None
    if began is not None:
        began[0] = time.monotonic()
    try:
        head = first + await reader.readexactly(COMMON_HEADER - 1)
    except asyncio.IncompleteReadError as exc:
        raise BmpError(f"truncated: stream ended after {1 + len(exc.partial)} bytes of the "
                       "common header", offset) from None
    length, _ = check_header(head, offset, max_message)
    try:
        body = await reader.readexactly(length - COMMON_HEADER)
    except asyncio.IncompleteReadError as exc:
        raise BmpError(f"truncated: {length} bytes declared, stream ended after "
                       f"{COMMON_HEADER + len(exc.partial)}", offset) from None
    if began is not None:
        began[0] = 0.0
    return head + body


async def _watchdog(began: list[float], limit: float, writer: asyncio.StreamWriter,
                    stalled: list[bool]) -> None:
    """Close the connection when a message begun is not whole within ``limit`` seconds (a
    peer trickling bytes or stopping mid-message must not hold its connection and buffer for
    ever). A timer per connection, not per message: framing stays cheap at 50,000 msg/s."""
    while True:
        await asyncio.sleep(limit / 4)
        if began[0] and time.monotonic() - began[0] > limit:
            stalled[0] = True
            writer.transport.abort()
            return


async def handle_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            on_element: OnElement | None, on_event: OnEvent | None, *,
                            max_message: int = MAX_MESSAGE, idle_timeout: float | None = None,
                            stats: BmpStats | None = None, statistics: bool = False,
                            frame_timeout: float | None = None) -> None:
    """Read one router's stream until it ends or breaks, then close the connection.

    ``statistics``: also pass each statistics report to ``on_event`` as a "statistics"
    BmpEvent (router, receiving time): it carries no route but proves the feed is alive.
    ``frame_timeout``: seconds a message begun has to arrive whole (see read_frame_async)."""
    peername = writer.get_extra_info("peername")
    router = f"{peername[0]}:{peername[1]}" if peername else "unknown"
    address = router
    session = BmpSession(router, stats)
    offset = 0
    error = ""
    await _call(on_event, BmpEvent("connected", router, int(time.time())))
    began, stalled = [0.0], [False]
    watchdog = (asyncio.create_task(_watchdog(began, frame_timeout, writer, stalled))
                if frame_timeout else None)
    try:
        while True:
            # BMP has no keepalive: idle_timeout (None: wait forever) is for a caller that
            # knows its routers send statistics reports periodically.
            msg = await asyncio.wait_for(
                read_frame_async(reader, offset, max_message, began), idle_timeout)
            if msg is None:
                break
            elements, events = session.decode(msg, offset)
            offset += len(msg)
            for el in elements:
                await _call(on_element, el)
            for ev in events:
                await _call(on_event, ev)
            if statistics and msg[5] == STATISTICS:
                await _call(on_event, BmpEvent("statistics", session.router, int(time.time())))
            await asyncio.sleep(0)  # let the other routers' tasks run
    except BmpError as exc:
        error = (f"stalled: a message begun is not whole after {frame_timeout} s"
                 if stalled[0] else str(exc))
        log.warning("BMP router %s: %s; closing the connection", address, error)
    except TimeoutError:
        error = f"no message for {idle_timeout} s"
        log.warning("BMP router %s: %s; closing the connection", address, error)
    except (ConnectionError, OSError) as exc:
        error = f"connection lost: {exc}"
        log.info("BMP router %s: %s", address, error)
    finally:
        if watchdog is not None:
            watchdog.cancel()
            await asyncio.gather(watchdog, return_exceptions=True)
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    info = {"address": address, "bytes": str(offset)}
    if error:
        info["error"] = error
    await _call(on_event, BmpEvent("disconnected", session.router, int(time.time()), info=info))


async def serve(host: str, port: int, on_element: OnElement | None,
                on_event: OnEvent | None = None, *, max_message: int = MAX_MESSAGE,
                idle_timeout: float | None = None, stats: BmpStats | None = None,
                ) -> asyncio.Server:
    """Start listening (port 0: the kernel picks; see server.sockets) and return the server;
    `async with server: await server.serve_forever()` runs it. Each router gets its own task;
    an exception raised by a callback is logged and closes only that router's connection."""

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handle_connection(reader, writer, on_element, on_event,
                                    max_message=max_message, idle_timeout=idle_timeout,
                                    stats=stats)
        except Exception:  # a callback's bug must not take the server down
            log.exception("BMP connection handler failed")
            writer.close()

    return await asyncio.start_server(client, host, port, limit=max_message)
