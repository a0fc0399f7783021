"""Who sees which cut of the statistics: small-count suppression outside the Secretariat.

The statistics service computes every figure over every report (aggregates over all TLPs).
Before a figure leaves the Secretariat, ``for_viewer`` hides the small counts that could point at
one State's incidents:

* the Secretariat sees every figure;
* a focal point sees its own State's figures in full, and everyone else's as below;
* Council readers and the public see aggregates in which any cell **tied to a named State** whose
  count is below ``SENTINELLE_SMALL_COUNT`` (default 3) is suppressed (``None``, shown "<3").

A cell is tied to a named State when it is a row of the table by State, when the filter names
States (then every cell describes them), or when a region (or the whole cut) has a single
reporting State besides the viewer's own, so that the region's figure *is* that State's figure.
Secondary suppression closes the subtraction attack: if a group (all States, one region) would
have exactly one hidden State row that the viewer does not know, the next smallest visible one is
hidden too, or, failing that, the group's own figure.
"""

from __future__ import annotations

import copy
from typing import Any

from sentinelle.analysis.statistics import TABLES, Stats, small_count_threshold

__all__ = ["display", "for_viewer", "is_full_view"]

_FIGURES = ("incidents", "reported", "from_summary_returns", "user_hours")


def is_full_view(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_secretariat)


def _own_state(user) -> str | None:
    if user is not None and user.is_authenticated and user.is_focal_point:
        return user.state.alpha2
    return None


def _hide(row: dict[str, Any]) -> None:
    for key in _FIGURES:
        if key in row:
            row[key] = None
    row["suppressed"] = True


def _small(value: int | None, threshold: int) -> bool:
    # Zero is shown: "no incident" identifies no incident.
    return value is not None and 0 < value < threshold


def for_viewer(stats: Stats, user, threshold: int | None = None) -> Stats:
    """A copy of ``stats`` with what ``user`` may not see suppressed; every row gains a
    ``suppressed`` flag and the Stats' ``suppressed`` is True if anything was hidden."""
    threshold = small_count_threshold() if threshold is None else threshold
    out = copy.deepcopy(stats)
    for name in TABLES:
        for row in getattr(out, name):
            row["suppressed"] = False
    for row in out.year_over_year.get("by_category", []):
        row["suppressed"] = False
    if is_full_view(user):
        return out
    own = _own_state(user)
    named = {s.upper() for s in stats.filter.states}
    if named and named == {own}:
        return out  # the viewer's own State, in full
    if named:
        _suppress_everything(out, threshold)
        return out
    _suppress_states(out, own, threshold)
    return out


def _suppress_states(out: Stats, own: str | None, threshold: int) -> None:
    rows = out.by_state
    for row in rows:
        if row["key"] != own and _small(row["incidents"], threshold):
            _hide(row)
    groups = [("all", rows)]
    for field, table in (("itu_d_region", out.by_itu_d_region),
                         ("admin_region", out.by_admin_region)):
        for region in table:
            members = [r for r in rows if r[field] == region["key"]]
            groups.append((region, members))
    everyone = [r for r in rows if r["key"] != own and r["incidents"] != 0]
    if len(everyone) == 1:
        # One State besides the viewer's: every figure of the cut is that State's.
        _suppress_everything(out, threshold)
        return
    changed = True
    while changed:
        changed = False
        for group, members in groups:
            others = [r for r in members if r["key"] != own and r["incidents"] != 0]
            hidden = [r for r in others if r["suppressed"]]
            visible = sorted((r for r in others if not r["suppressed"]),
                             key=lambda r: (r["incidents"], r["key"]))
            if len(hidden) != 1:
                continue
            if visible:
                _hide(visible[0])
                changed = True
            elif group == "all":
                _suppress_everything(out, threshold)
                return
            elif not group.get("suppressed"):
                # The region's figure minus the viewer's own is that one State's figure.
                _hide(group)
                changed = True
    if any(r["suppressed"] for r in rows):
        out.suppressed = True


def _suppress_everything(out: Stats, threshold: int) -> None:
    """Every cell describes named States: hide each small one."""
    for name in TABLES:
        for row in getattr(out, name):
            if _small(row["incidents"], threshold):
                _hide(row)
    totals = out.totals
    if _small(totals.get("incidents"), threshold):
        for key in (*_FIGURES, "with_evidence", "evidence_rate"):
            totals[key] = None
        totals["suppressed"] = True
    if _small(totals.get("reported"), threshold):
        totals["with_evidence"] = totals["evidence_rate"] = None
    for times in (out.time_to_acknowledge, out.time_to_close):
        if _small(times.get("count"), threshold):
            times.update(median_hours=None, p90_hours=None, suppressed=True)
    yoy = out.year_over_year
    if yoy and (_small(yoy["incidents"], threshold)
                or _small(yoy["previous_incidents"], threshold)):
        yoy.update(incidents=None, previous_incidents=None, change=None, change_pct=None,
                   suppressed=True)
    for row in yoy.get("by_category", []):
        if _small(row["incidents"], threshold) or _small(row["previous"], threshold):
            row.update(incidents=None, previous=None, change=None, change_pct=None,
                       suppressed=True)
    out.suppressed = True


def display(value: Any, threshold: int | None = None) -> str:
    """How a figure reads in a table or export: "<3" for a suppressed one."""
    if value is None:
        return f"<{small_count_threshold() if threshold is None else threshold}"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else f"{int(value)}"
    return str(value)
