from django.contrib import admin

from sentinelle.actionplan.forms import ProgressUpdateForm
from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate


class IndicatorInline(admin.TabularInline):
    model = Indicator
    extra = 0
    fields = ["code", "name", "unit", "kind", "metric", "category", "baseline", "baseline_date",
              "target", "deadline", "direction", "position"]


@admin.register(Action)
class ActionAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "responsible", "clause", "start_date", "end_date"]
    list_filter = ["responsible"]
    search_fields = ["code", "title", "clause"]
    inlines = [IndicatorInline]


class ProgressUpdateInline(admin.TabularInline):
    model = ProgressUpdate
    form = ProgressUpdateForm
    extra = 0
    fields = ["date", "value", "note", "evidence_file", "evidence_link", "recorded_by"]
    readonly_fields = ["recorded_by"]


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "action", "kind", "baseline", "target", "deadline",
                    "direction"]
    list_filter = ["kind", "direction", "action"]
    search_fields = ["code", "name"]
    inlines = [ProgressUpdateInline]

    def save_formset(self, request, form, formset, change):
        for update in formset.save(commit=False):
            if update.recorded_by_id is None:
                update.recorded_by = request.user
            update.save()
        formset.save_m2m()
        for obj in formset.deleted_objects:
            obj.delete()
