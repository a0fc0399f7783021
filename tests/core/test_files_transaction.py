"""Issue 20, point 1: a stored file follows the transaction that wrote its row.

An import (or any writer) that fails or is rolled back must leave no file behind; a committed
one leaves exactly its files, under the names its rows hold, readable at once. Three users, as
everywhere: Cuba's focal point writes, Switzerland's never reads Cuba's evidence, the analyst
does."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from sentinelle.core.files import transactional
from sentinelle.exchange.formats import ooni
from sentinelle.exchange.importer import import_records
from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence, Incident
from tests.conftest import file_report
from tests.core.test_storage_s3 import bucket, moto_endpoint, objects  # noqa: F401 - fixtures
from tests.format_helpers import OONI_MEASUREMENT

MEASUREMENT = json.loads(OONI_MEASUREMENT.read_text())
# A transactional test flushes the tables; the migrated reference data (Member States) is put
# back afterwards for the tests that follow.
committing = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def files_under(root: Path) -> list[Path]:
    root = Path(root)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def ooni_lines(count: int, bad: int | None = None) -> bytes:
    """`count` measurements, each of another URL (so each is a report with one evidence file);
    line `bad` (1-based) has a start time no importer accepts."""
    out = b""
    for number in range(1, count + 1):
        changes = {"input": f"https://site{number}.example/"}
        if number == bad:
            changes["measurement_start_time"] = "yesterday"
        out += json.dumps({**MEASUREMENT, **changes}).encode() + b"\n"
    return out


def run_ooni(user, data: bytes, **options):
    return import_records(ooni.parse(io.BytesIO(data), name="m.jsonl"), user=user,
                          source_name="m.jsonl", **options)


@committing
def test_an_ooni_import_whose_sixth_line_fails_leaves_no_file_and_no_row(alice, bob, charlie,
                                                                         settings):
    summary = run_ooni(alice, ooni_lines(10, bad=6))
    assert not summary.ok and [r.where for r in summary.rejected] == ["line 6"]
    assert not Evidence.objects.exists() and not Incident.objects.exists()
    assert files_under(settings.MEDIA_ROOT) == []


@committing
def test_a_committed_ooni_import_leaves_exactly_its_files_under_their_names(alice, bob, charlie,
                                                                           settings):
    summary = run_ooni(alice, ooni_lines(5))
    assert summary.ok and summary.reports_created == 5
    media = Path(settings.MEDIA_ROOT)
    names = sorted(Evidence.objects.values_list("file", flat=True))
    assert len(names) == 5
    assert files_under(media) == sorted(media / name for name in names)


def test_an_ooni_import_rolled_back_by_its_caller_leaves_no_file(alice, bob, charlie, settings):
    # The import itself succeeds; the transaction around it (a job, a request) does not.
    with pytest.raises(RuntimeError), transaction.atomic():
        summary = run_ooni(alice, ooni_lines(5))
        assert summary.ok and Evidence.objects.count() == 5
        raise RuntimeError("the caller fails after the import")
    assert files_under(settings.MEDIA_ROOT) == []


def test_an_attach_inside_a_transaction_that_rolls_back_leaves_no_file(alice, bob, charlie,
                                                                       settings):
    incident = file_report(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.attach_evidence(incident, alice, SimpleUploadedFile("a.log", b"evidence"))
        assert len(files_under(settings.MEDIA_ROOT)) == 1
        raise RuntimeError
    assert files_under(settings.MEDIA_ROOT) == []
    assert not incident.evidence.exists()


def test_inside_the_transaction_the_file_is_pending_yet_readable(alice, bob, charlie, settings):
    incident = file_report(alice)
    with transaction.atomic():
        item = services.attach_evidence(incident, alice, SimpleUploadedFile("a.log", b"bytes"))
        # Not under its final name until the commit; read through the storage all the same.
        assert not (Path(settings.MEDIA_ROOT) / item.file.name).exists()
        assert [p.relative_to(settings.MEDIA_ROOT).parts[0]
                for p in files_under(settings.MEDIA_ROOT)] == [transactional.PENDING]
        assert default_storage.exists(item.file.name)
        with item.file.open("rb") as handle:
            assert handle.read() == b"bytes"
        assert item.file.size == 5


@committing
def test_a_committed_attach_leaves_exactly_its_file_and_downloads(alice, bob, charlie, settings):
    incident = file_report(alice)
    item = services.attach_evidence(incident, alice, SimpleUploadedFile("a.log", b"kept"))
    with transaction.atomic():
        kept = services.attach_evidence(incident, alice, SimpleUploadedFile("b.log", b"kept2"))
        with pytest.raises(RuntimeError), transaction.atomic():   # a savepoint rolls back
            services.attach_evidence(incident, alice, SimpleUploadedFile("c.log", b"gone"))
            raise RuntimeError
    media = Path(settings.MEDIA_ROOT)
    assert files_under(media) == sorted([media / item.file.name, media / kept.file.name])
    for user, status in ((alice, 200), (charlie, 200), (bob, 404)):
        web = Client()
        web.force_login(user)
        answer = web.get(f"/evidence/{kept.pk}/download/")
        assert answer.status_code == status
        if status == 200:
            assert b"".join(answer.streaming_content) == b"kept2"


@committing
def test_a_failing_commit_hook_does_not_lose_a_committed_file(alice, bob, charlie, settings,
                                                              caplog):
    """A callback run on commit before the file's own raises: Django drops the rest. The row is
    committed, so the file must not be removed as if rolled back."""
    incident = file_report(alice)

    def hook() -> None:
        raise OSError("the mail server is down")

    caplog.set_level(logging.CRITICAL)
    with pytest.raises(OSError, match="mail server"), transaction.atomic():
        transaction.on_commit(hook)
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("a.log", b"committed"))
    item = Evidence.objects.get(pk=item.pk)
    with item.file.open("rb") as handle:
        assert handle.read() == b"committed"


def test_in_a_bucket_a_rolled_back_attach_leaves_no_object_and_a_committed_one_its_own(
        alice, bob, charlie, bucket, django_capture_on_commit_callbacks):  # noqa: F811
    incident = file_report(alice)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.attach_evidence(incident, alice, SimpleUploadedFile("a.log", b"gone"))
        assert [key.split("/", 1)[0] for key in objects(bucket)] == [transactional.PENDING]
        raise RuntimeError
    assert objects(bucket) == {}
    with django_capture_on_commit_callbacks(execute=True):   # as a committed request
        item = services.attach_evidence(incident, alice, SimpleUploadedFile("b.log", b"kept"))
    assert objects(bucket) == {item.file.name: b"kept"}
    web = Client()
    web.force_login(charlie)
    assert b"".join(web.get(f"/evidence/{item.pk}/download/").streaming_content) == b"kept"


@committing
def test_a_move_that_fails_after_the_commit_keeps_the_file_readable_and_reported(
        alice, bob, charlie, settings, monkeypatch, caplog):
    def refuse(self, temp, name):
        raise OSError("disk full")

    monkeypatch.setattr(transactional.TransactionalFileSystemStorage, "_promote", refuse)
    incident = file_report(alice)
    caplog.set_level(logging.CRITICAL)
    with transaction.atomic():   # the commit itself succeeds; the failure is logged
        item = services.attach_evidence(incident, alice, SimpleUploadedFile("a.log", b"safe"))
    monkeypatch.undo()
    with Evidence.objects.get(pk=item.pk).file.open("rb") as handle:
        assert handle.read() == b"safe"
    out = io.StringIO()
    call_command("files", "check", "--repair", stdout=out)   # repaired all: exits 0
    assert "committed, still pending" in out.getvalue()
    assert (Path(settings.MEDIA_ROOT) / item.file.name).read_bytes() == b"safe"
