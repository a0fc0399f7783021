"""The grouped queries behind ``statistics.compute``: the year's reports read three times by
SQL ``GROUP BY`` at a fine grain (twice on PostgreSQL, where two of the groupings are one
statement with ``GROUPING SETS``), every table, total and disclosure share then summed from
those groups in Python; more queries count, per State, the reports with evidence, acknowledged
and closed (on PostgreSQL the last two come with the response times, ``percentiles``).

Why: the tables used to be one ``GROUP BY`` each, and the disclosure shares one more per table
and State, about forty passes over the year's reports (at a million reports, the Council report
cost seven times the bare aggregations). A group here is one combination of State × category ×
RSIT type × linked incident (and State × severity × status × channel, State × month): its
number is bounded by the reference tables, not by the reports (a few thousand groups for a
million reports), so summing them in Python is cheap and the memory does not grow with the
data. The sums are the same as the former queries' (``tests/analysis/test_statistics_groups.py``
compares the two on the same data).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from sentinelle.analysis.percentiles import reached_by_state
from sentinelle.core.models import MemberState
from sentinelle.incidents.models import Evidence, Incident, RsitType, Status, Transition

__all__ = ["FINE_KEYS", "Groups", "load"]

# Keys read from the fine groups (State × category × RSIT type × linked incident) and from the
# flag groups (State × severity × status × channel).
FINE_KEYS = ("category_id", "rsit_type__rsit_class_id", "rsit_type_id", "state__itu_d_region",
             "state__admin_region", "state_id")
FLAG_KEYS = ("severity", "status", "channel")


@dataclass
class Groups:
    fine: list[dict[str, Any]]
    flags: list[dict[str, Any]]
    months: list[dict[str, Any]]
    # {"with_evidence" | "time_to_acknowledge" | "time_to_close": {State pk: reports}}
    reached: dict[str, dict[int, int]]
    # {status: count, median_hours, p90_hours} when the same statement gave them (PostgreSQL).
    times: dict[str, dict[str, Any]] | None = None

    # --- tables --------------------------------------------------------------------------------
    def grouped(self, key: str, once: bool = False) -> dict:
        """{key value: (reports, hours, incidents)}, as one GROUP BY of ``key`` gave (see
        ``statistics._grouped``): with ``once``, a linked incident counts once per key value
        with its largest user-hours."""
        if key in FLAG_KEYS:
            out: dict[Any, list] = {}
            for r in self.flags:
                cell = out.setdefault(r[key], [0, 0.0])
                cell[0] += r["n"]
                cell[1] += r["h"] or 0.0
            return {k: (n, h, n) for k, (n, h) in out.items()}
        if not once:
            out = {}
            for r in self.fine:
                cell = out.setdefault(r[key], [0, 0.0])
                cell[0] += r["n"]
                cell[1] += r["h"] or 0.0
            return {k: (n, h, n) for k, (n, h) in out.items()}
        out, linked = {}, self._linked(key)
        for r in self.fine:
            if r["cluster"] is None:
                cell = out.setdefault(r[key], [0, 0.0, 0])
                cell[0] += r["n"]
                cell[1] += r["h"] or 0.0
                cell[2] += r["n"]
        for (value, _cluster), (n, hmax) in linked.items():
            cell = out.setdefault(value, [0, 0.0, 0])
            cell[0] += n
            cell[1] += hmax or 0.0
            cell[2] += 1
        return {k: tuple(v) for k, v in out.items()}

    def _linked(self, key: str) -> dict[tuple, tuple[int, float | None]]:
        """{(key value, linked incident): (reports, largest user-hours)}."""
        out: dict[tuple, list] = {}
        for r in self.fine:
            if r["cluster"] is not None:
                cell = out.setdefault((r[key], r["cluster"]), [0, None])
                cell[0] += r["n"]
                if r["hmax"] is not None and (cell[1] is None or r["hmax"] > cell[1]):
                    cell[1] = r["hmax"]
        return {k: (n, h) for k, (n, h) in out.items()}

    def consenting(self) -> dict[int, int]:
        out: dict[int, int] = defaultdict(int)
        for r in self.fine:
            if r["consenting"]:
                out[r["state_id"]] += r["consenting"]
        return dict(out)

    def months_found(self) -> dict[str, tuple[int, float]]:
        out: dict[str, list] = {}
        for r in self.months:
            cell = out.setdefault(r["month"].strftime("%Y-%m"), [0, 0.0])
            cell[0] += r["n"]
            cell[1] += r["h"] or 0.0
        return {k: (n, h) for k, (n, h) in out.items()}

    # --- totals --------------------------------------------------------------------------------
    def totals(self) -> dict[str, Any]:
        """reports, incidents (a linked incident once), user-hours (each linked incident's
        largest), with evidence, acknowledged, closed, and the reporting States' pks."""
        n = sum(r["n"] for r in self.fine)
        unlinked = [r for r in self.fine if r["cluster"] is None]
        clusters: dict[int, float | None] = {}
        for r in self.fine:
            if r["cluster"] is not None:
                h = clusters.get(r["cluster"])
                if r["hmax"] is not None and (h is None or r["hmax"] > h):
                    h = r["hmax"]
                clusters[r["cluster"]] = h
        hours = sum(r["h"] or 0.0 for r in unlinked) + sum(h or 0.0 for h in clusters.values())
        return {"n": n, "distinct": sum(r["n"] for r in unlinked) + len(clusters),
                "hours": hours, "with_evidence": sum(self.reached["with_evidence"].values()),
                "acknowledged": sum(self.reached["time_to_acknowledge"].values()),
                "closed": sum(self.reached["time_to_close"].values()),
                "states": {r["state_id"] for r in self.fine}}

    # --- disclosure shares ---------------------------------------------------------------------
    def shares(self, key: str, keys: dict, once: bool = False) -> dict[Any, dict[int, int]]:
        """{row key: {State pk: incidents}} of the reports' part of ``statistics._shares``."""
        out: dict[Any, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        rows = self.flags if key in FLAG_KEYS else self.fine
        seen: set[tuple] = set()
        for r in rows:
            if r[key] not in keys:
                continue
            if once and r["cluster"] is not None:
                # Each linked incident once per row and State.
                mark = (r[key], r["state_id"], r["cluster"])
                if mark not in seen:
                    seen.add(mark)
                    out[keys[r[key]]][r["state_id"]] += 1
            else:
                out[keys[r[key]]][r["state_id"]] += r["n"]
        return out

    def month_shares(self) -> dict[str, dict[int, int]]:
        out: dict[str, dict[int, int]] = defaultdict(dict)
        for r in self.months:
            out[r["month"].strftime("%Y-%m")][r["state_id"]] = r["n"]
        return dict(out)

    def report_shares(self) -> dict[str, dict[int, int]]:
        """``disclosure.report_shares`` from the same queries (for an unscoped computation)."""
        return {name: dict(counts) for name, counts in self.reached.items()}


def load(reports: QuerySet[Incident], evidence_scope: QuerySet[Evidence] | None) -> Groups:
    """The grouped queries over ``reports`` (counted reports of the filter)."""
    files = Evidence.objects.filter(incident_id=OuterRef("pk"))
    if evidence_scope is not None:
        files = files.filter(pk__in=evidence_scope.values("pk"))

    def reached(status: str) -> Q:
        return Q(submitted_at__isnull=False) & Q(Exists(Transition.objects.filter(
            incident_id=OuterRef("pk"), to_status=status)))

    if connection.vendor == "postgresql":
        fine, flags = _grouping_sets(reports)
    else:
        fine = list(reports.order_by().values("state_id", "category_id", "rsit_type_id",
                                              cluster=_cluster()).annotate(
            n=Count("pk"), h=Sum("user_hours"), hmax=Max("user_hours"),
            consenting=Count("pk", filter=Q(consent_to_name=True))))
        flags = list(reports.order_by().values("state_id", *FLAG_KEYS).annotate(
            n=Count("pk"), h=Sum("user_hours")))
    months = list(reports.order_by().annotate(month=TruncMonth("started_at", tzinfo=dt.UTC))
                  .values("month", "state_id").annotate(n=Count("pk"), h=Sum("user_hours")))
    classes = dict(RsitType.objects.values_list("pk", "rsit_class_id"))
    regions = {pk: (itu, admin) for pk, itu, admin in MemberState.objects.filter(
        pk__in={r["state_id"] for r in fine}).values_list("pk", "itu_d_region", "admin_region")}
    for r in fine:
        r["rsit_type__rsit_class_id"] = classes.get(r["rsit_type_id"])
        r["state__itu_d_region"], r["state__admin_region"] = regions.get(r["state_id"],
                                                                         (None, None))

    def by_state(condition: Q) -> dict[int, int]:
        # EXISTS in WHERE, which PostgreSQL runs as one semi-join; inside COUNT(...) FILTER it
        # would be probed once per report.
        return dict(reports.filter(condition).order_by().values("state_id")
                    .annotate(n=Count("pk")).values_list("state_id", "n"))

    statuses = [Status.ACKNOWLEDGED, Status.CLOSED]
    if connection.vendor == "postgresql":
        # The reports that reached each status per State and the response times' percentiles
        # from one statement: the transitions table is read once, not three times.
        times, per_state = reached_by_state(reports, statuses)
    else:
        times, per_state = None, {status: by_state(reached(status)) for status in statuses}
    return Groups(fine=fine, flags=flags, months=months, times=times, reached={
        "with_evidence": by_state(Q(Exists(files))),
        "time_to_acknowledge": per_state[Status.ACKNOWLEDGED],
        "time_to_close": per_state[Status.CLOSED]})


# Two groupings of load() (fine, flags) in one PostgreSQL statement: GROUPING SETS reads the
# year's reports once instead of twice, hashing both sets. GROUPING(...) names the set of a
# row: 1 fine (category grouped), 2 flags (severity grouped). The months stay a query of their
# own: PostgreSQL overestimates their groups and would sort every report to add them here.
_SETS = ('SELECT GROUPING(r."category_id", r."severity"), r."state_id", r."category_id", '
         'r."rsit_type_id", r."cluster", r."severity", r."status", r."channel", COUNT(*), '
         'SUM(r."user_hours"), MAX(r."user_hours"), COUNT(*) FILTER (WHERE r."consent_to_name") '
         'FROM (%s) r GROUP BY GROUPING SETS ('
         '(r."state_id", r."category_id", r."rsit_type_id", r."cluster"), '
         '(r."state_id", r."severity", r."status", r."channel"))')


def _grouping_sets(reports: QuerySet[Incident]) -> tuple[list, list]:
    """PostgreSQL: the fine and flag groups of ``load`` (the same rows, with the same keys, as
    its two queries give on other databases) from one statement."""
    rows = reports.order_by().annotate(cluster=_cluster()).values(
        "state_id", "category_id", "rsit_type_id", "cluster", *FLAG_KEYS, "user_hours",
        "consent_to_name")
    sql, params = rows.query.sql_with_params()
    fine, flags = [], []
    with connection.cursor() as cur:
        cur.execute(_SETS % sql, params)
        for (grouping, state, category, rsit_type, cluster, severity, status, channel,
             n, h, hmax, consenting) in cur.fetchall():
            if grouping == 1:
                fine.append({"state_id": state, "category_id": category,
                             "rsit_type_id": rsit_type, "cluster": cluster, "n": n, "h": h,
                             "hmax": hmax, "consenting": consenting})
            else:
                flags.append({"state_id": state, "severity": severity, "status": status,
                              "channel": channel, "n": n, "h": h})
    return fine, flags


def _cluster():
    from django.db.models import F

    return F("incident_link__cluster_id")
