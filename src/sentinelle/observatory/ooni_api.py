"""A small client for OONI's public measurement API (``GET /api/v1/measurements``).

Plain Python, no Django: the parser (``parse_page``) is fuzzed alone (fuzz/targets). What OONI
answers is outside input, so every answer is held to a size cap, a timeout and a page cap, and a
malformed or hostile answer is an ``OoniResponseError`` naming what was wrong — never a crash,
never a request to a host other than the configured API (``next_url`` must stay on it).

Each response body is hashed (SHA-256) as received, before it is parsed, so that the
corroboration file can say exactly which bytes it was built from.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Measurement", "OoniError", "OoniResponseError", "OoniUnreachable", "Query",
           "QueryResult", "Response", "fetch", "parse_page"]

MAX_RESULTS_PER_PAGE = 10_000   # more than OONI's own page limit: a longer list is hostile


class OoniError(Exception):
    """OONI's answer cannot be used; the message says why."""


class OoniResponseError(OoniError, ValueError):
    """The answer is not the documented JSON shape; the message names the field."""


class OoniUnreachable(OoniError):
    """No answer at all (connection refused, timeout, DNS...)."""


@dataclass(frozen=True)
class Measurement:
    """One OONI measurement, as much of it as corroboration needs."""

    uid: str
    input: str
    start_time: str
    probe_cc: str
    probe_asn: str
    test_name: str
    report_id: str
    anomaly: bool
    confirmed: bool
    failure: bool
    measurement_url: str


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if value.tzinfo else value


@dataclass(frozen=True)
class Query:
    input: str
    probe_cc: str
    probe_asn: int | None
    since: dt.datetime
    until: dt.datetime
    test_name: str = "web_connectivity"
    limit: int = 100

    def params(self) -> dict[str, str]:
        """The query string; OONI reads its times as UTC, so they are sent in UTC."""
        params = {"input": self.input, "probe_cc": self.probe_cc,
                  "since": _utc(self.since).strftime("%Y-%m-%dT%H:%M:%S"),
                  "until": _utc(self.until).strftime("%Y-%m-%dT%H:%M:%S"),
                  "test_name": self.test_name, "limit": str(self.limit)}
        if self.probe_asn is not None:
            params["probe_asn"] = f"AS{self.probe_asn}"
        return params


@dataclass(frozen=True)
class Response:
    """One page as received: where it came from, its SHA-256 and size."""

    url: str
    sha256: str
    size: int


@dataclass
class QueryResult:
    measurements: list[Measurement] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)
    truncated: bool = False      # more pages than the page cap allowed


# --- parsing ------------------------------------------------------------------------------------

def _flag(item: dict, name: str, where: str) -> bool:
    value = item.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise OoniResponseError(f"{where}.{name}: expected true or false, got "
                                f"{type(value).__name__}")
    return value


def _text(item: dict, name: str, where: str, *, required: bool = False, limit: int = 4096) -> str:
    value = item.get(name)
    if value is None:
        if required:
            raise OoniResponseError(f"{where}.{name}: missing")
        return ""
    if not isinstance(value, str):
        raise OoniResponseError(f"{where}.{name}: expected a string, got {type(value).__name__}")
    if len(value) > limit:
        raise OoniResponseError(f"{where}.{name}: longer than {limit} characters")
    return value


def _time(value: str, where: str) -> str:
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise OoniResponseError(f"{where}.measurement_start_time: not a date-time: "
                                f"{value[:40]!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_page(body: bytes) -> tuple[list[Measurement], str | None]:
    """The measurements of one answer of /api/v1/measurements and its ``next_url`` (or None).

    Raises OoniResponseError naming the field for anything but the documented shape."""
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise OoniResponseError(f"the response is not UTF-8 (byte {exc.start})") from None
    except (ValueError, RecursionError) as exc:
        # ValueError: JSON's own errors, and a number of more digits than Python converts.
        raise OoniResponseError(f"the response is not JSON: {exc}"[:200]) from None
    if not isinstance(document, dict):
        raise OoniResponseError("the response is not a JSON object")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise OoniResponseError("metadata: expected an object")
    next_url = metadata.get("next_url")
    if next_url is not None and not isinstance(next_url, str):
        raise OoniResponseError("metadata.next_url: expected a string or null")
    results = document.get("results")
    if not isinstance(results, list):
        raise OoniResponseError("results: missing or not a list")
    if len(results) > MAX_RESULTS_PER_PAGE:
        raise OoniResponseError(f"results: more than {MAX_RESULTS_PER_PAGE} on one page")
    found = []
    for index, item in enumerate(results):
        where = f"results[{index}]"
        if not isinstance(item, dict):
            raise OoniResponseError(f"{where}: expected an object")
        found.append(Measurement(
            uid=_text(item, "measurement_uid", where, limit=200)
            or _text(item, "report_id", where, required=True, limit=200),
            input=_text(item, "input", where),
            start_time=_time(_text(item, "measurement_start_time", where, required=True,
                                   limit=64), where),
            probe_cc=_text(item, "probe_cc", where, limit=8),
            probe_asn=_text(item, "probe_asn", where, limit=16),
            test_name=_text(item, "test_name", where, limit=64),
            report_id=_text(item, "report_id", where, limit=200),
            anomaly=_flag(item, "anomaly", where),
            confirmed=_flag(item, "confirmed", where),
            failure=_flag(item, "failure", where),
            measurement_url=_text(item, "measurement_url", where)))
    return found, next_url or None


# --- fetching -----------------------------------------------------------------------------------

Opener = Callable[..., Any]


def _same_api(base: str, url: str) -> bool:
    a, b = urllib.parse.urlsplit(base), urllib.parse.urlsplit(url)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc) and b.scheme in ("http", "https")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: urllib would follow it to any host (an internal
    address included), around the rule that every request stays on the configured API."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0913
        return None


class _Watched:
    """Connection classes for urllib that remember each connection made, so that a watchdog
    can shut its socket at the deadline: a server that trickles its head a byte at a time
    never lets the socket timeout fire, and urllib gives no other hold on it."""

    def __init__(self) -> None:
        self.connections: list[http.client.HTTPConnection] = []
        self.fired = False

    def wrap(self, cls):
        def make(*args, **kwargs):
            connection = cls(*args, **kwargs)
            self.connections.append(connection)
            return connection
        return make

    def shut(self) -> None:
        self.fired = True
        for connection in self.connections:
            with contextlib.suppress(OSError, AttributeError):
                connection.sock.shutdown(socket.SHUT_RDWR)


def _opener(watched: _Watched) -> Callable[..., Any]:
    class Http(urllib.request.HTTPHandler):
        def http_open(self, req):
            return self.do_open(watched.wrap(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req):
            return self.do_open(watched.wrap(http.client.HTTPSConnection), req,
                                context=self._context)

    return urllib.request.build_opener(_NoRedirect, Http, Https).open


def _socket_of(answer: Any):
    # The socket under http.client's buffered reader, to hold each read to the time left.
    return getattr(getattr(getattr(answer, "fp", None), "raw", None), "_sock", None)


def _valid_address(url: str) -> bool:
    """Printable ASCII without spaces: anything else http.client refuses (or, for CR LF,
    would be a header injection)."""
    return url.isascii() and all(33 <= ord(ch) < 127 for ch in url)


def _get(url: str, *, timeout: float, max_bytes: int,
         opener: Opener | None) -> bytes:
    """The body of ``url``, at most ``max_bytes``, within ``timeout`` seconds in all."""
    deadline = time.monotonic() + timeout
    # The scheme is http or https: fetch() checks every URL with _same_api before this.
    request = urllib.request.Request(url, headers={  # noqa: S310
        "Accept": "application/json", "User-Agent": "sentinelle-corroborate"})
    watched = _Watched()
    opener = opener or _opener(watched)
    watchdog = threading.Timer(timeout, watched.shut)
    watchdog.daemon = True
    watchdog.start()
    try:
        return _read(url, request, opener, deadline=deadline, timeout=timeout,
                     max_bytes=max_bytes)
    except OoniError:
        if watched.fired:       # whatever the cut socket looked like to http.client
            raise OoniUnreachable(f"OONI could not be reached: no full answer within "
                                  f"{timeout:g} s ({url})") from None
        raise
    finally:
        watchdog.cancel()


def _read(url: str, request: urllib.request.Request, opener: Opener, *, deadline: float,
          timeout: float, max_bytes: int) -> bytes:
    try:
        with opener(request, timeout=timeout) as answer:
            status = getattr(answer, "status", 200)
            if status != 200:
                raise OoniError(f"OONI answered HTTP {status} for {url}")
            chunks, size = [], 0
            read = getattr(answer, "read1", answer.read)
            sock = _socket_of(answer)
            while True:
                # A server that trickles bytes would keep a socket timeout from ever firing:
                # each read is one system call, held to the time left.
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OoniUnreachable(f"OONI could not be reached: no full answer within "
                                          f"{timeout:g} s ({url})")
                if sock is not None:
                    sock.settimeout(left)
                chunk = read(min(65536, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
                if size > max_bytes:
                    raise OoniResponseError(f"the response is larger than {max_bytes} bytes "
                                            f"({url})")
            if getattr(answer, "length", None):
                raise OoniResponseError(f"the response ends before its Content-Length ({url})")
            return b"".join(chunks)
    except OoniError:
        raise           # ours (OoniResponseError is a ValueError too: not caught below)
    except urllib.error.HTTPError as exc:
        raise OoniError(f"OONI answered HTTP {exc.code} for {url}") from None
    except urllib.error.URLError as exc:
        raise OoniUnreachable(f"OONI could not be reached: {exc.reason} ({url})") from None
    except TimeoutError:
        raise OoniUnreachable(f"OONI could not be reached: no full answer within {timeout:g} s "
                              f"({url})") from None
    except OSError as exc:
        raise OoniUnreachable(f"OONI could not be reached: {exc} ({url})") from None
    except (http.client.HTTPException, ValueError) as exc:
        # Not HTTP (a status line of another protocol), broken chunking, too many headers...
        raise OoniResponseError(f"OONI's answer is not valid HTTP: {type(exc).__name__}: "
                                f"{exc}"[:200] + f" ({url})") from None


def fetch(base_url: str, query: Query, *, timeout: float = 15.0, max_bytes: int = 5_000_000,
          max_pages: int = 10, opener: Opener | None = None) -> QueryResult:
    """Every measurement OONI holds for ``query``, following ``next_url`` up to ``max_pages``.

    Raises OoniUnreachable, OoniResponseError or OoniError; the pages read before the error
    are lost with it (a partial list would look complete)."""
    base = base_url.rstrip("/")
    if urllib.parse.urlsplit(base).scheme not in ("http", "https"):
        raise OoniError(f"the OONI API address must be http or https: {base[:200]!r}")
    url: str | None = f"{base}/api/v1/measurements?{urllib.parse.urlencode(query.params())}"
    result, seen = QueryResult(), set()
    while url:
        if len(result.responses) >= max_pages:
            result.truncated = True
            break
        if not _valid_address(url):
            raise OoniResponseError(f"metadata.next_url: {url[:200]!r} is not a valid address")
        if not _same_api(base, url):
            raise OoniResponseError(f"metadata.next_url: {url[:200]!r} is not on {base}")
        if url in seen:
            raise OoniResponseError(f"metadata.next_url: {url[:200]!r} loops back to a page "
                                    "already read")
        seen.add(url)
        body = _get(url, timeout=timeout, max_bytes=max_bytes, opener=opener)
        result.responses.append(Response(url, hashlib.sha256(body).hexdigest(), len(body)))
        try:
            measurements, url = parse_page(body)
        except OoniResponseError as exc:
            raise OoniResponseError(f"{exc} ({result.responses[-1].url})") from None
        result.measurements.extend(measurements)
    return result
