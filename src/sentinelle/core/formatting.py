"""Numbers, percentages and dates formatted per locale with Babel (CLDR data), the same way in
every output format."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date as _babel_date
from babel.numbers import format_decimal, format_percent
from django.utils.translation import get_language


def locale(lang: str | None = None) -> str:
    return (lang or get_language() or "en").split("-")[0]


def number(value, digits: int = 0, lang: str | None = None) -> str:
    """A count or a measure: grouping per locale, at most ``digits`` decimals."""
    if value is None:
        return "–"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale(lang))


def percent(share, digits: int = 1, lang: str | None = None) -> str:
    """``share`` is a fraction (0.25 → 25 %)."""
    if share is None:
        return "–"
    pattern = "#,##0" + ("." + "#" * digits if digits else "") + "%"
    return format_percent(share, format=pattern, locale=locale(lang))


def signed_percent(pct, lang: str | None = None) -> str:
    """``pct`` is already in percent (12.5 → +12,5 %)."""
    if pct is None:
        return "–"
    text = percent(abs(pct) / 100.0, 1, lang)
    return ("+" if pct > 0 else "−" if pct < 0 else "") + text


def date(value: dt.date, lang: str | None = None, form: str = "long") -> str:
    return _babel_date(value, format=form, locale=locale(lang))
