"""Loading of the shipped reference data: Member States (with names in the six languages)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

# The names ITU uses are the United Nations' short names (UN M49, "official_name_*" columns),
# e.g. "Russian Federation", "Fédération de Russie". UNTERM's short names are ISO-style
# ("Russian Federation (the)"), so they only fill a gap, without the trailing article.
_NAME_COLUMNS = {"en": "official_name_en", "fr": "official_name_fr",
                 "es": "official_name_es", "ar": "official_name_ar",
                 "zh": "official_name_cn", "ru": "official_name_ru"}
_FALLBACK_COLUMNS = {"en": "UNTERM English Short", "fr": "UNTERM French Short",
                     "es": "UNTERM Spanish Short", "ar": "UNTERM Arabic Short",
                     "zh": "UNTERM Chinese Short", "ru": "UNTERM Russian Short"}
_TRAILING_ARTICLE = re.compile(r"\s*\((?:the|le|la|les|l'|l’|el|los|las)\)\s*\**$")
# Where the copied data set departs from the UN's name (checked against UN M49 and ITU's list of
# Member States): its English column says "Ivory Coast", and "Netherlands" where the five other
# languages have the Kingdom's name that the UN adopted in 2023.
_CORRECTIONS = {("CI", "en"): "Côte d’Ivoire", ("NL", "en"): "Netherlands (Kingdom of the)"}


def state_name(source: dict[str, str], alpha2: str, lang: str) -> str:
    """The UN short name of a State in one of the six languages ("" when the data has none)."""
    if (alpha2, lang) in _CORRECTIONS:
        return _CORRECTIONS[(alpha2, lang)]
    official = (source.get(_NAME_COLUMNS[lang]) or "").strip()
    if official:
        return official
    return _TRAILING_ARTICLE.sub("", (source.get(_FALLBACK_COLUMNS[lang]) or "").strip())


def member_state_rows() -> list[dict]:
    """One dict per ITU Member State, ready for MemberState(**row)."""
    with open(DATA / "country-codes.csv", encoding="utf-8") as handle:
        names = {row["ISO3166-1-Alpha-2"]: row for row in csv.DictReader(handle)}
    rows = []
    with open(DATA / "itu_member_states_draft.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["itu_status"] != "Member State":
                continue
            source = names.get(row["iso_alpha2"], {})
            entry = {
                "alpha2": row["iso_alpha2"],
                "alpha3": row["iso_alpha3"],
                "itu_code": row["itu_country_code"].strip(),
                "itu_d_region": row["itu_d_region_compiled"].strip(),
                "admin_region": row["itu_admin_region_verified"].strip(),
            }
            for lang in _NAME_COLUMNS:
                entry[f"name_{lang}"] = state_name(source, row["iso_alpha2"], lang)
            entry["name_en"] = entry["name_en"] or row["name_unterm_en_short"]
            rows.append(entry)
    return rows
