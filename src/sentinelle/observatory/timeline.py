"""The routing page's timeline: one row per alert, a bar from raised to resolved (or now).

Plain HTML, no SVG and no inline style (the Content-Security-Policy allows styles from our
static files only): the time axis is a table of equal columns (``table-layout: fixed``) and a
bar is one cell spanning its columns (``colspan``). A table's columns follow the text
direction, so in Arabic the labels stand on the right and time runs right to left with no
extra code: the chart is mirrored as reports/charts.py mirrors the Council report's.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["SLOTS", "Timeline", "build"]

SLOTS = 24            # columns of the time axis
TICKS = 4             # labelled groups of columns
MAX_ROWS = 20         # alerts drawn; the tables below list them all
MIN_WINDOW = dt.timedelta(hours=1)


@dataclass
class Cell:
    span: int
    bar: bool = False
    status: str = ""


@dataclass
class Row:
    alert: object
    cells: list[Cell] = field(default_factory=list)


@dataclass
class Timeline:
    start: dt.datetime
    end: dt.datetime
    slots: int
    rows: list[Row]
    ticks: list[tuple[int, dt.datetime]]   # (colspan, time at the group's start)


def build(alerts: Sequence, now: dt.datetime, slots: int = SLOTS) -> Timeline | None:
    """``alerts``: objects with ``raised_at``, ``resolved_at`` and ``status``, newest first;
    None when none has a time."""
    dated = [a for a in alerts if a.raised_at is not None][:MAX_ROWS]
    if not dated:
        return None
    start = min(a.raised_at for a in dated)
    end = max([now, *(a.resolved_at for a in dated if a.resolved_at)])
    if end - start < MIN_WINDOW:
        start = end - MIN_WINDOW
    step = (end - start) / slots
    rows = []
    for alert in dated:
        until = alert.resolved_at or end
        first = min(slots - 1, max(0, math.floor((alert.raised_at - start) / step)))
        last = min(slots, max(first + 1, math.ceil((until - start) / step)))
        cells = [Cell(first)] if first else []
        cells.append(Cell(last - first, bar=True, status=alert.status))
        if last < slots:
            cells.append(Cell(slots - last))
        rows.append(Row(alert, cells))
    width = slots // TICKS
    ticks = [(width if i < TICKS - 1 else slots - width * (TICKS - 1), start + step * width * i)
             for i in range(TICKS)]
    return Timeline(start, end, slots, rows, ticks)
