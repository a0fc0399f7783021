"""{% analysis_related incident %}: duplicates and correlated reports on a report's page, and
{% handling_due incident %}: where it stands against its expected handling times; for
the Secretariat only (the tag renders nothing for anyone else, whatever the template does).
{% linked_incident incident %}: the report's linked incident, as ``linking.view_for`` allows."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from sentinelle.analysis import correlation, handling, linking

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


@register.inclusion_tag("analysis/_linked_incident.html", takes_context=True)
def linked_incident(context: template.Context, incident) -> dict[str, Any]:
    """The report's linked incident as the reader may see it (``linking.view_for``): the
    Secretariat's panel with its forms, a focal point's count on its own State's report."""
    request = context.get("request")
    user = getattr(request, "user", None)
    secretariat = bool(user is not None and user.is_authenticated and user.is_secretariat)
    view = linking.view_for(user, incident)
    return {"request": request, "csrf_token": context.get("csrf_token"), "incident": incident,
            "linked": view, "secretariat": secretariat,
            "shown": secretariat or view is not None}
