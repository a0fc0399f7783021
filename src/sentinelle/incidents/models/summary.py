from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef
from django.utils.translation import gettext_lazy as _


class SummaryReturnQuerySet(models.QuerySet):
    def for_user(self, user) -> SummaryReturnQuerySet:
        """A State's returns are its own and the Secretariat's; others see aggregates only."""
        if user is None or not user.is_authenticated:
            return self.none()
        if user.is_secretariat:
            return self
        if user.is_focal_point:
            return self.filter(state_id=user.state_id)
        return self.none()

    def latest_versions(self) -> SummaryReturnQuerySet:
        newer = SummaryReturn.objects.filter(state_id=OuterRef("state_id"), year=OuterRef("year"),
                                             version__gt=OuterRef("version"))
        return self.filter(~Exists(newer))


class SummaryReturn(models.Model):
    """A State's annual aggregate return. A correction is a new version of the same year."""

    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT,
                              related_name="summary_returns", verbose_name=_("Member State"))
    year = models.PositiveSmallIntegerField(_("year"))
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    notes = models.TextField(_("notes"), blank=True)

    objects = SummaryReturnQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "state__name_en", "-version"]
        constraints = [models.UniqueConstraint(fields=["state", "year", "version"],
                                               name="summary_return_version_unique")]
        verbose_name = _("annual summary return")
        verbose_name_plural = _("annual summary returns")

    def __str__(self) -> str:
        return f"{self.state.alpha2} {self.year} v{self.version}"

    @property
    def total_incidents(self) -> int:
        return sum(line.incidents for line in self.lines.all())

    @property
    def total_user_hours(self) -> float:
        return sum(line.user_hours for line in self.lines.all())


class SummaryLine(models.Model):
    summary = models.ForeignKey(SummaryReturn, on_delete=models.CASCADE, related_name="lines")
    category = models.ForeignKey("incidents.Category", on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("category"))
    rsit_class = models.ForeignKey("incidents.RsitClass", on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("RSIT class"))
    incidents = models.PositiveIntegerField(_("incidents"))
    user_hours = models.FloatField(_("user-hours"), default=0)

    class Meta:
        ordering = ["category__position", "rsit_class__position"]
        constraints = [models.UniqueConstraint(fields=["summary", "category", "rsit_class"],
                                               name="summary_line_unique")]
        verbose_name = _("summary line")
        verbose_name_plural = _("summary lines")

    def __str__(self) -> str:
        return f"{self.category.code} × {self.rsit_class.code}: {self.incidents}"
