"""The manifest: reading it, refusing one that is damaged or points outside the backup, and
copying a file it lists only as the manifest describes it."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from django.utils.translation import gettext as _

from sentinelle.core.backup.common import (
    _HEX64,
    CHUNK,
    DATABASE_FILES,
    FORMAT,
    KEY_FILES,
    MANIFEST,
    BackupError,
    _make_private_dirs,
    _open_private,
)

__all__ = ["manifest_digest", "read_manifest"]


def manifest_digest(directory: Path) -> str:
    """The SHA-256 of a backup's manifest: record it elsewhere to detect a rewritten backup."""
    return hashlib.sha256((Path(directory) / MANIFEST).read_bytes()).hexdigest()


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
