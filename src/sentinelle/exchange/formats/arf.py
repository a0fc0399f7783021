"""RFC 5965 Abuse Reporting Format: a ``multipart/report; report-type=feedback-report``
message (.eml) read with the standard library's ``email`` package.

One message is one report. The machine-readable part (message/feedback-report) gives the
fields; the original message (message/rfc822 or text/rfc822-headers) is kept as an
attachment, as evidence. ``feedback_fields`` returns the fields under the names used by
the mail-auth test corpus, so tests compare them field by field. Mapping in
docs/formats.md, "ARF (RFC 5965)".
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import re
from collections.abc import Iterator
from email.message import Message
from typing import Any, BinaryIO

from sentinelle.exchange.formats._common import (
    default_category,
    first_line,
    guess_indicator,
    head_text,
    maybe_time,
    safe_name,
    wrong_format,
)
from sentinelle.exchange.records import Attachment, FormatError, Record, Rejection, ReportRecord

NAME = "arf"
# An abuse report is a few kilobytes to a few megabytes; anything far larger is not one, and
# the email package holds a message whole (an 8 MiB message took 426 MiB), so refuse before
# reading it all.
MAX_BYTES = 4 * 1024 * 1024
# The email package parses and walks nested parts recursively (about five frames a level): a
# message/rfc822 inside a message/rfc822 ... a thousand deep ran out of recursion. An abuse
# report nests three or four levels; count the headers that can open a level and refuse
# beyond this many, before parsing.
MAX_NESTED_PARTS = 100
_NESTING_HEADER = re.compile(rb"(?im)^content-type:[ \t\r\n]*(?:multipart|message)/")
# Comments in an address, "(a (b (c ...)))", and groups, "a: b: c: ...", are parsed recursively
# too (email._parseaddr): an address nesting deeper than this is not read.
MAX_ADDRESS_NESTING = 20
# Fields read as numbers: more digits than this is not a count, a version or a port (and
# int() refuses strings of over 4,300 digits).
MAX_DIGITS = 10

FEEDBACK_RSIT = {
    "abuse": "abusive-content:spam", "fraud": "fraud:phishing",
    "virus": "malicious-code:malware-distribution", "auth-failure": "fraud:masquerade",
    "other": "other:other",
}
# mail-auth's names for Feedback-Type and Auth-Failure values (the expected parses use them).
FEEDBACK_NAMES = {"abuse": "Abuse", "auth-failure": "AuthFailure", "fraud": "Fraud",
                  "not-spam": "NotSpam", "virus": "Virus", "other": "Other"}
AUTH_FAILURE_NAMES = {"adsp": "Adsp", "bodyhash": "BodyHash", "revoked": "Revoked",
                      "signature": "Signature", "spf": "Spf", "dmarc": "Dmarc"}
DELIVERY_NAMES = {"delivered": "Delivered", "spam": "Spam", "policy": "Policy",
                  "reject": "Reject", "other": "Other"}


def sniff(head: bytes, name: str = "") -> bool:
    text = head_text(head)[:16384].lower()
    return "multipart/report" in text and "feedback-report" in text


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FormatError(f"ARF: the message is larger than {MAX_BYTES // (1024 * 1024)} MiB; "
                          f"an abuse report is not")
    nested = len(_NESTING_HEADER.findall(data))
    if nested > MAX_NESTED_PARTS:
        raise FormatError(f"ARF: {nested} multipart or message parts; more than "
                          f"{MAX_NESTED_PARTS} nested MIME parts are refused")
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    report_type = email.utils.collapse_rfc2231_value(message.get_param("report-type", ""))
    if message.get_content_type() != "multipart/report" or \
            str(report_type).lower() != "feedback-report":
        raise wrong_format("ARF", data[:65536], name, "not multipart/report; "
                           "report-type=feedback-report")
    report_part = _part(message, ("message/feedback-report",))
    if report_part is None:
        if not message.is_multipart() or not message.get_payload():
            raise FormatError("ARF: the message is truncated (no MIME parts)")
        yield Rejection("message/feedback-report", "the message has no feedback-report part")
        return
    fields = feedback_fields(message)
    if fields["feedback_type"] is None:
        yield Rejection("Feedback-Type", "the feedback report has no Feedback-Type field")
        return
    if fields["feedback_type"] == "NotSpam":
        yield Rejection("Feedback-Type", "not-spam feedback reports a false positive, "
                                         "not an incident")
        return
    yield _record(message, fields)


def _part(message: Message, types: tuple[str, ...]) -> Message | None:
    for part in message.walk():
        if part.get_content_type() in types:
            return part
    return None


def _report_headers(message: Message) -> Message:
    """The feedback-report fields, parsed as a header block whatever the MIME layer did."""
    part = _part(message, ("message/feedback-report",))
    if part is None:
        return Message()
    payload = part.get_payload()
    if isinstance(payload, list):   # the email package treats message/* as a sub-message
        return payload[0] if payload else Message()
    raw = part.get_payload(decode=True) or b""
    return email.message_from_bytes(raw.lstrip(b"\r\n"), policy=email.policy.compat32)


def _one(headers: Message, name: str) -> str | None:
    value = headers.get(name)
    return " ".join(str(value).split()) if value is not None else None


def _all(headers: Message, name: str) -> list[str]:
    return [str(v).strip() for v in headers.get_all(name) or []]


def _number(value: str | None) -> int | None:
    """A small decimal number, or None (also for Unicode digits such as '²', which
    str.isdigit() accepts and int() refuses, and for thousands of digits)."""
    if value and value.isascii() and value.isdigit() and len(value) <= MAX_DIGITS:
        return int(value)
    return None


def feedback_fields(message: Message) -> dict[str, Any]:
    """RFC 5965 section 3.1/3.2 fields (and RFC 6591 authentication-failure fields)."""
    headers = _report_headers(message)
    feedback = (_one(headers, "Feedback-Type") or "").lower()
    arrival = _one(headers, "Arrival-Date") or _one(headers, "Received-Date")
    arrival_time = maybe_time(arrival)
    mta = _one(headers, "Reporting-MTA")
    version = _one(headers, "Version")
    incidents = _one(headers, "Incidents")
    source_port = _one(headers, "Source-Port")
    return {
        "feedback_type": FEEDBACK_NAMES.get(feedback, feedback.capitalize() or None),
        "arrival_date": int(arrival_time.timestamp()) if arrival_time else None,
        "authentication_results": _all(headers, "Authentication-Results"),
        "incidents": _number(incidents) or 1,
        "original_envelope_id": _one(headers, "Original-Envelope-Id"),
        "original_mail_from": _one(headers, "Original-Mail-From"),
        "original_rcpt_to": _one(headers, "Original-Rcpt-To"),
        "reported_domain": _all(headers, "Reported-Domain"),
        "reported_uri": _all(headers, "Reported-URI"),
        # "dns; mail.example.com": the MTA name type is not kept.
        "reporting_mta": mta.split(";", 1)[-1].strip() if mta else None,
        "source_ip": _one(headers, "Source-IP"),
        "user_agent": _one(headers, "User-Agent"),
        "version": _number(version),
        "source_port": _number(source_port) or 0,
        "auth_failure": AUTH_FAILURE_NAMES.get((_one(headers, "Auth-Failure") or "").lower(),
                                               "Unspecified"),
        "delivery_result": DELIVERY_NAMES.get((_one(headers, "Delivery-Result") or "").lower(),
                                              "Unspecified"),
        "dkim_adsp_dns": _one(headers, "DKIM-ADSP-DNS"),
        "dkim_canonicalized_body": _one(headers, "DKIM-Canonicalized-Body"),
        "dkim_canonicalized_header": _one(headers, "DKIM-Canonicalized-Header"),
        "dkim_domain": _one(headers, "DKIM-Domain"),
        "dkim_identity": _one(headers, "DKIM-Identity"),
        "dkim_selector": _one(headers, "DKIM-Selector"),
        "dkim_selector_dns": _one(headers, "DKIM-Selector-DNS"),
        "spf_dns": _one(headers, "SPF-DNS"),
        "identity_alignment": _one(headers, "Identity-Alignment") or "Unspecified",
    }


def _channel(fields: dict[str, Any], message: Message) -> str:
    """E-mail, unless the report points at SMS/MMS (sms:, mms:, tel: URIs — how mobile abuse
    desks, e.g. GSMA 7726 bridges, carry phone numbers in ARF)."""
    where = " ".join([*fields["reported_uri"], fields["original_mail_from"] or "",
                      fields["original_rcpt_to"] or "", fields["user_agent"] or ""]).lower()
    if re.search(r"\bmms:", where) or "mms" in (fields["user_agent"] or "").lower():
        return "MMS"
    if re.search(r"\b(sms|tel):", where):
        return "SMS"
    return "e-mail"


def _strip_address(value: str | None) -> str | None:
    if not value or _comment_depth(value) > MAX_ADDRESS_NESTING \
            or value.count(":") > MAX_ADDRESS_NESTING:
        return None
    return email.utils.parseaddr(value)[1] or None


def _comment_depth(value: str) -> int:
    depth = deepest = 0
    for char in value:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(0, depth - 1)
    return deepest


def _decode_text(raw: bytes, charset: str | None) -> str:
    """The text of a part in its declared charset, or as UTF-8 when the charset is unknown or
    not a text encoding ("UF-8", "rot13", a NUL inside): the words matter, not the label."""
    try:
        return raw.decode(charset or "utf-8", "replace")
    except (LookupError, ValueError, TypeError):   # UnicodeError is a ValueError
        return raw.decode("utf-8", "replace")


def _message_bytes(message: Message) -> bytes:
    """The message as bytes for the evidence attachment.

    The generator re-folds headers and re-encodes bodies, and refuses some of what the parser
    accepted (a control character that str.splitlines() takes for a line break looks like an
    embedded header; undeclared 8-bit text cannot be written as ASCII): then the headers and
    bodies are written back as they were read.
    """
    try:
        return message.as_bytes()
    except (email.errors.MessageError, LookupError, ValueError, TypeError):
        text = _as_read(message)
    try:
        return text.encode("utf-8", "surrogateescape")   # undoes the parser's escaping
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _as_read(message: Message) -> str:
    head = "".join(f"{name}: {value}\n" for name, value in message.raw_items())
    payload = message.get_payload()
    if isinstance(payload, list):   # bounded by MAX_NESTED_PARTS
        boundary = str(message.get_boundary() or "")
        body = "".join(f"--{boundary}\n{_as_read(part)}\n" for part in payload
                       if isinstance(part, Message)) + f"--{boundary}--\n"
    else:
        body = str(payload or "")
    return f"{head}\n{body}"


def _record(message: Message, fields: dict[str, Any]) -> ReportRecord:
    indicators: list[tuple[str, str]] = []

    def add(pair: tuple[str, str] | None) -> None:
        if pair and pair not in indicators:
            indicators.append(pair)

    add(guess_indicator(fields["source_ip"]) if fields["source_ip"] else None)
    for domain in fields["reported_domain"]:
        add(guess_indicator(domain))
    for uri in fields["reported_uri"]:
        if uri.lower().startswith("mailto:"):
            add(("email", uri[7:].split("?", 1)[0]))
        elif uri.lower().startswith(("http://", "https://", "ftp://")):
            add(("url", uri))
    sender = _strip_address(fields["original_mail_from"])
    if sender:
        add(("email", sender))
    # Original-Rcpt-To is the victim's address: evidence, never an indicator to share.

    feedback = next((k for k, v in FEEDBACK_NAMES.items() if v == fields["feedback_type"]),
                    "other")
    rsit = FEEDBACK_RSIT.get(feedback, "other:other")
    channel = _channel(fields, message)
    human = _part(message, ("text/plain",))
    text = ""
    if human is not None and human is not message:
        raw = human.get_payload(decode=True) or b""
        text = _decode_text(raw, human.get_content_charset()).strip()
    attachments = []
    original = _part(message, ("message/rfc822", "text/rfc822-headers"))
    if original is not None:
        payload = original.get_payload()
        if isinstance(payload, list) and payload:
            content = _message_bytes(payload[0])
        else:
            content = original.get_payload(decode=True) or b""
        filename = original.get_filename() or "original-message.eml"
        attachments.append(Attachment(
            name=safe_name(filename, "original-message.eml"), content=content,
            description=f"Original message ({original.get_content_type()}) as reported"))
    source = fields["source_ip"] or ", ".join(fields["reported_domain"]) or sender or "?"
    details = [f"{key.replace('_', ' ')}: {value}" for key, value in fields.items()
               if value not in (None, [], "Unspecified", 0)]
    report_date = maybe_time(message.get("Date"))
    arrival = maybe_time(fields["arrival_date"]) if fields["arrival_date"] else None
    message_id = (message.get("Message-ID") or "").strip().strip("<>")
    return ReportRecord(
        where="message", source_format=NAME,
        title=f"{fields['feedback_type']} report ({channel}) about {source}"[:200]
        if fields["feedback_type"] != "Abuse" else f"Spam ({channel}) from {source}"[:200],
        description="\n\n".join(part for part in (
            text, "Feedback report fields:\n" + "\n".join(details),
            f"Reported by {message.get('From', '?')}: {first_line(message.get('Subject', ''))}")
            if part),
        external_id=f"arf:{message_id}" if message_id else None,
        category=default_category(rsit), rsit=rsit,
        started_at=arrival or report_date, detected_at=arrival,
        affected_services=[channel], indicators=indicators,
        tags=[f"arf:feedback-type={feedback}", f"channel:{channel}"],
        attachments=attachments, modified=report_date,
    )
