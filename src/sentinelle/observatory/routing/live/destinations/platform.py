"""``platform:URL``: the event to the Sentinelle platform's API, with a signed evidence bundle.

``POST {URL}/api/v1/observatory/routing/events/`` as multipart/form-data: field ``event`` = the
JSON of ``event.to_dict()`` and, for a routing alert's "raised" and "resolved", field ``bundle``
= the signed bundle of live/destinations/bundle.py (``--sign-key``). Headers ``Authorization:
Token <$SENTINELLE_API_TOKEN>`` (a focal point's token; from the environment only, so it never
shows in ``ps``) and ``Idempotency-Key``: the platform answers a repeat with its first answer.

Answers: 2xx delivered; 403 ``{"code": "other-state"}`` (the watch list covers a State the token
is not for) and the other 4xx are rejected, except 408/429 and 401: a revoked or mistyped token
is fixed by the operator, and the alerts queued meanwhile must still arrive; 5xx and network
errors are retried.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinelle.evidence import keys

from ..events import AlertEvent
from . import TIMEOUT, DeliveryError, http_error, option, parse_http_url
from .bundle import write_bundle
from .webhook import body_of, post

__all__ = ["EVENTS_PATH", "PlatformDestination", "multipart"]

EVENTS_PATH = "/api/v1/observatory/routing/events/"
TOKEN_ENV = "SENTINELLE_API_TOKEN"
BUNDLE_EVENTS = ("raised", "resolved")
NOT_ROUTING = ("feed", "mute")


def multipart(fields: list[tuple[str, str | None, str, bytes]]) -> tuple[bytes, str]:
    """(body, content type) for ``(name, filename or None, content type, data)`` fields."""
    boundary = "sentinelle-" + secrets.token_hex(16)
    parts = []
    for name, filename, content_type, data in fields:
        disposition = f'form-data; name="{name}"'
        if filename:
            disposition += f'; filename="{filename}"'
        parts.append(f"--{boundary}\r\nContent-Disposition: {disposition}\r\n"
                     f"Content-Type: {content_type}\r\n\r\n".encode() + data + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


class PlatformDestination:
    def __init__(self, name: str, url: str, token: str, signing_key: Ed25519PrivateKey,
                 timeout: float = TIMEOUT * 3) -> None:
        self.name, self.token, self.signing_key = name, token, signing_key
        self.url = url.rstrip("/") + EVENTS_PATH
        self.timeout = timeout  # a bundle upload may take longer than a webhook call

    @classmethod
    def from_spec(cls, spec: str, url: str, options: Any,
                  environ: Mapping[str, str]) -> PlatformDestination:
        parse_http_url(url)
        if urlsplit(url).scheme == "http" and not _loopback(urlsplit(url).hostname or ""):
            # The token is a focal point's write token: whoever reads it off the wire posts
            # and reads that State's alerts. Plain HTTP only to the machine itself (a test
            # platform, or a TLS proxy on loopback).
            raise ValueError(f"{spec}: the API token would cross the network unencrypted: "
                             "use https:// (plain http:// only to 127.0.0.1, ::1 or localhost)")
        token = environ.get(TOKEN_ENV, "").strip()
        if not token:
            raise ValueError(f"{spec}: the platform needs a focal point's API token in "
                             f"${TOKEN_ENV} (never on the command line)")
        if any(c.isspace() or ord(c) < 33 for c in token):
            raise ValueError(f"${TOKEN_ENV} holds spaces or control characters")
        key_path = option(options, "sign_key")
        if not key_path:
            raise ValueError(f"{spec}: the platform needs --sign-key KEY to sign the evidence "
                             "bundles (sentinelle evidence keygen)")
        return cls(spec, url, token, keys.load_private(key_path))

    def fields(self, event: AlertEvent, workdir: Path) -> list[tuple[str, str | None, str, bytes]]:
        fields: list[tuple[str, str | None, str, bytes]] = [
            ("event", None, "application/json", body_of(event))]
        if event.event in BUNDLE_EVENTS and event.type not in NOT_ROUTING:
            path = workdir / f"{event.idempotency_key}.zip"
            write_bundle(event, path, self.signing_key)
            fields.append(("bundle", path.name, "application/zip", path.read_bytes()))
        return fields

    def send(self, event: AlertEvent) -> None:
        with tempfile.TemporaryDirectory(prefix="sentinelle-bundle-") as workdir:
            body, content_type = multipart(self.fields(event, Path(workdir)))
        headers = {"Content-Type": content_type, "Authorization": f"Token {self.token}",
                   "Idempotency-Key": event.idempotency_key, "Accept": "application/json"}
        status, reason, answer = post(self.url, body, headers, self.timeout)
        if 200 <= status < 300:
            return
        error = http_error(status, reason, answer)
        if status == 403 and _code(answer) == "other-state":
            raise DeliveryError(f"the platform refused {event.state or 'this State'}: the token "
                                f"is not a focal point's of that State ({error})",
                                retryable=False)
        if status == 401:
            raise DeliveryError(f"{error}: check ${TOKEN_ENV}", retryable=True)
        raise error

    async def deliver(self, event: AlertEvent) -> None:
        await asyncio.to_thread(self.send, event)


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _code(answer: bytes) -> str | None:
    try:
        data = json.loads(answer)
    except ValueError:
        return None
    return str(data.get("code")) if isinstance(data, dict) else None
