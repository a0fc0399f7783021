"""Issue 13's operations features attacked as an outsider and as a careless operator: a backup
written into MEDIA_ROOT through a symbolic link, a crafted backup whose database is not a
database, whose migrations are not its manifest's, or whose files are read from outside it; an
HTML upload rendered from a bucket URL; a database or Redis server that hangs /healthz; and
passwords echoed in a one-line setting error."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection

from sentinelle.env import SettingError, env_redis_url
from tests.browser import browser_fixtures
from tests.conftest import api_client
from tests.core.test_backup import (  # noqa: F401 - instance is a fixture
    _backup,
    _clean_env,
    _refused,
    instance,
    sentinelle,
)
from tests.core.test_storage_s3 import bucket, incident, moto_endpoint  # noqa: F401 - fixtures

backup_db = pytest.mark.django_db(transaction=True, serialized_rollback=True)
# The backup tests are transactional; the migrations' reference data is put back after the module.
_reference_data_stays = browser_fixtures._reference_data_stays


# These craft the SQLite database file of a backup; a PostgreSQL backup holds a pg_dump instead
# (restore verifies its hash on a private copy: test_backup's PostgreSQL test).
SQLITE_BACKUP = pytest.mark.skipif(connection.vendor != "sqlite",
                                   reason="crafts a SQLite backup; CI's SQLite pass runs it")


def _rewrite_entry(backup: Path, path: str, data: bytes) -> None:
    """Replace one file of a backup and give the manifest its new size and SHA-256, as someone
    crafting a backup would."""
    (backup / path).write_bytes(data)
    manifest = json.loads((backup / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["path"] == path)
    entry["size"] = len(data)
    entry["sha256"] = hashlib.sha256(data).hexdigest()
    (backup / "manifest.json").write_text(json.dumps(manifest))


@backup_db
def test_backup_output_reaching_media_root_through_a_symlink_is_refused(
        tmp_path, instance, settings):  # noqa: F811
    # The keys and the database copy would land in MEDIA_ROOT, beside the evidence.
    link = tmp_path / "shortcut"
    link.symlink_to(Path(settings.MEDIA_ROOT), target_is_directory=True)
    with pytest.raises(CommandError, match="inside MEDIA_ROOT"):
        call_command("backup", "--output", str(link / "backup"))
    media = Path(settings.MEDIA_ROOT)
    assert not [p for p in media.iterdir() if "backup" in p.name]


@backup_db
@SQLITE_BACKUP
def test_a_backup_whose_database_is_not_sqlite_is_refused_before_anything_is_replaced(
        tmp_path, instance):  # noqa: F811
    backup = _backup(tmp_path)
    _rewrite_entry(backup, "database.sqlite3", b"this is not a database\n" * 100)
    message = _refused(tmp_path, backup)
    assert "database.sqlite3" in message
    assert "not a SQLite database" in message


@backup_db
@SQLITE_BACKUP
def test_a_backup_without_sentinelle_tables_is_refused(tmp_path, instance):  # noqa: F811
    backup = _backup(tmp_path)
    other = tmp_path / "other.sqlite3"
    database = sqlite3.connect(other)
    database.execute("CREATE TABLE notes (body TEXT)")
    database.commit()
    database.close()
    _rewrite_entry(backup, "database.sqlite3", other.read_bytes())
    message = _refused(tmp_path, backup)
    assert "database.sqlite3" in message
    assert "django_migrations" in message


@backup_db
def test_a_backup_file_read_through_a_symlinked_directory_is_refused(
        tmp_path, instance):  # noqa: F811
    # media/ pointing elsewhere makes restore read (and install) files from outside the backup.
    backup = _backup(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.move(backup / "media", elsewhere)
    (backup / "media").symlink_to(elsewhere, target_is_directory=True)
    message = _refused(tmp_path, backup)
    assert "media/" in message
    assert "outside the backup" in message


@pytest.mark.parametrize("url, secret", [
    ("redis://:pa#ssw0rd@127.0.0.1:6379/x", "pa#ssw0rd"),      # '#' ends the URL early
    ("redis://:pa?ssw0rd@127.0.0.1:6379/x", "pa?ssw0rd"),      # '?' too
    ("redis://127.0.0.1:6379/x?password=hunter2hunter2", "hunter2hunter2"),
])
def test_a_redis_password_anywhere_in_a_bad_url_is_not_repeated(url, secret):
    with pytest.raises(SettingError) as refused:
        env_redis_url("SENTINELLE_REDIS_URL", "", {"SENTINELLE_REDIS_URL": url})
    message = str(refused.value)
    assert "SENTINELLE_REDIS_URL" in message
    for fragment in (secret, secret[:4], secret[-4:]):
        assert fragment not in message


@backup_db
@SQLITE_BACKUP
def test_a_database_newer_than_its_manifest_says_is_refused(tmp_path, instance):  # noqa: F811
    # The manifest's migrations decide "made by a newer Sentinelle": they must be the database's.
    backup = _backup(tmp_path)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(backup / "database.sqlite3", copy)
    database = sqlite3.connect(copy)
    database.execute("INSERT INTO django_migrations (app, name, applied) "
                     "VALUES ('core', '9999_from_the_future', '2030-01-01')")
    database.commit()
    database.close()
    _rewrite_entry(backup, "database.sqlite3", copy.read_bytes())
    message = _refused(tmp_path, backup)
    assert "database.sqlite3" in message and "migrations" in message


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@db.example:5432/sent", 5),
    ("postgres://u:p@db.example:5432/sent?connect_timeout=30", 30),     # the operator's own
])
def test_a_postgresql_server_that_does_not_answer_cannot_hang_healthz(monkeypatch, url,
                                                                       expected):
    # Without connect_timeout libpq waits for the kernel's TCP timeout (about two minutes) on a
    # host that drops packets: every /healthz and /metrics call would hang that long.
    import importlib

    import sentinelle.settings as settings_module

    monkeypatch.setenv("DATABASE_URL", url)
    try:
        reloaded = importlib.reload(settings_module)
        assert reloaded.DATABASES["default"]["OPTIONS"]["connect_timeout"] == expected
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


@pytest.mark.parametrize("url, expected", [
    ("redis://:secret@10.0.0.9:6379/0", 5.0),
    ("rediss://10.0.0.9:6380/1?ssl_cert_reqs=none", 5.0),
    ("redis://10.0.0.9:6379/0?socket_connect_timeout=2", 2.0),   # the operator's own
])
def test_a_redis_server_that_does_not_answer_cannot_hang_healthz(monkeypatch, url, expected):
    # redis-py's default is no connect timeout: /healthz and /metrics read the queue in Redis.
    import importlib

    import redis

    import sentinelle.settings as settings_module

    monkeypatch.setenv("SENTINELLE_REDIS_URL", url)
    try:
        reloaded = importlib.reload(settings_module)
        pool = redis.ConnectionPool.from_url(reloaded.RQ_QUEUES["default"]["URL"])
        assert pool.connection_kwargs["socket_connect_timeout"] == expected
        assert pool.connection_kwargs["host"] == "10.0.0.9"
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


def test_an_object_in_the_bucket_is_never_rendered_by_a_browser(
        alice, incident, bucket, django_capture_on_commit_callbacks):  # noqa: F811
    # The platform streams downloads with its own headers; but a bucket URL can still escape
    # (the admin's file widget links a presigned URL, a shared link, a public bucket by
    # mistake). Opened from there, an HTML file a focal point uploaded must download, not run.
    from sentinelle.incidents.models import Evidence

    # Committed: the object was copied from the pending prefix under its name, headers too.
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client(alice).post(
            f"/api/v1/incidents/{incident.pk}/evidence/",
            {"file": SimpleUploadedFile("invoice.html",
                                        b"<script>alert(document.domain)</script>",
                                        content_type="text/html")}, format="multipart")
    assert response.status_code == 201, response.content
    item = Evidence.objects.get(pk=response.json()["id"])
    head = bucket.Object(item.file.name).get()
    assert head["ContentType"] == "application/octet-stream"
    assert head["ContentDisposition"] == "attachment"


@pytest.mark.parametrize("url", ["postgres://sentinelle:top#secret@db:5432/sentinelle",
                                 "postgres://sentinelle:topsecret@db:port/sentinelle",
                                 "postgress://sentinelle:topsecret@db:5432/sentinelle"])
def test_a_bad_database_url_is_one_line_naming_it_without_the_password(tmp_path, url):
    import os
    import subprocess
    import sys

    env = {name: value for name, value in os.environ.items()
           if not name.startswith("SENTINELLE_") and name not in ("DATABASE_URL",
                                                                  "DJANGO_SETTINGS_MODULE")}
    env.update(SENTINELLE_DATA_DIR=str(tmp_path), DATABASE_URL=url)
    run = subprocess.run([sys.executable, "-m", "sentinelle.cli", "check"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert "DATABASE_URL" in lines[0]
    assert "secret" not in lines[0]


@backup_db
@SQLITE_BACKUP
def test_a_backup_of_an_rq_instance_restores_into_one_on_the_database_queue(
        tmp_path, instance):  # noqa: F811
    # An instance on SENTINELLE_TASK_BACKEND=rq has django_rq's migrations applied. Restoring its
    # backup into a scratch instance on the default queue is no "newer Sentinelle".
    backup = _backup(tmp_path)
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(backup / "database.sqlite3", copy)
    database = sqlite3.connect(copy)
    for name in ("0001_initial", "0002_delete_queue_create_dashboard",
                 "0003_alter_dashboard_permission_names"):
        database.execute("INSERT INTO django_migrations (app, name, applied) "
                         "VALUES ('django_rq', ?, '2026-12-01')", (name,))
    database.commit()
    database.close()
    _rewrite_entry(backup, "database.sqlite3", copy.read_bytes())
    manifest = json.loads((backup / "manifest.json").read_text())
    manifest["migrations"]["django_rq"] = "0003_alter_dashboard_permission_names"
    (backup / "manifest.json").write_text(json.dumps(manifest))
    restored = tmp_path / "restored"
    restored.mkdir()
    run = sentinelle(_clean_env(restored), "restore", str(backup))
    assert run.returncode == 0, run.stderr
    assert "newer" not in run.stderr
    assert "checks passed" in run.stdout
