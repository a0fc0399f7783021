"""Where alert events go: ``--alert webhook:URL | email:ADDR | syslog[+tcp]:HOST:PORT |
platform:URL``.

``parse_destination(spec, options)`` checks the spec and everything the destination needs (a
secret, a token, a key) when the monitor starts, so a typo fails at once with the spec named,
not at the first alert hours later. ``options`` is the monitor's argparse namespace (or any
object with the same attributes: webhook_secret_file, smtp, mail_from, syslog_facility,
sign_key); secrets come from the environment, never from the command line.

A destination's ``deliver(event)`` returns when the receiver accepted the event and raises
``DeliveryError(message, retryable)`` otherwise: retryable for what may pass later (5xx, 408,
429, connection refused, timeouts, SMTP 4xx), not retryable for a permanent refusal (other 4xx,
SMTP 5xx). Blocking I/O runs in a worker thread (``asyncio.to_thread``) with its own timeout.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from ..events import AlertEvent

__all__ = ["DeliveryError", "Destination", "parse_destination", "parse_host_port",
           "parse_http_url"]

TIMEOUT = 10.0  # seconds, per connection attempt and per read


class DeliveryError(Exception):
    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


@runtime_checkable
class Destination(Protocol):
    name: str

    async def deliver(self, event: AlertEvent) -> None: ...


def parse_destination(spec: str, options: Any = None, *,
                      environ: Mapping[str, str] | None = None) -> Destination:
    """A destination from its ``--alert`` spec; ValueError naming the spec when it is wrong."""
    environ = os.environ if environ is None else environ
    scheme, _, rest = spec.partition(":")
    try:
        if not rest:
            raise ValueError("expected webhook:URL, email:ADDR, syslog:HOST:PORT, "
                             "syslog+tcp:HOST:PORT or platform:URL")
        if scheme == "webhook":
            from .webhook import WebhookDestination
            return WebhookDestination.from_spec(spec, rest, options, environ)
        if scheme == "email":
            from .email import EmailDestination
            return EmailDestination.from_spec(spec, rest, options)
        if scheme in ("syslog", "syslog+tcp"):
            from .syslog import SyslogDestination
            return SyslogDestination.from_spec(spec, rest, scheme == "syslog+tcp", options)
        if scheme == "platform":
            from .platform import PlatformDestination
            return PlatformDestination.from_spec(spec, rest, options, environ)
        raise ValueError(f"unknown destination type {scheme!r}; expected webhook, email, "
                         "syslog, syslog+tcp or platform")
    except ValueError as exc:
        message = str(exc)
        raise ValueError(message if spec in message else f"{spec}: {message}") from None


def option(options: Any, name: str, default: Any = None) -> Any:
    value = getattr(options, name, None)
    return default if value in (None, "") else value


def parse_host_port(text: str, *, default_port: int | None = None) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``; ValueError saying what is wrong."""
    if text.startswith("["):
        host, sep, port_text = text[1:].partition("]")
        if port_text and not port_text.startswith(":"):
            raise ValueError(f"{text!r}: expected [IPv6]:PORT")
        port_text = port_text[1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError(f"{text!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep:
            host, port_text = text, ""
        if ":" in host:
            raise ValueError(f"{text!r}: write an IPv6 address in brackets, [::1]:514")
    if not host or any(c.isspace() or c in "/@?#" for c in host):
        raise ValueError(f"{text!r}: no valid host name")
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r}: a port is required (HOST:PORT)")
        return host, default_port
    if not port_text.isdecimal() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port_text)


def parse_http_url(url: str) -> str:
    """An http(s) URL with a host and a valid port, without credentials or fragment."""
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise ValueError(f"{url!r}: spaces or control characters in the URL")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{url!r}: only http:// and https:// URLs are accepted")
    if not parts.hostname:
        raise ValueError(f"{url!r}: no host in the URL")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535") from None
    if port == 0:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535")
    if parts.username or parts.password:
        # The spec is logged and shown in the status line: no credentials in it.
        raise ValueError(f"{url!r}: no user name or password in the URL")
    if parts.fragment:
        raise ValueError(f"{url!r}: a URL fragment (#...) is never sent")
    return url


def http_error(status: int, reason: str, body: bytes) -> DeliveryError:
    """The DeliveryError for a non-2xx HTTP answer: 408, 429 and 5xx are worth retrying."""
    text = body[:300].decode("utf-8", "replace").strip()
    message = f"HTTP {status} {reason}" + (f": {text}" if text else "")
    return DeliveryError(message, retryable=status in (408, 425, 429) or status >= 500)
