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
version. The kept
figures also hold labels translated by the catalogue (severities, statuses, channels, regions;
the other labels come from the reference tables): the kept fingerprint ends with a hash of
those labels in the row's language, so a new translation recomputes the year too. Each read of
a kept year compares it; a different fingerprint recomputes the year, replaces the kept copy and
writes an audit entry (``analysis.statistics.recomputed``) naming the year and why.

``fingerprints`` takes several years' in one statement (each table read once for all of them);
a Council report takes its five years' that way on entry (``prefetched``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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

__all__ = ["FORMAT", "fingerprint", "fingerprints", "forget", "is_closed", "kept", "prefetched"]

logger = logging.getLogger(__name__)

# Raise when what compute() returns changes shape or meaning: every kept year is then stale.
# 2: the kept fingerprint ends with the key of the catalogue's labels.
FORMAT = 2

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
    return fingerprints([year])[year]


def fingerprints(years: Iterable[int]) -> dict[int, str]:
    """{year: ``fingerprint(year)``} of several years in one statement: each table is read
    once for all of them (aggregates filtered by year), not once per year, and the reference
    tables once."""
    years = sorted(set(years))
    if not years:
        return {}
    if connection.vendor != "postgresql":
        connection.ensure_connection()
        connection.connection.create_function("sentinelle_h48", 1, _h48, deterministic=True)
        connection.connection.create_aggregate("sentinelle_hsum", 1, _HashSum)
    total = "SUM" if connection.vendor == "postgresql" else "sentinelle_hsum"
    t = {m: connection.ops.quote_name(m._meta.db_table)
         for m in (Incident, Transition, Evidence, LinkedReport, SummaryReturn, SummaryLine,
                   MemberState, Category, RsitClass, RsitType)}
    # A year's reports are those that started in it in UTC, and a day more on each side: the
    # excess of a summary return is counted against the reports of its year in the platform's
    # time zone (``started_at__year``, up to 14 hours off UTC). So the windows of two
    # consecutive years overlap. The years' incidents are read once (the CTE "inc", the
    # started_at index serving the range) and the other tables join it for their start.
    windows = {y: _window(y) for y in years}
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    # Only table names and SQL of this module are formatted in; the values are parameters.
    cte = (f"WITH inc AS {materialized}(SELECT i.id, i.started_at AS s, "  # noqa: S608
           f"{_row_hash(Incident, 'i')} AS h "
           f"FROM {t[Incident]} i WHERE i.started_at >= %s AND i.started_at < %s) ")
    cte_args = [windows[years[0]][0], windows[years[-1]][1]]
    in_years = f"IN ({', '.join('%s' for _y in years)})"
    rows_of = {
        Incident: "SELECT NULL AS y, s, h FROM inc",
        SummaryReturn: _rows("x.year", "NULL", SummaryReturn, t, f"WHERE x.year {in_years}"),
        SummaryLine: _rows("r.year", "NULL", SummaryLine, t, f"JOIN {t[SummaryReturn]} r "
                           f"ON r.id = x.summary_id WHERE r.year {in_years}"),
        **{model: _rows("NULL", "inc.s", model, t, "JOIN inc ON inc.id = x.incident_id")
           for model in (Transition, Evidence, LinkedReport)},
        **{model: _rows("NULL", "NULL", model, t, "") for model in _REFERENCE},
    }
    parts: list[tuple[type[models.Model], str, list[Any]]] = [
        (model, rows_of[model], years if model in (SummaryReturn, SummaryLine) else [])
        for model in t]
    selects, args = [], list(cte_args)
    for n, (model, rows_sql, part_args) in enumerate(parts):
        # Count and hash sum of each year in one pass over each table, as aggregates filtered
        # by year (one row, no GROUP BY: no sort of the rows): by the year column of the
        # summary returns, by the start's window for the reports and what hangs on them; a
        # reference table's figures are the same for every year.
        if model in _REFERENCE:
            per_year, year_args = ", ".join(
                f"COUNT(*), COALESCE({total}(g.h), 0)" for _y in years), []
        elif model in (SummaryReturn, SummaryLine):
            per_year, year_args = ", ".join(
                f"COUNT(*) FILTER (WHERE g.y = {int(y)}), "
                f"COALESCE({total}(g.h) FILTER (WHERE g.y = {int(y)}), 0)" for y in years), []
        else:
            in_window = "WHERE g.s >= %s AND g.s < %s"
            per_year = ", ".join(f"COUNT(*) FILTER ({in_window}), "
                                 f"COALESCE({total}(g.h) FILTER ({in_window}), 0)"
                                 for _y in years)
            year_args = [bound for y in years for bound in (*windows[y], *windows[y])]
        selects.append(f"SELECT {n}, {per_year} FROM ({rows_sql}) g")  # noqa: S608
        args += [*year_args, *part_args]
    with connection.cursor() as cur:
        cur.execute(cte + " UNION ALL ".join(selects), args)
        rows = {row[0]: row[1:] for row in cur.fetchall()}
    out = {}
    for k, year in enumerate(years):
        values = [f"{rows[n][2 * k]}:{int(rows[n][2 * k + 1])}" for n in range(len(parts))]
        out[year] = f"{FORMAT}/{sentinelle.__version__}/" + hashlib.sha256(
            "|".join(values).encode()).hexdigest()
    return out


def _window(year: int) -> tuple[dt.datetime, dt.datetime]:
    """The starts of the reports a year's fingerprint covers: the UTC year, a day more on each
    side (see ``fingerprints``)."""
    day = dt.timedelta(days=1)
    low, high = dt.datetime(year, 1, 1, tzinfo=dt.UTC), dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    return (low - day if year > 1 else low), high + day


def _rows(year_sql: str, start_sql: str, model: type[models.Model], t: dict, tail: str) -> str:
    """SQL of a table's rows as (year, start of the report, row hash), the table aliased x."""
    return (f"SELECT {year_sql} AS y, {start_sql} AS s, {_row_hash(model, 'x')} AS h "  # noqa: S608
            f"FROM {t[model]} x {tail}")


_REFERENCE = (MemberState, Category, RsitClass, RsitType)


def _labels_key() -> str:
    """A hash of the catalogue's labels in the active language (``catalogue_labels``)."""
    from sentinelle.analysis.statistics import catalogue_labels

    return hashlib.blake2b("\x1f".join(catalogue_labels()).encode(), digest_size=8).hexdigest()


def _reason(kept_fingerprint: str, data: str) -> str:
    if kept_fingerprint.rsplit("/", 1)[0] == data:
        return "the translations of its labels changed since its statistics were kept"
    return "the data of the year changed since its statistics were kept"


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


# Fingerprints taken ahead for one piece of work (``prefetched``): {year: fingerprint}.
_AHEAD: ContextVar[dict[int, str] | None] = ContextVar("sentinelle_fingerprints", default=None)


@contextmanager
def prefetched(years: Iterable[int]) -> Iterator[None]:
    """Within the block, ``kept`` uses fingerprints of the closed ``years`` taken on entry in
    one statement (a Council report reads five years: one pass over each table instead of one
    per year). Safe for the same reason as one fingerprint per read: it is taken before the
    figures are computed, so a change after entry leaves at worst an older fingerprint kept
    with newer figures, which the next read recomputes; never a newer fingerprint on older
    figures."""
    token = _AHEAD.set(fingerprints(y for y in years if is_closed(y)))
    try:
        yield
    finally:
        _AHEAD.reset(token)


def kept(year: int, fresh: Callable[[], Any]) -> Any:
    """The statistics of closed ``year`` (``fresh()`` computes them with shares and without
    year-over-year): the kept copy if its fingerprint still matches, else ``fresh()``, kept."""
    language = _language()
    ahead = _AHEAD.get()
    data = ahead[year] if ahead and year in ahead else fingerprint(year)
    # The kept rows hold labels translated by the catalogue: keyed by them too, so that a new
    # translation alone (no change to the year's data) recomputes the year.
    current = f"{data}/{_labels_key()}"
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
                        "reason": _reason(row.fingerprint, data)})
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
