"""Storages whose files exist under their names only if the transaction that wrote them commits.

Outside a transaction (autocommit) a file is written under its name at once, as Django does.
Inside one (`transaction.atomic`, at any depth), `save` writes it under ``.pending/<name>`` and
returns ``<name>``, which is what the row records; the file is moved to ``<name>`` when the
transaction commits (`transaction.on_commit`) and removed when what wrote it rolls back. Until
then the storage itself reads ``<name>`` from the pending copy (`open`, `size`, `exists`,
`path`), so code that reads back what it just wrote, inside the transaction, works unchanged.
A `delete` inside a transaction is carried out on commit: a rollback brings the row back, and
its file must still be there.

Why removal on rollback is sound, although Django has no on_rollback hook: the move is an
on-commit callback, and Django discards the callbacks of what rolls back, at that very moment
(`savepoint_rollback` filters `connection.run_on_commit`; `rollback` and `close` empty it). The
callback object is referenced by that list alone, so CPython frees it there and then, and a
`weakref.finalize` on it removes the pending copy: a callback freed without having run is a
file whose writer rolled back. One other path frees callbacks unrun: a callback registered
before ours raises after a commit and Django drops the rest. That one is told apart by the
connection's `run_commit_hooks_on_set_autocommit_on` (set by `commit`, cleared only once every
callback has run): then the pending copy is kept, and `sentinelle files check --repair` moves
it under its name, since its row exists. What a kill -9 leaves (pending copies, never half a
commit) is found by the same command.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Any

from django.core.files.move import file_move_safe
from django.core.files.storage import FileSystemStorage
from django.db import transaction

log = logging.getLogger(__name__)

# The folder (key prefix in a bucket) of files written by transactions not yet committed.
PENDING = ".pending"

# Name -> its pending copy, for the files this thread's open transaction wrote: a connection
# (hence a transaction) belongs to one thread.
_local = threading.local()


def pending_name(name: str) -> str:
    """Where a file stored under `name` waits for its transaction to commit."""
    return f"{PENDING}/{name}"


def final_name(name: str) -> str | None:
    """The name a pending copy is moved to; None when `name` is not a pending copy."""
    prefix = PENDING + "/"
    return name[len(prefix):] if name.startswith(prefix) else None


def _pending() -> dict[str, _Pending]:
    if not hasattr(_local, "files"):
        _local.files = {}
    return _local.files


class _Pending:
    """A file written inside a transaction: moved under its name on commit, else removed."""

    __slots__ = ("connection", "name", "settled", "storage", "temp")

    def __init__(self, storage: TransactionalMixin, name: str, temp: str, connection) -> None:
        self.storage, self.name, self.temp, self.connection = storage, name, temp, connection
        self.settled = False

    def finish(self) -> None:
        if _pending().get(self.name) is self:
            del _pending()[self.name]
        self.settled = True


def _on_commit(pending: _Pending) -> Callable[[], None]:
    """The on-commit callback of one pending file. Django's list holds the only reference to it
    (see the module docstring): freed unrun means rolled back. A function, not an object with
    __call__: Django names a failing robust callback by its __qualname__."""

    def move_pending_file() -> None:
        if pending.settled:
            return
        pending.finish()
        pending.storage._promote(pending.temp, pending.name)

    return move_pending_file


def _dropped(pending: _Pending) -> None:
    """The callback was freed: run (nothing to do), or discarded by a rollback (remove the
    pending copy), or dropped after a commit whose callbacks failed (keep it)."""
    if pending.settled:
        return
    pending.finish()
    if getattr(pending.connection, "run_commit_hooks_on_set_autocommit_on", False):
        log.error("%s: its transaction committed but its on-commit callbacks did not all run; "
                  "left at %s for 'sentinelle files check --repair'", pending.name, pending.temp)
        return
    try:
        pending.storage._discard(pending.temp)
    except Exception:   # a finalizer must not raise; the command finds what is left
        log.exception("%s: could not remove the pending copy of a rolled-back file",
                      pending.temp)


class TransactionalMixin:
    """What both storages share; the backend's own methods do the writing and reading."""

    def _save(self, name: str, content: Any) -> str:
        connection = transaction.get_connection()
        if not connection.in_atomic_block:
            return super()._save(name, content)
        temp = super()._save(pending_name(name), content)
        pending = _Pending(self, name, temp, connection)
        _pending()[name] = pending
        callback = _on_commit(pending)
        weakref.finalize(callback, _dropped, pending)
        # robust: another callback failing does not stop this one.
        transaction.on_commit(callback, robust=True)
        return name

    def stored_name(self, name: str) -> str:
        """Where `name` is now: its pending copy while this thread's transaction is open."""
        pending = _pending().get(name)
        return pending.temp if pending is not None and pending.storage is self else name

    def _open(self, name: str, mode: str = "rb"):
        stored = self.stored_name(name)
        try:
            return super()._open(stored, mode)
        except FileNotFoundError:
            # Committed a moment ago and not moved yet, or left by a kill after the commit.
            if stored != name or not super().exists(pending_name(name)):
                raise
            return super()._open(pending_name(name), mode)

    def exists(self, name: str) -> bool:
        # A pending copy holds its name: nothing else may be saved under it meanwhile.
        return super().exists(self.stored_name(name)) or super().exists(pending_name(name))

    def size(self, name: str) -> int:
        return super().size(self.stored_name(name))

    def delete(self, name: str) -> None:
        connection = transaction.get_connection()
        if connection.in_atomic_block:
            # Deferred: should the transaction roll back, its row would point at nothing.
            transaction.on_commit(lambda: self._delete_now(name), robust=True)
            return
        self._delete_now(name)

    def _delete_now(self, name: str) -> None:
        super().delete(name)
        if final_name(name) is None:
            super().delete(pending_name(name))

    def _discard(self, temp: str) -> None:
        super().delete(temp)

    def _promote(self, temp: str, name: str) -> None:
        # Generic: copied through the storage API; the backends below move instead.
        with super()._open(temp, "rb") as handle:
            super()._save(name, handle)
        super().delete(temp)


class TransactionalFileSystemStorage(TransactionalMixin, FileSystemStorage):
    """The local disk (MEDIA_ROOT): a pending copy is renamed into place, which is atomic."""

    def path(self, name: str) -> str:
        return super().path(self.stored_name(name))

    def _promote(self, temp: str, name: str) -> None:
        source, target = FileSystemStorage.path(self, temp), FileSystemStorage.path(self, name)
        os.makedirs(os.path.dirname(target), mode=self.directory_permissions_mode or 0o777,
                    exist_ok=True)
        # Never over another file: the name was free when the copy was written.
        file_move_safe(source, target, allow_overwrite=False)

    def _discard(self, temp: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(FileSystemStorage.path(self, temp))


@functools.cache
def _s3_storage_class() -> type:
    from storages.backends.s3 import S3Storage
    from storages.utils import clean_name

    class TransactionalS3Storage(TransactionalMixin, S3Storage):
        """An S3-compatible bucket: a pending object is copied inside the bucket (no download),
        then removed."""

        def _promote(self, temp: str, name: str) -> None:
            source = self._normalize_name(clean_name(temp))
            target = self.bucket.Object(self._normalize_name(clean_name(name)))
            # The managed copy (in parts above the transfer threshold, as the upload was) with
            # the parameters an upload gets: a copy in parts does not carry the source's type
            # and disposition, and a one-request copy of an object uploaded in parts kept its
            # parts' checksum, which a whole read then fails (seen with moto).
            target.copy({"Bucket": self.bucket_name, "Key": source},
                        ExtraArgs=self._get_write_parameters(name), Config=self.transfer_config)
            S3Storage.delete(self, temp)

    # Named as settings name it (backups print the class of a remote storage).
    TransactionalS3Storage.__module__ = __name__
    TransactionalS3Storage.__qualname__ = "TransactionalS3Storage"
    return TransactionalS3Storage


def __getattr__(name: str) -> Any:
    # django-storages is optional (the s3 extra): the class is built when settings name it.
    if name == "TransactionalS3Storage":
        return _s3_storage_class()
    raise AttributeError(name)
