"""Reports and shared indicators as MISP events (``{"response": [{"Event": …}, …]}``, the
shape of MISP's own restSearch export), written event by event.

Each report is one event whose uuid is its STIX id's: re-importing here, or into another
Sentinelle, merges instead of duplicating. TLP and RSIT travel as the standard ``tlp:`` and
``rsit:`` machine tags; the fields MISP has no place for (category, severity, time window,
services, users, alleged origin, language) as ``sentinelle:`` machine tags, which the MISP
parser reads back. Standalone shared indicators go into one event per TLP tagged
``sentinelle:kind="indicators"``. Mapping in docs/formats.md, "MISP".
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, BinaryIO

from sentinelle.exchange.exporters.csvxlsx import current_indicators

ATTRIBUTE_TYPES = {"ipv4": "ip-dst", "ipv6": "ip-dst", "prefix": "ip-dst", "asn": "AS",
                   "domain": "domain", "url": "url", "email": "email-src", "sha256": "sha256"}
ATTRIBUTE_CATEGORIES = {"ip-dst": "Network activity", "AS": "Network activity",
                        "domain": "Network activity", "url": "Network activity",
                        "email-src": "Payload delivery", "sha256": "Payload delivery",
                        "text": "Other"}
THREAT_LEVELS = {"critical": "1", "high": "1", "medium": "2", "low": "3"}
# MISP distribution is about MISP communities, not TLP; we pick the narrowest level that
# still lets the receiving instance share as the TLP allows (docs/formats.md).
DISTRIBUTION = {"clear": "3", "green": "1", "amber": "0", "amber+strict": "0", "red": "0"}
NAMESPACE = uuid.UUID("0d1f4c55-70a4-4a5e-9a41-0e2b6f3c9a10")


def _epoch(value) -> str:
    return str(int(value.timestamp())) if value else "0"


def _tag(name: str) -> dict[str, str]:
    return {"name": name}


def _uuid_of(stix_id: str) -> str:
    return stix_id.split("--", 1)[-1]


def _attribute(event_uuid: str, kind: str, value: str, timestamp: str,
               comment: str = "", attr_uuid: str | None = None) -> dict[str, Any]:
    misp_type = ATTRIBUTE_TYPES.get(kind, kind)
    return {
        "uuid": attr_uuid or str(uuid.uuid5(NAMESPACE, f"{event_uuid}|{kind}|{value}")),
        "type": misp_type, "category": ATTRIBUTE_CATEGORIES.get(misp_type, "Other"),
        "value": value, "to_ids": misp_type != "text", "distribution": "5",
        "comment": comment, "timestamp": timestamp,
    }


def event_tags(incident) -> list[str]:
    """The event's tag names; also what the MISP feed's manifest lists (exchange/misp_feed),
    from a row that only looks like an Incident."""
    klass, _sep, kind = incident.rsit.partition(":")
    tags = [f"tlp:{incident.tlp}", f'rsit:{klass}="{kind}"',
            f'sentinelle:category="{incident.category.code}"',
            f'sentinelle:rsit="{incident.rsit}"',
            f'sentinelle:severity="{incident.severity}"',
            f'sentinelle:started-at="{incident.started_at.isoformat()}"',
            f'sentinelle:language="{incident.narrative_language}"']
    if incident.ended_at:
        tags.append(f'sentinelle:ended-at="{incident.ended_at.isoformat()}"')
    if incident.detected_at:
        tags.append(f'sentinelle:detected-at="{incident.detected_at.isoformat()}"')
    if incident.users_affected is not None:
        tags.append(f'sentinelle:users-affected="{incident.users_affected}"')
    if incident.alleged_origin_state_id:
        tags.append(f'sentinelle:alleged-origin="{incident.alleged_origin_state.alpha2}"')
    tags.extend(f'sentinelle:affected-service="{s}"' for s in incident.affected_services or [])
    return tags


def incident_event(incident) -> dict[str, Any]:
    event_uuid = _uuid_of(incident.stix_id)
    timestamp = _epoch(incident.updated_at)
    tags = event_tags(incident)
    attributes = [_attribute(event_uuid, "text", incident.description, timestamp,
                             comment="narrative")] if incident.description else []
    attributes += [_attribute(event_uuid, t, v, timestamp)
                   for t, v in current_indicators(incident)]
    event: dict[str, Any] = {
        "uuid": event_uuid, "info": incident.title,
        "date": incident.started_at.date().isoformat(), "timestamp": timestamp,
        "published": False, "analysis": "2" if incident.status == "closed" else "1",
        "threat_level_id": THREAT_LEVELS.get(incident.severity, "4"),
        "distribution": DISTRIBUTION.get(incident.tlp, "0"),
        "Orgc": {"name": f"Sentinelle {incident.state.alpha2}"},
        "Tag": [_tag(t) for t in tags], "Attribute": attributes,
    }
    if incident.sharing_group_id:
        event["distribution"] = "4"
        event["SharingGroup"] = {"name": incident.sharing_group.name}
    return event


def indicator_events(indicators: Iterable) -> list[dict[str, Any]]:
    by_tlp: dict[str, list] = defaultdict(list)
    for item in indicators:
        by_tlp[item.tlp].append(item)
    events = []
    for tlp, items in sorted(by_tlp.items()):
        event_uuid = str(uuid.uuid5(NAMESPACE, f"indicators|{tlp}"))
        newest = max((i.modified for i in items if i.modified), default=None)
        attributes = []
        for item in items:
            attribute = _attribute(event_uuid, item.type, item.value, _epoch(item.modified),
                                   comment=item.name, attr_uuid=_uuid_of(item.stix_id))
            if item.valid_from:
                attribute["first_seen"] = item.valid_from.isoformat()
            if item.valid_until:
                attribute["last_seen"] = item.valid_until.isoformat()
            attribute["Tag"] = [_tag(label) for label in item.labels or []]
            attributes.append(attribute)
        events.append({
            "uuid": event_uuid, "info": f"Sentinelle shared indicators (TLP:{tlp.upper()})",
            "date": newest.date().isoformat() if newest else "1970-01-01",
            "timestamp": _epoch(newest), "published": False, "analysis": "2",
            "threat_level_id": "4", "distribution": DISTRIBUTION.get(tlp, "0"),
            "Tag": [_tag(f"tlp:{tlp}"), _tag('sentinelle:kind="indicators"')],
            "Attribute": attributes,
        })
    return events


def export(incidents: Iterable, indicators: Iterable, stream: BinaryIO) -> None:
    """Streamed: one event serialised at a time."""
    stream.write(b'{"response": [')
    first = True
    for incident in incidents:
        stream.write((b"" if first else b",") + b"\n" + json.dumps(
            {"Event": incident_event(incident)}, ensure_ascii=False).encode())
        first = False
    # Indicators are grouped per TLP: one pass over them, kept only as the groups need.
    for event in indicator_events(indicators):
        stream.write((b"" if first else b",") + b"\n" + json.dumps(
            {"Event": event}, ensure_ascii=False).encode())
        first = False
    stream.write(b"\n]}\n")
