"""Issue 20, point 1, measured as the attacker did: an OONI import killed with SIGKILL half way.

A platform of its own (data directory, database: SQLite, or a fresh PostgreSQL database when the
suite runs with DATABASE_URL=postgres://…), driven from outside as an operator would. The
import runs in a child process, is killed once some of its evidence files exist, and then
`sentinelle files check` must find what the kill left (pending copies only: no file ever
reached a final name without its row), and `--repair` must leave no file and the database as
it was. Three accounts, as everywhere: Cuba's focal point imports, Switzerland's and an analyst
exist beside it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.format_helpers import OONI_MEASUREMENT
from tests.paths import ROOT

MEASUREMENTS = 400
COUNTS = ("from sentinelle.incidents.models import Evidence, Incident; "
          "from sentinelle.core.models import AuditEntry; "
          "print(Incident.objects.count(), Evidence.objects.count(), AuditEntry.objects.count())")
ACCOUNTS = ("from tests.conftest import make_user; "
            "make_user('cu', 'focal-point', 'CU'); make_user('ch', 'focal-point', 'CH'); "
            "make_user('analyst', 'analyst')")


def _postgres_url(base: str) -> tuple[str, str]:
    """A fresh database beside the suite's: (its URL, its name)."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(base)
    name = f"sentinelle_kill_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(host=config["HOST"], port=config["PORT"] or 5432,
                         user=config["USER"], password=config["PASSWORD"], dbname="postgres",
                         autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name, name


def _drop_postgres(base: str, name: str) -> None:
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(base)
    with psycopg.connect(host=config["HOST"], port=config["PORT"] or 5432,
                         user=config["USER"], password=config["PASSWORD"], dbname="postgres",
                         autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Platform:
    def __init__(self, tmp_path: Path, database_url: str | None) -> None:
        self.data = tmp_path / "data"
        self.data.mkdir()
        self.media = self.data / "media"
        self.env = {name: value for name, value in os.environ.items()
                    if not (name.startswith("SENTINELLE_")
                            or name in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE"))}
        self.env.update({"SENTINELLE_DATA_DIR": str(self.data),
                         "DJANGO_SETTINGS_MODULE": "sentinelle.settings",
                         "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])})
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sentinelle.cli", *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*args), env=self.env, cwd=ROOT,  # noqa: S603
                              capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, done.stderr[-3000:]
        return done

    def counts(self) -> str:
        # The last line: Django's shell may first say what it imported.
        return self.run("shell", "-c", COUNTS).stdout.strip().splitlines()[-1]

    def files(self) -> list[Path]:
        return sorted(p for p in self.media.rglob("*") if p.is_file()) \
            if self.media.exists() else []


@pytest.fixture
def platform(tmp_path):
    base = os.environ.get("DATABASE_URL", "")
    url = name = None
    if base.startswith(("postgres://", "postgresql://")):
        url, name = _postgres_url(base)
    try:
        instance = Platform(tmp_path, url)
        instance.run("migrate", "-v0")
        instance.run("shell", "-c", ACCOUNTS)
        yield instance
    finally:
        if name:
            _drop_postgres(base, name)


def _ooni_file(path: Path) -> Path:
    measurement = json.loads(OONI_MEASUREMENT.read_text())
    with path.open("wb") as out:
        for number in range(MEASUREMENTS):   # one report, one evidence file each
            out.write(json.dumps({**measurement,
                                  "input": f"https://site{number}.example/"}).encode() + b"\n")
    return path


def test_a_killed_ooni_import_leaves_only_pending_files_that_repair_removes(platform, tmp_path):
    source = _ooni_file(tmp_path / "measurements.jsonl")
    before = platform.counts()
    child = subprocess.Popen(platform.command("import", str(source), "--state", "CU"),  # noqa: S603
                             env=platform.env, cwd=ROOT, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 240
        while len(platform.files()) < 20:
            assert child.poll() is None, "the import ended before it could be killed"
            assert time.monotonic() < deadline, "no evidence file was written in time"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        if child.poll() is None:
            child.kill()
        child.wait(timeout=30)
    left = platform.files()
    assert len(left) >= 20
    # Every file the kill left is a pending copy: none reached a name a row could hold.
    assert {p.relative_to(platform.media).parts[0] for p in left} == {".pending"}
    assert platform.counts() == before   # the import's transaction never committed

    found = platform.run("files", "check", "--format", "json", check=False)
    assert found.returncode == 1
    report = json.loads(found.stdout)
    assert report["found"]["pending"] == len(left)
    assert report["found"]["orphan"] == report["found"]["missing"] == 0

    young = platform.run("files", "check", "--repair", check=False)   # the default grace
    assert young.returncode == 1 and len(platform.files()) == len(left)
    repaired = platform.run("files", "check", "--repair", "--grace", "0", check=False)
    assert repaired.returncode == 0   # all it found repaired: nothing left for a person
    assert f"Repaired: {len(left)}." in repaired.stdout
    assert platform.files() == []
    assert platform.counts() == before
    clean = platform.run("files", "check")
    assert clean.returncode == 0, clean.stdout
