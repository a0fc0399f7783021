"""Server-side SVG charts: plain strings, no JavaScript, no CDN, the same bytes for the same data
(the Council report embeds them and its HTML must be reproducible)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def bar_chart(rows: Sequence[dict[str, Any]], title: str, key: str = "incidents",
              width: int = 640) -> SafeString:
    """Horizontal bars, one per row (label on the left, value on the right). A suppressed row
    (value None) has no bar and reads "<n" from its ``display`` key or "–"."""
    bar_h, gap, label_w, value_w = 18, 6, 230, 60
    height = 30 + len(rows) * (bar_h + gap)
    values = [v for v in (_value(r, key) for r in rows) if v is not None]
    top = max(values, default=0) or 1
    span = width - label_w - value_w - 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {_FONT}>',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    for i, row in enumerate(rows):
        y = 26 + i * (bar_h + gap)
        value = _value(row, key)
        label = str(row.get("label") or row.get("key"))
        parts.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">'
                     f"{escape(label[:38])}</text>")
        if value is None:
            shown = str(row.get("display", "–"))
        else:
            w = span * value / top
            parts.append(f'<rect x="{label_w}" y="{y}" width="{_num(w)}" height="{bar_h}" '
                         f'fill="{_BAR}"/>')
            shown = _num(value)
        parts.append(f'<text x="{width - value_w + 4}" y="{y + 13}">{escape(shown)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 -- every interpolated text is escaped above


def column_chart(rows: Sequence[dict[str, Any]], title: str, key: str = "incidents",
                 width: int = 640, height: int = 220) -> SafeString:
    """Vertical columns (a time series: months), keys under the columns."""
    n = max(len(rows), 1)
    left, bottom, top_pad = 40, 40, 28
    plot_h = height - bottom - top_pad
    slot = (width - left) / n
    values = [v for v in (_value(r, key) for r in rows) if v is not None]
    top = max(values, default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" {_FONT}>',
             f"<title>{escape(title)}</title>",
             f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>',
             f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
             f'stroke="#57606a"/>',
             f'<text x="{left - 4}" y="{top_pad + 10}" text-anchor="end">{_num(top)}</text>']
    for i, row in enumerate(rows):
        x = left + i * slot
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
