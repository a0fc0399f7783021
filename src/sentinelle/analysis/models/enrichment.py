from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class IpEnrichment(models.Model):
    """What the configured MMDB databases said about one IP address, and which edition said it
    (an address changes hands: a finding cites the build date of its data)."""

    ip = models.GenericIPAddressField(_("IP address"), unique=True)
    asn = models.PositiveBigIntegerField(_("AS number"), null=True, blank=True, db_index=True)
    as_organisation = models.CharField(_("AS organisation"), max_length=300, blank=True)
    country = models.CharField(_("country"), max_length=2, blank=True)
    network = models.CharField(_("network"), max_length=50, blank=True, db_index=True)
    asn_db_built = models.DateTimeField(_("ASN database built"), null=True, blank=True)
    country_db_built = models.DateTimeField(_("country database built"), null=True, blank=True)
    enriched_at = models.DateTimeField(_("enriched"), auto_now=True)

    class Meta:
        ordering = ["ip"]
        verbose_name = _("IP enrichment")
        verbose_name_plural = _("IP enrichments")

    def __str__(self) -> str:
        return f"{self.ip} AS{self.asn or '?'} {self.country or '??'}"
