"""Lock-out after repeated failed sign-ins, counted per user name in the database so that every
server process agrees."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry, SignInFailure

OBJECT_ID_LENGTH = AuditEntry._meta.get_field("object_id").max_length


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
    name = _stored(username)
    SignInFailure.objects.create(username=name, address=address or None)
    # The audit's object id holds 64 characters (PostgreSQL refused a longer one: a 500 for
    # any name over 64); a longer name is kept whole in the entry's details.
    after = {"reason": reason, "address": address}
    if len(name) > OBJECT_ID_LENGTH:
        after["username"] = name
    audit.record("signin.failure", name[:OBJECT_ID_LENGTH], object_type="signin",
                 after=after, actor="anonymous")


def clear(username: str) -> None:
    SignInFailure.objects.filter(username__iexact=_stored(username)).delete()
