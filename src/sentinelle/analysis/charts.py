"""Server-side SVG charts: plain strings, no JavaScript, no CDN, the same bytes for the same data
(the Council report embeds them and its HTML must be reproducible).

In a right-to-left language the chart is mirrored (labels on the right, bars growing leftwards,
months running right to left) and its ``direction`` is set, so the browser orders and shapes the
labels and reads ``text-anchor`` start/end from the right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils import translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["bar_chart", "column_chart"]

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
_BAR = "#0b5cad"


def _num(value: float) -> str:
    # Fixed precision: the same figure always prints the same way.
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _value(row: dict[str, Any], key: str) -> float | None:
    value = row.get(key)
    return None if value is None else float(value)


def _label(label: str, limit: int = 38) -> str:
    """A bar's label as it fits beside the bar: a longer one is cut at a word and ends in "…"
    (a cut mid-word read as a typo), the whole label on hover; escaped."""
    if len(label) <= limit:
        return escape(label)
    short = label[:limit - 1].rsplit(" ", 1)[0] if " " in label[:limit - 1] else label[:limit - 1]
    return f"<title>{escape(label)}</title>{escape(short.rstrip(' ,;:'))}…"


def _rtl(rtl: bool | None) -> bool:
    return translation.get_language_bidi() if rtl is None else rtl


def _open(width: int, height: int, title: str, rtl: bool) -> list[str]:
    # With direction="rtl", text-anchor "start" is a text's right edge and "end" its left edge.
    return [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" direction="{"rtl" if rtl else "ltr"}" {_FONT}>',
            f"<title>{escape(title)}</title>",
            f'<text x="{width if rtl else 0}" y="14" font-weight="bold">{escape(title)}</text>']


def bar_chart(rows: Sequence[dict[str, Any]], title: str, key: str = "incidents",
              width: int = 640, rtl: bool | None = None) -> SafeString:
    """Horizontal bars, one per row (label at the start of the line, value at its end). A
    suppressed row (value None) has no bar and reads "<n" from its ``display`` key or "–".
    ``rtl`` defaults to the direction of the active language."""
    rtl = _rtl(rtl)
    bar_h, gap, label_w, value_w = 18, 6, 230, 60
    height = 30 + len(rows) * (bar_h + gap)
    values = [v for v in (_value(r, key) for r in rows) if v is not None]
    top = max(values, default=0) or 1
    span = width - label_w - value_w - 10
    base = width - label_w if rtl else label_w  # where the bars start
    parts = _open(width, height, title, rtl)
    for i, row in enumerate(rows):
        y = 26 + i * (bar_h + gap)
        value = _value(row, key)
        label = str(row.get("label") or row.get("key"))
        parts.append(f'<text x="{base + 6 if rtl else base - 6}" y="{y + 13}" text-anchor="end">'
                     f"{_label(label)}</text>")
        if value is None:
            shown = str(row.get("display", "–"))
        else:
            w = span * value / top
            parts.append(f'<rect x="{_num(base - w if rtl else base)}" y="{y}" '
                         f'width="{_num(w)}" height="{bar_h}" fill="{_BAR}"/>')
            shown = _num(value)
        x = value_w - 4 if rtl else width - value_w + 4
        parts.append(f'<text x="{x}" y="{y + 13}">{escape(shown)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every interpolated text is escaped above


def column_chart(rows: Sequence[dict[str, Any]], title: str, key: str = "incidents",
                 width: int = 640, height: int = 220, rtl: bool | None = None) -> SafeString:
    """Vertical columns (a time series: months), keys under the columns. ``rtl`` defaults to
    the direction of the active language."""
    rtl = _rtl(rtl)
    n = max(len(rows), 1)
    left, bottom, top_pad = 40, 40, 28  # left: the value axis's margin, on the right in RTL
    plot_h = height - bottom - top_pad
    slot = (width - left) / n
    values = [v for v in (_value(r, key) for r in rows) if v is not None]
    top = max(values, default=0) or 1
    x1, x2 = (0, width - left) if rtl else (left, width)
    parts = [*_open(width, height, title, rtl),
             f'<line x1="{x1}" y1="{height - bottom}" x2="{x2}" y2="{height - bottom}" '
             f'stroke="#57606a"/>',
             f'<text x="{width - left + 4 if rtl else left - 4}" y="{top_pad + 10}" '
             f'text-anchor="end">{_num(top)}</text>']
    for i, row in enumerate(rows):
        x = width - left - (i + 1) * slot if rtl else left + i * slot
        value = _value(row, key)
        if value is not None and value > 0:
            h = plot_h * value / top
            parts.append(f'<rect x="{_num(x + slot * .15)}" y="{_num(height - bottom - h)}" '
                         f'width="{_num(slot * .7)}" height="{_num(h)}" fill="{_BAR}">'
                         f"<title>{escape(str(row.get('key')))}: {_num(value)}</title></rect>")
        label = str(row.get("key"))[-2:] if len(rows) > 6 else str(row.get("key"))
        parts.append(f'<text x="{_num(x + slot / 2)}" y="{height - bottom + 16}" '
                     f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every interpolated text is escaped above
