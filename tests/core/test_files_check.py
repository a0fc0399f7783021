"""Issue 20, point 1: `sentinelle files check [--repair]` finds what a failure left and repairs
only what is safe: it never deletes a row, nor a file whose SHA-256 changed (a human decides).
Three users, as everywhere: Cuba's and Switzerland's focal points, and an analyst."""

from __future__ import annotations

import json
import os
import time
import types
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from sentinelle.core.files import check as files_check
from sentinelle.core.files.transactional import pending_name
from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence
from tests.conftest import file_report
from tests.core.test_storage_s3 import bucket, moto_endpoint, objects  # noqa: F401 - fixtures


def attach(user, incident, data: bytes, commit) -> Evidence:
    with commit(execute=True):   # as a committed request: the file under its name
        return services.attach_evidence(incident, user, SimpleUploadedFile("a.log", data))


def run(*args: str) -> tuple[int, str]:
    """The command's exit status and its output."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("files", "check", *args, stdout=out)
    except CommandError:
        return 1, out.getvalue()
    return 0, out.getvalue()


def aged(path: Path, hours: float = 2) -> None:
    past = time.time() - hours * 3600
    os.utime(path, (past, past))


@pytest.fixture
def damaged(alice, bob, charlie, settings, django_capture_on_commit_callbacks):
    """One of each problem, beside a sound evidence file of Switzerland's."""
    media = Path(settings.MEDIA_ROOT)
    mine, theirs = file_report(alice), file_report(bob)
    sound = attach(bob, theirs, b"sound", django_capture_on_commit_callbacks)
    missing = attach(alice, mine, b"gone", django_capture_on_commit_callbacks)
    (media / missing.file.name).unlink()
    changed = attach(alice, mine, b"original", django_capture_on_commit_callbacks)
    (media / changed.file.name).write_bytes(b"altered")
    unmoved = attach(alice, mine, b"committed", django_capture_on_commit_callbacks)
    target = media / pending_name(unmoved.file.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    (media / unmoved.file.name).rename(target)   # as a kill between the commit and the move
    orphan = media / "evidence" / "ab" / ("0" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"no row")
    left = media / pending_name("evidence/cd/" + "1" * 32)
    left.parent.mkdir(parents=True, exist_ok=True)
    left.write_bytes(b"a killed import's")
    aged(orphan)
    aged(left)
    return types.SimpleNamespace(sound=sound, missing=missing, changed=changed,
                                 unmoved=unmoved, orphan=orphan, left=left, media=media)


def test_a_sound_instance_has_nothing_to_report(alice, bob, charlie,
                                                django_capture_on_commit_callbacks):
    attach(alice, file_report(alice), b"evidence", django_capture_on_commit_callbacks)
    status, out = run()
    assert status == 0
    assert "Rows checked: 1; files: 1; SHA-256 recomputed: 1." in out


def test_check_lists_every_problem_and_changes_nothing(damaged):
    before = sorted(p for p in damaged.media.rglob("*") if p.is_file())
    status, out = run("--format", "json")
    assert status == 1
    report = json.loads(out)
    assert report["found"] == {"missing": 1, "mismatch": 1, "unmoved": 1, "orphan": 1,
                               "pending": 1}
    by_kind = {f["kind"]: f for f in report["findings"]}
    assert by_kind["missing"]["row"] == f"incidents.Evidence #{damaged.missing.pk}"
    assert by_kind["mismatch"]["name"] == damaged.changed.file.name
    assert by_kind["unmoved"]["name"] == damaged.unmoved.file.name
    assert by_kind["orphan"]["name"] == "evidence/ab/" + "0" * 32
    assert by_kind["pending"]["name"] == "evidence/cd/" + "1" * 32
    assert by_kind["orphan"]["age"] > 3600
    assert sorted(p for p in damaged.media.rglob("*") if p.is_file()) == before
    # The table names each of them and what --repair would do.
    status, out = run()
    assert status == 1
    assert "--repair would remove it" in out and "left for a human to decide" in out
    assert damaged.changed.file.name in out


def test_repair_moves_and_removes_what_is_safe_and_leaves_the_rest_to_a_human(damaged):
    rows = sorted(Evidence.objects.values_list("pk", "file", "sha256"))
    status, out = run("--repair")
    assert status == 1   # two are left for a human: the missing file and the altered one
    assert "Repaired: 3." in out
    assert not damaged.orphan.exists() and not damaged.left.exists()
    with Evidence.objects.get(pk=damaged.unmoved.pk).file.open("rb") as handle:
        assert handle.read() == b"committed"
    assert (damaged.media / damaged.unmoved.file.name).exists()
    # Never a row removed, never the altered file.
    assert sorted(Evidence.objects.values_list("pk", "file", "sha256")) == rows
    assert (damaged.media / damaged.changed.file.name).read_bytes() == b"altered"
    status, out = run("--format", "json")
    assert json.loads(out)["found"] == {"missing": 1, "mismatch": 1, "unmoved": 0,
                                        "orphan": 0, "pending": 0}


def test_repair_leaves_young_files_a_running_import_may_still_commit(damaged):
    os.utime(damaged.orphan)
    os.utime(damaged.left)
    status, out = run("--repair", "--grace", "30")
    assert damaged.orphan.exists() and damaged.left.exists()
    assert "younger than the grace period" in out
    run("--repair", "--grace", "0")
    assert not damaged.orphan.exists() and not damaged.left.exists()


def test_a_repair_that_fixed_everything_it_found_exits_0(alice, django_capture_on_commit_callbacks,
                                                          settings):
    # A nightly `files check --repair` is a success when nothing is left for a person.
    attach(alice, file_report(alice), b"evidence", django_capture_on_commit_callbacks)
    orphan = Path(settings.MEDIA_ROOT) / "evidence" / "ab" / ("0" * 32)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"no row")
    aged(orphan)
    status, out = run("--repair")
    assert status == 0 and "Repaired: 1." in out and not orphan.exists()


def test_every_file_field_writes_under_a_checked_folder():
    probe = types.SimpleNamespace(sha256="ab" * 32, pk=1, id=1)
    fields = list(files_check.file_fields())
    assert {(m._meta.label, f) for m, f, _h in fields} >= {
        ("incidents.Evidence", "file"), ("incidents.StagedEvidence", "file"),
        ("core.Job", "input"), ("core.Job", "output"), ("reports.CouncilReport", "document")}
    for model, name, _hash in fields:
        upload_to = model._meta.get_field(name).upload_to
        assert callable(upload_to), (model, name)
        assert upload_to(probe, "x.bin").split("/", 1)[0] in files_check.FOLDERS, (model, name)


def test_in_a_bucket_check_and_repair_work_as_on_disk(alice, bob, charlie, bucket,  # noqa: F811
                                                      django_capture_on_commit_callbacks):
    item = attach(alice, file_report(alice), b"sound", django_capture_on_commit_callbacks)
    bucket.put_object(Key="evidence/ab/" + "0" * 32, Body=b"no row")
    bucket.put_object(Key=pending_name("evidence/cd/" + "1" * 32), Body=b"a killed import's")
    status, out = run("--format", "json")
    assert status == 1
    report = json.loads(out)
    assert (report["rows"], report["hashed"]) == (1, 1)
    assert report["found"] == {"missing": 0, "mismatch": 0, "unmoved": 0, "orphan": 1,
                               "pending": 1}
    run("--repair")   # both just written: younger than the grace period, left
    assert len(objects(bucket)) == 3
    run("--repair", "--grace", "0")
    assert objects(bucket) == {item.file.name: b"sound"}
    assert run()[0] == 0


def test_repair_never_removes_a_file_a_row_came_to_name_after_the_check(damaged):
    report = files_check.check()
    orphan = "evidence/ab/" + "0" * 32
    assert orphan in {f.name for f in report.findings if f.kind == files_check.ORPHAN}
    Evidence.objects.filter(pk=damaged.sound.pk).update(file=orphan)   # committed meanwhile
    files_check.repair(report, grace=0)
    assert damaged.orphan.exists()
    assert [f.note for f in report.findings if f.name == orphan] == ["a row names it now"]
