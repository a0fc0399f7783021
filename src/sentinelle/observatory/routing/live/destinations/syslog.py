"""``syslog:HOST:PORT`` (UDP) and ``syslog+tcp:HOST:PORT``: one RFC 5424 message per event.

    <PRI>1 2026-12-02T10:21:33.123Z host sentinelle-routing 4242 raised
        [sentinelle@32473 id="..." key="..." type="E|0" prefix="198.18.0.0/16" ...] {json}

(one line). PRI = facility * 8 + severity; facility local0 unless ``--syslog-facility``.
Severity: raised = warning (4), or error (3) when the confidence level is high; resolved and
feed-restored = notice (5); feed-lost = error (3); muted/unmuted = informational (6).
MSGID is the event kind; the structured data carries the fields a SIEM filters on (SD-ID under
the IANA enterprise number 32473 reserved for documentation, RFC 5612); MSG is the event's JSON.

UDP datagrams are capped at 2048 bytes (RFC 5424 receivers must accept 480, should accept 2048):
when the JSON does not fit, MSG becomes a one-line summary (the structured data still says what
happened). UDP gives no acknowledgement: "delivered" means the datagram left; only an ICMP
refusal seen on the socket is retried. TCP uses RFC 6587 octet counting (``LEN SP MSG``), one
connection per message (alerts are rare), and counts as delivered once the whole message was
handed to the kernel; a refused or reset connection is retried.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from datetime import UTC, datetime
from typing import Any

from ..events import AlertEvent
from . import TIMEOUT, DeliveryError, option, parse_host_port

__all__ = ["FACILITIES", "SyslogDestination", "format_message", "severity_of"]

APP_NAME = "sentinelle-routing"
SD_ID = "sentinelle@32473"
UDP_MAX = 2048
TCP_MAX = 64 * 1024
FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
              "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
              **{f"local{n}": 16 + n for n in range(8)}}
SEVERITY = {"raised": 4, "resolved": 5, "feed-lost": 3, "feed-restored": 5, "muted": 6,
            "unmuted": 6}


def severity_of(event: AlertEvent) -> int:
    if event.event == "raised" and event.tags.get("confidence_level") == "high":
        return 3
    return SEVERITY.get(event.event, 5)


def parse_facility(text: str) -> int:
    text = text.strip().lower()
    if text in FACILITIES:
        return FACILITIES[text]
    if text.isdecimal() and int(text) < 24:
        return int(text)
    raise ValueError(f"--syslog-facility {text!r}: expected one of {', '.join(FACILITIES)} "
                     "or a number from 0 to 23")


def _header_field(text: str, limit: int) -> str:
    """PRINTUSASCII without spaces, at most ``limit`` characters; "-" when empty."""
    clean = "".join(c for c in text if 33 <= ord(c) <= 126)[:limit]
    return clean or "-"


def _sd_value(value: Any) -> str:
    # RFC 5424 6.3.3: '"', '\' and ']' are escaped with a backslash inside PARAM-VALUE.
    text = str(value)[:200]  # short values: the header must fit in a UDP datagram
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _params(event: AlertEvent) -> list[tuple[str, Any]]:
    params: list[tuple[str, Any]] = [("id", event.alert_id), ("key", event.idempotency_key),
                                     ("type", event.type)]
    optional = [("state", event.state), ("prefix", event.prefix),
                ("watched", event.watched_prefix), ("asn", event.offending_asn),
                ("peers", event.peers or None), ("source", event.source),
                ("muted", event.muted_by)]
    for name in ("roa", "relationship", "confidence", "confidence_level"):
        optional.append((name, event.tags.get(name)))
    params += [(name, value) for name, value in optional if value not in (None, "")]
    return params


def summary_of(event: AlertEvent) -> str:
    what = event.prefix or event.source or event.alert_id
    asn = f" by AS{event.offending_asn}" if event.offending_asn else ""
    state = f" ({event.state})" if event.state else ""
    return f"{event.event} {event.type} {what}{asn}{state}"


def format_message(event: AlertEvent, facility: int, hostname: str, *, limit: int,
                   now: float | None = None, procid: int | None = None) -> bytes:
    """The RFC 5424 message; MSG is the JSON, or a summary when the JSON would pass ``limit``."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    timestamp = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    sd = "[" + SD_ID + "".join(f' {name}="{_sd_value(value)}"'
                               for name, value in _params(event)) + "]"
    header = (f"<{facility * 8 + severity_of(event)}>1 {timestamp} {_header_field(hostname, 255)}"
              f" {APP_NAME} {_header_field(str(os.getpid() if procid is None else procid), 128)}"
              f" {_header_field(event.event, 32)} {sd} ").encode()
    body = json.dumps(event.to_dict(), sort_keys=True, separators=(",", ":")).encode()
    if len(header) + len(body) > limit:
        body = summary_of(event).encode()
    return (header + body)[:limit]


class SyslogDestination:
    def __init__(self, name: str, host: str, port: int, tcp: bool, facility: int,
                 hostname: str, timeout: float = TIMEOUT) -> None:
        self.name, self.host, self.port, self.tcp = name, host, port, tcp
        self.facility, self.hostname, self.timeout = facility, hostname, timeout

    @classmethod
    def from_spec(cls, spec: str, rest: str, tcp: bool, options: Any) -> SyslogDestination:
        host, port = parse_host_port(rest)
        facility = parse_facility(str(option(options, "syslog_facility", "local0")))
        hostname = str(option(options, "hostname", "") or socket.gethostname())
        return cls(spec, host, port, tcp, facility, hostname)

    def send(self, event: AlertEvent) -> None:
        message = format_message(event, self.facility, self.hostname,
                                 limit=TCP_MAX if self.tcp else UDP_MAX)
        try:
            if self.tcp:
                with socket.create_connection((self.host, self.port), self.timeout) as sock:
                    sock.sendall(str(len(message)).encode() + b" " + message)
                    sock.shutdown(socket.SHUT_WR)
            else:
                family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
                infos = socket.getaddrinfo(self.host, self.port, family, socket.SOCK_DGRAM)
                with socket.socket(infos[0][0], socket.SOCK_DGRAM) as sock:
                    sock.settimeout(self.timeout)
                    sock.connect(infos[0][4])
                    sock.send(message)
        except OSError as exc:
            raise DeliveryError(f"{self.name}: {exc.strerror or exc}", retryable=True) from None

    async def deliver(self, event: AlertEvent) -> None:
        await asyncio.to_thread(self.send, event)
