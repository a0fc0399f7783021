"""Attacker pass on `sentinelle files check [--repair]` (issue 20, session 30): an operator runs
it over a media folder that someone else (a mounted share, another process, a bucket key) has
put things in. It must never remove anything outside MEDIA_ROOT, never loop, never crash on a
name, and its report must not be spoofable by a file's name. Three users as everywhere."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.core.test_files_check import run


def old(path: Path) -> Path:
    past = time.time() - 3 * 3600
    os.utime(path, (past, past), follow_symlinks=False)
    return path


@pytest.fixture
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    (root / "evidence").mkdir(parents=True)
    settings.MEDIA_ROOT = str(root)
    from django.core.files.storage import storages

    storages._storages.pop("default", None)   # the backend reads MEDIA_ROOT when built
    yield root
    storages._storages.pop("default", None)


def test_repair_never_removes_a_file_outside_media_root_through_a_symlinked_folder(
        alice, bob, charlie, media, tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    precious = outside / "precious.db"
    precious.write_bytes(b"not the platform's")
    old(precious)
    (media / "evidence" / "link").symlink_to(outside, target_is_directory=True)
    run("--repair", "--grace", "0")
    assert precious.read_bytes() == b"not the platform's"


def test_repair_never_removes_the_target_of_a_symlinked_file(alice, bob, charlie, media,
                                                             tmp_path):
    target = tmp_path / "target.txt"
    target.write_bytes(b"kept")
    old(target)
    folder = media / "evidence" / "ab"
    folder.mkdir()
    old((folder / "x").symlink_to(target) or folder / "x")
    run("--repair", "--grace", "0")
    assert target.read_bytes() == b"kept"


def test_a_top_folder_kept_on_another_disk_through_a_link_is_still_checked(alice, bob, charlie,
                                                                           media, tmp_path):
    """The operator's own layout (evidence on a larger disk): the link is MEDIA_ROOT/evidence
    itself, which the platform does not make, so it is followed."""
    disk = tmp_path / "big-disk"
    (disk / "ab").mkdir(parents=True)
    (disk / "ab" / "orphan").write_bytes(b"no row")
    old(disk / "ab" / "orphan")
    (media / "evidence").rmdir()
    (media / "evidence").symlink_to(disk, target_is_directory=True)
    status, out = run("--repair", "--grace", "0")
    assert status == 0 and "evidence/ab/orphan" in out and "Repaired: 1." in out
    assert not (disk / "ab" / "orphan").exists()


def test_a_symlink_loop_does_not_crash_the_command(alice, bob, charlie, media):
    (media / "evidence" / "loop").symlink_to(media / "evidence", target_is_directory=True)
    (media / "evidence" / "aa").mkdir()
    orphan = media / "evidence" / "aa" / "orphan"
    orphan.write_bytes(b"no row")
    status, out = run()
    assert status == 1 and "evidence/aa/orphan" in out


@pytest.mark.parametrize("spoof", [
    "a\nfile, no row  evidence-zz-forged  -  3 h  --repair would remove it",
    "a\rSHA-256 differs  evidence-zz-forged",
    "a\u202egol.exe",
    "a\x1b[2Kforged",
])
def test_a_file_name_cannot_add_or_disguise_a_line_of_the_report(alice, bob, charlie, media,
                                                                  spoof):
    folder = media / "evidence" / "ab"
    folder.mkdir()
    (folder / spoof).write_bytes(b"no row")
    status, out = run()
    assert status == 1
    table = [line for line in out.splitlines() if line.startswith(("file, no row",
                                                                   "SHA-256 differs"))]
    assert len(table) == 1, out      # one finding, one line
    for char in "\r\x1b\u202e":   # no line drawn over, no colour, no text reversed
        assert char not in out, repr(out)
    # The JSON report keeps the name exactly (escaped by JSON itself).
    status, out = run("--format", "json")
    names = [f["name"] for f in json.loads(out)["findings"]]
    assert names == [f"evidence/ab/{spoof}"]


def test_a_name_that_is_not_utf8_is_reported_and_repaired_without_a_crash(alice, bob, charlie,
                                                                          media):
    folder = media / "evidence" / "ab"
    folder.mkdir()
    raw = os.path.join(os.fsencode(folder), b"bad\xff\xfename")
    with open(raw, "wb") as handle:
        handle.write(b"no row")
    past = time.time() - 3 * 3600
    os.utime(raw, (past, past))
    status, out = run()
    assert status == 1 and "evidence/ab/bad\\xff\\xfename" in out   # its bytes, shown
    status, out = run("--repair", "--grace", "0")
    assert status == 0 and "Repaired: 1." in out
    assert not os.path.exists(raw)


def test_a_300_character_name_is_reported_whole(alice, bob, charlie, media):
    folder = media / "evidence" / "ab"
    folder.mkdir()
    name = "n" * 250   # the longest a Linux file name may be is 255 bytes
    (folder / name).write_bytes(b"no row")
    status, out = run()
    assert status == 1 and f"evidence/ab/{name}" in out


@pytest.mark.xfail(strict=True, reason=(
    "files check holds every listed name (and every row's name) in memory to compare them: "
    "about 370 bytes a file when all are findings (20,000 files: 7.5 MB), so 1M files is "
    "~370 MB. Streaming needs the rows and the listing in one order (or a query per folder "
    "on an indexed name), not a small local change."))
def test_checking_a_large_folder_keeps_memory_flat(alice, bob, charlie, media):
    import tracemalloc

    from sentinelle.core.files import check as files_check

    for i in range(20_000):
        folder = media / "evidence" / f"{i % 256:02x}"
        folder.mkdir(exist_ok=True)
        (folder / f"{i:032x}").write_bytes(b"x")
    tracemalloc.start()
    try:
        report = files_check.check()
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.files == 20_000
    assert peak < 2_000_000, f"{peak / 1e6:.1f} MB for 20,000 files"


@pytest.mark.skipif(os.environ.get("DATABASE_URL", "")[:8] not in ("postgres", "postgres:"),
                    reason="a second open transaction beside the test's: PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_repair_leaves_the_pending_file_of_a_transaction_still_open(alice, bob, charlie, media,
                                                                    django_capture_on_commit_callbacks):
    """An import longer than --grace (or --grace 0 during one): its pending files have no row
    yet because its transaction has not committed. Removing them makes its rows, once
    committed, name files that are gone."""
    import psycopg
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection

    from sentinelle.core.files.transactional import pending_name
    from sentinelle.incidents import services
    from tests.conftest import file_report

    item = services.attach_evidence(file_report(alice), alice,
                                    SimpleUploadedFile("a.log", b"first"))
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    table = item._meta.db_table
    later = "evidence/ab/" + "2" * 32
    with psycopg.connect(**params) as other:   # the import, in its own transaction
        other.execute(f"UPDATE {table} SET file = %s WHERE id = %s",  # noqa: S608
                      (later, item.pk))
        written = media / pending_name(later)
        written.parent.mkdir(parents=True, exist_ok=True)
        written.write_bytes(b"the import's evidence")
        run("--repair", "--grace", "0")
        other.commit()
    assert written.exists(), "the committed row's file was removed by the repair"
