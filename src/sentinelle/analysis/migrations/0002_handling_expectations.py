"""Expected handling times per category, seeded with defaults the Secretariat then adjusts.

Defaults (hours from submission; README, *Expected handling times*):

| category                  | acknowledge | analyse (close) |
|---------------------------|-------------|-----------------|
| routing-disruption        | 8           | 120 (5 days)    |
| access-denial             | 24          | 240 (10 days)   |
| trust-security            | 24          | 360 (15 days)   |
| interception-surveillance | 48          | 720 (30 days)   |
| other, and any category   | 48          | 720 (30 days)   |
| an instance added itself  |             |                 |

Routing disruption is fastest because its evidence (routing tables, RIS feeds) is overwritten
within days; surveillance cases rest on documents that take longest to assess.
"""

import django.core.validators
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

DEFAULTS = {
    "routing-disruption": (8, 120),
    "access-denial": (24, 240),
    "trust-security": (24, 360),
    "interception-surveillance": (48, 720),
}
FALLBACK = (48, 720)


def seed(apps, schema_editor):
    Category = apps.get_model("incidents", "Category")
    HandlingExpectation = apps.get_model("analysis", "HandlingExpectation")
    for category in Category.objects.all():
        acknowledge, analyse = DEFAULTS.get(category.code, FALLBACK)
        HandlingExpectation.objects.get_or_create(category=category, defaults={
            "acknowledge_hours": acknowledge, "analyse_hours": analyse})


class Migration(migrations.Migration):

    dependencies = [
        ('analysis', '0001_initial'),
        # After the taxonomy migration, so the seed finds the shipped categories.
        ('incidents', '0002_taxonomy'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='HandlingExpectation',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('acknowledge_hours', models.PositiveIntegerField(validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(8760)], verbose_name='acknowledge within (hours)')),
                ('analyse_hours', models.PositiveIntegerField(help_text="Hours from submission to the report's closure.", validators=[django.core.validators.MinValueValidator(1), django.core.validators.MaxValueValidator(8760)], verbose_name='analyse within (hours)')),
                ('updated_at', models.DateTimeField(auto_now=True, verbose_name='changed')),
                ('category', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='handling_expectation', to='incidents.category', verbose_name='category')),
                ('updated_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='changed by')),
            ],
            options={
                'verbose_name': 'expected handling time',
                'verbose_name_plural': 'expected handling times',
                'ordering': ['category__position', 'category__code'],
                'constraints': [models.CheckConstraint(condition=models.Q(('analyse_hours__gte', models.F('acknowledge_hours'))), name='handling_analyse_not_before_acknowledge')],
            },
        ),
        migrations.RunPython(seed, migrations.RunPython.noop),
    ]
