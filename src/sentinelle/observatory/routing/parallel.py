"""`sentinelle routing dump --jobs N`: decode MRT records in worker processes.

The main process reads the file as the sequential reader does (decompression, framing and its
resynchronisation: `mrt_framing`) and groups consecutive framed records into batches of about
`BATCH_BYTES` raw bytes. A process pool decodes each batch (`mrt_records.decode`) and renders it
(`bgpdump_format.render_rows`, the code behind the sequential `write_bgpdump`) into one block
of `bgpdump -m` lines, already encoded for the output; the main process writes the blocks in
file order. At most `IN_FLIGHT_PER_JOB * jobs` batches are queued or being decoded at any time,
so memory stays bounded whatever the file size.

What makes the output the same as one process's, byte for byte:

* TABLE_DUMP_V2 RIB entries need the PEER_INDEX_TABLE that precedes them. The main process
  decodes every PEER_INDEX_TABLE record it frames (a scratch decode: they are rare and small)
  and sends the last one that decoded, raw, with each batch; a worker rebuilds the peer list
  from it when it differs from the one it holds, then decodes the batch's own records in
  order (a PEER_INDEX_TABLE inside the batch replaces the list as it would sequentially).
* `ReadStats`: the framing counts (records, skipped regions and bytes, resyncs, repaired
  records, truncation) are made in the main process as before; each batch returns its decoding
  counts (malformed records, unknown types, unsupported subtypes, record types, elements),
  which are added up. Warnings carry the index of the record they were raised at (framing
  warnings: the number of records framed so far, i.e. before the decoding of the next one), so
  merging them gives the sequential order, the same first `MAX_WARNINGS` and the same count of
  suppressed ones. The warning about RIB entries whose peer no PEER_INDEX_TABLE lists is given
  once per file sequentially; each batch reports its own, the merge keeps the first.
* The offset of each record travels with it, so that a record that does not decode whole is
  reported with the same byte range; the skipped ranges of the framing and of the batches are
  merged in offset order, which is the order one process finds them in.
"""

from __future__ import annotations

import multiprocessing
import os
import struct
from array import array
from collections import Counter, deque
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from . import mrt_accel
from .bgpdump_format import render_rows
from .mrt_framing import (
    MAX_WARNINGS,
    TABLE_DUMP_V2,
    ReadStats,
    decompressed,
    iter_records,
    open_input,
)
from .mrt_records import Context, decode

__all__ = ["BATCH_BYTES", "IN_FLIGHT_PER_JOB", "ParallelDump", "resolve_jobs"]

BATCH_BYTES = 512 << 10  # raw MRT bytes per batch (records are never split)
IN_FLIGHT_PER_JOB = 2  # batches queued or decoding per worker

_HEAD = struct.Struct(">IHH").unpack_from

# ReadStats fields merged apart from the plain counts (ints, Counters, the truncated flag).
_APART = frozenset(("warnings", "suppressed_warnings", "peer_index_record", "skipped_ranges",
                    "offset"))
_COUNTS = tuple(f.name for f in fields(ReadStats) if f.name not in _APART)


def resolve_jobs(jobs: int) -> int:
    """`--jobs` value -> number of processes (0: one per CPU)."""
    if jobs == 0:
        return os.cpu_count() or 1
    return jobs


@dataclass
class _FramingStats(ReadStats):
    """The main process's stats: warnings are kept with their position (records framed so
    far) to be merged with the workers' later."""

    events: list = field(default_factory=list)
    overflow: int = 0

    def warn(self, message: str) -> None:
        if len(self.events) < MAX_WARNINGS:
            self.events.append((self.records, 0, message, None))
        else:
            self.overflow += 1  # 50 framing warnings come before it: suppressed in the end


@dataclass
class _BatchStats(ReadStats):
    """A worker's stats for one batch: warnings with the index of their record."""

    at: int = 0
    ctx: Any = None
    events: list = field(default_factory=list)
    kept: int = 0
    overflow: int = 0
    peer_warned: bool = False

    def warn(self, message: str) -> None:
        ctx = self.ctx
        if ctx is not None and ctx.missing_peers_warned and not self.peer_warned:
            # the once-per-file warning about unknown peers: merged apart, first one kept
            self.peer_warned = True
            self.events.append((self.at, 1, message, _PEER))
        elif self.kept < MAX_WARNINGS:
            self.kept += 1
            self.events.append((self.at, 1, message, None))
        else:
            self.overflow += 1  # 50 warnings that stay come before it: suppressed in the end


_PEER = "peer"


# --------------------------------------------------------------------------- worker side

# Per worker process: the file being decoded, its Context and the raw PEER_INDEX_TABLE the
# Context's peer list was built from.
_worker: dict[str, Any] = {"key": None, "ctx": None, "peer_raw": None}


def _peers_of(raw: bytes, name: str) -> list | None:
    scratch = Context(ReadStats(), name)
    ts, typ, sub = _HEAD(raw, 0)
    decode(raw, ts, typ, sub, scratch)
    return scratch.peers


def _decode_batch(task: tuple) -> tuple:
    """Decode and render one batch: (encoded or str block, lines, counts, warnings, overflow)."""
    key, name, extended, encoding, errors, peer_raw, base, blob, lengths, offsets = task
    stats = _BatchStats()
    state = _worker
    if state["key"] != key:
        ctx = Context(stats, name)
        state["key"], state["ctx"], state["peer_raw"] = key, ctx, None
    else:
        ctx = state["ctx"]
        ctx.stats = stats
    stats.ctx = ctx
    ctx.missing_peers_warned = False  # per batch; the main process keeps the file's first
    if peer_raw != state["peer_raw"]:
        ctx.peers = _peers_of(peer_raw, name) if peer_raw is not None else None
        ctx.heads_key = None
    lines: list[str] = []
    append = lines.append
    render = render_rows
    off = 0
    at = base
    # the compiled renderer first, as write_bgpdump does (it never warns: what it declines
    # is decoded here with the warnings tagged as above)
    fast = mrt_accel.renderer(ctx)
    n = 0
    for length, offset in zip(lengths, offsets, strict=True):
        end = off + length
        raw = blob[off:end]
        ts, typ, sub = _HEAD(blob, off)
        stats.at = at
        stats.offset = offset
        k = fast.record(raw, ts, typ, sub) if fast is not None else -1
        if k >= 0:
            n += k
        else:
            rows = decode(raw, ts, typ, sub, ctx)
            if rows:
                render(rows, append, extended)
                if fast is not None and lines:
                    n += len(lines)
                    fast.text(lines)
                    lines.clear()
        off = end
        at += 1
    state["peer_raw"] = stats.peer_index_record or peer_raw
    ctx.stats = None  # do not keep the batch's stats alive
    if fast is not None:
        text = fast.take()
    else:
        n = len(lines)
        if lines:
            lines.append("")
        text = "\n".join(lines)
    data: str | bytes = text.encode(encoding, errors) if encoding else text
    counts = {f: getattr(stats, f) for f in _COUNTS}
    return data, n, counts, stats.events, stats.overflow, stats.skipped_ranges


# --------------------------------------------------------------------------- main side


def _merge_counts(stats: ReadStats, counts: dict) -> None:
    for name, value in counts.items():
        if isinstance(value, Counter):
            getattr(stats, name).update(value)
        elif isinstance(value, bool):
            if value:
                setattr(stats, name, True)
        elif value:
            setattr(stats, name, getattr(stats, name) + value)


class ParallelDump:
    """A pool of `jobs` decoding processes, reused for every file given to `write`."""

    def __init__(self, jobs: int, *, batch_bytes: int | None = None,
                 in_flight: int | None = None) -> None:
        methods = multiprocessing.get_all_start_methods()
        mp = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        self.jobs = jobs
        self.batch_bytes = batch_bytes if batch_bytes is not None else BATCH_BYTES
        self.in_flight = in_flight if in_flight is not None else IN_FLIGHT_PER_JOB * jobs
        self.pool = mp.Pool(jobs)
        self._files = 0
        self._broken = False  # a write stopped half-way: batches may still be queued

    def __enter__(self) -> ParallelDump:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers (at once if a write was interrupted: its batches are not wanted)."""
        if self._broken:
            self.pool.terminate()
        else:
            self.pool.close()
        self.pool.join()

    def write(self, path_or_stream: str | Path | IO[bytes], out: IO[str],
              stats: ReadStats | None = None, *, extended: bool = True) -> int:
        """`bgpdump_format.write_bgpdump`, decoded by the pool: same lines, same stats."""
        stats = stats if stats is not None else ReadStats()
        self._files += 1
        key = (os.getpid(), id(self), self._files)
        buffer = getattr(out, "buffer", None)
        encoding = getattr(out, "encoding", None)
        if buffer is not None and encoding and os.linesep == "\n":
            out.flush()
            sink = buffer.write
            errors = getattr(out, "errors", None) or "strict"
        else:
            sink, encoding, errors = out.write, None, "strict"
        framing = _FramingStats()
        fp, name, close = open_input(path_or_stream)
        scratch = Context(ReadStats(), name)  # decodes the PEER_INDEX_TABLEs in passing
        peer_raw: bytes | None = None  # the last one that decoded
        pending: deque = deque()
        batch_events: list = []
        overflow = 0
        n = 0
        parts: list[bytes] = []
        lengths = array("I")
        offsets = array("Q")
        ranges: list = []
        size = 0
        batch_peer: bytes | None = None
        base = 0
        pool, limit, batch_bytes = self.pool, max(1, self.in_flight), self.batch_bytes

        def collect() -> None:
            nonlocal n, overflow
            data, lines, counts, events, over, skipped = pending.popleft().get()
            ranges.extend(skipped)
            if data:
                sink(data)
            n += lines
            _merge_counts(stats, counts)
            batch_events.extend(events)
            overflow += over

        def submit() -> None:
            nonlocal parts, lengths, offsets, size
            task = (key, name, extended, encoding, errors, batch_peer, base, b"".join(parts),
                    lengths, offsets)
            parts, lengths, offsets, size = [], array("I"), array("Q"), 0
            while len(pending) >= limit:
                collect()
            pending.append(pool.apply_async(_decode_batch, (task,)))

        try:
            for raw, ts, typ, sub in iter_records(decompressed(fp, framing, name), framing,
                                                  name):
                if not parts:
                    batch_peer = peer_raw
                    base = framing.records - 1
                parts.append(raw)
                lengths.append(len(raw))
                offsets.append(framing.offset)
                size += len(raw)
                if typ == TABLE_DUMP_V2 and sub == 1:
                    scratch.stats = ReadStats()
                    decode(raw, ts, typ, sub, scratch)
                    if scratch.stats.peer_index_record is raw:
                        peer_raw = raw
                if size >= batch_bytes:
                    submit()
            if parts:
                submit()
            while pending:
                collect()
        except BaseException:
            self._broken = True  # e.g. BrokenPipeError from `| head`
            raise
        finally:
            if close:
                fp.close()
        _merge_counts(stats, {f: getattr(framing, f) for f in _COUNTS})
        stats.offset = framing.offset
        ranges.extend(framing.skipped_ranges)
        ranges.sort()
        for start, end in ranges:
            stats.skipped(start, end)
        if peer_raw is not None:
            stats.peer_index_record = peer_raw
        # Warnings in the order one process raises them: by record, framing before decoding.
        events = framing.events + batch_events
        events.sort(key=lambda e: (e[0], e[1]))  # stable: a record's warnings keep their order
        peer_warned = False
        for _at, _kind, message, tag in events:
            if tag == _PEER:
                if peer_warned:
                    continue
                peer_warned = True
            stats.warn(message)
        stats.suppressed_warnings += framing.overflow + overflow
        return n
