from django.contrib import admin

from sentinelle.core.admin import ReadOnlyAdmin
from sentinelle.observatory.models import (
    AccessObservation,
    BundleSubmission,
    Campaign,
    CampaignChange,
    RoutingAlertRecord,
)


@admin.register(BundleSubmission)
class BundleSubmissionAdmin(ReadOnlyAdmin):
    """Read-only: submissions are made only by the audited submission service."""

    list_display = ["id", "state", "kind", "incident", "sha256", "submitted_at"]
    list_filter = ["kind"]
    search_fields = ["sha256"]

    def get_queryset(self, request):
        # The rows of the reports the viewer may see (incidents/visibility.py), as on the site.
        return BundleSubmission.objects.for_user(request.user)


@admin.register(AccessObservation)
class AccessObservationAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "service", "verdict", "provider", "measured_at"]
    list_filter = ["verdict"]
    search_fields = ["service", "url"]

    def get_queryset(self, request):
        return AccessObservation.objects.for_user(request.user)


@admin.register(RoutingAlertRecord)
class RoutingAlertRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "state", "type", "prefix", "offending_asn", "first_seen"]
    list_filter = ["type"]
    search_fields = ["prefix"]

    def get_queryset(self, request):
        return RoutingAlertRecord.objects.for_user(request.user)


@admin.register(Campaign)
class CampaignAdmin(ReadOnlyAdmin):
    """Read-only: campaigns are made by their rounds' submissions."""

    list_display = ["id", "state", "name", "last_round_at", "interval"]
    search_fields = ["name"]

    def get_queryset(self, request):
        return Campaign.objects.for_user(request.user)


@admin.register(CampaignChange)
class CampaignChangeAdmin(ReadOnlyAdmin):
    list_display = ["id", "campaign", "service", "from_verdict", "to_verdict", "number",
                    "detected_at"]
    search_fields = ["service"]

    def get_queryset(self, request):
        return CampaignChange.objects.for_user(request.user)
