"""The database part of a backup: dump and restore on SQLite (its online backup API) and on
PostgreSQL (pg_dump, pg_restore)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump / pg_restore, fixed arguments, no shell
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils.translation import gettext as _

from sentinelle.core.backup.common import DATABASE_FILES, BackupError, Reporter
from sentinelle.core.backup.manifest import _copy_checked

__all__ = ["database_is_empty", "engine", "latest_migrations"]


def engine() -> str:
    """`sqlite` or `postgresql`: the only engines Sentinelle runs on."""
    vendor = connection.vendor
    if vendor not in DATABASE_FILES:
        raise BackupError(_("the database engine %(engine)s is not supported by backup") %
                          {"engine": vendor})
    return vendor


def _dump_sqlite(target: Path, reporter: Reporter) -> None:
    # The online backup API copies a consistent snapshot while the platform keeps running;
    # copying the file (and its WAL) by hand could catch a write half-done.
    connection.ensure_connection()
    source = connection.connection
    destination = sqlite3.connect(target)
    # Copied step by step (for the progress bar), the backup restarts whenever another process
    # writes between two steps: under a steady stream of writes it may never finish. A read
    # transaction held on the source for the whole copy pins one snapshot (WAL lets writers go
    # on meanwhile): measured, 20,000 rows under a busy writer, 5,353 restarts and 7 s without,
    # none and 0.2 s with.
    own_transaction = not connection.in_atomic_block
    if own_transaction:
        source.execute("BEGIN")
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:
        advance: Callable[[int], None] | None = None
        done = 0

        def progress(_status: int, remaining: int, total: int) -> None:
            nonlocal advance, done
            if advance is None:
                advance = reporter.start(_("database"), total)
            advance(total - remaining - done)
            done = total - remaining

        source.backup(destination, pages=256, progress=progress)
        # One self-contained file: no -wal beside it in the backup.
        destination.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = destination.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupError(_("the database copy fails SQLite's check: %(verdict)s") %
                              {"verdict": verdict})
    finally:
        if own_transaction:
            source.execute("ROLLBACK")
        destination.close()
    os.chmod(target, 0o600)


def _pg_environment() -> dict[str, str]:
    """libpq's variables for the configured database; the password never goes on a command
    line, where other users could read it in the process list."""
    db = connection.settings_dict
    env = dict(os.environ)
    for variable, key in (("PGHOST", "HOST"), ("PGPORT", "PORT"), ("PGUSER", "USER"),
                          ("PGPASSWORD", "PASSWORD"), ("PGDATABASE", "NAME")):
        if db.get(key):
            env[variable] = str(db[key])
    sslmode = (db.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return env


def _pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(_("%(tool)s is not on PATH: install PostgreSQL's client programs "
                            "(Debian: postgresql-client)") % {"tool": name})
    return path


def _run_pg(arguments: list[str], reporter: Reporter, description: str) -> None:
    reporter.start(description, None)       # no measure of its progress: a spinner
    completed = subprocess.run(arguments, env=_pg_environment(), capture_output=True,  # noqa: S603
                               text=True, check=False)
    if completed.returncode != 0:
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        detail = "; ".join(lines[-3:]) or f"exit status {completed.returncode}"
        raise BackupError(f"{Path(arguments[0]).name}: {detail}")


def _dump_postgresql(target: Path, reporter: Reporter) -> None:
    # pg_dump reads one snapshot: the dump is consistent while the platform keeps running.
    _run_pg([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
             f"--file={target}"], reporter, _("database (pg_dump)"))
    os.chmod(target, 0o600)


def latest_migrations() -> dict[str, str]:
    """The latest applied migration of each app, by name (Django's names are numbered)."""
    latest: dict[str, str] = {}
    for app_label, name in MigrationRecorder(connection).applied_migrations():
        if name > latest.get(app_label, ""):
            latest[app_label] = name
    return dict(sorted(latest.items()))


def database_is_empty() -> bool:
    """True when the configured database holds no account, audit entry or report: a database
    just created, or just migrated (migrations add reference data only)."""
    tables = set(connection.introspection.table_names())
    for label in ("core.User", "core.AuditEntry", "incidents.Incident"):
        model = apps.get_model(label)
        if model._meta.db_table in tables and model._default_manager.exists():
            return False
    return True


def _sqlite_path() -> Path | None:
    if connection.vendor != "sqlite":
        return None
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or "mode=memory" in name:
        return None
    return Path(name)


def _stage_sqlite(directory: Path, entry: dict[str, Any]) -> tuple[Path, Path]:
    target = _sqlite_path()
    if target is None:
        raise BackupError(_("the configured SQLite database is in memory: there is nothing to "
                            "restore into"))
    return _copy_checked(directory, entry, target), target


def _check_sqlite(path: Path, label: str, migrations: dict[str, str]) -> None:
    """BackupError unless `path` is a sound SQLite database whose migrations are the manifest's.

    Checked before anything is staged: a file that is not a database (a crafted or mislabelled
    backup, whose manifest hashes match) would otherwise replace the configured database, and a
    manifest understating the migrations would slip a newer schema past the "made by a newer
    Sentinelle" check. The copy made afterwards is checked against the same SHA-256, so it is
    this file. Opened read-only and immutable, with trusted_schema off, so that nothing the file
    defines (views, triggers) runs and nothing is written beside it."""
    try:
        database = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro&immutable=1", uri=True)
    except sqlite3.Error as exc:
        raise BackupError(_("%(file)s: not a SQLite database: %(error)s") %
                          {"file": label, "error": exc}) from None
    try:
        database.execute("PRAGMA trusted_schema=OFF")
        (verdict,) = database.execute("PRAGMA quick_check").fetchone()
        tables = {name for (name,) in database.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        applied = (database.execute("SELECT app, name FROM django_migrations").fetchall()
                   if verdict == "ok" and "django_migrations" in tables else [])
    except sqlite3.Error as exc:
        raise BackupError(_("%(file)s: not a SQLite database: %(error)s") %
                          {"file": label, "error": exc}) from None
    finally:
        database.close()
    if verdict != "ok":
        raise BackupError(_("%(file)s: fails SQLite's check: %(verdict)s") %
                          {"file": label, "verdict": verdict})
    if "django_migrations" not in tables:
        raise BackupError(_("%(file)s: has no django_migrations table: not a Sentinelle "
                            "database") % {"file": label})
    latest: dict[str, str] = {}
    for app_label, name in applied:
        if name > latest.get(app_label, ""):
            latest[app_label] = name
    if latest != migrations:
        raise BackupError(_("%(file)s: its migrations are not the ones the manifest lists") %
                          {"file": label})


def _restore_postgresql(dump: Path, entry: dict[str, Any], reporter: Reporter) -> None:
    arguments = [_pg_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                 "--single-transaction", f"--dbname={connection.settings_dict['NAME']}"]
    if connection.introspection.table_names():
        # Empty but migrated, or --force: replace what the dump holds, in the same transaction.
        arguments += ["--clean", "--if-exists"]
    connection.close()      # our own session must not hold locks on the tables being replaced
    _run_pg([*arguments, str(dump)], reporter, _("database (pg_restore)"))
