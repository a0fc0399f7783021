"""What every format parser produces: plain records, no Django, so parsers run and fuzz alone.

A parser is a function ``parse(stream: BinaryIO, *, name: str = "") -> Iterator[Record]`` that
reads its input incrementally and yields, in input order:

- ``ReportRecord``: one incident report to create or merge;
- ``IndicatorRecord``: one indicator shared on its own (not part of a report);
- ``Rejection``: one item that cannot be imported, with where it is and why.

A parser never raises for bad content in one item: it yields a Rejection naming the item's
location (``line 12``, ``$.objects[3].pattern``, ``/IODEF-Document/Incident[2]``) and goes on.
It raises ``FormatError`` only when the whole input is unusable (not this format, XML bomb,
truncated container); the message says what the input looks like instead when it can tell.
Values are normalised by the importer (indicators.normalise, parse_category, …), not here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol


class FormatError(ValueError):
    """The input as a whole cannot be read as the requested format."""


@dataclass
class Attachment:
    """A file that goes with a report as evidence (an OONI measurement, the ARF original)."""

    name: str
    content: bytes
    description: str = ""


@dataclass
class ReportRecord:
    where: str
    source_format: str
    title: str
    description: str = ""
    # Identity across systems: a STIX id ("incident--<uuid>") or the source's own id, which the
    # importer turns into a stable STIX id (uuid5) so that re-importing merges, not duplicates.
    external_id: str | None = None
    category: str | None = None          # Sentinelle category code, if the format says
    rsit: str | None = None              # "class:type"
    tlp: str | None = None               # clear|green|amber|amber+strict|red
    severity: str | None = None          # low|medium|high|critical
    started_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    detected_at: dt.datetime | None = None
    affected_services: list[str] = field(default_factory=list)
    users_affected: int | None = None
    alleged_origin_state: str | None = None   # ISO alpha-2
    narrative_language: str = "en"
    indicators: list[tuple[str, str]] = field(default_factory=list)   # (type, value)
    tags: list[str] = field(default_factory=list)    # kept as given (MISP tags, galaxies, …)
    attachments: list[Attachment] = field(default_factory=list)
    modified: dt.datetime | None = None   # for conflict resolution: newer wins
    sharing_group: str | None = None      # name of a sharing group (MISP distribution 4)
    # Ids (STIX) of the source objects that make up this report (its indicators, the
    # relationships and containers tying them to it): a report one of them was rejected from
    # would be imported half, so the importer refuses it when one of these was rejected.
    refs: list[str] = field(default_factory=list)
    # Who the source says produced it (STIX created_by_ref): federation files the record under
    # the Member State this identity stands for, when the remote is trusted for that State.
    created_by: str | None = None


@dataclass
class IndicatorRecord:
    where: str
    source_format: str
    type: str                 # ipv4|ipv6|prefix|asn|domain|url|email|sha256
    value: str
    external_id: str | None = None        # STIX id "indicator--<uuid>" when known
    name: str = ""
    description: str = ""
    pattern: str | None = None            # the STIX pattern when the source had one
    tlp: str | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    labels: list[str] = field(default_factory=list)
    modified: dt.datetime | None = None
    report_ref: str | None = None         # external_id of a ReportRecord it belongs to
    origin: str | None = None             # id of the source object it came from (STIX id)
    created_by: str | None = None         # the producer's identity (STIX created_by_ref)


@dataclass
class Rejection:
    where: str
    reason: str
    # The rejected object's own id (STIX id) when the source gave one: a report made of it
    # (ReportRecord.refs) is then refused too rather than imported without it.
    ref: str | None = None


Record = ReportRecord | IndicatorRecord | Rejection


class Parser(Protocol):
    def __call__(self, stream: BinaryIO, *, name: str = "") -> object: ...


def holds_nul(record: object) -> bool:
    """Whether any text of a record (its strings, lists and nested records) holds NUL, which
    PostgreSQL text cannot store: the importer refuses the record rather than fail the feed."""
    items = vars(record).values() if hasattr(record, "__dict__") else record
    for item in items:
        if type(item) is str:
            if "\x00" in item:
                return True
        elif (isinstance(item, list | tuple) or hasattr(item, "__dataclass_fields__")) \
                and holds_nul(item):
            return True
    return False
