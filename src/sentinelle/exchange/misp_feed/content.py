"""What a MISP feed collection holds for a user: the manifest, one event, the hashes file.

A feed collection is a TAXII collection (exchange/taxii/collections.py) under a short name:
``all``, ``tlp-clear``, ``tlp-green``, ``tlp-amber`` (the community root) and ``group-<pk>``
(the ``shared`` collection of a sharing group's root). Every read starts from the TAXII
``_scoped`` querysets, so the feed shows exactly what TAXII shows the same token.

Events:
- each report is one event, the body of the MISP exporter (exporters/misp.py) with the
  ``Orgc`` uuid MISP's feed rules match on, without ``distribution``/``SharingGroup`` (as PyMISP's
  ``to_feed`` leaves them out by default: the subscribing MISP decides its own distribution);
- standalone shared indicators are one event per (TLP, UTC day they were added here, block of
  BATCH_SIZE ids), like the daily events of the public MISP feeds: a new indicator changes only
  today's event, so a pull never re-downloads a year of indicators (one growing event would),
  and a day of a whole imported feed is several bounded events, not one of 500,000 attributes.

Bytes are deterministic (sorted keys, fixed separators), so that an ETag is the sha256 of the
bytes and stays the same across requests and processes while nothing changes. The manifest is
built from one ``values()`` query of the reports and one aggregate of the indicators, never by
serialising events; it carries no per-event hash (MISP decides what to fetch from the
``timestamp`` alone, app/Model/Feed.php getNewEventUuids), so nothing per event is hashed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.db.models import F, Max
from django.db.models.functions import TruncDate

from sentinelle.exchange.exporters import misp as misp_export
from sentinelle.exchange.exporters.stix import exportable
from sentinelle.exchange.taxii import collections as tc
from sentinelle.incidents.models import Indicator, Status

FEED_NS = uuid.UUID("6f4b7f0e-2a57-4c1e-9f0b-3f1d8e6c2a41")
ITERATOR_CHUNK = 2000
# At most this many indicators per batch event: a State importing a feed shares hundreds of
# thousands in a day, and one event of them all would be built in memory for every subscriber
# (and be more than MISP takes). Split by id (pk // BATCH_SIZE), which never changes, so an
# indicator stays in its event and a revocation changes that event only.
BATCH_SIZE = 5000


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def org_uuid(alpha2: str) -> str:
    """The organisation a State's events come from, the same on every instance."""
    return str(uuid.uuid5(FEED_NS, f"state|{alpha2}"))


def site_org() -> dict[str, str]:
    """Who standalone indicator batches come from: this instance."""
    name = settings.SITE_NAME
    return {"name": name, "uuid": str(uuid.uuid5(FEED_NS, f"site|{name}"))}


# --- collections -----------------------------------------------------------------------------

@dataclass(frozen=True)
class FeedCollection:
    key: str
    collection: tc.Collection

    def resource(self) -> dict[str, str]:
        return {"id": self.key, "title": str(self.collection.title),
                "description": str(self.collection.description)}


def collections(user) -> list[FeedCollection]:
    found = [FeedCollection(c.name, c) for c in tc.api_root(tc.ROOT, user).collections]
    for root in tc.api_roots(user)[1:]:
        found.extend(FeedCollection(root.name, c) for c in root.collections)
    return found


def find(key: str, user) -> FeedCollection | None:
    if key.startswith(tc.GROUP_PREFIX):
        root = tc.api_root(key, user)
        return FeedCollection(key, root.collections[0]) if root else None
    collection = tc.find_collection(tc.api_root(tc.ROOT, user), key)
    return FeedCollection(key, collection) if collection and collection.name == key else None


# --- manifest --------------------------------------------------------------------------------

MANIFEST_FIELDS = ("stix_id", "title", "status", "severity", "tlp", "started_at", "ended_at",
                   "detected_at", "updated_at", "users_affected", "affected_services",
                   "narrative_language", "category__code", "rsit_type__code",
                   "rsit_type__rsit_class__code", "state__alpha2", "alleged_origin_state__alpha2")


def _epoch(value: dt.datetime) -> int:
    return int(value.timestamp())


def _analysis(status: str) -> int:
    return 2 if status == Status.CLOSED else 1


def _threat_level(severity: str) -> int:
    return int(misp_export.THREAT_LEVELS.get(severity, "4"))


def _row_as_incident(row: dict[str, Any]) -> SimpleNamespace:
    """Just what exporters/misp.event_tags reads, so that the manifest's tags are the event's."""
    origin = row["alleged_origin_state__alpha2"]
    return SimpleNamespace(
        tlp=row["tlp"], rsit=f"{row['rsit_type__rsit_class__code']}:{row['rsit_type__code']}",
        category=SimpleNamespace(code=row["category__code"]), severity=row["severity"],
        started_at=row["started_at"], ended_at=row["ended_at"], detected_at=row["detected_at"],
        narrative_language=row["narrative_language"], users_affected=row["users_affected"],
        alleged_origin_state_id=origin, alleged_origin_state=SimpleNamespace(alpha2=origin),
        affected_services=row["affected_services"])


def _report_entry(row: dict[str, Any]) -> dict[str, Any]:
    alpha2 = row["state__alpha2"]
    return {"info": row["title"], "date": row["started_at"].date().isoformat(),
            "timestamp": _epoch(row["updated_at"]), "analysis": _analysis(row["status"]),
            "threat_level_id": _threat_level(row["severity"]),
            "Orgc": {"name": f"Sentinelle {alpha2}", "uuid": org_uuid(alpha2)},
            "Tag": [{"name": t} for t in misp_export.event_tags(_row_as_incident(row))]}


@dataclass(frozen=True)
class Batch:
    tlp: str
    day: dt.date
    last: dt.datetime
    part: int = 0   # pk // BATCH_SIZE

    def uuid(self, collection: FeedCollection) -> str:
        return batch_uuid(collection, self.tlp, self.day, self.part)


def batch_uuid(collection: FeedCollection, tlp: str, day: dt.date, part: int) -> str:
    # Per root, not per collection: "all" and "tlp-green" hold the same green batch.
    key = (f"{settings.SITE_NAME}|{collection.collection.root}|indicators|{tlp}|"
           f"{day.isoformat()}|{part}")
    return str(uuid.uuid5(FEED_NS, key))


def batches(indicators) -> list[Batch]:
    """One aggregate query. The batch's timestamp is the latest of added-here and modified, so
    that an indicator added today with an old ``modified`` still moves the timestamp on."""
    rows = (indicators.annotate(day=TruncDate("added_at", tzinfo=dt.UTC),
                                part=F("pk") / BATCH_SIZE)
            .order_by().values("tlp", "day", "part")
            .annotate(last_added=Max("added_at"), last_modified=Max("modified")))
    found = [Batch(r["tlp"], r["day"], max(r["last_added"], r["last_modified"]), r["part"])
             for r in rows]
    return sorted(found, key=lambda b: (b.day, b.tlp, b.part))


def _batch_info(tlp: str, day: dt.date) -> str:
    return f"Sentinelle shared indicators (TLP:{tlp.upper()}) {day.isoformat()}"


def _batch_tags(tlp: str) -> list[dict[str, str]]:
    return [{"name": f"tlp:{tlp}"}, {"name": 'sentinelle:kind="indicators"'}]


def _batch_entry(batch: Batch) -> dict[str, Any]:
    return {"info": _batch_info(batch.tlp, batch.day), "date": batch.day.isoformat(),
            "timestamp": _epoch(batch.last), "analysis": 2, "threat_level_id": 4,
            "Orgc": site_org(), "Tag": _batch_tags(batch.tlp)}


def manifest(collection: FeedCollection, user) -> tuple[list[bytes], dt.datetime | None]:
    """The manifest as chunks of bytes, and the latest timestamp in it (Last-Modified).

    Each entry is serialised as its row is read and the object is assembled from those bytes in
    uuid order: the same bytes as ``canonical`` of the whole dict, without ever holding 100,000
    entry dicts, nor the whole body twice (the view streams the chunks)."""
    incidents, indicators = tc._scoped(collection.collection, user)
    parts: list[tuple[str, bytes]] = []
    latest: dt.datetime | None = None
    rows = incidents.exclude(status=Status.DRAFT).order_by("id").values(*MANIFEST_FIELDS)
    for row in rows.iterator(chunk_size=ITERATOR_CHUNK):
        parts.append((row["stix_id"].split("--", 1)[1], canonical(_report_entry(row))))
        latest = row["updated_at"] if latest is None else max(latest, row["updated_at"])
    for batch in batches(indicators):
        parts.append((batch.uuid(collection), canonical(_batch_entry(batch))))
        latest = batch.last if latest is None else max(latest, batch.last)
    parts.sort(key=lambda part: part[0], reverse=True)
    chunks = [b"{"]
    while parts:   # popped, so that each entry is freed as it is copied into its chunk
        key, entry = parts.pop()
        chunks.append(b'%s"%s":%s' % (b"," if len(chunks) > 1 else b"", key.encode(), entry))
    chunks.append(b"}")
    return chunks, latest


def _ids_digest(queryset) -> str:
    """The exact set of ids, read as one column: aggregates such as (count, sum, max) are the
    same for different sets ({1, 4, 5} and {2, 3, 5}), and a set can change without any row
    being saved (a State moved between sharing groups), so only the ids themselves tell."""
    digest = hashlib.sha256()
    ids = queryset.order_by("pk").values_list("pk", flat=True)
    for pk in ids.iterator(chunk_size=ITERATOR_CHUNK * 10):
        digest.update(b"%d," % pk)
    return digest.hexdigest()


def fingerprint(collection: FeedCollection, user) -> str:
    """What changes whenever the manifest's set of events or any event's timestamp changes:
    the exact ids of the reports and indicators (one column each, nothing serialised) and the
    latest change times. It lets a matching If-None-Match be answered without building the
    manifest (views.manifest). Not covered: a rename in reference data (a State's code, a
    category's) with no report saved; views bound that by the cache's lifetime."""
    incidents, indicators = tc._scoped(collection.collection, user)
    reports = incidents.exclude(status=Status.DRAFT)
    last = reports.order_by().aggregate(last=Max("updated_at"))
    shared = indicators.order_by().aggregate(added=Max("added_at"), modified=Max("modified"))
    key = repr((settings.SITE_NAME, _ids_digest(reports), sorted(last.items()),
                _ids_digest(indicators), sorted(shared.items())))
    return hashlib.sha256(key.encode()).hexdigest()


# --- events ----------------------------------------------------------------------------------

def _day_range(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    return start, start + dt.timedelta(days=1)


def _report_event(incident) -> dict[str, Any]:
    event = misp_export.incident_event(incident)
    event["Orgc"]["uuid"] = org_uuid(incident.state.alpha2)
    event.pop("distribution", None)
    event.pop("SharingGroup", None)
    return {"Event": event}


def _batch_event(collection: FeedCollection, indicators, batch: Batch) -> dict[str, Any]:
    start, end = _day_range(batch.day)
    items = indicators.filter(tlp=batch.tlp, added_at__gte=start, added_at__lt=end,
                              pk__gte=batch.part * BATCH_SIZE,
                              pk__lt=(batch.part + 1) * BATCH_SIZE)
    event = misp_export.indicator_events(items.order_by("added_at", "id"))[0]
    event.update(uuid=batch.uuid(collection), info=_batch_info(batch.tlp, batch.day),
                 date=batch.day.isoformat(), timestamp=str(_epoch(batch.last)),
                 Orgc=site_org(), Tag=_batch_tags(batch.tlp))
    event.pop("distribution", None)
    return {"Event": event}


def event(collection: FeedCollection, user,
          event_uuid: str) -> tuple[bytes, dt.datetime] | None:
    """The event's bytes and its timestamp, or None when the user may not see it (or it does
    not exist: the caller answers 404 either way)."""
    incidents, indicators = tc._scoped(collection.collection, user)
    incident = (exportable(incidents).select_related("rsit_type__rsit_class")
                .filter(stix_id=f"incident--{event_uuid}").first())
    if incident is not None:
        return canonical(_report_event(incident)), incident.updated_at
    for batch in batches(indicators):
        if batch.uuid(collection) == event_uuid:
            return canonical(_batch_event(collection, indicators, batch)), batch.last
    return None


# --- hashes.csv ------------------------------------------------------------------------------

def _md5(value: str) -> str:
    # MISP's feed cache (app/Model/Feed.php) looks values up by md5: its format, not our choice.
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


def hash_lines(collection: FeedCollection, user) -> Iterator[bytes]:
    """``md5(value),event-uuid`` per indicator: MISP fills its correlation cache from this file
    instead of downloading every event (Feed.php __cacheMISPFeedCache)."""
    incidents, indicators = tc._scoped(collection.collection, user)
    rows = (Indicator.objects.filter(incident__in=incidents.exclude(status=Status.DRAFT)
                                     .values("pk"),
                                     version__number=F("incident__version"))
            .order_by("incident_id", "id").values_list("incident__stix_id", "value"))
    for stix_id, value in rows.iterator(chunk_size=ITERATOR_CHUNK):
        yield f"{_md5(value)},{stix_id.split('--', 1)[1]}\n".encode()
    shared = (indicators.order_by("added_at", "id")
              .values_list("pk", "value", "tlp", "added_at"))
    for pk, value, tlp, added_at in shared.iterator(chunk_size=ITERATOR_CHUNK):
        day = added_at.astimezone(dt.UTC).date()
        uuid_ = batch_uuid(collection, tlp, day, pk // BATCH_SIZE)
        yield f"{_md5(value)},{uuid_}\n".encode()
