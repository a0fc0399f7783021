"""The control helper (server) and its client.

A cooperating party in another country runs ``sentinelle probe helper --listen ADDR:PORT
--token T``; the probe asks it to fetch each URL and compares. The helper answers with the same
measurement structure as the probe's (``measure.py``) plus its own identity.

API (JSON over HTTP/1.1 — over TLS 1.2+ when started with ``--tls-cert`` and ``--tls-key``,
which the probe can pin, see ``tls_pin`` — ``Authorization: Bearer T`` on every call):

- ``POST /v1/measure`` ``{"url": "https://…", "resolver": "1.1.1.1:53" | null,
  "system_resolver": bool, "http2": bool, "browser_headers": bool}`` (the last three
  optional) → ``{"measurement": {...test keys...}, "transcripts": [...], "fetch": {"http2":
  …, "browser_headers": …} (how it fetched), "vantage": {...}, "client_ip": "…"}``; 403
  ``{"error": …}`` when the target is refused;
- ``GET /v1/identity`` → ``{"vantage": {...}, "client_ip": <the caller as seen here>, ...}``.

Because it fetches what it is told, the helper is an SSRF risk for the network it runs in. It
refuses loopback, private, link-local, multicast, reserved and other non-public addresses — for
the resolver asked for, for every address a name resolves to, and for every redirect target —
unless ``--allow-private`` (or an ``--allow-net`` CIDR covers them). Requests are rate-limited
per client address (an IPv6 /64 counts as one; token bucket, 429), their size capped (413) and
concurrent measurements bounded.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sentinelle import __version__
from sentinelle.observatory.access import measure as m
from sentinelle.observatory.access import tls_pin
from sentinelle.observatory.access.targets import check_url

SOFTWARE = "sentinelle-probe-helper"
MAX_REQUEST_HEAD = 16 * 1024
MAX_REQUEST_BODY = 16 * 1024       # a URL and a resolver address; nothing legitimate is larger
READ_TIMEOUT = 10.0                # a client that trickles its request is dropped (slowloris)
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large",
           429: "Too Many Requests", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


def address_problem(ip: str, *, allow_private: bool = False,
                    allow_nets: tuple[ipaddress._BaseNetwork, ...] = ()) -> str | None:
    """Why the helper must not connect to ``ip`` (None if it may)."""
    try:
        address = ipaddress.ip_address(ip.split("%")[0])
    except ValueError:
        return "not an IP address"
    if isinstance(address, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 and 2002:7f00:1:: reach IPv4 targets: judge the IPv4 inside.
        inner = address.ipv4_mapped or address.sixtofour
        if inner is not None:
            address = inner
    if any(address.version == net.version and address in net for net in allow_nets):
        return None
    if allow_private:
        return None
    for test, name in (("is_unspecified", "unspecified"), ("is_loopback", "loopback"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_reserved", "reserved"), ("is_private", "private"),
                       # fec0::/10: deprecated but still routed inside some networks, and
                       # "global" for Python's ipaddress.
                       ("is_site_local", "site-local")):
        if getattr(address, test, False):
            return f"a {name} address"
    if not address.is_global:
        return "not a public address"
    return None


def rate_key(client: str) -> str:
    """The rate-limit bucket of a client address: an IPv6 client's whole /64 (one subscriber
    or server has 2**64 addresses to rotate through), an IPv4 one's own address."""
    try:
        address = ipaddress.ip_address(client.split("%")[0])
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


class TokenBucket:
    """Per-client token bucket: ``rate`` requests a minute, bursts up to ``burst``."""

    def __init__(self, per_minute: float, burst: int | None = None) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, min(int(per_minute), 120)))
        self.buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str) -> float:
        """0 if allowed, else seconds until the next request would be."""
        now = time.monotonic()
        tokens, last = self.buckets.get(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > 10_000:      # forget idle clients; bounded memory
                self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < 120}
            return 0.0
        self.buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate if self.rate else 60.0


@dataclass
class HelperConfig:
    listen: tuple[str, int]
    token: str
    bind: str | None = None
    allow_private: bool = False
    allow_nets: tuple[ipaddress._BaseNetwork, ...] = ()
    rate_per_minute: float = 600.0
    max_body: int = m.DEFAULT_MAX_BODY
    timeout: float = 10.0
    resolver: tuple[str, int] | None = None       # used when the probe names none
    ca_file: str | None = None
    max_concurrent: int = 32
    vantage: dict[str, Any] = field(default_factory=dict)
    asn_lookup: Any = None
    tls_cert: str | None = None                   # PEM certificate (chain); with tls_key: HTTPS
    tls_key: str | None = None


class HelperServer:
    def __init__(self, config: HelperConfig) -> None:
        if not config.token or len(config.token) < 8:
            raise ValueError("the helper needs a token of at least 8 characters")
        self.config = config
        self.bucket = TokenBucket(config.rate_per_minute)
        self.slots = asyncio.Semaphore(config.max_concurrent)
        self.server: asyncio.base_events.Server | None = None
        self.token = config.token.encode()
        # Checked here, before listening: a bad certificate or key stops the start (TLSFileError
        # names the file), never a probe's handshake later.
        self.tls: ssl.SSLContext | None = None
        if config.tls_cert or config.tls_key:
            self.tls = tls_pin.server_context(config.tls_cert, config.tls_key)
        # TLS contexts shared by every measurement: building one loads the system CA store
        # (tens of milliseconds), which would otherwise dominate the helper's CPU time.
        self.contexts: dict = {}

    async def start(self) -> tuple[str, int]:
        host, port = self.config.listen
        self.server = await asyncio.start_server(
            self.handle, host, port, limit=MAX_REQUEST_HEAD, ssl=self.tls,
            ssl_handshake_timeout=READ_TIMEOUT if self.tls else None)
        sockname = self.server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    async def serve_forever(self) -> None:
        if self.server is None:
            await self.start()
        assert self.server is not None
        async with self.server:
            await self.server.serve_forever()

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def guard(self, ip: str) -> str | None:
        return address_problem(ip, allow_private=self.config.allow_private,
                               allow_nets=self.config.allow_nets)

    # -- HTTP plumbing

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("?", 0)
        try:
            status, payload, extra = await self.dispatch(reader, writer, peer[0])
        except Exception as exc:  # noqa: BLE001 - answer, never crash the server
            status, payload, extra = 500, {"error": f"internal error: {type(exc).__name__}"}, []
        try:
            body = json.dumps(payload, ensure_ascii=False).encode()
            head = (f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    f"Server: {SOFTWARE}\r\nConnection: close\r\n"
                    + "".join(f"{k}: {v}\r\n" for k, v in extra) + "\r\n").encode()
            writer.write(head + body)
            await asyncio.wait_for(writer.drain(), READ_TIMEOUT * 6)
        except Exception:  # noqa: BLE001, S110 - the client went away
            pass
        finally:
            writer.close()

    async def dispatch(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       client: str) -> tuple[int, dict, list[tuple[str, str]]]:
        try:
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        except (asyncio.LimitOverrunError, ValueError):
            return 431, {"error": f"request head larger than {MAX_REQUEST_HEAD} bytes"}, []
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return 400, {"error": "incomplete request"}, []
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return 400, {"error": "not an HTTP/1.x request"}, []
        method, target = parts[0], parts[1]
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        wait = self.bucket.take(rate_key(client))
        if wait:
            return 429, {"error": f"rate limit of {self.config.rate_per_minute:g} requests a "
                                  f"minute exceeded; retry in {wait:.1f} s"}, \
                [("Retry-After", str(max(1, round(wait))))]
        length_text = headers.get("content-length", "0")
        # ASCII digits only (isdigit() alone takes "²"), and short: int() refuses 4300+ digits.
        if not (length_text.isascii() and length_text.isdigit()):
            return 400, {"error": "bad Content-Length"}, []
        length = int(length_text) if len(length_text) <= 9 else MAX_REQUEST_BODY + 1
        if length > MAX_REQUEST_BODY or "chunked" in headers.get("transfer-encoding", ""):
            return 413, {"error": f"request body larger than {MAX_REQUEST_BODY} bytes"}, []
        if not self.authorised(headers.get("authorization", "")):
            return 401, {"error": "missing or wrong bearer token"}, \
                [("WWW-Authenticate", 'Bearer realm="sentinelle-probe-helper"')]
        try:
            body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return 400, {"error": "incomplete request body"}, []
        path = urlsplit(target).path
        sockname = writer.get_extra_info("sockname") or ("", 0)
        if path == "/v1/identity":
            if method != "GET":
                return 405, {"error": "use GET"}, [("Allow", "GET")]
            return 200, self.identity(client, sockname[0]), []
        if path == "/v1/measure":
            if method != "POST":
                return 405, {"error": "use POST"}, [("Allow", "POST")]
            return await self.measure(body, client, sockname[0])
        return 404, {"error": f"no such endpoint {path}"}, []

    def authorised(self, value: str) -> bool:
        scheme, _, token = value.partition(" ")
        # compare_digest: the time taken does not tell how much of the token was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(),
                                                                  self.token)

    # -- endpoints

    def identity(self, client: str, local_ip: str) -> dict[str, Any]:
        vantage = dict(self.config.vantage)
        if not vantage.get("ip"):
            vantage["ip"] = self.config.bind or local_ip
        return {"software": SOFTWARE, "version": __version__, "vantage": vantage,
                "client_ip": client,
                "policy": {"allow_private": self.config.allow_private,
                           "allow_nets": [str(n) for n in self.config.allow_nets],
                           "rate_per_minute": self.config.rate_per_minute,
                           "max_body": self.config.max_body}}

    async def measure(self, body: bytes, client: str,
                      local_ip: str) -> tuple[int, dict, list[tuple[str, str]]]:
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return 400, {"error": "body is not JSON"}, []
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            return 400, {"error": 'body must be {"url": "...", "resolver": optional}'}, []
        url = request["url"]
        problem = check_url(url)
        if problem:
            return 400, {"error": problem}, []
        resolver = self.config.resolver
        if request.get("resolver"):
            try:
                resolver = m.parse_resolver(str(request["resolver"]))
            except ValueError as exc:
                return 400, {"error": str(exc)}, []
            why = self.guard(resolver[0])
            if why:
                return 403, {"error": f"refused: resolver {resolver[0]} is {why}"}, []
        # The probe may turn the system resolver off (both sides must query alike); it can
        # never turn the configurable one off without naming another.
        system = request.get("system_resolver", True) is not False
        if not system and resolver is None:
            return 400, {"error": "system_resolver false needs a resolver"}, []
        # Fetch as the probe fetched (protocol preference, header set), else the two answers
        # are not comparable; absent options keep the defaults (an older probe).
        fetch = {"http2": request.get("http2", True), "browser_headers":
                 request.get("browser_headers", False)}
        for name, value in fetch.items():
            if not isinstance(value, bool):
                return 400, {"error": f"{name} must be true or false"}, []
        config = m.MeasureConfig(resolver=resolver, bind=self.config.bind,
                                 ca_file=self.config.ca_file, max_body=self.config.max_body,
                                 guard=self.guard, asn_lookup=self.config.asn_lookup,
                                 system_resolver=system, _contexts=self.contexts, **fetch)
        config.set_timeout(self.config.timeout)
        # Bound the whole fetch: 11 hops of every phase at most.
        budget = (config.dns_timeout + config.tcp_timeout + config.tls_timeout
                  + config.http_timeout) * (config.max_redirects + 1)
        async with self.slots:
            try:
                result = await asyncio.wait_for(m.measure(url, config), budget)
            except m.TargetRefused as exc:
                return 403, {"error": f"refused: {exc}"}, []
            except TimeoutError:
                return 503, {"error": "measurement took too long"}, []
        return 200, {"measurement": result.keys, "transcripts": result.transcripts,
                     "fetch": fetch, "vantage": self.identity(client, local_ip)["vantage"],
                     "client_ip": client, "software": SOFTWARE, "version": __version__}, []


# ---- client ---------------------------------------------------------------------------------

class ControlError(Exception):
    """The control helper could not be asked; the message names why (it becomes the reason
    of an ``inconclusive`` verdict)."""


class PinMismatch(ControlError):
    """The helper presented a public key other than the pinned one(s): nothing was sent."""


class ControlClient:
    """Asks a control helper; every failure is a ControlError with a readable reason."""

    def __init__(self, url: str, token: str, *, bind: str | None = None,
                 timeout: float = 10.0, ca_file: str | None = None,
                 max_body: int = m.DEFAULT_MAX_BODY, pins: list[str] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"control URL must be http(s)://HOST:PORT, got {url!r}")
        # ``pins``: tls_pin.parse_pins forms (ValueError names a bad one); any one may match.
        self.pins = [d for text in pins or [] for d in tls_pin.parse_pins(text)]
        if self.pins and parts.scheme != "https":
            raise ValueError(f"--control-pin needs an https:// control URL; {url} is plain "
                             "HTTP, which a pin cannot protect")
        self.url = url.rstrip("/")
        self.parts = parts
        self.token = token
        self.bind = bind
        self.timeout = timeout
        # A measurement holds up to 11 bodies, JSON-escaped: room for that, not more.
        self.cap = max_body * 24 + 4 * 1024 * 1024
        self.ssl: ssl.SSLContext | None = None
        if self.pins:
            self.ssl = tls_pin.client_context()
        elif parts.scheme == "https":
            self.ssl = ssl.create_default_context()
            self.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
            if ca_file:
                self.ssl.load_verify_locations(cafile=ca_file)
        base_path = parts.path.rstrip("/")
        self.base_path = base_path

    async def identity(self) -> dict[str, Any]:
        return await self.call("GET", "/v1/identity", None, self.timeout * 2)

    async def measure(self, url: str, resolver: str | None = None,
                      measure_timeout: float = 10.0, *,
                      system_resolver: bool = True, http2: bool = True,
                      browser_headers: bool = False) -> dict[str, Any]:
        budget = measure_timeout * 4 * 11 + self.timeout
        payload: dict[str, Any] = {"url": url, "resolver": resolver}
        if not system_resolver:
            payload["system_resolver"] = False
        # Always sent: a helper that knows them fetches the same way and echoes them in
        # "fetch"; an older one ignores them (its answer then has no "fetch").
        payload["http2"] = http2
        payload["browser_headers"] = browser_headers
        return await self.call("POST", "/v1/measure", payload, budget)

    async def call(self, method: str, path: str, payload: dict | None,
                   budget: float) -> dict[str, Any]:
        host = self.parts.hostname or ""
        port = self.parts.port or (443 if self.ssl else 80)
        body = json.dumps(payload).encode() if payload is not None else b""
        host_header = f"[{host}]" if ":" in host else host
        head = (f"{method} {self.base_path}{path} HTTP/1.1\r\nHost: {host_header}:{port}\r\n"
                f"Authorization: Bearer {self.token}\r\nUser-Agent: sentinelle-probe\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n").encode()
        local = (self.bind, 0) if self.bind else None
        try:
            _check_family(local, host)
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, ssl=self.ssl, local_addr=local,
                                        server_hostname=host if self.ssl else None,
                                        limit=m.MAX_HEAD),
                self.timeout)
        except Exception as exc:  # noqa: BLE001
            raise ControlError(f"control helper {self.url} unreachable: "
                               f"{m.failure_string(exc)}") from None
        if self.pins:
            self.check_pin(writer)          # before a byte of the request (the token) is sent
        try:
            exchange = await m.read_exchange(reader, writer, head + body, timeout=budget,
                                             max_body=self.cap)
        finally:
            writer.close()
        if exchange.failure:
            raise ControlError(f"control helper {self.url} failed to answer: {exchange.failure}")
        if exchange.truncated:
            raise ControlError(f"control helper {self.url} answer larger than {self.cap} bytes")
        try:
            answer = json.loads(exchange.body)
        except ValueError:
            raise ControlError(f"control helper {self.url} answered {exchange.code} "
                               "with something that is not JSON") from None
        except RecursionError:      # [[[[... deeper than the interpreter's stack
            raise ControlError(f"control helper {self.url} answered {exchange.code} with "
                               "JSON nested too deeply") from None
        if exchange.code != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            raise ControlError(f"control helper {self.url} answered {exchange.code}: "
                               f"{error or exchange.reason}")
        if not isinstance(answer, dict):
            raise ControlError(f"control helper {self.url} answer is not a JSON object")
        if path == "/v1/measure" and not isinstance(answer.get("measurement"), dict):
            raise ControlError(f"control helper {self.url} answer has no measurement")
        return answer

    def check_pin(self, writer: asyncio.StreamWriter) -> None:
        try:
            received = tls_pin.peer_pin(writer.get_extra_info("ssl_object"))
        except ValueError:
            received = None
        if received in self.pins:
            return
        writer.close()
        expected = " or ".join(tls_pin.format_pin(d) for d in self.pins)
        raise PinMismatch(
            f"control helper {self.url} presented a certificate whose public key pin is "
            f"{tls_pin.format_pin(received) if received else 'unknown (no certificate)'}, "
            f"not the expected {expected} (--control-pin); nothing was sent to it")


def _check_family(local: tuple[str, int] | None, host: str) -> None:
    if local is None:
        return
    try:
        if ipaddress.ip_address(local[0]).version != ipaddress.ip_address(host).version:
            raise OSError(97, "bind address and control helper are of different IP families")
    except ValueError:
        return
