from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from sentinelle.reports.options import DEFAULT_AGENDA_ITEM, DEFAULT_DOCUMENT, FORMATS

LANGUAGE_CHOICES = [("en", _("English")), ("fr", _("French")), ("es", _("Spanish")),
                    ("ar", _("Arabic")), ("zh-hans", _("Chinese")), ("ru", _("Russian"))]
FORMAT_LABELS = {"pdf": "PDF", "docx": "DOCX (Word)", "html": "HTML"}


class ReportForm(forms.Form):
    year = forms.IntegerField(label=_("Year of the incidents"), min_value=1990, max_value=2100)
    lang = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES)
    fmt = forms.ChoiceField(label=_("Format"), choices=[(f, FORMAT_LABELS[f]) for f in FORMATS])
    council_year = forms.IntegerField(label=_("Council session year"), required=False,
                                      help_text=_("Default: the year after the incidents."))
    session = forms.CharField(label=_("Session"), required=False, max_length=120,
                              help_text=_("Printed after “Council YYYY”, e.g. "
                                          "“Geneva, 10-20 June”."))
    agenda_item = forms.CharField(label=_("Agenda item"), initial=DEFAULT_AGENDA_ITEM,
                                  max_length=20)
    document_number = forms.IntegerField(label=_("Document number"), min_value=1,
                                         initial=DEFAULT_DOCUMENT)
    date = forms.DateField(label=_("Date on the cover"), required=False,
                           widget=forms.DateInput(attrs={"type": "date"}),
                           help_text=_("Default: the day the report is produced."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].initial = dt.date.today().year
