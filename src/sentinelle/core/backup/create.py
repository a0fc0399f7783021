"""Making a backup: the database dump, the key files and the stored files, with their manifest."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

import sentinelle
from sentinelle.core.backup.common import (
    CHUNK,
    DATABASE_FILES,
    FORMAT,
    KEY_FILES,
    MANIFEST,
    BackupError,
    Reporter,
    _make_private_dirs,
    _open_private,
    _sha256,
    _Silent,
    _walk,
    _write_private,
)
from sentinelle.core.backup.databases import (
    _dump_postgresql,
    _dump_sqlite,
    engine,
    latest_migrations,
)

__all__ = ["create_backup"]


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
