"""THE FORMER ``analysis.handling.handling_in_time`` (before issue 17 read the reports once
instead of four times), kept only so that tests/analysis/test_statistics_groups.py compares the
two."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from sentinelle.analysis.handling import acknowledgements, closures
from sentinelle.analysis.models import HandlingExpectation
from sentinelle.analysis.statistics import StatsFilter, counted_incidents
from sentinelle.incidents.models import Incident


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
    annotated = measured.annotate(ack_at=Subquery(acknowledgements()),
                                  closed_at=Subquery(closures())).annotate(
        ack_delay=ExpressionWrapper(Coalesce("ack_at", Value(now)) - F("submitted_at"),
                                    output_field=DurationField()),
        close_delay=ExpressionWrapper(Coalesce("closed_at", Value(now)) - F("submitted_at"),
                                      output_field=DurationField()))
    result: dict[str, Any] = {"not_measured": reports.count() - measured.count()}
    for name, done, delay, position in (("acknowledge", "ack_at", "ack_delay", 1),
                                        ("analyse", "closed_at", "close_delay", 2)):
        counts = {"in_time": 0, "pending": 0, "late": 0}
        by_state: dict[str, dict[int, int]] = {"in_time": {}, "late": {}}
        if limits:
            # Within its own category's limit: one OR of (category, limit) pairs.
            within = Q()
            for limit in limits:
                within |= Q(category_id=limit[0], **{f"{delay}__lte": dt.timedelta(
                    hours=limit[position])})
            counting = {
                "in_time": Count("pk", filter=within & Q(**{f"{done}__isnull": False})),
                "pending": Count("pk", filter=within & Q(**{f"{done}__isnull": True})),
                "late": Count("pk", filter=~within)}
            counts = annotated.order_by().aggregate(**counting)
            # Per State, for the disclosure rule's "one State holds all but a few" clause.
            for row in annotated.order_by().values("state_id").annotate(**counting):
                for key in ("in_time", "late"):
                    if row[key]:
                        by_state[key][row["state_id"]] = row[key]
        due = counts["in_time"] + counts["late"]
        result[name] = {**counts, "share": round(counts["in_time"] / due, 4) if due else None,
                        "by_state": by_state}
    return result
