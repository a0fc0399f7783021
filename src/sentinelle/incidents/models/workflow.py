from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.incidents.models.tlp import TLP


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Submitted")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    UNDER_ANALYSIS = "under-analysis", _("Under analysis")
    INFO_REQUESTED = "info-requested", _("Information requested")
    CLOSED = "closed", _("Closed")
    DUPLICATE = "duplicate", _("Duplicate")
    WITHDRAWN = "withdrawn", _("Withdrawn")


# Reports that are not counted anywhere a figure is shown (statistics, dashboard): unfinished,
# taken back, or already counted through their primary. One tuple so no page counts otherwise.
NOT_COUNTED = (Status.DRAFT, Status.WITHDRAWN, Status.DUPLICATE)


class Transition(models.Model):
    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="transitions")
    from_status = models.CharField(_("from"), max_length=20, choices=Status.choices)
    to_status = models.CharField(_("to"), max_length=20, choices=Status.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+", verbose_name=_("by"))
    at = models.DateTimeField(_("when"), auto_now_add=True)
    note = models.TextField(_("note"), blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class MessageQuerySet(models.QuerySet):
    def for_user(self, user) -> MessageQuerySet:
        """Messages are between the Secretariat and the reporting State, whatever the TLP, and
        each is shown by the TLP (and named analysts) of the version current when it was
        written: what was said while the report was RED stays with those who could read it."""
        from sentinelle.incidents import visibility
        from sentinelle.incidents.models.reports import Incident

        return self.filter(
            visibility.visible_q(self.model, user, visibility.ERA, visibility.THREAD_AUDIENCES),
            incident__in=Incident.objects.for_user(user).values("pk"))


class Message(models.Model):
    class Kind(models.TextChoices):
        REQUEST = "request", _("Request for information")
        ANSWER = "answer", _("Answer")
        NOTE = "note", _("Message")

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("author"))
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.NOTE)
    body = models.TextField(_("message"))
    created_at = models.DateTimeField(_("sent"), auto_now_add=True)
    # The report's TLP and named analysts when the message was written (see visibility.py).
    tlp = models.CharField(_("TLP when written"), max_length=12, choices=TLP.choices,
                           default=TLP.RED)
    named_analysts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="+",
        verbose_name=_("named Secretariat analysts when written"))

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
