"""Permission helpers every view uses: the object or a 404, never a hint that it exists.
("Access" is the observatory's word for Internet access, observatory/access/.)

What a user may see is decided by incidents/visibility.py; these only apply it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from sentinelle.incidents import visibility, workflow
from sentinelle.incidents.models import Evidence, Incident, IncidentVersion, Message, Transition


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


def versions_for_user(user, incident: Incident) -> list[IncidentVersion]:
    versions = incident.versions.select_related("author").order_by("number")
    return [v for v in versions if visibility.version_visible(user, incident, v.content)]


def evidence_for_user(user, incident: Incident) -> QuerySet[Evidence]:
    """The report's evidence the user may see, each by the TLP it was attached under."""
    return Evidence.objects.for_user(user).filter(incident=incident).select_related(
        "uploaded_by")


def message_files_for_user(user, incident: Incident) -> dict[int, list[Evidence]]:
    """The files sent with the report's messages that the user may see, by message id: they
    are evidence, each shown by the TLP it was sent under."""
    files: dict[int, list[Evidence]] = {}
    for item in evidence_for_user(user, incident).filter(message__isnull=False):
        files.setdefault(item.message_id, []).append(item)
    return files


def thread_for_user(user, incident: Incident) -> QuerySet[Message]:
    """The report's messages the user may read, each by the TLP it was written under."""
    return Message.objects.for_user(user).filter(incident=incident).select_related("author")


def transitions_for_user(user, incident: Incident) -> list[Transition]:
    """The status history. A note (an information request's text) belongs to the thread: it is
    shown to the thread's parties, and only by the TLP of the version current when it was
    written, like the messages; otherwise it is blanked (in memory, never saved)."""
    transitions = list(incident.transitions.select_related("actor"))
    party = workflow.party(user, incident) is not None
    versions = list(incident.versions.order_by("number").only("number", "created_at", "content"))
    for transition in transitions:
        if not transition.note:
            continue
        current = next((v for v in reversed(versions) if v.created_at <= transition.at),
                       versions[0] if versions else None)
        if not party or current is None or not visibility.version_visible(
                user, incident, current.content):
            transition.note = ""
    return transitions
