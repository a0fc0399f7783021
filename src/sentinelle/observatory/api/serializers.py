from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sentinelle.observatory import bundles
from sentinelle.observatory.models import AccessObservation, BundleSubmission, RoutingAlertRecord


class SubmitSerializer(serializers.Serializer):
    """A signed evidence bundle, as the web upload takes it."""

    file = serializers.FileField(help_text="The bundle (zip) written by “sentinelle probe run "
                                           "--bundle” or “sentinelle routing scan --bundle”.")
    expect = serializers.ChoiceField(
        choices=["probe", "routing"], required=False, allow_blank=True, default="",
        help_text="probe (access probe) or routing (routing scan); refuses a bundle of the "
                  "other kind. Empty: detect from the bundle.")

    def validate_file(self, upload):
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise serializers.ValidationError(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
                    "size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES})
        return upload


class SubmissionSerializer(serializers.ModelSerializer):
    report = serializers.CharField(source="incident.reference", read_only=True)
    report_id = serializers.IntegerField(source="incident_id", read_only=True)
    report_status = serializers.CharField(source="incident.status", read_only=True)
    state = serializers.CharField(source="state.alpha2", read_only=True)
    submitted_by = serializers.CharField(source="submitted_by.username", read_only=True)
    evidence_download = serializers.SerializerMethodField()

    class Meta:
        model = BundleSubmission
        fields = ["id", "kind", "state", "report", "report_id", "report_status", "submitted_by",
                  "submitted_at", "sha256", "tool", "key_fingerprint", "started_at",
                  "finished_at", "vantage", "control", "counts", "evidence_download"]
        read_only_fields = fields

    def get_evidence_download(self, obj) -> str:
        request = self.context.get("request")
        path = f"/api/v1/evidence/{obj.evidence_id}/download/"
        return request.build_absolute_uri(path) if request else path


class ObservationSerializer(serializers.ModelSerializer):
    class Meta:
        model = AccessObservation
        fields = ["service", "url", "category_code", "verdict", "provider", "measured_at",
                  "vantage_cc", "vantage_asn", "control_cc"]
        read_only_fields = fields


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = RoutingAlertRecord
        fields = ["alert_id", "type", "prefix", "offending_asn", "first_seen", "last_seen",
                  "peers", "collectors"]
        read_only_fields = fields


# Rows one detail response carries; a bundle may hold far more, and the CSV
# (/observatory/submissions/<id>/observations.csv) has them all.
MAX_DETAIL_ROWS = 5000


class SubmissionDetailSerializer(SubmissionSerializer):
    """A submission with its rows: probe results for an access probe, alerts for a routing
    scan (the other list is empty), at most MAX_DETAIL_ROWS of them; ``rows_total`` says how
    many there are."""

    observations = serializers.SerializerMethodField()
    alerts = serializers.SerializerMethodField()
    rows_total = serializers.SerializerMethodField()

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "observations", "alerts", "rows_total"]
        read_only_fields = fields

    def get_rows_total(self, obj) -> int:
        return bundles.get(obj.kind).MODEL.objects.filter(submission=obj).count()

    @extend_schema_field(ObservationSerializer(many=True))
    def get_observations(self, obj) -> list[dict]:
        if obj.kind != BundleSubmission.Kind.ACCESS:
            return []
        rows = AccessObservation.objects.filter(submission=obj).order_by("id")
        return ObservationSerializer(rows[:MAX_DETAIL_ROWS], many=True).data

    @extend_schema_field(AlertSerializer(many=True))
    def get_alerts(self, obj) -> list[dict]:
        if obj.kind != BundleSubmission.Kind.ROUTING:
            return []
        rows = RoutingAlertRecord.objects.filter(submission=obj).order_by("id")
        return AlertSerializer(rows[:MAX_DETAIL_ROWS], many=True).data
