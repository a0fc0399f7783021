from django import forms
from django.utils.translation import gettext_lazy as _

from sentinelle.exchange import formats, uploads
from sentinelle.exchange.exporting import EXPORTERS
from sentinelle.incidents.models import TLP, Category


def format_choices():
    return [("auto", _("Detect automatically"))] + [(f, f) for f in formats.FORMAT_MODULES]


class ImportForm(forms.Form):
    file = forms.FileField(label=_("File"))
    format = forms.ChoiceField(label=_("Format"), choices=format_choices)
    tlp = forms.ChoiceField(label=_("TLP for items that carry none"), required=False,
                            choices=[("", "—"), *TLP.choices])
    dry_run = forms.BooleanField(label=_("Dry run: check and count, write nothing"),
                                 required=False)
    on_invalid = forms.ChoiceField(
        label=_("Invalid items"), initial="refuse", required=False,
        choices=[("refuse", _("refuse the whole file")), ("skip", _("skip invalid items"))],
        help_text=_("Skip: every valid item is imported and each rejected one is listed with "
                    "its place and reason. A report is never imported half."))

    def clean_on_invalid(self) -> str:
        return self.cleaned_data.get("on_invalid") or "refuse"   # older forms do not send it

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > uploads.import_limit():
            raise forms.ValidationError(
                uploads.too_large_message(upload.size, uploads.import_limit()),
                code="too_large")
        return upload


class ExportForm(forms.Form):
    format = forms.ChoiceField(label=_("Format"),
                               choices=[(f, f.upper()) for f in sorted(EXPORTERS)])
    since = forms.DateField(label=_("Changed on or after"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    category = forms.ModelMultipleChoiceField(label=_("Categories"), required=False,
                                              queryset=Category.objects.all(),
                                              to_field_name="code")
