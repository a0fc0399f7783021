from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from sentinelle.core.audit import set_actor
from sentinelle.core.busy import is_busy
from sentinelle.core.models import ApiToken

# last_used_at is informative; writing it on every request would turn reads into writes.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("Malformed Authorization header."))
        try:
            secret = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(_("Malformed token.")) from None
        token = ApiToken.authenticate(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            try:
                # A savepoint inside a caller's transaction: what fails here is undone alone.
                with transaction.atomic():
                    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
            except OperationalError as exc:
                # Informative only: a read is not refused because the database is busy
                # writing something else (SQLite's lock, core/busy.py).
                if not is_busy(exc):
                    raise
        set_actor(token.user)
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The browser session, but only once the second factor is verified where it is required:
    otherwise a password alone would open the API that the web pages guard."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        if (settings.REQUIRE_2FA and user.needs_second_factor
                and not getattr(request._request.user, "is_verified", lambda: False)()):
            return None
        set_actor(user)
        return result
