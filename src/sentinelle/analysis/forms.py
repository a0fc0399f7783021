"""Forms of the analysis pages."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from sentinelle.analysis.models.handling import MAX_HOURS
from sentinelle.incidents.models import Category


def _hours(value: str) -> int:
    """A whole number of hours from 1 to MAX_HOURS, or one message that says so."""
    try:
        hours = int(str(value).strip())
    except ValueError:
        hours = 0
    if not 1 <= hours <= MAX_HOURS:
        raise forms.ValidationError(
            _("Give a whole number of hours from 1 to %(max)d.") % {"max": MAX_HOURS})
    return hours


class HandlingExpectationForm(forms.Form):
    category = forms.ModelChoiceField(queryset=Category.objects.all(), to_field_name="code",
                                      label=gettext_lazy("Category"), empty_label=None)
    # Text inputs parsed by _hours, so that every bad value gets the same clear message.
    acknowledge_hours = forms.CharField(
        label=gettext_lazy("Acknowledge within (hours)"), required=False,
        help_text=gettext_lazy("From submission to the Secretariat's first status change."),
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_HOURS}))
    analyse_hours = forms.CharField(
        label=gettext_lazy("Analyse within (hours)"), required=False,
        help_text=gettext_lazy("From submission to the report's closure."),
        widget=forms.NumberInput(attrs={"min": 1, "max": MAX_HOURS}))

    def clean_acknowledge_hours(self) -> int:
        return _hours(self.cleaned_data["acknowledge_hours"])

    def clean_analyse_hours(self) -> int:
        return _hours(self.cleaned_data["analyse_hours"])

    def clean(self):
        data = super().clean()
        ack, analyse = data.get("acknowledge_hours"), data.get("analyse_hours")
        if ack is not None and analyse is not None and analyse < ack:
            self.add_error("analyse_hours",
                           _("The analysis cannot be due before the acknowledgement."))
        return data
