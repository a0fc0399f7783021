"""Access helpers every view uses: the object or a 404, never a hint that it exists."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from sentinelle.incidents import workflow
from sentinelle.incidents.models import TLP, Incident, IncidentVersion
from sentinelle.incidents.models.reports import (
    TLP_FOR_ALL_FOCAL_POINTS,
    TLP_FOR_NAMED_ANALYSTS,
    TLP_FOR_SECRETARIAT,
)


def get_incident_for_user(user, pk: int) -> Incident:
    return get_object_or_404(
        Incident.objects.for_user(user).select_related(
            "state", "category", "rsit_type__rsit_class", "alleged_origin_state", "reporter"),
        pk=pk)


def get_incident_for_party(user, pk: int) -> Incident:
    """A report the user takes part in: its own State or the Secretariat."""
    incident = get_incident_for_user(user, pk)
    if workflow.party(user, incident) is None:
        raise Http404
    return incident


def version_visible_to(user, incident: Incident, content: dict) -> bool:
    """Whether a past version may be shown: by the TLP that version carried, so that loosening a
    report's TLP does not publish what it said while it was restricted."""
    if user.is_authenticated and user.is_focal_point and user.state_id == incident.state_id:
        return True
    tlp = content.get("tlp")
    if user.is_authenticated and user.is_secretariat:
        return tlp in TLP_FOR_SECRETARIAT or (
            tlp in TLP_FOR_NAMED_ANALYSTS
            and user.get_username() in content.get("named_analysts", []))
    if user.is_authenticated and user.is_focal_point:
        return tlp in TLP_FOR_ALL_FOCAL_POINTS
    return tlp == TLP.CLEAR


def versions_for_user(user, incident: Incident) -> list[IncidentVersion]:
    versions = incident.versions.select_related("author").order_by("number")
    return [v for v in versions if version_visible_to(user, incident, v.content)]
