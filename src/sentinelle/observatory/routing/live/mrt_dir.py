"""Source ``mrt-dir:DIR``: tail the MRT files a collector writes into a directory.

Collectors write MRT two ways, and both are followed:

* appended in place (GoBGP's ``mrt-dump`` appends to ``updates.mrt`` and rotates it): every
  poll reads the records completed since the last one. Only whole records are read; a record
  whose header or body is not all written yet waits for the next poll, from the same offset.
* whole compressed files (RIS writes ``updates.YYYYMMDD.HHMM.gz``, ``bview...gz``; ``.bz2``
  too): a file named ``*.gz``/``*.bz2``, or starting with the gzip or bzip2 magic, is read once
  its size and mtime did not change between two polls (a compressed stream cannot be read up
  to "what is written so far" reliably), through the batch reader's bomb-proof decompressor.
  If it grows after that (a writer that paused longer than a poll), reading goes on from the
  last record read.

A file is known by its identity, ``st_dev:st_ino``, not its name: a rotation that renames
``updates.mrt`` to ``updates.mrt.1`` and creates a new ``updates.mrt`` reads the end of the old
file under its new name and the new one from its start. Inode numbers are reused once a file
is deleted, so the first 32 bytes of a plain file are remembered too: another file under the
same identity (or the same file truncated in place, ``> updates.mrt``) is read from its start.

Position: ``state["files"][identity]`` holds the offset of the next record (in the
decompressed stream for a compressed file) and how many items of that record were already
handed to ``put``. It moves only when ``put`` has returned, so a restart from a saved state
(the monitor persists the dict and passes it back) reads nothing twice and misses nothing that
was still on disk. The dict is changed in place and stays JSON-able; entries of files no
longer in the directory are dropped.

Damage: framing is strict, since a live file has no "next header" to resynchronise on yet. A
header with an unknown type or subtype, a length below the type's minimum or above its
maximum (BGP messages are at most 65,535 bytes; only TABLE_DUMP_V2 RIB entries get the batch
reader's 32 MiB) is logged with the file name and offset, a ``status`` item says so, and the
rest of that file is skipped (never re-read, even if it grows); the other files go on. The
length is checked before anything is read, so a huge declared length allocates nothing. A
record whose framing holds but whose body does not decode is counted and skipped by the
decoders (as in the batch reader) and reading goes on. (Early RIS TABLE_DUMP files, whose
records are 4 bytes longer than declared, are not repaired here: ``routing scan`` reads them.)

What is read: regular files directly in DIR. Names starting with "." (rsync and editors write
temporary files so), subdirectories, FIFOs, devices and **symlinks** are ignored: a symlink
may point outside the directory (a file the monitor's user can read and should not publish in
an evidence bundle, /dev/zero, a FIFO that blocks the reader); each is logged once.

Items: ``element`` for every announcement, withdrawal and RIB entry; ``peer-down`` for a BGP
state change leaving Established (peer = (collector, address, ASN), the collector being the
same name the elements carry: ``rrcNN`` when the file or directory name has one, else the
directory's name); one ``alive`` for a batch of records with neither (state changes only).

Reading runs in a worker thread in batches of at most BATCH_RECORDS records, so a large file
neither blocks the event loop nor sits in memory: at most one record plus one read chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import stat
import struct
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..elements import Element
from ..mrt_framing import (
    _MIN_LENGTH,
    _VALID_SUBTYPES,
    BGP,
    BGP4MP,
    BGP4MP_ET,
    MAX_RECORD,
    TABLE_DUMP,
    TABLE_DUMP_V2,
    ReadStats,
    decompressed,
)
from ..mrt_records import Context, decode
from .events import SourceItem

__all__ = ["BATCH_RECORDS", "MAX_TAIL_RECORD", "MrtDirTailer"]

log = logging.getLogger(__name__)

# Largest record per type: a BGP message is at most 65,535 bytes (RFC 8654 extended messages)
# plus the BGP4MP/TABLE_DUMP headers; a TABLE_DUMP_V2 RIB record lists one prefix's routes
# from every peer and can be far larger. A header above these is damage, refused at once.
_BGP_RECORD = 65_535 + 64
MAX_TAIL_RECORD = MAX_RECORD
MAX_LENGTH = {BGP: _BGP_RECORD, TABLE_DUMP: _BGP_RECORD, BGP4MP: _BGP_RECORD,
              BGP4MP_ET: _BGP_RECORD, TABLE_DUMP_V2: MAX_TAIL_RECORD}
BATCH_RECORDS = 256  # records decoded per worker-thread call
BATCH_ITEMS = 4096  # ... or fewer once they gave this many items
PEER_INDEX_TABLE = 1  # TABLE_DUMP_V2 subtype
HEAD = 32  # bytes of a plain file remembered to tell it from another one with its inode
COMPRESSED_SUFFIXES = (".gz", ".bz2")
ESTABLISHED = 6  # BGP FSM state number in MRT STATE_CHANGE records
_RRC = re.compile(r"\b(rrc\d\d)\b")
_HEADER = struct.Struct(">IHHI")  # timestamp, type, subtype, length (RFC 6396 section 2)


class _Malformed(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


def check_header(head: bytes, offset: int) -> tuple[int, int, int, int]:
    """(timestamp, type, subtype, body length) of a 12-byte MRT header; _Malformed if the
    framing cannot be trusted."""
    ts, typ, sub, length = _HEADER.unpack(head)
    if typ not in _VALID_SUBTYPES:
        raise _Malformed(offset, f"unknown MRT type {typ}")
    if sub not in _VALID_SUBTYPES[typ]:
        raise _Malformed(offset, f"MRT type {typ} has no subtype {sub}")
    if length < _MIN_LENGTH[typ]:
        raise _Malformed(offset, f"declared length {length} below the minimum "
                                 f"{_MIN_LENGTH[typ]} of type {typ}")
    if length > MAX_LENGTH[typ]:
        raise _Malformed(offset, f"declared length {length} above the maximum "
                                 f"{MAX_LENGTH[typ]} of type {typ}")
    return ts, typ, sub, length


class _Chunks:
    """read(n) over an iterator of byte chunks (the decompressed stream); holds at most the
    bytes asked for plus one chunk."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks = chunks
        self.buf = bytearray()

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buf += chunk
        with memoryview(self.buf) as view:
            out = bytes(view[:n])  # one copy, not a bytearray slice and then bytes of it
        del self.buf[:n]
        return out


@dataclass
class _Record:
    offset: int  # where it starts
    end: int
    raw: bytes
    ts: int
    typ: int
    sub: int


def _records(fp: Any, offset: int, size: int | None) -> Iterator[_Record]:
    """Whole records from ``fp`` (positioned at ``offset``) until the data runs out.

    ``size`` (a plain file being written): the bytes on disk; a record ending past it is left
    for the next poll (return). ``size`` None (a compressed file, complete): a record cut by
    the end raises _Incomplete. Framing damage raises _Malformed."""
    while True:
        if size is not None and size - offset < 12:
            return
        head = fp.read(12)
        if len(head) < 12:
            if head and size is None:
                raise _Incomplete(offset, len(head))
            return
        ts, typ, sub, length = check_header(head, offset)
        end = offset + 12 + length
        if size is not None and end > size:
            return
        body = fp.read(length)
        if len(body) < length:
            if size is None:
                raise _Incomplete(offset, 12 + len(body))
            return  # the file shrank under us: the next poll sees it
        yield _Record(offset, end, head + body, ts, typ, sub)
        offset = end


class _Incomplete(Exception):
    """The end of a complete (compressed) file cuts a record: a truncated file."""

    def __init__(self, offset: int, have: int) -> None:
        super().__init__(offset, have)
        self.offset, self.have = offset, have


def collector_for(directory: Path, name: str) -> str:
    m = _RRC.search(name) or _RRC.search(directory.name)
    return m.group(1) if m else (directory.name or str(directory))


def _items(record: _Record, ctx: Context, source: str, collector: str, file_name: str,
           now: float) -> list[SourceItem]:
    items = []
    ctx.stats.offset = record.offset  # a record that does not decode whole is reported there
    for r in decode(record.raw, record.ts, record.typ, record.sub, ctx):
        if r[0] == "STATE":
            _, _, _, _, peer_ip, peer_as, old, new = r
            if old == ESTABLISHED and new != ESTABLISHED:
                items.append(SourceItem("peer-down", source, now,
                                        peer=(collector, str(peer_ip), int(peer_as)),
                                        detail=f"BGP state {old} -> {new} in {file_name}"))
            continue
        kind, _, ts, _, peer_ip, peer_as, prefix, _, a, _, _, ok, nh, _, _ = r
        if not ok:
            ctx.stats.malformed_records += 1
            continue
        element = Element(kind, ts, peer_ip or "", peer_as, prefix,
                          a.as_path if a is not None else (), collector, record.raw,
                          file_name, nh if a is not None else "",
                          a.communities if a is not None else ())
        items.append(SourceItem("element", source, now, element=element))
    return items


class _Reader:
    """One file being read during one poll: a generator of records in a worker thread."""

    def __init__(self, path: Path, entry: dict, ident: tuple[int, int], size: int) -> None:
        self.path, self.entry = path, entry
        self.stats = ReadStats()
        self.ctx = Context(self.stats, path.name)
        self.fp: IO[bytes] | None = None
        self.gen: Iterator[_Record] | None = None
        self.ident, self.size = ident, size

    def open(self) -> bool:
        try:
            # O_NOFOLLOW|O_NONBLOCK: the name may have become a symlink or FIFO since the scan
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            return False
        fp = os.fdopen(fd, "rb")
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != self.ident or not stat.S_ISREG(st.st_mode):
            fp.close()
            return False  # replaced between the scan and now: the next poll sorts it out
        self.fp = fp
        offset = self.entry["offset"]
        if self.entry["compressed"]:
            stream = _Chunks(decompressed(fp, self.stats, self.path.name))
            self.gen = self._skip(_records(stream, 0, None), offset)
        else:
            if offset:
                self._peer_table(fp)
            fp.seek(offset)
            self.gen = _records(fp, offset, min(self.size, st.st_size))
        return True

    def _peer_table(self, fp: IO[bytes]) -> None:
        """Resuming a plain RIB dump mid-file: its entries name their peers by index in the
        PEER_INDEX_TABLE, the file's first record, which is decoded again (not emitted)."""
        with contextlib.suppress(_Malformed, OSError):
            fp.seek(0)
            for record in _records(fp, 0, self.entry["offset"]):
                if (record.typ, record.sub) == (TABLE_DUMP_V2, PEER_INDEX_TABLE):
                    decode(record.raw, record.ts, record.typ, record.sub, self.ctx)
                break

    def _skip(self, records: Iterator[_Record], offset: int) -> Iterator[_Record]:
        """The records from ``offset`` on (a compressed file resumed after a restart); a
        PEER_INDEX_TABLE before it is decoded for the RIB entries after it."""
        for record in records:
            if record.offset >= offset:
                yield record
            elif (record.typ, record.sub) == (TABLE_DUMP_V2, PEER_INDEX_TABLE):
                decode(record.raw, record.ts, record.typ, record.sub, self.ctx)

    def batch(self, source: str, collector: str) -> tuple[list[tuple[_Record, list]], Any]:
        """Up to BATCH_RECORDS (record, items); the second value is None (more may follow),
        "end", or the _Malformed / _Incomplete that stopped the file. Runs in a thread."""
        out: list[tuple[_Record, list]] = []
        assert self.gen is not None
        items = 0
        try:
            for record in self.gen:
                out.append((record, _items(record, self.ctx, source, collector,
                                           self.path.name, time.time())))
                items += len(out[-1][1])
                # a RIB record can hold thousands of routes: the items are bounded too
                if len(out) >= BATCH_RECORDS or items >= BATCH_ITEMS:
                    return out, None
        except (_Malformed, _Incomplete) as exc:
            return out, exc
        return out, "end"

    def close(self) -> None:
        if self.gen is not None:
            with contextlib.suppress(ValueError):  # still running in a thread: GC closes it
                self.gen.close()  # type: ignore[attr-defined]
        if self.fp is not None:
            self.fp.close()


class MrtDirTailer:
    """Follow ``directory``; ``await poll(put)`` reads what is new once, ``run`` loops."""

    def __init__(self, directory: Path, *, source: str, state: dict | None = None) -> None:
        self.directory = Path(directory)
        self.source = source
        self.state = state if state is not None else {}
        files = self.state.get("files")
        if not isinstance(files, dict):
            files = self.state["files"] = {}
        # a damaged state entry is dropped (its file is read again) rather than trusted
        for ident, entry in list(files.items()):
            if not _valid_entry(entry):
                del files[ident]
        self.files: dict[str, dict] = files
        self._ignored: set[str] = set()  # names already logged as ignored
        self._unlisted = False  # the last scandir failed (logged once)

    async def run(self, put: Callable[[SourceItem], Awaitable[None]],
                  interval: float = 1.0) -> None:
        while True:
            await self.poll(put)
            await asyncio.sleep(interval)

    async def poll(self, put: Callable[[SourceItem], Awaitable[None]]) -> int:
        """One look at the directory: reads every file with something new, returns the
        number of records read."""
        work = await asyncio.to_thread(self._scan)
        records = 0
        for path, ident, size in work:
            entry = self.files.get(f"{ident[0]}:{ident[1]}")
            if entry is None:
                continue
            records += await self._read(path, entry, ident, size, put)
        return records

    # -- scanning (in a thread)

    def _scan(self) -> list[tuple[Path, tuple[int, int], int]]:
        found = []
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            if not self._unlisted:  # once per failure, not at every poll
                log.warning("mrt-dir %s: cannot list the directory: %s", self.directory, exc)
            self._unlisted = True
            return []
        if self._unlisted:
            log.warning("mrt-dir %s: the directory can be listed again", self.directory)
            self._unlisted = False
        for e in entries:
            try:
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue  # removed meanwhile
            if e.name.startswith(".") or not stat.S_ISREG(st.st_mode):
                if e.name not in self._ignored and not e.name.startswith("."):
                    self._ignored.add(e.name)
                    what = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file"
                    log.info("mrt-dir %s: %s is %s; ignored", self.directory, e.name, what)
                continue
            found.append((st.st_mtime_ns, e.name, st))
        found.sort(key=lambda f: (f[0], f[1]))  # oldest first: a rotated file before its heir
        seen, work = set(), []
        for _, name, st in found:
            ident = f"{st.st_dev}:{st.st_ino}"
            seen.add(ident)
            path = self.directory / name
            if self._plan(path, ident, st):
                work.append((path, (st.st_dev, st.st_ino), st.st_size))
        for ident in set(self.files) - seen:
            del self.files[ident]  # gone from the directory: its identity may be reused
        return work

    def _plan(self, path: Path, ident: str, st: os.stat_result) -> bool:
        """Update the entry of one file; True when it has something to read now."""
        entry = self.files.get(ident)
        head = _head(path) if entry is None or st.st_size != entry["size"] \
            or st.st_mtime_ns != entry["mtime_ns"] else entry["head"]
        if head is None:
            return False
        compressed = path.name.endswith(COMPRESSED_SUFFIXES) or _magic(bytes.fromhex(head))
        if entry is not None and not _same_file(entry, head, compressed, st):
            log.info("mrt-dir %s: %s is not the file read before under its identity "
                     "(replaced or truncated); reading it from its start", self.directory,
                     path.name)
            entry = None
        if entry is None:
            entry = self.files[ident] = {
                "name": path.name, "offset": 0, "skip": 0, "head": head,
                "size": -1, "mtime_ns": -1, "compressed": compressed, "done": False,
                "bad": False}
        entry["name"] = path.name
        if len(entry["head"]) < len(head):
            entry["head"] = head
        changed = (st.st_size, st.st_mtime_ns) != (entry["size"], entry["mtime_ns"])
        entry["size"], entry["mtime_ns"] = st.st_size, st.st_mtime_ns
        if entry["bad"]:
            return False
        if compressed:
            if entry["done"] and changed:
                # the same file grew after it was read (a writer that paused longer than a
                # poll, or a gzip member appended): go on from the records already read
                entry["done"] = False
                return False
            return not entry["done"] and not changed and st.st_size > 0
        return st.st_size - entry["offset"] >= 12

    # -- reading

    async def _read(self, path: Path, entry: dict, ident: tuple[int, int], size: int,
                    put: Callable[[SourceItem], Awaitable[None]]) -> int:
        reader = _Reader(path, entry, ident, size)
        collector = collector_for(self.directory, path.name)
        records = 0
        try:
            if not await _in_thread(reader.open):
                return 0
            while True:
                batch, stop = await _in_thread(reader.batch, self.source, collector)
                useful = False
                for record, items in batch:
                    for index, item in enumerate(items):
                        if index < entry["skip"]:
                            continue  # handed over before a restart
                        await put(item)
                        entry["skip"] = index + 1
                        useful = True
                    entry["offset"], entry["skip"] = record.end, 0
                    records += 1
                if batch and not useful:
                    await put(SourceItem("alive", self.source, time.time(),
                                         detail=f"{path.name}: {len(batch)} records, no routes"))
                if stop is None:
                    continue
                if isinstance(stop, _Malformed):
                    await self._bad(path, entry, stop.offset, stop.reason, put)
                elif isinstance(stop, _Incomplete):
                    message = (f"{path.name}: truncated file: the record at offset "
                               f"{stop.offset} is cut after {stop.have} bytes")
                    log.warning("mrt-dir %s: %s", self.directory, message)
                    entry["done"] = True
                elif entry["compressed"]:
                    entry["done"] = True
                if entry["compressed"] and reader.stats.truncated:
                    log.warning("mrt-dir %s: %s: %s", self.directory, path.name,
                                "; ".join(reader.stats.warnings[:3]) or "truncated")
                break
        finally:
            reader.close()
        return records

    async def _bad(self, path: Path, entry: dict, offset: int, reason: str,
                   put: Callable[[SourceItem], Awaitable[None]]) -> None:
        entry["bad"] = True
        where = "decompressed offset" if entry["compressed"] else "offset"
        message = (f"{path.name}: malformed MRT record at {where} {offset}: {reason}; "
                   "rest of the file skipped")
        log.warning("mrt-dir %s: %s", self.directory, message)
        await put(SourceItem("status", self.source, time.time(), detail=message))


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)`` in a worker thread. Cancelled meanwhile, it still waits for the
    thread (a bounded batch): a thread cannot be interrupted, and the file it reads must be
    closed after it, not under it."""
    job = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        raise


def _head(path: Path) -> str | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fp:
        return fp.read(HEAD).hex()


def _magic(head: bytes) -> bool:
    """gzip (deflate) or bzip2 magic. Stricter than the 2-3 bytes: "BZh" as an MRT timestamp
    is April 2005, so bzip2 also needs its block size digit and the block magic (or the
    end-of-stream magic of an empty stream)."""
    if head.startswith(b"\x1f\x8b\x08"):
        return True
    return (head[:3] == b"BZh" and head[3:4] in b"123456789" and len(head) >= 10
            and head[4:10] in (b"\x31\x41\x59\x26\x53\x59", b"\x17\x72\x45\x38\x50\x90"))


def _same_file(entry: dict, head: str, compressed: bool, st: os.stat_result) -> bool:
    """Whether the file now under a known identity is the one read before: same kind, not
    shorter (than the position reached, for a plain file), same first bytes."""
    if entry["compressed"] != compressed:
        return False
    if st.st_size < (entry["size"] if compressed else entry["offset"]):
        return False  # shrank: truncated in place or another file
    known = entry["head"]
    return head.startswith(known) if len(known) <= len(head) else known.startswith(head)


def _valid_entry(entry: Any) -> bool:
    types = {"name": str, "offset": int, "skip": int, "head": str, "size": int,
             "mtime_ns": int, "compressed": bool, "done": bool, "bad": bool}
    return isinstance(entry, dict) and all(
        isinstance(entry.get(k), t) and (t is not int or entry[k] >= -1)
        for k, t in types.items())
