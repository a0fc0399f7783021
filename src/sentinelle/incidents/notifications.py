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
    from sentinelle.incidents import receipts, visibility
    from sentinelle.incidents.models import Incident

    context = receipts.context(receipt)
    _send(_state_focal_points(incident).order_by("pk"), "submitted", context)
    if not settings.NOTIFY_ANALYSTS_OF_SUBMISSIONS:
        return
    analysts = User.objects.filter(role__in=(Role.ANALYST, Role.ADMIN), is_active=True) \
        .order_by("pk")
    # A RED or AMBER+STRICT report reaches only the analysts its State named.
    readers = [u for u in analysts
               if Incident.objects.for_user(u).filter(pk=incident.pk).exists()
               and visibility.version_visible(u, incident, receipt.version.content)]
    _send(readers, "new_submission", context)
