from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
        parts = secret.split("_", 2)  # the random part may itself contain "_"
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            return None
        token = cls.objects.active().select_related("user__state").filter(prefix=parts[1]).first()
        if token is None or not hmac.compare_digest(token.digest, token_digest(secret)):
            return None
        if not token.user.is_active:
            return None
        return token

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and (
            self.expires_at is None or self.expires_at > timezone.now())
