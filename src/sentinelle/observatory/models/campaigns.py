"""Access-probe campaigns (issue 15 point 2): the rounds a State's probe measured on a schedule,
the verdict of each service in each round, and the changes of verdict that were alerted.

A campaign round's bundle is submitted like any other (one BundleSubmission, one draft report);
its signed manifest names the campaign and the round, which links the submission here. These
rows are the State's own operational data, as the live routing monitor's alerts are: its focal
points and the Secretariat see them, nobody else (``StateScopedQuerySet.for_user``); a round's
report and bundle stay visible only by the report's own rules.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.observatory.models.submissions import (
    BundleSubmission,
    StateScopedQuerySet,
    Verdict,
)

__all__ = ["Campaign", "CampaignChange", "CampaignRound", "CampaignVerdict"]


class Campaign(models.Model):
    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("Member State"))
    name = models.CharField(_("name"), max_length=64)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    last_round_at = models.DateTimeField(_("last round scheduled"), null=True, blank=True)
    interval = models.PositiveIntegerField(_("interval (s)"), default=0)
    config_sha256 = models.CharField(_("configuration SHA-256"), max_length=64, blank=True)

    objects = StateScopedQuerySet.as_manager()

    class Meta:
        ordering = ["state__alpha2", "name"]
        constraints = [models.UniqueConstraint(fields=["state", "name"],
                                               name="campaign_once_per_state")]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")

    def __str__(self) -> str:
        return self.name


class CampaignScopedQuerySet(models.QuerySet):
    def for_user(self, user) -> CampaignScopedQuerySet:
        """The rows of the campaigns ``user`` may see (``Campaign.objects.for_user``)."""
        return self.filter(campaign__in=Campaign.objects.for_user(user).values("pk"))


class CampaignRound(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="rounds",
                                 verbose_name=_("campaign"))
    number = models.PositiveIntegerField(_("round"))
    scheduled_at = models.DateTimeField(_("scheduled"))
    submission = models.OneToOneField(BundleSubmission, on_delete=models.PROTECT,
                                      related_name="campaign_round",
                                      verbose_name=_("bundle submission"))
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    config_sha256 = models.CharField(_("configuration SHA-256"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    objects = CampaignScopedQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"],
                                               name="campaign_round_once")]
        verbose_name = _("campaign round")
        verbose_name_plural = _("campaign rounds")

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.number}"


class CampaignVerdict(models.Model):
    """One service's verdict in one round (its results summed up: see campaigns.py), so that a
    timeline of thousands of rounds reads one small row per cell, never the observations."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="verdicts")
    round = models.ForeignKey(CampaignRound, on_delete=models.PROTECT, related_name="verdicts")
    number = models.PositiveIntegerField(_("round"))   # the round's, for windows without a join
    service = models.CharField(_("service"), max_length=255)
    verdict = models.CharField(_("verdict"), max_length=20, choices=Verdict.choices)
    results = models.PositiveIntegerField(_("results"), default=0)

    objects = CampaignScopedQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "service", "number"]
        constraints = [models.UniqueConstraint(fields=["round", "service"],
                                               name="campaign_verdict_once")]
        indexes = [models.Index(fields=["campaign", "service", "number"]),
                   models.Index(fields=["campaign", "number"])]
        verbose_name = _("campaign verdict")
        verbose_name_plural = _("campaign verdicts")

    def __str__(self) -> str:
        return f"{self.service}#{self.number} {self.verdict}"


class CampaignChange(models.Model):
    """A service whose verdict changed and held for two consecutive rounds: alerted once."""

    campaign = models.ForeignKey(Campaign, on_delete=models.PROTECT, related_name="changes",
                                 verbose_name=_("campaign"))
    service = models.CharField(_("service"), max_length=255)
    from_verdict = models.CharField(_("from"), max_length=20, choices=Verdict.choices)
    to_verdict = models.CharField(_("to"), max_length=20, choices=Verdict.choices)
    number = models.PositiveIntegerField(_("round"))   # the first round of the new verdict
    detected_at = models.DateTimeField(_("detected"), auto_now_add=True)
    detected_in = models.PositiveIntegerField(_("detected in round"))
    notified = models.JSONField(_("notified"), default=list, blank=True)

    objects = CampaignScopedQuerySet.as_manager()

    class Meta:
        ordering = ["campaign", "number", "service"]
        indexes = [models.Index(fields=["campaign", "service", "number"])]
        verbose_name = _("campaign change")
        verbose_name_plural = _("campaign changes")

    def __str__(self) -> str:
        return f"{self.service}#{self.number} {self.from_verdict}→{self.to_verdict}"
