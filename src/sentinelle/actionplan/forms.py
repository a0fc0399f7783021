from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ActionForm(forms.ModelForm):
    class Meta:
        model = Action
        fields = ["code", "clause", "title", "description", "responsible", "start_date",
                  "end_date", "position"]
        widgets = {"start_date": DATE, "end_date": DATE,
                   "description": forms.Textarea(attrs={"rows": 4})}


class IndicatorForm(forms.ModelForm):
    class Meta:
        model = Indicator
        fields = ["code", "name", "unit", "kind", "metric", "category", "baseline",
                  "baseline_date", "target", "deadline", "direction", "position"]
        widgets = {"baseline_date": DATE, "deadline": DATE}


class ProgressUpdateForm(forms.ModelForm):
    evidence_link = forms.URLField(label=_("evidence link"), required=False, assume_scheme="https")

    class Meta:
        model = ProgressUpdate
        fields = ["date", "value", "note", "evidence_file", "evidence_link"]
        widgets = {"date": DATE, "note": forms.Textarea(attrs={"rows": 3})}

    def clean_evidence_file(self):
        upload = self.cleaned_data.get("evidence_file")
        if upload and getattr(upload, "size", 0) > settings.EVIDENCE_MAX_BYTES:
            raise forms.ValidationError(_("The file is larger than the limit."))
        return upload
