"""A job keeps its input's size and SHA-256; the input file itself is removed when the job ends.

Inputs of jobs that ended before this change are removed here, their size and digest recorded
first (issue 11, finding 12)."""

import hashlib

from django.db import migrations, models


def forget_finished_inputs(apps, schema_editor):
    Job = apps.get_model("core", "Job")
    finished = Job.objects.filter(status__in=("succeeded", "failed")).exclude(input="")
    for job in finished.iterator():
        digest, size = hashlib.sha256(), 0
        try:
            with job.input.open("rb") as stream:
                for chunk in iter(lambda: stream.read(1024 * 1024), b""):  # noqa: B023
                    digest.update(chunk)
                    size += len(chunk)
        except OSError:
            continue   # already gone, or unreadable: leave the row as it is
        job.input_size, job.input_sha256 = size, digest.hexdigest()
        job.input.delete(save=False)
        job.save(update_fields=["input", "input_size", "input_sha256"])


class Migration(migrations.Migration):

    dependencies = [
        ("core", "0005_audit_hmac_scheme"),
    ]

    operations = [
        migrations.AddField(
            model_name="job",
            name="input_sha256",
            field=models.CharField(blank=True, max_length=64, verbose_name="input SHA-256"),
        ),
        migrations.AddField(
            model_name="job",
            name="input_size",
            field=models.PositiveBigIntegerField(blank=True, null=True,
                                                 verbose_name="input size"),
        ),
        migrations.RunPython(forget_finished_inputs, migrations.RunPython.noop),
    ]
