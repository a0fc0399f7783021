"""IODEF v2 (RFC 7970) XML, and IODEF v1 (RFC 5070) which shares the structure we read.

Parsed with defusedxml's iterparse: one Incident at a time, each cleared once read, so a large
document streams. Entity declarations (XML bombs such as "billion laughs", and external
entities / XXE) and external references are refused before anything is expanded or fetched.
Mapping in docs/formats.md, "IODEF v2".
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from collections.abc import Iterator
from typing import BinaryIO
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

from sentinelle.exchange.formats._common import (
    default_category,
    first_line,
    guess_indicator,
    head_text,
    maybe_time,
    peek,
)
from sentinelle.exchange.records import FormatError, Record, Rejection, ReportRecord

NAME = "iodef"
NAMESPACES = ("urn:ietf:params:xml:ns:iodef-2.0", "urn:ietf:params:xml:ns:iodef-1.0")

# restriction attribute (RFC 7970 3.3.1; v2 added the TLP colours) -> TLP 2.0
RESTRICTION_TLP = {
    "public": "clear", "white": "clear", "green": "green", "partner": "amber",
    "amber": "amber", "need-to-know": "amber+strict", "private": "red", "red": "red",
}
# Address@category -> indicator type
ADDRESS_TYPES = {
    "ipv4-addr": "ipv4", "ipv6-addr": "ipv6", "ipv4-net": "prefix", "ipv6-net": "prefix",
    "asn": "asn", "e-mail": "email", "site-uri": "url",
}
# Impact@type (v1) and SystemImpact@type (v2) -> RSIT. Types not listed leave RSIT unset.
IMPACT_RSIT = {
    "dos": "availability:dos", "availability-service": "availability:dos",
    "availability-system": "availability:dos", "availability-data": "availability:sabotage",
    "availability-account": "availability:sabotage", "damaged-system": "availability:sabotage",
    "damaged-data": "information-content-security:data-loss",
    "recon": "information-gathering:scanner",
    "social-engineering": "information-gathering:social-engineering",
    "info-leak": "information-content-security:data-leak",
    "breach-proprietary": "information-content-security:data-leak",
    "breach-privacy": "information-content-security:data-leak",
    "breach-credential": "information-content-security:data-leak",
    "breach-configuration": "information-content-security:data-leak",
    "integrity-data": "information-content-security:unauthorised-information-modification",
    "integrity-configuration":
        "information-content-security:unauthorised-information-modification",
    "admin": "intrusions:privileged-account-compromise",
    "takeover-system": "intrusions:system-compromise",
    "takeover-service": "intrusions:application-compromise",
    "user": "intrusions:unprivileged-account-compromise",
    "takeover-account": "intrusions:unprivileged-account-compromise",
    "misconfiguration": "vulnerable:vulnerable-system",
    "monitoring-traffic": "information-gathering:sniffing",
    "monitoring-host": "information-gathering:sniffing",
    "traffic-redirection": "other:other",
}
# Resolution categories the impact itself names (Res. 130 3(i) and 3(iii)).
IMPACT_CATEGORY = {
    "monitoring-traffic": "interception-surveillance",
    "monitoring-host": "interception-surveillance",
    "traffic-redirection": "routing-disruption",
}
SEVERITIES = {"low": "low", "medium": "medium", "high": "high"}
# IODEF documents nest about ten levels. Deeper input is refused as it is read: the tree
# walks below recurse, and 10,000 nested elements ran them out of recursion.
MAX_DEPTH = 64
# The encoding named by the XML declaration (which can only be at the very start).
_DECLARED_ENCODING = re.compile(
    rb"""^(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']([^"']{0,80})["']""")
_SHA256_ALGORITHMS = ("sha256", "sha-256")


def sniff(head: bytes, name: str = "") -> bool:
    text = head_text(head)
    if not text.startswith("<"):
        return False
    return "IODEF-Document" in text[:8192] or any(ns in text[:8192] for ns in NAMESPACES)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _check_encoding(head: bytes) -> None:
    """Refuse an encoding Python does not know before expat asks for it (LookupError)."""
    match = _DECLARED_ENCODING.match(head)
    if match is None:
        return
    label = match.group(1).decode("ascii", "replace")
    try:
        codecs.lookup(label)
    except (LookupError, ValueError):   # ValueError: a NUL in the name
        raise FormatError(f"IODEF: unknown encoding {label!r} in the XML declaration "
                          f"(line 1)") from None


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    count = 0
    depth = 0
    in_incident = False
    document_restriction: str | None = None
    root_seen = False
    _check_encoding(peek(stream, 512))
    try:
        for event, element in iterparse(stream, events=("start", "end"), forbid_dtd=False,
                                        forbid_entities=True, forbid_external=True):
            local = _local(element.tag)
            if event == "start":
                depth += 1
                in_incident = in_incident or local == "Incident"
                if depth > MAX_DEPTH:
                    where = (f"/IODEF-Document/Incident[{count + 1}]" if in_incident
                             else "/IODEF-Document")
                    raise FormatError(f"IODEF: elements nest deeper than {MAX_DEPTH} levels "
                                      f"in {where} (at <{local[:40]}>)")
                if not root_seen:
                    root_seen = True
                    if local != "IODEF-Document":
                        raise FormatError(f"this XML is not IODEF: the root element is "
                                          f"<{local}>, not <IODEF-Document>")
                    document_restriction = element.get("restriction")
                continue
            depth -= 1
            if local != "Incident":
                continue
            in_incident = False
            count += 1
            where = f"/IODEF-Document/Incident[{count}]"
            try:
                yield _incident(element, where, document_restriction)
            except (ValueError, TypeError) as exc:
                yield Rejection(where, str(exc))
            element.clear()   # the document may be large: drop what has been read
    except EntitiesForbidden as exc:
        if exc.sysid or exc.pubid:
            raise FormatError(f"IODEF: external entity {exc.name!r} refused (XML external "
                              f"entity attack, XXE: it would read {exc.sysid!r})") from None
        raise FormatError(f"IODEF: entity declaration {exc.name!r} refused (XML bomb: "
                          f"entity expansion such as 'billion laughs')") from None
    except ExternalReferenceForbidden as exc:
        raise FormatError(f"IODEF: external reference {exc.sysid!r} refused (XML external "
                          f"entity attack, XXE)") from None
    except LookupError as exc:   # an encoding expat asked Python for, not in the declaration
        raise FormatError(f"IODEF: {exc}") from None
    except DTDForbidden:   # not raised with forbid_dtd=False; kept should the policy change
        raise FormatError("IODEF: document type declarations are refused") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise FormatError(f"IODEF: the XML is truncated or not well-formed at line {line}, "
                          f"column {column} ({exc.msg if hasattr(exc, 'msg') else exc})") \
            from None
    if not root_seen:
        raise FormatError("IODEF: the document is empty")
    if count == 0:
        raise FormatError("IODEF: the document has no Incident")


def _text(element: Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""


def _child(element: Element, name: str) -> Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _children(element: Element, name: str) -> list[Element]:
    return [child for child in element if _local(child.tag) == name]


def _descendants(element: Element, name: str, skip: tuple[str, ...] = ()) -> Iterator[Element]:
    """Descendants named `name`, not looking inside elements named in `skip`."""
    for child in element:
        local = _local(child.tag)
        if local in skip:
            continue
        if local == name:
            yield child
        yield from _descendants(child, name, skip)


def _time(incident: Element, name: str) -> str:
    direct = _child(incident, name)
    if direct is not None:
        return _text(direct)
    found = next(_descendants(incident, name, skip=("History",)), None)
    return _text(found)


def _indicators(incident: Element) -> list[tuple[str, str]]:
    # A dict keeps the order and de-duplicates in constant time (a list made 40,000
    # addresses cost minutes).
    found: dict[tuple[str, str], None] = {}

    def add(pair: tuple[str, str] | None) -> None:
        if pair:
            found.setdefault(pair)

    # Contact e-mail addresses are the reporters', not indicators: never look inside Contact.
    skip = ("Contact", "History", "AdditionalData")
    for address in _descendants(incident, "Address", skip):
        value = _text(address)
        category = address.get("category", "ipv4-addr")
        if category in ADDRESS_TYPES:
            kind = ADDRESS_TYPES[category]
            if kind == "asn" and value.isdigit():
                value = f"AS{value}"
            add((kind, value))
        elif category == "ipv4-net-mask" or category == "ipv4-net-masked":
            add(guess_indicator(value.replace(" ", "")))
    for tag in ("Name", "NodeName"):   # v2 DomainData/Name, v1 Node/NodeName
        for element in _descendants(incident, tag, skip):
            value = _text(element)
            add(guess_indicator(value) if value else None)
    for element in _descendants(incident, "URL", skip):
        add(("url", _text(element)) if _text(element) else None)
    for tag in ("EmailFrom", "EmailTo"):   # v2 EmailData inside EventData/Observable
        for element in _descendants(incident, tag, skip):
            value = _text(element).removeprefix("mailto:")
            add(("email", value) if value else None)
    for hash_element in _descendants(incident, "Hash", skip):
        method = _child(hash_element, "DigestMethod")
        algorithm = (method.get("Algorithm", "") if method is not None else "").lower()
        digest = _text(_child(hash_element, "DigestValue"))
        if algorithm.endswith(_SHA256_ALGORITHMS) and digest:
            add(("sha256", _digest_hex(digest)))
    return list(found)


def _digest_hex(value: str) -> str:
    """XML-DSig DigestValue is base64; some producers write hex anyway."""
    if re.fullmatch(r"[0-9a-fA-F]{64}", value):
        return value.lower()
    try:
        return base64.b64decode(value, validate=True).hex()
    except (binascii.Error, ValueError):
        return value


def _incident(incident: Element, where: str, document_restriction: str | None) -> ReportRecord:
    id_element = _child(incident, "IncidentID")
    incident_id = _text(id_element)
    issuer = id_element.get("name", "") if id_element is not None else ""
    descriptions = [_text(d) for d in _children(incident, "Description") if _text(d)]
    restriction = incident.get("restriction") or document_restriction or ""

    impacts = []
    for assessment in _children(incident, "Assessment"):
        for tag in ("Impact", "SystemImpact"):
            impacts.extend(_descendants(assessment, tag))
    impact_types = [i.get("type", "") for i in impacts]
    rsit = next((IMPACT_RSIT[t] for t in impact_types if t in IMPACT_RSIT), None)
    category = next((IMPACT_CATEGORY[t] for t in impact_types if t in IMPACT_CATEGORY), None)
    severity_values = [SEVERITIES[i.get("severity")] for i in impacts
                       if i.get("severity") in SEVERITIES]
    order = ("low", "medium", "high")
    severity = max(severity_values, key=order.index) if severity_values else None

    contacts = []
    for contact in _children(incident, "Contact"):
        name = _text(_child(contact, "ContactName")) or _text(_child(contact, "OrganizationName"))
        email = _text(next(_descendants(contact, "EmailTo"), None)) or _text(
            _child(contact, "Email"))
        contacts.append(f"{contact.get('role', 'contact')}: {name} {email}".strip())
    lines = list(descriptions)
    impact_text = [f"{i.get('type', '?')} (severity {i.get('severity', '?')}, completion "
                   f"{i.get('completion', '?')})" for i in impacts]
    if impact_text:
        lines.append("Impact: " + "; ".join(impact_text))
    if contacts:
        lines.append("Contacts: " + "; ".join(contacts))
    lines.append(f"Imported from IODEF incident {issuer}:{incident_id}"
                 f" (purpose {incident.get('purpose', '?')}).")

    started = _time(incident, "StartTime")
    detected = _time(incident, "DetectTime")
    report_time = _time(incident, "ReportTime") or _time(incident, "GenerationTime")
    for label, value in (("StartTime", started), ("DetectTime", detected),
                         ("ReportTime", report_time)):
        if value and maybe_time(value) is None:
            raise ValueError(f"{label}: {value!r} is not a date and time")
    return ReportRecord(
        where=where, source_format=NAME,
        title=first_line(descriptions[0]) if descriptions
        else f"IODEF incident {incident_id or '(no id)'}",
        description="\n\n".join(lines),
        external_id=f"{issuer}:{incident_id}" if incident_id else None,
        category=category or default_category(rsit), rsit=rsit,
        tlp=RESTRICTION_TLP.get(restriction), severity=severity,
        started_at=maybe_time(started) or maybe_time(detected) or maybe_time(report_time),
        ended_at=maybe_time(_time(incident, "EndTime")),
        detected_at=maybe_time(detected),
        narrative_language=_lang(incident),
        indicators=_indicators(incident),
        tags=[f"iodef:impact={t}" for t in impact_types if t]
        + ([f"iodef:purpose={incident.get('purpose')}"] if incident.get("purpose") else []),
        modified=maybe_time(report_time),
    )


def _lang(incident: Element) -> str:
    lang = incident.get("{http://www.w3.org/XML/1998/namespace}lang") or "en"
    return lang.split("-")[0].lower()[:10] or "en"
