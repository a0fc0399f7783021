"""Percentiles of a duration column for the statistics service: ``PERCENTILE_CONT`` on
PostgreSQL and, elsewhere, two ordered ``LIMIT`` queries per percentile (never a scan into
Python)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.db.models import Aggregate, DurationField, QuerySet

__all__ = ["percentiles"]


def percentiles(durations: QuerySet, column: str, n: int | None = None) -> dict[str, Any]:
    """count, median and p90 in hours of a duration column of an annotated queryset (``n``: its
    number of rows, when the caller counted them already)."""
    if n is None:
        n = durations.count()
    if n == 0:
        return {"count": 0, "median_hours": None, "p90_hours": None}
    if connection.vendor == "postgresql":
        result = durations.aggregate(median=_PercentileCont(column, fraction=0.5),
                                     p90=_PercentileCont(column, fraction=0.9))
        median, p90 = (_hours(result["median"]), _hours(result["p90"]))
    else:
        median, p90 = (_ordered_percentile(durations, column, n, f) for f in (0.5, 0.9))
    return {"count": n, "median_hours": median, "p90_hours": p90}


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
