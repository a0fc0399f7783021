"""MRT record framing: input sniffing, decompression, record boundaries and their recovery.

The first stage of the MRT reader (`mrt.py` is the public face). Reads gzip, bzip2 or plain
MRT files (sniffed from the magic bytes) chunk by chunk, never the whole file, and cuts the
decompressed stream into records (`iter_records`). Damaged input never raises: a truncated
compressed stream ends the file with a warning, a record whose framing does not hold
(implausible length or next header) makes the reader scan forward for the next plausible pair
of headers, and every byte or record dropped on the way is counted in `ReadStats`.
"""

from __future__ import annotations

import bz2
import re
import struct
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = [
    "BGP", "BGP4MP", "BGP4MP_ET", "CHUNK", "MAX_RANGES", "MAX_RECORD", "MAX_WARNINGS", "TABLE_DUMP",
    "TABLE_DUMP_V2", "WINDOW", "ReadStats", "iter_records", "open_input", "decompressed",
]

# MRT types (RFC 6396 section 4) this reader decodes; others are counted and skipped.
BGP = 5  # deprecated MRT "BGP" type of the 1999-2001 RIS files
TABLE_DUMP = 12
TABLE_DUMP_V2 = 13
BGP4MP = 16
BGP4MP_ET = 17

# Subtypes that a real header of each known type can carry (used to tell a header from noise
# when resynchronising after corrupt framing).
_VALID_SUBTYPES = {
    BGP: frozenset(range(0, 8)),
    TABLE_DUMP: frozenset((1, 2, 3, 4)),
    TABLE_DUMP_V2: frozenset(range(1, 13)),
    BGP4MP: frozenset(range(0, 12)),
    BGP4MP_ET: frozenset(range(0, 12)),
}
_MIN_LENGTH = {BGP: 4, TABLE_DUMP: 22, TABLE_DUMP_V2: 4, BGP4MP: 8, BGP4MP_ET: 12}

CHUNK = 1 << 18  # compressed bytes read at a time
MAX_RECORD = 32 << 20  # a declared length above this is framing damage, not a record
WINDOW = 7 * 86400  # seconds two consecutive records may be apart before framing is doubted
MAX_WARNINGS = 50  # further warnings are only counted
MAX_RANGES = 10_000  # skipped byte ranges kept in ReadStats (the counts go on)
# Decompression is bounded two ways. Output comes in pieces of at most OUT_CHUNK bytes (one
# decompress() call once turned a 1 MB gzip of zeros into 1 GB at once). And the output may not
# exceed MAX_RATIO times the compressed bytes read plus RATIO_SLACK: MRT compresses 5 to 15
# times, while a compression bomb inflates 1,000 (gzip) to 1,000,000 (bzip2) times and would
# keep the framing scanning zeros for hours.
OUT_CHUNK = 4 * CHUNK
MAX_RATIO = 100
RATIO_SLACK = 8 << 20

# A zero-width lookahead so that overlapping candidates are all visited.
_CANDIDATE = re.compile(
    rb"(?=(?s:.{4})\x00[\x05\x0c\x0d\x10\x11]\x00[\x00-\x0c]\x00[\x00\x01])"
)

# The same candidates found faster: search for the type byte and what follows it (a search
# that starts with a character class scans in C), then check the byte before. The lookahead
# above tests every offset in Python's regex loop, ~40 MB/s over a run of zeros, which made a
# zero-filled (or decompression-bomb) input cost seconds.
_TAIL = re.compile(rb"[\x05\x0c\x0d\x10\x11]\x00[\x00-\x0c]\x00[\x00\x01]")

_HDR = struct.Struct(">IHHI")


def _candidates(buf: bytes, start: int) -> Iterator[int]:
    """The offsets >= start where _CANDIDATE matches, in order (overlapping ones included)."""
    search = _TAIL.search
    at = start + 5
    while (m := search(buf, at)) is not None:
        type_at = m.start()
        at = type_at + 1
        if buf[type_at - 1] == 0:
            yield type_at - 5


@dataclass
class ReadStats:
    """What happened while reading one or more MRT files (counts add up across files)."""

    records: int = 0  # MRT records framed, any type
    elements: int = 0  # announcements, withdrawals and RIB entries produced
    skipped_records: int = 0  # records or corrupt regions dropped by the framing recovery
    skipped_bytes: int = 0
    malformed_records: int = 0  # framed fine, body not decodable (bgpdump drops them too)
    repaired_records: int = 0  # TABLE_DUMP records whose declared length was short (see below)
    resyncs: int = 0
    unknown_types: Counter = field(default_factory=Counter)  # MRT type -> records skipped
    unsupported: Counter = field(default_factory=Counter)  # "type/subtype" known type, no rows
    record_types: Counter = field(default_factory=Counter)  # (type, subtype) -> records
    truncated: bool = False
    warnings: list[str] = field(default_factory=list)
    suppressed_warnings: int = 0
    peer_index_record: bytes | None = None  # last TABLE_DUMP_V2 PEER_INDEX_TABLE, raw
    # [start, end) offsets in the decompressed stream of every region skipped by the framing
    # and of every record dropped whole because it did not decode whole (the first
    # MAX_RANGES; the warnings name the same offsets)
    skipped_ranges: list[tuple[int, int]] = field(default_factory=list)
    offset: int = 0  # where the record being decoded starts (set by iter_records)

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        else:
            self.suppressed_warnings += 1

    def skipped(self, start: int, end: int) -> None:
        if len(self.skipped_ranges) < MAX_RANGES:
            self.skipped_ranges.append((start, end))


# --------------------------------------------------------------------------- input


def open_input(path_or_stream: str | Path | IO[bytes]) -> tuple[IO[bytes], str, bool]:
    if isinstance(path_or_stream, (str, Path)):
        path = Path(path_or_stream)
        return open(path, "rb"), path.name, True  # noqa: SIM115 - closed by the caller
    name = getattr(path_or_stream, "name", "") or "<stream>"
    return path_or_stream, Path(str(name)).name, False


def decompressed(fp: IO[bytes], stats: ReadStats, name: str) -> Iterator[bytes]:
    """Yield the decompressed bytes of gzip (multi-member), bzip2 (multi-stream) or plain input.

    A stream that stops before its end-of-stream marker is a truncated download: what was
    decoded so far is yielded and `stats.truncated` is set; corrupt data stops the file the
    same way. Never raises for bad content. Output above MAX_RATIO times the input (plus
    RATIO_SLACK) stops the file the same way: a compression bomb is not an MRT file."""
    pending = fp.read(CHUNK)
    read_total = len(pending)
    produced = 0
    if pending[:2] == b"\x1f\x8b":
        magic, new = b"\x1f\x8b", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif pending[:3] == b"BZh":
        magic, new = b"BZh", bz2.BZ2Decompressor
    else:
        while pending:
            yield pending
            pending = fp.read(CHUNK)
        return
    is_gzip = magic == b"\x1f\x8b"
    dec: Any = None
    while True:
        if len(pending) < 4:
            more = fp.read(CHUNK)
            read_total += len(more)
            pending += more
            if not pending:
                break
        if dec is None:
            if not pending.startswith(magic):
                if pending.strip(b"\x00"):
                    stats.warn(f"{name}: {len(pending)}+ bytes of trailing garbage after the "
                               "compressed data ignored")
                    stats.skipped_bytes += len(pending)
                return
            dec = new()
        try:
            # zlib keeps what it did not consume in unconsumed_tail, bz2 inside itself.
            out = dec.decompress(pending, OUT_CHUNK)
            pending = dec.unconsumed_tail if is_gzip else b""
            while True:
                if out:
                    produced += len(out)
                    if produced > RATIO_SLACK + MAX_RATIO * read_total:
                        stats.truncated = True
                        stats.warn(f"{name}: compression ratio above {MAX_RATIO}:1 after "
                                   f"{produced} bytes (a compression bomb?); reading stopped "
                                   "there")
                        return
                    yield out
                # zlib may hold output back when it filled OUT_CHUNK: ask again until it
                # returns less; bz2 says whether it needs input.
                if dec.eof or (not pending and len(out) < OUT_CHUNK if is_gzip
                               else dec.needs_input):
                    break
                out = dec.decompress(pending, OUT_CHUNK)
                pending = dec.unconsumed_tail if is_gzip else b""
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            stats.truncated = True
            stats.warn(f"{name}: corrupt compressed data ({exc}); reading stopped there")
            return
        if dec.eof:
            pending = dec.unused_data
            dec = None
    if dec is not None and not dec.eof:
        stats.truncated = True
        stats.warn(f"{name}: compressed stream ends before its end marker (truncated file); "
                   "the records decoded up to there are kept")


def _strict_header(buf: bytes, pos: int) -> tuple[int, int, int, int] | None:
    ts, typ, sub, length = _HDR.unpack_from(buf, pos)
    valid = _VALID_SUBTYPES.get(typ)
    if valid is None or sub not in valid or length > MAX_RECORD or length < _MIN_LENGTH[typ]:
        return None
    return ts, typ, sub, length


class _Framer:
    """A sliding window over the decompressed stream; `buf[pos:]` is what is not consumed."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.it = iter(chunks)
        self.buf = b""
        self.pos = 0
        self.base = 0  # absolute offset of buf[0]
        self.eof = False
        self.lost = False  # find() had to drop the bytes of the record it started from

    def fill(self, need: int) -> None:
        """Make buf[pos:] at least `need` bytes long if the input allows (compacts buf)."""
        parts = [self.buf[self.pos:]]
        have = len(parts[0])
        while have < need and not self.eof:
            try:
                chunk = next(self.it)
            except StopIteration:
                self.eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        self.base += self.pos
        self.buf = b"".join(parts) if len(parts) > 1 else parts[0]
        self.pos = 0

    def find(self, start: int, discard: bool) -> int | None:
        """Absolute offset >= start of the first strictly valid header followed by another
        one (or by the end of the input), None if there is none. With `discard`, bytes
        before the scan point are dropped as it advances; otherwise they are kept (the
        caller may still emit the record at pos) unless the scan runs far beyond it."""
        self.lost = False
        scan = start
        while True:
            buf, base = self.buf, self.base
            need = 0
            for q in _candidates(buf, scan - base):
                if len(buf) - q < 12:
                    need = len(buf) - self.pos + CHUNK
                    scan = base + q
                    break
                head = _strict_header(buf, q)
                if head is None:
                    continue
                end = q + 12 + head[3]
                # early RIS TABLE_DUMP records are 4 bytes longer than declared
                slack = 4 if head[1] == TABLE_DUMP else 0
                if len(buf) < end + 12 + slack and not self.eof:
                    need = end + 12 + slack - self.pos
                    scan = base + q
                    break
                if end == len(buf) or (slack and end + slack == len(buf)):
                    return base + q
                for nend in (end, end + slack) if slack else (end,):
                    if len(buf) >= nend + 12:
                        nxt = _strict_header(buf, nend)
                        if nxt is not None and -WINDOW <= nxt[0] - head[0] <= WINDOW:
                            return base + q
            else:
                scan = base + max(scan - base, len(buf) - 11)
                need = len(buf) - self.pos + CHUNK
            if self.eof:
                if scan - base >= len(buf) - 11:
                    return None
                scan += 1  # a candidate that cannot be completed: look past it
                continue
            keep = scan - base
            if discard or keep - self.pos > MAX_RECORD + CHUNK:
                if not discard:
                    self.lost = True
                need -= keep - self.pos
                self.pos = keep
            self.fill(need)


_U16 = struct.Struct(">H").unpack_from
PEER_TABLE_MAX = 12 + 8 + 0xFFFF + 0xFFFF * 25  # the most a PEER_INDEX_TABLE can hold


def _peer_table_length(fr: _Framer, pos: int) -> int | None:
    """The body length a TABLE_DUMP_V2 PEER_INDEX_TABLE at pos gives itself (collector,
    view name, peer count, peers of the sizes their type says), None if the input ends first.
    The RIB entries after it name their peers by index in it: when its length field is
    damaged, reading it by its own fields keeps every later entry printable."""
    want = 4096
    while True:
        buf = fr.buf
        p = pos + 16
        if p + 2 <= len(buf):
            p += 2 + _U16(buf, p)[0]
            if p + 2 <= len(buf):
                count = _U16(buf, p)[0]
                p += 2
                for _ in range(count):
                    if p >= len(buf):
                        break
                    kind = buf[p]
                    p += 5 + (16 if kind & 1 else 4) + (4 if kind & 2 else 2)
                else:
                    if p <= len(buf):
                        return p - pos - 12
        if fr.eof or want > PEER_TABLE_MAX:
            return None
        want *= 4
        fr.fill(want)
        pos = fr.pos


def _followed(fr: _Framer, pos: int, ts: int, length: int) -> bool:
    """Whether a header the strict check rejects (an unknown type, say) is nevertheless a
    record: sane length and a strictly valid header right after it."""
    if length > MAX_RECORD:
        return False
    end = pos + 12 + length
    if len(fr.buf) < end + 12 and not fr.eof:
        fr.fill(end + 12 - pos)
        end = fr.pos + 12 + length
    nxt = _strict_header(fr.buf, end) if len(fr.buf) >= end + 12 else None
    return nxt is not None and -WINDOW <= nxt[0] - ts <= WINDOW


def _starts_record(fr: _Framer, at: int, ts: int) -> bool:
    """Whether a strictly valid header within WINDOW of ts starts at buf[at] (or the input
    ends exactly there). `at` is relative to fr.buf, which this may refill."""
    pos = fr.pos
    if len(fr.buf) < at + 12 and not fr.eof:
        fr.fill(at + 12 - pos)
        at += fr.pos - pos
    if len(fr.buf) == at and fr.eof:
        return True
    head = _strict_header(fr.buf, at) if len(fr.buf) >= at + 12 else None
    return head is not None and -WINDOW <= head[0] - ts <= WINDOW


def iter_records(
    chunks: Iterable[bytes], stats: ReadStats, name: str = ""
) -> Iterator[tuple[bytes, int, int, int]]:
    """Frame MRT records: yield (raw record, timestamp, type, subtype).

    Before a record is yielded, the header that follows it must be plausible too (sane length,
    timestamp within WINDOW of this one) or the input must end right there; otherwise the
    framing is resynchronised on the next offset where two strictly valid headers follow each
    other. Early RIS TABLE_DUMP files declare each record 4 bytes shorter than written; such a
    record is extended to the next valid header (counted in `repaired_records`). A record
    whose declared length runs past the next valid header is read up to that header (the
    decoders show it only if it then decodes whole), and a PEER_INDEX_TABLE by its own fields
    (the RIB entries after it need it); both are counted in `repaired_records`. Every region
    skipped is in `stats.skipped_ranges`, and `stats.offset` is where the record just yielded
    starts (the decoders report a record that does not decode whole there)."""
    fr = _Framer(chunks)
    fr.fill(12)
    unpack = _HDR.unpack_from
    checked = False  # the header at pos was validated as the successor of a good record
    while True:
        buf, pos = fr.buf, fr.pos
        if len(buf) - pos < 12:
            fr.fill(12)
            buf, pos = fr.buf, fr.pos
            avail = len(buf) - pos
            if avail < 12:
                if avail:
                    stats.truncated = True
                    stats.skipped_bytes += avail
                    stats.skipped(fr.base + pos, fr.base + pos + avail)
                    stats.warn(f"{name}: {avail} trailing bytes at offset {fr.base + pos} are "
                               "not a complete MRT header (truncated file)")
                return
        ts, typ, sub, length = unpack(buf, pos)
        if typ == TABLE_DUMP_V2 and sub == 1:
            own = _peer_table_length(fr, pos)  # may refill: reload buf and pos
            buf, pos = fr.buf, fr.pos
            if own is not None and own != length and _starts_record(fr, pos + 12 + own, ts):
                buf, pos = fr.buf, fr.pos
                stats.repaired_records += 1
                stats.warn(f"{name}: PEER_INDEX_TABLE at offset {fr.base + pos} declares "
                           f"{length} bytes, its peer entries end after {own}: read as {own}")
                length = own
                checked = True
        if not checked and _strict_header(buf, pos) is None:
            record = _followed(fr, pos, ts, length)  # may refill: reload buf and pos
            buf, pos = fr.buf, fr.pos
            if not record:
                start = fr.base + pos
                q = fr.find(start + 1, discard=True)
                stats.resyncs += 1
                stats.skipped_records += 1
                if q is None:
                    total = fr.base + len(fr.buf)
                    stats.skipped_bytes += total - start
                    stats.skipped(start, total)
                    stats.warn(f"{name}: implausible MRT header at offset {start} and no valid "
                               f"record after it; rest of the input skipped ({total - start} "
                               "bytes)")
                    return
                stats.skipped_bytes += q - start
                stats.skipped(start, q)
                stats.warn(f"{name}: no valid MRT header at offset {start}; skipped "
                           f"{q - start} bytes to the next valid record")
                fr.pos = q - fr.base
                checked = True
                continue
        end = pos + 12 + length
        if len(buf) < end + 12 and not fr.eof:
            fr.fill(end + 12 - pos)
            buf, pos = fr.buf, fr.pos
            end = pos + 12 + length
        if len(buf) >= end + 12:
            nts, _, _, nlen = unpack(buf, end)
            good = nlen <= MAX_RECORD and -WINDOW <= nts - ts <= WINDOW
        else:
            good = len(buf) >= end  # the input ends within the next 12 bytes
            if good and typ == TABLE_DUMP and fr.eof and len(buf) - end == 4:
                stats.repaired_records += 1  # the last of the 4-bytes-short records
                end += 4
        if good:
            stats.records += 1
            stats.offset = fr.base + pos
            yield buf[pos:end], ts, typ, sub
            fr.pos = end
            checked = True
            continue
        # The framing does not hold after this record: where is the next real record?
        start = fr.base + pos
        end_abs = start + 12 + length
        # from start + 1: a header cut short is followed at once by the next record
        q = fr.find(start + 1, discard=False)
        stats.resyncs += 1
        buf = fr.buf
        have = not fr.lost and fr.base + len(buf) >= end_abs
        rel = start - fr.base
        if q is None:
            total = fr.base + len(buf)
            if have:
                stats.records += 1
                stats.offset = start
                yield buf[rel:rel + 12 + length], ts, typ, sub
                rest = total - end_abs
                if rest:
                    stats.skipped_records += 1
                    stats.skipped_bytes += rest
                    stats.skipped(end_abs, total)
                    stats.warn(f"{name}: {rest} bytes after offset {end_abs} hold no valid MRT "
                               "record; skipped")
            else:
                stats.truncated = True
                stats.skipped_records += 1
                stats.skipped_bytes += total - start
                stats.skipped(start, total)
                stats.warn(f"{name}: record at offset {start} declares {length} bytes, only "
                           f"{total - start - 12} remain (truncated or damaged); skipped")
            return
        if q < end_abs and q - start >= 12 + _MIN_LENGTH.get(typ, 4) and (
                sub in _VALID_SUBTYPES.get(typ, ())):
            # The next valid record starts inside this one: its length field is damaged. The
            # bytes up to that header are read as the record; the decoders show its routes
            # only if it decodes whole (which a record cut short or run together with
            # garbage does not), else report it skipped.
            stats.repaired_records += 1
            stats.warn(f"{name}: record at offset {start} declares {length} bytes but the "
                       f"next valid header is at {q}; read as {q - start - 12} bytes")
            stats.records += 1
            stats.offset = start
            yield buf[rel:q - fr.base], ts, typ, sub
        elif q < end_abs or not have:
            # the next valid record starts inside this one: its length field is damaged
            stats.skipped_records += 1
            stats.skipped_bytes += q - start
            stats.skipped(start, q)
            stats.warn(f"{name}: record at offset {start} ({length} bytes declared) overlaps "
                       f"the next valid header at {q}; skipped {q - start} bytes")
        elif typ == TABLE_DUMP and q - end_abs <= 16:
            if not stats.repaired_records:
                stats.warn(f"{name}: TABLE_DUMP record at offset {start} is {q - end_abs} "
                           "bytes longer than declared (early RIS bview); records extended to "
                           "the next header")
            stats.repaired_records += 1
            stats.records += 1
            stats.offset = start
            yield buf[rel:q - fr.base], ts, typ, sub
        else:
            stats.records += 1
            stats.offset = start
            yield buf[rel:rel + 12 + length], ts, typ, sub
            if q > end_abs:
                stats.skipped_records += 1
                stats.skipped_bytes += q - end_abs
                stats.skipped(end_abs, q)
                stats.warn(f"{name}: {q - end_abs} bytes of damaged framing after offset "
                           f"{end_abs} skipped")
        fr.pos = q - fr.base
        checked = True


