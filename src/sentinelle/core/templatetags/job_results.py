from django import template

from sentinelle.core import job_results

register = template.Library()


@register.filter
def result_rows(result: dict) -> list[tuple[str, str, int]]:
    return list(job_results.rows(result or {}))
