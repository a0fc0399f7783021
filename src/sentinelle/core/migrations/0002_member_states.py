from django.db import migrations


def load(apps, schema_editor):
    from sentinelle.core.reference import member_state_rows

    MemberState = apps.get_model("core", "MemberState")
    existing = set(MemberState.objects.values_list("alpha2", flat=True))
    MemberState.objects.bulk_create(
        MemberState(**row) for row in member_state_rows() if row["alpha2"] not in existing)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
