"""What a submitted evidence bundle leaves in the database besides its report.

A bundle becomes one draft report (incidents.Incident) with the bundle attached unchanged as
evidence. ``BundleSubmission`` remembers which bundle (by SHA-256, once per State) made which
report; ``AccessObservation`` and ``RoutingAlertRecord`` keep one row per probe result or routing
alert so that statistics (the access-denial index) never unpack the bundle again.

Every row belongs to a report and a bundle, and is visible exactly when the bundle's evidence file
is: ``for_user`` filters through ``Evidence.objects.for_user`` (incidents/visibility.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.observatory.access import verdict_names as names

__all__ = [
    "CONCLUSIVE_VERDICTS",
    "DENIAL_VERDICTS",
    "AccessObservation",
    "BundleSubmission",
    "LiveRoutingAlert",
    "LiveRoutingEvent",
    "RoutingAlertRecord",
    "RoutingWatch",
    "Verdict",
]


class Verdict(models.TextChoices):
    # The codes are access/verdict_names.py's (the probe writes them); the labels are ours.
    ACCESSIBLE = names.ACCESSIBLE, _("accessible")
    GEOBLOCKED = names.GEOBLOCKED, _("geoblocked")
    CHALLENGED = names.CHALLENGED, _("bot challenge")
    SERVER_DENIED = names.SERVER_DENIED, _("denied by the server")
    DNS_TAMPERING = names.DNS_TAMPERING, _("DNS tampering")
    TCP_BLOCKED = names.TCP_BLOCKED, _("TCP connection blocked")
    TLS_INTERFERENCE = names.TLS_INTERFERENCE, _("TLS interference")
    HTTP_DIFF = names.HTTP_DIFF, _("different HTTP answer")
    INCONCLUSIVE = names.INCONCLUSIVE, _("inconclusive")


# Verdicts that count as a denial of access in the index; "accessible" is the other conclusive
# verdict. "inconclusive" and "challenged" (a bot check that a browser passes, such as
# Cloudflare's "Just a moment...": it shows neither access nor denial) count in neither.
DENIAL_VERDICTS = (Verdict.GEOBLOCKED, Verdict.SERVER_DENIED, Verdict.DNS_TAMPERING,
                   Verdict.TCP_BLOCKED, Verdict.TLS_INTERFERENCE, Verdict.HTTP_DIFF)
CONCLUSIVE_VERDICTS = (Verdict.ACCESSIBLE, *DENIAL_VERDICTS)


class ThroughIncidentQuerySet(models.QuerySet):
    def for_user(self, user) -> ThroughIncidentQuerySet:
        """Rows of the bundles ``user`` may see, and no others.

        A row says what its bundle's file says, so it is seen exactly by those who may see that
        evidence file: while its report is visible, and by the TLP the report had when the bundle
        was attached (loosening the report does not publish the bundle's contents)."""
        from sentinelle.incidents.models import Evidence

        path = "evidence" if self.model is BundleSubmission else "submission__evidence"
        return self.filter(**{f"{path}__in": Evidence.objects.for_user(user).values("pk")})


class BundleSubmission(models.Model):
    """One evidence bundle submitted by a State, and the report it made."""

    class Kind(models.TextChoices):
        # The kinds are evidence/bundle.py's (the tools write them); what reads each is in
        # observatory/bundles.
        ACCESS = evidence_bundle.ACCESS_PROBE, _("access probe")
        ROUTING = evidence_bundle.ROUTING_SCAN, _("routing scan")

    incident = models.OneToOneField("incidents.Incident", on_delete=models.PROTECT,
                                    related_name="bundle_submission",
                                    verbose_name=_("report"))
    evidence = models.OneToOneField("incidents.Evidence", on_delete=models.PROTECT,
                                    related_name="+", verbose_name=_("evidence"))
    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("reporting State"))
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+", verbose_name=_("submitted by"))
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    tool = models.CharField(_("tool"), max_length=100, blank=True)
    key_fingerprint = models.CharField(_("signing key"), max_length=100, blank=True)
    public_key = models.TextField(_("public key"), blank=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    vantage = models.JSONField(_("vantage point"), default=dict, blank=True)
    control = models.JSONField(_("control"), default=dict, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)

    objects = ThroughIncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["state", "sha256"],
                                               name="bundle_once_per_state")]
        verbose_name = _("bundle submission")
        verbose_name_plural = _("bundle submissions")

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}"


class AccessObservation(models.Model):
    """One probe result: a URL measured from the State's vantage point, with its verdict."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="access_observations", verbose_name=_("report"))
    submission = models.ForeignKey(BundleSubmission, on_delete=models.PROTECT,
                                   related_name="observations")
    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("affected State"))
    service = models.CharField(_("service"), max_length=255, db_index=True)
    url = models.CharField(_("URL"), max_length=2048)
    category_code = models.CharField(_("category code"), max_length=20, blank=True)
    verdict = models.CharField(_("verdict"), max_length=20, choices=Verdict.choices)
    provider = models.CharField(_("provider"), max_length=100, blank=True)
    measured_at = models.DateTimeField(_("measured"))
    vantage_cc = models.CharField(_("vantage country"), max_length=2, blank=True)
    vantage_asn = models.PositiveBigIntegerField(_("vantage ASN"), null=True, blank=True)
    control_cc = models.CharField(_("control country"), max_length=2, blank=True)

    objects = ThroughIncidentQuerySet.as_manager()

    class Meta:
        ordering = ["measured_at", "id"]
        indexes = [models.Index(fields=["state", "service", "measured_at"]),
                   models.Index(fields=["measured_at"])]
        verbose_name = _("access observation")
        verbose_name_plural = _("access observations")

    def __str__(self) -> str:
        return f"{self.url} {self.verdict}"


class RoutingAlertRecord(models.Model):
    """One routing alert (ARTEMIS-style type) from a routing scan."""

    incident = models.ForeignKey("incidents.Incident", on_delete=models.PROTECT,
                                 related_name="routing_alerts", verbose_name=_("report"))
    submission = models.ForeignKey(BundleSubmission, on_delete=models.PROTECT,
                                   related_name="alerts")
    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("affected State"))
    alert_id = models.CharField(_("alert"), max_length=100, blank=True)
    type = models.CharField(_("type"), max_length=40)
    prefix = models.CharField(_("prefix"), max_length=50)
    offending_asn = models.PositiveBigIntegerField(_("offending AS"), null=True, blank=True)
    first_seen = models.DateTimeField(_("first seen"), null=True, blank=True)
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    peers = models.PositiveIntegerField(_("peers"), default=0)
    collectors = models.PositiveIntegerField(_("collectors"), default=0)

    objects = ThroughIncidentQuerySet.as_manager()

    class Meta:
        ordering = ["first_seen", "id"]
        indexes = [models.Index(fields=["state", "type", "first_seen"])]
        verbose_name = _("routing alert")
        verbose_name_plural = _("routing alerts")

    def __str__(self) -> str:
        return f"{self.type} {self.prefix}"


# --- the live routing monitor (issue 14) ---------------------------------------------------------
#
# A State's monitor (`sentinelle routing monitor --alert platform:URL`) posts its events to
# /api/v1/observatory/routing/events/. These rows are the State's own operational data, not
# evidence of a report: its focal points and the Secretariat see them, nobody else (README, *Who
# sees what*); ``for_user`` says so in one place for every page and endpoint.


class StateScopedQuerySet(models.QuerySet):
    def for_user(self, user) -> StateScopedQuerySet:
        """A focal point's own State's rows; every State's for the Secretariat; none else."""
        if user is None or not user.is_authenticated:
            return self.none()
        if user.is_secretariat:
            return self.all()
        if user.is_focal_point:
            return self.filter(state_id=user.state_id)
        return self.none()


class RoutingWatch(models.Model):
    """A State's routing watch list (the YAML of ``sentinelle routing scan --watch``), kept here
    so the focal point edits it on the page and the monitor fetches it from the API."""

    state = models.OneToOneField("core.MemberState", on_delete=models.PROTECT,
                                 related_name="routing_watch", verbose_name=_("Member State"))
    yaml = models.TextField(_("watch list (YAML)"))
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+",
                                   verbose_name=_("updated by"))
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = StateScopedQuerySet.as_manager()

    class Meta:
        verbose_name = _("routing watch list")
        verbose_name_plural = _("routing watch lists")

    def __str__(self) -> str:
        return f"watch {self.state_id}"


class LiveRoutingAlert(models.Model):
    """One alert episode of a State's live monitor, as its raised/resolved events told it."""

    class Status(models.TextChoices):
        RAISED = "raised", _("raised")
        RESOLVED = "resolved", _("resolved")

    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("Member State"))
    alert_id = models.CharField(_("alert"), max_length=200)
    key = models.CharField(_("alert key"), max_length=64, blank=True)
    type = models.CharField(_("type"), max_length=40)
    prefix = models.CharField(_("prefix"), max_length=50, blank=True)
    watched_prefix = models.CharField(_("watched prefix"), max_length=50, blank=True)
    offending_asn = models.PositiveBigIntegerField(_("offending AS"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    raised_at = models.DateTimeField(_("raised"), null=True, blank=True)  # BGP first_seen
    last_seen = models.DateTimeField(_("last seen"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    duration = models.FloatField(_("duration (s)"), null=True, blank=True)
    peers = models.PositiveIntegerField(_("peers"), default=0)
    collectors = models.JSONField(_("collectors"), default=list, blank=True)
    tags = models.JSONField(_("tags"), default=dict, blank=True)
    muted = models.CharField(_("muted by"), max_length=100, blank=True)
    # The draft report its "raised" bundle made; a report stays when the alert row would go.
    incident = models.ForeignKey("incidents.Incident", on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="live_routing_alerts",
                                 verbose_name=_("report"))
    last_event = models.JSONField(_("last event"), default=dict, blank=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = StateScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["state", "alert_id"],
                                               name="live_alert_once_per_state")]
        indexes = [models.Index(fields=["state", "status", "raised_at"])]
        verbose_name = _("live routing alert")
        verbose_name_plural = _("live routing alerts")

    def __str__(self) -> str:
        return f"{self.type} {self.prefix} ({self.status})"


class LiveRoutingEvent(models.Model):
    """One event a State's monitor delivered, kept whole, with the answer it was given: the same
    idempotency key again gets that answer back and changes nothing."""

    state = models.ForeignKey("core.MemberState", on_delete=models.PROTECT, related_name="+",
                              verbose_name=_("Member State"))
    idempotency_key = models.CharField(_("idempotency key"), max_length=64)
    event = models.CharField(_("event"), max_length=20)
    type = models.CharField(_("type"), max_length=40)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)
    received_from = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                      null=True, blank=True, related_name="+",
                                      verbose_name=_("sent by"))
    alert = models.ForeignKey(LiveRoutingAlert, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="events", verbose_name=_("alert"))
    payload = models.JSONField(_("event"), default=dict)
    answer = models.JSONField(_("answer"), default=dict, blank=True)

    objects = StateScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["state", "idempotency_key"],
                                               name="live_event_once_per_state")]
        indexes = [models.Index(fields=["state", "event", "received_at"])]
        verbose_name = _("live routing event")
        verbose_name_plural = _("live routing events")

    def __str__(self) -> str:
        return f"{self.event} {self.payload.get('alert_id', '')}"
