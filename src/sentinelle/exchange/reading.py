"""Open an input file as a stream of records, choosing or checking its format; on SQLite, read
them all before an import takes the write lock (read_ahead)."""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from django.db import connection

from sentinelle.exchange import formats
from sentinelle.exchange.records import FormatError

HEAD_BYTES = 64 * 1024


def open_records(stream: BinaryIO, fmt: str = "auto", name: str = "") -> tuple[str, Iterator]:
    """Return (format, records). The stream must be seekable (a file, a stored upload)."""
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if not head:
        raise FormatError("the file is empty")
    looks_like = formats.detect(head, name)
    if fmt == "auto":
        if looks_like is None:
            known = ", ".join(formats.FORMAT_MODULES)
            raise FormatError(f"cannot tell the format of this file; give one of: {known}")
        fmt = looks_like
    try:
        module = formats.get(fmt)
    except KeyError as exc:
        raise FormatError(str(exc.args[0])) from None
    if not module.sniff(head, name):
        hint = f" It looks like {looks_like}." if looks_like else ""
        raise FormatError(f"this file is not {fmt}.{hint}")
    return fmt, module.parse(stream, name=name)


def read_ahead(records: Iterable, progress: Callable[[int], None] | None = None,
               ) -> tuple[Iterable, Callable[[int], None] | None]:
    """On SQLite, read (parse and check the syntax of) every record before the import's
    transaction begins, and return them with the progress left to report (none).

    SQLite has one write lock for the whole database, taken when a transaction begins
    (settings: transaction_mode IMMEDIATE) and held to its commit: an import that parsed its
    file inside the transaction made every other writer wait for the whole file, and answer
    "database is locked" past the busy timeout (issue 20). The records are kept in a
    temporary file (one chunk in memory at a time, as the streaming import had), so that the
    transaction holds the lock only while the rows are written. A file that breaks half way
    (FormatError) now fails here, before anything is written: all or nothing as before.
    PostgreSQL locks rows, not the database: its import keeps parsing beside its COPY
    (indicator_rows.streaming), and so does an import inside a caller's transaction, which
    holds the lock already."""
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        return records, progress
    spool = tempfile.TemporaryFile()   # noqa: SIM115 - closed by _replay, or on failure
    try:
        chunk: list = []
        for record in records:
            chunk.append(record)
            if progress is not None:
                progress(1)
            if len(chunk) >= _SPOOL_CHUNK:
                pickle.dump(chunk, spool, pickle.HIGHEST_PROTOCOL)
                chunk = []
        pickle.dump(chunk, spool, pickle.HIGHEST_PROTOCOL)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return _replay(spool), None


_SPOOL_CHUNK = 1000


def _replay(spool) -> Iterator:
    with spool:
        while True:
            try:
                # The file is this process's own temporary file, written just above.
                chunk = pickle.load(spool)  # noqa: S301
            except EOFError:
                return
            yield from chunk
