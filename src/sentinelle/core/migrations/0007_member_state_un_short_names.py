"""Stored Member State names become the UN short names ITU uses ("Russian Federation", not
UNTERM's ISO-style "Russian Federation (the)"; "Côte d’Ivoire", not "Ivory Coast"), in the six
languages. A name is replaced only where it is still the one 0002 loaded: a name the
administrator changed stays, as do regions and membership."""

import csv

from django.db import migrations

LANGS = ("en", "fr", "es", "ar", "zh", "ru")
# The columns 0002 read, first choice then fallback (frozen here: reference.py has moved on).
_OLD_COLUMNS = {"en": ("UNTERM English Short", "official_name_en"),
                "fr": ("UNTERM French Short", "official_name_fr"),
                "es": ("UNTERM Spanish Short", "official_name_es"),
                "ar": ("UNTERM Arabic Short", "official_name_ar"),
                "zh": ("UNTERM Chinese Short", "official_name_cn"),
                "ru": ("UNTERM Russian Short", "official_name_ru")}


def _old_names() -> dict[tuple[str, str], str]:
    from sentinelle.core.reference import DATA

    with open(DATA / "country-codes.csv", encoding="utf-8") as handle:
        rows = {row["ISO3166-1-Alpha-2"]: row for row in csv.DictReader(handle)}
    old = {}
    for alpha2, row in rows.items():
        for lang, (first, fallback) in _OLD_COLUMNS.items():
            old[(alpha2, lang)] = (row.get(first) or row.get(fallback) or "").strip()
    return old


def rename(apps, schema_editor):
    from sentinelle.core.reference import member_state_rows

    MemberState = apps.get_model("core", "MemberState")
    new = {row["alpha2"]: row for row in member_state_rows()}
    old = _old_names()
    changed = []
    for state in MemberState.objects.filter(alpha2__in=new):
        touched = False
        for lang in LANGS:
            field = f"name_{lang}"
            stored, wanted = getattr(state, field), new[state.alpha2][field]
            if stored != wanted and stored in (old.get((state.alpha2, lang)), ""):
                setattr(state, field, wanted)
                touched = True
        if touched:
            changed.append(state)
    MemberState.objects.bulk_update(changed, [f"name_{lang}" for lang in LANGS])


class Migration(migrations.Migration):
    dependencies = [("core", "0006_job_input_digest")]
    operations = [migrations.RunPython(rename, migrations.RunPython.noop)]
