"""The SQLite files in which long-running tools keep what they must not lose (the routing
monitor's outbox, the probe campaign's outbox and rounds): a file that is not SQLite is never
turned into one, and each write is one IMMEDIATE transaction whose errors name the file."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"


class OutboxError(ValueError):
    """The outbox file cannot be used; the message names the file and says why."""


def check_header(path: Path, what: str) -> None:
    """Before SQLite touches ``path``: refuse a file that is not SQLite (``what`` says what the
    file should be), rather than let SQLite make it one."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OutboxError(f"{path}: {exc.strerror or exc}") from None
    if head and head != SQLITE_HEADER:
        raise OutboxError(f"{path}: not an SQLite database ({what}); it was left as it is")


class Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception; errors name the file."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.db, self.path = db, path

    def __enter__(self) -> None:
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"{self.path}: {exc}") from None

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self.db.execute("COMMIT")
                return
            except sqlite3.DatabaseError as error:
                exc = error
        # SQLite may have rolled back already (some errors end the transaction themselves).
        if self.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self.db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.DatabaseError | UnicodeDecodeError):
            raise OutboxError(f"{self.path}: {exc}") from None
