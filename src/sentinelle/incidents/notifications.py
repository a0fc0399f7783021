"""E-mails to the people a change concerns, each in their own language."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.urls import reverse

from sentinelle.core.models import Role, User
from sentinelle.core.notifications import send_each


def _send(users: Iterable[User], template: str, context: dict) -> None:
    send_each(users, f"incidents/email/{template}", context)


def _context(incident, **extra) -> dict:
    url = settings.BASE_URL.rstrip("/") + reverse("incident-detail", args=[incident.pk])
    return {"incident": incident, "url": url, "site_name": settings.SITE_NAME, **extra}


def _state_focal_points(incident) -> Iterable[User]:
    return User.objects.filter(state_id=incident.state_id, role=Role.FOCAL_POINT, is_active=True)


def information_requested(incident, message) -> None:
    _send(_state_focal_points(incident), "information_requested",
          _context(incident, message=message))


def acknowledged(incident) -> None:
    _send(_state_focal_points(incident), "acknowledged", _context(incident))


def information_provided(incident, message) -> None:
    from sentinelle.incidents import visibility

    requesters = User.objects.filter(
        pk__in=incident.messages.filter(kind="request").values("author_id"), is_active=True)
    # The answer quotes the message: only to those the table lets read it (the report may
    # have become RED, naming other analysts, since they asked).
    readers = [u for u in requesters if visibility.item_visible(u, message)]
    _send(readers, "information_provided", _context(incident, message=message))


def submitted(incident, receipt) -> None:
    """The State's focal points get the receipt; the analysts who may read the report are
    told it arrived (unless SENTINELLE_NOTIFY_ANALYSTS_OF_SUBMISSIONS is off)."""
    from django.db.models import Q

    from sentinelle.incidents import receipts, visibility

    context = receipts.context(receipt)
    secretariat = (Role.ANALYST, Role.ADMIN)
    wanted = Q(state_id=incident.state_id, role=Role.FOCAL_POINT)
    if settings.NOTIFY_ANALYSTS_OF_SUBMISSIONS:
        wanted |= Q(role__in=secretariat)
    # One query for both lists (they were two, and one more per analyst).
    users = list(User.objects.filter(wanted, is_active=True).order_by("pk"))
    _send([u for u in users if u.role == Role.FOCAL_POINT and u.state_id == incident.state_id],
          "submitted", context)
    if not settings.NOTIFY_ANALYSTS_OF_SUBMISSIONS:
        return
    # A RED or AMBER+STRICT report reaches only the analysts its State named: the visibility
    # table per analyst (visibility.report_visible, the twin of Incident.objects.for_user),
    # with the named analysts read once, and only if the TLP makes them matter.
    named: set[int] | None = None

    def may_read(user) -> bool:
        nonlocal named
        if visibility.allows(visibility.audiences_of(
                user, state_id=incident.state_id, group_id=incident.sharing_group_id),
                tlp=incident.tlp, status=incident.status):
            return True
        if named is None:
            named = set(incident.named_analysts.values_list("pk", flat=True))
        return user.pk in named and visibility.allows(visibility.audiences_of(
            user, state_id=incident.state_id, group_id=incident.sharing_group_id, named=True),
            tlp=incident.tlp, status=incident.status)

    readers = [u for u in users if u.role in secretariat
               and may_read(u) and visibility.version_visible(u, incident, receipt.version.content)]
    _send(readers, "new_submission", context)
