"""Key the audit chain: older entries keep their plain SHA-256, and a keyed marker follows them.

The marker is an HMAC entry whose link covers the last plain entry, so the plain prefix is closed:
verify refuses plain entries after it, and a chain of plain entries with no marker after them.
"""

from django.db import migrations, models
from django.utils import timezone

from sentinelle.core.models.audit import (
    KEYED_MARKER,
    SCHEME_HMAC,
    SCHEME_PLAIN,
    chain_hash,
    entry_payload,
)


def add_marker(apps, schema_editor):
    AuditEntry = apps.get_model("core", "AuditEntry")
    last = AuditEntry.objects.order_by("-seq").first()
    if last is None:    # A new database: every entry will be keyed from the first one.
        return
    from sentinelle.core.audit import audit_key

    marker = AuditEntry(
        seq=last.seq + 1, at=timezone.now(), actor_name="command:migrate", request_id="",
        action=KEYED_MARKER, object_type="core.auditentry", object_id=str(last.seq),
        before=None, after={"plain_entries": last.seq, "plain_head": last.hash},
        prev_hash=last.hash, scheme=SCHEME_HMAC)
    marker.hash = chain_hash(entry_payload(marker), SCHEME_HMAC, audit_key())
    marker.save()


def remove_marker(apps, schema_editor):
    apps.get_model("core", "AuditEntry").objects.filter(action=KEYED_MARKER).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0004_sharinggroup")]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="scheme",
            field=models.CharField(default=SCHEME_PLAIN, editable=False, max_length=16),
            preserve_default=False,
        ),
        migrations.RunPython(add_marker, remove_marker),
    ]
