"""E-mails to the people a change concerns, each in their own language."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation

from sentinelle.core.models import Role, User


def _send(users: Iterable[User], template: str, context: dict) -> None:
    for user in users:
        if not user.email:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = render_to_string(f"incidents/email/{template}_subject.txt", context).strip()
            body = render_to_string(f"incidents/email/{template}.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=True)


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
