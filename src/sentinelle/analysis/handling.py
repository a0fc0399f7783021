"""The Secretariat's queue of open reports and the expected handling times behind its overdue
marks.

"Acknowledged" is the Secretariat's first status change after submission (acknowledge, request
information or mark duplicate: each shows the State that someone has looked); "analysed" is the
first closure. Both are read from the status history (``Transition``), so the queue, the
statistics (``handling_in_time``) and the Council report agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sentinelle.analysis.models import HandlingExpectation
from sentinelle.analysis.models.handling import MAX_HOURS
from sentinelle.analysis.statistics import StatsFilter, counted_incidents
from sentinelle.core import audit
from sentinelle.core.models import Role
from sentinelle.incidents.models import Category, Incident, Message, Status, Transition

OPEN = (Status.SUBMITTED, Status.ACKNOWLEDGED, Status.UNDER_ANALYSIS, Status.INFO_REQUESTED)

# sort parameter -> (column label, ordering). A key orders its quantity ascending ("age": the
# youngest first), "-key" descending ("-age": the oldest first); the timestamps behind the
# quantities run the other way. Reports with no State answer come last either way.
SORTS = {
    "age": (gettext_lazy("Age"), "started_at"),
    "submitted": (gettext_lazy("Since submission"), "submitted_at"),
    "answer": (gettext_lazy("Since the State's last answer"), "last_answer_at"),
}
DEFAULT_SORT = "-submitted"


def acknowledgements() -> QuerySet[Transition]:
    """The first Secretariat status change after submission of the report ``OuterRef("pk")``
    (a withdrawal is the State's, not an acknowledgement)."""
    return Transition.objects.filter(incident_id=OuterRef("pk"), from_status=Status.SUBMITTED) \
        .exclude(to_status=Status.WITHDRAWN).order_by("at", "id").values("at")[:1]


def closures() -> QuerySet[Transition]:
    """The first closure of the report ``OuterRef("pk")``."""
    return Transition.objects.filter(incident_id=OuterRef("pk"), to_status=Status.CLOSED) \
        .order_by("at", "id").values("at")[:1]


@dataclass
class Due:
    """Where a report stands against its category's expectations."""

    overdue: bool
    text: str


def due(incident: Incident, expectation: HandlingExpectation | None,
        now: dt.datetime) -> Due | None:
    """The next deadline of an open report, or the one it has missed (None: no expectation)."""
    if expectation is None or incident.submitted_at is None:
        return None
    if getattr(incident, "acknowledged_at", None) is None:
        deadline, overdue_text, due_text = (
            incident.submitted_at + expectation.acknowledge_within,
            _("Acknowledgement overdue by %(delay)s"), _("Acknowledge within %(delay)s"))
    else:
        deadline, overdue_text, due_text = (
            incident.submitted_at + expectation.analyse_within,
            _("Analysis overdue by %(delay)s"), _("Analyse within %(delay)s"))
    if now > deadline:
        return Due(True, overdue_text % {"delay": duration(now - deadline)})
    return Due(False, due_text % {"delay": duration(deadline - now)})


def due_for(incident: Incident, now: dt.datetime) -> Due | None:
    """``due`` for one report (its page), reading its acknowledgement; None once it is closed
    or otherwise out of the queue."""
    if incident.status not in OPEN:
        return None
    incident.acknowledged_at = Transition.objects.filter(
        incident=incident, from_status=Status.SUBMITTED).exclude(
        to_status=Status.WITHDRAWN).order_by("at", "id").values_list("at", flat=True).first()
    return due(incident, HandlingExpectation.objects.filter(
        category_id=incident.category_id).first(), now)


def duration(delta: dt.timedelta | None) -> str:
    """A delay as a person reads it, rounded: "12 d", "2 d 4 h", "5 h", "12 min"."""
    if delta is None:
        return "—"
    seconds = max(delta.total_seconds(), 0)
    if round(seconds / 60) < 60:
        return _("%(minutes)d min") % {"minutes": round(seconds / 60)}
    hours = round(seconds / 3600)
    if hours < 24:
        return _("%(hours)d h") % {"hours": hours}
    days, hours = divmod(hours, 24)
    if days >= 3:  # past a few days, the hours no longer matter to the reader
        return _("%(days)d d") % {"days": days}
    return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}


def parse_sort(value: str | None) -> tuple[str, str | None]:
    """(sort, error): an unknown sort falls back to the default and says so."""
    if not value:
        return DEFAULT_SORT, None
    if value.lstrip("-") in SORTS:
        return value, None
    return DEFAULT_SORT, _("Unknown sort “%(sort)s”: the queue is sorted by time since "
                           "submission.") % {"sort": value}


def queue(user, sort: str = DEFAULT_SORT) -> QuerySet[Incident]:
    """The open reports the user may see, with ``acknowledged_at`` and ``last_answer_at``.

    The State's last answer is its focal points' latest message the user may read (by the
    thread's own visibility: a message written while the report was RED stays hidden from an
    analyst who was not named)."""
    answers = Message.objects.for_user(user).filter(
        incident_id=OuterRef("pk"), author__role=Role.FOCAL_POINT,
        author__state_id=OuterRef("state_id")).order_by("-created_at", "-id").values(
        "created_at")[:1]
    key = sort.lstrip("-")
    column = SORTS[key][1]
    # Descending quantity (the oldest first) is ascending timestamp, and the reverse.
    ordering = F(column).asc(nulls_last=True) if sort.startswith("-") \
        else F(column).desc(nulls_last=True)
    return Incident.objects.for_user(user).filter(status__in=OPEN).select_related(
        "state", "category").annotate(
        acknowledged_at=Subquery(acknowledgements()), last_answer_at=Subquery(answers),
    ).order_by(ordering, "pk")


def expectations() -> dict[int, HandlingExpectation]:
    """Expectations by category pk."""
    return {e.category_id: e for e in HandlingExpectation.objects.all()}


def set_expectation(user, category: Category, acknowledge_hours: int,
                    analyse_hours: int) -> HandlingExpectation:
    """Set a category's expected handling times, as the Secretariat; audited."""
    if not (user.is_authenticated and user.is_secretariat):
        raise ValidationError(_("Only the Secretariat sets expected handling times."))
    errors = {}
    for name, value in (("acknowledge_hours", acknowledge_hours),
                        ("analyse_hours", analyse_hours)):
        if not isinstance(value, int) or not 1 <= value <= MAX_HOURS:
            errors[name] = _("Give a whole number of hours from 1 to %(max)d.") % {
                "max": MAX_HOURS}
    if not errors and analyse_hours < acknowledge_hours:
        errors["analyse_hours"] = _("The analysis cannot be due before the acknowledgement.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        expectation = HandlingExpectation.objects.select_for_update().filter(
            category=category).first()
        before = None if expectation is None else {
            "category": category.code, "acknowledge_hours": expectation.acknowledge_hours,
            "analyse_hours": expectation.analyse_hours}
        if expectation is None:
            expectation = HandlingExpectation(category=category)
        expectation.acknowledge_hours = acknowledge_hours
        expectation.analyse_hours = analyse_hours
        expectation.updated_by = user
        expectation.save()
        audit.record("handling.expectation", expectation, before=before,
                     after={"category": category.code, "acknowledge_hours": acknowledge_hours,
                            "analyse_hours": analyse_hours}, actor=user)
    return expectation


def handling_in_time(flt: StatsFilter, *, now: dt.datetime | None = None,
                     scope: QuerySet[Incident] | None = None) -> dict[str, Any]:
    """The share of the counted reports acknowledged and analysed within their category's
    expected time (``analysis.HandlingExpectation``), from the status history.

    For each of ``acknowledge`` and ``analyse``: ``in_time`` (done within the expectation),
    ``late`` (done after it, or not done and past it at ``now``), ``pending`` (not done, not yet
    due) and ``share`` = in_time / (in_time + late), None when nothing was due.
    ``by_state`` gives ``in_time`` and ``late`` per State id (for the disclosure rule).
    ``not_measured`` counts reports whose category has no expectation. Acknowledgement is the
    Secretariat's first status change after submission, analysis the first closure
    (``acknowledgements``, ``closures``). SQL aggregation only, like
    ``analysis.statistics``.
    """
    now = now or timezone.now()
    reports = counted_incidents(flt, scope).filter(submitted_at__isnull=False)
    limits = list(HandlingExpectation.objects.values_list(
        "category_id", "acknowledge_hours", "analyse_hours"))
    measured = reports.filter(category_id__in=[c for c, _a, _b in limits])
    # A report is in time when one of its qualifying transitions (any, so the first too) came
    # before its deadline, and pending when it has none and its deadline is still ahead; the
    # rest are late. EXISTS in WHERE, which PostgreSQL runs as a (anti-)semi-join over the
    # transitions, where a correlated "first transition" subquery was probed per report in
    # every count that named it.
    qualifying = {"acknowledge": Q(from_status=Status.SUBMITTED) & ~Q(to_status=Status.WITHDRAWN),
                  "analyse": Q(to_status=Status.CLOSED)}

    def per_state(qs: QuerySet[Incident]) -> dict[int, int]:
        return dict(qs.order_by().values("state_id").annotate(n=Count("pk"))
                    .values_list("state_id", "n"))

    if limits and connection.vendor == "postgresql":
        rows = _rows_in_one_statement(measured, limits, now)
    else:
        rows_n = per_state(measured) if limits else {}
        rows = [{"state_id": k, "n": v} for k, v in rows_n.items()]
    for name, position in (("acknowledge", 1), ("analyse", 2)) \
            if limits and connection.vendor != "postgresql" else ():
        deadline = ExpressionWrapper(F("submitted_at") + Case(
            *(When(category_id=c, then=Value(dt.timedelta(hours=hours[position - 1]),
                                             output_field=DurationField()))
              for c, *hours in limits), output_field=DurationField()),
            output_field=DateTimeField())
        done = Transition.objects.filter(qualifying[name], incident_id=OuterRef("pk"))
        in_time = per_state(measured.annotate(deadline=deadline).filter(
            Exists(done.filter(at__lte=OuterRef("deadline")))))
        not_yet_due = Q()
        for c, *hours in limits:
            not_yet_due |= Q(category_id=c, submitted_at__gte=now - dt.timedelta(
                hours=hours[position - 1]))
        pending = per_state(measured.filter(~Exists(done)).filter(not_yet_due))
        for r in rows:
            r[f"{name}:in_time"] = in_time.get(r["state_id"], 0)
            r[f"{name}:pending"] = pending.get(r["state_id"], 0)
            r[f"{name}:late"] = r["n"] - r[f"{name}:in_time"] - r[f"{name}:pending"]
    counting = bool(limits)
    result: dict[str, Any] = {"not_measured": reports.count() - sum(r["n"] for r in rows)}
    for name in ("acknowledge", "analyse"):
        counts = {key: sum(r[f"{name}:{key}"] for r in rows) if counting else 0
                  for key in ("in_time", "pending", "late")}
        # Per State, for the disclosure rule's "one State holds all but a few" clause.
        by_state: dict[str, dict[int, int]] = {
            key: {r["state_id"]: r[f"{name}:{key}"] for r in rows if r[f"{name}:{key}"]}
            for key in ("in_time", "late")}
        due = counts["in_time"] + counts["late"]
        result[name] = {**counts, "share": round(counts["in_time"] / due, 4) if due else None,
                        "by_state": by_state}
    return result


def _rows_in_one_statement(measured: QuerySet[Incident], limits: list[tuple[int, int, int]],
                           now: dt.datetime) -> list[dict[str, Any]]:
    """PostgreSQL: the rows of ``handling_in_time`` (per State: measured reports, and in time,
    pending and late for each of acknowledge and analyse) from one statement. Each report's
    first qualifying transitions are found by one join with the transitions (a ``MIN`` per
    report): in time = the first one within the deadline, pending = none and the deadline
    ahead, the same as the semi-joins of the other databases (tests compare them)."""
    sql, params = measured.order_by().values("id", "state_id", "category_id",
                                             "submitted_at").query.sql_with_params()
    limit = {position: "CASE r.category_id " + " ".join(
        "WHEN %s THEN %s" for _limit in limits) + " END" for position in (1, 2)}
    limit_args = {position: [v for c, *hours in limits
                             for v in (c, dt.timedelta(hours=hours[position - 1]))]
                  for position in (1, 2)}
    counts, args = [], []
    for position, first in ((1, "first_ack"), (2, "first_close")):
        counts.append(f"COUNT(*) FILTER (WHERE r.{first} <= r.submitted_at + {limit[position]}), "
                      f"COUNT(*) FILTER (WHERE r.{first} IS NULL "
                      f"AND r.submitted_at >= %s - {limit[position]})")
        args += [*limit_args[position], now, *limit_args[position]]
    transitions = connection.ops.quote_name(Transition._meta.db_table)
    with connection.cursor() as cur:
        # Only Django's compiled SQL and this function's are formatted in; values are parameters.
        cur.execute(
            f"SELECT r.state_id, COUNT(*), {', '.join(counts)} FROM ("  # noqa: S608
            "SELECT m.id, m.state_id, m.category_id, m.submitted_at, "
            "MIN(t.at) FILTER (WHERE t.from_status = %s AND t.to_status <> %s) AS first_ack, "
            "MIN(t.at) FILTER (WHERE t.to_status = %s) AS first_close "
            f"FROM ({sql}) m LEFT JOIN {transitions} t ON t.incident_id = m.id "
            "GROUP BY m.id, m.state_id, m.category_id, m.submitted_at) r GROUP BY r.state_id",
            [*args, Status.SUBMITTED, Status.WITHDRAWN, Status.CLOSED, *params])
        found = cur.fetchall()
    rows = []
    for state, n, *values in found:
        row: dict[str, Any] = {"state_id": state, "n": n}
        for k, name in enumerate(("acknowledge", "analyse")):
            row[f"{name}:in_time"], row[f"{name}:pending"] = values[2 * k], values[2 * k + 1]
            row[f"{name}:late"] = n - row[f"{name}:in_time"] - row[f"{name}:pending"]
        rows.append(row)
    return rows
