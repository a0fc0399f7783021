"""Submission forms: each field validated on its own so errors name the field."""

from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms
from django.core.validators import URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from sentinelle.gateway import pgp
from sentinelle.gateway.models import (
    LANGUAGES,
    CirtTeam,
    GatewayEntry,
    GoodPractice,
    Initiative,
    Resource,
)
from sentinelle.gateway.models.base import TEXT_LIMIT

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MAX_LINKS = 20


def clean_links(value: str) -> str:
    """One http(s) address per line; the line number names the bad one."""
    lines = [line.strip() for line in (value or "").splitlines() if line.strip()]
    if len(lines) > MAX_LINKS:
        raise forms.ValidationError(_("At most %(n)d links.") % {"n": MAX_LINKS})
    check = URLValidator(schemes=["http", "https"])
    for number, line in enumerate(lines, 1):
        try:
            check(line)
        except forms.ValidationError:
            raise forms.ValidationError(
                _("Line %(line)d is not an http or https address.") % {"line": number}
            ) from None
    return "\n".join(lines)


def https_urls(field, **kwargs):
    """Addresses typed without a scheme are read as https (Django 6's default, chosen now)."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


class EntryForm(forms.ModelForm):
    """Base: the State is chosen only by the Secretariat (a focal point writes for its own)."""

    def __init__(self, *args: Any, user=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if user is None or not user.is_secretariat:
            self.fields.pop("state", None)
        for field in self.fields.values():
            if isinstance(field.widget, forms.Textarea):
                field.widget.attrs.setdefault("rows", 5)
                field.widget.attrs.setdefault("maxlength", TEXT_LIMIT)

    def clean_links(self) -> str:
        return clean_links(self.cleaned_data.get("links", ""))


class InitiativeForm(EntryForm):
    class Meta:
        model = Initiative
        fields = ["title", "scope", "state", "states", "organisations", "description", "links",
                  "themes", "start_date", "end_date", "progress", "language"]
        widgets = {"start_date": DATE, "end_date": DATE, "description": forms.Textarea,
                   "links": forms.Textarea(attrs={"rows": 3}),
                   "states": forms.SelectMultiple(attrs={"size": 8})}

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start_date"), data.get("end_date")
        if start and end and end < start:
            self.add_error("end_date", _("The end is before the start."))
        return data


class GoodPracticeForm(EntryForm):
    class Meta:
        model = GoodPractice
        fields = ["measure", "state", "problem", "results", "links", "clause", "language"]
        widgets = {"links": forms.Textarea(attrs={"rows": 3})}


class CirtTeamForm(EntryForm):
    class Meta:
        model = CirtTeam
        formfield_callback = https_urls
        fields = ["name", "state", "constituency", "established", "host_organisation", "email",
                  "phone", "hours", "time_zone", "pgp_key", "website", "services",
                  "first_member", "language"]
        widgets = {"established": DATE,
                   "pgp_key": forms.Textarea(attrs={"rows": 8, "class": "mono",
                                                    "maxlength": pgp.MAX_KEY_BYTES})}
        help_texts = {"time_zone": _("An IANA time zone, for example America/Havana."),
                      "pgp_key": _("ASCII-armoured public key block.")}

    def clean_time_zone(self) -> str:
        value = (self.cleaned_data.get("time_zone") or "").strip()
        if value and value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Not a known IANA time zone."))
        return value

    def clean_pgp_key(self) -> str:
        value = (self.cleaned_data.get("pgp_key") or "").strip()
        if value:
            try:
                pgp.parse_public_key(value)
            except pgp.PgpKeyError as exc:
                raise forms.ValidationError(
                    _("The PGP key was refused: %(reason)s") % {"reason": exc}) from None
        return value


class ResourceForm(EntryForm):
    class Meta:
        model = Resource
        formfield_callback = https_urls
        fields = ["title", "kind", "state", "description", "url", "provider", "licence",
                  "language"]


FORMS: dict[str, type[EntryForm]] = {
    Initiative.KIND: InitiativeForm, GoodPractice.KIND: GoodPracticeForm,
    CirtTeam.KIND: CirtTeamForm, Resource.KIND: ResourceForm,
}


def translation_form(entry: GatewayEntry, data=None) -> forms.Form:
    """A form for the entry's translatable fields in another official language."""
    fields: dict[str, forms.Field] = {
        "language": forms.ChoiceField(label=_("language"), choices=[
            (c, label) for c, label in LANGUAGES if c != entry.language])}
    for name in entry.TRANSLATABLE:
        model_field = entry._meta.get_field(name)
        limit = getattr(model_field, "max_length", None) or TEXT_LIMIT
        widget = forms.Textarea(attrs={"rows": 4}) if limit > 200 else forms.TextInput
        fields[name] = forms.CharField(label=model_field.verbose_name, max_length=limit,
                                       required=False, widget=widget)
    form_class = type("TranslationForm", (forms.Form,), fields)
    return form_class(data)


class ModerationForm(forms.Form):
    message = forms.CharField(label=_("message"), required=False, max_length=TEXT_LIMIT,
                              widget=forms.Textarea(attrs={"rows": 3}))
