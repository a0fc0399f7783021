from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0003_job")]

    operations = [
        migrations.CreateModel(
            name="SharingGroup",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("name", models.CharField(max_length=120, unique=True, verbose_name="name")),
                ("description", models.TextField(blank=True, verbose_name="description")),
                ("created_at", models.DateTimeField(auto_now_add=True, verbose_name="created")),
                ("states", models.ManyToManyField(related_name="sharing_groups",
                                                  to="core.memberstate",
                                                  verbose_name="Member States")),
            ],
            options={"verbose_name": "sharing group", "verbose_name_plural": "sharing groups",
                     "ordering": ["name"]},
        ),
    ]
