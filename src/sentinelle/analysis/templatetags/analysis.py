"""{% analysis_related incident %}: duplicates and correlated reports on a report's page, for
the Secretariat only (the tag renders nothing for anyone else, whatever the template does)."""

from __future__ import annotations

from typing import Any

from django import template

from sentinelle.analysis import correlation

register = template.Library()


@register.inclusion_tag("analysis/_incident_related.html", takes_context=True)
def analysis_related(context: template.Context, incident) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_secretariat:
        return {"hidden": True, "suggestions": [], "related": []}
    return {"request": request, "csrf_token": context.get("csrf_token"),
            "suggestions": correlation.duplicate_suggestions(user, only=incident),
            "related": correlation.related_to(user, incident)}
