from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sentinelle.core.models import MemberState
from sentinelle.observatory.models import BundleSubmission


class SubmitForm(forms.Form):
    file = forms.FileField(label=_("Evidence bundle (zip)"),
                           help_text=_("A bundle written by “sentinelle probe run --bundle” or "
                                       "“sentinelle routing scan --bundle”, signed."))
    expect = forms.ChoiceField(label=_("Kind"), required=False, choices=[
        ("", _("Detect from the bundle")),
        ("probe", BundleSubmission.Kind.ACCESS.label),
        ("routing", BundleSubmission.Kind.ROUTING.label)])

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
                    "size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES})
        return upload


class IndexFilterForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1990, max_value=2100)
    state = forms.ChoiceField(label=_("Member State"), required=False)
    service = forms.CharField(label=_("Service"), required=False, max_length=255)

    def __init__(self, *args, states: Iterable[MemberState] = (), **kwargs) -> None:
        """``states``: the Member States offered, named in the active language, in its
        alphabetical order (accents aside)."""
        super().__init__(*args, **kwargs)
        named = sorted(((s.alpha2, s.name) for s in states),
                       key=lambda choice: unicodedata.normalize("NFKD", choice[1]).casefold())
        self.fields["state"].choices = [("", _("All")), *named]
