"""Linked incidents: reports of several States about one incident, linked by the Secretariat so
that statistics and the Council report count the incident once (``analysis/linking.py``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class IncidentCluster(models.Model):
    """One incident reported several times (one botnet, one cable cut, one hijack)."""

    label = models.CharField(_("name"), max_length=200)
    note = models.CharField(_("note"), max_length=500, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", verbose_name=_("created by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("linked incident")
        verbose_name_plural = _("linked incidents")

    def __str__(self) -> str:
        return self.label


class LinkedReport(models.Model):
    """A report's membership of a linked incident: at most one per report."""

    incident = models.OneToOneField("incidents.Incident", on_delete=models.CASCADE,
                                    related_name="incident_link", verbose_name=_("report"))
    cluster = models.ForeignKey(IncidentCluster, on_delete=models.CASCADE,
                                related_name="members", verbose_name=_("linked incident"))
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("added by"))
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        ordering = ["cluster", "incident"]
        verbose_name = _("linked report")
        verbose_name_plural = _("linked reports")

    def __str__(self) -> str:
        return f"{self.incident_id} → {self.cluster_id}"
