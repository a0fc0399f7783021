from django.contrib import admin

from sentinelle.core.admin import ReadOnlyAdmin
from sentinelle.incidents.models import Category, Incident, RsitClass, RsitType


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


@admin.register(Incident)
class IncidentAdmin(ReadOnlyAdmin):
    """Read-only: reports change only through the audited workflow."""

    list_display = ["id", "state", "title", "category", "tlp", "status", "started_at"]
    list_filter = ["status", "tlp", "category"]
