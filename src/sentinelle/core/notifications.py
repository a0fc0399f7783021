"""E-mails to the people a change concerns, each in their own language."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.utils import translation

from sentinelle.core.models import Role, User


def send_each(users: Iterable[User], template: str, context: dict) -> None:
    """One e-mail per user, rendered from ``template``.txt and ``template``_subject.txt in the
    user's language."""
    for user in users:
        if not user.email:
            continue
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = render_to_string(f"{template}_subject.txt", context).strip()
            body = render_to_string(f"{template}.txt", context)
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=True)


def focal_point_account_changed(account: User, actor: str, what: str) -> None:
    """Tell a State's focal points that an account acting for their State was given its role or
    State, or had its password set, by someone else.

    A focal point reads every report of its State, whatever the TLP, so the Secretariat cannot
    quietly make one: the State hears of each, and can object. ``what`` is "added" or
    "password".
    """
    if account.role != Role.FOCAL_POINT or account.state_id is None:
        return
    recipients = User.objects.filter(role=Role.FOCAL_POINT, state_id=account.state_id,
                                     is_active=True)
    send_each(recipients, f"core/email/focal_point_{what}",
              {"account": account, "actor": actor, "state": account.state,
               "site_name": settings.SITE_NAME})
