from django import template

from sentinelle.core import formatting

register = template.Library()


@register.filter
def num(value, digits=0):
    """{{ value|num }} or {{ value|num:1 }}: a number formatted for the active language."""
    return formatting.number(value, int(digits))


@register.filter
def pct(value, digits=1):
    """{{ share|pct }}: a fraction (0..1) as a percentage for the active language."""
    return formatting.percent(value, int(digits))


@register.filter
def longdate(value):
    return "" if value is None else formatting.date(value)
