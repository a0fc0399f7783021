"""Streaming MRT reader (RFC 6396, RFC 8050 ADD-PATH, RFC 6793 AS4 transition).

Reads gzip, bzip2 or plain MRT files (sniffed from the magic bytes) chunk by chunk, never the
whole file, and turns each record into *rows*: one per route announced, withdrawn or dumped,
plus BGP state changes. `read_elements` makes `Element`s of them for the detectors;
`bgpdump_format` renders the same rows as `bgpdump -m` lines, which is how the decoding is
checked field by field against the C reference parser.

Damaged input never raises: a truncated compressed stream ends the file with a warning, a
record whose framing does not hold (implausible length or next header) makes the reader scan
forward for the next plausible pair of headers, and every byte or record dropped on the way is
counted in `ReadStats`. The decoding follows bgpdump's conventions (what it prints when an
attribute is missing, how AS4_PATH is merged, which records it drops) so that the two agree;
where bgpdump reads past an attribute or misparses, this reader stays within the record.
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
from socket import inet_ntoa
from typing import IO, Any

from .elements import Element

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

# A zero-width lookahead so that overlapping candidates are all visited.
_CANDIDATE = re.compile(
    rb"(?=(?s:.{4})\x00[\x05\x0c\x0d\x10\x11]\x00[\x00-\x0c]\x00[\x00\x01])"
)

_HDR = struct.Struct(">IHHI")
_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_U16x2 = struct.Struct(">HH")
_U32x2 = struct.Struct(">II")
_TD2_ENTRY = struct.Struct(">HIH")  # peer index, originated time, attribute length
_TD2_ENTRY_AP = struct.Struct(">HIIH")  # ... with the RFC 8050 path identifier
_u16 = _U16.unpack_from
_u32 = _U32.unpack_from

_ZEROS = bytes(32)
_NO_IP = b"\xff\xff\xff\xff"  # bgpdump's INADDR_NONE: what it prints for a missing NEXT_HOP


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

    def warn(self, message: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(message)
        else:
            self.suppressed_warnings += 1


# --------------------------------------------------------------------------- input


def _open(path_or_stream: str | Path | IO[bytes]) -> tuple[IO[bytes], str, bool]:
    if isinstance(path_or_stream, (str, Path)):
        path = Path(path_or_stream)
        return open(path, "rb"), path.name, True  # noqa: SIM115 - closed by the caller
    name = getattr(path_or_stream, "name", "") or "<stream>"
    return path_or_stream, Path(str(name)).name, False


def _decompressed(fp: IO[bytes], stats: ReadStats, name: str) -> Iterator[bytes]:
    """Yield the decompressed bytes of gzip (multi-member), bzip2 (multi-stream) or plain input.

    A stream that stops before its end-of-stream marker is a truncated download: what was
    decoded so far is yielded and `stats.truncated` is set; corrupt data stops the file the
    same way. Never raises for bad content."""
    pending = fp.read(CHUNK)
    if pending[:2] == b"\x1f\x8b":
        magic, new = b"\x1f\x8b", lambda: zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif pending[:3] == b"BZh":
        magic, new = b"BZh", bz2.BZ2Decompressor
    else:
        while pending:
            yield pending
            pending = fp.read(CHUNK)
        return
    dec: Any = None
    while True:
        if len(pending) < 4:
            more = fp.read(CHUNK)
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
            out = dec.decompress(pending)
        except (OSError, EOFError, ValueError, zlib.error) as exc:
            stats.truncated = True
            stats.warn(f"{name}: corrupt compressed data ({exc}); reading stopped there")
            return
        pending = b""
        if out:
            yield out
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
            for m in _CANDIDATE.finditer(buf, scan - base):
                q = m.start()
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


def iter_records(
    chunks: Iterable[bytes], stats: ReadStats, name: str = ""
) -> Iterator[tuple[bytes, int, int, int]]:
    """Frame MRT records: yield (raw record, timestamp, type, subtype).

    Before a record is yielded, the header that follows it must be plausible too (sane length,
    timestamp within WINDOW of this one) or the input must end right there; otherwise the
    framing is resynchronised on the next offset where two strictly valid headers follow each
    other. Early RIS TABLE_DUMP files declare each record 4 bytes shorter than written; such a
    record is extended to the next valid header (counted in `repaired_records`)."""
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
                    stats.warn(f"{name}: {avail} trailing bytes at offset {fr.base + pos} are "
                               "not a complete MRT header (truncated file)")
                return
        ts, typ, sub, length = unpack(buf, pos)
        if not checked and _strict_header(buf, pos) is None:
            record = _followed(fr, pos, ts, length)  # may refill: reload buf and pos
            buf, pos = fr.buf, fr.pos
            if not record:
                start = fr.base + pos
                q = fr.find(start + 1, discard=True)
                stats.resyncs += 1
                stats.skipped_records += 1
                if q is None:
                    stats.skipped_bytes += fr.base + len(fr.buf) - start
                    stats.warn(f"{name}: implausible MRT header at offset {start} and no valid "
                               "record after it; rest of the input skipped")
                    return
                stats.skipped_bytes += q - start
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
                yield buf[rel:rel + 12 + length], ts, typ, sub
                rest = total - end_abs
                if rest:
                    stats.skipped_records += 1
                    stats.skipped_bytes += rest
                    stats.warn(f"{name}: {rest} bytes after offset {end_abs} hold no valid MRT "
                               "record; skipped")
            else:
                stats.truncated = True
                stats.skipped_records += 1
                stats.skipped_bytes += total - start
                stats.warn(f"{name}: record at offset {start} declares {length} bytes, only "
                           f"{total - start - 12} remain (truncated or damaged); skipped")
            return
        if q < end_abs or not have:
            # the next valid record starts inside this one: its length field is damaged
            stats.skipped_records += 1
            stats.skipped_bytes += q - start
            stats.warn(f"{name}: record at offset {start} ({length} bytes declared) overlaps "
                       f"the next valid header at {q}; skipped {q - start} bytes")
        elif typ == TABLE_DUMP and q - end_abs <= 16:
            if not stats.repaired_records:
                stats.warn(f"{name}: TABLE_DUMP record at offset {start} is {q - end_abs} "
                           "bytes longer than declared (early RIS bview); records extended to "
                           "the next header")
            stats.repaired_records += 1
            stats.records += 1
            yield buf[rel:q - fr.base], ts, typ, sub
        else:
            stats.records += 1
            yield buf[rel:rel + 12 + length], ts, typ, sub
            if q > end_abs:
                stats.skipped_records += 1
                stats.skipped_bytes += q - end_abs
                stats.warn(f"{name}: {q - end_abs} bytes of damaged framing after offset "
                           f"{end_abs} skipped")
        fr.pos = q - fr.base
        checked = True


# --------------------------------------------------------------------------- addresses

_fmt6_cache: dict[bytes, str] = {}


def fmt_ipv6(b: bytes) -> str:
    """IPv6 text the way bgpdump writes it: the longest run of zero groups (even a single
    one) becomes "::", IPv4-mapped and -compatible addresses end in dotted quad."""
    s = _fmt6_cache.get(b)
    if s is not None:
        return s
    if b[:10] == _ZEROS[:10] and (b[10:12] == b"\xff\xff" or (
            b[10:12] == b"\x00\x00" and _u32(b, 12)[0] > 1)):
        s = ("::ffff:" if b[10] else "::") + inet_ntoa(b[12:16])
    else:
        groups = struct.unpack(">8H", b)
        best_at, best_len, run_at, run_len = -1, 0, -1, 0
        for i, g in enumerate(groups):
            if g == 0:
                if run_len == 0:
                    run_at = i
                run_len += 1
                if run_len > best_len:
                    best_at, best_len = run_at, run_len
            else:
                run_len = 0
        hexes = [f"{g:x}" for g in groups]
        if best_len:
            s = (":".join(hexes[:best_at]) + "::" + ":".join(hexes[best_at + best_len:]))
        else:
            s = ":".join(hexes)
    if len(_fmt6_cache) > 20_000:
        _fmt6_cache.clear()
    _fmt6_cache[b] = s
    return s


def _padded(data: bytes, off: int, end: int, n: int) -> bytes:
    """n bytes at off, zero-filled past end (bgpdump's stream reads behave this way)."""
    if off + n <= end:
        return data[off:off + n]
    return data[off:end] + _ZEROS[: n - max(0, end - off)] if off < end else _ZEROS[:n]


_pfx_caches: dict[int, dict[bytes, tuple[str, bool]]] = {1: {}, 2: {}}


def _prefix_text(key: bytes, afi: int) -> tuple[str, bool]:
    """Text of a prefix from its NLRI encoding (length byte + address bytes), host bits
    cleared; the flag is False when the length is beyond the address family."""
    plen = key[0]
    addr = key[1:]
    if plen & 7 and addr:
        last = addr[-1] & (0xFF << (8 - (plen & 7))) & 0xFF
        if last != addr[-1]:
            addr = addr[:-1] + bytes((last,))
    if afi == 1:
        n = len(addr)
        if n != 4:
            addr = addr + _ZEROS[: 4 - n] if n < 4 else addr[:4]
        return f"{inet_ntoa(addr)}/{plen}", plen <= 32
    n = len(addr)
    if n != 16:
        addr = addr + _ZEROS[: 16 - n] if n < 16 else addr[:16]
    return f"{fmt_ipv6(addr)}/{plen}", plen <= 128


_PAD4 = (b"\0\0\0\0", b"\0\0\0", b"\0\0", b"\0", b"")
_SLASH = tuple(f"/{i}" for i in range(256))
_LOW_BITS = (0, 0x7F, 0x3F, 0x1F, 0x0F, 0x07, 0x03, 0x01)  # host bits of the last byte


def _prefixes(data: bytes, off: int, end: int, afi: int, addpath: bool) -> list:
    """NLRI list -> [(text, path_id or None, valid)]; a truncated last prefix is dropped."""
    out = []
    append = out.append
    cache = _pfx_caches[afi]
    path_id = None
    while off < end:
        if addpath:
            if off + 5 > end:
                break
            path_id = _u32(data, off)[0]
            off += 4
        plen = data[off]
        nb = (plen + 7) >> 3
        nxt = off + 1 + nb
        if nxt > end:
            break
        if afi == 1 and nb <= 4 and not (plen & 7 and data[nxt - 1] & _LOW_BITS[plen & 7]):
            # IPv4 without host bits (nearly all): no cache, updates rarely repeat a prefix
            append((inet_ntoa(data[off + 1:nxt] + _PAD4[nb]) + _SLASH[plen], path_id, True))
        else:
            key = data[off:nxt]
            hit = cache.get(key)
            if hit is None:
                hit = _prefix_text(key, afi)
                if len(cache) > 20000:
                    cache.clear()
                cache[key] = hit
            append((hit[0], path_id, hit[1]))
        off = nxt
    return out


# --------------------------------------------------------------------------- attributes

AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET = 1, 2, 3, 4
_SEG_START = {AS_SET: "{", AS_CONFED_SET: "[", AS_CONFED_SEQUENCE: "("}
_SEG_END = {AS_SET: "}", AS_CONFED_SET: "]", AS_CONFED_SEQUENCE: ")"}
_ASPATH_ERROR = "! Error !"
_structs: dict[tuple[int, int], struct.Struct] = {}


def _asns(data: bytes, off: int, n: int, size: int) -> tuple[int, ...]:
    """n big-endian unsigned integers of `size` (2 or 4) bytes at off."""
    s = _structs.get((n, size))
    if s is None:
        s = _structs[(n, size)] = struct.Struct(f">{n}{'I' if size == 4 else 'H'}")
    return s.unpack_from(data, off)


def _segments(data: bytes, asn_len: int) -> tuple[list | None, int]:
    """AS_PATH segments and bgpdump's hop count (an AS_SET counts 1), or (None, 0) where
    bgpdump reports "! Error !"."""
    end = len(data)
    if end >= 2 and data[0] == AS_SEQUENCE and 2 + data[1] * asn_len == end:
        return [(AS_SEQUENCE, _asns(data, 2, data[1], asn_len))], data[1]  # the usual case
    segs = []
    count = 0
    off = 0
    while off < end:
        if off + 2 > end:
            return None, 0
        t, n = data[off], data[off + 1]
        if t < 1 or t > 4 or off + 2 + n * asn_len > end:
            return None, 0
        segs.append((t, _asns(data, off + 2, n, asn_len)))
        count += 1 if t in (AS_SET, AS_CONFED_SET) else n
        off += 2 + n * asn_len
    return segs, count


def _count(segs: list) -> int:
    return sum(1 if t in (AS_SET, AS_CONFED_SET) else len(a) for t, a in segs)


def _path_text(segs: list | None) -> str:
    """bgpdump's AS path text: sequences space-separated, {a,b} sets, (..) [..] confeds."""
    if segs is None:
        return _ASPATH_ERROR
    if len(segs) == 1 and segs[0][0] == AS_SEQUENCE:
        return " ".join(map(str, segs[0][1]))
    parts = []
    prev = AS_SEQUENCE
    space = False
    for t, asns in segs:
        if prev != AS_SEQUENCE:
            parts.append(_SEG_END[prev])
        if space:
            parts.append(" ")
        if t != AS_SEQUENCE:
            parts.append(_SEG_START[t])
        space = False
        if asns:
            parts.append(("," if t in (AS_SET, AS_CONFED_SET) else " ").join(map(str, asns)))
            space = True
        prev = t
    if segs and prev != AS_SEQUENCE:
        parts.append(_SEG_END[prev])
    return "".join(parts)


def _path_tuple(segs: list | None) -> tuple:
    if not segs:
        return ()
    if len(segs) == 1 and segs[0][0] == AS_SEQUENCE:
        return segs[0][1]
    out: list = []
    for t, asns in segs:
        if t == AS_SEQUENCE:
            out.extend(asns)
        elif t == AS_SET:
            out.append(frozenset(asns))
    return tuple(out)


def _merge_as4(old: list, new: list) -> list:
    """RFC 6793 section 4.2.3 as bgpdump does it: keep the leading hops of AS_PATH that
    AS4_PATH does not cover (an AS_SET counts as one hop), then append AS4_PATH."""
    target = _count(old) - _count(new)
    merged: list = []
    have = 0
    for t, asns in old:
        if have >= target:
            break
        if t in (AS_SET, AS_CONFED_SET):
            merged.append((t, asns))
            have += 1
        else:
            take = asns
            have += len(asns)
            if have > target:
                take = asns[: len(asns) - (have - target)]
                have = target
            merged.append((t, take))
    return merged + new


def _community_text(v: int) -> str:
    if v == 0xFFFFFF01:
        return "no-export"
    if v == 0xFFFFFF02:
        return "no-advertise"
    if v == 0xFFFFFF03:
        return "local-AS"
    return f"{v >> 16}:{v & 0xFFFF}"


class Attrs:
    """Decoded path attributes of one UPDATE or RIB entry, shared by identical attribute
    blocks. The texts only the dump needs and the tuples only the elements need are made on
    first use."""

    # Class-level defaults (bgpdump's texts for missing attributes): an instance only
    # stores what its block sets, which keeps decoding a new block cheap.
    origin = "INCOMPLETE"
    nexthop = "255.255.255.255"
    local_pref = 0
    med = 0
    atomic = False
    aggregator = ""
    mp_reach: dict[tuple[int, int], tuple[str, str, list]] = {}  # replaced, never mutated
    mp_unreach: dict[tuple[int, int], list] = {}  # replaced, never mutated
    has_mp_reach = False
    has_mp_unreach = False
    mp6_nexthop: str | None = None
    _segs: list | None | bool = False  # False: no AS_PATH; None: undecodable
    _aspath: str | None = None
    _as_path: tuple | None = None
    _comms: tuple[int, ...] = ()
    _large: tuple[int, ...] = ()
    _communities: tuple[str, ...] | None = None
    _tails: dict[Any, str] | None = None

    @property
    def aspath(self) -> str:
        """AS path as bgpdump prints it ("" without AS_PATH, "! Error !" if undecodable)."""
        if self._aspath is None:
            self._aspath = "" if self._segs is False else _path_text(self._segs)  # type: ignore[arg-type]
        return self._aspath

    @property
    def as_path(self) -> tuple:
        if self._as_path is None:
            self._as_path = _path_tuple(self._segs or None)  # type: ignore[arg-type]
        return self._as_path

    @property
    def community_text(self) -> str:
        return " ".join(map(_community_text, self._comms))

    @property
    def communities(self) -> tuple[str, ...]:
        if self._communities is None:
            c = [f"{v >> 16}:{v & 0xFFFF}" for v in self._comms]
            lg = self._large
            c.extend(f"{lg[i]}:{lg[i + 1]}:{lg[i + 2]}" for i in range(0, len(lg) - 2, 3))
            self._communities = tuple(c)
        return self._communities

    def tail(self, nexthop: str, mode: int = 0) -> str:
        """The bgpdump -m fields after the prefix: path|origin|nh|lp|med|comms|AG|aggr|.

        mode 1: local pref and MED as signed 32-bit (bgpdump's %d for IPv4 MP_REACH routes);
        mode 2: deprecated BGP type, where bgpdump writes no "|" between MED and the
        communities."""
        key = nexthop if mode == 0 else (nexthop, mode)
        tails = self._tails
        if tails is None:
            tails = self._tails = {}
        s = tails.get(key)
        if s is None:
            lp, med = self.local_pref, self.med
            if mode == 1:
                lp = lp - (1 << 32) if lp >= 1 << 31 else lp
                med = med - (1 << 32) if med >= 1 << 31 else med
            ctext = self.community_text
            sep = "" if mode == 2 and ctext else "|"
            s = (f"{self.aspath}|{self.origin}|{nexthop}|{lp}|{med}{sep}{ctext}"
                 f"{'|' if ctext or mode != 2 else ''}"
                 f"{'AG' if self.atomic else 'NAG'}|{self.aggregator}|")
            tails[key] = s
        return s


_ORIGINS = ("IGP", "EGP")
# Caches keyed by the raw bytes: one dict per (AS size, ADD-PATH) so keys stay plain bytes.
_attr_caches: dict[tuple[int, bool], dict[bytes, Attrs]] = {
    (2, False): {}, (2, True): {}, (4, False): {}, (4, True): {}}
_path_caches: dict[int, dict[bytes, tuple[list | None, int]]] = {2: {}, 4: {}}
ATTR_CACHE_SIZE = 5000


def _path_segments(blob: bytes, asn_len: int) -> tuple[list | None, int]:
    cache = _path_caches[asn_len]
    hit = cache.get(blob)
    if hit is None:
        hit = _segments(blob, asn_len)
        if len(cache) > 20000:
            cache.clear()
        cache[blob] = hit
    return hit


def parse_attrs(data: bytes, off: int, end: int, asn_len: int, addpath: bool,
                stats: ReadStats | None = None) -> Attrs:
    """Decode a path attribute block; identical blocks are decoded once (RIB dumps repeat
    the same attribute sets for many prefixes)."""
    blob = data[off:end]
    cache = _attr_caches[(asn_len, addpath)]
    a = cache.get(blob)
    if a is None:
        a = _decode_attrs(blob, asn_len, addpath, stats)
        if len(cache) > ATTR_CACHE_SIZE:
            cache.clear()
        cache[blob] = a
    return a


def _decode_attrs(d: bytes, asn_len: int, addpath: bool, stats: ReadStats | None) -> Attrs:
    a = Attrs()
    off, end = 0, len(d)
    path_blob = None
    as4_blob = None
    agg = agg4 = None
    u32 = _u32
    while off < end:
        if off + 3 > end:
            break
        flags, typ = d[off], d[off + 1]
        if flags & 0x10:
            if off + 4 > end:
                break
            alen = _u16(d, off + 2)[0]
            off += 4
        else:
            alen = d[off + 2]
            off += 3
        vend = off + alen
        if vend > end:
            if stats is not None:
                stats.warn(f"attribute type {typ} truncated: {alen} bytes declared, "
                           f"{end - off} present")
            break
        if typ == 2:
            path_blob = d[off:vend]
        elif typ == 1:
            o = d[off] if alen else 0
            a.origin = _ORIGINS[o] if o < 2 else "INCOMPLETE"
        elif typ == 3:
            a.nexthop = inet_ntoa(d[off:vend] if alen == 4 else _padded(d, off, vend, 4))
        elif typ == 4:
            a.med = u32(d, off)[0] if alen == 4 else u32(_padded(d, off, vend, 4))[0]
        elif typ == 5:
            a.local_pref = u32(d, off)[0] if alen == 4 else u32(_padded(d, off, vend, 4))[0]
        elif typ == 8:
            a._comms = _asns(d, off, alen // 4, 4)
        elif typ == 6:
            a.atomic = True
        elif typ == 7:
            # read with the session's AS size even when the length says otherwise, as
            # bgpdump does (only the dump output shows the aggregator)
            raw = _padded(d, off, vend, asn_len + 4)
            agg = (u32(raw)[0] if asn_len == 4 else _u16(raw)[0], raw[asn_len:])
        elif typ == 14:
            a.has_mp_reach = True
            _mp_reach(a, d, off, vend, addpath)
        elif typ == 15:
            a.has_mp_unreach = True
            if alen >= 3:
                afi, safi = _u16(d, off)[0], d[off + 2]
                if 1 <= afi <= 2 and 1 <= safi <= 3 and (afi, safi) not in a.mp_unreach:
                    if not a.mp_unreach:
                        a.mp_unreach = {}
                    a.mp_unreach[(afi, safi)] = _prefixes(d, off + 3, vend, afi, addpath)
        elif typ == 17:
            as4_blob = d[off:vend]
        elif typ == 18:
            raw = _padded(d, off, vend, 8)
            agg4 = (u32(raw)[0], raw[4:])
        elif typ == 32:
            a._large = _asns(d, off, (alen // 12) * 3, 4)
        off = vend

    if path_blob is not None:
        segs, count = _path_segments(path_blob, asn_len)
        # RFC 6793 merge for 2-byte sessions, skipped (as bgpdump and the RFC do) when an
        # AGGREGATOR other than AS_TRANS comes with an AS4_AGGREGATOR.
        merge = asn_len == 2 and as4_blob is not None
        if asn_len == 2 and agg is not None and agg4 is not None:
            if agg[0] != 23456:
                merge = False
            else:
                agg = agg4
        if merge and segs is not None:
            new, new_count = _path_segments(as4_blob, 4)  # type: ignore[arg-type]
            if count >= new_count:
                segs = _merge_as4(segs, new) if new is not None else None
        a._segs = segs if path_blob else []
        if not path_blob:
            a._aspath = ""
    elif asn_len == 2 and agg is not None and agg4 is not None and agg[0] == 23456:
        agg = agg4
    if agg is not None and agg[1] != _NO_IP:
        a.aggregator = f"{agg[0]} {inet_ntoa(agg[1])}"
    return a


def _mp_reach(a: Attrs, d: bytes, off: int, end: int, addpath: bool) -> None:
    if off >= end:
        return
    if not a.mp_reach:
        a.mp_reach = {}  # the class-level default is shared
    if d[off] != 0:
        # RFC 6396 4.3.4 abbreviated form in RIB entries: next hop length + next hop only
        if (2, 1) not in a.mp_reach:
            nh = fmt_ipv6(_padded(d, off + 1, end, 16))
            a.mp_reach[(2, 1)] = (nh, nh, [])
            a.mp6_nexthop = nh
        return
    if off + 4 > end:
        return
    afi, safi, nhlen = _u16(d, off)[0], d[off + 2], d[off + 3]
    if not (1 <= afi <= 2 and 1 <= safi <= 3) or (afi, safi) in a.mp_reach:
        return
    p = off + 4
    if afi == 1:
        shown = inet_ntoa(_padded(d, p, end, 4))
        # RFC 5549 IPv6 next hop for IPv4 routes: bgpdump shows its first 4 bytes
        nh = fmt_ipv6(_padded(d, p, end, 16)) if nhlen >= 16 else shown
        p += nhlen if nhlen != 4 else 4
    else:
        shown = nh = fmt_ipv6(_padded(d, p, end, 16))
        p += nhlen if nhlen not in (16, 32) else nhlen
    if p < end:
        for _ in range(d[p]):  # SNPAs (obsolete)
            p += 1
            if p >= end:
                break
            p += d[p]
        p += 1
    a.mp_reach[(afi, safi)] = (shown, nh, _prefixes(d, p, end, afi, addpath))
    if (afi, safi) == (2, 1):
        a.mp6_nexthop = shown


# --------------------------------------------------------------------------- records

# Row layouts produced by the decoders:
#   (kind "A"|"B"|"W", fmt, ts, time text, peer_ip|None, peer_as, prefix, path_id|None,
#    attrs|None, nexthop_shown, tail mode (Attrs.tail), valid, next_hop_for_element,
#    bgpdump_prints, line head "fmt|time|kind|peer|peer AS|" or None without a peer)
#   ("STATE", fmt, ts, time text, peer_ip, peer_as, old_state, new_state)
# The time text is what bgpdump prints: unix seconds, ".%06d" microseconds for BGP4MP_ET.
Row = tuple


class Context:
    """Per-file decoding state: the TABLE_DUMP_V2 peer table."""

    __slots__ = ("peers", "stats", "name", "missing_peers_warned", "heads", "heads_key")

    def __init__(self, stats: ReadStats, name: str) -> None:
        self.heads: dict[int, str | None] = {}
        self.heads_key: tuple[str, str] | None = None
        self.peers: list[tuple[str, int]] | None = None
        self.stats = stats
        self.name = name
        self.missing_peers_warned = False


def decode(raw: bytes, ts: int, typ: int, sub: int, ctx: Context) -> list[Row]:
    """Rows of one framed record (empty for records that carry no routes)."""
    stats = ctx.stats
    stats.record_types[(typ, sub)] += 1
    try:
        if typ == TABLE_DUMP_V2:
            return _table_dump_v2(raw, ts, sub, ctx)
        if typ in (BGP4MP, BGP4MP_ET):
            return _bgp4mp(raw, ts, typ, sub, ctx)
        if typ == TABLE_DUMP:
            return _table_dump(raw, ts, sub, ctx)
        if typ == BGP:
            return _mrtd_bgp(raw, ts, sub, ctx)
    except Exception as exc:  # noqa: BLE001 - hostile input must never stop the reader
        stats.malformed_records += 1
        stats.warn(f"{ctx.name}: malformed {typ}/{sub} record at time {ts}: "
                   f"{type(exc).__name__}: {exc}")
        return []
    stats.unknown_types[typ] += 1
    return []


def _peer_table(raw: bytes, ctx: Context) -> None:
    p = 12 + 4
    name_len = _u16(raw, p)[0]
    p += 2 + name_len
    count = _u16(raw, p)[0]
    p += 2
    peers = []
    for _ in range(count):
        ptype = raw[p]
        p += 5  # type + BGP identifier
        if ptype & 1:
            ip = fmt_ipv6(raw[p:p + 16])
            p += 16
        else:
            ip = inet_ntoa(raw[p:p + 4])
            p += 4
        if ptype & 2:
            asn = _u32(raw, p)[0]
            p += 4
        else:
            asn = _u16(raw, p)[0]
            p += 2
        peers.append((ip, asn))
    ctx.peers = peers
    ctx.heads_key = None
    ctx.stats.peer_index_record = raw


_TD2_AFI = {2: 1, 3: 1, 4: 2, 5: 2, 8: 1, 9: 1, 10: 2, 11: 2}


def _table_dump_v2(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    if sub == 1:
        _peer_table(raw, ctx)
        return []
    stats = ctx.stats
    addpath = sub >= 8
    p = 16  # after the sequence number
    end = len(raw)
    if sub == 6 or sub == 12:
        afi, safi = _u16(raw, p)[0], raw[p + 2]
        p += 3
        if afi not in (1, 2) or safi not in (1, 2):
            stats.unsupported[f"13/{sub} afi {afi} safi {safi}"] += 1
            return []
        compat = False  # bgpdump does not decode RIB_GENERIC
    else:
        afi = _TD2_AFI.get(sub)
        if afi is None:
            stats.unsupported[f"13/{sub}"] += 1
            return []
        compat = sub in (2, 4, 8, 10)  # bgpdump skips the multicast RIBs
    nb = (raw[p] + 7) >> 3
    key = raw[p:p + 1 + nb]
    if len(key) != 1 + nb:
        raise ValueError("prefix runs past the record")
    prefix, valid = _prefix_text(key, afi)
    p += 1 + nb
    count = _u16(raw, p)[0]
    p += 2
    peers = ctx.peers
    npeers = len(peers) if peers is not None else 0
    fmt = "TABLE_DUMP2_AP" if addpath else "TABLE_DUMP2"
    entry = (_TD2_ENTRY_AP if addpath else _TD2_ENTRY).unpack_from
    head = 12 if addpath else 8
    cache = _attr_caches[(4, addpath)]
    tt = str(ts)
    rows: list[Row] = []
    append = rows.append
    path_id = None
    # the line start of each peer, reused while the dump time and format stay the same
    if ctx.heads_key != (tt, fmt):
        ctx.heads_key = (tt, fmt)
        ctx.heads = {}
    heads = ctx.heads
    for _ in range(count):
        if addpath:
            index, _orig, path_id, alen = entry(raw, p)
        else:
            index, _orig, alen = entry(raw, p)
        p += head
        q = p + alen
        if q > end:
            raise ValueError("RIB entry runs past the record")
        blob = raw[p:q]
        a = cache.get(blob)
        if a is None:
            a = parse_attrs(raw, p, q, 4, addpath, stats)
        p = q
        if index < npeers:
            peer_ip, peer_as = peers[index]  # type: ignore[index]
        else:
            peer_ip, peer_as = None, 0
            if not ctx.missing_peers_warned:
                ctx.missing_peers_warned = True
                stats.warn(f"{ctx.name}: RIB entries refer to peer {index} but no "
                           "PEER_INDEX_TABLE lists it; their peer is unknown")
        nh = a.mp6_nexthop or a.nexthop
        line_head = heads.get(index)
        if line_head is None and peer_ip is not None:
            line_head = heads[index] = f"{fmt}|{tt}|B|{peer_ip}|{peer_as}|"
        append(("B", fmt, ts, tt, peer_ip, peer_as, prefix, path_id, a, nh, 0, valid, nh,
                compat, line_head))
    return rows


def _table_dump(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    if sub in (1, 3):
        alen_ip, fmt_ip = 4, inet_ntoa
    elif sub in (2, 4):
        alen_ip, fmt_ip = 16, fmt_ipv6
    else:
        ctx.stats.unsupported[f"12/{sub}"] += 1
        return []
    asn_len = 4 if sub in (3, 4) else 2
    afi = 1 if alen_ip == 4 else 2
    end = len(raw)
    p = 16  # after view and sequence
    rows = []
    first = True
    tt = str(ts)
    # Early RIS bviews pack many entries, without view/sequence, into one record.
    while end - p >= 2 * alen_ip + 12 + asn_len:
        pfx = raw[p:p + alen_ip]
        mask = raw[p + alen_ip]
        p += alen_ip + 6  # prefix, mask, status, originated time
        peer_ip = fmt_ip(raw[p:p + alen_ip])
        p += alen_ip
        peer_as = _u32(raw, p)[0] if asn_len == 4 else _u16(raw, p)[0]
        p += asn_len
        alen = _u16(raw, p)[0]
        p += 2
        if p + alen > end:
            if first:
                raise ValueError("attributes run past the record")
            break
        a = parse_attrs(raw, p, p + alen, asn_len, False, ctx.stats)
        p += alen
        nbytes = min((mask + 7) >> 3, alen_ip)
        prefix, valid = _prefix_text(bytes((mask,)) + pfx[:nbytes], afi)
        nh = a.mp6_nexthop if a.mp6_nexthop is not None else a.nexthop
        rows.append(("B", "TABLE_DUMP", ts, tt, peer_ip, peer_as, prefix, None, a, nh, 0,
                     valid, nh, first, f"TABLE_DUMP|{tt}|B|{peer_ip}|{peer_as}|"))
        first = False
    return rows


_LOCAL = frozenset((6, 7, 10, 11))
_AS4 = frozenset((4, 5, 7, 9, 11))
_FORMATS = {
    (BGP4MP, False, False): "BGP4MP", (BGP4MP, False, True): "BGP4MP_AP",
    (BGP4MP, True, False): "BGP4MP_LOCAL", (BGP4MP, True, True): "BGP4MP_LOCAL_AP",
    (BGP4MP_ET, False, False): "BGP4MP_ET", (BGP4MP_ET, False, True): "BGP4MP_ET_AP",
    (BGP4MP_ET, True, False): "BGP4MP_ET_LOCAL", (BGP4MP_ET, True, True): "BGP4MP_ET_LOCAL_AP",
}
_MARKER = b"\xff" * 16


def _bgp4mp(raw: bytes, ts: int, typ: int, sub: int, ctx: Context) -> list[Row]:
    end = len(raw)
    if typ == BGP4MP_ET:
        usec = _u32(raw, 12)[0]
        p = 16
    else:
        usec = None
        p = 12
    asn_len = 4 if sub in _AS4 else 2
    if sub == 0 or sub == 5:
        return _state_change(raw, ts, typ, usec, p, asn_len, ctx)
    if sub == 2:
        return _bgp4mp_entry(raw, ts, usec, p, ctx)
    if sub not in (1, 4, 6, 7, 8, 9, 10, 11):
        ctx.stats.unsupported[f"{typ}/{sub}"] += 1
        return []
    if asn_len == 4:
        peer_as = _u32(raw, p)[0]
        p += 8
    else:
        peer_as = _u16(raw, p)[0]
        p += 4
    ifindex, afi = _U16x2.unpack_from(raw, p)
    p += 4
    if afi == 1:
        peer_ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2:
        peer_ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    elif afi == 0xFFFF and ifindex == 0xFFFF:
        # Zebra wrote OPENs without interface and addresses: those 4 bytes were the marker
        peer_ip = "0.0.0.0"  # noqa: S104 - an address to print, nothing binds to it
        p -= 4
    else:
        ctx.stats.malformed_records += 1
        ctx.stats.warn(f"{ctx.name}: BGP4MP message with unsupported AFI {afi} at time {ts}")
        return []
    if raw[p:p + 16] != _MARKER:
        ctx.stats.malformed_records += 1
        ctx.stats.warn(f"{ctx.name}: BGP message with a bad marker at time {ts}")
        return []
    size = _u16(raw, p + 16)[0]
    p += 18
    mend = min(end, p + size - 18) if size >= 18 else end
    if p >= mend or raw[p] != 2:
        return []  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH: no routes
    p += 1
    local = sub in _LOCAL
    addpath = sub >= 8
    fmt = _FORMATS[(typ, local, addpath)]
    return _update(raw, p, mend, ts, usec, fmt, peer_ip, peer_as, asn_len, addpath, ctx)


def _update(raw: bytes, p: int, mend: int, ts: int, usec: int | None, fmt: str, peer_ip: str,
            peer_as: int, asn_len: int, addpath: bool, ctx: Context) -> list[Row]:
    """The body of a BGP UPDATE (after the type byte) -> W rows then A rows, in bgpdump's
    order: plain NLRI, then MP_(UN)REACH IPv4 unicast/multicast/both, then IPv6."""
    wlen = _u16(raw, p)[0] if p + 2 <= mend else _u16(_padded(raw, p, mend, 2))[0]
    p += 2
    wend = min(p + wlen, mend)
    withdrawn = _prefixes(raw, p, wend, 1, addpath) if wlen else ()
    p = wend
    alen = _u16(raw, p)[0] if p + 2 <= mend else _u16(_padded(raw, p, mend, 2))[0]
    p += 2
    aend = min(p + alen, mend)
    blob = raw[p:aend]
    a = _attr_caches[(asn_len, addpath)].get(blob)
    if a is None:
        a = parse_attrs(raw, p, aend, asn_len, addpath, ctx.stats)
    p = aend
    announced = _prefixes(raw, p, mend, 1, addpath) if p < mend else ()
    rows: list[Row] = []
    append = rows.append
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    if withdrawn or a.has_mp_unreach:
        head = f"{fmt}|{tt}|W|{peer_ip}|{peer_as}|"
        for pfx, pid, ok in withdrawn:
            append(("W", fmt, ts, tt, peer_ip, peer_as, pfx, pid, None, "", 0, ok, "", True,
                    head))
        # dict order is insertion order: sort to get bgpdump's (AFI, SAFI) order
        for _key, lst in sorted(a.mp_unreach.items()):
            for pfx, pid, ok in lst:
                append(("W", fmt, ts, tt, peer_ip, peer_as, pfx, pid, None, "", 0, ok, "",
                        True, head))
    if announced or a.has_mp_reach:
        head = f"{fmt}|{tt}|A|{peer_ip}|{peer_as}|"
        nh = a.nexthop
        mode = 2 if fmt == "BGP" else 0
        for pfx, pid, ok in announced:
            append(("A", fmt, ts, tt, peer_ip, peer_as, pfx, pid, a, nh, mode, ok, nh, True,
                    head))
        for key, (shown, nh, lst) in sorted(a.mp_reach.items()):
            mode = 1 if key[0] == 1 else 0
            for pfx, pid, ok in lst:
                append(("A", fmt, ts, tt, peer_ip, peer_as, pfx, pid, a, shown, mode, ok, nh,
                        True, head))
    return rows


def _bgp4mp_entry(raw: bytes, ts: int, usec: int | None, p: int, ctx: Context) -> list[Row]:
    """BGP4MP_ENTRY (subtype 2, from the MRT drafts; OpenBGPD writes its RIB this way): one
    route, with the peer header of BGP4MP_MESSAGE. bgpdump does not decode it."""
    peer_as = _u16(raw, p)[0]
    afi = _u16(raw, p + 6)[0]
    p += 8
    if afi == 1:
        peer_ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2:
        peer_ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    else:
        ctx.stats.malformed_records += 1
        return []
    p += 8  # view, status, time of last change
    rafi, _safi, nhlen = _u16(raw, p)[0], raw[p + 2], raw[p + 3]
    p += 4
    if rafi == 1:
        nh = inet_ntoa(_padded(raw, p, len(raw), 4))
    elif rafi == 2:
        nh = fmt_ipv6(_padded(raw, p, len(raw), 16))
    else:
        ctx.stats.unsupported[f"16/2 afi {rafi}"] += 1
        return []
    p += nhlen
    nb = (raw[p] + 7) >> 3
    prefix, valid = _prefix_text(raw[p:p + 1 + nb], rafi)
    p += 1 + nb
    alen = _u16(raw, p)[0]
    p += 2
    if p + alen > len(raw):
        raise ValueError("attributes run past the record")
    a = parse_attrs(raw, p, p + alen, 2, False, ctx.stats)
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    return [("B", "BGP4MP_ENTRY", ts, tt, peer_ip, peer_as, prefix, None, a, nh, 0, valid,
             nh, False, f"BGP4MP_ENTRY|{tt}|B|{peer_ip}|{peer_as}|")]


def _state_change(raw: bytes, ts: int, typ: int, usec: int | None, p: int, asn_len: int,
                  ctx: Context) -> list[Row]:
    body = len(raw) - p
    fmt = "BGP4MP" if typ == BGP4MP else "BGP4MP_ET"
    peer_as = _u32(raw, p)[0] if asn_len == 4 else _u16(raw, p)[0]
    p += 2 * asn_len
    if body == 8:
        # Zebra bug: state change without interface/AFI/addresses
        old, new = _U16x2.unpack(_padded(raw, p, len(raw), 4))
        tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
        return [("STATE", fmt, ts, tt, "0.0.0.0", peer_as, old, new)]  # noqa: S104
    afi = _u16(raw, p + 2)[0]
    p += 4
    if afi == 1 and body in (20, 24):
        ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2 and body in (44, 48):
        ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    else:
        ctx.stats.malformed_records += 1
        ctx.stats.warn(f"{ctx.name}: state change with AFI {afi} and length {body} at time {ts}")
        return []
    old, new = _U16x2.unpack_from(raw, p)
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    return [("STATE", fmt, ts, tt, ip, peer_as, old, new)]


def _mrtd_bgp(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    """Deprecated type 5: UPDATE (1) and STATE_CHANGE (3) carry what bgpdump -m prints."""
    p = 12
    if sub == 3:
        peer_as = _u16(raw, p)[0]
        ip = inet_ntoa(raw[p + 2:p + 6])
        old, new = _U16x2.unpack(_padded(raw, p + 6, len(raw), 4))
        return [("STATE", "BGP", ts, str(ts), ip, peer_as, old, new)]
    if sub != 1:
        return []  # OPEN, NOTIFY, KEEPALIVE, SYNC, PREF_UPDATE: no routes
    peer_as = _u16(raw, p)[0]
    peer_ip = inet_ntoa(raw[p + 2:p + 6])
    return _update(raw, p + 12, len(raw), ts, None, "BGP", peer_ip, peer_as, 2, False, ctx)


# --------------------------------------------------------------------------- public API


def _collector_of(name: str, path: Any) -> str:
    m = re.search(r"\b(rrc\d\d)\b", str(path)) if path is not None else None
    return m.group(1) if m else name


def iter_rows(path_or_stream: str | Path | IO[bytes], stats: ReadStats | None = None
              ) -> Iterator[tuple[bytes, list[Row]]]:
    """(raw record, rows) for every framed record of a file or binary stream."""
    stats = stats if stats is not None else ReadStats()
    fp, name, close = _open(path_or_stream)
    ctx = Context(stats, name)
    try:
        for raw, ts, typ, sub in iter_records(_decompressed(fp, stats, name), stats, name):
            yield raw, decode(raw, ts, typ, sub, ctx)
    finally:
        if close:
            fp.close()


def read_elements(path_or_stream: str | Path | IO[bytes], *, collector: str = "",
                  stats: ReadStats | None = None) -> Iterator[Element]:
    """Announcements ("A"), withdrawals ("W") and RIB entries ("B") of an MRT file, in file
    order. Routes whose prefix length exceeds the address family are dropped (and counted
    as malformed); RIB entries whose peer is not in a PEER_INDEX_TABLE get peer_ip ""."""
    stats = stats if stats is not None else ReadStats()
    if isinstance(path_or_stream, (str, Path)):
        source = Path(path_or_stream).name
        coll = collector or _collector_of(source, path_or_stream)
    else:
        source = Path(str(getattr(path_or_stream, "name", "") or "<stream>")).name
        coll = collector or _collector_of(source, getattr(path_or_stream, "name", None))
    new = Element
    last = None
    as_path: tuple = ()
    comms: tuple[str, ...] = ()
    for raw, rows in iter_rows(path_or_stream, stats):
        for r in rows:
            if r[0] == "STATE":
                continue
            kind, _, ts, _, peer_ip, peer_as, prefix, _, a, _, _, ok, nh, _, _ = r
            if not ok:
                stats.malformed_records += 1
                continue
            if a is None:
                el = new(kind, ts, peer_ip, peer_as, prefix, (), coll, raw, source, "", ())
            else:
                if a is not last:  # the rows of a record share their attributes
                    last, as_path, comms = a, a.as_path, a.communities
                el = new(kind, ts, peer_ip or "", peer_as, prefix, as_path, coll, raw, source,
                         nh, comms)
            stats.elements += 1
            yield el
