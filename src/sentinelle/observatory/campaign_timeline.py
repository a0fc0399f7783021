"""A campaign's timeline: per service a row, per round a cell with the verdict, the change points
marked. A window of at most ``MAX_WINDOW`` rounds is read at a time (a campaign may have
thousands), from the per-round verdicts (``CampaignVerdict``), never from the observations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max, Min

from sentinelle.observatory.models import (
    DENIAL_VERDICTS,
    Campaign,
    CampaignChange,
    CampaignRound,
    CampaignVerdict,
    Verdict,
)

__all__ = ["DEFAULT_WINDOW", "MAX_SERVICES", "MAX_WINDOW", "Timeline", "timeline",
           "window_param"]

DEFAULT_WINDOW = 24
MAX_WINDOW = 200
# Services (rows) shown at a time: a round may hold 200,000 URLs on distinct hosts, and a
# page of every service over 200 rounds would be tens of millions of cells.
MAX_SERVICES = 500


def window_param(text: str | None, default: int | None, low: int, high: int) -> int | None:
    """A whole number from the query string, held within bounds; the default if not one."""
    text = (text or "").strip()
    # ASCII digits only (isdecimal() also takes other scripts' digits), and few of them: int()
    # refuses more than 4,300 digits with a ValueError (a 500); anything longer than the bound's
    # own digits is beyond it anyway.
    if not text or not text.isascii() or not text.isdigit():
        return default
    if len(text.lstrip("0")) > len(str(high)):
        return high
    return max(low, min(int(text), high))


@dataclass
class Timeline:
    campaign: Campaign
    rounds: list[CampaignRound]
    rows: list[dict[str, Any]] = field(default_factory=list)
    first: int | None = None          # the campaign's first and last round numbers
    last: int | None = None
    earlier: int | None = None        # ``upto`` of the window before this one, if any
    later: int | None = None          # ``upto`` of the window after this one, if any
    size: int = DEFAULT_WINDOW
    services_total: int = 0           # services measured in the window, all of them
    services_from: int = 0            # offset of the first row shown, alphabetically
    services_size: int = MAX_SERVICES

    @property
    def services_first(self) -> int:
        return self.services_from + 1

    @property
    def services_last(self) -> int:
        return self.services_from + len(self.rows)

    @property
    def services_earlier(self) -> int | None:
        return max(0, self.services_from - self.services_size) if self.services_from else None

    @property
    def services_later(self) -> int | None:
        later = self.services_from + self.services_size
        return later if later < self.services_total else None

    @property
    def low(self) -> int | None:
        return self.rounds[0].number if self.rounds else None

    @property
    def high(self) -> int | None:
        return self.rounds[-1].number if self.rounds else None


def _tone(verdict: str) -> str:
    """The colour family of a verdict (the text says the verdict itself)."""
    if verdict in DENIAL_VERDICTS:
        return "denied"
    return "accessible" if verdict == Verdict.ACCESSIBLE else "unclear"


def timeline(campaign: Campaign, upto: int | None = None,
             size: int = DEFAULT_WINDOW, services_from: int = 0) -> Timeline:
    """The rounds numbered up to ``upto`` (the latest if None), at most ``size`` of them, and
    at most ``MAX_SERVICES`` services from the ``services_from``-th (alphabetically)."""
    size = max(1, min(size, MAX_WINDOW))
    services_from = max(0, services_from)
    bounds = CampaignRound.objects.filter(campaign=campaign).aggregate(
        first=Min("number"), last=Max("number"))
    result = Timeline(campaign, [], first=bounds["first"], last=bounds["last"], size=size)
    if bounds["last"] is None:
        return result
    upto = bounds["last"] if upto is None else max(min(upto, bounds["last"]), bounds["first"])
    rounds = list(CampaignRound.objects.filter(campaign=campaign, number__lte=upto)
                  .select_related("submission").order_by("-number")[:size])[::-1]
    low, high = rounds[0].number, rounds[-1].number
    result.rounds = rounds
    result.earlier = low - 1 if low > bounds["first"] else None
    later = CampaignRound.objects.filter(campaign=campaign, number__gt=high) \
        .order_by("number").values_list("number", flat=True)[size - 1:size]
    if high < bounds["last"]:
        result.later = later[0] if later else bounds["last"]
    marks = {(c.service, c.number): c for c in CampaignChange.objects.filter(
        campaign=campaign, number__gte=low, number__lte=high)}
    in_window = CampaignVerdict.objects.filter(campaign=campaign, number__gte=low,
                                               number__lte=high)
    names = in_window.order_by("service").values_list("service", flat=True).distinct()
    result.services_total = names.count()
    result.services_from = min(services_from, max(0, result.services_total - 1))
    shown = list(names[result.services_from:result.services_from + MAX_SERVICES])
    cells: dict[str, dict[int, str]] = {}
    for service, number, verdict in in_window.filter(service__in=shown).order_by() \
            .values_list("service", "number", "verdict"):
        cells.setdefault(service, {})[number] = verdict
    labels = dict(Verdict.choices)
    for service in sorted(cells):
        row = []
        for r in rounds:
            verdict = cells[service].get(r.number)
            change = marks.get((service, r.number))
            row.append(None if verdict is None else {
                "verdict": verdict, "label": labels[verdict], "tone": _tone(verdict),
                "change": change, "from_label": labels[change.from_verdict] if change else ""})
        result.rows.append({"service": service, "cells": row})
    return result
