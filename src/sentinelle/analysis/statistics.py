"""The statistics service: one source of figures for the dashboards, the API, the exports and the
Council report.

Public interface (stable; the ``reports`` and ``actionplan`` apps consume it)::

    flt = StatsFilter(year=2026, states=("CU",))
    stats = compute(flt)                     # -> Stats, every figure, unsuppressed
    stats.totals["incidents"]                # combined count (reports + summary returns)
    for row in stats.by_category: row["key"], row["label"], row["incidents"], ...

What counts: **submitted** reports, i.e. every status except draft, withdrawn and duplicate (a
duplicate is counted once, through its primary). Statistics are aggregates over every TLP; who
may see which cut is decided by :mod:`sentinelle.analysis.disclosure`, not here.

A report belongs to the period in which it **started** (``started_at``, UTC), as ENISA's annual
incident reporting counts incidents of the year in which they occurred.

**Summary returns** (a State's annual aggregate counts per category × RSIT class) are combined
with individual reports by this rule, applied per cell (State, year, category, RSIT class):

    combined incidents  = max(return count,      individually reported count)
    combined user-hours = max(return user-hours, individually reported user-hours)

Why max and not a sum: a return is the State's complete count for the year, so it already
includes incidents the State also reported one by one; summing would count them twice. Why not
the return alone: a return sent early can be lower than what was later reported individually,
and the individual reports are evidence that those incidents happened. The excess of a return
over the individual reports (``from_summary_returns``) can only be attributed to the dimensions
a return carries: category, RSIT class, State and its regions, year. Tables by RSIT type, month,
severity and status, and the response times and evidence rate, describe individual reports
only (their rows have ``from_summary_returns == 0``). Only the latest version of each return
counts. A return for year Y is used only when the filter covers the whole of Y (a ``year`` of Y,
no dates, or a date range containing 1 January to 31 December of Y): a return cannot be split
by month.

**Linked incidents** (``analysis/linking.py``): reports of several States that the Secretariat
linked as one incident count once in ``incidents`` and ``user_hours``, in the totals and in the
tables by category, RSIT class, region and State: in each row, a linked incident counts once if
any of its counted reports falls in the row, with the **largest** user-hours of those reports.
Why the largest and not the sum: each State estimates the same outage's users-times-hours from
its side, and one incident seen from three States tripled user-hours in ENISA's 2021 figures;
the largest report is the best single estimate and never below any State's own. A row counts
each linked incident once, so the rows of a table may add up to more than the total when the
States classified one incident differently, and a State's row still counts its own report.
``reported`` keeps counting every report, and the tables by RSIT type, month, severity and
status, the response times and the evidence rate describe reports, each one counting. Summary
returns are compared with a State's reports, as before.

Everything is computed by SQL aggregation (``values().annotate()``), never by iterating over
reports in Python, so that it scales to a million reports on PostgreSQL. Percentiles use
``PERCENTILE_CONT`` on PostgreSQL and, elsewhere, two ordered ``LIMIT`` queries per percentile.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import (
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest

from sentinelle.analysis import statistics_groups
from sentinelle.analysis.percentiles import response_times
from sentinelle.core.models import MemberState
from sentinelle.core.models.states import ADMIN_REGIONS, ITU_D_REGIONS
from sentinelle.incidents.models import (
    Category,
    Channel,
    Evidence,
    Incident,
    RsitClass,
    RsitType,
    Severity,
    Status,
    SummaryLine,
    SummaryReturn,
)
from sentinelle.incidents.models.workflow import NOT_COUNTED

__all__ = [
    "COUNTED_EXCLUDED_STATUSES",
    "ROW_KEYS",
    "TABLES",
    "Stats",
    "StatsFilter",
    "catalogue_labels",
    "compute",
    "counted_incidents",
    "small_count_threshold",
]

# Reports that are not counted: unfinished, taken back, or already counted through a primary.
# Defined beside the statuses (Incident.objects.counted) so that the dashboard counts the same.
COUNTED_EXCLUDED_STATUSES = NOT_COUNTED

# Every row of every table has these keys (by_state rows add a few, see Stats).
ROW_KEYS = ("key", "label", "incidents", "reported", "from_summary_returns", "user_hours")

# The tables of a Stats, in display order.
TABLES = ("by_category", "by_rsit_class", "by_rsit_type", "by_itu_d_region", "by_admin_region",
          "by_state", "by_month", "by_severity", "by_status", "by_channel")


def catalogue_labels() -> list[str]:
    """Every label a Stats takes from the translation catalogue (the rest come from the
    database: categories, RSIT classes and types, State names), in the active language. Kept
    statistics are keyed by them (``stats_store``): a new translation recomputes a kept year."""
    return [str(label) for choices in (Severity.choices, Status.choices, Channel.choices,
                                       ITU_D_REGIONS, ADMIN_REGIONS) for _key, label in choices]


def small_count_threshold() -> int:
    """Counts below this, tied to a named State, are suppressed for readers outside it
    (setting SENTINELLE_SMALL_COUNT, default 3)."""
    return int(getattr(settings, "SMALL_COUNT", 3))


@dataclass(frozen=True)
class StatsFilter:
    """Which reports a Stats covers. Empty tuples mean "all".

    year: calendar year of ``started_at`` (UTC). date_from/date_to: inclusive dates of
    ``started_at``; combined with year they narrow it. states: ISO alpha-2 codes. categories:
    category codes. rsit_classes: RSIT class codes. regions: ITU-D region names ("Africa", …)
    or administrative region letters ("A"…"E"), matched against either.
    """

    year: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    states: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    rsit_classes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def previous_year(self) -> StatsFilter | None:
        """The same cut one year earlier (for year-over-year change), if the filter has a year."""
        if self.year is None:
            return None
        shift = _shift_year
        return StatsFilter(year=self.year - 1, date_from=shift(self.date_from),
                           date_to=shift(self.date_to), states=self.states,
                           categories=self.categories, rsit_classes=self.rsit_classes,
                           regions=self.regions)

    def bounds(self) -> tuple[dt.date | None, dt.date | None]:
        """The inclusive date range the filter covers (None = open)."""
        start, end = self.date_from, self.date_to
        if self.year is not None:
            y0, y1 = dt.date(self.year, 1, 1), dt.date(self.year, 12, 31)
            start = max(start, y0) if start else y0
            end = min(end, y1) if end else y1
        return start, end


def _shift_year(day: dt.date | None) -> dt.date | None:
    if day is None:
        return None
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


@dataclass
class Stats:
    """Every figure for one filter. Rows are dicts with the keys in ROW_KEYS:

    ``key`` (stable code: category code, RSIT class code, "class:type", region, alpha-2,
    "YYYY-MM", severity, status, channel),
    ``label`` (in the active language), ``incidents`` (combined:
    reports + excess of summary returns), ``reported`` (individual reports),
    ``from_summary_returns``
    (excess of returns, see the module docstring), ``user_hours`` (combined, rounded to 2 places).
    ``by_state`` rows add ``itu_d_region``, ``admin_region`` and ``consenting`` (reports whose
    State consented to be named). ``totals`` has incidents, reported, from_summary_returns,
    user_hours, states_reporting, with_evidence, evidence_rate (0..1 of reports, None if none).
    ``time_to_acknowledge`` and ``time_to_close`` have count, median_hours, p90_hours (hours from
    submission to the first such transition; None without data). ``year_over_year`` has
    year, previous_year, incidents, previous_incidents, change, change_pct (None without a year
    or a previous figure of 0) and ``by_category``: rows with key, label, incidents, previous,
    change, change_pct.
    """

    filter: StatsFilter
    totals: dict[str, Any] = field(default_factory=dict)
    by_category: list[dict[str, Any]] = field(default_factory=list)
    by_rsit_class: list[dict[str, Any]] = field(default_factory=list)
    by_rsit_type: list[dict[str, Any]] = field(default_factory=list)
    by_itu_d_region: list[dict[str, Any]] = field(default_factory=list)
    by_admin_region: list[dict[str, Any]] = field(default_factory=list)
    by_state: list[dict[str, Any]] = field(default_factory=list)
    by_month: list[dict[str, Any]] = field(default_factory=list)
    by_severity: list[dict[str, Any]] = field(default_factory=list)
    by_status: list[dict[str, Any]] = field(default_factory=list)
    # How the reports arrived (Incident.channel): individual reports only, like by_severity.
    by_channel: list[dict[str, Any]] = field(default_factory=list)
    time_to_acknowledge: dict[str, Any] = field(default_factory=dict)
    time_to_close: dict[str, Any] = field(default_factory=dict)
    year_over_year: dict[str, Any] = field(default_factory=dict)
    # True when small-count suppression hid a figure (set by disclosure.publish, never here).
    suppressed: bool = False
    # Who contributed to each count, for the disclosure rule only (never serialised):
    # {table: {row key: {State pk: incidents}}}, plus "totals" -> {"incidents"|"reported": {...}}.
    shares: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (the API's body)."""
        flt = self.filter
        return {
            "filter": {"year": flt.year,
                       "date_from": flt.date_from.isoformat() if flt.date_from else None,
                       "date_to": flt.date_to.isoformat() if flt.date_to else None,
                       "states": list(flt.states), "categories": list(flt.categories),
                       "rsit_classes": list(flt.rsit_classes), "regions": list(flt.regions)},
            "totals": dict(self.totals),
            # Every row says whether it was suppressed: the Secretariat's precise rows too
            # (never), as the schema requires of all (Schemathesis found them without it).
            **{name: [{"suppressed": False, **r} for r in getattr(self, name)]
               for name in TABLES},
            "time_to_acknowledge": dict(self.time_to_acknowledge),
            "time_to_close": dict(self.time_to_close),
            "year_over_year": {**self.year_over_year,
                               "by_category": [dict(r) for r in
                                               self.year_over_year.get("by_category", [])]},
            "suppressed": self.suppressed,
        }


# --- querysets ---------------------------------------------------------------------------------

def _aware(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _dimension_q(flt: StatsFilter, state: str, category: str, rsit_class: str) -> Q:
    """The non-date part of a filter, with the lookups' prefixes for the model at hand."""
    q = Q()
    if flt.states:
        q &= Q(**{f"{state}__alpha2__in": [s.upper() for s in flt.states]})
    if flt.categories:
        q &= Q(**{f"{category}__code__in": list(flt.categories)})
    if flt.rsit_classes:
        q &= Q(**{f"{rsit_class}__code__in": list(flt.rsit_classes)})
    if flt.regions:
        q &= (Q(**{f"{state}__itu_d_region__in": list(flt.regions)})
              | Q(**{f"{state}__admin_region__in": list(flt.regions)}))
    return q


def counted_incidents(flt: StatsFilter,
                      scope: QuerySet[Incident] | None = None) -> QuerySet[Incident]:
    """The individual reports a filter counts: every TLP, or only those of ``scope`` (a viewer's
    ``Incident.objects.for_user()``, so that a precise view counts only what its reader may
    see)."""
    qs = Incident.objects.counted()
    if scope is not None:
        qs = qs.filter(pk__in=scope.values("pk"))
    start, end = flt.bounds()
    # Ranges rather than __year so that the started_at index serves the query.
    if start:
        qs = qs.filter(started_at__gte=_aware(start))
    if end:
        qs = qs.filter(started_at__lt=_aware(end + dt.timedelta(days=1)))
    return qs.filter(_dimension_q(flt, "state", "category", "rsit_type__rsit_class"))


def _whole_years(flt: StatsFilter) -> tuple[int | None, int | None] | None:
    """The first and last years the filter covers whole (None = open); None if no whole year."""
    start, end = flt.bounds()
    first = None if start is None else start.year + (start != dt.date(start.year, 1, 1))
    last = None if end is None else end.year - (end != dt.date(end.year, 12, 31))
    if first is not None and last is not None and first > last:
        return None
    return first, last


def _summary_lines(flt: StatsFilter,
                   scope: QuerySet[Incident] | None = None) -> QuerySet[SummaryLine] | None:
    years = _whole_years(flt)
    if years is None:
        return None
    first, last = years
    latest = SummaryReturn.objects.latest_versions().values("pk")
    lines = SummaryLine.objects.filter(summary__in=latest)
    if first is not None:
        lines = lines.filter(summary__year__gte=first)
    if last is not None:
        lines = lines.filter(summary__year__lte=last)
    lines = lines.filter(
        _dimension_q(flt, "summary__state", "category", "rsit_class"))
    # The individually reported figures of the same cell (any period filter is whole years).
    # Within the same scope, so that the excess of a return reveals nothing outside it.
    cell = counted_incidents(StatsFilter(), scope).filter(
        state_id=OuterRef("summary__state_id"), category_id=OuterRef("category_id"),
        rsit_type__rsit_class_id=OuterRef("rsit_class_id"),
        started_at__year=OuterRef("summary__year")).order_by().values("state_id")
    reported = Subquery(cell.annotate(n=Count("pk")).values("n"), output_field=IntegerField())
    reported_uh = Subquery(cell.annotate(h=Sum("user_hours")).values("h"),
                           output_field=FloatField())
    return lines.annotate(
        excess=Greatest(F("incidents") - Coalesce(reported, 0), Value(0),
                        output_field=IntegerField()),
        excess_uh=Greatest(F("user_hours") - Coalesce(reported_uh, Value(0.0)), Value(0.0),
                           output_field=FloatField()))


# --- tables ------------------------------------------------------------------------------------

def _row(key: str, label: str, reported: int = 0, uh: float | None = 0.0, excess: int = 0,
         excess_uh: float | None = 0.0, distinct: int | None = None) -> dict[str, Any]:
    """``distinct``: the incidents the reports describe (linked ones once); default: reported."""
    once = reported if distinct is None else distinct
    return {"key": key, "label": str(label), "incidents": int(once or 0) + int(excess or 0),
            "reported": int(reported or 0), "from_summary_returns": int(excess or 0),
            "user_hours": round(float(uh or 0) + float(excess_uh or 0), 2)}


def _grouped_returns(lines: QuerySet | None, key: str) -> dict:
    if lines is None:
        return {}
    rows = lines.order_by().values(key).annotate(n=Sum("excess"), h=Sum("excess_uh"))
    return {r[key]: (r["n"], r["h"]) for r in rows}


def _table(keys: list[tuple[Any, str, str]], reported: dict, returns: dict,
           keep_zero: bool = True) -> list[dict[str, Any]]:
    """Rows in the order of ``keys`` ((lookup value, stable key, label)), zero rows kept or not."""
    out = []
    for value, key, label in keys:
        n, h, distinct = reported.get(value, (0, 0.0, 0))
        e, eh = returns.get(value, (0, 0.0))
        if keep_zero or n or e:
            out.append(_row(key, label, n, h, e, eh, distinct))
    return out


# --- the service -------------------------------------------------------------------------------

def compute(flt: StatsFilter, *, include_summary_returns: bool = True,
            with_year_over_year: bool = True, scope: QuerySet[Incident] | None = None,
            evidence_scope: QuerySet[Evidence] | None = None,
            with_shares: bool = False) -> Stats:
    """Every figure for ``flt`` (see the module docstring for what counts and the combining rule).

    ``include_summary_returns=False`` gives the individual reports only. ``scope`` limits the
    reports counted (see ``counted_incidents``) and ``evidence_scope`` the evidence files that
    count for "with evidence" (a viewer's ``Evidence.objects.for_user``: a file attached while a
    report was RED stays out of a view that may not see it). ``with_shares`` also records which
    State contributed how much to each count (``Stats.shares``), which the disclosure rule needs.

    The viewer-independent figures of a closed whole year are kept once computed
    (``stats_store``) and computed again only when that year's data changed.
    """
    if (flt == StatsFilter(year=flt.year) and flt.year is not None and scope is None
            and evidence_scope is None and include_summary_returns):
        from sentinelle.analysis import stats_store

        if stats_store.is_closed(flt.year):
            stats = stats_store.kept(flt.year, lambda: _compute(flt, True, None, None, True))
            if not with_shares:
                stats.shares = {}
            if with_year_over_year:
                stats.year_over_year = _year_over_year(flt, stats, True)
            return stats
    stats = _compute(flt, include_summary_returns, scope, evidence_scope, with_shares)
    if with_year_over_year:
        stats.year_over_year = _year_over_year(flt, stats, include_summary_returns, scope)
    return stats


def _compute(flt: StatsFilter, include_summary_returns: bool, scope: QuerySet[Incident] | None,
             evidence_scope: QuerySet[Evidence] | None, with_shares: bool) -> Stats:
    """compute() without the store and without year-over-year."""
    reports = counted_incidents(flt, scope)
    lines = _summary_lines(flt, scope) if include_summary_returns else None
    g = statistics_groups.load(reports, evidence_scope)
    stats = Stats(filter=flt)

    categories = [(c.pk, c.code, c.label) for c in Category.objects.all()]
    stats.by_category = _table(categories, g.grouped("category_id", once=True),
                               _grouped_returns(lines, "category_id"))
    classes = [(c.pk, c.code, c.label) for c in RsitClass.objects.all()]
    stats.by_rsit_class = _table(classes, g.grouped("rsit_type__rsit_class_id", once=True),
                                 _grouped_returns(lines, "rsit_class_id"))
    types = [(t.pk, t.machine_tag, f"{t.rsit_class.label} / {t.label}")
             for t in RsitType.objects.select_related("rsit_class")]
    stats.by_rsit_type = _table(types, g.grouped("rsit_type_id"), {}, keep_zero=False)
    stats.by_itu_d_region = _table([(k, k, v) for k, v in ITU_D_REGIONS],
                                   g.grouped("state__itu_d_region", once=True),
                                   _grouped_returns(lines, "summary__state__itu_d_region"))
    stats.by_admin_region = _table([(k, k, v) for k, v in ADMIN_REGIONS],
                                   g.grouped("state__admin_region", once=True),
                                   _grouped_returns(lines, "summary__state__admin_region"))
    stats.by_state = _state_table(g, lines)
    stats.by_month = _month_table(flt, g)
    stats.by_severity = _table([(k, k, v) for k, v in Severity.choices], g.grouped("severity"),
                               {})
    counted_statuses = [(k, k, v) for k, v in Status.choices
                        if k not in COUNTED_EXCLUDED_STATUSES]
    stats.by_status = _table(counted_statuses, g.grouped("status"), {})
    stats.by_channel = _table([(k, k, v) for k, v in Channel.choices], g.grouped("channel"), {})

    totals = g.totals()
    stats.totals = _totals(totals, lines)
    # Both response times from grouped queries (on PostgreSQL the statement that counted the
    # reports reaching each status gave them), none for a status not reached.
    times = g.times if g.times is not None else response_times(
        reports, {Status.ACKNOWLEDGED: totals["acknowledged"], Status.CLOSED: totals["closed"]})
    stats.time_to_acknowledge = times[Status.ACKNOWLEDGED]
    stats.time_to_close = times[Status.CLOSED]
    if with_shares:
        stats.shares = _all_shares(g, lines, categories, classes, types, stats)
        if scope is None and evidence_scope is None:
            # Computed here, not in publish(), so that a kept year is published without a query.
            stats.shares["reports"] = g.report_shares()
        else:
            from sentinelle.analysis.disclosure import report_shares

            stats.shares["reports"] = report_shares(stats)
    return stats


def _shares(g: statistics_groups.Groups, lines: QuerySet | None, key: str,
            returns_key: str | None, keys: dict, once: bool = False) -> dict[str, dict[int, int]]:
    """{row key: {State pk: incidents}} of one table, from the groups by (key, State). With
    ``once``, a State's share counts each linked incident it reported once: it knows that
    incident whoever else reported it."""
    out = g.shares(key, keys, once)
    if lines is not None and returns_key is not None:
        for r in lines.order_by().values(returns_key, "summary__state_id") \
                .annotate(n=Sum("excess")):
            if r[returns_key] in keys and r["n"]:
                out[keys[r[returns_key]]][r["summary__state_id"]] += r["n"]
    return {k: dict(v) for k, v in out.items()}


def _all_shares(g: statistics_groups.Groups, lines: QuerySet | None, categories: list,
                classes: list, types: list, stats: Stats) -> dict[str, Any]:
    regions = {k: k for k, _label in ITU_D_REGIONS}
    admin = {k: k for k, _label in ADMIN_REGIONS}
    shares = {
        "by_category": _shares(g, lines, "category_id", "category_id",
                               {pk: code for pk, code, _l in categories}, once=True),
        "by_rsit_class": _shares(g, lines, "rsit_type__rsit_class_id", "rsit_class_id",
                                 {pk: code for pk, code, _l in classes}, once=True),
        "by_rsit_type": _shares(g, None, "rsit_type_id", None,
                                {pk: tag for pk, tag, _l in types}),
        "by_itu_d_region": _shares(g, lines, "state__itu_d_region",
                                   "summary__state__itu_d_region", regions, once=True),
        "by_admin_region": _shares(g, lines, "state__admin_region",
                                   "summary__state__admin_region", admin, once=True),
        "by_severity": _shares(g, None, "severity", None,
                               {k: k for k, _l in Severity.choices}),
        "by_status": _shares(g, None, "status", None, {k: k for k, _l in Status.choices}),
        "by_channel": _shares(g, None, "channel", None,
                              {k: k for k, _l in Channel.choices}),
    }
    shares["by_month"] = g.month_shares()
    pks = dict(MemberState.objects.filter(alpha2__in=[r["key"] for r in stats.by_state])
               .values_list("alpha2", "pk"))
    shares["by_state"] = {r["key"]: {pks[r["key"]]: r["incidents"]} for r in stats.by_state}
    shares["totals"] = {
        "incidents": {pks[r["key"]]: r["incidents"] for r in stats.by_state},
        "reported": {pks[r["key"]]: r["reported"] for r in stats.by_state},
    }
    # Individual reports per row and State of the tables that count a linked incident once:
    # their "reported" column adds up exactly to the reports (each report in one row), which
    # the disclosure rule checks as a relation of its own (disclosure.py).
    shares["reported"] = {
        "by_category": _shares(g, None, "category_id", None,
                               {pk: code for pk, code, _l in categories}),
        "by_rsit_class": _shares(g, None, "rsit_type__rsit_class_id", None,
                                 {pk: code for pk, code, _l in classes}),
        "by_itu_d_region": _shares(g, None, "state__itu_d_region", None, regions),
        "by_admin_region": _shares(g, None, "state__admin_region", None, admin),
        "by_state": {r["key"]: {pks[r["key"]]: r["reported"]} for r in stats.by_state},
    }
    return shares


def _state_table(g: statistics_groups.Groups, lines: QuerySet | None) -> list[dict[str, Any]]:
    reported = g.grouped("state_id", once=True)
    returns = _grouped_returns(lines, "summary__state_id")
    consenting = g.consenting()
    ids = set(reported) | set(returns)
    rows = []
    for state in MemberState.objects.filter(pk__in=ids).order_by("name_en"):
        n, h, distinct = reported.get(state.pk, (0, 0.0, 0))
        e, eh = returns.get(state.pk, (0, 0.0))
        row = _row(state.alpha2, state.name, n, h, e, eh, distinct)
        row.update(itu_d_region=state.itu_d_region, admin_region=state.admin_region,
                   consenting=consenting.get(state.pk, 0))
        rows.append(row)
    return rows


def _month_table(flt: StatsFilter, g: statistics_groups.Groups) -> list[dict[str, Any]]:
    found = g.months_found()
    if flt.year is not None:
        # Every month of the year, so that charts show the gaps.
        start, end = flt.bounds()
        months = [f"{flt.year}-{m:02d}" for m in range(start.month, end.month + 1)]
    else:
        months = sorted(found)
    return [_row(m, m, *found.get(m, (0, 0.0))) for m in months]


def _totals(groups: dict[str, Any], lines: QuerySet | None) -> dict[str, Any]:
    """The totals from ``Groups.totals()`` and the summary returns."""
    excess = lines.aggregate(n=Sum("excess"), h=Sum("excess_uh")) if lines is not None \
        else {"n": 0, "h": 0.0}
    reporting = set(groups["states"])
    if lines is not None:
        # A State that sent a return has reported, even a return of zero incidents.
        reporting |= set(lines.order_by().values_list("summary__state_id", flat=True).distinct())
    n, with_evidence = groups["n"], groups["with_evidence"]
    total = _row("total", "", n, groups["hours"], excess["n"], excess["h"], groups["distinct"])
    return {
        "incidents": total["incidents"], "reported": total["reported"],
        "from_summary_returns": total["from_summary_returns"],
        "user_hours": total["user_hours"], "states_reporting": len(reporting),
        "with_evidence": with_evidence,
        "evidence_rate": round(with_evidence / n, 4) if n else None,
    }


def _change(now: int, before: int) -> tuple[int, float | None]:
    return now - before, (round(100.0 * (now - before) / before, 1) if before else None)


def _year_over_year(flt: StatsFilter, stats: Stats, include_returns: bool,
                    scope: QuerySet[Incident] | None = None) -> dict[str, Any]:
    previous_filter = flt.previous_year()
    if previous_filter is None:
        return {}
    previous = compute(previous_filter, include_summary_returns=include_returns,
                       with_year_over_year=False, scope=scope)
    now, before = stats.totals["incidents"], previous.totals["incidents"]
    change, pct = _change(now, before)
    before_rows = {r["key"]: r["incidents"] for r in previous.by_category}
    rows = []
    for row in stats.by_category:
        c, p = _change(row["incidents"], before_rows.get(row["key"], 0))
        rows.append({"key": row["key"], "label": row["label"], "incidents": row["incidents"],
                     "previous": before_rows.get(row["key"], 0), "change": c, "change_pct": p})
    return {"year": flt.year, "previous_year": previous_filter.year, "incidents": now,
            "previous_incidents": before, "change": change, "change_pct": pct,
            "by_category": rows}
