"""The access-denial index: how often a public Internet service denies access to a State.

For each (affected State, service host, month) — or any coarser grouping — over the probe
results stored from submitted evidence bundles (``observatory.AccessObservation``)::

    index = denied / conclusive

where *denied* counts the verdicts geoblocked, server-denied, dns-tampering, tcp-blocked,
tls-interference and http-diff, and *conclusive* counts those plus ``accessible``; an
``inconclusive`` measurement (the control failed, the network timed out) counts in neither, so
a bad day at the vantage point does not move the index, and neither does a ``challenged`` one
(a bot check such as Cloudflare's "Just a moment...", which a browser passes). The row also
gives the number of measurements (inconclusive and challenged included) and of reports behind it.

What a reader sees:

* only results of **counted** reports (not drafts, withdrawn reports or duplicates, as in
  :mod:`sentinelle.analysis.statistics`), and of those only the reports the viewer may see
  (``Incident.objects.for_user``);
* ``viewer=None`` is the public / Council aggregate: every counted report, whatever its TLP, as
  the statistics service aggregates; the Council report uses it;
* outside the Secretariat, a row tied to another State (or, for the public, any row) with fewer
  conclusive measurements than ``SENTINELLE_SMALL_COUNT`` is suppressed (figures ``None``, shown
  "<k"), as :mod:`sentinelle.analysis.disclosure` does for small counts; the viewer's own State
  is shown in full.

Everything is one SQL ``GROUP BY``, so the index scales with the observation table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth
from django.utils.translation import gettext as _

from sentinelle.analysis.disclosure import is_full_view
from sentinelle.analysis.statistics import COUNTED_EXCLUDED_STATUSES, small_count_threshold
from sentinelle.core import formatting
from sentinelle.core.models import MemberState
from sentinelle.incidents.models import Incident
from sentinelle.observatory.models import (
    CONCLUSIVE_VERDICTS,
    DENIAL_VERDICTS,
    AccessObservation,
    RoutingAlertRecord,
)

__all__ = ["DIMENSIONS", "AccessIndex", "IndexFilter", "compute_index", "index_table",
           "measured_states", "routing_alert_counts"]

DIMENSIONS = ("state", "service", "month")
_FIGURES = ("measurements", "conclusive", "denied", "index", "reports")


@dataclass(frozen=True)
class IndexFilter:
    """Which measurements: ``year`` and inclusive dates of the measurement time (UTC), States
    (alpha-2) and service hosts; empty means all."""

    year: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    states: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    def bounds(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """[start, end) as aware datetimes."""
        start = dt.datetime(self.year, 1, 1, tzinfo=dt.UTC) if self.year else None
        end = dt.datetime(self.year + 1, 1, 1, tzinfo=dt.UTC) if self.year else None
        if self.date_from:
            low = dt.datetime.combine(self.date_from, dt.time(), dt.UTC)
            start = max(start, low) if start else low
        if self.date_to:
            high = dt.datetime.combine(self.date_to + dt.timedelta(days=1), dt.time(), dt.UTC)
            end = min(end, high) if end else high
        return start, end


@dataclass
class AccessIndex:
    """Rows have the grouping keys (``state`` and ``state_name``, ``service``, ``month``
    "YYYY-MM") and measurements, conclusive, denied, index (0..1, None without a conclusive
    measurement), reports, suppressed."""

    filter: IndexFilter
    group_by: tuple[str, ...]
    threshold: int
    full_view: bool
    rows: list[dict[str, Any]] = field(default_factory=list)
    suppressed: bool = False


def _rows(model, viewer) -> QuerySet:
    """Rows of counted reports; for a viewer, only those whose bundle file the viewer may see
    (``for_user``: by the TLP the bundle was attached under, not the report's current one)."""
    counted = Incident.objects.exclude(status__in=COUNTED_EXCLUDED_STATUSES)
    rows = model.objects.filter(incident__in=counted)
    if viewer is None:
        return rows
    return rows.filter(pk__in=model.objects.for_user(viewer).values("pk"))


def _filtered(qs: QuerySet, flt: IndexFilter, time_field: str) -> QuerySet:
    start, end = flt.bounds()
    if start:
        qs = qs.filter(**{f"{time_field}__gte": start})
    if end:
        qs = qs.filter(**{f"{time_field}__lt": end})
    if flt.states:
        qs = qs.filter(state__alpha2__in=[s.upper() for s in flt.states])
    return qs


def compute_index(flt: IndexFilter, viewer=None, *,
                  group_by: tuple[str, ...] = DIMENSIONS,
                  threshold: int | None = None) -> AccessIndex:
    """The index for ``flt`` as ``viewer`` may see it (None: the public / Council aggregate)."""
    unknown = set(group_by) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown grouping {sorted(unknown)}")
    threshold = small_count_threshold() if threshold is None else threshold
    full = viewer is not None and is_full_view(viewer)
    qs = _filtered(_rows(AccessObservation, viewer), flt,
                   "measured_at")
    if flt.services:
        qs = qs.filter(service__in=[s.lower() for s in flt.services])
    keys = []
    if "state" in group_by:
        keys.append("state__alpha2")
    if "service" in group_by:
        keys.append("service")
    if "month" in group_by:
        qs = qs.annotate(month=TruncMonth("measured_at", tzinfo=dt.UTC))
        keys.append("month")
    grouped = qs.order_by().values(*keys).annotate(
        measurements=Count("pk"),
        conclusive=Count("pk", filter=Q(verdict__in=CONCLUSIVE_VERDICTS)),
        denied=Count("pk", filter=Q(verdict__in=DENIAL_VERDICTS)),
        reports=Count("incident", distinct=True))
    names = {s.alpha2: s.name for s in MemberState.objects.all()} if "state" in group_by else {}
    own = viewer.state.alpha2 if (viewer is not None and viewer.is_authenticated
                                  and viewer.is_focal_point) else None
    result = AccessIndex(flt, tuple(group_by), threshold, full)
    for g in grouped:
        row: dict[str, Any] = {}
        if "state" in group_by:
            row["state"] = g["state__alpha2"]
            row["state_name"] = str(names.get(g["state__alpha2"], g["state__alpha2"]))
        if "service" in group_by:
            row["service"] = g["service"]
        if "month" in group_by:
            row["month"] = g["month"].strftime("%Y-%m")
        conclusive = g["conclusive"]
        row.update(measurements=g["measurements"], conclusive=conclusive, denied=g["denied"],
                   index=round(g["denied"] / conclusive, 4) if conclusive else None,
                   reports=g["reports"], suppressed=False)
        tied_to_own = own is not None and (row.get("state") == own
                                           or set(s.upper() for s in flt.states) == {own})
        if not full and not tied_to_own and 0 < conclusive < threshold:
            for key in _FIGURES:
                row[key] = None
            row["suppressed"] = result.suppressed = True
        result.rows.append(row)
    result.rows.sort(key=lambda r: (r.get("state_name", ""), r.get("service", ""),
                                    r.get("month", "")))
    return result


def _cell(row: dict[str, Any], key: str, threshold: int) -> Any:
    value = row.get(key)
    if value is None:
        return f"<{threshold}" if row.get("suppressed") and key != "index" else ""
    return value


def measured_states(viewer=None) -> QuerySet:
    """The Member States with measurements in the index as ``viewer`` may see it: the choices
    of the page's State filter (a State one may not see is not offered)."""
    ids = _rows(AccessObservation, viewer).order_by().values("state_id")
    return MemberState.objects.filter(pk__in=ids)


def index_table(index: AccessIndex, *, percent: bool = False) -> tuple[list[str], list[list[Any]]]:
    """(header, rows) for the page and the CSV; suppressed figures read "<k". With ``percent``
    (the page) the index reads as a percentage in the active language ("37.5%", "37,5%"); the
    CSV keeps the fraction, as the API does."""
    header, keys = [], []
    if "state" in index.group_by:
        header += [_("Code"), _("Member State")]
        keys += ["state", "state_name"]
    if "service" in index.group_by:
        header.append(_("Service"))
        keys.append("service")
    if "month" in index.group_by:
        header.append(_("Month"))
        keys.append("month")
    header += [_("Access-denial index"), _("Denied"), _("Conclusive measurements"),
               _("Measurements"), _("Reports")]
    keys += ["index", "denied", "conclusive", "measurements", "reports"]
    rows = [[_cell(row, k, index.threshold) for k in keys] for row in index.rows]
    if percent:
        at = keys.index("index")
        for cells, row in zip(rows, index.rows, strict=True):
            if row["index"] is not None:
                cells[at] = formatting.percent(row["index"], 1)
    return header, rows


def routing_alert_counts(flt: IndexFilter, viewer=None,
                         group_by: tuple[str, ...] = ("state", "type")) -> list[dict[str, Any]]:
    """Routing alerts (by first sighting) per State and/or type, of the reports the viewer may
    see (None: every counted report); rows have the keys, ``alerts`` and ``reports``."""
    qs = _filtered(_rows(RoutingAlertRecord, viewer), flt,
                   "first_seen")
    keys = [{"state": "state__alpha2", "type": "type"}[k] for k in group_by]
    rows = qs.order_by().values(*keys).annotate(alerts=Count("pk"),
                                                reports=Count("incident", distinct=True))
    out = [{("state" if k == "state__alpha2" else k): r[k] for k in keys}
           | {"alerts": r["alerts"], "reports": r["reports"]} for r in rows]
    return sorted(out, key=lambda r: tuple(str(r.get(k, "")) for k in group_by))
