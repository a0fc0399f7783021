"""A collection's contents, paged in the database (issue 16): keyset queries over the reports
and shared indicators tables, never the whole collection in memory.

Order. Every object has a position ``(date added, source, row pk, n, id)``: the date its row
was added (a report's last change, an indicator's ``added_at``), then its source (0: the static
markings and identities, 1: reports, 2: shared indicators), the row, and its rank among the
objects the row gives (a report gives itself, then an indicator and a relationship per
indicator). The static objects, dated ``STATIC_DATE``, rank by id. The ``next`` key is the
position of the last object sent, so a page costs one range query per source whatever its
depth, and rows inserted meanwhile (dated now) appear once, at the end; a report amended
meanwhile moves to the end, as its new version is a new date added.

Each source is read in chunks of ``CHUNK`` rows ordered by ``(date, pk)`` and merged; filters
the database can apply (``added_after``, ids, types) narrow the queries, the others
(``match[version]``, derived ids) are applied to the objects. What a user may see is decided
by ``collections._scoped`` (``for_user``) and nothing else.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from sentinelle.exchange.exporters import stix as stix_export
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.taxii import collections as tc
from sentinelle.exchange.taxii.keys import INCIDENT, INDICATOR, STATIC, BadKey, Position

CHUNK = 500
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
# What each source can give: a type or id filter outside this skips the source altogether.
_TYPES = {STATIC: {"marking-definition", "identity"},
          INCIDENT: {"incident", "indicator", "relationship"},
          INDICATOR: {"indicator", "relationship"}}
__all__ = ["BadKey", "Page", "Position", "iter_entries", "page"]


@dataclass
class Page:
    entries: list[tc.Entry]
    more: bool
    next: str


def size_of(limit: str | None) -> int:
    try:
        return min(max(int(limit), 1), MAX_LIMIT) if limit else DEFAULT_LIMIT
    except ValueError:
        return DEFAULT_LIMIT


def page(collection: tc.Collection, user, filters: tc.Filters, limit: str | None,
         key: str | None) -> Page:
    """One page of at most `limit` objects after the position `key` (raises BadKey)."""
    size = size_of(limit)
    after = Position.from_key(key) if key else None
    chosen: list[tc.Entry] = []
    last: Position | None = None
    for position, entry in _merged(collection, user, filters, after):
        if len(chosen) == size:
            return Page(chosen, True, last.key())
        chosen.append(entry)
        last = position
    return Page(chosen, False, "")


def iter_entries(collection: tc.Collection, user, filters: tc.Filters) -> Iterator[tc.Entry]:
    """Every object, in order, read a chunk at a time (federation push)."""
    for _position, entry in _merged(collection, user, filters, None):
        yield entry


# --- the sources ------------------------------------------------------------------------------

def _merged(collection: tc.Collection, user, filters: tc.Filters,
            after: Position | None) -> Iterator[tuple[Position, tc.Entry]]:
    incidents, indicators = tc._scoped(collection, user)
    sources = []
    # The markings and identities come first: only a page that starts before their end looks
    # for them (their DISTINCT queries read the whole collection).
    if _wanted(STATIC, filters) and (filters.added_after is None
                                     or filters.added_after < tc.STATIC_DATE) and (
            after is None or after < Position(tc.STATIC_DATE, INCIDENT)):
        sources.append(_statics(incidents, indicators, filters))
    if _wanted(INCIDENT, filters):
        sources.append(_rows(_incident_query(incidents, filters), "updated_at", INCIDENT,
                             after, filters, _incident_objects))
    if _wanted(INDICATOR, filters):
        sources.append(_rows(_indicator_query(indicators, filters), "added_at", INDICATOR,
                             after, filters, _indicator_objects(incidents)))
    for position, obj in heapq.merge(*sources, key=lambda item: item[0]):
        if after is not None and position <= after:
            continue
        if not _keep(obj, filters):
            continue
        yield position, tc.Entry(position.date, obj["id"], obj["type"],
                                 obj.get("modified", ""), lambda o=obj: o)


def _wanted(source: int, filters: tc.Filters) -> bool:
    if filters.types and not filters.types & _TYPES[source]:
        return False
    return not filters.ids or any(i.split("--", 1)[0] in _TYPES[source] for i in filters.ids)


def _keep(obj: dict[str, Any], filters: tc.Filters) -> bool:
    if filters.types and obj["type"] not in filters.types:
        return False
    if filters.ids and obj["id"] not in filters.ids:
        return False
    version = obj.get("modified", "")
    # One version per object: first = last = all = the current one.
    return not filters.versions or bool(filters.versions & {"first", "last", "all", version})


def _incident_query(incidents: QuerySet, filters: tc.Filters) -> QuerySet:
    if filters.ids and all(i.startswith("incident--") for i in filters.ids):
        incidents = incidents.filter(stix_id__in=filters.ids)
    return stix_export.exportable(incidents)


def _indicator_query(indicators: QuerySet, filters: tc.Filters) -> QuerySet:
    # A shared indicator's own id is its stix_id; its relationship's id is derived.
    if filters.ids and all(i.startswith("indicator--") for i in filters.ids):
        indicators = indicators.filter(stix_id__in=filters.ids)
    if filters.types and "indicator" not in filters.types:
        indicators = indicators.filter(incident__isnull=False)   # relationships only
    return indicators.select_related("state", "sharing_group")


def _rows(query: QuerySet, date: str, source: int, after: Position | None,
          filters: tc.Filters, expand) -> Iterator[tuple[Position, dict[str, Any]]]:
    """The objects of `query`'s rows from `after` on, a chunk of rows per query. The bounds are
    written ``date >= d AND (date > d OR pk > p)`` so that the database seeks the (date, pk)
    index instead of scanning it."""
    query = query.order_by(date, "pk")
    if filters.added_after is not None:
        query = query.filter(**{f"{date}__gt": filters.added_after})
    bound = None
    if after is not None:
        if source > after.source:
            bound = Q(**{f"{date}__gte": after.date})
        elif source < after.source:
            bound = Q(**{f"{date}__gt": after.date})
        else:   # the row in progress again: its objects up to `after` are skipped
            bound = Q(**{f"{date}__gte": after.date}) & (
                Q(**{f"{date}__gt": after.date}) | Q(pk__gte=after.pk))
    while True:
        rows = list((query.filter(bound) if bound is not None else query)[:CHUNK])
        for row, objects in expand(rows):
            when = getattr(row, date)
            for n, obj in enumerate(objects):
                yield Position(when, source, row.pk, n), obj
        if len(rows) < CHUNK:
            return
        last = getattr(rows[-1], date)
        bound = Q(**{f"{date}__gte": last}) & (Q(**{f"{date}__gt": last})
                                                | Q(pk__gt=rows[-1].pk))


def _incident_objects(rows: list) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
    per_incident = stix_export.current_indicators(rows) if rows else {}
    for incident in rows:
        objects = [stix_export.incident_object(incident)]
        for kind, value in per_incident[incident.pk]:
            objects.extend(stix_export.report_indicator_objects(incident, kind, value))
        yield incident, objects


def _indicator_objects(incidents: QuerySet):
    """The objects of a chunk of shared indicators. An indicator's link to its report is given
    only when the report itself is in `incidents` (what this collection gives this reader): a
    GREEN indicator of a RED report must not name the report, nor say that it exists."""
    def expand(rows: list) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        stix_export._incident_refs(rows)
        linked = {item.incident_id for item in rows if item.incident_id}
        readable = set(stix_export.exportable(incidents).filter(pk__in=linked)
                       .values_list("pk", flat=True)) if linked else set()
        for item in rows:
            objects = stix_export.shared_indicator_objects(item)
            if item.incident_id and item.incident_id not in readable:
                objects = objects[:1]    # the indicator alone, without its relationship
            yield item, objects
    return expand


def _statics(incidents: QuerySet, indicators: QuerySet, filters: tc.Filters
             ) -> Iterator[tuple[Position, dict[str, Any]]]:
    """The TLP markings and State identities the collection's objects use: two small DISTINCT
    queries per source, made only while a page can still reach them."""
    incidents = stix_export.exportable(incidents)
    if filters.added_after is not None:
        incidents = incidents.filter(updated_at__gt=filters.added_after)
        indicators = indicators.filter(added_at__gt=filters.added_after)
    levels = set(incidents.order_by().values_list("tlp", flat=True).distinct())
    levels |= set(indicators.order_by().values_list("tlp", flat=True).distinct())
    state_ids = set(incidents.order_by().values_list("state_id", flat=True).distinct())
    state_ids |= set(indicators.exclude(state=None).order_by()
                     .values_list("state_id", flat=True).distinct())
    from sentinelle.core.models import MemberState

    objects = [sc.tlp2_marking(level) for level in levels if level in sc.TLP2_IDS]
    objects += [stix_export.state_identity(s) for s in MemberState.objects.filter(
        pk__in=state_ids)]
    for obj in sorted(objects, key=lambda o: o["id"]):
        yield Position(tc.STATIC_DATE, STATIC, 0, 0, obj["id"]), obj
