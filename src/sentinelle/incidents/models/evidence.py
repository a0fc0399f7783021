from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def evidence_path(instance: Evidence, filename: str) -> str:
    # The stored name never comes from the user: no traversal, no collisions.
    return f"evidence/{instance.sha256[:2]}/{uuid.uuid4().hex}"


class EvidenceQuerySet(models.QuerySet):
    def for_user(self, user) -> EvidenceQuerySet:
        from sentinelle.incidents.models.reports import Incident

        return self.filter(incident__in=Incident.objects.for_user(user))


class Evidence(models.Model):
    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="evidence")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True)
    file = models.FileField(upload_to=evidence_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    content_type = models.CharField(_("content type (detected)"), max_length=100)
    description = models.CharField(_("description"), max_length=500, blank=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return self.filename
