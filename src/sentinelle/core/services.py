"""The core's writes: API tokens and second-factor enrolment, each saved with its audit entry in
one transaction, whoever asks (the web pages or the `token` command)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from sentinelle.core import audit
from sentinelle.core.models import ApiToken


@transaction.atomic
def issue_token(user, *, name: str = "", read_only: bool = False,
                expires_days: int | None = None) -> tuple[ApiToken, str]:
    """A new token of ``user`` and its clear text (shown once, never stored), audited."""
    token, secret = ApiToken.issue(user, name=name, read_only=read_only,
                                   expires_days=expires_days)
    audit.record("token.create", token, after={
        "user": user.get_username(), "name": token.name, "read_only": token.read_only,
        "expires_at": token.expires_at})
    return token, secret


@transaction.atomic
def revoke_token(token: ApiToken) -> bool:
    """Revoke ``token``; False (and nothing written) when it already was."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is not None:
        return False
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])
    audit.record("token.revoke", token, before={"revoked_at": None},
                 after={"revoked_at": token.revoked_at})
    return True


@transaction.atomic
def confirm_enrolment(user, device) -> None:
    """The authenticator ``device`` of ``user`` is confirmed by a first valid code."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record("otp.enrol", user, after={"device": device.pk})
