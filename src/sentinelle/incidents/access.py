"""Access helpers every view uses: the object or a 404, never a hint that it exists."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import get_object_or_404

from sentinelle.incidents import workflow
from sentinelle.incidents.models import Incident


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
