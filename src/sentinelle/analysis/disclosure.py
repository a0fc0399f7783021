"""The disclosure rule: which figures leave the Secretariat, for every surface at once.

There is **one public computation**, ``publication(year)``: the figures of one calendar year, as
the public, Council readers and every focal point (for States other than its own) see them. The
home page, the gateway's statistics, ``/analysis/public/``, the statistics API and the Council
report all show it, so they cannot disagree. The rule (also in the README, "Disclosure rule"):

* **Granularity fixed by the server**: a whole calendar year, of incidents by the year in which
  they started. A year is the reporting period of Resolution 130 and of the summary returns, and
  the only period in which most cells reach the threshold; months would leave most cells of a
  State's year below it, and any finer window that the caller chooses lets two windows differ by
  one report (issue 11, finding 7). The caller chooses the year, nothing else: dates, States,
  categories, RSIT classes and regions are refused by name (HTTP 400) outside the Secretariat.
  Tables within the year (by month, severity, …) are part of the same fixed publication.
* **Every cell, margins included**, obeys the same small-count rule: a count ``n`` is shown only
  if ``n == 0`` or ``n >= k`` (``SENTINELLE_SMALL_COUNT``, default 3) *and* no single State
  contributes all but 1 … k−1 of it (the State would learn that the others reported fewer than
  k). Otherwise it is hidden (``None``, "<k").
* **Secondary suppression**: within every relation "margin = sum of cells" (each table against
  the year's total, States within their region, RSIT types within their class, a row's
  individual reports and summary-return excess within its incidents, reports with evidence or
  acknowledged within the reports), the cells one cannot see — hidden ones, plus the part of the
  margin that no row shows — must again add up to 0 or to at least k, with no single State
  holding all but fewer than k of them. If not, the next smallest visible cell is hidden too, or,
  failing that, the margin. So no subtraction recovers a hidden figure. Linked incidents
  count once in the total but in every row they touch, so the tables that count them once
  are checked again by their individual reports ("reported"), which add up exactly.
* **Naming**: a State appears by name only if every report it made that counts in the year
  carries its consent (``Incident.consent_to_name``), as in the Council report; the others are
  only counted, inside aggregates.
* **Restricted reports** (TLP:AMBER, AMBER+STRICT, RED) are counted like all others, but only in
  this yearly publication, whose cells are all at least k: no window can be narrowed to them.

The Secretariat sees precise, unsuppressed figures with every filter, counted over the reports
it may see (``Incident.objects.for_user``). A focal point sees its own State's figures precisely
(``state=<own>`` with any filter) and everything else as the public does.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Exists, OuterRef
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext as _

from sentinelle.analysis.filters import filter_from_query
from sentinelle.analysis.statistics import (
    TABLES,
    Stats,
    StatsFilter,
    compute,
    counted_incidents,
    small_count_threshold,
)
from sentinelle.core.errors import Refused
from sentinelle.incidents.models import Evidence, Incident, Status, Transition

__all__ = ["PUBLIC_PARAMETERS", "current_year", "display", "is_full_view", "named_states",
           "public_year", "publication", "publish", "report_shares", "small_count_threshold",
           "statistics_for", "withheld"]

# The only parameter a reader outside the Secretariat may choose.
PUBLIC_PARAMETERS = ("year",)
_NARROWING = ("date_from", "date_to", "state", "category", "rsit_class", "region")
_FIGURES = ("incidents", "reported", "from_summary_returns", "user_hours")


def is_full_view(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_secretariat)


def _own_state(user) -> str | None:
    if user is not None and user.is_authenticated and user.is_focal_point and user.state_id:
        return user.state.alpha2
    return None


# --- who gets what --------------------------------------------------------------------------

def current_year() -> int:
    """"This year" of every public page: the calendar year in the platform's time zone
    (SENTINELLE_TIME_ZONE). One definition, so that around New Year no page shows the UTC year
    beside another showing the local one."""
    return timezone.localdate().year


def public_year(query: QueryDict) -> int:
    """The year a public reader asks for (this year by default). Refused (403: a role's
    limit, not a bad value) names every other parameter given, which only the Secretariat
    may use; a ValidationError names a year that is no year."""
    refused = {name: [_("The public figures are published for whole calendar years only: "
                        "choose a year, not “%(name)s”.") % {"name": name}]
               for name in _NARROWING if any(v.strip() for v in query.getlist(name))}
    if refused:
        raise Refused(refused)
    return filter_from_query(query).year or current_year()


def statistics_for(user, query: QueryDict) -> Stats:
    """The figures ``user`` may read for a query string; ValidationError names a bad or
    refused parameter. Anonymous readers are ``None`` or an AnonymousUser."""
    if is_full_view(user):
        return compute(filter_from_query(query), scope=Incident.objects.for_user(user),
                       evidence_scope=Evidence.objects.for_user(user))
    own = _own_state(user)
    if own is not None:
        flt = filter_from_query(query)
        if flt.states == (own,):
            return compute(flt, scope=Incident.objects.for_user(user),
                           evidence_scope=Evidence.objects.for_user(user))
    return publication(public_year(query))


def publication(year: int) -> Stats:
    """The public figures of a calendar year (see the module docstring)."""
    now = compute(StatsFilter(year=year), with_shares=True, with_year_over_year=False)
    before = compute(StatsFilter(year=year - 1), with_shares=True, with_year_over_year=False)
    return publish(now, before)


def named_states(raw: Stats) -> set[str]:
    """States that may be named: every counted report of theirs carries consent (a State known
    only from a summary return is not named)."""
    return {row["key"] for row in raw.by_state
            if row["reported"] > 0 and row["consenting"] == row["reported"]}


# --- the rule -------------------------------------------------------------------------------

@dataclass
class _Cell:
    row: dict[str, Any]
    field: str
    value: int
    shares: dict[int, int]
    sort_key: str = ""

    @property
    def hidden(self) -> bool:
        return self.row.get(self.field) is None

    def hide(self) -> None:
        self.row[self.field] = None
        self.row["suppressed"] = True
        if self.field == "incidents":
            for key in _FIGURES:
                if key in self.row:
                    self.row[key] = None
        if self.field in ("incidents", "reported") and "consenting" in self.row:
            self.row["consenting"] = None


@dataclass
class _Relation:
    margin: _Cell
    cells: list[_Cell]

    def unseen(self) -> tuple[int, dict[int, int]]:
        """What cannot be read of this relation: hidden cells plus the unlisted remainder."""
        # Never below zero: a linked incident counts once in the margin but in each row it
        # touches (and once against every report in "reported"), so the cells may add up to
        # more than the margin; then nothing is left over to be worked out.
        total = max(0, self.margin.value - sum(c.value for c in self.cells))
        shares = dict(self.margin.shares)
        for cell in self.cells:
            for state, n in cell.shares.items():
                shares[state] = shares.get(state, 0) - n
        shares = {s: n for s, n in shares.items() if n > 0}
        for cell in self.cells:
            if cell.hidden:
                total += cell.value
                for state, n in cell.shares.items():
                    shares[state] = shares.get(state, 0) + n
        return total, shares


def _sensitive(value: int, shares: dict[int, int], k: int) -> bool:
    if 0 < value < k:
        return True
    # One State holding all but a few: it would learn that the others reported fewer than k.
    rest = value - max(shares.values(), default=0)
    return 0 < rest < k


def withheld(value: int, shares: dict[int, int], threshold: int | None = None) -> bool:
    """Whether a count published outside the Secretariat (a sentence of the Council report)
    must read "<k": the same small-count rule as every cell; `shares` is the count per State."""
    return _sensitive(value, shares, small_count_threshold() if threshold is None else threshold)


def publish(raw: Stats, previous: Stats | None = None, threshold: int | None = None) -> Stats:
    """A copy of ``raw`` (computed ``with_shares``) with the disclosure rule applied."""
    if "totals" not in raw.shares:
        raise ValueError("publish() needs figures computed with_shares=True")
    k = small_count_threshold() if threshold is None else threshold
    out = copy.deepcopy(raw)
    out.shares = {}
    named = named_states(raw)
    out.by_state = [r for r in out.by_state if r["key"] in named]
    for name in TABLES:
        for row in getattr(out, name):
            row["suppressed"] = False
    cells, relations = _relations(out, raw.shares, raw.by_state)
    total = cells[("totals", "incidents")]
    if _sensitive(total.value, total.shares, k):
        _hide_everything(out)
    else:
        for cell in cells.values():
            if _sensitive(cell.value, cell.shares, k):
                cell.hide()
        _secondary(relations, k)
    # The number of States reporting is a count like any other: 0 or at least k, else hidden
    # (each State adds 1 to it, so no single State can hold all but a few of it).
    states = out.totals.get("states_reporting")
    hidden_states = states is not None and 0 < states < k
    if hidden_states:
        out.totals["states_reporting"] = None
    _derived(out)
    out.year_over_year = _year_over_year(out, publish(previous, None, k)) \
        if previous is not None else {}
    out.suppressed = hidden_states or any(c.hidden and c.value for c in cells.values())
    return out


def _relations(out: Stats, shares: dict[str, Any], raw_states: list[dict[str, Any]]
               ) -> tuple[dict, list[_Relation]]:
    cells: dict[tuple, _Cell] = {}
    totals = out.totals
    cells[("totals", "incidents")] = _Cell(totals, "incidents", totals["incidents"],
                                           shares["totals"]["incidents"], "total")
    cells[("totals", "reported")] = _Cell(totals, "reported", totals["reported"],
                                          shares["totals"]["reported"], "reported")
    pks = {key: next(iter(share)) for key, share in shares.get("by_state", {}).items()
           if share}
    returns_shares = {pks[r["key"]]: r["from_summary_returns"] for r in raw_states
                      if r.get("from_summary_returns") and r["key"] in pks}
    cells[("totals", "from_summary_returns")] = _Cell(
        totals, "from_summary_returns", totals["from_summary_returns"], returns_shares,
        "returns")
    counts = shares["reports"] if "reports" in shares else report_shares(out)
    cells[("totals", "with_evidence")] = _Cell(
        totals, "with_evidence", totals["with_evidence"],
        _checked(counts["with_evidence"], totals["with_evidence"]), "evidence")
    for name in ("time_to_acknowledge", "time_to_close"):
        times = getattr(out, name)
        cells[(name, "count")] = _Cell(times, "count", times["count"],
                                       _checked(counts[name], times["count"]), name)
    for name in TABLES:
        for row in getattr(out, name):
            share = shares.get(name, {}).get(row["key"], {})
            cells[(name, row["key"])] = _Cell(row, "incidents", row["incidents"], share,
                                              row["key"])
            if row.get("from_summary_returns"):
                cells[(name, row["key"], "reported")] = _Cell(row, "reported", row["reported"],
                                                              share, row["key"])
                cells[(name, row["key"], "returns")] = _Cell(
                    row, "from_summary_returns", row["from_summary_returns"], {}, row["key"])

    def rows(name: str) -> list[_Cell]:
        return [cells[(name, r["key"])] for r in getattr(out, name)]

    reported_shares = shares.get("reported", {})

    def reports_of(name: str, row: dict[str, Any]) -> _Cell:
        """A row's individual reports, as a cell: hiding it hides the whole row (its incidents
        less its returns' excess would otherwise still give it away)."""
        key = (name, row["key"], "reports")
        if key not in cells:
            cells[key] = _Cell(row, "incidents", row["reported"],
                               reported_shares.get(name, {}).get(row["key"], {}), row["key"])
        return cells[key]

    total, reported = cells[("totals", "incidents")], cells[("totals", "reported")]
    # The States that may not be named have no row; their figures are the part of a margin
    # no row shows. Known exactly (not as margin − named rows, which linked incidents make
    # smaller than it is, see _Relation.unseen), they enter the relations as hidden cells.
    named = {r["key"] for r in out.by_state}
    unnamed = [r for r in raw_states if r["key"] not in named and r["key"] in pks]

    def unlisted(row: dict[str, Any], field: str) -> _Cell:
        return _Cell({"incidents": None}, "incidents", row[field], {pks[row["key"]]: row[field]},
                     row["key"])

    relations = [_Relation(total, [reported, cells[("totals", "from_summary_returns")]])]
    distinct = totals["incidents"] - totals["from_summary_returns"]
    if distinct != totals["reported"]:
        # Linked reports: the incidents from individual reports (fewer than the reports) are
        # the total less the returns' excess, and the Council report states them. A count like
        # any other: when small, the excess is withheld so that no subtraction gives it.
        cells[("totals", "distinct")] = _Cell(
            totals, "from_summary_returns", distinct,
            {pks[r["key"]]: r["incidents"] - r["from_summary_returns"] for r in raw_states
             if r["key"] in pks and r["reported"]}, "distinct")
        relations.append(_Relation(total, [cells[("totals", "distinct")],
                                           cells[("totals", "from_summary_returns")]]))
    for name in ("by_category", "by_rsit_class", "by_itu_d_region", "by_admin_region"):
        relations.append(_Relation(total, rows(name)))
    relations.append(_Relation(total, [*rows("by_state"),
                                       *(unlisted(r, "incidents") for r in unnamed)]))
    for name in ("by_rsit_type", "by_month", "by_severity", "by_status", "by_channel"):
        relations.append(_Relation(reported, rows(name)))
    # Linked incidents make a row's incidents add up to more than the total (the clamp in
    # _Relation.unseen), which hides no remainder: the reports do add up exactly, each in one
    # row, so the same tables are checked again by their "reported" column. Without it, total
    # reports − the named States' reports gave an unnamed State's single report.
    for name in ("by_category", "by_rsit_class", "by_itu_d_region", "by_admin_region"):
        relations.append(_Relation(reported, [reports_of(name, r)
                                              for r in getattr(out, name)]))
    relations.append(_Relation(reported, [*(reports_of("by_state", r) for r in out.by_state),
                                          *(unlisted(r, "reported") for r in unnamed)]))
    relations.append(_Relation(reported, [cells[("totals", "with_evidence")]]))
    for name in ("time_to_acknowledge", "time_to_close"):
        relations.append(_Relation(reported, [cells[(name, "count")]]))
    for name in ("by_category", "by_rsit_class", "by_itu_d_region", "by_admin_region",
                 "by_state"):
        for row in getattr(out, name):
            if (name, row["key"], "reported") in cells:
                relations.append(_Relation(cells[(name, row["key"])],
                                           [cells[(name, row["key"], "reported")],
                                            cells[(name, row["key"], "returns")]]))
    for name, field in (("by_itu_d_region", "itu_d_region"), ("by_admin_region",
                                                              "admin_region")):
        for region in getattr(out, name):
            members = [cells[("by_state", r["key"])] for r in out.by_state
                       if r[field] == region["key"]]
            hidden = [r for r in unnamed if r.get(field) == region["key"]]
            relations.append(_Relation(cells[(name, region["key"])],
                                       [*members, *(unlisted(r, "incidents") for r in hidden)]))
            relations.append(_Relation(reports_of(name, region),
                                       [*(reports_of("by_state", r) for r in out.by_state
                                          if r[field] == region["key"]),
                                        *(unlisted(r, "reported") for r in hidden)]))
    for cls in out.by_rsit_class:
        # RSIT types count reports: their margin is the class's reports, never its incidents
        # (fewer than its reports once some are linked).
        margin = reports_of("by_rsit_class", cls)
        members = [cells[("by_rsit_type", r["key"])] for r in out.by_rsit_type
                   if r["key"].split(":")[0] == cls["key"]]
        relations.append(_Relation(margin, members))
    return cells, relations


def report_shares(out: Stats) -> dict[str, dict[int, int]]:
    """Per State: reports with evidence, acknowledged, closed (the year's counted reports), so
    that the "one State holds all but a few" clause applies to these totals too."""
    reports = counted_incidents(out.filter)

    def by_state(qs) -> dict[int, int]:
        return dict(qs.order_by().values("state_id").annotate(n=Count("pk"))
                    .values_list("state_id", "n"))

    def reached(status: str):
        return reports.filter(submitted_at__isnull=False).filter(Exists(
            Transition.objects.filter(incident_id=OuterRef("pk"), to_status=status)))

    return {"with_evidence": by_state(reports.filter(
                Exists(Evidence.objects.filter(incident_id=OuterRef("pk"))))),
            "time_to_acknowledge": by_state(reached(Status.ACKNOWLEDGED)),
            "time_to_close": by_state(reached(Status.CLOSED))}


def _checked(shares: dict[int, int], value: int | None) -> dict[int, int]:
    """The shares if they add up to the figure (an unscoped computation), else none known."""
    return shares if value is not None and sum(shares.values()) == value else {}


def _secondary(relations: list[_Relation], k: int) -> None:
    """Hide more cells until, in every relation, what cannot be read is safe."""
    changed = True
    while changed:
        changed = False
        for rel in relations:
            unseen, shares = rel.unseen()
            if rel.margin.hidden:
                # The margin is hidden here but may be read elsewhere: keep one cell hidden
                # so that it cannot be recomputed from this relation either.
                needs = unseen == 0 and rel.margin.value != 0
            else:
                needs = unseen != 0 and (unseen < k or _sensitive(unseen, shares, k))
            if not needs:
                continue
            visible = sorted((c for c in rel.cells if not c.hidden and c.value),
                             key=lambda c: (c.value, c.sort_key))
            if visible:
                visible[0].hide()
                changed = True
            elif not rel.margin.hidden:
                rel.margin.hide()
                changed = True


def _hide_everything(out: Stats) -> None:
    for name in TABLES:
        for row in getattr(out, name):
            if row["incidents"]:
                _Cell(row, "incidents", row["incidents"], {}).hide()
    for key in (*_FIGURES, "with_evidence", "evidence_rate"):
        out.totals[key] = None
    for times in (out.time_to_acknowledge, out.time_to_close):
        times["count"] = None


def _derived(out: Stats) -> None:
    """Figures computed from hidden counts are hidden with them."""
    t = out.totals
    if t.get("incidents") is None:
        t["user_hours"] = None
    if t.get("with_evidence") is None or t.get("reported") is None:
        t["with_evidence"] = t["evidence_rate"] = None
    for times in (out.time_to_acknowledge, out.time_to_close):
        if times.get("count") is None:
            times.update(median_hours=None, p90_hours=None, suppressed=True)


def _year_over_year(now: Stats, before: Stats) -> dict[str, Any]:
    """Change from the previous year's publication to this one, from published figures only."""
    def change(a: int | None, b: int | None) -> tuple[int | None, float | None]:
        if a is None or b is None:
            return None, None
        return a - b, (round(100.0 * (a - b) / b, 1) if b else None)

    diff, pct = change(now.totals["incidents"], before.totals["incidents"])
    rows = []
    previous = {r["key"]: r["incidents"] for r in before.by_category}
    for row in now.by_category:
        c, p = change(row["incidents"], previous.get(row["key"], 0))
        rows.append({"key": row["key"], "label": row["label"], "incidents": row["incidents"],
                     "previous": previous.get(row["key"], 0), "change": c, "change_pct": p,
                     "suppressed": c is None})
    return {"year": now.filter.year, "previous_year": before.filter.year,
            "incidents": now.totals["incidents"],
            "previous_incidents": before.totals["incidents"], "change": diff,
            "change_pct": pct, "by_category": rows}


def display(value: Any, threshold: int | None = None) -> str:
    """How a figure reads in a table or export: "<3" for a suppressed one."""
    if value is None:
        return f"<{small_count_threshold() if threshold is None else threshold}"
    if isinstance(value, float):
        return f"{value:g}" if value != int(value) else f"{int(value)}"
    return str(value)
