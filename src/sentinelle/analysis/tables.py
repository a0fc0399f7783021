"""The dashboard's tables as header + rows, shared by the pages and the CSV/XLSX exports."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext

from sentinelle.analysis.statistics import TABLES, Stats, small_count_threshold

__all__ = ["EXPORTABLE", "TITLES", "table"]

TITLES = {
    "by_category": gettext_lazy("By category"),
    "by_rsit_class": gettext_lazy("By RSIT class"),
    "by_rsit_type": gettext_lazy("By RSIT type"),
    "by_itu_d_region": gettext_lazy("By ITU-D region"),
    "by_admin_region": gettext_lazy("By administrative region"),
    "by_state": gettext_lazy("By Member State"),
    "by_month": gettext_lazy("By month"),
    "by_severity": gettext_lazy("By severity"),
    "by_status": gettext_lazy("By status"),
    "by_channel": gettext_lazy("By channel"),
    "summary": gettext_lazy("Summary"),
    "year_over_year": gettext_lazy("Year-over-year change by category"),
}
EXPORTABLE = (*TABLES, "summary", "year_over_year")


def _cell(row: dict[str, Any], key: str) -> Any:
    value = row.get(key)
    if value is None and row.get("suppressed"):
        return f"<{small_count_threshold()}"
    return "" if value is None else value


def table(stats: Stats, name: str) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) of one table; suppressed figures read "<3"."""
    if name in TABLES:
        header = [_("Code"), _("Label"), _("Incidents"), _("Individual reports"),
                  _("From summary returns"), _("User-hours")]
        keys = ["key", "label", "incidents", "reported", "from_summary_returns", "user_hours"]
        if name == "by_state":
            header += [_("ITU-D region"), _("Administrative region"),
                       _("Reports with consent to be named")]
            keys += ["itu_d_region", "admin_region", "consenting"]
        return header, [[_cell(row, k) for k in keys] for row in getattr(stats, name)]
    if name == "year_over_year":
        rows = stats.year_over_year.get("by_category", [])
        header = [_("Code"), _("Label"), _("Incidents"), _("Previous year"),
                  pgettext("year-over-year difference", "Change"),
                  _("Change (%)")]
        keys = ["key", "label", "incidents", "previous", "change", "change_pct"]
        return header, [[_cell(row, k) for k in keys] for row in rows]
    if name == "summary":
        return [_("Figure"), _("Value")], _summary_rows(stats)
    raise KeyError(name)


def _summary_rows(stats: Stats) -> list[list[Any]]:
    t = stats.totals
    ack, close = stats.time_to_acknowledge, stats.time_to_close

    def cell(mapping: dict, key: str) -> Any:
        return _cell(mapping, key)

    rows = [
        [_("Incidents"), cell(t, "incidents")],
        [_("Individual reports"), cell(t, "reported")],
        [_("From summary returns"), cell(t, "from_summary_returns")],
        [_("User-hours"), cell(t, "user_hours")],
        [_("States reporting"), cell(t, "states_reporting")],
        [_("Reports with evidence"), cell(t, "with_evidence")],
        [_("Share of reports with evidence"), cell(t, "evidence_rate")],
        [_("Time to acknowledge, median (hours)"), cell(ack, "median_hours")],
        [_("Time to acknowledge, 90th percentile (hours)"), cell(ack, "p90_hours")],
        [_("Time to close, median (hours)"), cell(close, "median_hours")],
        [_("Time to close, 90th percentile (hours)"), cell(close, "p90_hours")],
    ]
    yoy = stats.year_over_year
    if yoy:
        rows += [[_("Incidents in %(year)s") % {"year": yoy["previous_year"]},
                  cell(yoy, "previous_incidents")],
                 [_("Change from the previous year (%)"), cell(yoy, "change_pct")]]
    return rows
