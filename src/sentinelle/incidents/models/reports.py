from __future__ import annotations

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from sentinelle.incidents.models.tlp import TLP
from sentinelle.incidents.models.workflow import NOT_COUNTED, Status

# Who may see what, by TLP, is decided in one place: incidents/visibility.py.


def new_stix_id() -> str:
    return f"incident--{uuid.uuid4()}"


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Channel(models.TextChoices):
    """How a report reached the platform (issue 16, point 5): the Council report breaks the
    figures down by it. UNKNOWN is for reports filed before the channel was recorded, when it
    could not be inferred."""

    WEB = "web", _("Web form")
    API = "api", _("API")
    IMPORT = "import", _("File import")
    FEDERATION = "federation", _("Federation (TAXII)")
    OBSERVATORY = "observatory", _("Observatory evidence bundle")
    UNKNOWN = "unknown", _("Not recorded")


class IncidentQuerySet(models.QuerySet):
    def for_user(self, user) -> IncidentQuerySet:
        """The reports a user may see, by the one table in `incidents.visibility`.

        A draft belongs to its State until submitted, and a withdrawn report leaves everyone's
        view but its State's and the Secretariat's. Others see a report by its TLP: CLEAR is
        public, GREEN reaches every focal point, AMBER the Secretariat and the focal points of
        the report's sharing group, AMBER+STRICT and RED only the analysts the State named.
        """
        from sentinelle.incidents import visibility

        return self.filter(visibility.visible_q(self.model, user))

    def counted(self) -> IncidentQuerySet:
        """The reports that count in a figure: a duplicate counts once, through its primary."""
        return self.exclude(status__in=NOT_COUNTED)


class Incident(models.Model):
    """A report. Its content lives in immutable versions; these columns mirror the latest one
    so that lists and statistics can filter without unpacking JSON."""

    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT,
                              related_name="incidents", verbose_name=_("reporting State"))
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="+", verbose_name=_("reported by"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices,
                              default=Status.DRAFT, db_index=True)
    version = models.PositiveIntegerField(_("version"), default=1)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    duplicate_of = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="duplicates", verbose_name=_("duplicate of"))
    stix_id = models.CharField(
        _("STIX identifier"), max_length=80, unique=True, default=new_stix_id,
        help_text=_("Stable identity across instances: exports, TAXII and federation use it."))
    sharing_group = models.ForeignKey(
        "core.SharingGroup", on_delete=models.PROTECT, null=True, blank=True,
        related_name="incidents", verbose_name=_("shared with group"),
        help_text=_("The group's focal points see the report up to TLP:AMBER, never "
                    "TLP:AMBER+STRICT or TLP:RED."))
    named_analysts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="restricted_incidents",
        verbose_name=_("named Secretariat analysts"),
        help_text=_("Only these analysts see an AMBER+STRICT or RED report."))

    # Mirror of the latest version.
    title = models.CharField(_("title"), max_length=200)
    category = models.ForeignKey("incidents.Category", on_delete=models.PROTECT,
                                 related_name="incidents", verbose_name=_("category"))
    rsit_type = models.ForeignKey("incidents.RsitType", on_delete=models.PROTECT,
                                  related_name="incidents", verbose_name=_("RSIT class and type"))
    tlp = models.CharField(_("TLP"), max_length=12, choices=TLP.choices, default=TLP.AMBER,
                           db_index=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices,
                                default=Severity.MEDIUM)
    started_at = models.DateTimeField(_("started"), db_index=True)
    ended_at = models.DateTimeField(_("ended"), null=True, blank=True)
    detected_at = models.DateTimeField(_("detected"), null=True, blank=True)
    affected_services = models.JSONField(_("affected services"), default=list, blank=True)
    users_affected = models.PositiveBigIntegerField(_("users affected"), null=True, blank=True)
    duration_hours = models.FloatField(_("duration (hours)"), null=True, blank=True)
    user_hours = models.FloatField(_("user-hours"), null=True, blank=True)
    alleged_origin_state = models.ForeignKey(
        "core.MemberState", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("alleged origin State"))
    description = models.TextField(_("narrative"))
    narrative_language = models.CharField(_("narrative language"), max_length=10, default="en")
    consent_to_name = models.BooleanField(
        _("consent to be named in the Council report"), default=False)
    channel = models.CharField(_("channel"), max_length=12, choices=Channel.choices,
                               default=Channel.UNKNOWN, db_index=True,
                               help_text=_("How the report reached the platform."))

    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("incident report")
        verbose_name_plural = _("incident reports")
        indexes = [models.Index(fields=["state", "status"]),
                   models.Index(fields=["category", "started_at"])]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("incident-detail", args=[self.pk])

    @property
    def reference(self) -> str:
        return f"{self.state.alpha2}-{self.created_at:%Y}-{self.pk:05d}"

    @property
    def rsit(self) -> str:
        return self.rsit_type.machine_tag


class IncidentVersion(models.Model):
    """One immutable state of a report's content. Versions are only ever added."""

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+", verbose_name=_("author"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    note = models.CharField(_("reason for the change"), max_length=500, blank=True)
    content = models.JSONField(encoder=DjangoJSONEncoder)

    class Meta:
        ordering = ["incident", "number"]
        constraints = [models.UniqueConstraint(fields=["incident", "number"],
                                               name="incident_version_unique")]
        verbose_name = _("report version")
        verbose_name_plural = _("report versions")

    def __str__(self) -> str:
        return f"{self.incident_id} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Report versions are immutable; add a new version instead.")
        super().save(*args, **kwargs)


class Indicator(models.Model):
    """A technical indicator of one version; the latest version's ones are the report's."""

    class Type(models.TextChoices):
        IPV4 = "ipv4", _("IPv4 address")
        IPV6 = "ipv6", _("IPv6 address")
        PREFIX = "prefix", _("IP prefix")
        ASN = "asn", _("AS number")
        DOMAIN = "domain", _("domain name")
        URL = "url", _("URL")
        EMAIL = "email", _("e-mail address")
        SHA256 = "sha256", _("SHA-256 hash")

    version = models.ForeignKey(IncidentVersion, on_delete=models.PROTECT,
                                related_name="indicators")
    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="+")
    type = models.CharField(_("type"), max_length=10, choices=Type.choices)
    value = models.CharField(_("value"), max_length=2048)

    class Meta:
        indexes = [models.Index(fields=["type", "value"])]
        verbose_name = _("indicator")
        verbose_name_plural = _("indicators")

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"
