from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

ITU_D_REGIONS = [
    ("Africa", _("Africa")),
    ("Americas", _("Americas")),
    ("Arab States", _("Arab States")),
    ("Asia-Pacific", _("Asia-Pacific")),
    ("CIS", _("CIS")),
    ("Europe", _("Europe")),
]
ADMIN_REGIONS = [
    ("A", _("A – Americas")),
    ("B", _("B – Western Europe")),
    ("C", _("C – Eastern Europe and Northern Asia")),
    ("D", _("D – Africa")),
    ("E", _("E – Asia and Australasia")),
]


class MemberState(models.Model):
    """An ITU Member State. Regions are editable: the shipped region column is compiled."""

    alpha2 = models.CharField(_("ISO alpha-2"), max_length=2, unique=True)
    alpha3 = models.CharField(_("ISO alpha-3"), max_length=3, unique=True)
    itu_code = models.CharField(_("ITU code"), max_length=3, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=120)
    name_fr = models.CharField(_("name (French)"), max_length=120, blank=True)
    name_es = models.CharField(_("name (Spanish)"), max_length=120, blank=True)
    name_ar = models.CharField(_("name (Arabic)"), max_length=120, blank=True)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    name_ru = models.CharField(_("name (Russian)"), max_length=120, blank=True)
    itu_d_region = models.CharField(_("ITU-D region"), max_length=20, choices=ITU_D_REGIONS,
                                    blank=True)
    admin_region = models.CharField(_("administrative region"), max_length=1,
                                    choices=ADMIN_REGIONS, blank=True)
    is_member = models.BooleanField(_("Member State"), default=True)

    class Meta:
        ordering = ["name_en"]
        verbose_name = _("Member State")
        verbose_name_plural = _("Member States")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language, English when that name is missing."""
        lang = (get_language() or "en").split("-")[0]
        return getattr(self, f"name_{lang}", "") or self.name_en
