"""HTTP/2 for the HTTP phase, when TLS negotiated ALPN ``h2`` (the ``h2`` library's state
machine, our bytes on asyncio streams).

One GET stream per connection, as the HTTP/1.1 path does: the response headers as received (in
order, names lower-case as HTTP/2 sends them), the body cut at ``max_body`` (then the stream is
reset: we read no more), the whole exchange under one timeout. A stream reset by the server, a
GOAWAY before the answer ended, or a connection that closes mid-body are failures with names
(``http2_stream_reset``, ``http2_goaway``, ``eof_error``), never exceptions: as in
``read_exchange``, what was read so far is kept.

The transcript keeps, for the evidence, the request and response header blocks written out
one ``name: value`` per line (HPACK-encoded bytes would mean nothing to a reader).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .failures import Http2Failure, failure_string

if TYPE_CHECKING:
    from .http_client import Exchange

__all__ = ["h2_exchange", "head_text"]

_READ = 65536
# A server that answers with more header bytes than this is not serving a page (MAX_HEAD's
# rule for HTTP/1.1).
MAX_HEADER_LIST = 64 * 1024
# 1xx answers (103 Early Hints...) before the real one: HPACK sends a repeated header as one
# byte, so hundreds of them cost a server nothing and us megabytes of transcript; a page needs
# one or two.
MAX_INFORMATIONAL = 10


class _FrameGuard:
    """Checks each frame header as bytes arrive, before ``h2`` buffers the frame: the ``h2``
    library waits for a whole frame (up to 16 MiB) before it checks the length, so a server
    that sends a huge length — or HTTP/1.1 text after agreeing on h2, read as one — would make
    us hold 16 MiB. The first frame must be the server's SETTINGS (RFC 9113, 3.4)."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self.header = b""
        self.skip = 0           # body bytes of the current frame still to come
        self.first = True

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self.skip:
                step = min(self.skip, len(view))
                self.skip -= step
                view = view[step:]
                continue
            need = 9 - len(self.header)
            self.header += bytes(view[:need])
            view = view[need:]
            if len(self.header) < 9:
                return
            length = int.from_bytes(self.header[:3], "big")
            kind = self.header[3]
            if self.first and kind != 0x4:
                raise Http2Failure("http2_protocol_error", "the server's first frame is not "
                                   f"SETTINGS (it sent {self.header[:9]!r})")
            if length > self.max_frame:
                raise Http2Failure("http2_protocol_error", f"a frame of {length} bytes, more "
                                   f"than the {self.max_frame} allowed")
            self.first = False
            self.header = b""
            self.skip = length


def head_text(headers: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"


async def h2_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      headers: list[tuple[str, str]], *, timeout: float,
                      max_body: int, result: Exchange) -> Exchange:
    """Send one GET with ``headers`` (pseudo-headers first) and read its answer into
    ``result``. Never raises."""
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings

    config = h2.config.H2Configuration(client_side=True, header_encoding="latin-1",
                                       validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.local_settings = h2.settings.Settings(client=True, initial_values={
        h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: MAX_HEADER_LIST,
        h2.settings.SettingCodes.ENABLE_PUSH: 0})
    chunks: list[bytes] = []
    size = 0
    stream_id = 1
    ended = False
    try:
        async with asyncio.timeout(timeout):
            conn.initiate_connection()
            stream_id = conn.get_next_available_stream_id()
            conn.send_headers(stream_id, headers, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
            guard = _FrameGuard(conn.max_inbound_frame_size)
            while not ended:
                data = await reader.read(_READ)
                if not data:
                    raise asyncio.IncompleteReadError(b"", None)
                guard.feed(data)
                for event in conn.receive_data(data):
                    ended = _event(event, h2.events, stream_id, result, conn)
                    if isinstance(event, h2.events.DataReceived) and \
                            event.stream_id == stream_id:
                        conn.acknowledge_received_data(event.flow_controlled_length,
                                                       stream_id)
                        room = max_body - size
                        piece = event.data[:room]
                        chunks.append(piece)
                        size += len(piece)
                        if len(event.data) > room:
                            result.truncated = True
                            conn.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)
                            ended = True
                    if ended:
                        break
                pending = conn.data_to_send()
                if pending:
                    writer.write(pending)
                    await writer.drain()
    except Http2Failure as exc:
        result.failure = str(exc)[:200]
    except h2.exceptions.ProtocolError as exc:
        result.failure = f"http2_protocol_error: {type(exc).__name__}: {exc}"[:200]
    except Exception as exc:  # noqa: BLE001 - every failure is data here
        result.failure = failure_string(exc)
    finally:
        result.body = b"".join(chunks)
    return result


def _event(event, events, stream_id: int, result: Exchange, conn) -> bool:
    """Record one event; True when the exchange is over."""
    if isinstance(event, events.ResponseReceived) and event.stream_id == stream_id:
        received = [(_text(k), _text(v)) for k, v in event.headers]
        result.raw_head += head_text(received).encode("latin-1", "replace")
        status = next((v for k, v in received if k == ":status"), "")
        if not status.isdigit():
            raise Http2Failure("http2_protocol_error", f"bad :status {status[:20]!r}")
        result.code = int(status)
        result.headers = [(k, v) for k, v in received if not k.startswith(":")]
        return event.stream_ended is not None
    if isinstance(event, events.InformationalResponseReceived):
        received = [(_text(k), _text(v)) for k, v in event.headers]
        result.raw_head += head_text(received).encode("latin-1", "replace")
        if result.raw_head.count(b":status: 1") > MAX_INFORMATIONAL or \
                len(result.raw_head) > MAX_HEADER_LIST:
            raise Http2Failure("http2_protocol_error", "too many informational responses "
                               f"(more than {MAX_INFORMATIONAL} or {MAX_HEADER_LIST} bytes)")
        return False
    if isinstance(event, events.StreamEnded) and event.stream_id == stream_id:
        return True
    if isinstance(event, events.StreamReset) and event.stream_id == stream_id:
        raise Http2Failure("http2_stream_reset", f"error code {_code(event.error_code)}")
    if isinstance(event, events.ConnectionTerminated):
        if _code(event.error_code) == "NO_ERROR" and (event.last_stream_id or 0) >= stream_id:
            return False        # a graceful shutdown that still answers our stream
        raise Http2Failure("http2_goaway", f"error code {_code(event.error_code)}, last "
                                           f"stream {event.last_stream_id}")
    return False


def _code(code) -> str:
    return getattr(code, "name", None) or str(code)


def _text(value) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)
