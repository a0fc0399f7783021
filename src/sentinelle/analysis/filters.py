"""Reading a StatsFilter from a query string: one parser for the dashboards, exports and API."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils.translation import gettext as _

from sentinelle.analysis.statistics import StatsFilter

__all__ = ["filter_from_query", "query_from_filter"]


def _values(query: QueryDict, name: str) -> tuple[str, ...]:
    # ?state=CU&state=CH and ?state=CU,CH both work.
    out: list[str] = []
    for raw in query.getlist(name):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return tuple(sorted(set(out)))


def _date(query: QueryDict, name: str) -> dt.date | None:
    raw = query.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError({name: _("Give a date as YYYY-MM-DD.")}) from None


def filter_from_query(query: QueryDict) -> StatsFilter:
    """The filter a query string asks for; ValidationError names the bad parameter."""
    year = None
    raw_year = query.get("year", "").strip()
    if raw_year:
        # isdecimal and the length first: int() refuses "²" (a digit) and over 4,300 digits.
        if not (raw_year.isdecimal() and len(raw_year) == 4) or not 1900 <= int(raw_year) <= 2999:
            raise ValidationError({"year": _("Give a year as four digits.")})
        year = int(raw_year)
    flt = StatsFilter(
        year=year, date_from=_date(query, "date_from"), date_to=_date(query, "date_to"),
        states=tuple(s.upper() for s in _values(query, "state")),
        categories=_values(query, "category"), rsit_classes=_values(query, "rsit_class"),
        regions=_values(query, "region"))
    if flt.date_from and flt.date_to and flt.date_to < flt.date_from:
        raise ValidationError({"date_to": _("The end date is before the start date.")})
    return flt


def query_from_filter(flt: StatsFilter) -> str:
    """The query string of a filter (for export links)."""
    query = QueryDict(mutable=True)
    if flt.year:
        query["year"] = str(flt.year)
    if flt.date_from:
        query["date_from"] = flt.date_from.isoformat()
    if flt.date_to:
        query["date_to"] = flt.date_to.isoformat()
    for name, values in (("state", flt.states), ("category", flt.categories),
                         ("rsit_class", flt.rsit_classes), ("region", flt.regions)):
        if values:
            query.setlist(name, list(values))
    return query.urlencode()
