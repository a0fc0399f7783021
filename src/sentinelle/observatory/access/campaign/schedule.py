"""When the next round starts: every ``interval`` after the previous round's *nominal* time
(jitter does not drift the series), delayed by a random 0..``jitter``, never inside the quiet
hours (a start that falls in them moves to their end, plus a fresh jitter), and never in the
past: rounds missed while the probe was off are not caught up one after another, the next one
simply starts now.

Pure functions of (last nominal time, now, schedule, rng): the tests pass a seeded
``random.Random`` and fixed times.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from .config import Schedule

__all__ = ["Planned", "in_quiet_hours", "next_round", "quiet_end"]


@dataclass(frozen=True)
class Planned:
    nominal: dt.datetime         # the series' own time (interval steps), before jitter
    at: dt.datetime              # when the round starts (after jitter and quiet hours)


def next_round(last_nominal: dt.datetime | None, now: dt.datetime, schedule: Schedule,
               rng: random.Random) -> Planned:
    """The next round after one planned at ``last_nominal`` (None: the first ever)."""
    if last_nominal is None:
        nominal = now
    else:
        nominal = last_nominal + dt.timedelta(seconds=schedule.interval)
        if nominal < now:
            # Missed (the probe was down): the series restarts from now rather than running
            # every missed round back to back.
            nominal = now
    at = nominal + dt.timedelta(seconds=rng.uniform(0, schedule.jitter))
    if in_quiet_hours(at, schedule):
        at = quiet_end(at, schedule) + dt.timedelta(seconds=rng.uniform(0, schedule.jitter))
    return Planned(nominal=nominal, at=at)


def in_quiet_hours(moment: dt.datetime, schedule: Schedule) -> bool:
    if schedule.quiet is None:
        return False
    start, end = schedule.quiet
    local = moment.astimezone(schedule.zone()).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end          # across midnight, e.g. 22:00-06:00


def quiet_end(moment: dt.datetime, schedule: Schedule) -> dt.datetime:
    """The end of the quiet period ``moment`` is in (a UTC datetime)."""
    assert schedule.quiet is not None
    start, end = schedule.quiet
    zone = schedule.zone()
    local = moment.astimezone(zone)
    day = local.date()
    if start > end and local.time().replace(tzinfo=None) >= start:
        day += dt.timedelta(days=1)           # 23:00 in 22:00-06:00 ends tomorrow at 06:00
    ending = dt.datetime.combine(day, end, tzinfo=zone)
    return ending.astimezone(dt.UTC)
