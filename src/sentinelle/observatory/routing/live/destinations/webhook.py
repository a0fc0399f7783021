"""``webhook:URL``: POST the event as JSON, signed with HMAC-SHA256.

Headers: ``Content-Type: application/json``, ``Idempotency-Key`` (the same for every attempt of
an event: a receiver drops a repeat by it), ``X-Sentinelle-Event`` (raised, resolved, ...) and
``X-Sentinelle-Signature: t=<unix time>,v1=<hex>`` where v1 = HMAC-SHA256(secret,
``f"{t}.{body}"``) over the exact body bytes. The time is signed with the body, so a captured
request cannot be replayed after ``tolerance`` seconds; ``verify_signature`` is what a receiver
runs (constant-time comparison). The secret comes from ``$SENTINELLE_WEBHOOK_SECRET`` or
``--webhook-secret-file``, never from the command line.

Redirects are not followed (a POST redirected is a configuration error: rejected, not retried).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import http.client
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..events import AlertEvent
from . import TIMEOUT, DeliveryError, http_error, option, parse_http_url

__all__ = ["SIGNATURE_HEADER", "WebhookDestination", "post", "sign", "verify_signature"]

SIGNATURE_HEADER = "X-Sentinelle-Signature"
SECRET_ENV = "SENTINELLE_WEBHOOK_SECRET"
MAX_SECRET_FILE = 4096


def sign(secret: str | bytes, body: bytes, timestamp: int) -> str:
    """The ``X-Sentinelle-Signature`` value for ``body`` sent at ``timestamp``."""
    key = secret.encode() if isinstance(secret, str) else secret
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str | bytes, header: str | None, body: bytes,
                     tolerance: float = 300, *, now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and its time is within ``tolerance``
    seconds of ``now``. Several v1= values are accepted (a sender rotating its secret)."""
    if not header:
        return False
    timestamp, candidates = None, []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdecimal() and len(value) < 16:
            timestamp = int(value)
        elif name == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    # compare_digest on every candidate, no early exit on the first mismatching character
    return any(hmac.compare_digest(expected.encode(), c.encode("ascii", "replace"))
               for c in candidates)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = TIMEOUT
         ) -> tuple[int, str, bytes]:
    """One POST with http.client (no redirect following); network trouble -> retryable."""
    parts = urlsplit(url)
    connection_class = (http.client.HTTPSConnection if parts.scheme == "https"
                        else http.client.HTTPConnection)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection = connection_class(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request("POST", path, body=body,
                           headers={**headers, "Content-Length": str(len(body)),
                                    "User-Agent": "sentinelle-routing-monitor"})
        response = connection.getresponse()
        return response.status, response.reason, response.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        raise DeliveryError(f"{url}: {exc or type(exc).__name__}", retryable=True) from None
    finally:
        connection.close()


def body_of(event: AlertEvent) -> bytes:
    return json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True).encode()


class WebhookDestination:
    def __init__(self, name: str, url: str, secret: bytes, timeout: float = TIMEOUT) -> None:
        self.name, self.url, self.secret, self.timeout = name, url, secret, timeout

    @classmethod
    def from_spec(cls, spec: str, url: str, options: Any,
                  environ: Mapping[str, str]) -> WebhookDestination:
        parse_http_url(url)
        secret_file = option(options, "webhook_secret_file")
        if secret_file:
            path = Path(secret_file)
            try:
                if path.stat().st_size > MAX_SECRET_FILE:
                    raise ValueError(f"--webhook-secret-file {path}: larger than "
                                     f"{MAX_SECRET_FILE} bytes, not a secret")
                secret = path.read_bytes().strip()
            except OSError as exc:
                raise ValueError(f"--webhook-secret-file {path}: {exc.strerror or exc}") from None
            if not secret:
                raise ValueError(f"--webhook-secret-file {path} is empty")
        else:
            secret = environ.get(SECRET_ENV, "").strip().encode()
            if not secret:
                raise ValueError(f"{spec}: a webhook needs a signing secret: set {SECRET_ENV} "
                                 "or pass --webhook-secret-file FILE")
        return cls(spec, url, secret)

    def request(self, event: AlertEvent, now: float | None = None
                ) -> tuple[bytes, dict[str, str]]:
        body = body_of(event)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": event.idempotency_key,
            "X-Sentinelle-Event": event.event,
            SIGNATURE_HEADER: sign(self.secret, body, int(time.time() if now is None else now)),
        }
        return body, headers

    def send(self, event: AlertEvent) -> None:
        body, headers = self.request(event)
        status, reason, answer = post(self.url, body, headers, self.timeout)
        if not 200 <= status < 300:
            raise http_error(status, reason, answer)

    async def deliver(self, event: AlertEvent) -> None:
        await asyncio.to_thread(self.send, event)
