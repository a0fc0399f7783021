from __future__ import annotations

import functools
import hmac
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from sentinelle.core.audit import set_actor
from sentinelle.core.joined import Joined
from sentinelle.core.models import ApiToken, MemberState, User
from sentinelle.core.models.tokens import TOKEN_PREFIX, token_digest

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
        token = token_for(secret)
        if token is None:
            raise exceptions.AuthenticationFailed(_("Invalid, expired or revoked token."))
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
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


def token_for(secret: str) -> ApiToken | None:
    """``ApiToken.authenticate(secret)``: the active token, with its user and the user's State
    loaded, if the secret matches and the user is active; else None. Its query written out
    once (core/joined.py): on every API request the ORM's building and compiling of it cost
    more CPU than running it (issue 17)."""
    parts = secret.split("_", 2)  # the random part may itself contain "_"
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None
    joined, sql = _token_query()
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [parts[1], now])
        row = cursor.fetchone()
    if row is None:
        return None
    token, user, state = joined.instances(row)
    if not hmac.compare_digest(token.digest, token_digest(secret)):
        return None
    ApiToken.user.field.set_cached_value(token, user)
    User.state.field.set_cached_value(user, state)
    if not user.is_active:
        return None
    return token


@functools.cache
def _token_query() -> tuple[Joined, str]:
    """ApiToken.objects.active().select_related("user__state").filter(prefix=...).first()."""
    joined = Joined([(ApiToken, "t"), (User, "u"), (MemberState, "s")])
    quote, table = connection.ops.quote_name, joined.table
    # Names from the models, values as parameters. The prefix is unique: one row at most.
    sql = (f"SELECT {joined.select()} FROM {table(ApiToken)} t "  # noqa: S608
           f"INNER JOIN {table(User)} u ON u.{quote('id')} = t.{quote('user_id')} "
           f"LEFT JOIN {table(MemberState)} s ON s.{quote('id')} = u.{quote('state_id')} "
           f"WHERE t.{quote('prefix')} = %s AND t.{quote('revoked_at')} IS NULL "
           f"AND (t.{quote('expires_at')} IS NULL OR t.{quote('expires_at')} > %s)")
    return joined, sql
