"""The campaign's state directory: the outbox of bundles and the record of rounds.

Layout (``state_dir``)::

    campaign.sqlite3        rounds, bundles and the next planned round (SQLite, WAL)
    lock                    flock'ed by the running process (one process per directory)
    work/                   the round being measured (emptied at start: a killed round's files)
    outbox/pending/         bundles not yet acknowledged, named <sha256>.zip
    outbox/acknowledged/    bundles the platform has (unless keep_acknowledged: false)
    outbox/refused/         bundles the platform refused for good, with <sha256>.why

A round's bundle is written in ``work/``, fsynced, renamed into ``outbox/pending/`` (the
directory fsynced), and only then recorded, in the same transaction that ends the round. A
process killed between the rename and the record leaves a complete bundle in ``pending/``
without a row: ``recover()`` at the next start records it from its own manifest. A row's status
changes first, its file moves after: a file left behind is moved by ``recover()`` too. So after
a kill -9 at any instruction, every bundle a round finished is either pending (sent again: the
platform answers a bundle it already has with the report it made, same SHA-256) or done.

The same SQLite settings as the routing monitor's outbox (``routing/live/outbox.py``, whose
transaction helper and refusal of foreign files this reuses): WAL, ``synchronous=FULL``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sentinelle.observatory.sqlite_state import OutboxError, Transaction, check_header

__all__ = ["STATUSES", "Bundle", "Outbox", "OutboxError", "fsync_dir"]

log = logging.getLogger("sentinelle.probe.campaign")

SCHEMA_VERSION = 1
STATUSES = ("pending", "acknowledged", "refused")
SCHEMA = """
CREATE TABLE bundles (
    sha256 TEXT PRIMARY KEY,
    round INTEGER NOT NULL,
    size INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'acknowledged', 'refused')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL DEFAULT 0,
    job_id INTEGER,
    last_error TEXT,
    report TEXT,
    created_at REAL NOT NULL,
    done_at REAL
);
CREATE TABLE rounds (
    number INTEGER PRIMARY KEY,
    nominal_at TEXT NOT NULL,
    scheduled_at TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL CHECK (status IN ('running', 'finished', 'abandoned', 'failed')),
    urls INTEGER,
    verdicts TEXT,
    bundle_sha256 TEXT,
    error TEXT
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass
class Bundle:
    sha256: str
    round: int
    path: Path
    attempts: int
    job_id: int | None


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class Outbox:
    def __init__(self, state_dir: Path, name: str, *, read_only: bool = False) -> None:
        self.dir = Path(state_dir)
        self.path = self.dir / "campaign.sqlite3"
        self.name = name
        self.folders = {status: self.dir / "outbox" / status for status in STATUSES}
        self.work = self.dir / "work"
        if not read_only:
            for folder in (*self.folders.values(), self.work):
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if read_only and not self.path.exists():
            raise OutboxError(f"{self.path}: no campaign has run with this state_dir yet")
        self._check_header()
        try:
            uri = f"file:{self.path}?mode=ro" if read_only else str(self.path)
            self._db = sqlite3.connect(uri, isolation_level=None, timeout=30, uri=read_only)
            self._open(read_only)
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: not a usable campaign state database ({exc}); it "
                              "was left as it is") from None

    def _check_header(self) -> None:
        check_header(self.path, "a campaign's state is one")

    def _open(self, read_only: bool) -> None:
        db = self._db
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if version > SCHEMA_VERSION:
            raise OutboxError(f"{self.path}: written by a newer Sentinelle (schema {version})")
        if (version == 0 and tables) or (version and not {"bundles", "rounds", "meta"} <= tables):
            raise OutboxError(f"{self.path}: an SQLite database that is not a campaign's state "
                              f"(tables: {', '.join(sorted(tables)) or 'none'}); left as it is")
        if read_only:
            if version == 0:
                raise OutboxError(f"{self.path}: no campaign has run with this state_dir yet")
        else:
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = FULL")
            if version == 0:
                with self._transaction():
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute("INSERT INTO meta (key, value) VALUES ('name', ?)", (self.name,))
                    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        owner = self.meta("name")
        if owner != self.name:
            raise OutboxError(f"{self.dir}: this state_dir belongs to campaign {owner!r}, not "
                              f"{self.name!r}; give each campaign its own state_dir")

    def close(self) -> None:
        self._db.close()

    def _transaction(self) -> Transaction:
        return Transaction(self._db, self.path)

    # --- meta (the planned round) -------------------------------------------------------------

    def meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: dict[str, str]) -> None:
        with self._transaction():
            for key, value in values.items():
                self._db.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                                 "DO UPDATE SET value = excluded.value", (key, value))

    # --- rounds --------------------------------------------------------------------------------

    def start_round(self, nominal: dt.datetime, scheduled: dt.datetime) -> int:
        """A new round number, one above every number ever used (killed rounds included)."""
        with self._transaction():
            last = self._db.execute("SELECT MAX(number) FROM rounds").fetchone()[0] or 0
            number = last + 1
            self._db.execute(
                "INSERT INTO rounds (number, nominal_at, scheduled_at, started_at, status) "
                "VALUES (?, ?, ?, ?, 'running')",
                (number, nominal.isoformat(), scheduled.isoformat(),
                 dt.datetime.now(dt.UTC).isoformat(timespec="seconds")))
            self._db.execute("DELETE FROM meta WHERE key IN ('next_nominal', 'next_at')")
            self._db.execute("INSERT INTO meta (key, value) VALUES ('last_nominal', ?) ON "
                             "CONFLICT (key) DO UPDATE SET value = excluded.value",
                             (nominal.isoformat(),))
        return number

    def end_round(self, number: int, status: str, error: str | None = None) -> None:
        with self._transaction():
            self._db.execute("UPDATE rounds SET status = ?, error = ?, finished_at = ? WHERE "
                             "number = ?", (status, (error or "")[:2000] or None,
                                            _now_text(), number))

    def add_bundle(self, source: Path, number: int, urls: int, verdicts: dict[str, int]) -> str:
        """Into the outbox (fsync, rename, fsync the directory), then recorded with the end of
        its round in one transaction. Returns the bundle's SHA-256."""
        digest, size = sha256_of(source)
        _fsync_file(source)
        target = self.folders["pending"] / f"{digest}.zip"
        os.replace(source, target)
        fsync_dir(self.folders["pending"])
        with self._transaction():
            self._insert(digest, number, size)
            self._db.execute(
                "UPDATE rounds SET status = 'finished', finished_at = ?, urls = ?, verdicts = ?, "
                "bundle_sha256 = ? WHERE number = ?",
                (_now_text(), urls, json.dumps(verdicts, sort_keys=True), digest, number))
        return digest

    def _insert(self, digest: str, number: int, size: int) -> None:
        self._db.execute("INSERT INTO bundles (sha256, round, size, status, created_at) VALUES "
                         "(?, ?, ?, 'pending', ?) ON CONFLICT (sha256) DO NOTHING",
                         (digest, number, size, time.time()))

    # --- delivery ------------------------------------------------------------------------------

    def due(self, now: float) -> list[Bundle]:
        """Pending bundles whose retry time has come, oldest first."""
        rows = self._db.execute(
            "SELECT sha256, round, attempts, job_id FROM bundles WHERE status = 'pending' AND "
            "next_at <= ? ORDER BY created_at, round", (now,)).fetchall()
        return [Bundle(sha, number, self.folders["pending"] / f"{sha}.zip", attempts, job)
                for sha, number, attempts, job in rows]

    def next_due(self) -> float | None:
        row = self._db.execute("SELECT MIN(next_at) FROM bundles WHERE status = 'pending'"
                               ).fetchone()
        return row[0] if row and row[0] is not None else None

    def retry(self, sha: str, error: str, at: float, job_id: int | None = None) -> None:
        with self._transaction():
            self._db.execute("UPDATE bundles SET attempts = attempts + 1, last_error = ?, "
                             "next_at = ?, job_id = ? WHERE sha256 = ?",
                             (error[:2000], at, job_id, sha))

    def waiting(self, sha: str, job_id: int, at: float) -> None:
        """Accepted as a job that has not ended yet: asked again about that job at ``at``."""
        with self._transaction():
            self._db.execute("UPDATE bundles SET job_id = ?, next_at = ?, last_error = NULL "
                             "WHERE sha256 = ?", (job_id, at, sha))

    def acknowledged(self, sha: str, report: str | None, keep: bool) -> None:
        with self._transaction():
            self._db.execute("UPDATE bundles SET status = 'acknowledged', report = ?, "
                             "done_at = ?, attempts = attempts + 1 WHERE sha256 = ?",
                             (report, time.time(), sha))
        self._settle(sha, "acknowledged", keep)

    def refused(self, sha: str, reason: str) -> None:
        with self._transaction():
            self._db.execute("UPDATE bundles SET status = 'refused', last_error = ?, "
                             "done_at = ?, attempts = attempts + 1 WHERE sha256 = ?",
                             (reason[:4000], time.time(), sha))
        self._settle(sha, "refused", True, reason)

    def _settle(self, sha: str, status: str, keep: bool, reason: str | None = None) -> None:
        """Move a decided bundle's file out of pending/ (after its row changed)."""
        source = self.folders["pending"] / f"{sha}.zip"
        if not source.exists():
            return
        if status == "refused":
            why = self.folders["refused"] / f"{sha}.why"
            why.write_text((reason or "") + "\n", encoding="utf-8")
        if keep:
            os.replace(source, self.folders[status] / source.name)
            fsync_dir(self.folders[status])
        else:
            source.unlink()
        fsync_dir(self.folders["pending"])

    # --- start-up ------------------------------------------------------------------------------

    def recover(self, keep: bool) -> list[str]:
        """After a crash: finish what a killed process left half-done; returns what was done,
        one line each, for the log."""
        notes: list[str] = []
        for leftover in sorted(self.work.iterdir()):
            _remove(leftover)
        recorded = {row[0]: row[1] for row in self._db.execute(
            "SELECT sha256, status FROM bundles")}
        for path in sorted(self.folders["pending"].glob("*.zip")):
            sha = path.stem
            if sha not in recorded:
                notes.append(self._adopt(path))
            elif recorded[sha] != "pending":
                self._settle(sha, recorded[sha], keep or recorded[sha] == "refused",
                             self._error(sha))
        for path in self.folders["pending"].glob("*.zip.tmp"):
            path.unlink()
        for (sha,) in self._db.execute("SELECT sha256 FROM bundles WHERE status = 'pending'"
                                       ).fetchall():
            if not (self.folders["pending"] / f"{sha}.zip").exists():
                self.refused(sha, f"its file {self.folders['pending'] / sha}.zip is missing")
                notes.append(f"bundle {sha[:12]}: file missing from the outbox, marked refused")
        running = self._db.execute("SELECT number FROM rounds WHERE status = 'running'"
                                   ).fetchall()
        for (number,) in running:
            self.end_round(number, "abandoned", "the process stopped during the round")
            notes.append(f"round {number}: abandoned (the process stopped during it)")
        return notes

    def _adopt(self, path: Path) -> str:
        """A bundle renamed into pending/ by a process killed before it recorded it."""
        from sentinelle.evidence.bundle import BundleError, read_manifest

        digest, size = sha256_of(path)
        try:
            campaign = read_manifest(path).get("campaign") or {}
            number = campaign.get("round")
            if not isinstance(number, int) or digest != path.stem:
                raise BundleError("no campaign round, or a name that is not its SHA-256")
        except (BundleError, OSError, ValueError) as exc:
            with self._transaction():
                self._insert(digest, 0, size)
            self.refused(digest, f"found in the outbox unrecorded and unreadable: {exc}")
            if path.stem != digest and path.exists():
                os.replace(path, self.folders["refused"] / path.name)
            return f"{path.name}: unreadable, moved to refused/"
        with self._transaction():
            self._insert(digest, number, size)
            self._db.execute("UPDATE rounds SET status = 'finished', finished_at = ?, "
                             "bundle_sha256 = ? WHERE number = ? AND status = 'running'",
                             (_now_text(), digest, number))
        return f"round {number}: its bundle {digest[:12]} was in the outbox, now recorded"

    def _error(self, sha: str) -> str | None:
        row = self._db.execute("SELECT last_error FROM bundles WHERE sha256 = ?",
                               (sha,)).fetchone()
        return row[0] if row else None

    # --- reading -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        result = dict.fromkeys(STATUSES, 0)
        for status, n in self._db.execute("SELECT status, COUNT(*) FROM bundles GROUP BY status"):
            result[status] = n
        return result

    def rounds(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT r.number, r.scheduled_at, r.started_at, r.finished_at, r.status, r.urls, "
            "r.verdicts, r.error, b.status, b.report, b.last_error FROM rounds r LEFT JOIN "
            "bundles b ON b.sha256 = r.bundle_sha256 ORDER BY r.number DESC LIMIT ?",
            (limit,)).fetchall()
        keys = ("round", "scheduled_at", "started_at", "finished_at", "status", "urls",
                "verdicts", "error", "bundle", "report", "bundle_error")
        out = [dict(zip(keys, row, strict=True)) for row in rows]
        for item in out:
            item["verdicts"] = json.loads(item["verdicts"]) if item["verdicts"] else {}
        return out

    def pending_list(self) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT sha256, round, attempts, next_at, last_error FROM bundles WHERE status = "
            "'pending' ORDER BY created_at").fetchall()
        return [dict(zip(("sha256", "round", "attempts", "next_at", "last_error"), row,
                         strict=True)) for row in rows]


def _remove(path: Path) -> None:
    import shutil

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
