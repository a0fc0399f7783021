"""Mutes: an operator silences some live routing alerts for a while, with a reason.

Files in the monitor's state directory:

* ``mutes.json``: the current mutes ``{"version": 1, "audit_head": HASH, "mutes": [{id,
  prefix, type, until, reason, by, created_at}]}``, replaced atomically (write a temporary
  file, rename); ``audit_head`` is the hash of the audit line written with it;
* ``audit.jsonl``: append-only, one JSON line per change (``add``, ``remove``, ``expire``)
  with ``seq``, ``at``, ``action``, ``by``, ``reason``, ``mute``, ``prev`` and ``hash``
  (mute_audit.py). Editing, removing or reordering a line breaks the chain; cutting lines off
  the end leaves ``audit_head`` pointing nowhere; `MuteStore.verify_audit` reports both.

mutes.json is not trusted on its own (it is a plain file anyone with access can edit): a mute
is *in force* only when the audit chain backs it, i.e. an intact "add" line holds exactly that
mute and no intact "remove"/"expire" line ended it, and when it lasts at most 90 days. Any
other mute in mutes.json is ignored (its alerts are delivered), logged once, and listed by
`verify_audit` (`sentinelle routing mute verify`). The chain has no secret, so the monitor
also remembers (``head``, ``ended``, kept in its snapshot) where it read the log to and which
mutes it saw end: a log rewritten before that point is read again (every mute in it is
reported), and a mute rolled back into both files stays ended. None of these files is
followed through a symlink, and audit.jsonl is not read past MAX_AUDIT_BYTES.

Several processes share the directory (the monitor polls, `sentinelle routing mute` adds and
removes): every change happens under an exclusive ``flock`` on ``mutes.lock`` and re-reads
``mutes.json`` first, so two writers never lose each other's change and an expiry is written
once. Changes are reported to the monitor by `MuteStore.poll` reading new audit lines.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..detectors import ALERT_TYPES
from ..prefixes import parse_prefix
from .events import AlertEvent
from .mute_audit import GENESIS, canonical, chain_hash, entry_hash, replay, verify_chain
from .mute_files import head_at, object_lines, open_nofollow, read_file
from .mute_model import (
    MAX_MUTE_DAYS,
    Mute,
    MuteError,
    is_text,
    mute_from_dict,
    short,
    unix_time,
)

__all__ = ["MAX_AUDIT_BYTES", "MAX_FILE_BYTES", "MAX_MUTE_DAYS", "Mute", "MuteError",
           "MuteStore", "mute_from_dict"]

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 4 * 1024 * 1024
# audit.jsonl is read whole at each change: ~500 bytes a line, 64 MB is >100,000 changes;
# past it the log is not read (a local user appending gigabytes must not stall the monitor)
# and no mute is in force
MAX_AUDIT_BYTES = 64 * 1024 * 1024
MAX_ENDED = 10_000  # ended mutes remembered (until their end) against a rolled-back log
MAX_WARNINGS = 5  # bad audit lines logged per poll; the rest are counted


class MuteStore:
    def __init__(self, state_dir: str | Path) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mutes_path = self.dir / "mutes.json"
        self.audit_path = self.dir / "audit.jsonl"
        self.lock_path = self.dir / "mutes.lock"
        # byte offset in audit.jsonl up to which poll() has reported (the detector keeps it in
        # its snapshot so a restart does not report old changes again)
        self.position = 0
        # the chain hash of the line ending at ``position`` (None: not known, as after a
        # snapshot from before it was kept): a log rewritten before that point is read again
        self.head: str | None = None
        # id -> until of the mutes a "remove"/"expire" line ended, as poll() read them: an
        # "add" line brought back by rolling audit.jsonl and mutes.json back to an older,
        # consistent pair puts none of them back in force (kept in the detector's snapshot)
        self.ended: dict[str, float] = {}
        self._audit_seen: tuple[int, int, int] | None = None
        self._skipped = 0
        self._audit_problem: str | None = None
        self._signature: tuple | None = None
        self._bad_signature: tuple | None = None
        self._mutes: list[Mute] = []  # the mutes in force
        self._warned: set[str] = set()  # ignored mutes already logged
        self._refresh(strict=True)

    # ----------------------------------------------------------------- reading

    def _stat(self) -> tuple[tuple[int, int, int] | None, ...]:
        """Identity of mutes.json and audit.jsonl: which mutes are in force depends on both."""
        out = []
        for path in (self.mutes_path, self.audit_path):
            try:
                st = path.lstat()  # a file replaced by a symlink is a change
            except FileNotFoundError:
                out.append(None)
            else:
                out.append((st.st_ino, st.st_size, st.st_mtime_ns))
        return tuple(out)

    def _read(self) -> list[Mute]:
        try:
            data = read_file(self.mutes_path, MAX_FILE_BYTES)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise MuteError(f"{self.mutes_path}: cannot read: {exc.strerror or exc}") from None
        return self._parse(data)

    def _parse(self, data: bytes) -> list[Mute]:
        where = str(self.mutes_path)
        if len(data) > MAX_FILE_BYTES:
            raise MuteError(f"{where}: file too large ({len(data)} bytes)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MuteError(f"{where}: not UTF-8 text (byte {exc.start})") from None
        if not text.strip():
            return []
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MuteError(f"{where}: line {exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise MuteError(f"{where}: line 1: JSON nested too deeply") from None
        except ValueError as exc:  # an integer past Python's 4300-digit conversion limit
            found = re.search(r"\d{4300}", text)
            line = text.count("\n", 0, found.start()) + 1 if found else 1
            raise MuteError(f"{where}: line {line}: invalid JSON: {str(exc)[:60]}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("mutes"), list):
            raise MuteError(f'{where}: line 1: expected {{"version": 1, "mutes": [...]}}')
        mutes: list[Mute] = []
        seen: set[str] = set()
        for number, entry in enumerate(doc["mutes"]):
            try:
                mute = mute_from_dict(entry)
                if mute.id in seen:
                    raise MuteError(f"duplicate id {mute.id!r}")
            except MuteError as exc:
                lines = object_lines(text)
                line = lines[number] if number < len(lines) else 1
                raise MuteError(f"{where}: line {line}: mute {number + 1}: {exc}") from None
            seen.add(mute.id)
            mutes.append(mute)
        return mutes

    def _refresh(self, strict: bool) -> None:
        """Re-read mutes.json when it changed. Not strict (the monitor's poll): a damaged
        file is logged once and the last good mutes stay in force."""
        signature = self._stat()
        if signature == self._signature:
            return
        try:
            self._mutes, ignored = self._in_force(self._read())
        except MuteError as exc:
            if strict:
                raise
            if signature != self._bad_signature:
                log.error("%s; keeping the %d mutes read before", exc, len(self._mutes))
                self._bad_signature = signature
            return
        self._signature = signature
        for mute_id, why in ignored.items():
            if mute_id not in self._warned:  # once per mute, not at every poll
                self._warned.add(mute_id)
                log.warning("%s: mute %s %s", self.mutes_path, mute_id, why)

    def _in_force(self, mutes: list[Mute]) -> tuple[list[Mute], dict[str, str]]:
        """(the mutes the audit chain backs and that last at most 90 days, id -> why each
        other one is ignored)."""
        try:
            backed = replay(read_file(self.audit_path, MAX_AUDIT_BYTES))[0]
        except FileNotFoundError:
            backed = {}
        except MuteError as exc:
            log.error("%s; no mute in force", exc)
            backed = {}
        except OSError as exc:
            log.error("%s: cannot read: %s; no mute in force", self.audit_path,
                      exc.strerror or exc)
            backed = {}
        kept: list[Mute] = []
        ignored: dict[str, str] = {}
        for mute in mutes:
            if mute.id in self.ended:
                ignored[mute.id] = ("was ended by a \"remove\"/\"expire\" line the monitor "
                                    "read before (audit.jsonl rolled back?): ignored")
            elif backed.get(mute.id) != mute.to_dict():
                ignored[mute.id] = ("has no matching \"add\" entry in the intact audit chain "
                                    "(added or changed by hand?): ignored")
            elif mute.until - mute.created_at > MAX_MUTE_DAYS * 86400:
                ignored[mute.id] = f"lasts more than {MAX_MUTE_DAYS} days: ignored"
            else:
                kept.append(mute)
        return kept, ignored

    def list(self, now: float | None = None) -> list[Mute]:
        """The mutes in force (all stored ones, or those still active at ``now``)."""
        self._refresh(strict=True)
        return [m for m in self._mutes if now is None or m.until > now]

    def matching(self, alert_type: str, prefix: str, now: float) -> Mute | None:
        """The mute covering an alert of this type and prefix at ``now`` (hot enough to use
        the last view read; poll() refreshes it)."""
        for mute in self._mutes:
            if mute.covers(alert_type, prefix, now):
                return mute
        return None

    # ----------------------------------------------------------------- writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with os.fdopen(open_nofollow(self.lock_path, os.O_WRONLY | os.O_CREAT), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _write_mutes(self, mutes: list[Mute], head: str) -> None:
        body = ",\n".join("  " + json.dumps(m.to_dict(), ensure_ascii=False) for m in mutes)
        text = (f'{{"version": 1, "audit_head": "{head}", "mutes": [\n' + body
                + ("\n" if body else "") + "]}\n")
        tmp = self.mutes_path.with_name(f".mutes.json.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)
        try:
            # O_EXCL: a symlink planted under the (guessable) name is not followed
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o666)
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(text)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(tmp, self.mutes_path)
        finally:
            tmp.unlink(missing_ok=True)

    def _last_line(self) -> tuple[bytes | None, bool]:
        """The last non-empty audit line and whether the file ends with a newline."""
        try:
            with os.fdopen(open_nofollow(self.audit_path, os.O_RDONLY | os.O_NONBLOCK),
                           "rb") as stream:
                if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                    raise MuteError(f"{self.audit_path}: not a regular file: refused")
                stream.seek(0, os.SEEK_END)
                size = stream.tell()
                stream.seek(max(0, size - 65536))
                tail = stream.read()
        except FileNotFoundError:
            return None, True
        lines = [line for line in tail.split(b"\n") if line.strip()]
        return (lines[-1] if lines else None), tail.endswith(b"\n") or not tail

    def _entries(self, changes: list[tuple[str, Mute, str, str]],
                 now: float) -> tuple[bytes, str]:
        """Audit lines for (action, mute, by, reason) changes, chained to the file's last
        line and to each other, and the last one's hash."""
        last, newline = self._last_line()
        seq = 1
        prev = GENESIS
        if last is not None:
            prev = chain_hash(last)
            with contextlib.suppress(ValueError, RecursionError, AttributeError, TypeError):
                seq = int(json.loads(last).get("seq")) + 1
        out = [] if newline else [b"\n"]
        for action, mute, by, reason in changes:
            entry: dict[str, Any] = {"seq": seq, "at": now, "action": action, "by": by,
                                     "reason": reason, "mute": mute.to_dict(), "prev": prev}
            entry["hash"] = prev = entry_hash(entry)
            out.append(canonical(entry).encode() + b"\n")
            seq += 1
        return b"".join(out), prev

    def _commit(self, mutes: list[Mute], lines: tuple[bytes, str]) -> None:
        """mutes.json first, then the audit lines; if the audit cannot be written, the old
        mutes.json is put back, so nothing is half-done."""
        entries, head = lines
        try:
            previous: bytes | None = read_file(self.mutes_path, MAX_FILE_BYTES)
        except FileNotFoundError:
            previous = None
        self._write_mutes(mutes, head)
        try:
            fd = open_nofollow(self.audit_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            with os.fdopen(fd, "ab") as stream:
                stream.write(entries)
                stream.flush()
                os.fsync(stream.fileno())
        except (OSError, MuteError):
            if previous is None:
                self.mutes_path.unlink(missing_ok=True)
            else:
                self.mutes_path.write_bytes(previous)
            raise
        self._signature = None
        self._refresh(strict=True)

    def add(self, prefix: str | None, type: str | None, until: float, reason: str,  # noqa: A002
            by: str, *, now: float | None = None) -> Mute:
        """Mute alerts of ``type`` (any when None) whose prefix is ``prefix`` or inside it
        (any when None) until ``until`` (unix time, in the future, at most 90 days ahead)."""
        now = time.time() if now is None else now
        if prefix is None and type is None:
            raise MuteError("give a prefix or a type (or both): a mute of everything is not "
                            "allowed", "prefix")
        if prefix is not None:
            try:
                prefix = str(parse_prefix(prefix, strict=True))
            except ValueError as exc:
                raise MuteError(str(exc), "prefix") from None
        if type is not None and type not in ALERT_TYPES:
            raise MuteError(f"unknown alert type {type!r} (one of {', '.join(ALERT_TYPES)})",
                            "type")
        if unix_time(until) is None:
            raise MuteError(f"until must be a unix time, got {until!r}", "until")
        if until <= now:
            raise MuteError("the end of the mute is in the past", "until")
        if until > now + MAX_MUTE_DAYS * 86400:
            raise MuteError(f"a mute lasts at most {MAX_MUTE_DAYS} days", "until")
        if not is_text(reason) or not reason.strip():
            raise MuteError("a reason is required (UTF-8 text; it goes into the audit log)",
                            "reason")
        if not is_text(by) or not by.strip():
            raise MuteError("say who mutes (UTF-8 text; it goes into the audit log)", "by")
        with self._locked():
            mutes = self._read()
            ids = {m.id for m in mutes}
            mute_id = secrets.token_hex(4)
            while mute_id in ids:  # pragma: no cover - 1 in 4 billion
                mute_id = secrets.token_hex(4)
            mute = Mute(mute_id, prefix, type, float(until), reason.strip(), by.strip(), now)
            self._commit([*mutes, mute],
                         self._entries([("add", mute, mute.by, mute.reason)], now))
        return mute

    def remove(self, mute_id: str, by: str, reason: str = "", *,
               now: float | None = None) -> Mute:
        now = time.time() if now is None else now
        if not is_text(by) or not is_text(reason):
            raise MuteError("by and reason must be UTF-8 text", "reason")
        with self._locked():
            mutes = self._read()
            found = next((m for m in mutes if m.id == mute_id), None)
            if found is None:
                raise MuteError(f"no mute with id {short(mute_id)} (see `mute list`)", "id")
            self._commit([m for m in mutes if m.id != mute_id],
                         self._entries([("remove", found, by, reason)], now))
        return found

    def _expire(self, now: float) -> None:
        with self._locked():
            try:
                mutes = self._read()
            except MuteError as exc:  # logged by _refresh; expired mutes cover nothing anyway
                log.debug("not expiring mutes: %s", exc)
                return
            expired = [m for m in mutes if m.until <= now]
            if expired:
                try:
                    self._commit([m for m in mutes if m.until > now],
                                 self._entries([("expire", m, "sentinelle", "expired")
                                                for m in expired], now))
                except (MuteError, OSError) as exc:  # the monitor goes on; retried next poll
                    log.error("not expiring mutes: %s", exc)

    # ----------------------------------------------------------------- polling

    def poll(self, now: float) -> list[AlertEvent]:
        """Expire mutes whose time is up, refresh the view of mutes.json, and return the
        audit entries not reported yet as "muted" / "unmuted" events (type "mute")."""
        self.ended = {k: until for k, until in self.ended.items() if until > now}
        self._refresh(strict=False)
        if any(m.until <= now for m in self._mutes):
            self._expire(now)
        try:
            info = os.stat(self.audit_path, follow_symlinks=False)
        except FileNotFoundError:
            return []
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        if info.st_size == self.position and seen == self._audit_seen:
            return []
        try:
            data = read_file(self.audit_path, MAX_AUDIT_BYTES)
        except FileNotFoundError:
            return []
        except MuteError as exc:
            if str(exc) != self._audit_problem:  # once, not at every poll
                self._audit_problem = str(exc)
                log.error("%s; its changes are not reported", exc)
            return []
        self._audit_problem = None
        if len(data) < self.position:  # rewritten shorter: report again (keys deduplicate)
            log.warning("%s shrank; reading it from the start", self.audit_path)
            self.position = 0
        elif self.position and self.head is not None and \
                head_at(data, self.position) != self.head:
            # the same size or longer, but not what was read: a line inserted or changed
            # before the position would otherwise back a mute nobody was told of
            log.warning("%s was rewritten before the end of what was read; reading it from "
                        "the start", self.audit_path)
            self.position = 0
        self._audit_seen = seen
        events: list[AlertEvent] = []
        self._skipped = 0
        offset = 0
        for number, raw in enumerate(data.split(b"\n"), 1):
            end = offset + len(raw) + 1
            if end > len(data):
                break  # an incomplete last line: a writer is still at it
            if offset >= self.position and raw.strip():
                event = self._event(raw, number, now)
                if event is not None:
                    events.append(event)
            offset = end
        self.position = max(self.position, offset)
        self.head = head_at(data, self.position)
        if self._skipped > MAX_WARNINGS:
            log.warning("%s: %d more bad lines skipped", self.audit_path,
                        self._skipped - MAX_WARNINGS)
        return events

    def resume(self, position: int, head: str | None, ended: dict[str, float]) -> None:
        """Continue from the detector's snapshot: where poll() was in the log, the hash of the
        line there, and the mutes ended by then."""
        self.position, self.head = position, head
        self.ended.update(ended)
        self._signature = None  # judge the mutes in force again

    def _event(self, raw: bytes, number: int, now: float) -> AlertEvent | None:
        try:
            entry = json.loads(raw)
            mute = mute_from_dict(entry["mute"])
            action = entry["action"]
            at = unix_time(entry.get("at"))
            if action not in ("add", "remove", "expire") or at is None:
                raise ValueError(f"unknown action {short(action)} or bad time")
            if not is_text(entry.get("by", "")) or not is_text(entry.get("reason", "")):
                raise ValueError("by and reason must be UTF-8 text")
        except (ValueError, KeyError, TypeError, RecursionError) as exc:
            self._skipped += 1
            if self._skipped <= MAX_WARNINGS:
                log.warning("%s: line %d: skipped, not a valid audit entry (%s)",
                            self.audit_path, number, str(exc)[:200])
            return None
        if action != "add" and mute.until > now and mute.id not in self.ended and \
                len(self.ended) < MAX_ENDED:  # bounded: it goes into every snapshot
            self.ended[mute.id] = min(mute.until, now + MAX_MUTE_DAYS * 86400)
            self._signature = None  # judge the mutes in force again
        details = mute.to_dict() | {"action": action, "at": at, "actor": entry.get("by"),
                                    "note": entry.get("reason"), "seq": entry.get("seq")}
        return AlertEvent(
            event="muted" if action == "add" else "unmuted", alert_id=f"mute:{mute.id}",
            type="mute", prefix=mute.prefix or "", first_seen=mute.created_at, last_seen=at,
            resolved_at=None if action == "add" else at, details=details,
            source="mutes", observed_at=now, emitted_at=time.time(),
        )

    def verify_audit(self) -> list[str]:
        """Problems in the audit chain (one message per bad line), an audit log that ends
        before the change mutes.json records last (lines cut off), and every mute in
        mutes.json that is not in force for want of the chain's backing (empty: all well)."""
        try:
            data = read_file(self.audit_path, MAX_AUDIT_BYTES)
        except FileNotFoundError:
            data = b""
        except MuteError as exc:
            return [str(exc)]
        except OSError as exc:
            return [f"{self.audit_path}: cannot read: {exc.strerror or exc}"]
        problems = verify_chain(self.audit_path, data)
        last, heads = replay(data)[1:]
        head = self._stored_head()
        if head is not None and head != last:
            if head in heads:
                after = len(heads) - heads.index(head) - 1
                problems.append(f"{self.audit_path}: {after} line(s) after the last change "
                                f"recorded in {self.mutes_path} (appended by hand?)")
            else:
                problems.append(f"{self.audit_path}: ends before the last change recorded in "
                                f"{self.mutes_path} (lines cut off the end, or the file "
                                "replaced)")
        try:
            ignored = self._in_force(self._read())[1]
        except MuteError as exc:
            return [*problems, str(exc)]
        problems += [f"{self.mutes_path}: mute {mute_id} {why}"
                     for mute_id, why in ignored.items()]
        return problems

    def _stored_head(self) -> str | None:
        """mutes.json's ``audit_head`` (None when absent: a file from before it existed)."""
        try:
            doc = json.loads(read_file(self.mutes_path, MAX_FILE_BYTES))
        except (OSError, ValueError, RecursionError):
            return None
        head = doc.get("audit_head") if isinstance(doc, dict) else None
        return head if isinstance(head, str) else None
