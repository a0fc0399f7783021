"""MISP event JSON, as written by MISP (event view/export, ``/events/restSearch``) and PyMISP.

Accepted shapes: ``{"Event": {...}}``, a bare event (PyMISP ``to_json``), a list of either,
and ``{"response": [...]}``. Lists are streamed event by event (ijson), so a feed of thousands
of events never sits in memory whole.

Each event becomes one ReportRecord (mapping in docs/formats.md, "MISP"), except an event
tagged ``sentinelle:kind="indicators"`` (how our exporter ships standalone indicators), whose
attributes become IndicatorRecords again.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any, BinaryIO

from sentinelle.exchange.formats._common import (
    as_uuid,
    default_category,
    first_line,
    iter_json,
    json_has,
    maybe_time,
    strictest,
    tlp_from_text,
    valid_rsit,
    wrong_format,
)
from sentinelle.exchange.records import (
    FormatError,
    IndicatorRecord,
    Record,
    Rejection,
    ReportRecord,
)

NAME = "misp"

# MISP attribute type -> Sentinelle indicator type; composite types ("a|b") are split and
# each half mapped on its own (see _indicators).
ATTRIBUTE_TYPES: dict[str, str] = {
    "ip-src": "ip", "ip-dst": "ip", "domain": "domain", "hostname": "domain",
    "url": "url", "email": "email", "email-src": "email", "email-dst": "email",
    "email-reply-to": "email", "whois-registrant-email": "email", "sha256": "sha256",
    "AS": "asn", "as": "asn",
}
COMPOSITE_HALVES: dict[str, tuple[str | None, str | None]] = {
    "ip-src|port": ("ip", None), "ip-dst|port": ("ip", None), "domain|ip": ("domain", "ip"),
    "hostname|port": ("domain", None), "filename|sha256": (None, "sha256"),
}
# Text that belongs in the narrative rather than among indicators.
NARRATIVE_TYPES = {"text", "comment"}
THREAT_LEVELS = {"1": "high", "2": "medium", "3": "low"}
SEVERITY_TO_LEVEL = {"critical": "1", "high": "1", "medium": "2", "low": "3"}
# The ecsirt taxonomy predates RSIT; its types map onto RSIT types as follows when the names
# differ (RSIT's own README gives the lineage).
ECSIRT_TYPES: dict[str, str] = {
    "malicious-code:virus": "malicious-code:infected-system",
    "malicious-code:worm": "malicious-code:infected-system",
    "malicious-code:trojan": "malicious-code:infected-system",
    "malicious-code:spyware": "malicious-code:infected-system",
    "malicious-code:dialer": "malicious-code:infected-system",
    "malicious-code:rootkit": "malicious-code:infected-system",
    "malicious-code:malware": "malicious-code:infected-system",
    "malicious-code:ransomware": "malicious-code:infected-system",
    "malicious-code:botnet-drone": "malicious-code:infected-system",
    "malicious-code:c&c": "malicious-code:c2-server",
    "information-gathering:sniffing": "information-gathering:sniffing",
    "intrusion-attempts:ids-alert": "intrusion-attempts:ids-alert",
    "intrusion-attempts:brute-force": "intrusion-attempts:brute-force",
    "intrusion-attempts:exploit": "intrusion-attempts:exploit",
    "intrusions:privileged-account-compromise": "intrusions:privileged-account-compromise",
    "intrusions:compromised-system": "intrusions:system-compromise",
    "availability:dos": "availability:dos", "availability:ddos": "availability:ddos",
    "fraud:phishing": "fraud:phishing", "fraud:masquerade": "fraud:masquerade",
    "abusive-content:spam": "abusive-content:spam",
}
_MACHINE_TAG = re.compile(r'^(?P<ns>[\w.-]+):(?P<pred>[^=]+?)(?:="(?P<val>.*)")?$')


def sniff(head: bytes, name: str = "") -> bool:
    if json_has(head, "type") and re.search(rb'"type"\s*:\s*"bundle"', head[:65536]):
        return False   # a STIX bundle (PyMISP can write those too)
    if json_has(head, "Event") or json_has(head, "response"):
        return json_has(head, "Event") or json_has(head, "info")
    if json_has(head, "info") and (json_has(head, "Attribute") or json_has(head, "Object")
                                   or json_has(head, "threat_level_id")
                                   or json_has(head, "distribution")):
        return True
    # PyMISP sorts keys, so "info" may lie beyond the head; attribute keys are MISP's own.
    return (json_has(head, "Attribute") or json_has(head, "Object")) and (
        json_has(head, "to_ids") or json_has(head, "object_relation"))


def parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]:
    try:
        items = iter_json(stream, split=("response",))
        bare: dict[str, Any] = {}
        for path, value in items:
            if path.startswith(("$[", "$.response[")):
                yield from _event_records(value, path)
            elif path == "$.Event":
                yield from _event_records(value, "$.Event")
            else:
                bare[path[2:]] = value   # a bare PyMISP event, gathered key by key
    except FormatError as exc:
        raise FormatError(f"MISP: {exc}") from None
    if bare:
        if not {"info", "Attribute", "Object", "uuid"} & set(bare):
            stream.seek(0)
            raise wrong_format("MISP", stream.read(65536), name, "no Event, info or Attribute")
        yield from _event_records(bare, "$")


def _event_records(value: Any, where: str) -> Iterator[Record]:
    if isinstance(value, dict) and isinstance(value.get("Event"), dict):
        value, where = value["Event"], f"{where}.Event"
    if not isinstance(value, dict):
        yield Rejection(where, "a MISP event must be a JSON object")
        return
    try:
        yield from _event(value, where)
    except (TypeError, AttributeError, ValueError) as exc:
        # One event with an unexpected shape must not stop the others being read.
        yield Rejection(where, f"unexpected MISP event structure: {exc}")


def _tag_names(items: Any) -> list[str]:
    names = []
    for item in items or []:
        tag = item.get("Tag", item) if isinstance(item, dict) else item
        name = tag.get("name") if isinstance(tag, dict) else tag
        if isinstance(name, str) and name.strip():
            names.append(name.strip())
    return names


def _attributes(event: dict, where: str) -> Iterator[tuple[str, dict]]:
    for i, attribute in enumerate(event.get("Attribute") or []):
        yield f"{where}.Attribute[{i}]", attribute
    for i, obj in enumerate(event.get("Object") or []):
        if isinstance(obj, dict) and not _true(obj.get("deleted")):
            for j, attribute in enumerate(obj.get("Attribute") or []):
                yield f"{where}.Object[{i}].Attribute[{j}]", attribute


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def _ip_kind(value: str) -> str:
    if "/" in value:
        return "prefix"
    return "ipv6" if ":" in value else "ipv4"


def _indicators(kind: str, value: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if "|" in kind and kind in COMPOSITE_HALVES:
        halves = value.split("|", 1) if "|" in value else [value, ""]
        mapped = zip(COMPOSITE_HALVES[kind], halves, strict=False)
    elif kind in ATTRIBUTE_TYPES:
        mapped = [(ATTRIBUTE_TYPES[kind], value)]
    else:
        return found
    for ours, text in mapped:
        text = text.strip()
        if ours is None or not text:
            continue
        if ours == "ip":
            ours = _ip_kind(text)
            # A host route written as a prefix is an address.
            if ours == "prefix" and text.endswith(("/32", "/128")):
                text, ours = text.rsplit("/", 1)[0], _ip_kind(text.rsplit("/", 1)[0])
        found.append((ours, text))
    return found


def _rsit(tags: list[str]) -> str | None:
    for tag in tags:
        match = _MACHINE_TAG.match(tag)
        if match and match["ns"] == "rsit" and match["val"]:
            mapped = valid_rsit(f"{match['pred'].strip()}:{match['val'].strip()}")
            if mapped:
                return mapped
    for tag in tags:
        match = _MACHINE_TAG.match(tag)
        if match and match["ns"] == "ecsirt" and match["val"]:
            key = f"{match['pred'].strip()}:{match['val'].strip()}"
            if key in ECSIRT_TYPES:
                return ECSIRT_TYPES[key]
    return None


def _ours(tags: list[str]) -> dict[str, list[str]]:
    """Our own machine tags (sentinelle:field="value"), written by the exporter."""
    found: dict[str, list[str]] = {}
    for tag in tags:
        match = _MACHINE_TAG.match(tag)
        if match and match["ns"] == "sentinelle" and match["val"] is not None:
            found.setdefault(match["pred"].strip(), []).append(match["val"])
    return found


def _event(event: dict, where: str) -> Iterator[Record]:
    tags = _tag_names(event.get("Tag")) + _tag_names(event.get("EventTag"))
    for galaxy in event.get("Galaxy") or []:
        for cluster in (galaxy or {}).get("GalaxyCluster") or []:
            tag = cluster.get("tag_name") or (
                f'misp-galaxy:{cluster.get("type", galaxy.get("type", ""))}="'
                f'{cluster.get("value", "")}"')
            tags.append(tag)
    tlp = strictest(*(tlp_from_text(t) for t in tags if t.lower().startswith("tlp:")))
    ours = _ours(tags)
    event_uuid = as_uuid(event.get("uuid"))
    modified = maybe_time(event.get("timestamp"))
    if ours.get("kind") == ["indicators"]:
        yield from _standalone(event, where, tlp, modified)
        return

    indicators: list[tuple[str, str]] = []
    narrative: list[str] = []
    skipped: Counter[str] = Counter()
    for path, attribute in _attributes(event, where):
        if not isinstance(attribute, dict) or _true(attribute.get("deleted")):
            continue
        kind, value = str(attribute.get("type", "")), attribute.get("value")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            yield Rejection(f"{path}.value", f"attribute value of type {kind!r} is not text")
            return
        value = str(value)
        # An attribute marked stricter than its event makes the whole report stricter: a
        # report is shared as one piece.
        tlp = strictest(tlp, *(tlp_from_text(t) for t in _tag_names(attribute.get("Tag"))
                               if t.lower().startswith("tlp:")))
        tags.extend(t for t in _tag_names(attribute.get("Tag"))
                    if not t.lower().startswith("tlp:"))
        mapped = _indicators(kind, value)
        if mapped:
            indicators.extend(pair for pair in mapped if pair not in indicators)
        elif kind in NARRATIVE_TYPES and value.strip():
            narrative.append(value.strip())
        else:
            skipped[kind or "(no type)"] += 1

    title = str(event.get("info") or "").strip()
    lines = list(narrative)
    if skipped:
        counts = ", ".join(f"{kind} ×{n}" for kind, n in sorted(skipped.items()))
        lines.append(f"MISP attributes without a Sentinelle indicator type, not imported: "
                     f"{counts}.")
    org = (event.get("Orgc") or {}).get("name") if isinstance(event.get("Orgc"), dict) else None
    if not ours:   # our own exports round-trip without a provenance line added each time
        lines.append(f"Imported from MISP event {event.get('uuid') or event.get('id') or '?'}"
                     + (f" by {org}" if org else "") + ".")
    rsit = (ours.get("rsit") or [None])[0] or _rsit(tags)
    group = None
    if str(event.get("distribution")) == "4":
        sharing = event.get("SharingGroup")
        group = (sharing or {}).get("name") if isinstance(sharing, dict) else None
        if not group:
            yield Rejection(f"{where}.SharingGroup",
                            "distribution 4 (sharing group) without a SharingGroup name")
            return
    users = (ours.get("users-affected") or [None])[0]
    yield ReportRecord(
        where=where, source_format=NAME,
        title=first_line(title) or first_line(narrative[0] if narrative else "")
        or "MISP event",
        description="\n\n".join(lines),
        external_id=f"incident--{event_uuid}" if event_uuid else (
            str(event["id"]) if event.get("id") else None),
        category=(ours.get("category") or [None])[0] or default_category(rsit),
        rsit=rsit, tlp=tlp,
        severity=(ours.get("severity") or [None])[0]
        or THREAT_LEVELS.get(str(event.get("threat_level_id"))),
        started_at=maybe_time((ours.get("started-at") or [None])[0]) or _date(event.get("date"))
        or modified,
        ended_at=maybe_time((ours.get("ended-at") or [None])[0]),
        detected_at=maybe_time((ours.get("detected-at") or [None])[0]),
        affected_services=ours.get("affected-service", []),
        users_affected=int(users) if users and users.isdecimal() else None,
        alleged_origin_state=(ours.get("alleged-origin") or [None])[0],
        narrative_language=(ours.get("language") or ["en"])[0],
        indicators=indicators,
        tags=list(dict.fromkeys(tags)),
        modified=modified, sharing_group=group,
    )


def _date(value: Any) -> dt.datetime | None:
    return maybe_time(value)


def _standalone(event: dict, where: str, tlp: str | None,
                modified: dt.datetime | None) -> Iterator[Record]:
    for path, attribute in _attributes(event, where):
        if not isinstance(attribute, dict) or _true(attribute.get("deleted")):
            continue
        mapped = _indicators(str(attribute.get("type", "")), str(attribute.get("value", "")))
        if not mapped:
            yield Rejection(path, f"attribute type {attribute.get('type')!r} is not an "
                                  f"indicator type Sentinelle shares")
            continue
        attr_uuid = as_uuid(attribute.get("uuid"))
        attr_tlp = strictest(tlp, *(tlp_from_text(t) for t in _tag_names(attribute.get("Tag"))))
        for kind, value in mapped:
            yield IndicatorRecord(
                where=path, source_format=NAME, type=kind, value=value,
                external_id=f"indicator--{attr_uuid}" if attr_uuid else None,
                name=str(attribute.get("comment") or "")[:300], tlp=attr_tlp,
                valid_from=maybe_time(attribute.get("first_seen")),
                valid_until=maybe_time(attribute.get("last_seen")),
                labels=[t for t in _tag_names(attribute.get("Tag"))
                        if not t.lower().startswith("tlp:")],
                modified=maybe_time(attribute.get("timestamp")) or modified)
