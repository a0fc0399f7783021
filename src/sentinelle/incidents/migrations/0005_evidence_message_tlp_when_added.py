"""Evidence and messages record the TLP and named analysts of the version current when they were
added (issue 11, finding 5). Existing rows get those of the version that was current at their
creation time, or the report's current ones when that cannot be determined."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TLP_CHOICES = [("clear", "TLP:CLEAR"), ("green", "TLP:GREEN"), ("amber", "TLP:AMBER"),
               ("amber+strict", "TLP:AMBER+STRICT"), ("red", "TLP:RED")]
TLPS = {value for value, _label in TLP_CHOICES}


def _era(apps, incident, at):
    """The TLP and named analysts' ids of the version current at `at`."""
    IncidentVersion = apps.get_model("incidents", "IncidentVersion")
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    version = (IncidentVersion.objects.filter(incident_id=incident.pk, created_at__lte=at)
               .order_by("-number").first())
    if version is not None and version.content.get("tlp") in TLPS:
        names = version.content.get("named_analysts") or []
        return (version.content["tlp"],
                list(User.objects.filter(username__in=names).values_list("pk", flat=True)))
    return incident.tlp, list(incident.named_analysts.values_list("pk", flat=True))


def record_eras(apps, schema_editor):
    for name, when in (("Evidence", "uploaded_at"), ("Message", "created_at")):
        model = apps.get_model("incidents", name)
        for item in model.objects.select_related("incident").iterator(chunk_size=500):
            tlp, analysts = _era(apps, item.incident, getattr(item, when))
            model.objects.filter(pk=item.pk).update(tlp=tlp)
            item.named_analysts.set(analysts)


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_sharinggroup'),
        ('incidents', '0004_taxonomy_six_languages'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='evidence',
            name='named_analysts',
            field=models.ManyToManyField(blank=True, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='named Secretariat analysts when attached'),
        ),
        migrations.AddField(
            model_name='evidence',
            name='tlp',
            field=models.CharField(choices=TLP_CHOICES, default='red', max_length=12, verbose_name='TLP when attached'),
        ),
        migrations.AddField(
            model_name='message',
            name='named_analysts',
            field=models.ManyToManyField(blank=True, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='named Secretariat analysts when written'),
        ),
        migrations.AddField(
            model_name='message',
            name='tlp',
            field=models.CharField(choices=TLP_CHOICES, default='red', max_length=12, verbose_name='TLP when written'),
        ),
        migrations.AlterField(
            model_name='incident',
            name='sharing_group',
            field=models.ForeignKey(blank=True, help_text="The group's focal points see the report up to TLP:AMBER, never TLP:AMBER+STRICT or TLP:RED.", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='incidents', to='core.sharinggroup', verbose_name='shared with group'),
        ),
        migrations.RunPython(record_eras, migrations.RunPython.noop, elidable=False),
    ]
