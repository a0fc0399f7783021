"""Backups that restore: a consistent database dump, the files, the keys and a manifest.

A backup is a directory:

    manifest.json       format, time, Sentinelle version, database engine, latest migration per
                        app, which secrets are inside, and every file's size and SHA-256
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    database.pgdump     PostgreSQL: `pg_dump --format=custom`
    keys/               the key files of the data directory (secret_key, audit_key, instance_key)
    media/              MEDIA_ROOT: evidence, job and report files

The database is dumped first and the files copied after it. Files are never removed by the
platform (deletes are soft), so every file the dump refers to is on disk when it is copied; a file
added in between is copied too and merely has no row.

Restore checks every file against the manifest before it writes anything, stages every file
beside its destination, restores the database (the commit point: an atomic rename on SQLite, one
transaction on PostgreSQL), then renames the staged files into place, and finally checks the
restored instance: the audit chain and every stored file's recorded SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess  # noqa: S404 - pg_dump / pg_restore, fixed arguments, no shell
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import FileField
from django.utils.translation import gettext as _

import sentinelle

__all__ = ["BackupError", "ProgressReporter", "Reporter", "RestoreResult", "check_instance",
           "create_backup", "database_is_empty", "manifest_digest", "read_manifest",
           "restore_backup", "verify_backup"]

FORMAT = "sentinelle-backup/1"
MANIFEST = "manifest.json"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
# The per-installation secrets core.instance_keys writes into the data directory, and the
# setting that replaces each file when it is configured.
KEY_FILES = {"secret_key": "SENTINELLE_SECRET_KEY", "audit_key": "SENTINELLE_AUDIT_KEY",
             "instance_key": "SENTINELLE_INSTANCE_KEY"}
CHUNK = 1024 * 1024
# Apps installed only under some settings (SENTINELLE_TASK_BACKEND=rq): a backup of an instance
# that had them restores into one that has not, and their tables wait unused.
OPTIONAL_APPS = frozenset({"django_rq", "django_tasks_rq"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


class BackupError(Exception):
    """A backup cannot be made or restored; the message names the file or setting at fault."""


class Reporter(Protocol):
    """Progress of long work: `start` returns the function that advances the task by n."""

    def start(self, description: str, total: int | None) -> Callable[[int], None]: ...


class _Silent:
    def start(self, description: str, total: int | None) -> Callable[[int], None]:
        return lambda n: None


class ProgressReporter:
    """Reports to a rich Progress (the commands' bar): one task per step."""

    def __init__(self, progress: Any) -> None:
        self.progress = progress

    def start(self, description: str, total: int | None) -> Callable[[int], None]:
        task = self.progress.add_task(description, total=total)
        return lambda n: self.progress.advance(task, n)


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    # Apps whose migrations in the backup are older than this code's: run `sentinelle migrate`.
    behind: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    checked_files: int = 0
    audit_entries: int = 0
    checked: bool = False


# --- backup -------------------------------------------------------------------------------

def engine() -> str:
    """`sqlite` or `postgresql`: the only engines Sentinelle runs on."""
    vendor = connection.vendor
    if vendor not in DATABASE_FILES:
        raise BackupError(_("the database engine %(engine)s is not supported by backup") %
                          {"engine": vendor})
    return vendor


def create_backup(output: Path, reporter: Reporter | None = None) -> dict[str, Any]:
    """Write a backup into `output` (absent or empty) and return its manifest.

    The backup is assembled in a private directory beside `output` and renamed to it when
    complete, so `output` holds a whole backup or nothing.
    """
    reporter = reporter or _Silent()
    # Resolved: a symbolic link on the way must not hide that the backup (with the keys) would
    # land in MEDIA_ROOT, beside the evidence, and be copied into itself.
    output = Path(output).resolve()
    media_root = Path(settings.MEDIA_ROOT).resolve()
    if output == media_root or media_root in output.parents:
        raise BackupError(_("--output: %(path)s is inside MEDIA_ROOT (%(media)s): the backup "
                            "would contain itself") % {"path": output, "media": media_root})
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise BackupError(_("--output: %(path)s exists and is not an empty directory") %
                          {"path": output})
    if not output.parent.is_dir():
        raise BackupError(_("--output: %(path)s: the parent directory does not exist") %
                          {"path": output})
    kind = engine()
    staging = output.parent / f".{output.name}.partial-{secrets.token_hex(4)}"
    try:
        staging.mkdir(mode=0o700)
    except OSError as exc:
        raise BackupError(f"--output: {staging}: {exc.strerror}") from None
    try:
        files: list[dict[str, Any]] = []
        database = staging / DATABASE_FILES[kind]
        if kind == "sqlite":
            _dump_sqlite(database, reporter)
        else:
            _dump_postgresql(database, reporter)
        files.append(_describe(database, staging, reporter))
        migrations = latest_migrations()
        included, configured = _copy_keys(staging, files, reporter)
        remote = _remote_storage()
        if remote is None:
            _copy_tree(media_root, staging / "media", staging, files, reporter)
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sentinelle_version": sentinelle.__version__,
            "site": settings.SITE_NAME,
            "database": {"engine": kind, "file": DATABASE_FILES[kind]},
            "migrations": migrations,
            "secrets": {"included": included, "configured_outside": configured},
            # Files kept by a storage other than the local disk (object storage) are backed up
            # by that storage's own means (versioning, replication), not copied here.
            "media": ({"included": True} if remote is None else
                      {"included": False, "storage": remote}),
            "files": files,
        }
        _write_private(staging / MANIFEST,
                       (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())
        if output.exists():
            output.rmdir()
        os.replace(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _remote_storage() -> str | None:
    """The default storage's class when it does not keep files under MEDIA_ROOT, else None."""
    from django.core.files.storage import FileSystemStorage, storages

    # The backend itself: default_storage is a lazy wrapper, whose type() names the wrapper.
    backend = storages["default"]
    if isinstance(backend, FileSystemStorage):
        return None
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def manifest_digest(directory: Path) -> str:
    """The SHA-256 of a backup's manifest: record it elsewhere to detect a rewritten backup."""
    return hashlib.sha256((Path(directory) / MANIFEST).read_bytes()).hexdigest()


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


def _configured(name: str) -> bool:
    """Whether the key is set outside the data directory (then its file, if any, is unused)."""
    if name == "audit_key":
        return bool(settings.AUDIT_KEY)
    if name == "instance_key":
        return bool(settings.INSTANCE_KEY)
    return bool(os.environ.get(KEY_FILES[name]) or os.environ.get(KEY_FILES[name] + "_FILE"))


def _copy_keys(staging: Path, files: list[dict[str, Any]],
               reporter: Reporter) -> tuple[list[str], dict[str, str]]:
    included: list[str] = []
    configured: dict[str, str] = {}
    (staging / "keys").mkdir(mode=0o700)
    for name, variable in KEY_FILES.items():
        if _configured(name):
            configured[name] = variable
            continue
        source = Path(settings.DATA_DIR) / name
        if not source.is_file():
            continue        # never generated: this instance has not needed it yet
        target = staging / "keys" / name
        files.append(_copy_file(source, target, staging, reporter=None))
        included.append(name)
    return included, configured


def _walk(root: Path) -> Iterator[Path]:
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        for name in sorted(names):
            path = Path(directory) / name
            # A symbolic link could point anywhere (another instance's files, /etc): not followed.
            if path.is_file() and not path.is_symlink():
                yield path


def _copy_tree(root: Path, target: Path, staging: Path, files: list[dict[str, Any]],
               reporter: Reporter) -> None:
    sources = list(_walk(root)) if root.is_dir() else []
    advance = reporter.start(_("files"), sum(path.stat().st_size for path in sources))
    for source in sources:
        files.append(_copy_file(source, target / source.relative_to(root), staging, advance))


def _copy_file(source: Path, target: Path, staging: Path,
               reporter: Callable[[int], None] | None) -> dict[str, Any]:
    _make_private_dirs(target.parent)
    digest = hashlib.sha256()
    size = 0
    try:
        with source.open("rb") as reader, _open_private(target) as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                size += len(chunk)
                if reporter:
                    reporter(len(chunk))
    except OSError as exc:
        raise BackupError(f"{source}: {exc.strerror}") from None
    return {"path": target.relative_to(staging).as_posix(), "size": size,
            "sha256": digest.hexdigest()}


def _describe(path: Path, root: Path, reporter: Reporter) -> dict[str, Any]:
    size = path.stat().st_size
    return {"path": path.relative_to(root).as_posix(), "size": size,
            "sha256": _sha256(path, reporter.start(path.name, size))}


def _sha256(path: Path, advance: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as reader:
        while chunk := reader.read(CHUNK):
            digest.update(chunk)
            if advance:
                advance(len(chunk))
    return digest.hexdigest()


def _make_private_dirs(directory: Path) -> None:
    # mkdir(parents=True) gives the parents the umask's mode; each level is made 0700 here.
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700, exist_ok=True)


def _open_private(path: Path):
    # The backup holds the instance's secrets: nothing in it is readable by others.
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _write_private(path: Path, data: bytes) -> None:
    with _open_private(path) as writer:
        writer.write(data)


# --- verify -------------------------------------------------------------------------------

def read_manifest(directory: Path) -> dict[str, Any]:
    """The backup's manifest, checked for shape; BackupError names what is wrong."""
    path = Path(directory) / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BackupError(_("%(path)s: no manifest: this is not a Sentinelle backup") %
                          {"path": path}) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BackupError(f"{path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BackupError(_("%(path)s: not valid JSON (truncated or damaged?): %(error)s at line "
                            "%(line)d") % {"path": path, "error": exc.msg,
                                           "line": exc.lineno}) from None
    problem = _manifest_problem(manifest)
    if problem:
        raise BackupError(f"{path}: {problem}")
    return manifest


def _refuse_outside(directory: Path, relative: str) -> None:
    """BackupError unless `relative` is, once symbolic links are followed, inside the backup:
    a directory of it linked elsewhere (media/ -> /srv/other) would have restore read, and
    install, files that are not the backup's."""
    root = Path(directory).resolve()
    if root not in (Path(directory) / relative).resolve().parents:
        raise BackupError(_("%(file)s: a symbolic link leads outside the backup directory") %
                          {"file": relative})


def _manifest_problem(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return _("not a JSON object")
    if manifest.get("format") != FORMAT:
        return _("format is %(found)r, expected %(expected)r") % {
            "found": manifest.get("format"), "expected": FORMAT}
    for key, kind in (("database", dict), ("migrations", dict), ("secrets", dict),
                      ("files", list), ("sentinelle_version", str)):
        if not isinstance(manifest.get(key), kind):
            return _("field %(field)r is missing or not a %(kind)s") % {
                "field": key, "kind": kind.__name__}
    if not all(isinstance(key, str) and isinstance(value, str)
               for key, value in manifest["migrations"].items()):
        return _("field 'migrations' must map each app to a migration name")
    secrets_ = manifest["secrets"]
    if not (isinstance(secrets_.get("included"), list)
            and isinstance(secrets_.get("configured_outside"), dict)):
        return _("field 'secrets' needs 'included' (a list) and 'configured_outside' (an "
                 "object)")
    database = manifest["database"]
    if DATABASE_FILES.get(database.get("engine")) != database.get("file"):
        return _("field 'database' names no known engine and file: %(value)r") % {
            "value": database}
    paths = set()
    for index, entry in enumerate(manifest["files"]):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and isinstance(entry.get("size"), int) and entry["size"] >= 0
                and isinstance(entry.get("sha256"), str) and _HEX64.fullmatch(entry["sha256"])):
            return _("files[%(index)d] needs a path, a size and a SHA-256") % {"index": index}
        if _destination_kind(entry["path"], database["file"]) is None:
            return _("files[%(index)d]: %(path)r is not a place a backup may write to") % {
                "index": index, "path": entry["path"]}
        if entry["path"] in paths:
            return _("files[%(index)d]: %(path)r is listed twice") % {
                "index": index, "path": entry["path"]}
        paths.add(entry["path"])
    if database["file"] not in paths:
        return _("the database file %(file)s is not listed") % {"file": database["file"]}
    return None


def _destination_kind(path: str, database_file: str) -> str | None:
    """What a manifest path is (database, key, media), or None when restoring it could write
    outside the data directory: a crafted manifest must not reach /etc or ~/.ssh."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in ("", ".", "..") for part in path.split("/")):
        return None
    if path == database_file:
        return "database"
    if len(pure.parts) == 2 and pure.parts[0] == "keys" and pure.parts[1] in KEY_FILES:
        return "key"
    if len(pure.parts) >= 2 and pure.parts[0] == "media":
        return "media"
    return None


def verify_backup(directory: Path, reporter: Reporter | None = None) -> dict[str, Any]:
    """The manifest, once every file it lists has its size and SHA-256; else BackupError
    naming the first file that differs or is missing."""
    reporter = reporter or _Silent()
    directory = Path(directory)
    manifest = read_manifest(directory)
    advance = reporter.start(_("checking the backup"),
                             sum(entry["size"] for entry in manifest["files"]))
    for entry in manifest["files"]:
        path = directory / entry["path"]
        if not path.is_file() or path.is_symlink():
            raise BackupError(_("%(file)s: listed in the manifest but missing from the backup") %
                              {"file": entry["path"]})
        _refuse_outside(directory, entry["path"])
        size = path.stat().st_size
        if size != entry["size"]:
            raise BackupError(_("%(file)s: %(size)d bytes, the manifest says %(expected)d: the "
                                "backup was altered or damaged") % {
                "file": entry["path"], "size": size, "expected": entry["size"]})
        if _sha256(path, advance) != entry["sha256"]:
            raise BackupError(_("%(file)s: its SHA-256 differs from the manifest's: the backup "
                                "was altered or damaged") % {"file": entry["path"]})
    return manifest


# --- restore ------------------------------------------------------------------------------

def database_is_empty() -> bool:
    """True when the configured database holds no account, audit entry or report: a database
    just created, or just migrated (migrations add reference data only)."""
    tables = set(connection.introspection.table_names())
    for label in ("core.User", "core.AuditEntry", "incidents.Incident"):
        model = apps.get_model(label)
        if model._meta.db_table in tables and model._default_manager.exists():
            return False
    return True


def _migration_gaps(manifest: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(apps the backup is ahead of this code on, apps it is behind on)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    leaves = dict(loader.graph.leaf_nodes())
    ahead, behind = [], []
    installed = {config.label for config in apps.get_app_configs()}
    for app_label, name in sorted(manifest["migrations"].items()):
        if app_label in OPTIONAL_APPS and app_label not in installed:
            continue
        if (app_label, name) not in loader.disk_migrations:
            ahead.append(f"{app_label}.{name}")
        elif leaves.get(app_label) != name:
            behind.append(app_label)
    behind.extend(sorted(set(leaves) - set(manifest["migrations"]) -
                         {label.split(".")[0] for label in ahead}))
    return ahead, behind


def restore_backup(directory: Path, *, force: bool = False,
                   reporter: Reporter | None = None) -> RestoreResult:
    """Restore a verified backup into the configured database, data directory and MEDIA_ROOT.

    Refuses (BackupError, nothing written) a backup that fails its manifest, one made on another
    database engine or by a newer Sentinelle, and a database that is not empty unless `force`.
    """
    reporter = reporter or _Silent()
    directory = Path(directory)
    manifest = verify_backup(directory, reporter)
    kind = engine()
    if manifest["database"]["engine"] != kind:
        raise BackupError(_("the backup holds a %(backup)s database but this instance is "
                            "configured for %(configured)s (DATABASE_URL)") % {
            "backup": manifest["database"]["engine"], "configured": kind})
    ahead, behind = _migration_gaps(manifest)
    if ahead:
        raise BackupError(_("the backup was made by a newer Sentinelle (%(version)s): these "
                            "migrations are unknown here: %(names)s") % {
            "version": manifest["sentinelle_version"], "names": ", ".join(ahead)})
    if not force and not database_is_empty():
        raise BackupError(_("the configured database is not empty (it has accounts, audit "
                            "entries or reports): restore refuses to overwrite it; --force "
                            "replaces it"))
    database = next(entry for entry in manifest["files"]
                    if entry["path"] == manifest["database"]["file"])
    if kind == "sqlite":
        _check_sqlite(directory / database["path"], database["path"], manifest["migrations"])
    staged = _stage_files(directory, manifest, reporter)
    try:
        if kind == "sqlite":
            staged.append(_stage_sqlite(directory, database))
        else:
            # pg_restore reads a private copy checked against the manifest as it is made: the
            # backup directory may have changed since it was verified.
            with tempfile.TemporaryDirectory(prefix="sentinelle-restore-") as scratch:
                dump = _copy_checked(directory, database, Path(scratch) / "database.pgdump")
                _restore_postgresql(dump, database, reporter)
    except BaseException:
        for temporary, _target in staged:
            temporary.unlink(missing_ok=True)
        raise
    connection.close()
    for temporary, target in staged:
        if target == _sqlite_path():
            # A WAL left by the replaced database would be replayed into the restored one.
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
        os.replace(temporary, target)
    _forget_cached_keys()
    result = RestoreResult(manifest=manifest, behind=behind)
    if not behind:
        check_instance(result, reporter)
    return result


def _stage_files(directory: Path, manifest: dict[str, Any],
                 reporter: Reporter) -> list[tuple[Path, Path]]:
    """Copy every key and media file to a temporary name beside its destination, checking its
    SHA-256 again as it is copied (the backup could change after it was verified)."""
    entries = [entry for entry in manifest["files"]
               if _destination_kind(entry["path"], manifest["database"]["file"]) != "database"]
    advance = reporter.start(_("restoring files"), sum(entry["size"] for entry in entries))
    staged: list[tuple[Path, Path]] = []
    try:
        for entry in entries:
            parts = PurePosixPath(entry["path"]).parts
            if parts[0] == "keys":
                target = Path(settings.DATA_DIR) / parts[1]
            else:
                target = Path(settings.MEDIA_ROOT).joinpath(*parts[1:])
            staged.append((_copy_checked(directory, entry, target, advance), target))
    except BaseException:
        for temporary, _target in staged:
            temporary.unlink(missing_ok=True)
        raise
    return staged


def _copy_checked(directory: Path, entry: dict[str, Any], target: Path,
                  advance: Callable[[int], None] | None = None) -> Path:
    try:
        _make_private_dirs(target.parent)
    except OSError as exc:
        raise BackupError(f"{target.parent}: {exc.strerror}") from None
    temporary = target.parent / f".{target.name}.restore-{secrets.token_hex(4)}"
    # Again at the copy: the backup directory may have changed since it was verified.
    _refuse_outside(directory, entry["path"])
    digest = hashlib.sha256()
    try:
        with (directory / entry["path"]).open("rb") as reader, _open_private(temporary) as writer:
            while chunk := reader.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
                if advance:
                    advance(len(chunk))
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise BackupError(f"{target}: {exc.strerror}") from None
    if digest.hexdigest() != entry["sha256"]:
        temporary.unlink(missing_ok=True)
        raise BackupError(_("%(file)s: its SHA-256 differs from the manifest's: the backup was "
                            "altered or damaged") % {"file": entry["path"]})
    return temporary


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


def _forget_cached_keys() -> None:
    # The audit and instance keys were possibly read (and cached) before the files came back.
    from sentinelle.core import audit

    audit._audit_key.cache_clear()
    audit._instance_key.cache_clear()


# --- check --------------------------------------------------------------------------------

def check_instance(result: RestoreResult, reporter: Reporter | None = None) -> RestoreResult:
    """Check the instance as restored: the audit chain holds, and every stored file exists and,
    where its SHA-256 was recorded, still has it. Problems are added to `result.problems`."""
    from sentinelle.core.audit import verify_chain
    from sentinelle.core.models import AuditEntry

    reporter = reporter or _Silent()
    result.audit_entries = AuditEntry.objects.count()
    advance = reporter.start(_("checking the audit chain"), result.audit_entries)
    problem = verify_chain(lambda: advance(1))
    if problem is not None:
        result.problems.append(_("audit chain broken at entry #%(seq)d: %(reason)s") % {
            "seq": problem.seq, "reason": problem.reason})
    for model, file_field, hash_field in _stored_files():
        rows = model._base_manager.exclude(**{file_field: ""}).exclude(
            **{f"{file_field}__isnull": True})
        for row in rows.iterator():
            stored = getattr(row, file_field)
            label = f"{model._meta.label} #{row.pk} ({stored.name})"
            try:
                with stored.open("rb") as handle:
                    digest = hashlib.sha256()
                    while chunk := handle.read(CHUNK):
                        digest.update(chunk)
            except OSError:
                result.problems.append(_("%(file)s: missing") % {"file": label})
                continue
            result.checked_files += 1
            expected = getattr(row, hash_field) if hash_field else ""
            if expected and digest.hexdigest() != expected:
                result.problems.append(_("%(file)s: its SHA-256 differs from the one recorded") %
                                       {"file": label})
    result.checked = True
    return result


def _stored_files() -> Iterator[tuple[Any, str, str | None]]:
    """(model, file field, the field recording its SHA-256 or None) for every stored file."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        names = {f.name for f in model._meta.concrete_fields}
        for f in model._meta.concrete_fields:
            if isinstance(f, FileField):
                hash_field = next((name for name in (f"{f.name}_sha256",
                                                     "sha256" if f.name == "file" else "")
                                   if name and name in names), None)
                yield model, f.name, hash_field
