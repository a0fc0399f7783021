"""Revisions (every change kept, as incident versions are) and the search index rows."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils.translation import gettext_lazy as _


class Revision(models.Model):
    """One change to one entry: who, when, what action, the entry as it was after it."""

    kind = models.CharField(max_length=20)
    entry_id = models.PositiveBigIntegerField()
    number = models.PositiveIntegerField()
    action = models.CharField(_("action"), max_length=30)
    status = models.CharField(_("status"), max_length=20)
    message = models.TextField(_("message"), blank=True)
    snapshot = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              null=True, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["kind", "entry_id", "number"]
        constraints = [models.UniqueConstraint(fields=["kind", "entry_id", "number"],
                                               name="gateway_revision_unique")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.entry_id} #{self.number} {self.action}"


class SearchEntry(models.Model):
    """One published entry in one language, as the full-text index sees it.

    Rows exist only for published entries (the services add and remove them), so a search can
    never reach a draft. PostgreSQL adds a ``vector`` tsvector column built with the language's
    text-search configuration; SQLite mirrors the rows in the ``gateway_fts`` FTS5 table (see
    migration 0002 and :mod:`sentinelle.gateway.search`)."""

    kind = models.CharField(max_length=20)
    entry_id = models.PositiveBigIntegerField()
    language = models.CharField(max_length=5)
    # PostgreSQL text-search configuration of the language (english, french, simple…).
    config = models.CharField(max_length=20)
    title = models.CharField(max_length=200)
    body = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "entry_id", "language"],
                                               name="gateway_search_unique")]

    def __str__(self) -> str:
        return f"{self.kind}/{self.entry_id} [{self.language}]"
