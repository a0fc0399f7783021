"""THE FORMER IMPLEMENTATION of ``sentinelle.analysis.statistics`` (before issue 17's grouped
queries, one ``GROUP BY`` per table and per table and State), kept only so that
tests/analysis/test_statistics_groups.py can compare it with the service on the same data. Use its
``_compute``; the rules it implements are in the service's docstring. What issue 17 left as it
was (the filter, the result, the scope of the counted reports, the summary returns' lines) is
imported from the service; only what it replaced is written out here."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncMonth

from sentinelle.analysis.percentiles import percentiles
from sentinelle.analysis.statistics import (
    COUNTED_EXCLUDED_STATUSES,
    Stats,
    StatsFilter,
    _row,
    _summary_lines,
    counted_incidents,
)
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
    SummaryReturn,
    Transition,
)

# A report's incident: its linked incident's (negated, so that it never meets a report's pk) or
# its own. COUNT(DISTINCT) of it counts a linked incident once.
INCIDENT_KEY = Coalesce(F("incident_link__cluster_id") * Value(-1), F("pk"))


def _grouped(qs: QuerySet, key: str, once: bool = False) -> dict:
    """{key value: (reports, hours, incidents)} by SQL GROUP BY. With ``once``, a linked
    incident counts once per key value with its largest user-hours; the second query returns
    one row per (key value, linked incident), so it stays small whatever the reports."""
    if not once:
        rows = qs.order_by().values(key).annotate(n=Count("pk"), h=Sum("user_hours"))
        return {r[key]: (r["n"], r["h"], r["n"]) for r in rows}
    out: dict[Any, list] = {}
    for r in qs.filter(incident_link__isnull=True).order_by().values(key) \
            .annotate(n=Count("pk"), h=Sum("user_hours")):
        out[r[key]] = [r["n"], r["h"] or 0.0, r["n"]]
    for r in qs.filter(incident_link__isnull=False).order_by() \
            .values(key, "incident_link__cluster_id").annotate(n=Count("pk"), h=Max("user_hours")):
        cell = out.setdefault(r[key], [0, 0.0, 0])
        cell[0] += r["n"]
        cell[1] += r["h"] or 0.0
        cell[2] += 1
    return {k: tuple(v) for k, v in out.items()}


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


def _response_times(reports: QuerySet[Incident], to_status: str) -> dict[str, Any]:
    first = Transition.objects.filter(incident_id=OuterRef("pk"), to_status=to_status) \
        .order_by("at").values("at")[:1]
    annotated = reports.filter(submitted_at__isnull=False).annotate(
        reached=Subquery(first)).filter(reached__isnull=False).annotate(
        delay=ExpressionWrapper(F("reached") - F("submitted_at"), output_field=DurationField()))
    return percentiles(annotated, "delay")


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
    stats = Stats(filter=flt)

    categories = [(c.pk, c.code, c.label) for c in Category.objects.all()]
    stats.by_category = _table(categories, _grouped(reports, "category_id", once=True),
                               _grouped_returns(lines, "category_id"))
    classes = [(c.pk, c.code, c.label) for c in RsitClass.objects.all()]
    stats.by_rsit_class = _table(classes,
                                 _grouped(reports, "rsit_type__rsit_class_id", once=True),
                                 _grouped_returns(lines, "rsit_class_id"))
    types = [(t.pk, t.machine_tag, f"{t.rsit_class.label} / {t.label}")
             for t in RsitType.objects.select_related("rsit_class")]
    stats.by_rsit_type = _table(types, _grouped(reports, "rsit_type_id"), {}, keep_zero=False)
    stats.by_itu_d_region = _table([(k, k, v) for k, v in ITU_D_REGIONS],
                                   _grouped(reports, "state__itu_d_region", once=True),
                                   _grouped_returns(lines, "summary__state__itu_d_region"))
    stats.by_admin_region = _table([(k, k, v) for k, v in ADMIN_REGIONS],
                                   _grouped(reports, "state__admin_region", once=True),
                                   _grouped_returns(lines, "summary__state__admin_region"))
    stats.by_state = _state_table(reports, lines)
    stats.by_month = _month_table(flt, reports)
    stats.by_severity = _table([(k, k, v) for k, v in Severity.choices],
                               _grouped(reports, "severity"), {})
    counted_statuses = [(k, k, v) for k, v in Status.choices
                        if k not in COUNTED_EXCLUDED_STATUSES]
    stats.by_status = _table(counted_statuses, _grouped(reports, "status"), {})
    stats.by_channel = _table([(k, k, v) for k, v in Channel.choices],
                              _grouped(reports, "channel"), {})

    stats.totals = _totals(reports, lines, evidence_scope)
    stats.time_to_acknowledge = _response_times(reports, Status.ACKNOWLEDGED)
    stats.time_to_close = _response_times(reports, Status.CLOSED)
    if with_shares:
        from sentinelle.analysis.disclosure import report_shares

        stats.shares = _all_shares(reports, lines, categories, classes, types, stats)
        # Computed here, not in publish(), so that a kept year is published without a query.
        stats.shares["reports"] = report_shares(stats)
    return stats


def _shares(reports: QuerySet, lines: QuerySet | None, key: str, returns_key: str | None,
            keys: dict, once: bool = False) -> dict[str, dict[int, int]]:
    """{row key: {State pk: incidents}} of one table, by SQL GROUP BY (key, State). With
    ``once``, a State's share counts each linked incident it reported once: it knows that
    incident whoever else reported it."""
    out: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    count = Count(INCIDENT_KEY, distinct=True) if once else Count("pk")
    for r in reports.order_by().values(key, "state_id").annotate(n=count):
        if r[key] in keys:
            out[keys[r[key]]][r["state_id"]] += r["n"]
    if lines is not None and returns_key is not None:
        for r in lines.order_by().values(returns_key, "summary__state_id") \
                .annotate(n=Sum("excess")):
            if r[returns_key] in keys and r["n"]:
                out[keys[r[returns_key]]][r["summary__state_id"]] += r["n"]
    return {k: dict(v) for k, v in out.items()}


def _all_shares(reports: QuerySet, lines: QuerySet | None, categories: list, classes: list,
                types: list, stats: Stats) -> dict[str, Any]:
    regions = {k: k for k, _label in ITU_D_REGIONS}
    admin = {k: k for k, _label in ADMIN_REGIONS}
    shares = {
        "by_category": _shares(reports, lines, "category_id", "category_id",
                               {pk: code for pk, code, _l in categories}, once=True),
        "by_rsit_class": _shares(reports, lines, "rsit_type__rsit_class_id", "rsit_class_id",
                                 {pk: code for pk, code, _l in classes}, once=True),
        "by_rsit_type": _shares(reports, None, "rsit_type_id", None,
                                {pk: tag for pk, tag, _l in types}),
        "by_itu_d_region": _shares(reports, lines, "state__itu_d_region",
                                   "summary__state__itu_d_region", regions, once=True),
        "by_admin_region": _shares(reports, lines, "state__admin_region",
                                   "summary__state__admin_region", admin, once=True),
        "by_severity": _shares(reports, None, "severity", None,
                               {k: k for k, _l in Severity.choices}),
        "by_status": _shares(reports, None, "status", None, {k: k for k, _l in Status.choices}),
        "by_channel": _shares(reports, None, "channel", None,
                              {k: k for k, _l in Channel.choices}),
    }
    months = reports.annotate(month=TruncMonth("started_at", tzinfo=dt.UTC))
    by_month: dict[str, dict[int, int]] = defaultdict(dict)
    for r in months.order_by().values("month", "state_id").annotate(n=Count("pk")):
        by_month[r["month"].strftime("%Y-%m")][r["state_id"]] = r["n"]
    shares["by_month"] = dict(by_month)
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
        "by_category": _shares(reports, None, "category_id", None,
                               {pk: code for pk, code, _l in categories}),
        "by_rsit_class": _shares(reports, None, "rsit_type__rsit_class_id", None,
                                 {pk: code for pk, code, _l in classes}),
        "by_itu_d_region": _shares(reports, None, "state__itu_d_region", None, regions),
        "by_admin_region": _shares(reports, None, "state__admin_region", None, admin),
        "by_state": {r["key"]: {pks[r["key"]]: r["reported"]} for r in stats.by_state},
    }
    return shares


def _state_table(reports: QuerySet, lines: QuerySet | None) -> list[dict[str, Any]]:
    reported = _grouped(reports, "state_id", once=True)
    returns = _grouped_returns(lines, "summary__state_id")
    consenting = dict(reports.filter(consent_to_name=True).order_by().values("state_id")
                      .annotate(n=Count("pk")).values_list("state_id", "n"))
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


def _month_table(flt: StatsFilter, reports: QuerySet) -> list[dict[str, Any]]:
    grouped = reports.order_by().annotate(month=TruncMonth("started_at", tzinfo=dt.UTC)) \
        .values("month").annotate(n=Count("pk"), h=Sum("user_hours"))
    found = {r["month"].strftime("%Y-%m"): (r["n"], r["h"]) for r in grouped}
    if flt.year is not None:
        # Every month of the year, so that charts show the gaps.
        start, end = flt.bounds()
        months = [f"{flt.year}-{m:02d}" for m in range(start.month, end.month + 1)]
    else:
        months = sorted(found)
    return [_row(m, m, *found.get(m, (0, 0.0))) for m in months]


def _totals(reports: QuerySet, lines: QuerySet | None,
            evidence_scope: QuerySet[Evidence] | None = None) -> dict[str, Any]:
    files = Evidence.objects.filter(incident_id=OuterRef("pk"))
    if evidence_scope is not None:
        files = files.filter(pk__in=evidence_scope.values("pk"))
    has_evidence = Exists(files)
    agg = reports.order_by().aggregate(
        n=Count("pk"), distinct=Count(INCIDENT_KEY, distinct=True),
        with_evidence=Count("pk", filter=Q(has_evidence)))
    # User-hours once per incident: each unlinked report's, and each linked incident's largest.
    hours = reports.filter(incident_link__isnull=True).aggregate(h=Sum("user_hours"))["h"] or 0.0
    hours += sum(r["h"] or 0.0 for r in reports.filter(incident_link__isnull=False).order_by()
                 .values("incident_link__cluster_id").annotate(h=Max("user_hours")))
    excess = lines.aggregate(n=Sum("excess"), h=Sum("excess_uh")) if lines is not None \
        else {"n": 0, "h": 0.0}
    reporting = reports.order_by().values("state_id")
    if lines is not None:
        # A State that sent a return has reported, even a return of zero incidents.
        returned = SummaryReturn.objects.filter(pk__in=lines.values("summary_id")) \
            .order_by().values("state_id")
        reporting = reporting.union(returned)
    else:
        reporting = reporting.distinct()
    total = _row("total", "", agg["n"], hours, excess["n"], excess["h"], agg["distinct"])
    return {
        "incidents": total["incidents"], "reported": total["reported"],
        "from_summary_returns": total["from_summary_returns"],
        "user_hours": total["user_hours"], "states_reporting": reporting.count(),
        "with_evidence": agg["with_evidence"],
        "evidence_rate": round(agg["with_evidence"] / agg["n"], 4) if agg["n"] else None,
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
