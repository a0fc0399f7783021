"""The outbox: every alert event, once per destination, on disk before anyone is told.

One SQLite file per state directory (stdlib ``sqlite3``, WAL). ``add()`` writes a batch of events
and the monitor's snapshot in ONE transaction, so after a crash the snapshot never claims to have
produced events the outbox does not hold, nor the reverse: the events a restart produces again are
the same events (same idempotency key) and the ``UNIQUE (idempotency_key, destination)`` row
already there absorbs them.

Durability: ``synchronous=FULL``. In WAL mode NORMAL survives a killed process but may lose the
last transactions on a power cut or kernel crash; alerts are rare (a few per hour, even a busy
hour is hundreds), so one fsync per transaction costs nothing measurable and a committed alert
survives a power cut too.

Rows: ``pending`` (to deliver, at ``next_at`` or later), ``delivered``, ``rejected`` (a
permanent refusal: never retried, kept with its error) and ``muted`` (a mute covered the alert:
kept, never delivered, unless the same event comes again unmuted). Per destination, rows are
delivered in insertion order and a row waiting for its retry holds the later ones back (a
"resolved" never overtakes its "raised").

The schema version is ``PRAGMA user_version``; a file that is not an SQLite database, is damaged,
belongs to something else or to a newer version is refused with its name and left untouched.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sentinelle.observatory.sqlite_state import OutboxError, Transaction, check_header

from .events import AlertEvent

__all__ = ["SCHEMA_VERSION", "Outbox", "OutboxError"]

log = logging.getLogger("sentinelle.routing.outbox")

SCHEMA_VERSION = 1
STATUSES = ("pending", "delivered", "rejected", "muted")

SCHEMA = """
CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    event TEXT NOT NULL,              -- AlertEvent.to_dict(), JSON
    samples TEXT NOT NULL,            -- JSON list of the raw records, hex
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'rejected', 'muted')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    done_at REAL,
    UNIQUE (idempotency_key, destination)
);
CREATE INDEX deliveries_queue ON deliveries (destination, status, id);
CREATE TABLE snapshot (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    data TEXT NOT NULL,
    saved_at REAL NOT NULL
);
"""


class Outbox:
    """See the module docstring. Thread-safe: the deliverer calls it from worker threads."""

    def __init__(self, path: Path, destinations: list[str]) -> None:
        self.path = Path(path)
        self.destinations = list(destinations)
        self._lock = threading.Lock()
        self._check_header()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30,
                                       check_same_thread=False)
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot open the outbox ({exc})") from None
        # Text comes back as bytes and is decoded here: a damaged file may hold invalid UTF-8,
        # which sqlite3 would otherwise raise on in the middle of a fetch.
        self._db.text_factory = bytes
        try:
            self._open()
            orphans = self.orphans()
        # UnicodeDecodeError: SQLite's own error message quoting invalid UTF-8 from the file
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            self._db.close()
            raise OutboxError(f"{self.path}: not a usable outbox database ({exc}); it was "
                              "left as it is: move it aside to start with an empty outbox, "
                              "events not yet delivered would then be lost") from None
        except OutboxError:
            self._db.close()
            raise
        for destination, n in orphans.items():
            log.warning("%s: %d events wait for %s, which is no longer an --alert: they stay in "
                        "the outbox and are sent if it is given again", self.path, n, destination)

    def _check_header(self) -> None:
        check_header(self.path, "an outbox is one")

    def _open(self) -> None:
        db = self._db
        # quick_check reads every page: a truncated or damaged file fails here, before any write.
        result = _text(db.execute("PRAGMA quick_check").fetchone()[0])
        if result != "ok":
            raise OutboxError(f"{self.path}: the outbox database is damaged ({result}); it was "
                              "left as it is")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {_text(row[0]) for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if version > SCHEMA_VERSION:
            raise OutboxError(f"{self.path}: outbox schema version {version} was written by a "
                              f"newer Sentinelle (this one reads version {SCHEMA_VERSION})")
        if (version == 0 and tables) or (version and not {"deliveries", "snapshot"} <= tables):
            raise OutboxError(f"{self.path}: an SQLite database that is not an outbox (tables: "
                              f"{', '.join(sorted(tables)) or 'none'}); it was left as it is")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        if version == 0:
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writing -------------------------------------------------------------------------------

    def add(self, events: list[AlertEvent], snapshot: dict | None = None) -> int:
        """Store ``events`` once per destination and ``snapshot``, in one transaction.

        An existing (idempotency key, destination) row is left alone, except a muted copy,
        which the same event without ``muted_by`` turns pending (moved to the end of the queue:
        it becomes deliverable now). Returns the number of new pending deliveries."""
        # Serialised first: a value JSON cannot hold fails before anything is written.
        snapshot_text = json.dumps(snapshot, sort_keys=True) if snapshot is not None else None
        rows = [(e.idempotency_key, json.dumps(e.to_dict(), sort_keys=True),
                 json.dumps([s.hex() for s in e.samples]), e.muted_by is not None)
                for e in events]
        now = time.time()
        added = 0
        with self._lock, self._transaction():
            for key, text, samples, muted in rows:
                for destination in self.destinations:
                    found = self._db.execute(
                        "SELECT id, status FROM deliveries WHERE idempotency_key = ? AND "
                        "destination = ?", (key, destination)).fetchone()
                    if found is None:
                        self._db.execute(
                            "INSERT INTO deliveries (idempotency_key, destination, event, "
                            "samples, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                            (key, destination, text, samples, "muted" if muted else "pending",
                             now))
                        added += not muted
                    elif found[1] == b"muted" and not muted:
                        # A new id puts it after what was queued while it was muted.
                        self._db.execute("DELETE FROM deliveries WHERE id = ?", (found[0],))
                        self._db.execute(
                            "INSERT INTO deliveries (idempotency_key, destination, event, "
                            "samples, status, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
                            (key, destination, text, samples, now))
                        added += 1
            if snapshot_text is not None:
                self._db.execute(
                    "INSERT INTO snapshot (id, data, saved_at) VALUES (1, ?, ?) ON CONFLICT (id) "
                    "DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
                    (snapshot_text, now))
        return added

    def delivered(self, row_id: int, now: float) -> None:
        with self._lock, self._transaction():
            self._db.execute("UPDATE deliveries SET status = 'delivered', done_at = ?, "
                             "attempts = attempts + 1 WHERE id = ?", (now, row_id))

    def failed(self, row_id: int, error: str, retry_at: float | None) -> None:
        """A failed attempt: retried at ``retry_at``, or rejected for good when it is None."""
        with self._lock, self._transaction():
            if retry_at is None:
                self._db.execute("UPDATE deliveries SET status = 'rejected', last_error = ?, "
                                 "attempts = attempts + 1, done_at = ? WHERE id = ?",
                                 (error[:2000], time.time(), row_id))
            else:
                self._db.execute("UPDATE deliveries SET last_error = ?, next_at = ?, "
                                 "attempts = attempts + 1 WHERE id = ?",
                                 (error[:2000], retry_at, row_id))

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self.path)

    # --- reading -------------------------------------------------------------------------------

    def load_snapshot(self) -> dict | None:
        with self._lock:
            row = self._one("SELECT data FROM snapshot WHERE id = 1")
        if row is None:
            return None
        try:
            data = json.loads(row[0])
        except ValueError as exc:
            raise OutboxError(f"{self.path}: the stored snapshot is damaged ({exc})") from None
        if not isinstance(data, dict):
            raise OutboxError(f"{self.path}: the stored snapshot is not a JSON object")
        return data

    def due(self, destination: str, now: float, limit: int = 100) -> list[tuple[int, AlertEvent]]:
        """Pending rows in order, up to the first one whose retry time has not come."""
        with self._lock:
            rows = self._all(
                "SELECT id, event, samples, next_at FROM deliveries WHERE destination = ? AND "
                "status = 'pending' ORDER BY id LIMIT ?", (destination, limit))
        result, damaged = [], []
        for row_id, text, samples, next_at in rows:
            if isinstance(next_at, int | float) and next_at > now:
                break
            try:
                if not isinstance(next_at, int | float):
                    raise ValueError(f"retry time {next_at!r} is not a number")
                event = AlertEvent.from_dict(json.loads(text),
                                             [bytes.fromhex(s) for s in json.loads(samples)])
                _check(event)
                result.append((row_id, event))
            except (ValueError, TypeError, AttributeError, OverflowError, OSError) as exc:
                # A row edited or damaged on disk can never be sent: rejected, so that it does
                # not hold the queue, and kept for the operator to look at.
                damaged.append((row_id, f"damaged row {row_id} in {self.path}: {exc}"))
        for row_id, error in damaged:
            self.failed(row_id, error, None)
        return result

    def next_due(self, destination: str) -> float | None:
        """When the head of the destination's queue may be tried (None: nothing pending)."""
        with self._lock:
            row = self._one("SELECT next_at FROM deliveries WHERE destination = ? AND "
                            "status = 'pending' ORDER BY id LIMIT 1", (destination,))
        if row is None:
            return None
        return row[0] if isinstance(row[0], int | float) else 0.0  # damaged: due() rejects it

    def attempts(self, row_id: int) -> int:
        with self._lock:
            row = self._one("SELECT attempts FROM deliveries WHERE id = ?", (row_id,))
        return row[0] if row and isinstance(row[0], int) else 0

    def last_error(self, row_id: int) -> str | None:
        with self._lock:
            row = self._one("SELECT last_error FROM deliveries WHERE id = ?", (row_id,))
        return _text(row[0]) if row and row[0] is not None else None

    def counts(self) -> dict[str, dict[str, int]]:
        """destination -> status -> rows (statuses with no row left out), for the status line;
        the configured destinations only."""
        result: dict[str, dict[str, int]] = {destination: {} for destination in self.destinations}
        with self._lock:
            rows = self._all("SELECT destination, status, COUNT(*) FROM deliveries "
                             "GROUP BY destination, status")
        for destination, status, n in rows:
            if _text(destination) in result:
                result[_text(destination)][_text(status)] = n
        return result

    def orphans(self) -> dict[str, int]:
        """Pending rows of destinations no longer configured (kept: sent if it is given again)."""
        with self._lock:
            rows = self._all("SELECT destination, COUNT(*) FROM deliveries WHERE status = "
                             "'pending' GROUP BY destination")
        return {_text(d): n for d, n in rows if _text(d) not in self.destinations}

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        # Fetched inside the try: SQLite meets a damaged page while stepping, not at execute().
        try:
            return self._db.execute(sql, params).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise OutboxError(f"{self.path}: {exc}") from None

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> tuple | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None


def _check(event: AlertEvent) -> None:
    """What a destination relies on, for a row read back from disk (TypeError if wrong)."""
    for name in ("event", "alert_id", "type", "state", "prefix", "source"):
        if not isinstance(getattr(event, name), str):
            raise TypeError(f"{name} is not a string")
    event.to_dict()  # the times must be numbers a date can be made of


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
