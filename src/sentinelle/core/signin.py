"""Lock-out after repeated failed sign-ins, counted per user name in the database so that every
server process agrees."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sentinelle.core import audit
from sentinelle.core.models import SignInFailure


def _stored(username: str) -> str:
    # Failures are kept under the name's first 150 characters (the column's length): count and
    # clear them under the same key. A longer name whole would also be a LIKE pattern that
    # SQLite refuses past 50,000 bytes ("pattern too complex"), a 500 at the sign-in.
    return username[:SignInFailure._meta.get_field("username").max_length]


def _window_start():
    return timezone.now() - timedelta(minutes=settings.LOCKOUT_MINUTES)


def is_locked(username: str) -> bool:
    recent = SignInFailure.objects.filter(username__iexact=_stored(username),
                                          at__gte=_window_start())
    return recent.count() >= settings.LOCKOUT_ATTEMPTS


def record_failure(username: str, address: str | None, reason: str) -> None:
    SignInFailure.objects.create(username=_stored(username), address=address or None)
    audit.record("signin.failure", _stored(username), object_type="signin",
                 after={"reason": reason, "address": address}, actor="anonymous")


def clear(username: str) -> None:
    SignInFailure.objects.filter(username__iexact=_stored(username)).delete()
