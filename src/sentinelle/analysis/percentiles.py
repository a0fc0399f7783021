"""Percentiles of a duration column for the statistics service: ``PERCENTILE_CONT`` on
PostgreSQL and, elsewhere, two ordered ``LIMIT`` queries per percentile (never a scan into
Python); and the response times (from submission to a report's first transition to a status)
of several statuses at once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from django.db import connection
from django.db.models import Aggregate, DurationField, ExpressionWrapper, F, Min, QuerySet

__all__ = ["percentiles", "reached_by_state", "response_times"]

_NONE = {"count": 0, "median_hours": None, "p90_hours": None}


def percentiles(durations: QuerySet, column: str, n: int | None = None) -> dict[str, Any]:
    """count, median and p90 in hours of a duration column of an annotated queryset (``n``: its
    number of rows, when the caller counted them already)."""
    if n is None:
        n = durations.count()
    if n == 0:
        return dict(_NONE)
    if connection.vendor == "postgresql":
        result = durations.aggregate(median=_PercentileCont(column, fraction=0.5),
                                     p90=_PercentileCont(column, fraction=0.9))
        median, p90 = (_hours(result["median"]), _hours(result["p90"]))
    else:
        median, p90 = (_ordered_percentile(durations, column, n, f) for f in (0.5, 0.9))
    return {"count": n, "median_hours": median, "p90_hours": p90}


def _first_delays(reports: QuerySet, statuses: list[str]) -> QuerySet:
    """One row per report (of ``reports``, submitted) and status of ``statuses`` it reached:
    ``state_id``, ``reached`` (the status) and ``delay`` (its first transition to that status
    minus the submission). Grouped by report: the first transition is a ``MIN``, not a
    correlated subquery probed once per report."""
    return (reports.filter(submitted_at__isnull=False, transitions__to_status__in=statuses)
            .order_by().values("pk", "state_id", reached=F("transitions__to_status"))
            .annotate(delay=ExpressionWrapper(Min("transitions__at") - F("submitted_at"),
                                              output_field=DurationField())))


def response_times(reports: QuerySet, counts: Mapping[str, int]) -> dict[str, dict[str, Any]]:
    """{status: count, median and p90 in hours} of the time from submission to each report's
    first transition to that status, for the statuses of ``counts`` ({status: how many of
    ``reports`` reached it, counted by the caller}; a status none reached costs no query).

    PostgreSQL: one query for every status (``reached_by_state``). Elsewhere: two ordered reads
    per percentile and status. Both give what ``percentiles`` gave over the former per-report
    subquery (tests compare them)."""
    out = {status: dict(_NONE) for status in counts}
    wanted = [status for status, n in counts.items() if n]
    if not wanted:
        return out
    if connection.vendor == "postgresql":
        return {**out, **reached_by_state(reports, wanted)[0]}
    for status in wanted:
        out[status] = percentiles(_first_delays(reports, [status]), "delay", counts[status])
    return out


def reached_by_state(reports: QuerySet, statuses: list[str]) -> tuple[
        dict[str, dict[str, Any]], dict[str, dict[int, int]]]:
    """PostgreSQL only, one statement: ({status: count, median and p90 in hours}, {status:
    {State pk: reports that reached it}}) over the submitted ``reports``, a status counting a
    report once however many transitions to it the report had. The reports' first transitions
    are found once (a materialised CTE) and both the counts and the percentiles read them."""
    reached: dict[str, dict[int, int]] = {status: {} for status in statuses}
    values: list = []
    sql, params = _first_delays(reports, statuses).query.sql_with_params()
    # Percentiles as aggregates filtered by status (no GROUP BY, so no sort of the rows by
    # status before the percentiles' own sort); the counts per status and State hashed.
    pct = ", ".join(f"PERCENTILE_CONT({f}) WITHIN GROUP (ORDER BY d.\"delay\") "
                    f"FILTER (WHERE d.\"reached\" = %s)" for _s in statuses for f in (0.5, 0.9))
    with connection.cursor() as cur:
        # Only Django's compiled SQL is formatted in; the values are parameters.
        cur.execute(f"WITH d AS MATERIALIZED ({sql}) "  # noqa: S608
                    'SELECT d."reached", d."state_id", COUNT(*), NULL FROM d '
                    'GROUP BY d."reached", d."state_id" UNION ALL '
                    f"SELECT NULL, NULL, NULL, ARRAY[{pct}] FROM d",
                    [*params, *(s for s in statuses for _f in (0.5, 0.9))])
        for status, state, n, found in cur.fetchall():
            if status is None:
                values = found
            else:
                reached[status][state] = n
    times = {status: {"count": sum(reached[status].values()),
                      "median_hours": _hours(values[2 * k]),
                      "p90_hours": _hours(values[2 * k + 1])} if reached[status] else dict(_NONE)
             for k, status in enumerate(statuses)}
    return times, reached


class _PercentileCont(Aggregate):
    # PostgreSQL's continuous percentile (linear interpolation), the same as the fallback.
    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = DurationField()

    def __init__(self, expression: str, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _hours(value: dt.timedelta | None) -> float | None:
    return None if value is None else round(value.total_seconds() / 3600, 2)


def _ordered_percentile(qs: QuerySet, column: str, n: int, fraction: float) -> float | None:
    """PERCENTILE_CONT by reading at most two ordered values (no scan into Python)."""
    position = fraction * (n - 1)
    low = int(position)
    values = list(qs.order_by(column).values_list(column, flat=True)[low:low + 2])
    lo = values[0]
    hi = values[1] if len(values) > 1 else lo
    return _hours(lo + (hi - lo) * (position - low))
