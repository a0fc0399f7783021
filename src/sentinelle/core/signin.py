"""Lock-out after repeated failed sign-ins, counted per user name in the database so that every
server process agrees."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from sentinelle.core import audit
from sentinelle.core.models import SignInFailure


def _window_start():
    return timezone.now() - timedelta(minutes=settings.LOCKOUT_MINUTES)


def is_locked(username: str) -> bool:
    recent = SignInFailure.objects.filter(username__iexact=username, at__gte=_window_start())
    return recent.count() >= settings.LOCKOUT_ATTEMPTS


def record_failure(username: str, address: str | None, reason: str) -> None:
    SignInFailure.objects.create(username=username[:150], address=address or None)
    audit.record("signin.failure", username[:150], object_type="signin",
                 after={"reason": reason, "address": address}, actor="anonymous")


def clear(username: str) -> None:
    SignInFailure.objects.filter(username__iexact=username).delete()
