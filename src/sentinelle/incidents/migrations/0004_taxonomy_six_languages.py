"""Add the Arabic, Chinese and Russian labels of the shipped taxonomy to existing rows.

0002_taxonomy only creates missing rows, so an instance migrated before these languages were
added keeps its old labels; this migration merges the shipped labels of every language into
the rows of the shipped codes, leaving labels an instance added itself untouched. Chinese is
stored under "zh" (the key `_label` derives from "zh-hans").
"""

from django.db import migrations

NEW_LANGUAGES = ("ar", "zh", "ru")


def _merge(row, labels):
    merged = dict(row.labels or {})
    changed = False
    for lang in NEW_LANGUAGES:
        if labels.get(lang) and not merged.get(lang):
            merged[lang] = labels[lang]
            changed = True
    if changed:
        row.labels = merged
        row.save(update_fields=["labels"])


def add_labels(apps, schema_editor):
    from sentinelle.incidents.reference import taxonomy

    Category = apps.get_model("incidents", "Category")
    RsitClass = apps.get_model("incidents", "RsitClass")
    RsitType = apps.get_model("incidents", "RsitType")
    data = taxonomy()
    for item in data["categories"]:
        for row in Category.objects.filter(code=item["code"]):
            _merge(row, item["labels"])
    for item in data["rsit"]:
        for row in RsitClass.objects.filter(code=item["code"]):
            _merge(row, item["labels"])
        for entry in item["types"]:
            for row in RsitType.objects.filter(rsit_class__code=item["code"], code=entry["code"]):
                _merge(row, entry["labels"])


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_stix_id_sharing_group")]
    operations = [migrations.RunPython(add_labels, migrations.RunPython.noop)]
