from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class SharingGroup(models.Model):
    """A named set of States a report or indicator can be shared with (MISP distribution 4)."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    states = models.ManyToManyField("core.MemberState", related_name="sharing_groups",
                                    verbose_name=_("Member States"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("sharing group")
        verbose_name_plural = _("sharing groups")

    def __str__(self) -> str:
        return self.name
