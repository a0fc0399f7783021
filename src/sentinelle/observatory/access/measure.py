"""One URL measured from one vantage point, the way OONI's Web Connectivity does it, on asyncio.

Phases, each with its own timeout (OONI's: DNS 4 s, TCP 10 s, TLS 10 s, HTTP 10 s):

1. DNS A/AAAA through the system resolver (``getaddrinfo``) and through one configurable
   resolver over UDP (dnslib), so a lying ISP resolver shows against an independent one;
2. a TCP connect to each address found (bounded), from ``bind`` if given;
3. for https, a TLS handshake that verifies the certificate and keeps the chain; when
   verification fails the chain is fetched again without verification so the evidence holds it;
4. an HTTP/1.1 GET written here on asyncio streams (we need the raw request and response heads
   for the evidence, and control over every byte read), or HTTP/2 when TLS negotiated ``h2``
   (``http2=False`` offers only http/1.1), following up to 10 redirects with a cookie jar, the
   body decoded (gzip, deflate, br) and cut at ``max_body``; the header set bare or, with
   ``browser_headers``, Chrome's.

The result is the ``test_keys``-like dict of the probe contract (``queries``, ``tcp_connect``,
``tls_handshakes``, ``requests`` newest first, ``failure``) plus raw transcripts for the bundle.
Errors are named with OONI's failure strings (data format df-007).

Both vantage points must resolve alike: where the system resolver cannot know a name at either
end (a test farm's names), run with ``system_resolver=False`` on both sides (the CLI's
``--no-system-resolver`` tells the helper too), else the system resolver's NXDOMAIN reads as
tampering.

The control helper runs the same code with an address guard (``guard``) that refuses private
targets: it sees every address a name resolves to, for the first URL and every redirect, and the
connection then goes to exactly those addresses, so a re-resolving name cannot slip past it.

This module holds the orchestration (``measure``, the session that records the phases, the
redirect loop, the guard); each phase has its own module: ``dns`` (1), ``connect`` (2, 3),
``http_client`` (4), and ``failures`` names the errors. The names other modules import
(``MeasureConfig``, ``measure``, ``failure_string``, ``read_exchange``...) stay importable
from here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

from .connect import MAX_HEAD, connect_all, connect_first, tls
from .cookies import CookieJar
from .dns import MAX_ADDRESSES, MAX_DNS_PACKET, resolve
from .failures import failure_string
from .http_client import (
    REQUEST_HEADERS,
    USER_AGENT,
    Exchange,
    body_bytes,
    body_value,
    fetch,
    header_value,
    read_exchange,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "MAX_ADDRESSES",
    "MAX_DNS_PACKET",
    "MAX_HEAD",
    "REDIRECT_CODES",
    "REQUEST_HEADERS",
    "USER_AGENT",
    "AddressGuard",
    "Exchange",
    "MeasureConfig",
    "Measurement",
    "Session",
    "TargetRefused",
    "body_bytes",
    "body_value",
    "failure_string",
    "measure",
    "parse_resolver",
    "read_exchange",
]

DEFAULT_MAX_BODY = 1024 * 1024
REDIRECT_CODES = {301, 302, 303, 307, 308}



class _QuietSslEof(logging.Filter):
    """asyncio warns "returning true from eof_received() has no effect when using ssl" for
    every stream upgraded with start_tls (its stream protocol was created before TLS): noise
    on the probe's stderr, not a problem, since the connection closes at EOF anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received() has no effect when using ssl" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietSslEof())


class TargetRefused(Exception):  # noqa: N818 - a refusal, not an error of ours
    """The address guard refused a target (the helper's protection against SSRF)."""


AddressGuard = Callable[[str], "str | None"]     # ip -> why it is refused, or None


@dataclass
class MeasureConfig:
    resolver: tuple[str, int] | None = None       # the configurable resolver, UDP
    bind: str | None = None                       # source address of every connection
    ca_file: str | None = None                    # extra trust anchors (tests: trustme's CA)
    max_body: int = DEFAULT_MAX_BODY
    dns_timeout: float = 4.0
    tcp_timeout: float = 10.0
    tls_timeout: float = 10.0
    http_timeout: float = 10.0
    max_redirects: int = 10
    system_resolver: bool = True
    guard: AddressGuard | None = None
    asn_lookup: Callable[[str], tuple[int | None, str | None]] | None = None
    http2: bool = True                            # offer ALPN h2 first, as browsers do
    browser_headers: bool = False                 # Chrome's header set instead of the bare one
    _contexts: dict[tuple[bool, bool], ssl.SSLContext] = field(default_factory=dict,
                                                                repr=False)

    def set_timeout(self, seconds: float) -> None:
        """One --timeout for every phase (DNS keeps OONI's shorter 4 s unless lower)."""
        self.dns_timeout = min(4.0, seconds)
        self.tcp_timeout = self.tls_timeout = self.http_timeout = seconds

    def ssl_context(self, verify: bool) -> ssl.SSLContext:
        # One context per kind, shared by every measurement: building one loads the system CA
        # store, which costs milliseconds.
        key = (verify, self.http2)
        if key not in self._contexts:
            if verify:
                ctx = ssl.create_default_context()
                if self.ca_file:
                    ctx.load_verify_locations(cafile=self.ca_file)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            # A CDN may answer h2 and HTTP/1.1 clients differently: offer what a browser does.
            ctx.set_alpn_protocols(["h2", "http/1.1"] if self.http2 else ["http/1.1"])
            self._contexts[key] = ctx
        return self._contexts[key]


@dataclass
class Measurement:
    keys: dict[str, Any]
    transcripts: list[dict[str, Any]]


def parse_resolver(text: str) -> tuple[str, int]:
    """'1.1.1.1:53', '[2001:db8::1]:53' or a bare address (port 53)."""
    text = text.strip()
    host, port = text, "53"
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"bad resolver address {text!r}")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
    except ValueError:
        raise ValueError(f"resolver must be ADDRESS:PORT with an IP address, got {text!r}"
                         ) from None
    if not 0 < number < 65536:
        raise ValueError(f"resolver port out of range in {text!r}")
    return host, number



# ---- the measurement ------------------------------------------------------------------------

async def measure(url: str, config: MeasureConfig | None = None) -> Measurement:
    """Measure ``url`` from this vantage point. Raises TargetRefused if the guard refuses it."""
    session = Session(config or MeasureConfig())
    await session.run(url)
    return Measurement(keys=session.keys(), transcripts=session.transcripts)


class Session:
    """The record of one measurement: what each phase found, in OONI's layout, and the raw
    transcripts for the evidence bundle. The phase modules append to it."""

    def __init__(self, config: MeasureConfig) -> None:
        self.config = config
        self.t0 = time.perf_counter()
        self.queries: list[dict] = []
        self.tcp_connect: list[dict] = []
        self.tls_handshakes: list[dict] = []
        self.requests: list[dict] = []
        self.transcripts: list[dict] = []
        self.failure: str | None = None
        self.final_url: str | None = None
        self.redirects = 0
        self.cookies = CookieJar()          # one jar a measurement: its redirects share it
        self.loop = asyncio.get_running_loop()

    def now(self) -> float:
        return round(time.perf_counter() - self.t0, 6)

    def keys(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "tcp_connect": self.tcp_connect,
            "tls_handshakes": self.tls_handshakes,
            "requests": self.requests,
            "failure": self.failure,
            "x_final_url": self.final_url,
            "x_redirects": self.redirects,
        }

    # -- orchestration

    async def run(self, url: str) -> None:
        visited: set[str] = set()
        first = True
        resolved: dict[str, list[str]] = {}
        while True:
            parts = urlsplit(url)
            host = parts.hostname or ""
            port = parts.port or (443 if parts.scheme == "https" else 80)
            if url in visited:
                self.failure = f"unknown_failure: redirect loop back to {url}"[:200]
                return
            visited.add(url)
            if host not in resolved:
                addresses, dns_failure = await resolve(self, host)
                resolved[host] = addresses
                if not addresses:
                    self.failure = dns_failure or "dns_no_answer"
                    return
            addresses = resolved[host]
            self.check_guard(host, addresses)
            connection = await (connect_all(self, addresses, port) if first
                                else connect_first(self, addresses, port))
            first = False
            if isinstance(connection, str):
                self.failure = connection
                return
            try:
                if parts.scheme == "https":
                    problem = await tls(self, connection, host)
                    if problem:
                        self.failure = problem
                        return
                response = await fetch(self, connection, url, parts)
            finally:
                connection.close()
            self.final_url = url
            if response is None or response.get("failure"):
                self.failure = response["failure"] if response else "unknown_failure"
                return
            code = response["response"]["code"]
            location = header_value(response["response"]["headers_list"], "location")
            if code not in REDIRECT_CODES or location is None:
                return
            target = urljoin(url, location.strip())
            problem = _redirect_problem(target)
            if problem:
                self.failure = problem
                return
            self.redirects += 1
            if self.redirects > self.config.max_redirects:
                self.failure = (f"unknown_failure: stopped after {self.config.max_redirects} "
                                "redirects")
                return
            url = target

    def check_guard(self, host: str, addresses: list[str]) -> None:
        guard = self.config.guard
        if guard is None:
            return
        for ip in addresses:
            why = guard(ip)
            if why:
                name = host if host != ip else "the target"
                raise TargetRefused(f"{name} resolves to {ip}, which is {why}"
                                    if host != ip else f"{name} {ip} is {why}")



def _redirect_problem(target: str) -> str | None:
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "http_invalid_redirect_location_host"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "http_invalid_redirect_location_host"
    return None
