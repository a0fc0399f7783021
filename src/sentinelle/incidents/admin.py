from django.contrib import admin

from sentinelle.core.admin import ReadOnlyAdmin, ReadOnlyInline
from sentinelle.incidents import visibility
from sentinelle.incidents.models import (
    Category,
    Evidence,
    Incident,
    IncidentVersion,
    Message,
    RsitClass,
    RsitType,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "clause", "position", "active"]
    list_editable = ["position", "active"]


class RsitTypeInline(admin.TabularInline):
    model = RsitType
    extra = 0


@admin.register(RsitClass)
class RsitClassAdmin(admin.ModelAdmin):
    list_display = ["code", "label", "position"]
    inlines = [RsitTypeInline]


# The admin is one more reader: it sees reports, versions, evidence and messages through the same
# table as every page (incidents/visibility.py), so being an administrator opens no report the
# Secretariat role alone would not.


class VersionInline(ReadOnlyInline):
    model = IncidentVersion
    fields = ["number", "author", "created_at", "note", "content"]

    def get_queryset(self, request):
        # Each version by the TLP it carried; the report itself is already visible.
        versions = super().get_queryset(request).select_related("incident")
        shown = [v.pk for v in versions
                 if visibility.version_visible(request.user, v.incident, v.content)]
        return versions.filter(pk__in=shown)


class EvidenceInline(ReadOnlyInline):
    model = Evidence
    fields = ["filename", "description", "size", "sha256", "content_type", "tlp", "uploaded_by",
              "uploaded_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            pk__in=Evidence.objects.for_user(request.user).values("pk"))


class MessageInline(ReadOnlyInline):
    model = Message
    fields = ["kind", "author", "body", "tlp", "created_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).filter(
            pk__in=Message.objects.for_user(request.user).values("pk"))


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only: reports change only through the audited workflow."""

    list_display = ["id", "state", "title", "category", "tlp", "status", "started_at"]
    list_filter = ["status", "tlp", "category"]
    inlines = [VersionInline, EvidenceInline, MessageInline]

    def get_queryset(self, request):
        return Incident.objects.for_user(request.user)
