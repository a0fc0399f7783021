"""One URL measured from one vantage point, the way OONI's Web Connectivity does it, on asyncio.

Phases, each with its own timeout (OONI's: DNS 4 s, TCP 10 s, TLS 10 s, HTTP 10 s):

1. DNS A/AAAA through the system resolver (``getaddrinfo``) and through one configurable
   resolver over UDP (dnslib), so a lying ISP resolver shows against an independent one;
2. a TCP connect to each address found (bounded), from ``bind`` if given;
3. for https, a TLS handshake that verifies the certificate and keeps the chain; when
   verification fails the chain is fetched again without verification so the evidence holds it;
4. an HTTP/1.1 GET written here on asyncio streams (we need the raw request and response heads
   for the evidence, and control over every byte read), following up to 10 redirects, the body
   cut at ``max_body``.

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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import dnslib

USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/119.0.0.0 Safari/537.36")
REQUEST_HEADERS = [
    ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
    ("Accept-Language", "en-US,en;q=0.9"),
    ("User-Agent", USER_AGENT),
]
DEFAULT_MAX_BODY = 1024 * 1024
MAX_HEAD = 64 * 1024            # a response head larger than this is not a web page
MAX_ADDRESSES = 8               # TCP connects per host name (OONI tests every address; bound it)
REDIRECT_CODES = {301, 302, 303, 307, 308}
MAX_DNS_PACKET = 65535


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
    _contexts: dict[bool, ssl.SSLContext] = field(default_factory=dict, repr=False)

    def set_timeout(self, seconds: float) -> None:
        """One --timeout for every phase (DNS keeps OONI's shorter 4 s unless lower)."""
        self.dns_timeout = min(4.0, seconds)
        self.tcp_timeout = self.tls_timeout = self.http_timeout = seconds

    def ssl_context(self, verify: bool) -> ssl.SSLContext:
        # One context per kind, shared by every measurement: building one loads the system CA
        # store, which costs milliseconds.
        if verify not in self._contexts:
            if verify:
                ctx = ssl.create_default_context()
                if self.ca_file:
                    ctx.load_verify_locations(cafile=self.ca_file)
            else:
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.set_alpn_protocols(["http/1.1"])    # the only protocol this client speaks
            self._contexts[verify] = ctx
        return self._contexts[verify]


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


# ---- failure strings ------------------------------------------------------------------------

_ERRNO_FAILURES = {
    errno.ECONNREFUSED: "connection_refused",
    errno.ECONNRESET: "connection_reset",
    errno.ECONNABORTED: "connection_aborted",
    errno.EHOSTUNREACH: "host_unreachable",
    errno.ENETUNREACH: "network_unreachable",
    errno.ENETDOWN: "network_down",
    errno.ENETRESET: "network_reset",
    errno.ETIMEDOUT: "generic_timeout_error",
    errno.EPIPE: "connection_reset",
    errno.EAFNOSUPPORT: "address_family_not_supported_error",
}
_GAI_FAILURES = {
    socket.EAI_NONAME: "dns_nxdomain_error",
    socket.EAI_AGAIN: "dns_temporary_failure",
    socket.EAI_FAIL: "dns_non_recoverable_failure",
}
if hasattr(socket, "EAI_NODATA"):
    _GAI_FAILURES[socket.EAI_NODATA] = "dns_no_answer"
_RCODE_FAILURES = {2: "dns_servfail_error", 3: "dns_nxdomain_error", 5: "dns_refused_error"}
# OpenSSL verify codes (x509_vfy.h) -> OONI's names.
_UNKNOWN_AUTHORITY = {2, 18, 19, 20, 21, 27}


def failure_string(exc: BaseException) -> str:
    """OONI df-007 failure string for an exception."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "generic_timeout_error"
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", 0)
        if code == 62 or "hostname mismatch" in str(exc).lower():
            return "ssl_invalid_hostname"
        if code in _UNKNOWN_AUTHORITY:
            return "ssl_unknown_authority"
        return "ssl_invalid_certificate"
    if isinstance(exc, ssl.SSLEOFError):
        return "eof_error"
    if isinstance(exc, ssl.SSLError):
        return "ssl_failed_handshake"
    if isinstance(exc, asyncio.IncompleteReadError | EOFError):
        return "eof_error"
    if isinstance(exc, socket.gaierror):
        return _GAI_FAILURES.get(exc.errno, "dns_server_misbehaving")
    if isinstance(exc, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(exc, ConnectionResetError):
        return "connection_reset"
    if isinstance(exc, ConnectionAbortedError):
        return "connection_aborted"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_FAILURES:
        return _ERRNO_FAILURES[exc.errno]
    return f"unknown_failure: {type(exc).__name__}: {exc}"[:200]


# ---- the measurement ------------------------------------------------------------------------

async def measure(url: str, config: MeasureConfig | None = None) -> Measurement:
    """Measure ``url`` from this vantage point. Raises TargetRefused if the guard refuses it."""
    session = _Session(config or MeasureConfig())
    await session.run(url)
    return Measurement(keys=session.keys(), transcripts=session.transcripts)


class _Connection:
    __slots__ = ("reader", "writer", "ip", "port")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 ip: str, port: int) -> None:
        self.reader, self.writer, self.ip, self.port = reader, writer, ip, port

    def close(self) -> None:
        with contextlib.suppress(Exception):   # a dead connection: nothing to report
            self.writer.close()


class _Session:
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
                addresses, dns_failure = await self.resolve(host)
                resolved[host] = addresses
                if not addresses:
                    self.failure = dns_failure or "dns_no_answer"
                    return
            addresses = resolved[host]
            self.check_guard(host, addresses)
            connection = await (self.connect_all(addresses, port) if first
                                else self.connect_first(addresses, port))
            first = False
            if isinstance(connection, str):
                self.failure = connection
                return
            try:
                if parts.scheme == "https":
                    problem = await self.tls(connection, host)
                    if problem:
                        self.failure = problem
                        return
                response = await self.http(connection, url, parts)
            finally:
                connection.close()
            self.final_url = url
            if response is None or response.get("failure"):
                self.failure = response["failure"] if response else "unknown_failure"
                return
            code = response["response"]["code"]
            location = _header(response["response"]["headers_list"], "location")
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

    # -- DNS

    async def resolve(self, host: str) -> tuple[list[str], str | None]:
        """Addresses for the fetch and the first DNS failure. The system resolver's answer is
        what users of this network get, so it is used first; the configurable resolver's answer
        is used when the system one fails (the control helper still needs to fetch) and both
        are TCP-tested (first hop) so a lie shows up as a difference."""
        try:
            ipaddress.ip_address(host)
            return [host], None
        except ValueError:
            pass
        tasks = []
        if self.config.system_resolver:
            tasks.append(self.system_dns(host))
        if self.config.resolver:
            tasks.append(self.udp_dns(host))
        if not tasks:
            return [], "dns_server_misbehaving"
        results = await asyncio.gather(*tasks)
        ordered: list[str] = []
        # The union is TCP-tested; the preferred (first) resolver's addresses come first.
        for addresses, _problem in results:
            ordered += [a for a in addresses if a not in ordered]
        if not ordered:
            return [], next((problem for _a, problem in results if problem), None)
        usable = self.usable(ordered)
        if not usable:
            return [], "address_family_not_supported_error"
        return usable, None

    def usable(self, addresses: list[str]) -> list[str]:
        """Addresses reachable from the bind address's family, bounded."""
        if self.config.bind:
            family = ipaddress.ip_address(self.config.bind).version
            addresses = [a for a in addresses if ipaddress.ip_address(a).version == family]
        return addresses[:MAX_ADDRESSES]

    def _answer(self, kind: str, value: str, ttl: int | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"answer_type": kind, "ttl": ttl}
        if kind == "A":
            answer["ipv4"] = value
        elif kind == "AAAA":
            answer["ipv6"] = value
        else:
            answer["hostname"] = value
        asn = org = None
        if kind in ("A", "AAAA") and self.config.asn_lookup:
            asn, org = self.config.asn_lookup(value)
        answer["asn"], answer["as_org_name"] = asn, org
        return answer

    async def system_dns(self, host: str) -> tuple[list[str], str | None]:
        start = self.now()
        failure = None
        v4: list[str] = []
        v6: list[str] = []
        try:
            infos = await asyncio.wait_for(
                self.loop.getaddrinfo(host, None, type=socket.SOCK_STREAM),
                self.config.dns_timeout)
            for family, _type, _proto, _name, sockaddr in infos:
                target = v4 if family == socket.AF_INET else v6
                if sockaddr[0] not in target:
                    target.append(sockaddr[0])
        except Exception as exc:  # noqa: BLE001 - every failure is data here
            failure = failure_string(exc)
        if failure is None and not v4 and not v6:
            failure = "dns_no_answer"
        end = self.now()
        for qtype, found in (("A", v4), ("AAAA", v6)):
            self.queries.append({
                "hostname": host, "query_type": qtype, "engine": "system",
                "resolver_address": "", "resolver_hostname": None, "resolver_port": None,
                "failure": failure, "answers": [self._answer(qtype, a) for a in found],
                "t0": start, "t": end})
        return v4 + v6, failure

    async def udp_dns(self, host: str) -> tuple[list[str], str | None]:
        results = await asyncio.gather(self.udp_query(host, "A"), self.udp_query(host, "AAAA"))
        addresses = [a for found, _f in results for a in found]
        failures = [f for _found, f in results if f]
        if addresses:
            return addresses, None
        return [], failures[0] if failures else "dns_no_answer"

    async def udp_query(self, host: str, qtype: str) -> tuple[list[str], str | None]:
        assert self.config.resolver is not None
        server, port = self.config.resolver
        query = dnslib.DNSRecord.question(host, qtype)
        packet = query.pack()
        start = self.now()
        raw: bytes | None = None
        failure: str | None = None
        answers: list[dict] = []
        found: list[str] = []
        transport = None
        try:
            future: asyncio.Future[bytes] = self.loop.create_future()
            local = None
            if self.config.bind and (ipaddress.ip_address(self.config.bind).version
                                     == ipaddress.ip_address(server).version):
                local = (self.config.bind, 0)
            transport, _protocol = await self.loop.create_datagram_endpoint(
                lambda: _DnsProtocol(future, query.header.id), remote_addr=(server, port),
                local_addr=local)
            transport.sendto(packet)
            raw = await asyncio.wait_for(future, self.config.dns_timeout)
            reply = dnslib.DNSRecord.parse(raw)
            rcode = reply.header.rcode
            if rcode:
                failure = _RCODE_FAILURES.get(rcode, "dns_server_misbehaving")
            for rr in reply.rr:
                rtype = dnslib.QTYPE.get(rr.rtype)
                value = str(rr.rdata)
                if rtype in ("A", "AAAA"):
                    if rtype == qtype:
                        found.append(value)
                    answers.append(self._answer(rtype, value, rr.ttl))
                elif rtype == "CNAME":
                    answers.append(self._answer("CNAME", value.rstrip("."), rr.ttl))
        except Exception as exc:  # noqa: BLE001 - every failure is data here
            failure = failure_string(exc) if not isinstance(exc, dnslib.DNSError) \
                else "dns_server_misbehaving"
        finally:
            if transport is not None:
                transport.close()
        address = f"[{server}]:{port}" if ":" in server else f"{server}:{port}"
        entry = {"hostname": host, "query_type": qtype, "engine": "udp",
                 "resolver_address": address, "resolver_hostname": None,
                 "resolver_port": str(port), "failure": failure, "answers": answers,
                 "raw_response": base64.b64encode(raw).decode() if raw else None,
                 "t0": start, "t": self.now()}
        self.queries.append(entry)
        self.transcripts.append({"type": "dns", "engine": "udp", "resolver": address,
                                 "hostname": host, "query_type": qtype,
                                 "query": base64.b64encode(packet).decode(),
                                 "response": entry["raw_response"], "failure": failure,
                                 "t0": start, "t": entry["t"]})
        return found, failure

    # -- TCP

    async def open(self, ip: str, port: int) -> _Connection | str:
        start = self.now()
        local = (self.config.bind, 0) if self.config.bind else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, local_addr=local, limit=MAX_HEAD),
                self.config.tcp_timeout)
            result: _Connection | str = _Connection(reader, writer, ip, port)
            failure = None
        except Exception as exc:  # noqa: BLE001
            result = failure = failure_string(exc)
        self.tcp_connect.append({"ip": ip, "port": port,
                                 "status": {"success": failure is None, "failure": failure,
                                            "blocked": None},
                                 "t0": start, "t": self.now()})
        return result

    async def connect_all(self, addresses: list[str], port: int) -> _Connection | str:
        """Connect to every address in parallel (OONI tests each one); keep the first that
        worked, in resolver order, for the fetch."""
        results = await asyncio.gather(*(self.open(ip, port) for ip in addresses))
        chosen: _Connection | str | None = None
        for result in results:
            if isinstance(result, _Connection):
                if chosen is None or isinstance(chosen, str):
                    chosen = result
                else:
                    result.close()
            elif chosen is None:
                chosen = result
        return chosen if chosen is not None else "dns_no_answer"

    async def connect_first(self, addresses: list[str], port: int) -> _Connection | str:
        failure = "dns_no_answer"
        for ip in addresses:
            result = await self.open(ip, port)
            if isinstance(result, _Connection):
                return result
            failure = result
        return failure

    # -- TLS

    async def tls(self, connection: _Connection, host: str) -> str | None:
        start = self.now()
        address = _address(connection.ip, connection.port)
        entry: dict[str, Any] = {
            "network": "tcp", "address": address, "server_name": host, "failure": None,
            "peer_certificates": [], "tls_version": "", "cipher_suite": "",
            "negotiated_protocol": "", "no_tls_verify": False, "t0": start}
        try:
            await asyncio.wait_for(
                connection.writer.start_tls(self.config.ssl_context(True), server_hostname=host,
                                            ssl_handshake_timeout=self.config.tls_timeout),
                self.config.tls_timeout + 1)
            _describe_tls(entry, connection.writer.get_extra_info("ssl_object"))
        except Exception as exc:  # noqa: BLE001
            entry["failure"] = failure_string(exc)
            if isinstance(exc, ssl.SSLCertVerificationError):
                # Keep the certificate that failed: it is the evidence (an interception proxy's
                # certificate names who intercepts).
                await self.fetch_chain(entry, connection.ip, connection.port, host)
        entry["t"] = self.now()
        self.tls_handshakes.append(entry)
        self.transcripts.append({"type": "tls", "address": address, "server_name": host,
                                 "failure": entry["failure"],
                                 "tls_version": entry["tls_version"],
                                 "cipher_suite": entry["cipher_suite"],
                                 "peer_certificates_der_base64":
                                     [c["data"] for c in entry["peer_certificates"]],
                                 "t0": start, "t": entry["t"]})
        return entry["failure"]

    async def fetch_chain(self, entry: dict, ip: str, port: int, host: str) -> None:
        local = (self.config.bind, 0) if self.config.bind else None
        writer = None
        try:
            _reader, writer = await asyncio.wait_for(
                asyncio.open_connection(ip, port, local_addr=local,
                                        ssl=self.config.ssl_context(False), server_hostname=host,
                                        ssl_handshake_timeout=self.config.tls_timeout),
                self.config.tcp_timeout + self.config.tls_timeout)
            _describe_tls(entry, writer.get_extra_info("ssl_object"))
        except Exception:  # noqa: BLE001, S110 - the failure of the verified handshake is recorded
            pass
        finally:
            if writer is not None:
                writer.close()

    # -- HTTP

    async def http(self, connection: _Connection, url: str, parts) -> dict[str, Any]:
        start = self.now()
        host = parts.hostname or ""
        default_port = 443 if parts.scheme == "https" else 80
        host_header = f"[{host}]" if ":" in host else host
        if parts.port and parts.port != default_port:
            host_header += f":{parts.port}"
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = [("Host", host_header), *REQUEST_HEADERS]
        head = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        head += "Accept-Encoding: identity\r\nConnection: close\r\n\r\n"
        request_head = head.encode("latin-1", "replace")
        entry: dict[str, Any] = {
            "network": "tcp", "address": _address(connection.ip, connection.port),
            "alpn": "http/1.1" if parts.scheme == "https" else "",
            "failure": None,
            "request": {"method": "GET", "url": url, "headers_list": [list(h) for h in headers],
                        "headers": dict(headers), "body": "", "body_is_truncated": False,
                        "x_transport": "tcp"},
            "response": {"code": 0, "headers_list": [], "headers": {}, "body": "",
                         "body_is_truncated": False, "body_length": 0},
            "t0": start}
        exchange = await read_exchange(connection.reader, connection.writer, request_head,
                                       timeout=self.config.http_timeout,
                                       max_body=self.config.max_body)
        entry["failure"] = exchange.failure
        if exchange.code:
            entry["response"] = {
                "code": exchange.code, "headers_list": [list(h) for h in exchange.headers],
                "headers": dict(exchange.headers), "body": body_value(exchange.body),
                "body_is_truncated": exchange.truncated, "body_length": len(exchange.body)}
        entry["t"] = self.now()
        self.requests.insert(0, entry)      # newest first, as OONI writes them
        self.transcripts.append({
            "type": "http", "address": entry["address"], "url": url,
            "raw_encoding": "latin-1",
            "request_head": request_head.decode("latin-1"),
            "response_head": exchange.raw_head.decode("latin-1"),
            "body_bytes_read": len(exchange.body), "body_is_truncated": exchange.truncated,
            "failure": exchange.failure, "t0": start, "t": entry["t"]})
        return entry


class _DnsProtocol(asyncio.DatagramProtocol):
    def __init__(self, future: asyncio.Future, query_id: int) -> None:
        self.future, self.query_id = future, query_id

    def datagram_received(self, data: bytes, addr) -> None:
        # Only the answer to our query id counts: an off-path spoofer must also guess it.
        if self.future.done() or len(data) < 2 or int.from_bytes(data[:2], "big") != self.query_id:
            return
        self.future.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.future.done():
            self.future.set_exception(exc)


# ---- HTTP/1.1 on streams (also used by the control client) ----------------------------------

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
                        request: bytes, *, timeout: float, max_body: int) -> Exchange:
    """Send ``request`` (head and body) and read one response, body cut at ``max_body``.
    Never raises: failures are in ``Exchange.failure`` with what was read so far."""
    result = Exchange()
    try:
        async with asyncio.timeout(timeout):
            writer.write(request)
            await writer.drain()
            while True:
                try:
                    raw = await reader.readuntil(b"\r\n\r\n")
                except asyncio.LimitOverrunError:
                    result.failure = f"unknown_failure: response head larger than {MAX_HEAD} bytes"
                    return result
                result.raw_head += raw
                code, reason, headers = _parse_head(raw)
                if 100 <= code < 200 and code != 101:
                    continue                 # 100 Continue and friends precede the real answer
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
        encoding = (_header(result.headers, "transfer-encoding") or "").lower()
        length = _header(result.headers, "content-length")
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


# ---- small helpers --------------------------------------------------------------------------

def _header(headers: list, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def _address(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _redirect_problem(target: str) -> str | None:
    try:
        parts = urlsplit(target)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        return "http_invalid_redirect_location_host"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "http_invalid_redirect_location_host"
    return None


def _describe_tls(entry: dict, ssl_object: Any) -> None:
    if ssl_object is None:
        return
    entry["tls_version"] = ssl_object.version() or ""
    cipher = ssl_object.cipher()
    entry["cipher_suite"] = cipher[0] if cipher else ""
    entry["negotiated_protocol"] = ssl_object.selected_alpn_protocol() or ""
    certificates: list[bytes] = []
    inner = getattr(ssl_object, "_sslobj", None)
    chain = getattr(inner, "get_unverified_chain", None) or getattr(
        ssl_object, "get_unverified_chain", None)
    if chain is not None:
        try:
            certificates = [c.public_bytes(ssl._ssl.ENCODING_DER) for c in chain() or []]
        except Exception:  # noqa: BLE001 - fall back to the leaf below
            certificates = []
    if not certificates:
        leaf = ssl_object.getpeercert(binary_form=True)
        certificates = [leaf] if leaf else []
    entry["peer_certificates"] = [{"format": "base64", "data": base64.b64encode(c).decode()}
                                  for c in certificates]
