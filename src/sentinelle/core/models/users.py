from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    FOCAL_POINT = "focal-point", _("Focal point")
    ANALYST = "analyst", _("Secretariat analyst")
    ADMIN = "admin", _("Secretariat administrator")
    COUNCIL = "council", _("Council reader")


class User(AbstractUser):
    role = models.CharField(_("role"), max_length=20, choices=Role.choices,
                            default=Role.FOCAL_POINT)
    state = models.ForeignKey("core.MemberState", verbose_name=_("Member State"),
                              on_delete=models.PROTECT, null=True, blank=True,
                              related_name="users")
    language = models.CharField(_("preferred language"), max_length=10, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    @property
    def is_focal_point(self) -> bool:
        return self.role == Role.FOCAL_POINT and self.state_id is not None

    @property
    def is_secretariat(self) -> bool:
        return self.role in (Role.ANALYST, Role.ADMIN)

    @property
    def is_council(self) -> bool:
        return self.role == Role.COUNCIL

    @property
    def needs_second_factor(self) -> bool:
        return self.role in (Role.FOCAL_POINT, Role.ANALYST, Role.ADMIN)


class SignInFailure(models.Model):
    """One failed sign-in; enough of them in a window locks the account for a while."""

    username = models.CharField(max_length=150, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.username} at {self.at:%Y-%m-%d %H:%M}"
