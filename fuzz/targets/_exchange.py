"""What every exchange-format target does: open the input as the importer does (the format
fixed, as an upload with ``format=<name>``), consume every record, and check that each record
has the types the importer relies on (a dict where a title should be would fail there)."""

from __future__ import annotations

import datetime as dt
import io

from sentinelle.exchange.reading import open_records
from sentinelle.exchange.records import (
    Attachment,
    FormatError,
    IndicatorRecord,
    Rejection,
    ReportRecord,
)

REFUSALS: tuple[type[BaseException], ...] = (FormatError,)


class RecordTypeError(AssertionError):
    """A parser yielded a record the importer cannot use: a fuzzing failure, not a refusal."""


def check_record(record: object) -> None:
    def need(ok: bool, what: str) -> None:
        if not ok:
            raise RecordTypeError(f"{type(record).__name__}.{what}: wrong type")

    if isinstance(record, Rejection):
        need(isinstance(record.where, str) and isinstance(record.reason, str), "where/reason")
        return
    if isinstance(record, ReportRecord):
        for name in ("where", "source_format", "title", "description", "narrative_language"):
            need(isinstance(getattr(record, name), str), name)
        for name in ("external_id", "category", "rsit", "tlp", "severity",
                     "alleged_origin_state", "sharing_group", "created_by"):
            need(getattr(record, name) is None or isinstance(getattr(record, name), str), name)
        for name in ("started_at", "ended_at", "detected_at", "modified"):
            need(getattr(record, name) is None
                 or isinstance(getattr(record, name), dt.datetime), name)
        need(record.users_affected is None or (isinstance(record.users_affected, int)
                                               and not isinstance(record.users_affected, bool)),
             "users_affected")
        need(all(isinstance(s, str) for s in record.affected_services), "affected_services")
        need(all(isinstance(t, str) for t in record.tags), "tags")
        need(all(isinstance(i, tuple) and len(i) == 2 and all(isinstance(v, str) for v in i)
                 for i in record.indicators), "indicators")
        need(all(isinstance(a, Attachment) and isinstance(a.name, str)
                 and isinstance(a.content, bytes) for a in record.attachments), "attachments")
        return
    if isinstance(record, IndicatorRecord):
        for name in ("where", "source_format", "type", "value", "name", "description"):
            need(isinstance(getattr(record, name), str), name)
        for name in ("external_id", "pattern", "tlp", "report_ref", "created_by"):
            need(getattr(record, name) is None or isinstance(getattr(record, name), str), name)
        for name in ("valid_from", "valid_until", "modified"):
            need(getattr(record, name) is None
                 or isinstance(getattr(record, name), dt.datetime), name)
        need(all(isinstance(t, str) for t in record.labels), "labels")
        return
    raise RecordTypeError(f"unknown record {type(record).__name__}")


def run_format(fmt: str, data: bytes, name: str = "") -> None:
    """Feed ``data`` to the ``fmt`` parser through reading.open_records and check every record."""
    _fmt, records = open_records(io.BytesIO(data), fmt, name)
    for record in records:
        check_record(record)
