from django.db import migrations


def load(apps, schema_editor):
    from sentinelle.incidents.reference import taxonomy

    Category = apps.get_model("incidents", "Category")
    RsitClass = apps.get_model("incidents", "RsitClass")
    RsitType = apps.get_model("incidents", "RsitType")
    data = taxonomy()
    for position, item in enumerate(data["categories"]):
        Category.objects.get_or_create(code=item["code"], defaults={
            "clause": item["clause"], "labels": item["labels"], "position": position})
    for class_position, item in enumerate(data["rsit"]):
        rsit_class, _ = RsitClass.objects.get_or_create(
            code=item["code"], defaults={"labels": item["labels"], "position": class_position})
        for position, entry in enumerate(item["types"]):
            RsitType.objects.get_or_create(rsit_class=rsit_class, code=entry["code"], defaults={
                "labels": entry["labels"], "description": entry["description"],
                "position": position})


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
