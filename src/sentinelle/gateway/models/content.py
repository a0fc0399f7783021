"""The four content types of the gateway (Res. 130 charges 3-4, Res. 174)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.gateway.models.base import GatewayEntry, long_text


class Scope(models.TextChoices):
    NATIONAL = "national", _("National")
    REGIONAL = "regional", _("Regional")
    INTERNATIONAL = "international", _("International")


class InitiativeStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ONGOING = "ongoing", _("Ongoing")
    COMPLETED = "completed", _("Completed")


class ResourceKind(models.TextChoices):
    TOOL = "tool", _("Tool")
    GUIDE = "guide", _("Guide or reference")
    TRAINING = "training", _("Training")
    DATASET = "dataset", _("Data set")


class Initiative(GatewayEntry):
    KIND = "initiatives"
    TRANSLATABLE = ("title", "description")

    title = models.CharField(_("title"), max_length=200)
    scope = models.CharField(_("scope"), max_length=20, choices=Scope.choices)
    states = models.ManyToManyField("core.MemberState", verbose_name=_("States taking part"),
                                    blank=True, related_name="+")
    organisations = models.CharField(_("organisations"), max_length=500, blank=True,
                                     help_text=_("Separated by commas."))
    description = models.TextField(_("description"), validators=long_text)
    links = models.TextField(_("links"), blank=True, help_text=_("One address per line."))
    themes = models.CharField(_("themes"), max_length=300, blank=True,
                              help_text=_("Separated by commas."))
    start_date = models.DateField(_("start"), null=True, blank=True)
    end_date = models.DateField(_("end"), null=True, blank=True)
    progress = models.CharField(_("progress"), max_length=20, choices=InitiativeStatus.choices,
                                default=InitiativeStatus.ONGOING)

    class Meta:
        ordering = ["title"]
        verbose_name = _("initiative")
        verbose_name_plural = _("initiatives")


class GoodPractice(GatewayEntry):
    KIND = "good-practices"
    TITLE_FIELD = "measure"
    TRANSLATABLE = ("measure", "problem", "results")

    measure = models.CharField(_("measure"), max_length=200)
    problem = models.TextField(_("problem addressed"), validators=long_text)
    results = models.TextField(_("results"), blank=True, validators=long_text)
    links = models.TextField(_("documents and links"), blank=True,
                             help_text=_("One address per line."))
    clause = models.CharField(_("related resolution clause"), max_length=200, blank=True,
                              help_text=_("For example: Res. 174 (Rev. Busan, 2014), "
                                          "instructs the Secretary-General 2"))

    class Meta:
        ordering = ["measure"]
        verbose_name = _("good practice")
        verbose_name_plural = _("good practices")


class CirtTeam(GatewayEntry):
    """A national CIRT, with the fields of an RFC 2350 description."""

    KIND = "cirts"
    TITLE_FIELD = "name"
    TRANSLATABLE = ("constituency", "services")

    name = models.CharField(_("team name"), max_length=200)
    constituency = models.TextField(_("constituency"), validators=long_text)
    established = models.DateField(_("established"), null=True, blank=True)
    host_organisation = models.CharField(_("host organisation"), max_length=200, blank=True)
    email = models.EmailField(_("e-mail"))
    phone = models.CharField(_("telephone"), max_length=40, blank=True)
    hours = models.CharField(_("hours of operation"), max_length=200, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    pgp_key = models.TextField(_("PGP public key"), blank=True)
    pgp_fingerprint = models.CharField(_("PGP fingerprint"), max_length=64, blank=True,
                                       editable=False)
    website = models.URLField(_("website"), blank=True)
    services = models.TextField(_("services"), blank=True, validators=long_text)
    first_member = models.BooleanField(_("FIRST member"), default=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("national CIRT")
        verbose_name_plural = _("national CIRTs")


class Resource(GatewayEntry):
    KIND = "resources"
    TRANSLATABLE = ("title", "description")

    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(_("kind"), max_length=20, choices=ResourceKind.choices)
    description = models.TextField(_("description"), validators=long_text)
    url = models.URLField(_("address"))
    provider = models.CharField(_("provider"), max_length=200, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("resource or tool")
        verbose_name_plural = _("resources and tools")
