from django.contrib import admin

from sentinelle.analysis.models import HandlingExpectation


@admin.register(HandlingExpectation)
class HandlingExpectationAdmin(admin.ModelAdmin):
    """Also set at /analysis/handling-times/; the admin's changes are audited like every admin
    change (core.admin_site), the page's by analysis.handling.set_expectation."""

    list_display = ["category", "acknowledge_hours", "analyse_hours", "updated_by", "updated_at"]
    readonly_fields = ["updated_by", "updated_at"]

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
