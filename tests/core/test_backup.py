"""Issue 13, point 3: backups that restore.

A backup made while the platform holds reports, evidence files and audit entries restores into an
empty data directory and database, where `sentinelle audit verify` passes and every evidence file
has the SHA-256 recorded when it was uploaded. A backup that was altered is refused, naming the
file, before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from sentinelle.core import audit
from sentinelle.core.instance_keys import load_or_create_secret
from sentinelle.incidents import services
from tests.browser import browser_fixtures
from tests.conftest import file_report

# Transactional: pg_dump and the online backup read what is committed. The migrations' reference
# data is put back after the module (see tests/browser/browser_fixtures.py).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
_reference_data_stays = browser_fixtures._reference_data_stays

FILES = {"pcap-excerpt.txt": b"GET / HTTP/1.1\r\nHost: portal.example\r\n" * 50,
         "botnet-sample.bin": bytes(range(256)) * 40,
         "note.txt": "Rapport préliminaire — تقرير".encode()}


def _clean_env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items()
           if not (name.startswith("SENTINELLE_") or name in ("DATABASE_URL",
                                                              "DJANGO_SETTINGS_MODULE"))}
    env["SENTINELLE_DATA_DIR"] = str(data_dir)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def sentinelle(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The `sentinelle` command in a process of its own, configured only by `env`."""
    return subprocess.run([sys.executable, "-m", "sentinelle.cli", *args], env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def instance(settings, tmp_path, alice, bob, charlie):
    """A running instance with its own data directory, keys, reports, evidence and audit trail."""
    settings.DATA_DIR = tmp_path / "data"
    settings.AUDIT_KEY = ""
    settings.INSTANCE_KEY = ""
    settings.DATA_DIR.mkdir()
    load_or_create_secret(settings.DATA_DIR / "secret_key", 48)
    audit.instance_signing_key()
    evidence = []
    for user, title in ((alice, "DDoS against the national portal"),
                        (bob, "Phishing wave against ministries")):
        incident = file_report(user, title=title)
        for name, data in FILES.items():
            evidence.append(services.attach_evidence(incident, user,
                                                     SimpleUploadedFile(name, data)))
    return {"data": settings.DATA_DIR, "evidence": evidence}


def _backup(tmp_path: Path) -> Path:
    target = tmp_path / "backup"
    call_command("backup", "--output", str(target))
    return target


def _evidence_on_disk(media: Path, rows) -> list[tuple[str, str, str]]:
    """(file name, recorded SHA-256, SHA-256 of the file on disk) for each evidence row."""
    return [(name, recorded, hashlib.sha256((media / name).read_bytes()).hexdigest())
            for name, recorded in rows]


def _assert_restored(env: dict[str, str], restored: Path, instance: dict) -> None:
    run = sentinelle(env, "audit", "verify")
    assert run.returncode == 0, run.stderr
    assert "audit chain intact" in run.stdout
    # The key files came back: tokens (HMAC under the secret key) and signatures still hold.
    for name in ("secret_key", "audit_key", "instance_key"):
        assert (restored / name).read_bytes() == (instance["data"] / name).read_bytes(), name
        assert (restored / name).stat().st_mode & 0o077 == 0, name


def test_the_manifest_lists_engine_migrations_secrets_and_every_files_hash(tmp_path, instance):
    backup = _backup(tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["database"] == {"engine": connection.vendor,
                                    "file": "database.sqlite3" if connection.vendor == "sqlite"
                                    else "database.pgdump"}
    assert manifest["migrations"]["core"].startswith("00")
    assert sorted(manifest["secrets"]["included"]) == ["audit_key", "instance_key", "secret_key"]
    listed = {entry["path"]: entry for entry in manifest["files"]}
    for row in instance["evidence"]:
        entry = listed[f"media/{row.file.name}"]
        assert (entry["sha256"], entry["size"]) == (row.sha256, row.size)
    # The backup holds secrets: nobody but its owner reads it.
    assert backup.stat().st_mode & 0o077 == 0
    assert (backup / "keys" / "audit_key").stat().st_mode & 0o077 == 0


@pytest.mark.skipif(connection.vendor != "sqlite",
                    reason="the SQLite restore; test_postgresql_backup_restores_into_a_fresh_"
                           "database is PostgreSQL's")
def test_backup_restores_into_an_empty_instance_where_audit_and_evidence_verify(
        tmp_path, instance):
    backup = _backup(tmp_path)
    restored = tmp_path / "restored"
    restored.mkdir()
    env = _clean_env(restored)
    run = sentinelle(env, "restore", str(backup))
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout
    _assert_restored(env, restored, instance)
    database = sqlite3.connect(restored / "sentinelle.sqlite3")
    try:
        rows = database.execute("SELECT file, sha256 FROM incidents_evidence").fetchall()
    finally:
        database.close()
    assert len(rows) == len(instance["evidence"]) == 6
    for name, recorded, actual in _evidence_on_disk(restored / "media", rows):
        assert actual == recorded, name


@pytest.mark.skipif(connection.vendor != "sqlite",
                    reason="the SQLite restore; the PostgreSQL test checks the same")
def test_restore_refuses_a_database_that_is_not_empty_unless_forced(tmp_path, instance):
    backup = _backup(tmp_path)
    restored = tmp_path / "restored"
    restored.mkdir()
    env = _clean_env(restored)
    assert sentinelle(env, "restore", str(backup)).returncode == 0
    again = sentinelle(env, "restore", str(backup))
    assert again.returncode != 0
    assert "not empty" in again.stderr and "--force" in again.stderr
    forced = sentinelle(env, "restore", "--force", str(backup))
    assert forced.returncode == 0, forced.stderr
    assert "checks passed" in forced.stdout


@pytest.mark.skipif(connection.vendor != "sqlite",
                    reason="the SQLite restore; the checks are the same on PostgreSQL")
def test_restore_says_when_the_restored_instance_fails_its_checks(tmp_path, instance, settings):
    # Damage made in the instance before the backup: the manifest agrees with it, the records
    # do not, and restore must say so rather than report a good restore.
    from sentinelle.core.models import AuditEntry

    evidence = instance["evidence"][2]
    (Path(settings.MEDIA_ROOT) / evidence.file.name).write_bytes(b"replaced")
    entry = AuditEntry.objects.order_by("seq")[3]
    AuditEntry.objects.filter(pk=entry.pk).update(action="incident.forged")
    backup = _backup(tmp_path)
    restored = tmp_path / "restored"
    restored.mkdir()
    run = sentinelle(_clean_env(restored), "restore", str(backup))
    assert run.returncode != 0
    assert "restored, but the checks failed" in run.stderr
    assert f"audit chain broken at entry #{entry.seq}" in run.stderr
    assert f"{evidence.file.name}): its SHA-256 differs" in run.stderr


def _refused(tmp_path: Path, backup: Path) -> str:
    """Restore into an empty data directory; assert it failed and wrote nothing; its message."""
    restored = tmp_path / f"restored-{uuid.uuid4().hex[:6]}"
    restored.mkdir()
    run = sentinelle(_clean_env(restored), "restore", str(backup))
    assert run.returncode != 0
    assert not (restored / "media").exists()
    assert not (restored / "audit_key").exists()
    if (restored / "sentinelle.sqlite3").exists():
        database = sqlite3.connect(restored / "sentinelle.sqlite3")
        try:
            assert database.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
        finally:
            database.close()
    return run.stderr


def test_a_tampered_backup_file_is_refused_naming_it(tmp_path, instance):
    backup = _backup(tmp_path)
    evidence = instance["evidence"][1]
    path = backup / "media" / evidence.file.name
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01                      # one bit, same size: only the hash can tell
    path.write_bytes(bytes(data))
    message = _refused(tmp_path, backup)
    assert f"media/{evidence.file.name}" in message
    assert "SHA-256" in message


def test_a_tampered_database_dump_is_refused_naming_it(tmp_path, instance):
    backup = _backup(tmp_path)
    dump = next(path for path in backup.iterdir() if path.name.startswith("database."))
    with dump.open("ab") as handle:
        handle.write(b"\0")
    message = _refused(tmp_path, backup)
    assert dump.name in message and "bytes" in message


def test_a_truncated_manifest_is_refused(tmp_path, instance):
    backup = _backup(tmp_path)
    manifest = backup / "manifest.json"
    text = manifest.read_bytes()
    manifest.write_bytes(text[: len(text) // 2])
    message = _refused(tmp_path, backup)
    assert "manifest.json" in message and "not valid JSON" in message


def test_a_manifest_cannot_send_a_file_outside_the_data_directory(tmp_path, instance):
    backup = _backup(tmp_path)
    manifest = json.loads((backup / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["path"].startswith("media/"))
    outside = "media/../../escaped"
    shutil.copy(backup / entry["path"], backup / "escaped")
    entry["path"] = outside
    (backup / "manifest.json").write_text(json.dumps(manifest))
    message = _refused(tmp_path, backup)
    assert outside in message
    assert not (tmp_path / "escaped").exists()


def test_backup_refuses_a_directory_that_is_not_empty(tmp_path, instance):
    target = tmp_path / "backup"
    target.mkdir()
    (target / "old").write_text("x")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("backup", "--output", str(target))
    assert sorted(p.name for p in target.iterdir()) == ["old"]
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


# --- PostgreSQL ----------------------------------------------------------------------------

@pytest.fixture
def fresh_postgres_database():
    """A new, empty database on the test server (the test role has CREATEDB), dropped after."""
    import psycopg

    settings_dict = connection.settings_dict
    name = f"sentinelle_restore_{uuid.uuid4().hex[:8]}"
    params = {"host": settings_dict["HOST"] or None, "port": settings_dict["PORT"] or None,
              "user": settings_dict["USER"] or None,
              "password": settings_dict["PASSWORD"] or None, "dbname": "postgres"}
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    user = settings_dict["USER"]
    password = settings_dict["PASSWORD"]
    host = settings_dict["HOST"] or "localhost"
    port = settings_dict["PORT"] or 5432
    yield name, f"postgres://{user}:{password}@{host}:{port}/{name}", params
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="needs DATABASE_URL pointing at PostgreSQL (CI's second run)")
def test_postgresql_backup_restores_into_a_fresh_database(tmp_path, instance,
                                                          fresh_postgres_database):
    import psycopg

    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        reason = "pg_dump and pg_restore are not on PATH (Debian: postgresql-client)"
        # .ci/run installs them: there a skip would hide an untested PostgreSQL backup.
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    name, url, params = fresh_postgres_database
    backup = _backup(tmp_path)
    assert (backup / "database.pgdump").read_bytes()[:5] == b"PGDMP"
    restored = tmp_path / "restored"
    restored.mkdir()
    env = _clean_env(restored, url)
    run = sentinelle(env, "restore", str(backup))
    assert run.returncode == 0, run.stderr
    assert "checks passed" in run.stdout
    _assert_restored(env, restored, instance)
    with psycopg.connect(**{**params, "dbname": name}) as restored_db:
        rows = restored_db.execute("SELECT file, sha256 FROM incidents_evidence").fetchall()
    assert len(rows) == len(instance["evidence"]) == 6
    for file_name, recorded, actual in _evidence_on_disk(restored / "media", rows):
        assert actual == recorded, file_name
    # A second restore into the now populated database is refused, and --force replaces it.
    again = sentinelle(env, "restore", str(backup))
    assert again.returncode != 0 and "not empty" in again.stderr
    forced = sentinelle(env, "restore", "--force", str(backup))
    assert forced.returncode == 0, forced.stderr
