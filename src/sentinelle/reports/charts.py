"""Charts for the Council report, drawn with matplotlib's object API (no pyplot, no global
state), deterministic: a fixed hash salt for SVG ids, no date or software metadata, text kept as
text (so the PDF's text layer and screen readers have the labels).

A suppressed value (a small count, see the report's method annex) is drawn as an empty bar
labelled "<k": a chart never shows what its table hides.
"""

from __future__ import annotations

import io
import re
import textwrap
from dataclasses import dataclass

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# Chinese and Arabic labels need glyphs DejaVu Sans lacks: fall back to Debian's Noto fonts
# (fonts-noto-cjk, fonts-noto-core; .ci/run installs them) when they are installed.
_INSTALLED = {entry.name for entry in font_manager.fontManager.ttflist}
FONTS = ["DejaVu Sans", *(name for name in ("Noto Sans CJK SC", "Noto Sans Arabic")
                          if name in _INSTALLED)]

matplotlib.rcParams.update({
    "svg.hashsalt": "sentinelle-council-report",
    "svg.fonttype": "none",
    "font.family": FONTS,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
})
BAR = "#1f5a96"
SUPPRESSED_EDGE = "#777777"


@dataclass
class Chart:
    key: str
    caption: str
    svg: str
    png: bytes


def _finish(fig: Figure, key: str, caption: str) -> Chart:
    svg_buffer, png_buffer = io.StringIO(), io.BytesIO()
    fig.savefig(svg_buffer, format="svg", metadata={"Date": None, "Creator": None},
                bbox_inches="tight")
    fig.savefig(png_buffer, format="png", dpi=150, metadata={"Software": None},
                bbox_inches="tight")
    return Chart(key=key, caption=caption, svg=_inline(svg_buffer.getvalue(), key),
                 png=png_buffer.getvalue())


def _inline(svg: str, key: str) -> str:
    """Make a standalone SVG file fit inside HTML: no XML prolog or DOCTYPE, ids unique to this
    chart, a title for assistive technology."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    prefix = f"{key}-"
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'xlink:href="#([^"]+)"', lambda m: f'xlink:href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"'
                 if not m.group(1).startswith(prefix) else m.group(0), svg)
    return svg.strip()


def bars(key: str, caption: str, labels: list[str], values: list[float | None],
         value_text: list[str], axis_label: str, horizontal: bool = True) -> Chart:
    """One bar per label; ``None`` values are suppressed (empty bar, label from value_text)."""
    n = max(len(labels), 1)
    wrapped = [textwrap.fill(label, 34) for label in labels]
    heights = [0 if v is None else v for v in values]
    top = max(heights + [1])
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
                    color=SUPPRESSED_EDGE if value is None else "black")
    else:
        fig = Figure(figsize=(6.3, 2.8))
        ax = fig.add_subplot()
        positions = list(range(len(labels)))
        ax.bar(positions, heights, color=BAR, width=0.6)
        ax.set_xticks(positions, wrapped, rotation=0 if n <= 6 else 45,
                      ha="center" if n <= 6 else "right")
        ax.set_ylabel(axis_label)
        ax.set_ylim(0, top * 1.2)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        for pos, value, text in zip(positions, values, value_text, strict=True):
            y = 0 if value is None else value
            ax.text(pos, y + top * 0.02, text, ha="center", fontsize=8,
                    color=SUPPRESSED_EDGE if value is None else "black")
    return _finish(fig, key, caption)
