"""Who may move a report from one status to another."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from sentinelle.core.errors import Conflict, Refused
from sentinelle.incidents.models import Status

STATE, SECRETARIAT = "state", "secretariat"
_OPEN = (Status.SUBMITTED, Status.ACKNOWLEDGED, Status.UNDER_ANALYSIS, Status.INFO_REQUESTED)

ALLOWED: dict[tuple[str, str], str] = {
    (Status.DRAFT, Status.SUBMITTED): STATE,
    (Status.DRAFT, Status.WITHDRAWN): STATE,
    (Status.SUBMITTED, Status.ACKNOWLEDGED): SECRETARIAT,
    (Status.ACKNOWLEDGED, Status.UNDER_ANALYSIS): SECRETARIAT,
    (Status.SUBMITTED, Status.INFO_REQUESTED): SECRETARIAT,
    (Status.ACKNOWLEDGED, Status.INFO_REQUESTED): SECRETARIAT,
    (Status.UNDER_ANALYSIS, Status.INFO_REQUESTED): SECRETARIAT,
    (Status.INFO_REQUESTED, Status.UNDER_ANALYSIS): SECRETARIAT,
    (Status.ACKNOWLEDGED, Status.CLOSED): SECRETARIAT,
    (Status.UNDER_ANALYSIS, Status.CLOSED): SECRETARIAT,
    (Status.INFO_REQUESTED, Status.CLOSED): SECRETARIAT,
    (Status.CLOSED, Status.UNDER_ANALYSIS): SECRETARIAT,
    **{(s, Status.DUPLICATE): SECRETARIAT for s in _OPEN},
    **{(s, Status.WITHDRAWN): STATE for s in _OPEN},
}

# A report's content can be amended by its State until the case is finished.
AMENDABLE = (Status.DRAFT, *_OPEN)


class WorkflowError(ValidationError):
    pass


class NotNow(WorkflowError, Conflict):
    """A move or an amendment the report's present status does not allow: 409 in the API."""


def party(user, incident) -> str | None:
    if user.is_authenticated and user.is_secretariat:
        return SECRETARIAT
    if user.is_authenticated and user.is_focal_point and user.state_id == incident.state_id:
        return STATE
    return None


def allowed_targets(user, incident) -> list[str]:
    who = party(user, incident)
    return [to for (frm, to), by in ALLOWED.items() if frm == incident.status and by == who]


def check(user, incident, to_status: str) -> None:
    if to_status not in Status.values:
        raise WorkflowError(_("Unknown status “%(status)s”.") % {"status": to_status})
    needed = ALLOWED.get((incident.status, to_status))
    if needed is None:
        raise NotNow(_("A report cannot go from “%(from)s” to “%(to)s”.") % {
            "from": Status(incident.status).label, "to": Status(to_status).label})
    if party(user, incident) != needed:
        # The move is the other party's (the Secretariat's or the State's): a role, 403.
        raise Refused(_("You may not make this change."))
