from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from sentinelle.core.limits import column_bounds
from sentinelle.core.models import MemberState, User
from sentinelle.incidents import fields, services
from sentinelle.incidents.models import (
    TLP,
    Category,
    Incident,
    RsitClass,
    Severity,
    Status,
    SummaryLine,
)

NARRATIVE_LANGUAGES = [("en", _("English")), ("fr", _("French")), ("es", _("Spanish")),
                       ("ar", _("Arabic")), ("zh", _("Chinese")), ("ru", _("Russian"))]
DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def rsit_choices() -> list:
    groups = [("", "—")]
    for rsit_class in RsitClass.objects.prefetch_related("types"):
        groups.append((rsit_class.label, [(t.machine_tag, t.label)
                                          for t in rsit_class.types.all()]))
    return groups


class IncidentForm(forms.Form):
    """The report form. Field names match the API so both validate through incidents.fields."""

    title = forms.CharField(label=_("Title"), max_length=200,
                            validators=[fields.validate_single_line])
    category = forms.ModelChoiceField(label=_("Category"), to_field_name="code",
                                      queryset=Category.objects.filter(active=True))
    rsit = forms.ChoiceField(label=_("RSIT class and type"))
    tlp = forms.ChoiceField(label=_("TLP"), choices=TLP.choices, initial=TLP.AMBER,
                            help_text=_("CLEAR: public. GREEN: every focal point. AMBER: your "
                                        "State and the Secretariat. AMBER+STRICT and RED: your "
                                        "State and the analysts you name."))
    named_analysts = forms.ModelMultipleChoiceField(
        label=_("Named Secretariat analysts"), required=False,
        queryset=User.objects.filter(role__in=("analyst", "admin"), is_active=True),
        help_text=_("Only they see an AMBER+STRICT or RED report."))
    severity = forms.ChoiceField(label=_("Severity"), choices=Severity.choices,
                                 initial=Severity.MEDIUM)
    started_at = forms.DateTimeField(label=_("Started (UTC)"), widget=DATETIME_WIDGET)
    ended_at = forms.DateTimeField(label=_("Ended (UTC)"), required=False,
                                   widget=DATETIME_WIDGET)
    detected_at = forms.DateTimeField(label=_("Detected (UTC)"), required=False,
                                      widget=DATETIME_WIDGET)
    affected_services = forms.CharField(label=_("Affected services"), required=False,
                                        widget=forms.Textarea(attrs={"rows": 2}),
                                        help_text=_("One per line."))
    users_affected = forms.IntegerField(label=_("Users affected"), required=False,
                                        **column_bounds(Incident, "users_affected"))
    alleged_origin_state = forms.ModelChoiceField(
        label=_("Alleged origin State"), required=False, to_field_name="alpha2",
        queryset=MemberState.objects.all())
    description = forms.CharField(label=_("Narrative"), max_length=100_000,
                                  widget=forms.Textarea(attrs={"rows": 8}))
    narrative_language = forms.ChoiceField(label=_("Language of the narrative"),
                                           choices=NARRATIVE_LANGUAGES)
    indicators = forms.CharField(
        label=_("Indicators"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: type and value, e.g. “ipv4 192.0.2.7”. Types: ipv4, ipv6, "
                    "prefix, asn, domain, url, email, sha256."))
    consent_to_name = forms.BooleanField(
        label=_("My State consents to be named in the Council report and the public "
                "statistics"), required=False,
        help_text=_("Your State is named only when every report it made for the year carries "
                    "this consent; otherwise its incidents are only counted, without its "
                    "name."))
    note = forms.CharField(label=_("Reason for the change"), max_length=500, required=False)

    def __init__(self, *args, amending: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rsit"].choices = rsit_choices()
        if not amending:
            del self.fields["note"]

    def clean_rsit(self):
        try:
            return fields.parse_rsit(self.cleaned_data["rsit"])
        except ValidationError as exc:
            raise forms.ValidationError(exc.messages) from None

    def clean_affected_services(self):
        return fields.parse_services(self.cleaned_data["affected_services"].splitlines())

    def clean_indicators(self):
        pairs = []
        for line in self.cleaned_data["indicators"].splitlines():
            if line.strip():
                kind, _sep, value = line.strip().partition(" ")
                pairs.append((kind.strip().lower().rstrip(":"), value.strip()))
        return fields.parse_indicators(pairs, label=_("Line"))

    def clean(self):
        cleaned = super().clean()
        for field, message in services.check_time_window(cleaned).items():
            self.add_error(field, message)
        return cleaned

    def content(self) -> dict:
        """Cleaned values in the shape the services take."""
        data = dict(self.cleaned_data)
        data["rsit_type"] = data.pop("rsit")
        data.pop("note", None)
        return data

    @classmethod
    def initial_from(cls, content: dict) -> dict:
        initial = dict(content)
        initial["rsit"] = content["rsit_type"].machine_tag
        initial["affected_services"] = "\n".join(content["affected_services"])
        initial["indicators"] = "\n".join(f"{t} {v}" for t, v in content["indicators"])
        return initial


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(choices=Status.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=10_000,
                           widget=forms.Textarea(attrs={"rows": 3}))
    duplicate_of = forms.IntegerField(label=_("Duplicate of report number"), required=False,
                                      **column_bounds(Incident, "id"))


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; cleans to a list (empty when none was chosen)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        items = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in items if item]


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), max_length=20_000,
                           widget=forms.Textarea(attrs={"rows": 4}))
    files = MultipleFileField(
        label=_("Files"), required=False,
        help_text=_("Optional. They become evidence of the report (SHA-256, the report's TLP) "
                    "and are listed under the message."))


class EvidenceForm(forms.Form):
    file = forms.FileField(label=_("File"))
    description = forms.CharField(label=_("Description"), max_length=500, required=False)


class SummaryUploadForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    file = forms.FileField(label=_("CSV file"))
    notes = forms.CharField(label=_("Notes"), required=False, max_length=10_000,
                            widget=forms.Textarea(attrs={"rows": 2}))


class SummaryForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    notes = forms.CharField(label=_("Notes"), required=False, max_length=10_000,
                            widget=forms.Textarea(attrs={"rows": 2}))


class SummaryLineForm(forms.Form):
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.all(),
                                      to_field_name="code")
    rsit_class = forms.ModelChoiceField(label=_("RSIT class"), queryset=RsitClass.objects.all(),
                                        to_field_name="code")
    incidents = forms.IntegerField(label=_("Incidents"), **column_bounds(SummaryLine, "incidents"))
    user_hours = forms.FloatField(label=_("User-hours"), min_value=0, initial=0)


# absolute_max: the lines built from a posted TOTAL_FORMS. Django's default (max_num + 1,000)
# let a forged count build and re-render 1,200 lines, seconds of work for a tiny post.
SummaryLineFormSet = forms.formset_factory(SummaryLineForm, extra=3, max_num=200,
                                           absolute_max=200, validate_max=True)
