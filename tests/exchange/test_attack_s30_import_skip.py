"""Attacker pass on imports read ahead and audited in one batch (issue 20, session 30): an
import that keeps every valid report (--on-invalid skip) and refuses one after part of it was
written (its report row, then an evidence file over the size limit) must leave nothing of that
report — no row, no file, no audit entry — and a chain that verifies. Run outside a test
transaction, as the job and the command run it (on SQLite through read_ahead). Three users."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.reading import open_records
from sentinelle.incidents.models import Evidence, Incident
from tests.exchange.import_stress import write_ooni


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_report_refused_after_its_row_was_written_leaves_no_trace_in_a_kept_import(
        alice, bob, charlie, settings, tmp_path):
    feed = tmp_path / "feed.jsonl"
    write_ooni(feed, reports=3)
    lines = feed.read_text().splitlines()
    # The second report's measurements grow past the evidence limit: its row is written, then
    # its first evidence file is refused.
    for i in (2, 3):
        measurement = json.loads(lines[i])
        measurement["annotations"] = {"padding": "x" * 200_000}
        lines[i] = json.dumps(measurement)
    settings.EVIDENCE_MAX_BYTES = 150_000
    entries = AuditEntry.objects.count()
    _fmt, records = open_records(io.BytesIO(("\n".join(lines) + "\n").encode()), "ooni",
                                 "feed.jsonl")
    summary = import_records(records, user=alice, on_invalid="skip")
    assert summary.reports_created == 2 and summary.rejected_total == 1
    # Refused at its evidence, after its row: the savepoint path, not the parser's.
    assert "the limit is 150000 bytes" in summary.rejected_list()[0]["reason"]
    kept = set(Incident.objects.values_list("pk", flat=True))
    assert kept == set(summary.created_ids) and len(kept) == 2
    assert Evidence.objects.count() == 4
    assert set(Evidence.objects.values_list("incident_id", flat=True)) == kept
    media = Path(settings.MEDIA_ROOT)
    on_disk = sorted(str(p.relative_to(media)) for p in media.rglob("*") if p.is_file())
    assert on_disk == sorted(Evidence.objects.values_list("file", flat=True))
    assert audit.verify_chain() is None
    written = AuditEntry.objects.filter(seq__gt=0).order_by("seq")[entries:]
    about = {e.object_id for e in written if e.object_type == "incidents.incident"}
    assert about and about <= {str(pk) for pk in kept}, about   # none about the refused one
    assert not Incident.objects.filter(state=bob.state).exists()
