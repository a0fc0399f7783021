"""Loading of the shipped reference data: Member States (with names in the six languages)."""

from __future__ import annotations

import csv
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"

_NAME_COLUMNS = {"en": "UNTERM English Short", "fr": "UNTERM French Short",
                 "es": "UNTERM Spanish Short", "ar": "UNTERM Arabic Short",
                 "zh": "UNTERM Chinese Short", "ru": "UNTERM Russian Short"}
_FALLBACK_COLUMNS = {"en": "official_name_en", "fr": "official_name_fr",
                     "es": "official_name_es", "ar": "official_name_ar",
                     "zh": "official_name_cn", "ru": "official_name_ru"}


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
            for lang, column in _NAME_COLUMNS.items():
                value = (source.get(column) or source.get(_FALLBACK_COLUMNS[lang]) or "").strip()
                entry[f"name_{lang}"] = value
            entry["name_en"] = entry["name_en"] or row["name_unterm_en_short"]
            rows.append(entry)
    return rows
