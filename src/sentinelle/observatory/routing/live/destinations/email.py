"""``email:ADDR``: one plain-text mail per event, the event's JSON attached.

Sent with smtplib to ``--smtp HOST:PORT`` (default localhost:25) from ``--mail-from``, with
STARTTLS whenever the server offers it. Subject ``[Sentinelle] raised E|0 198.18.0.0/16 (CU)``.
The ``Message-ID`` is derived from the idempotency key, so a mail sent twice (the process died
between the server's 250 and the outbox's record) is the same message to a mail client or a
ticketing system, which can drop it. SMTP 4xx (and a lost connection) is retried, 5xx rejected.
"""

from __future__ import annotations

import asyncio
import json
import re
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from ..events import AlertEvent, iso
from . import TIMEOUT, DeliveryError, option, parse_host_port

__all__ = ["EmailDestination", "build_message", "subject_of"]

# One address, no display name: it goes into the envelope and the To: header as it is
# (fullmatch: a trailing newline would be a header injection).
ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?")
MESSAGE_ID_DOMAIN = "sentinelle-routing.invalid"


def check_address(text: str, what: str) -> str:
    if len(text) > 254 or not ADDRESS.fullmatch(text):
        raise ValueError(f"{what} {text!r} is not an e-mail address (name@domain)")
    return text


def subject_of(event: AlertEvent) -> str:
    what = event.prefix or event.source or event.alert_id
    state = f" ({event.state})" if event.state else ""
    return f"[Sentinelle] {event.event} {event.type} {what}{state}"


def body_text(event: AlertEvent) -> str:
    lines = [subject_of(event).removeprefix("[Sentinelle] "), ""]
    facts = [
        ("Alert", event.alert_id), ("State", event.state), ("Prefix", event.prefix),
        ("Watched prefix", event.watched_prefix),
        ("Offending AS", f"AS{event.offending_asn}" if event.offending_asn else None),
        ("Legitimate origins", ", ".join(f"AS{a}" for a in event.legitimate_origins)),
        ("First seen", iso(event.first_seen)), ("Last seen", iso(event.last_seen)),
        ("Resolved at", iso(event.resolved_at)),
        ("Duration", f"{event.duration:.0f} s" if event.duration is not None else None),
        ("Peers", str(event.peers) if event.peers else None),
        ("Collectors", ", ".join(event.collectors)),
        ("Tags", ", ".join(f"{k}={v}" for k, v in sorted(event.tags.items()))),
        ("Source", event.source), ("Muted by", event.muted_by),
        ("Idempotency key", event.idempotency_key),
    ]
    lines += [f"{name}: {value}" for name, value in facts if value]
    if event.example_paths:
        lines += ["", "Example AS paths:", *(f"  {path}" for path in event.example_paths)]
    lines += ["", "The event as JSON is attached (the same as the webhook body)."]
    return "\n".join(lines) + "\n"


def build_message(event: AlertEvent, sender: str, recipient: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_of(event)
    message["From"] = sender
    message["To"] = recipient
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{event.idempotency_key}@{MESSAGE_ID_DOMAIN}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to alerts
    message["X-Sentinelle-Event"] = event.event
    message.set_content(body_text(event))
    message.add_attachment(
        json.dumps(event.to_dict(), ensure_ascii=False, indent=1, sort_keys=True).encode(),
        maintype="application", subtype="json",
        filename=f"sentinelle-{event.event}-{event.idempotency_key}.json")
    return message


class EmailDestination:
    def __init__(self, name: str, recipient: str, host: str, port: int, sender: str,
                 timeout: float = TIMEOUT) -> None:
        self.name, self.recipient, self.host, self.port = name, recipient, host, port
        self.sender, self.timeout = sender, timeout

    @classmethod
    def from_spec(cls, spec: str, address: str, options: Any) -> EmailDestination:
        check_address(address, "the recipient")
        smtp = str(option(options, "smtp", "localhost:25"))
        try:
            host, port = parse_host_port(smtp, default_port=25)
        except ValueError as exc:
            raise ValueError(f"--smtp {exc}") from None
        sender = check_address(str(option(options, "mail_from", "sentinelle-routing@localhost")),
                               "--mail-from")
        return cls(spec, address, host, port, sender)

    def send(self, event: AlertEvent) -> None:
        message = build_message(event, self.sender, self.recipient)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                smtp.send_message(message, self.sender, [self.recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"{self.host}:{self.port} refused {self.recipient}: "
                                f"{exc.recipients}", retryable=all(400 <= c < 500 for c in codes)
                                ) from None
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            raise DeliveryError(f"{self.host}:{self.port}: SMTP {exc.smtp_code} {text}",
                                retryable=not 500 <= exc.smtp_code < 600) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{self.host}:{self.port}: {exc or type(exc).__name__}",
                                retryable=True) from None

    async def deliver(self, event: AlertEvent) -> None:
        await asyncio.to_thread(self.send, event)
