"""Sentinelle → STIX 2.1: reports become incidents (with their current indicators as STIX
indicators and ``indicates`` relationships), shared indicators become indicators; every object
carries the official TLP 2.0 marking and is created by the identity of its State.

Ids are deterministic: a report keeps its ``stix_id``; the indicators of a report are uuid5 of
the report id, type and value; identities are uuid5 of the State. Exporting twice gives the same
objects, so a peer that imports both merges instead of duplicating.

Callers pass reports and indicators already scoped with ``for_user()`` (exporting.scoped(),
the TAXII views, federation push): this module never decides who may see what.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from django.db.models import F, QuerySet

from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents.models import Incident, Indicator
from sentinelle.incidents.models.workflow import Status

# Fixed so that an identity is byte-for-byte the same in every export.
IDENTITY_CREATED = "2014-10-20T00:00:00.000Z"   # CUB/70, Plenipotentiary Conference, Busan
CHUNK = 500


def timestamp(value: dt.datetime | None) -> str | None:
    """STIX timestamps are UTC with a literal Z; milliseconds keep `modified` ordering exact."""
    if value is None:
        return None
    value = value.astimezone(dt.UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    # The schemas refuse null and empty lists in custom properties: leave them out.
    return {k: v for k, v in obj.items() if v is not None and v != [] and v != ""}


def state_identity_id(alpha2: str) -> str:
    return sc.derived_id("identity", "member-state", alpha2.upper())


def state_identity(state) -> dict[str, Any]:
    return _clean({
        "type": "identity", "spec_version": "2.1", "id": state_identity_id(state.alpha2),
        "created": IDENTITY_CREATED, "modified": IDENTITY_CREATED,
        "name": state.name_en, "identity_class": "organization",
        "x_sentinelle_state": state.alpha2,
    })


def _rsit_label(machine_tag: str) -> str:
    """The MISP/RSIT machine tag, which MISP and OpenCTI read from labels."""
    klass, _sep, kind = machine_tag.partition(":")
    return f'rsit:{klass}="{kind}"'


def incident_object(incident: Incident) -> dict[str, Any]:
    created, modified = timestamp(incident.created_at), timestamp(incident.updated_at)
    return _clean({
        "type": "incident", "spec_version": "2.1", "id": incident.stix_id,
        "created": created, "modified": max(created, modified),
        "name": incident.title, "description": incident.description,
        "created_by_ref": state_identity_id(incident.state.alpha2),
        "object_marking_refs": [sc.TLP2_IDS[incident.tlp]],
        "lang": incident.narrative_language,
        "labels": [_rsit_label(incident.rsit_type.machine_tag)],
        "external_references": [{"source_name": "sentinelle",
                                  "external_id": incident.reference}],
        "x_sentinelle_category": incident.category.code,
        "x_sentinelle_rsit": incident.rsit_type.machine_tag,
        "x_sentinelle_severity": incident.severity,
        "x_sentinelle_status": incident.status,
        "x_sentinelle_started_at": timestamp(incident.started_at),
        "x_sentinelle_ended_at": timestamp(incident.ended_at),
        "x_sentinelle_detected_at": timestamp(incident.detected_at),
        "x_sentinelle_affected_services": list(incident.affected_services or []),
        "x_sentinelle_users_affected": incident.users_affected,
        "x_sentinelle_alleged_origin_state": incident.alleged_origin_state.alpha2
        if incident.alleged_origin_state_id else None,
        "x_sentinelle_sharing_group": incident.sharing_group.name
        if incident.sharing_group_id else None,
    })


def report_indicator_objects(incident: Incident, kind: str, value: str) -> list[dict[str, Any]]:
    """The STIX indicator for one indicator of a report, and its `indicates` relationship."""
    indicator_id = sc.report_indicator_id(incident.stix_id, kind, value)
    created, modified = timestamp(incident.created_at), timestamp(incident.updated_at)
    common = {"spec_version": "2.1", "created": created, "modified": max(created, modified),
              "created_by_ref": state_identity_id(incident.state.alpha2),
              "object_marking_refs": [sc.TLP2_IDS[incident.tlp]]}
    return [
        {"type": "indicator", "id": indicator_id, **common, "name": f"{kind}: {value}"[:300],
         "pattern": sc.indicator_pattern(kind, value), "pattern_type": "stix",
         "valid_from": timestamp(incident.started_at) or created},
        {"type": "relationship",
         "id": sc.derived_id("relationship", indicator_id, "indicates", incident.stix_id),
         **common, "relationship_type": "indicates", "source_ref": indicator_id,
         "target_ref": incident.stix_id},
    ]


def shared_indicator_objects(item: SharedIndicator) -> list[dict[str, Any]]:
    created = timestamp(item.created)
    modified = max(created, timestamp(item.modified))
    valid_from = timestamp(item.valid_from) or created
    valid_until = timestamp(item.valid_until)
    objects = [_clean({
        "type": "indicator", "spec_version": "2.1", "id": item.stix_id,
        "created": created, "modified": modified,
        "name": item.name or f"{item.type}: {item.value}"[:300],
        "description": item.description,
        "pattern": sc.indicator_pattern(item.type, item.value), "pattern_type": "stix",
        "valid_from": valid_from,
        "valid_until": valid_until if valid_until and valid_until > valid_from else None,
        "labels": [x for x in item.labels or [] if isinstance(x, str) and x],
        "created_by_ref": state_identity_id(item.state.alpha2) if item.state_id else None,
        "object_marking_refs": [sc.TLP2_IDS[item.tlp]],
        "x_sentinelle_sharing_group": item.sharing_group.name if item.sharing_group_id
        else None,
    })]
    if item.incident_id:
        objects.append({
            "type": "relationship", "spec_version": "2.1",
            "id": sc.derived_id("relationship", item.stix_id, "indicates",
                                item.incident.stix_id),
            "created": created, "modified": modified, "relationship_type": "indicates",
            "source_ref": item.stix_id, "target_ref": item.incident.stix_id,
            "object_marking_refs": [sc.TLP2_IDS[item.tlp]]})
    return objects


def current_indicators(incidents: list[Incident]) -> dict[int, list[tuple[str, str]]]:
    """The indicators of each report's latest version, in one query per chunk."""
    found: dict[int, list[tuple[str, str]]] = {i.pk: [] for i in incidents}
    rows = (Indicator.objects.filter(incident__in=[i.pk for i in incidents],
                                     version__number=F("incident__version"))
            .order_by("incident_id", "id").values_list("incident_id", "type", "value"))
    for incident_id, kind, value in rows:
        found[incident_id].append((kind, value))
    return found


def exportable(incidents: QuerySet) -> QuerySet:
    """Drafts are not reports yet; they never leave, even to their own State's tools."""
    return (incidents.exclude(status=Status.DRAFT)
            .select_related("state", "category", "rsit_type", "alleged_origin_state",
                            "sharing_group"))


def _chunks(items: Iterable) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _incident_refs(items: list[SharedIndicator]) -> None:
    """Resolve the linked reports' STIX ids of a chunk in one query (not one per indicator)."""
    ids = {i.incident_id for i in items if i.incident_id}
    if ids:
        by_pk = {i.pk: i for i in Incident.objects.filter(pk__in=ids).only("pk", "stix_id")}
        for item in items:
            if item.incident_id:
                item.incident = by_pk[item.incident_id]


def iter_objects(incidents: Iterable[Incident] = (),
                 indicators: Iterable[SharedIndicator] = ()
                 ) -> Iterator[tuple[dict[str, Any], Any]]:
    """(STIX object, the State it belongs to or None) for every report and shared indicator.
    The caller has scoped both with for_user(); drafts are skipped here all the same."""
    for chunk in _chunks(i for i in incidents if i.status != Status.DRAFT):
        per_incident = current_indicators(chunk)
        for incident in chunk:
            yield incident_object(incident), incident.state
            for kind, value in per_incident[incident.pk]:
                for obj in report_indicator_objects(incident, kind, value):
                    yield obj, incident.state
    for chunk in _chunks(indicators):
        _incident_refs(chunk)
        for item in chunk:
            for obj in shared_indicator_objects(item):
                yield obj, item.state


def export(incidents: Iterable[Incident], indicators: Iterable[SharedIndicator],
           out: BinaryIO, *, progress: Callable[[int], None] | None = None) -> int:
    """Stream one bundle to `out` (the entry point exporting.export() calls). The markings and
    identities used go last (a bundle has no order), so only their ids are kept while writing.
    Returns the number of objects written."""
    out.write(b'{"type": "bundle", "id": "bundle--' + str(uuid.uuid4()).encode()
              + b'", "objects": [')
    count, levels, states = 0, set(), {}

    def emit(obj: dict[str, Any]) -> None:
        nonlocal count
        out.write((b",\n" if count else b"\n") + json.dumps(obj, ensure_ascii=False).encode())
        count += 1

    for obj, state in iter_objects(incidents, indicators):
        emit(obj)
        levels.update(sc.TLP_BY_MARKING_ID[m] for m in obj.get("object_marking_refs", []))
        if state is not None:
            states.setdefault(state.alpha2, state)
        if progress is not None:
            progress(1)
    for level in sc.TLP_ORDER:
        if level in levels:
            emit(sc.tlp2_marking(level))
    for alpha2 in sorted(states):
        emit(state_identity(states[alpha2]))
    out.write(b"\n]}\n")
    return count
