from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.incidents.models.tlp import TLP


def evidence_path(instance: Evidence, filename: str) -> str:
    # The stored name never comes from the user: no traversal, no collisions.
    return f"evidence/{instance.sha256[:2]}/{uuid.uuid4().hex}"


class EvidenceQuerySet(models.QuerySet):
    def for_user(self, user) -> EvidenceQuerySet:
        """Evidence of a report the user sees, by the TLP (and named analysts) of the version
        current when it was attached: loosening the report does not publish it. A file sent
        with a message of the thread stays in the thread: its State and the Secretariat only."""
        from django.db.models import Q

        from sentinelle.incidents import visibility
        from sentinelle.incidents.models.reports import Incident

        in_thread = visibility.visible_q(self.model, user, visibility.ERA,
                                         within=visibility.THREAD_AUDIENCES)
        return self.filter(visibility.visible_q(self.model, user, visibility.ERA),
                           Q(message__isnull=True) | in_thread,
                           incident__in=Incident.objects.for_user(user).values("pk"))


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
    # Set when the file came with a message of the thread (an answer to a request for
    # information): it is still evidence of the report, listed under the message too.
    message = models.ForeignKey("incidents.Message", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="files", verbose_name=_("message"))
    # The report's TLP and named analysts when the file was attached (see visibility.py).
    tlp = models.CharField(_("TLP when attached"), max_length=12, choices=TLP.choices,
                           default=TLP.RED)
    named_analysts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+",
        verbose_name=_("named Secretariat analysts when attached"))

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        ordering = ["uploaded_at", "id"]
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")

    def __str__(self) -> str:
        return self.filename
