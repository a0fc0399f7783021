"""Submission receipts, and files sent with a message of the thread (issue 12, points 12, 13).

Reports submitted before this migration get no receipt: a receipt states what was sent at the
moment of submission, which cannot be recomputed honestly afterwards."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

PROTECT = django.db.models.deletion.PROTECT


class Migration(migrations.Migration):

    dependencies = [
        ('incidents', '0005_evidence_message_tlp_when_added'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='evidence',
            name='message',
            field=models.ForeignKey(blank=True, null=True, on_delete=PROTECT,
                                    related_name='files', to='incidents.message',
                                    verbose_name='message'),
        ),
        migrations.CreateModel(
            name='SubmissionReceipt',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name='ID')),
                ('submitted_at', models.DateTimeField(verbose_name='submitted')),
                ('content_sha256', models.CharField(max_length=64,
                                                    verbose_name='SHA-256 of the version')),
                ('evidence', models.JSONField(blank=True, default=list,
                                              verbose_name='evidence submitted')),
                ('incident', models.ForeignKey(on_delete=PROTECT, related_name='receipts',
                                               to='incidents.incident')),
                ('submitted_by', models.ForeignKey(on_delete=PROTECT, related_name='+',
                                                   to=settings.AUTH_USER_MODEL,
                                                   verbose_name='submitted by')),
                ('version', models.ForeignKey(on_delete=PROTECT, related_name='+',
                                              to='incidents.incidentversion',
                                              verbose_name='version submitted')),
            ],
            options={
                'verbose_name': 'submission receipt',
                'verbose_name_plural': 'submission receipts',
                'ordering': ['submitted_at', 'id'],
            },
        ),
    ]
