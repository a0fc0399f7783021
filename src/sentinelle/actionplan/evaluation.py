"""Evaluating the action plan: each indicator's status from its trajectory, a verdict per action
and overall. The rule (also in the README and in the Council report's annex):

* The planned trajectory is a straight line from the **baseline** at the baseline date to the
  **target** at the deadline. At the evaluation date the plan expects the share
  ``expected = (date - baseline date) / (deadline - baseline date)`` (between 0 and 1) of the
  way to be done.
* Progress is the share of the way actually done:
  ``progress = (value - baseline) / (target - baseline)``; a value that moved the wrong way gives
  a negative progress. ``direction`` says whether higher or lower is better.
* **achieved**: the value has reached the target (≥ it when higher is better, ≤ when lower is).
* **on track**: not achieved, and ``progress ≥ expected − 0.10`` (at most ten points behind the
  line) and the deadline has not passed.
* **at risk**: ``progress ≥ expected − 0.25`` and the deadline has not passed.
* **off track**: further behind, or the deadline passed without reaching the target.
* **not measured**: no value yet (no progress update on or before the date, or no incident data
  for a computed indicator).

An action's verdict is its weakest measured indicator's status (an action is only as far along as
its weakest indicator); an action with no measured indicator is "not measured". The overall
verdict: **achieved** when every measured indicator is; otherwise **on track** when at least 75 %
of measured indicators are achieved or on track and none is off track; **at risk** when at least
half are achieved or on track; **off track** otherwise.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import models
from django.utils.translation import gettext_lazy as _

ON_TRACK_TOLERANCE = 0.10
AT_RISK_TOLERANCE = 0.25
OVERALL_ON_TRACK_SHARE = 0.75
OVERALL_AT_RISK_SHARE = 0.50


class Status(models.TextChoices):
    ACHIEVED = "achieved", _("achieved")
    ON_TRACK = "on-track", _("on track")
    AT_RISK = "at-risk", _("at risk")
    OFF_TRACK = "off-track", _("off track")
    NOT_MEASURED = "not-measured", _("not measured")


# Worst first: an action's verdict is the first of these that one of its indicators has.
_SEVERITY = [Status.OFF_TRACK, Status.AT_RISK, Status.ON_TRACK, Status.ACHIEVED]


def expected_share(start: dt.date, deadline: dt.date, on: dt.date) -> float:
    if deadline <= start:
        return 1.0
    share = (on - start).days / (deadline - start).days
    return min(1.0, max(0.0, share))


def progress_share(baseline: float, target: float, value: float) -> float:
    if target == baseline:
        return 1.0 if value == target else 0.0
    return (value - baseline) / (target - baseline)


def indicator_status(*, baseline: float, target: float, direction: str, start: dt.date,
                     deadline: dt.date, value: float | None, on: dt.date) -> Status:
    """The rule in the module docstring, for one indicator."""
    if value is None:
        return Status.NOT_MEASURED
    reached = value >= target if direction == "up" else value <= target
    if reached:
        return Status.ACHIEVED
    if on > deadline:
        return Status.OFF_TRACK
    gap = expected_share(start, deadline, on) - progress_share(baseline, target, value)
    if gap <= ON_TRACK_TOLERANCE:
        return Status.ON_TRACK
    if gap <= AT_RISK_TOLERANCE:
        return Status.AT_RISK
    return Status.OFF_TRACK


def action_verdict(statuses: list[str]) -> Status:
    measured = [s for s in statuses if s != Status.NOT_MEASURED]
    for status in _SEVERITY:
        if status in measured:
            return status
    return Status.NOT_MEASURED


def overall_verdict(statuses: list[str]) -> Status:
    measured = [s for s in statuses if s != Status.NOT_MEASURED]
    if not measured:
        return Status.NOT_MEASURED
    if all(s == Status.ACHIEVED for s in measured):
        return Status.ACHIEVED
    good = sum(s in (Status.ACHIEVED, Status.ON_TRACK) for s in measured) / len(measured)
    if good >= OVERALL_ON_TRACK_SHARE and Status.OFF_TRACK not in measured:
        return Status.ON_TRACK
    if good >= OVERALL_AT_RISK_SHARE:
        return Status.AT_RISK
    return Status.OFF_TRACK


@dataclass
class IndicatorResult:
    indicator: object
    value: float | None
    value_date: dt.date | None
    expected: float
    progress: float | None
    status: Status


@dataclass
class ActionResult:
    action: object
    indicators: list[IndicatorResult]
    verdict: Status


@dataclass
class PlanEvaluation:
    on: dt.date
    year: int
    actions: list[ActionResult] = field(default_factory=list)
    verdict: Status = Status.NOT_MEASURED

    @property
    def indicators(self) -> list[IndicatorResult]:
        return [r for action in self.actions for r in action.indicators]

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for result in self.indicators:
            counts[result.status.value] += 1
        return counts


def evaluation_date(year: int, today: dt.date | None = None) -> dt.date:
    """A year is evaluated at its last day, or today while it is still running."""
    today = today or dt.date.today()
    return min(dt.date(year, 12, 31), today)


def evaluate(year: int, *, on: dt.date | None = None,
             computed: Callable[[object, int], float | None] | None = None) -> PlanEvaluation:
    """Evaluate every action for ``year``. Computed indicators take their value for the year
    from the statistics service (``actionplan.metrics.calculator``)."""
    from sentinelle.actionplan import metrics
    from sentinelle.actionplan.models import Action, Indicator

    on = on or evaluation_date(year)
    computed = computed or metrics.calculator()
    plan = PlanEvaluation(on=on, year=year)
    actions = Action.objects.prefetch_related("indicators__updates", "indicators__category")
    for action in actions:
        results = []
        for indicator in action.indicators.all():
            if indicator.kind == Indicator.Kind.COMPUTED:
                value, value_date = computed(indicator, year), on
            else:
                updates = [u for u in indicator.updates.all() if u.date <= on]
                latest = max(updates, key=lambda u: (u.date, u.pk), default=None)
                value = latest.value if latest else None
                value_date = latest.date if latest else None
            status = indicator_status(
                baseline=indicator.baseline, target=indicator.target,
                direction=indicator.direction, start=indicator.baseline_date,
                deadline=indicator.deadline, value=value, on=on)
            results.append(IndicatorResult(
                indicator=indicator, value=value, value_date=value_date,
                expected=expected_share(indicator.baseline_date, indicator.deadline, on),
                progress=None if value is None else progress_share(
                    indicator.baseline, indicator.target, value),
                status=status))
        plan.actions.append(ActionResult(action=action, indicators=results,
                                         verdict=action_verdict([r.status for r in results])))
    plan.verdict = overall_verdict([r.status for r in plan.indicators])
    return plan
