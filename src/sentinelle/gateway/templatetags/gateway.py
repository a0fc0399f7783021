"""{% entry_text entry "description" as t %}: a field in the reader's language, or the original
with the language it is shown in (t.text, t.language, t.fallback)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

from sentinelle.gateway.models import LANGUAGES
from sentinelle.gateway.pgp import format_fingerprint

register = template.Library()


@register.simple_tag
def entry_text(entry, field: str) -> dict[str, Any]:
    return entry.text(field, (get_language() or "en").split("-")[0])


@register.filter
def language_name(code: str) -> str:
    return str(dict(LANGUAGES).get(code, code))


@register.filter
def fingerprint(value: str) -> str:
    return format_fingerprint(value or "")


@register.filter
def lines(value: str) -> list[str]:
    return [line for line in (value or "").splitlines() if line.strip()]


@register.filter
def get_param(params, name: str) -> str:
    return params.get(name, "")


@register.filter
def verbose_name(entry) -> str:
    return str(entry._meta.verbose_name)


@register.filter
def verbose_plural(entry) -> str:
    return str(entry._meta.verbose_name_plural)


@register.filter
def shown(value) -> str:
    """A figure, or "<N" where small-count suppression hid it."""
    from sentinelle.analysis.disclosure import display

    return display(value)
