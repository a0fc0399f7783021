from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from sentinelle.core.forms import SentLengthCharField
from sentinelle.core.models import MemberState
from sentinelle.observatory import bundles, live


class SubmitForm(forms.Form):
    file = forms.FileField(label=_("Evidence bundle (zip)"),
                           help_text=_("A bundle written by “sentinelle probe run --bundle” or "
                                       "“sentinelle routing scan --bundle”, signed."))
    expect = forms.ChoiceField(label=_("Kind"), required=False, choices=lambda: [
        ("", _("Detect from the bundle")), *bundles.expect_choices()])

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.EVIDENCE_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s bytes; the limit is %(limit)s bytes.") % {
                    "size": upload.size, "limit": settings.EVIDENCE_MAX_BYTES})
        return upload


SERVICE_MAX_LENGTH = 255


class IndexFilterForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=1990, max_value=2100)
    state = forms.ChoiceField(label=_("Member State"), required=False)
    # The length sent is counted, as the API schema's maxLength says.
    service = SentLengthCharField(label=_("Service"), required=False,
                                  max_length=SERVICE_MAX_LENGTH)

    def __init__(self, *args, states: Iterable[MemberState] = (), **kwargs) -> None:
        """``states``: the Member States offered, named in the active language, in its
        alphabetical order (accents aside)."""
        super().__init__(*args, **kwargs)
        named = sorted(((s.alpha2, s.name) for s in states),
                       key=lambda choice: unicodedata.normalize("NFKD", choice[1]).casefold())
        self.fields["state"].choices = [("", _("All")), *named]


class WatchForm(forms.Form):
    """A State's routing watch list, pasted as YAML; checked with the scanner's own reader."""

    yaml = forms.CharField(
        label=_("Watch list (YAML)"), strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "cols": 80, "spellcheck": "false",
                                     "class": "code", "dir": "ltr", "wrap": "off"}),
        help_text=_("The prefixes and AS numbers of your State, as “sentinelle routing scan "
                    "--watch” reads them. Only your State's code may appear under “states”."))

    def __init__(self, *args, state: MemberState, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.state = state

    def clean_yaml(self) -> str:
        # A browser sends a textarea's line breaks as CRLF; the file the monitor reads has LF.
        text = self.cleaned_data["yaml"].replace("\r\n", "\n")
        if not text.strip():
            raise forms.ValidationError(_("This field is required."), code="required")
        try:
            live.check_watch(text, self.state)
        except live.WatchInvalid as exc:
            raise forms.ValidationError(str(exc)) from None
        return text
