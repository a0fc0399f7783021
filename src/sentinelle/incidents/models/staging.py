"""Evidence files chosen on the report form before the report exists (issue 12, point 10).

A browser cannot put a chosen file back into a file input, so a file sent with *Preview* or with
a form that had an error would be lost. Each new report form carries a random draft key; files
sent with it wait here, with their SHA-256, until the report is saved (they become its evidence)
or the user removes them. Only focal points of the uploader's State see them.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def staged_path(instance: StagedEvidence, filename: str) -> str:
    # Never the user's name: no traversal, no collisions (as evidence_path).
    return f"staged/{uuid.uuid4().hex}"


class StagedEvidence(models.Model):
    draft = models.UUIDField(_("draft key"), db_index=True)
    state = models.ForeignKey("core.MemberState", on_delete=models.CASCADE, related_name="+",
                              verbose_name=_("Member State"))
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                    related_name="+", verbose_name=_("uploaded by"))
    uploaded_at = models.DateTimeField(_("uploaded"), auto_now_add=True, db_index=True)
    file = models.FileField(upload_to=staged_path, max_length=200)
    filename = models.CharField(_("file name"), max_length=255)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("evidence file kept with a draft")
        verbose_name_plural = _("evidence files kept with drafts")

    def __str__(self) -> str:
        return self.filename
