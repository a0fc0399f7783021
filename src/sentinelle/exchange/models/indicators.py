from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.incidents import visibility
from sentinelle.incidents.models.reports import TLP


def new_indicator_id() -> str:
    return f"indicator--{uuid.uuid4()}"


class SharedIndicatorQuerySet(models.QuerySet):
    def for_user(self, user) -> SharedIndicatorQuerySet:
        """The same table as reports (incidents/visibility.py): the owner State, then by TLP and
        sharing group; shared indicators name no analysts, so AMBER+STRICT and RED ones stay
        with their State, and a revoked one leaves everyone's view but its State's."""
        return self.filter(visibility.visible_q(self.model, user, visibility.INDICATOR))


class SharedIndicator(models.Model):
    """An indicator shared on its own (STIX indicator, MISP attribute, TAXII object)."""

    stix_id = models.CharField(_("STIX identifier"), max_length=80, unique=True,
                               default=new_indicator_id)
    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT,
                              related_name="shared_indicators", verbose_name=_("owner State"),
                              null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+", null=True, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True,
                              help_text=_("Where it came from: a file, a TAXII collection."))
    type = models.CharField(_("type"), max_length=10)
    value = models.CharField(_("value"), max_length=2048)
    pattern = models.TextField(_("STIX pattern"), blank=True)
    name = models.CharField(_("name"), max_length=300, blank=True)
    description = models.TextField(_("description"), blank=True)
    labels = models.JSONField(_("labels"), default=list, blank=True)
    tlp = models.CharField(_("TLP"), max_length=12, choices=TLP.choices, default=TLP.AMBER)
    sharing_group = models.ForeignKey("core.SharingGroup", on_delete=models.PROTECT,
                                      null=True, blank=True, related_name="indicators")
    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="shared_indicators")
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("valid until"), null=True, blank=True)
    created = models.DateTimeField(_("created"))
    modified = models.DateTimeField(_("modified"), db_index=True)
    added_at = models.DateTimeField(_("added here"), auto_now_add=True, db_index=True)
    revoked = models.BooleanField(_("revoked"), default=False)

    objects = SharedIndicatorQuerySet.as_manager()

    class Meta:
        ordering = ["added_at", "id"]
        # (added_at, id): the keyset TAXII pages on (taxii/paging.py).
        indexes = [models.Index(fields=["type", "value"]),
                   models.Index(fields=["added_at", "id"], name="exchange_si_added_keyset")]
        verbose_name = _("shared indicator")
        verbose_name_plural = _("shared indicators")

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"
