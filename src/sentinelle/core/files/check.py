"""What `sentinelle files check` compares, and the only repairs it may make.

Rows (every FileField of every model) against the files under the folders the platform writes
(`FOLDERS`, and their pending copies under `.pending/`, see transactional.py), through the
storage API, so the local disk and a bucket are checked alike. Findings:

- `missing`: a row whose file is nowhere. Never repaired: the row is what a State sent.
- `mismatch`: a file whose SHA-256 is no longer the one its row records. Never repaired either:
  a human must look (evidence is what a State sent).
- `unmoved`: a committed row whose file is still pending (a kill, or a failure, between the
  commit and the move). Repaired by moving it under its name.
- `orphan`: a file no row names. `pending`: a pending copy no row names (its transaction never
  committed: a kill -9, a crash). Both are removed by the repair once older than the grace
  period: a running import's files are young, and its rows are not committed yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from django.apps import apps
from django.core.files.storage import Storage, storages
from django.db import connection, transaction
from django.db.models import FileField
from django.utils.translation import gettext as _

from sentinelle.core.files.transactional import PENDING, final_name, pending_name

# The top folders of every upload_to in the project (tests/core/test_files_check.py holds each
# FileField to this list).
FOLDERS = ("evidence", "staged", "jobs", "reports", "actionplan")
MISSING, MISMATCH, UNMOVED, ORPHAN, STALE_PENDING = (
    "missing", "mismatch", "unmoved", "orphan", "pending")
KINDS = (MISSING, MISMATCH, UNMOVED, ORPHAN, STALE_PENDING)
CHUNK = 1024 * 1024


@dataclass
class Finding:
    kind: str
    name: str                 # the name a row holds or would hold (never the pending copy's)
    row: str = ""             # "incidents.Evidence #12", when a row names it
    age: float | None = None  # seconds since the file was written, for files with no row
    repaired: bool = False
    # Why the repair left it: "a human decides", "younger than the grace period", an error.
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    rows: int = 0
    files: int = 0
    hashed: int = 0
    at: float = 0.0           # when the check began (time.time()): ages are counted from it

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for f in self.findings if f.kind == kind) for kind in KINDS}


def file_fields() -> Iterator[tuple[Any, str, str | None]]:
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


def _rows(model: Any, file_field: str) -> Any:
    return model._base_manager.exclude(**{file_field: ""}).exclude(
        **{f"{file_field}__isnull": True})


def _walk(storage: Storage, folder: str, advance: Callable[[int], None]) -> Iterator[str]:
    # The platform never makes a link below its folders: one there leads elsewhere (the
    # repair would remove files outside MEDIA_ROOT) or back up the tree (a loop).
    if _linked(storage, folder):
        return
    try:
        directories, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        advance(1)
        yield f"{folder}/{name}"
    for directory in sorted(directories):
        yield from _walk(storage, f"{folder}/{directory}", advance)


def _linked(storage: Storage, name: str) -> bool:
    """Whether `name`, or a folder of its path, is a symbolic link; a top folder may be one
    (evidence kept on another disk), the pending tree the platform makes itself may not."""
    from sentinelle.core.storage import is_local

    if not is_local(storage):
        return False
    parts = name.split("/")
    skip = 1 if parts[0] == PENDING else 2
    root = _raw(storage, "path")("")
    return any(os.path.islink(os.path.join(root, *parts[:end]))
               for end in range(skip, len(parts) + 1))


def _raw(storage: Storage, method: str) -> Callable:
    """The backend's own method, under the transactional layer (which would redirect a name
    to its pending copy): the check must see where each file really is."""
    from sentinelle.core.files.transactional import TransactionalMixin

    if isinstance(storage, TransactionalMixin):
        return getattr(super(TransactionalMixin, storage), method)
    return getattr(storage, method)


def _age(storage: Storage, name: str, now: float) -> float | None:
    try:
        return max(0.0, now - storage.get_modified_time(name).timestamp())
    except (OSError, NotImplementedError):
        return None


def _sha256(storage: Storage, name: str) -> str:
    digest = hashlib.sha256()
    with _raw(storage, "_open")(name, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def check(storage: Storage | None = None, *, hashes: bool = True,
          start: Callable[[str, int | None], Callable[[int], None]] | None = None) -> Report:
    """Compare rows and files; nothing is changed. `start(description, total)` returns the
    function that advances a progress task (the command's bar)."""
    # The backend itself, not default_storage's lazy wrapper (_raw reaches under its class).
    storage = storage or storages["default"]
    start = start or (lambda description, total: lambda n: None)
    report, now = Report(), time.time()
    report.at = now
    listing = start(_("listing files"), None)
    stored = {name for folder in FOLDERS for name in _walk(storage, folder, listing)}
    pending = {final_name(name) for folder in FOLDERS
               for name in _walk(storage, pending_name(folder), listing)}
    report.files = len(stored) + len(pending)
    fields = list(file_fields())
    rows = start(_("checking rows"), sum(_rows(m, f).count() for m, f, _h in fields))
    named: set[str] = set()
    exists = _raw(storage, "exists")
    for model, file_field, hash_field in fields:
        values = [file_field, "pk"] + ([hash_field] if hash_field else [])
        for row in _rows(model, file_field).values(*values).iterator():
            rows(1)
            report.rows += 1
            name, label = row[file_field], f"{model._meta.label} #{row['pk']}"
            named.add(name)
            # Asked again when not listed: written (or moved) since the listing, or kept
            # outside FOLDERS.
            if name in stored or exists(name):
                where = name
            elif exists(pending_name(name)):
                where = pending_name(name)
                report.findings.append(Finding(UNMOVED, name, label))
            else:
                report.findings.append(Finding(MISSING, name, label))
                continue
            expected = row.get(hash_field) if hash_field else ""
            if hashes and expected:
                report.hashed += 1
                try:
                    found = _sha256(storage, where)
                except OSError as exc:
                    report.findings.append(Finding(MISSING, name, label, note=str(exc)))
                    continue
                if found != expected:
                    report.findings.append(Finding(MISMATCH, name, label))
    for name in sorted(stored - named):
        report.findings.append(Finding(ORPHAN, name, age=_age(storage, name, now)))
    for name in sorted(pending - named):
        report.findings.append(Finding(STALE_PENDING, name,
                                       age=_age(storage, pending_name(name), now)))
    return report


def _named(name: str) -> bool:
    try:
        name.encode()
    except UnicodeEncodeError:   # a name on disk that is not UTF-8: no row can hold it
        return False
    return any(model._base_manager.filter(**{file_field: name}).exists()
               for model, file_field, _hash in file_fields())


# Clocks of the database server and of this machine may differ by this much.
CLOCK_SKEW = 60.0


def _open_since() -> float | None:
    """When the oldest transaction still open on the database, other than this connection's,
    began (seconds since the epoch), on PostgreSQL; None when there is none, or on SQLite."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT extract(epoch FROM min(xact_start)) FROM pg_stat_activity "
                       "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                       "AND backend_type = 'client backend'")
        (value,) = cursor.fetchone()
    return None if value is None else float(value)


def repair(report: Report, grace: float, storage: Storage | None = None) -> Report:
    """Move committed pending files under their names; remove orphan and pending files older
    than `grace` seconds. Rows, missing files and hash mismatches are never touched.

    A pending file with no row may belong to a transaction still open (an import that runs
    longer than the grace period): its rows are not visible until it commits, and removing
    its files would leave them naming nothing. On PostgreSQL a pending file written after the
    oldest transaction still open began is left; on SQLite every transaction that writes holds
    the one write lock (transaction_mode IMMEDIATE), so the repair takes it: while it holds it,
    no writer is open and a pending file with no row is its killed writer's."""
    storage = storage or storages["default"]
    open_since = _open_since()
    with transaction.atomic() if connection.vendor == "sqlite" else contextlib.nullcontext():
        for finding in report.findings:
            _repair_one(finding, storage, grace,
                        None if open_since is None else open_since - CLOCK_SKEW, report.at)
    return report


def _repair_one(finding: Finding, storage: Storage, grace: float, open_since: float | None,
                checked_at: float) -> None:
    delete = _raw(storage, "delete")
    try:
        if finding.kind == UNMOVED:
            promote = getattr(storage, "_promote", None)
            if promote is not None:
                promote(pending_name(finding.name), finding.name)
                finding.repaired = True
        elif finding.kind in (ORPHAN, STALE_PENDING):
            if finding.age is None or finding.age < grace:
                finding.note = _("younger than the grace period")
                return
            if (finding.kind == STALE_PENDING and open_since is not None
                    and checked_at - finding.age >= open_since):
                finding.note = _("a transaction open since before it was written may "
                                 "still commit it")
                return
            if _named(finding.name):   # committed since the check: it is not an orphan
                finding.note = _("a row names it now")
                return
            name = finding.name if finding.kind == ORPHAN else pending_name(finding.name)
            if _linked(storage, name.rsplit("/", 1)[0]):   # linked since the listing
                finding.note = _("a folder of its path is a symbolic link")
                return
            delete(name)
            finding.repaired = True
    except OSError as exc:
        finding.note = str(exc)


__all__ = ["FOLDERS", "KINDS", "PENDING", "Finding", "Report", "check", "file_fields",
           "repair"]
