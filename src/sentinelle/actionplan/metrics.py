"""Computed outcome indicators: every value comes from the statistics service
(``sentinelle.analysis.statistics``), for the calendar year evaluated, so that the action plan
and the Council report never disagree with the dashboards."""

from __future__ import annotations

from collections.abc import Callable

from sentinelle.actionplan.models import Metric


def value_from_stats(metric: str, stats, category_code: str | None = None) -> float | None:
    """The metric's value in a Stats; None when the year has no incident data."""
    totals = stats.totals
    if not totals.get("incidents"):
        return None
    if metric == Metric.STATES_REPORTING:
        # None: hidden by the disclosure rule (fewer than k States).
        states = totals.get("states_reporting")
        return None if states is None else float(states)
    if metric == Metric.MEDIAN_ACK_HOURS:
        return stats.time_to_acknowledge.get("median_hours")
    if metric == Metric.EVIDENCE_SHARE:
        rate = totals.get("evidence_rate")
        return None if rate is None else round(100.0 * rate, 1)
    if metric == Metric.INCIDENTS_IN_CATEGORY:
        for row in stats.by_category:
            if row["key"] == category_code:
                # None: hidden by the disclosure rule in the public figures the report uses.
                return None if row["incidents"] is None else float(row["incidents"])
        return 0.0
    raise ValueError(f"unknown metric {metric!r}")


def stats_for(user) -> Callable[[int], object]:
    """The figures of a year that ``user`` may read, for the computed indicators: the
    Secretariat the precise figures of the reports it may see, everyone else the year's public
    publication (``analysis.disclosure.publication``, as the statistics API and the Council
    report), so that no indicator shows a count the disclosure rule hides."""
    from sentinelle.analysis import disclosure
    from sentinelle.analysis.statistics import StatsFilter, compute
    from sentinelle.incidents.models import Evidence, Incident

    if disclosure.is_full_view(user):
        scope, files = Incident.objects.for_user(user), Evidence.objects.for_user(user)
        return lambda year: compute(StatsFilter(year=year), scope=scope, evidence_scope=files,
                                    with_year_over_year=False)
    return disclosure.publication


def calculator(stats_for_year: Callable[[int], object] | None = None
               ) -> Callable[[object, int], float | None]:
    """A function (indicator, year) -> value that computes each year's statistics once.

    Without ``stats_for_year`` the figures are raw (every report, unsuppressed): for internal
    use only; a page shows ``calculator(stats_for(user))``."""
    cache: dict[int, object] = {}

    def default(year: int):
        from sentinelle.analysis.statistics import StatsFilter, compute

        return compute(StatsFilter(year=year), with_year_over_year=False)

    load = stats_for_year or default

    def value_for(indicator, year: int) -> float | None:
        if year not in cache:
            cache[year] = load(year)
        code = indicator.category.code if indicator.category_id else None
        return value_from_stats(indicator.metric, cache[year], code)

    return value_for
