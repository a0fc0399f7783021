"""Restoring a backup: verify everything, stage the files, restore the database, then check
the instance."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.utils.translation import gettext as _

from sentinelle.core.backup.common import (
    CHUNK,
    OPTIONAL_APPS,
    BackupError,
    Reporter,
    RestoreResult,
    _sha256,
    _Silent,
)
from sentinelle.core.backup.databases import (
    _check_sqlite,
    _restore_postgresql,
    _sqlite_path,
    _stage_sqlite,
    database_is_empty,
    engine,
)
from sentinelle.core.backup.manifest import (
    _copy_checked,
    _destination_kind,
    _refuse_outside,
    read_manifest,
)
from sentinelle.core.files.check import file_fields

__all__ = ["check_instance", "restore_backup", "verify_backup"]


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


def _forget_cached_keys() -> None:
    # The audit and instance keys were possibly read (and cached) before the files came back.
    from sentinelle.core import audit

    audit._audit_key.cache_clear()
    audit._instance_key.cache_clear()


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
    for model, file_field, hash_field in file_fields():
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
