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

from .bmp import COMMON_HEADER, MAX_MESSAGE, BmpError, BmpEvent, BmpSession, BmpStats, check_header
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
                           max_message: int = MAX_MESSAGE) -> bytes | None:
    """The next whole message, None at a clean end of stream (between messages); BmpError
    when the stream stops inside a message or the header is wrong."""
    try:
        head = await reader.readexactly(COMMON_HEADER)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise BmpError(f"truncated: stream ended after {len(exc.partial)} bytes of the "
                       "common header", offset) from None
    length, _ = check_header(head, offset, max_message)
    try:
        body = await reader.readexactly(length - COMMON_HEADER)
    except asyncio.IncompleteReadError as exc:
        raise BmpError(f"truncated: {length} bytes declared, stream ended after "
                       f"{COMMON_HEADER + len(exc.partial)}", offset) from None
    return head + body


async def handle_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            on_element: OnElement | None, on_event: OnEvent | None, *,
                            max_message: int = MAX_MESSAGE, idle_timeout: float | None = None,
                            stats: BmpStats | None = None) -> None:
    """Read one router's stream until it ends or breaks, then close the connection."""
    peername = writer.get_extra_info("peername")
    router = f"{peername[0]}:{peername[1]}" if peername else "unknown"
    address = router
    session = BmpSession(router, stats)
    offset = 0
    error = ""
    await _call(on_event, BmpEvent("connected", router, int(time.time())))
    try:
        while True:
            # BMP has no keepalive: idle_timeout (None: wait forever) is for a caller that
            # knows its routers send statistics reports periodically.
            msg = await asyncio.wait_for(read_frame_async(reader, offset, max_message),
                                         idle_timeout)
            if msg is None:
                break
            elements, events = session.decode(msg, offset)
            offset += len(msg)
            for el in elements:
                await _call(on_element, el)
            for ev in events:
                await _call(on_event, ev)
            await asyncio.sleep(0)  # let the other routers' tasks run
    except BmpError as exc:
        error = str(exc)
        log.warning("BMP router %s: %s; closing the connection", address, exc)
    except TimeoutError:
        error = f"no message for {idle_timeout} s"
        log.warning("BMP router %s: %s; closing the connection", address, error)
    except (ConnectionError, OSError) as exc:
        error = f"connection lost: {exc}"
        log.info("BMP router %s: %s", address, error)
    finally:
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
