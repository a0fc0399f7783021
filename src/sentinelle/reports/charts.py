"""Charts for the Council report.

HTML and PDF: a chart is plain HTML and CSS (a table of labels, bars and values), so its text is
real text that the browser and WeasyPrint shape and order like any paragraph. WeasyPrint draws
the ``<text>`` of an inline SVG letter by letter (no shaping, no bidirectional ordering), which
printed Arabic labels reversed and unjoined. For a right-to-left language the chart is mirrored:
categories on the right, bars and the value axis growing leftwards, time running right to left.

DOCX: python-docx can only embed an image, so the same chart is drawn as a PNG by matplotlib's
object API (no pyplot, no global state). matplotlib 3.11 lays text out with libraqm, which
shapes Arabic and orders right-to-left runs (earlier versions printed them reversed).

Both are deterministic (same data, same bytes). A suppressed value (a small count, see the
report's method annex) is drawn as an empty bar labelled "<k": a chart never shows what its
table hides.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property, partial
from pathlib import Path
from types import ModuleType

from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from sentinelle.core import formatting

# Fonts for the PNG charts. matplotlib's font cache may predate the Noto packages (it is built
# once per user), so their files are registered by path: without them every Chinese or Arabic
# character is a "Glyph ... missing" box. Debian: fonts-noto-cjk, fonts-noto-core.
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansArabic-Regular.ttf")
FALLBACK_FAMILIES = ("Noto Sans CJK SC", "Noto Sans Arabic")

# The settings every PNG chart is drawn with, applied by _matplotlib().
RC_PARAMS = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
BAR = "#1f5a96"
SUPPRESSED_EDGE = "#777777"
BAR_SHARE = 85.0  # % of the track the longest bar may take: its value is printed beyond it
COLUMN_HEIGHT = 110  # px of the tallest column


@dataclass
class Chart:
    key: str
    caption: str
    html: SafeString
    draw_png: Callable[[], bytes] = field(repr=False)

    @cached_property
    def png(self) -> bytes:
        """The chart as an image, for DOCX (drawn only when a DOCX needs it)."""
        return self.draw_png()


@cache
def _matplotlib() -> ModuleType:
    """matplotlib, imported and set up on the first PNG drawn. Importing it costs ~1 s of CPU,
    and this module is imported at Django set-up (reports.apps -> tasks -> service -> charts):
    every `sentinelle` command and worker paid it, though only a DOCX draws a PNG (issue 17)."""
    import matplotlib
    import matplotlib.figure
    import matplotlib.ticker

    matplotlib.rcParams.update(RC_PARAMS)
    return matplotlib


@cache
def _font_families() -> list[str]:
    from matplotlib import font_manager

    known = {entry.fname for entry in font_manager.fontManager.ttflist}
    for name in FONT_FILES:
        found = [path for folder in FONT_DIRS if folder.is_dir()
                 for path in sorted(folder.glob(f"**/{name}"))]
        if found and str(found[0]) not in known:
            font_manager.fontManager.addfont(str(found[0]))
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return ["DejaVu Sans", *(name for name in FALLBACK_FAMILIES if name in installed)]


def _axis_max(top: float) -> tuple[int, int]:
    """A round upper bound for the value axis and its tick step (1, 2 or 5 times a power of
    ten, at most five steps)."""
    top = max(top, 1)
    magnitude = 10 ** math.floor(math.log10(top))
    step = next(round(m * magnitude) for m in (0.2, 0.5, 1, 2, 5, 10)
                if m * magnitude >= 1 and top / (m * magnitude) <= 5)
    return step * math.ceil(top / step), step


def _pct(value: float) -> str:
    # Fixed precision: the same figure always prints the same way (reproducible HTML).
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _html_bars(labels: list[str], values: list[float | None], value_text: list[str],
               axis_label: str, rtl: bool) -> SafeString:
    top, step = _axis_max(max((v for v in values if v is not None), default=0))
    side = "right" if rtl else "left"
    rows = format_html_join("", (
        '<tr class="chart-row{}"><th class="chart-label">{}</th><td class="chart-track">'
        '<span class="chart-bar" style="width:{}%"></span>'
        '<span class="chart-value">{}</span></td></tr>'), (
        (" chart-suppressed" if value is None else "", label,
         _pct(0 if value is None else BAR_SHARE * value / top), text)
        for label, value, text in zip(labels, values, value_text, strict=True)))
    ticks = format_html_join("", '<span style="{}:{}%">{}</span>', (
        (side, _pct(BAR_SHARE * i * step / top), formatting.number(i * step))
        for i in range(round(top / step) + 1)))
    return format_html(
        '<div class="chart-h" dir="{}"><table role="presentation"><tbody>{}'
        '<tr class="chart-axis"><td></td><td><div class="chart-ticks">{}</div></td></tr>'
        '<tr><td></td><td class="chart-axis-title">{}</td></tr></tbody></table></div>',
        "rtl" if rtl else "ltr", rows, ticks, axis_label)


def _html_columns(labels: list[str], values: list[float | None], value_text: list[str],
                  axis_label: str, rtl: bool) -> SafeString:
    top, step = _axis_max(max((v for v in values if v is not None), default=0))
    columns = format_html_join("", (
        '<td class="chart-column{}"><span class="chart-value">{}</span>'
        '<span class="chart-bar" style="height:{}px"></span></td>'), (
        (" chart-suppressed" if value is None else "", text,
         _pct(0 if value is None else COLUMN_HEIGHT * value / top))
        for value, text in zip(values, value_text, strict=True)))
    ticks = format_html_join("", '<span style="bottom:{}px">{}</span>', (
        (_pct(COLUMN_HEIGHT * i * step / top), formatting.number(i * step))
        for i in range(round(top / step) + 1)))
    keys = format_html_join("", '<th class="chart-label">{}</th>', ((label,) for label in labels))
    return format_html(
        '<div class="chart-v" dir="{}"><table role="presentation">'
        '<colgroup><col class="chart-ticks-column"><col span="{}"></colgroup><tbody>'
        '<tr><td class="chart-axis-title" colspan="{}">{}</td></tr>'
        '<tr class="chart-plot"><td class="chart-ticks"><div>{}</div></td>{}</tr>'
        '<tr><td></td>{}</tr></tbody></table></div>',
        "rtl" if rtl else "ltr", len(labels), len(labels) + 1, axis_label, ticks, columns,
        keys)


def _png(labels: list[str], values: list[float | None], value_text: list[str],
         axis_label: str, horizontal: bool, rtl: bool) -> bytes:
    n = max(len(labels), 1)
    wrapped = [textwrap.fill(label, 34) for label in labels]
    heights = [0 if v is None else v for v in values]
    top = max(heights + [1])
    matplotlib = _matplotlib()
    Figure, MaxNLocator = matplotlib.figure.Figure, matplotlib.ticker.MaxNLocator  # noqa: N806
    with matplotlib.rc_context({"font.family": _font_families(),
                                "axes.spines.left": not rtl, "axes.spines.right": rtl}):
        if horizontal:
            fig = Figure(figsize=(6.3, 0.42 * n + 0.9))
            ax = fig.add_subplot()
            positions = list(range(len(labels)))[::-1]
            ax.barh(positions, heights, color=BAR, height=0.6)
            ax.set_yticks(positions, wrapped)
            ax.set_xlabel(axis_label)
            ax.set_xlim(0, top * 1.18)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            for pos, value, text in zip(positions, values, value_text, strict=True):
                x = 0 if value is None else value
                ax.text(x + top * 0.01, pos, text, va="center", fontsize=8,
                        ha="right" if rtl else "left",
                        color=SUPPRESSED_EDGE if value is None else "black")
            if rtl:  # mirrored: categories on the right, bars growing leftwards
                ax.invert_xaxis()
                ax.yaxis.tick_right()
        else:
            fig = Figure(figsize=(6.3, 2.8))
            ax = fig.add_subplot()
            positions = list(range(len(labels)))
            ax.bar(positions, heights, color=BAR, width=0.6)
            ax.set_xticks(positions, wrapped, rotation=0 if n <= 6 else 45,
                          ha="center" if n <= 6 else ("left" if rtl else "right"))
            ax.set_ylabel(axis_label)
            ax.set_ylim(0, top * 1.2)
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            for pos, value, text in zip(positions, values, value_text, strict=True):
                y = 0 if value is None else value
                ax.text(pos, y + top * 0.02, text, ha="center", fontsize=8,
                        color=SUPPRESSED_EDGE if value is None else "black")
            if rtl:  # mirrored: time runs right to left, the value axis on the right
                ax.invert_xaxis()
                ax.yaxis.tick_right()
                ax.yaxis.set_label_position("right")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=150, metadata={"Software": None},
                    bbox_inches="tight")
    return buffer.getvalue()


def bars(key: str, caption: str, labels: list[str], values: list[float | None],
         value_text: list[str], axis_label: str, horizontal: bool = True,
         rtl: bool | None = None) -> Chart:
    """One bar per label; ``None`` values are suppressed (empty bar, label from value_text).
    ``rtl`` defaults to the direction of the active language."""
    if rtl is None:
        rtl = translation.get_language_bidi()
    draw = _html_bars if horizontal else _html_columns
    return Chart(key=key, caption=caption,
                 html=draw(labels, values, value_text, axis_label, rtl),
                 draw_png=partial(_png, labels, values, value_text, axis_label, horizontal,
                                  rtl))
