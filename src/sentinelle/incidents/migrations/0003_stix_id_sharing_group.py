import uuid

import django.db.models.deletion
from django.db import migrations, models

import sentinelle.incidents.models.reports


def give_stix_ids(apps, schema_editor):
    Incident = apps.get_model("incidents", "Incident")
    for incident in Incident.objects.filter(stix_id__isnull=True).only("pk"):
        Incident.objects.filter(pk=incident.pk).update(stix_id=f"incident--{uuid.uuid4()}")


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0004_sharinggroup"),
        ("incidents", "0002_taxonomy"),
    ]

    operations = [
        migrations.AddField(
            model_name="incident",
            name="stix_id",
            field=models.CharField(max_length=80, null=True, verbose_name="STIX identifier"),
        ),
        migrations.RunPython(give_stix_ids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="incident",
            name="stix_id",
            field=models.CharField(
                default=sentinelle.incidents.models.reports.new_stix_id,
                help_text="Stable identity across instances: exports, TAXII and federation use it.",
                max_length=80, unique=True, verbose_name="STIX identifier"),
        ),
        migrations.AddField(
            model_name="incident",
            name="sharing_group",
            field=models.ForeignKey(
                blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                related_name="incidents", to="core.sharinggroup",
                help_text="The group's focal points see the report whatever its TLP below RED.",
                verbose_name="shared with group"),
        ),
    ]
