"""The taxonomy is data: another instance runs its own categories without a code change."""

from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


def _label(labels: dict, fallback: str) -> str:
    lang = (get_language() or "en").split("-")[0]
    return labels.get(lang) or labels.get("en") or fallback


class Category(models.Model):
    """A reporting category, tied to the resolution clause that asks for it."""

    code = models.SlugField(_("code"), max_length=60, unique=True)
    clause = models.CharField(_("resolution clause"), max_length=200, blank=True)
    labels = models.JSONField(_("labels by language"), default=dict)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _label(self.labels, self.code)


class RsitClass(models.Model):
    code = models.SlugField(_("code"), max_length=60, unique=True)
    labels = models.JSONField(_("labels by language"), default=dict)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position"]
        verbose_name = _("RSIT class")
        verbose_name_plural = _("RSIT classes")

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return _label(self.labels, self.code)


class RsitType(models.Model):
    rsit_class = models.ForeignKey(RsitClass, on_delete=models.PROTECT, related_name="types",
                                   verbose_name=_("RSIT class"))
    code = models.SlugField(_("code"), max_length=60)
    labels = models.JSONField(_("labels by language"), default=dict)
    description = models.TextField(_("description"), blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["rsit_class__position", "position"]
        constraints = [models.UniqueConstraint(fields=["rsit_class", "code"],
                                               name="rsit_type_unique_in_class")]
        verbose_name = _("RSIT type")
        verbose_name_plural = _("RSIT types")

    def __str__(self) -> str:
        return f"{self.rsit_class.label} / {self.label}"

    @property
    def label(self) -> str:
        return _label(self.labels, self.code)

    @property
    def machine_tag(self) -> str:
        """The "class:type" form the API and MISP's rsit namespace use."""
        return f"{self.rsit_class.code}:{self.code}"
