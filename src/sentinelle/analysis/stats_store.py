"""Statistics of closed years, computed once and kept.

The Council report shows five years (the trend table) and every public page shows a year beside
the one before it; a year that has ended rarely changes, so its figures are kept in
``KeptStatistics`` and computed again only when its data changed. Only the viewer-independent
form is kept: every TLP, no reader's scope, whole calendar year, summary returns included, with
the disclosure rule's shares (``statistics.compute`` decides, see ``keepable``). A view scoped to
a reader is never kept, so nothing kept can leak from one State to another. The current year is
never kept (its data change every day).

**Fingerprint**: one aggregate query over everything the year's figures are computed from — the
incidents that started in the year or a day either side of it (every column, every status, so a
late report, an amendment, a withdrawal, a deletion or a bulk ``UPDATE`` that bypasses
``save()`` and signals all change it), their transitions, evidence files and links, the year's
summary returns and their lines, and the reference tables (States, categories, RSIT classes and
types) — as a count and a sum of 64-bit hashes of each row's text per table, plus the code's
version. Each read of a kept year compares it; a different fingerprint recomputes the year,
replaces the kept copy and writes an audit entry (``analysis.statistics.recomputed``) naming the
year.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, models, transaction
from django.utils import timezone, translation

import sentinelle
from sentinelle.analysis.models import KeptStatistics, LinkedReport
from sentinelle.core import audit
from sentinelle.core.models import MemberState
from sentinelle.incidents.models import (
    Category,
    Evidence,
    Incident,
    RsitClass,
    RsitType,
    SummaryLine,
    SummaryReturn,
    Transition,
)

__all__ = ["FORMAT", "fingerprint", "forget", "is_closed", "kept"]

logger = logging.getLogger(__name__)

# Raise when what compute() returns changes shape or meaning: every kept year is then stale.
FORMAT = 1

_INT_KEYS = "\u0000int"


def is_closed(year: int) -> bool:
    """True once the year has ended both in UTC (the periods' clock) and in the platform's
    time zone (``disclosure.current_year``)."""
    return year < min(timezone.now().astimezone(dt.UTC).year, timezone.localdate().year)


def _h48(text: str | None) -> int:
    # SQLite's SUM overflows past 2**63: 48-bit row hashes leave room for 2**15 rows of each.
    return int.from_bytes(hashlib.blake2b((text or "").encode(), digest_size=6).digest(), "big")


class _HashSum:
    """SQLite's SUM of the row hashes, modulo 2**63: SUM itself raises "integer overflow" past
    2**15 rows of 48-bit hashes (about 2**16 on average: the transitions of a busy year)."""

    def __init__(self) -> None:
        self.total = 0

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total = (self.total + value) % 2**63

    def finalize(self) -> int:
        return self.total


def _row_hash(model: type[models.Model], alias: str) -> str:
    """SQL for a hash of every column of a row (NULL distinct from an empty string)."""
    if connection.vendor == "postgresql":
        # The whole row's text (every column, NULL written as nothing between commas, strings
        # quoted when needed): one output function per row, faster than a cast per column.
        return f"hashtextextended({alias}::text, 0)"
    qn = connection.ops.quote_name
    text = " || '|' || ".join(f"COALESCE(CAST({alias}.{qn(f.column)} AS TEXT), '~')"
                              for f in model._meta.concrete_fields)
    return f"sentinelle_h48({text})"


def fingerprint(year: int) -> str:
    """The fingerprint of everything ``compute(StatsFilter(year=year))`` reads (module
    docstring), in one query."""

    if connection.vendor != "postgresql":
        connection.ensure_connection()
        connection.connection.create_function("sentinelle_h48", 1, _h48, deterministic=True)
        connection.connection.create_aggregate("sentinelle_hsum", 1, _HashSum)
    t = {m: connection.ops.quote_name(m._meta.db_table)
         for m in (Incident, Transition, Evidence, LinkedReport, SummaryReturn, SummaryLine,
                   MemberState, Category, RsitClass, RsitType)}
    in_year = "i.started_at >= %s AND i.started_at < %s"
    # A day more on each side: the excess of a summary return is counted against the reports
    # of its year in the platform's time zone (``started_at__year``, up to 14 hours off UTC).
    day = dt.timedelta(days=1)
    low, high = dt.datetime(year, 1, 1, tzinfo=dt.UTC), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    year_args = [low - day if year > 1 else low, high + day]
    joined = f"JOIN {t[Incident]} i ON i.id = x.incident_id WHERE {in_year}"
    parts: list[tuple[type[models.Model], str, list[Any]]] = [
        (Incident, f"FROM {t[Incident]} x WHERE {in_year.replace('i.', 'x.')}", year_args),
        (Transition, f"FROM {t[Transition]} x {joined}", year_args),
        (Evidence, f"FROM {t[Evidence]} x {joined}", year_args),
        (LinkedReport, f"FROM {t[LinkedReport]} x {joined}", year_args),
        (SummaryReturn, f"FROM {t[SummaryReturn]} x WHERE x.year = %s", [year]),
        (SummaryLine, f"FROM {t[SummaryLine]} x JOIN {t[SummaryReturn]} r "
                      "ON r.id = x.summary_id WHERE r.year = %s", [year]),
        *((model, f"FROM {t[model]} x", []) for model in (MemberState, Category, RsitClass,
                                                            RsitType)),
    ]
    selects, args = [], []
    for model, tail, tail_args in parts:
        # Count and hash sum in one pass over each table.
        total = "SUM" if connection.vendor == "postgresql" else "sentinelle_hsum"
        selects.append(f"(SELECT CAST(COUNT(*) AS TEXT) || ':' || "
                       f"CAST(COALESCE({total}({_row_hash(model, 'x')}), 0) AS TEXT) {tail})")
        args += tail_args
    with connection.cursor() as cur:
        cur.execute("SELECT " + ", ".join(selects), args)
        values = cur.fetchone()
    return f"{FORMAT}/{sentinelle.__version__}/" + hashlib.sha256(
        "|".join(str(v) for v in values).encode()).hexdigest()


def _language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


def _pack(value: Any) -> Any:
    """JSON-ready: dicts keyed by State pk (the disclosure shares) keep their int keys."""
    if isinstance(value, dict):
        if value and all(isinstance(k, int) for k in value):
            return {_INT_KEYS: [[k, _pack(v)] for k, v in value.items()]}
        return {k: _pack(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_pack(v) for v in value]
    return value


def _unpack(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {_INT_KEYS}:
            return {k: _unpack(v) for k, v in value[_INT_KEYS]}
        return {k: _unpack(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unpack(v) for v in value]
    return value


def _encode(stats: Any) -> str:
    from sentinelle.analysis.statistics import TABLES

    body = {name: getattr(stats, name) for name in
            (*TABLES, "totals", "time_to_acknowledge", "time_to_close", "shares")}
    return json.dumps(_pack(body), separators=(",", ":"))


def _decode(year: int, payload: str) -> Any:
    from sentinelle.analysis.statistics import Stats, StatsFilter

    return Stats(filter=StatsFilter(year=year), **_unpack(json.loads(payload)))


def kept(year: int, fresh: Callable[[], Any]) -> Any:
    """The statistics of closed ``year`` (``fresh()`` computes them with shares and without
    year-over-year): the kept copy if its fingerprint still matches, else ``fresh()``, kept."""
    language = _language()
    current = fingerprint(year)
    row = KeptStatistics.objects.filter(year=year, language=language).first()
    if row is not None and row.fingerprint == current:
        return _decode(year, row.payload)
    # Fingerprint first, then compute: a change meanwhile leaves an older fingerprint kept,
    # so the next read recomputes; never a newer fingerprint on older figures.
    stats = fresh()
    try:
        with transaction.atomic():
            if row is None:
                KeptStatistics.objects.create(year=year, language=language,
                                              fingerprint=current, payload=_encode(stats))
            else:
                updated = KeptStatistics.objects.filter(pk=row.pk, fingerprint=row.fingerprint) \
                    .update(fingerprint=current, payload=_encode(stats),
                            computed_at=timezone.now())
                if updated:
                    audit.record("analysis.statistics.recomputed", row, before={
                        "year": year, "language": language, "fingerprint": row.fingerprint,
                        "computed_at": row.computed_at}, after={
                        "year": year, "language": language, "fingerprint": current,
                        "reason": "the data of the year changed since its statistics were kept"})
    except (IntegrityError, DatabaseError):  # another process kept it first, or read-only
        logger.warning("statistics of %s not kept", year, exc_info=True)
    return stats


def forget(year: int | None = None) -> int:
    """Drop the kept statistics (of one year, or all); they are computed again when next read.
    Audited. Returns how many were dropped."""
    rows = KeptStatistics.objects.all() if year is None else \
        KeptStatistics.objects.filter(year=year)
    with transaction.atomic():
        years = sorted(set(rows.values_list("year", flat=True)))
        dropped, _by_model = rows.delete()
        if dropped:
            audit.record("analysis.statistics.forgotten", "all" if year is None else year,
                         object_type="analysis.keptstatistics",
                         after={"years": years, "dropped": dropped})
    return dropped
