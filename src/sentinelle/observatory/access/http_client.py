"""The HTTP phase of a measurement: HTTP/1.1 written here on asyncio streams, or HTTP/2
(``http2``) when TLS negotiated ``h2``; the body decoded (``content``) before it is judged, the
cookies of the measurement's jar (``cookies``) sent, the header set bare or browser-like.

We need the raw request and response heads for the evidence, and control over every byte
read: one GET (``fetch``, recorded in the session's ``requests``, newest first, and its
transcript), the body cut at ``max_body``. ``read_exchange`` is also the control client's
transport (``runner``), so it never raises: failures are data.
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .connect import MAX_HEAD, address_text
from .content import ACCEPT_ENCODING, codings, decode_body
from .failures import ContentDecodingError, failure_string
from .http2 import MAX_INFORMATIONAL, h2_exchange, head_text

if TYPE_CHECKING:
    from .connect import Connection
    from .measure import Session

__all__ = [
    "BROWSER_HEADERS", "REQUEST_HEADERS", "USER_AGENT", "Exchange", "body_bytes", "body_value",
    "fetch", "header_value", "read_exchange", "request_headers",
]

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/119.0.0.0 Safari/537.36")
# The default ("bare") set: what a script sends, with the codings a browser accepts.
REQUEST_HEADERS = [
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("User-Agent", USER_AGENT),
    ("Accept-Encoding", ACCEPT_ENCODING),
]
# --browser-headers: Chrome 119's navigation request, in Chrome's order (bot managers compare
# the order and the client hints with the User-Agent, and some CDNs treat such a request
# differently from a bare one).
BROWSER_HEADERS = [
    ("sec-ch-ua", '"Google Chrome";v="119", "Chromium";v="119", "Not?A_Brand";v="24"'),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", '"Windows"'),
    ("Upgrade-Insecure-Requests", "1"),
    ("User-Agent", USER_AGENT),
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
               "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"),
    ("Sec-Fetch-Site", "none"),
    ("Sec-Fetch-Mode", "navigate"),
    ("Sec-Fetch-User", "?1"),
    ("Sec-Fetch-Dest", "document"),
    ("Accept-Encoding", ACCEPT_ENCODING),
    ("Accept-Language", "en-US,en;q=0.9"),
]


def request_headers(browser: bool) -> list[tuple[str, str]]:
    """The header set of every request (``--browser-headers`` or the bare default)."""
    return list(BROWSER_HEADERS if browser else REQUEST_HEADERS)


async def fetch(session: Session, connection: Connection, url: str, parts) -> dict[str, Any]:
    start = session.now()
    config = session.config
    host = parts.hostname or ""
    default_port = 443 if parts.scheme == "https" else 80
    host_header = f"[{host}]" if ":" in host else host
    if parts.port and parts.port != default_port:
        host_header += f":{parts.port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    ssl_object = connection.writer.get_extra_info("ssl_object")
    alpn = (ssl_object.selected_alpn_protocol() or "") if ssl_object is not None else ""
    protocol = "h2" if alpn == "h2" else "http/1.1"
    headers = request_headers(config.browser_headers)
    jar = session.cookies
    cookie = jar.header(parts)
    if cookie:
        headers.append(("Cookie", cookie))       # last, where Chrome puts it
    exchange = Exchange()
    if protocol == "h2":
        sent = [(":method", "GET"), (":authority", host_header), (":scheme", parts.scheme),
                (":path", path), *((k.lower(), v) for k, v in headers)]
        request_text = head_text(sent)
        await h2_exchange(connection.reader, connection.writer, sent,
                          timeout=config.http_timeout, max_body=config.max_body,
                          result=exchange)
    else:
        sent = [("Host", host_header), *headers, ("Connection", "close")]
        request_text = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent)
        request_text += "\r\n"
        await read_exchange(connection.reader, connection.writer,
                            request_text.encode("latin-1", "replace"),
                            timeout=config.http_timeout, max_body=config.max_body,
                            result=exchange)
    if exchange.code:
        jar.store(parts, exchange.headers)
    raw_length = len(exchange.body)
    decoded = _decode(exchange, config.max_body)
    request_list = [[k, v] for k, v in sent if not k.startswith(":")]
    entry: dict[str, Any] = {
        "network": "tcp", "address": address_text(connection.ip, connection.port),
        "alpn": alpn, "failure": exchange.failure,
        "request": {"method": "GET", "url": url, "headers_list": request_list,
                    "headers": dict(request_list), "body": "", "body_is_truncated": False,
                    "x_transport": "tcp", "x_protocol": protocol,
                    "x_header_set": "browser" if config.browser_headers else "bare"},
        "response": {"code": 0, "headers_list": [], "headers": {}, "body": "",
                     "body_is_truncated": False, "body_length": 0},
        "t0": start}
    if exchange.code:
        entry["response"] = {
            "code": exchange.code, "headers_list": [list(h) for h in exchange.headers],
            "headers": dict(exchange.headers), "body": body_value(decoded),
            "body_is_truncated": exchange.truncated, "body_length": len(decoded),
            "x_body_encoded_length": raw_length,
            "x_content_encoding": header_value(exchange.headers, "content-encoding")}
    entry["t"] = session.now()
    session.requests.insert(0, entry)      # newest first, as OONI writes them
    session.transcripts.append({
           "type": "http", "address": entry["address"], "url": url, "protocol": protocol,
           "header_set": entry["request"]["x_header_set"],
           "raw_encoding": "latin-1",
           "request_head": request_text,
           "response_head": exchange.raw_head.decode("latin-1"),
           "body_bytes_read": raw_length, "body_decoded_length": len(decoded),
           "content_encoding": header_value(exchange.headers, "content-encoding"),
           "body_is_truncated": exchange.truncated,
           "failure": exchange.failure, "t0": start, "t": entry["t"]})
    return entry


def _decode(exchange: Exchange, cap: int) -> bytes:
    """The body as a browser sees it; a body that does not decode becomes the exchange's
    failure (the raw bytes stay, base64 in the record)."""
    # Repeated header lines are one comma-separated list (RFC 9110 5.3), as a browser reads them.
    coding = ", ".join(v for k, v in exchange.headers if k.lower() == "content-encoding") or None
    if not exchange.code or not exchange.body or not codings(coding):
        return exchange.body
    try:
        decoded = decode_body(exchange.body, coding, cap,
                              complete=not exchange.truncated and exchange.failure is None)
    except ContentDecodingError as exc:
        exchange.failure = exchange.failure or failure_string(exc)
        return exchange.body
    exchange.truncated = exchange.truncated or decoded.truncated
    return decoded.body


@dataclass
class Exchange:
    code: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    truncated: bool = False
    raw_head: bytes = b""
    failure: str | None = None


async def read_exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        request: bytes, *, timeout: float, max_body: int,
                        result: Exchange | None = None) -> Exchange:
    """Send ``request`` (head and body) and read one response, body cut at ``max_body``.
    Never raises: failures are in ``Exchange.failure`` with what was read so far."""
    result = result if result is not None else Exchange()
    try:
        async with asyncio.timeout(timeout):
            writer.write(request)
            await writer.drain()
            informational = 0
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    result.failure = f"unknown_failure: response head larger than {MAX_HEAD} bytes"
                    return result
                result.raw_head += raw
                code, reason, headers = _parse_head(raw)
                if 100 <= code < 200 and code != 101:
                    # 100 Continue and friends precede the real answer; a flood of them is
                    # not an answer (each head is held to MAX_HEAD, their sum must be too).
                    informational += 1
                    if informational > MAX_INFORMATIONAL or len(result.raw_head) > MAX_HEAD:
                        result.failure = ("unknown_failure: too many informational responses "
                                          f"(more than {MAX_INFORMATIONAL} or {MAX_HEAD} bytes)")
                        return result
                    continue
                result.code, result.reason, result.headers = code, reason, headers
                break
            if result.code not in (204, 304):      # these never have a body (RFC 9110)
                await _read_body(reader, result, max_body)
    except ValueError as exc:
        result.failure = f"unknown_failure: malformed HTTP response ({exc})"[:200]
    except Exception as exc:  # noqa: BLE001 - every failure is data here
        result.failure = failure_string(exc)
    return result


def _parse_head(raw: bytes) -> tuple[int, str, list[tuple[str, str]]]:
    lines = raw.decode("latin-1").split("\r\n")
    status = lines[0].split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/") or not status[1].isdigit():
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ValueError(f"bad header line {line[:80]!r}")
        headers.append((name.strip(), value.strip()))
    return int(status[1]), status[2] if len(status) > 2 else "", headers


async def _read_body(reader: asyncio.StreamReader, result: Exchange, cap: int) -> None:
    chunks: list[bytes] = []
    size = 0

    def take(data: bytes) -> bool:
        """Keep data up to the cap; False once the cap is reached."""
        nonlocal size
        room = cap - size
        if len(data) > room:
            chunks.append(data[:room])
            size = cap
            result.truncated = True
            return False
        chunks.append(data)
        size += len(data)
        return True

    try:
        encoding = (header_value(result.headers, "transfer-encoding") or "").lower()
        length = header_value(result.headers, "content-length")
        if "chunked" in encoding:
            while True:
                line = await reader.readuntil(b"\r\n")
                chunk_size = int(line.split(b";")[0].strip() or b"0", 16)
                if chunk_size == 0:
                    break
                remaining = chunk_size
                while remaining:
                    data = await reader.read(min(remaining, 65536))
                    if not data:
                        raise asyncio.IncompleteReadError(b"", remaining)
                    remaining -= len(data)
                    if not take(data):
                        return
                await reader.readexactly(2)
        elif length is not None and length.strip().isdigit():
            remaining = int(length.strip())
            if remaining > cap:
                result.truncated = True
            while remaining and size < cap:
                data = await reader.read(min(remaining, cap - size, 65536))
                if not data:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(data)
                take(data)
        else:
            while True:
                data = await reader.read(65536)
                if not data or not take(data):
                    return
    finally:
        result.body = b"".join(chunks)


def body_value(body: bytes) -> str | dict[str, str]:
    """OONI's body encoding: text when it is UTF-8, else base64."""
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return {"format": "base64", "data": base64.b64encode(body).decode()}


def body_bytes(value: Any) -> bytes:
    if isinstance(value, dict) and value.get("format") == "base64":
        return base64.b64decode(value.get("data") or "")
    return str(value or "").encode("utf-8", "replace")


def header_value(headers: list, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None
