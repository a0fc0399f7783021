"""{% analysis_related incident %}: duplicates and correlated reports on a report's page, and
{% handling_due incident %}: where it stands against its expected handling times; for
the Secretariat only (the tag renders nothing for anyone else, whatever the template does)."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from sentinelle.analysis import correlation, handling

register = template.Library()


@register.inclusion_tag("analysis/_incident_related.html", takes_context=True)
def analysis_related(context: template.Context, incident) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_secretariat:
        return {"hidden": True, "suggestions": [], "related": []}
    related = correlation.related_to(user, incident)
    return {"request": request, "csrf_token": context.get("csrf_token"), "incident": incident,
            "suggestions": correlation.duplicate_suggestions(user, only=incident),
            "related": related[:correlation.TOP], "related_total": len(related)}


@register.simple_tag(takes_context=True)
def handling_due(context: template.Context, incident) -> handling.Due | None:
    """Where an open report stands against its expected handling times, for the Secretariat."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_secretariat:
        return None
    return handling.due_for(incident, timezone.now())
