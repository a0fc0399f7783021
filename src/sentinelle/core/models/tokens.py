from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import connection, models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from sentinelle.core.joined import Joined

TOKEN_PREFIX = "snl"


def token_digest(secret: str) -> str:
    """HMAC of the token under a key derived from SECRET_KEY: a stolen table is useless alone."""
    key = hashlib.sha256(("sentinelle-api-token:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> ApiTokenQuerySet:
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now))


class ApiToken(models.Model):
    """An API token. Only the public prefix and an HMAC of the whole token are stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    read_only = models.BooleanField(_("read-only"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{TOKEN_PREFIX}_{self.prefix}_…"

    @classmethod
    def issue(cls, user, *, name: str = "", read_only: bool = False,
              expires_days: int | None = None) -> tuple[ApiToken, str]:
        """Create a token and return it with its clear text, which is never stored."""
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
        expires_at = timezone.now() + timedelta(days=expires_days) if expires_days else None
        token = cls.objects.create(user=user, name=name, prefix=prefix,
                                   digest=token_digest(secret), read_only=read_only,
                                   expires_at=expires_at)
        return token, secret

    @classmethod
    def authenticate(cls, secret: str) -> ApiToken | None:
        """The active token of ``secret``, with its user and the user's State loaded, if the
        secret matches and the user is active; else None. Every API request asks, so its
        query is written out once (core/joined.py): the ORM's building and compiling of it
        cost more CPU than running it (issue 17)."""
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
        cls.user.field.set_cached_value(token, user)
        type(user).state.field.set_cached_value(user, state)
        if not user.is_active:
            return None
        return token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now())


@functools.cache
def _token_query() -> tuple[Joined, str]:
    """ApiToken.objects.active().select_related("user__state").filter(prefix=...).first()."""
    user_model = ApiToken.user.field.related_model
    state_model = user_model.state.field.related_model
    joined = Joined([(ApiToken, "t"), (user_model, "u"), (state_model, "s")])
    quote, table = connection.ops.quote_name, joined.table
    # Names from the models, values as parameters. The prefix is unique: one row at most.
    sql = (f"SELECT {joined.select()} FROM {table(ApiToken)} t "  # noqa: S608
           f"INNER JOIN {table(user_model)} u ON u.{quote('id')} = t.{quote('user_id')} "
           f"LEFT JOIN {table(state_model)} s ON s.{quote('id')} = u.{quote('state_id')} "
           f"WHERE t.{quote('prefix')} = %s AND t.{quote('revoked_at')} IS NULL "
           f"AND (t.{quote('expires_at')} IS NULL OR t.{quote('expires_at')} > %s)")
    return joined, sql
