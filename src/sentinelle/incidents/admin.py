from django.contrib import admin
from django.utils.translation import gettext_lazy as _

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
    # The report it duplicates may be one the viewer may not see: shown through the table.
    exclude = ["duplicate_of"]
    readonly_fields = ["duplicate_of_shown"]

    def get_queryset(self, request):
        return Incident.objects.for_user(request.user)

    def lookup_allowed(self, lookup, value, request=None):
        # Only the offered filters: any other lookup in the URL (duplicate_of__id__exact=48)
        # would count reports by a relation to one the viewer may not see.
        return lookup.split("__", 1)[0] in self.list_filter

    def get_object(self, request, object_id, from_field=None):
        incident = super().get_object(request, object_id, from_field)
        if incident is not None and incident.duplicate_of_id is not None:
            # Looked up for this viewer here: the admin instance is shared by every request.
            incident.duplicate_of_for_viewer = Incident.objects.for_user(request.user).filter(
                pk=incident.duplicate_of_id).first()
        return incident

    @admin.display(description=_("duplicate of"))
    def duplicate_of_shown(self, incident: Incident) -> str:
        if incident.duplicate_of_id is None:
            return "-"
        original = getattr(incident, "duplicate_of_for_viewer", None)
        if original is None:
            return _("a report you may not see")
        return f"{original.reference} {original.title}"
