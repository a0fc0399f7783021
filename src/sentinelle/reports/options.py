"""What a Council report is asked for: year, language, format and the cover's references."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

LANGUAGES = ("en", "fr", "es", "ar", "zh-hans", "ru")
# Other spellings of a language, mapped to its code in LANGUAGES (the Django language code).
LANGUAGE_ALIASES = {"zh": "zh-hans", "zh_hans": "zh-hans", "zh-cn": "zh-hans", "zh_cn": "zh-hans"}
FORMATS = ("pdf", "docx", "html")
# The letter ITU puts after a document number for each language version.
LANGUAGE_SUFFIX = {"en": "E", "fr": "F", "es": "S", "ar": "A", "zh": "C", "zh-hans": "C",
                   "ru": "R"}
DEFAULT_AGENDA_ITEM = "PL 1.6"
DEFAULT_DOCUMENT = 70


@dataclass(frozen=True)
class ReportOptions:
    """``year`` is the year of the incidents. The report is tabled at the Council session of the
    following year (``council_year``); the document number is ``C<yy>/<number>-<E|F|S>``."""

    year: int
    lang: str = "en"
    fmt: str = "html"
    council_year: int | None = None
    session: str = ""
    agenda_item: str = DEFAULT_AGENDA_ITEM
    document_number: int = DEFAULT_DOCUMENT
    date: dt.date | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        errors = {}
        lang = LANGUAGE_ALIASES.get(str(self.lang).lower(), self.lang)
        object.__setattr__(self, "lang", lang)
        if self.lang not in LANGUAGES:
            errors["lang"] = _("Unknown language “%(value)s”; choose one of %(choices)s.") % {
                "value": self.lang, "choices": ", ".join(LANGUAGES)}
        if self.fmt not in FORMATS:
            errors["fmt"] = _("Unknown format “%(value)s”; choose one of %(choices)s.") % {
                "value": self.fmt, "choices": ", ".join(FORMATS)}
        if not 1990 <= self.year <= 2100:
            errors["year"] = _("The year %(value)s is out of range.") % {"value": self.year}
        if self.document_number < 1:
            errors["document_number"] = _("The document number must be positive.")
        if errors:
            raise ValidationError(errors)

    @property
    def council(self) -> int:
        return self.council_year or self.year + 1

    @property
    def document_date(self) -> dt.date:
        return self.date or dt.date.today()

    @property
    def document_reference(self) -> str:
        """e.g. C27/70-E."""
        return f"C{self.council % 100:02d}/{self.document_number}-{LANGUAGE_SUFFIX[self.lang]}"

    @property
    def file_stem(self) -> str:
        return f"C{self.council % 100:02d}-{self.document_number}-{LANGUAGE_SUFFIX[self.lang]}"

    def as_params(self) -> dict:
        return {"year": self.year, "lang": self.lang, "fmt": self.fmt,
                "council_year": self.council_year, "session": self.session,
                "agenda_item": self.agenda_item, "document_number": self.document_number,
                "date": self.date.isoformat() if self.date else None}

    @classmethod
    def from_params(cls, params: dict) -> ReportOptions:
        data = dict(params)
        if data.get("date"):
            data["date"] = dt.date.fromisoformat(data["date"])
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
