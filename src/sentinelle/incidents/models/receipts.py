from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SubmissionReceipt(models.Model):
    """What a State sent when it submitted a report, frozen at that moment: its proof.

    The hashes are computed once, when the report is submitted (incidents/receipts.py says
    what is hashed); the receipt document is rendered from this row, so downloading it again
    later gives the same facts, whatever was added to the report since."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="receipts")
    version = models.ForeignKey("incidents.IncidentVersion", on_delete=models.PROTECT,
                                related_name="+", verbose_name=_("version submitted"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted"))
    content_sha256 = models.CharField(_("SHA-256 of the version"), max_length=64)
    # [{"id", "filename", "size", "sha256"}] of the report's evidence when it was submitted.
    evidence = models.JSONField(_("evidence submitted"), default=list, blank=True)

    class Meta:
        ordering = ["submitted_at", "id"]
        verbose_name = _("submission receipt")
        verbose_name_plural = _("submission receipts")

    def __str__(self) -> str:
        return f"{self.incident_id} v{self.version.number}"
