"""Length-field damage of real MRT files (issue 20, part 5): where every length field of an
intact file is, the damaged values each one is given, and how a damaged run is judged against
the undamaged one.

`length_fields` is a reference walk of an *intact* file written apart from the reader under
test (it knows the layouts of RFC 6396/4271/4760/6793/8050 and nothing of the reader's
tolerances), so a field the reader mis-frames is still found. `judge` compares one damaged
run with the undamaged lines of each record. Used by test_routing_mrt_damage.py (a sample)
and bench/routing/damage.py (every field, before/after figures).
"""

from __future__ import annotations

import io
import os
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from sentinelle.observatory.routing import bgp_attributes, mrt_accel
from sentinelle.observatory.routing.bgpdump_format import render_rows, write_bgpdump
from sentinelle.observatory.routing.mrt import ReadStats, iter_rows

_U16 = struct.Struct(">H").unpack_from
_U32 = struct.Struct(">I").unpack_from


@dataclass(frozen=True)
class Field:
    """One length field: where (absolute offset, size in bytes), what, and its record."""

    offset: int
    size: int
    kind: str
    record: int  # index of the record holding it
    value: int
    family: int = 0  # prefix length fields: 32 or 128 (a value change within the same
    # number of address bytes leaves the file well-formed: see damage_values)
    span: tuple[int, int] = (0, 0)  # prefix length fields: the NLRI range holding it
    addpath: bool = False


@dataclass
class Record:
    start: int
    end: int
    lines: list[str] = field(default_factory=list)


def _prefixes(fields: list, d: bytes, off: int, end: int, rec: int, fam: int,
              addpath: bool, kind: str) -> None:
    start = off
    while off < end:
        if addpath:
            off += 4
        plen = d[off]
        fields.append(Field(off, 1, kind, rec, plen, fam, (start, end), addpath))
        off += 1 + (plen + 7) // 8


def _attributes(fields: list, d: bytes, off: int, end: int, rec: int, asn_len: int,
                addpath: bool) -> None:
    while off < end:
        flags, typ = d[off], d[off + 1]
        size = 2 if flags & 0x10 else 1
        alen = _U16(d, off + 2)[0] if size == 2 else d[off + 2]
        fields.append(Field(off + 2, size, f"attribute {typ} length", rec, alen))
        off += 2 + size
        vend = off + alen
        if typ in (2, 17):
            width = 4 if typ == 17 else asn_len
            p = off
            while p < vend:
                fields.append(Field(p + 1, 1, f"attribute {typ} segment length", rec, d[p + 1]))
                p += 2 + d[p + 1] * width
        elif typ == 14 and alen:
            if d[off] != 0:  # RFC 6396 4.3.4 abbreviated form in RIB entries
                fields.append(Field(off, 1, "MP_REACH next hop length", rec, d[off]))
            else:
                afi = _U16(d, off)[0]
                fields.append(Field(off + 3, 1, "MP_REACH next hop length", rec, d[off + 3]))
                p = off + 4 + d[off + 3]
                snpas = d[p]
                p += 1
                for _ in range(snpas):
                    p += 1 + d[p]
                if afi in (1, 2):
                    _prefixes(fields, d, p, vend, rec, 32 if afi == 1 else 128, addpath,
                              "MP_REACH prefix length")
        elif typ == 15 and alen >= 3:
            afi = _U16(d, off)[0]
            if afi in (1, 2):
                _prefixes(fields, d, off + 3, vend, rec, 32 if afi == 1 else 128, addpath,
                          "MP_UNREACH prefix length")
        off = vend


def _update(fields: list, d: bytes, p: int, end: int, rec: int, asn_len: int,
            addpath: bool) -> None:
    wlen = _U16(d, p)[0]
    fields.append(Field(p, 2, "withdrawn routes length", rec, wlen))
    _prefixes(fields, d, p + 2, p + 2 + wlen, rec, 32, addpath, "withdrawn prefix length")
    p += 2 + wlen
    alen = _U16(d, p)[0]
    fields.append(Field(p, 2, "path attributes length", rec, alen))
    _attributes(fields, d, p + 2, p + 2 + alen, rec, asn_len, addpath)
    _prefixes(fields, d, p + 2 + alen, end, rec, 32, addpath, "NLRI prefix length")


def _bgp4mp(fields: list, d: bytes, s: int, end: int, rec: int, typ: int, sub: int) -> None:
    if sub not in (1, 4, 6, 7, 8, 9, 10, 11):
        return  # state changes: no length field besides the MRT header's
    asn_len = 4 if sub in (4, 5, 7, 9, 11) else 2
    p = s + 12 + (4 if typ == 17 else 0) + 2 * asn_len + 2
    afi = _U16(d, p)[0]
    p += 2 + (8 if afi == 1 else 32)
    if end - p < 19:
        return
    size = _U16(d, p + 16)[0]
    fields.append(Field(p + 16, 2, "BGP message length", rec, size))
    if d[p + 18] == 2:
        _update(fields, d, p + 19, end, rec, asn_len, sub >= 8)


def _table_dump_v2(fields: list, d: bytes, s: int, end: int, rec: int, sub: int) -> None:
    p = s + 12
    if sub == 1:
        p += 4
        fields.append(Field(p, 2, "view name length", rec, _U16(d, p)[0]))
        p += 2 + _U16(d, p)[0]
        fields.append(Field(p, 2, "peer count", rec, _U16(d, p)[0]))
        return
    if sub not in (2, 3, 4, 5, 8, 9, 10, 11):
        return
    addpath = sub >= 8
    fam = 128 if sub in (4, 5, 10, 11) else 32
    p += 4
    fields.append(Field(p, 1, "RIB prefix length", rec, d[p], fam))
    p += 1 + (d[p] + 7) // 8
    count = _U16(d, p)[0]
    fields.append(Field(p, 2, "RIB entry count", rec, count))
    p += 2
    for _ in range(count):
        p += 10 if addpath else 6
        alen = _U16(d, p)[0]
        fields.append(Field(p, 2, "RIB entry attribute length", rec, alen))
        _attributes(fields, d, p + 2, p + 2 + alen, rec, 4, addpath)
        p += 2 + alen


def _table_dump(fields: list, d: bytes, s: int, end: int, rec: int, sub: int) -> None:
    width = 4 if sub in (1, 3) else 16
    asn_len = 4 if sub in (3, 4) else 2
    # the prefix length here is a value (the address field has its fixed size): not walked
    p = s + 16 + width + 6 + width + asn_len
    alen = _U16(d, p)[0]
    fields.append(Field(p, 2, "TABLE_DUMP attribute length", rec, alen))
    _attributes(fields, d, p + 2, p + 2 + alen, rec, asn_len, False)


def records(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(start, end, type, subtype) of each record of an intact plain MRT stream."""
    p = 0
    while p + 12 <= len(data):
        _ts, typ, sub, length = struct.unpack_from(">IHHI", data, p)
        yield p, p + 12 + length, typ, sub
        p += 12 + length


def length_fields(data: bytes) -> list[Field]:
    """Every length field of an intact plain MRT stream, in file order."""
    fields: list[Field] = []
    for rec, (start, end, typ, sub) in enumerate(records(data)):
        fields.append(Field(start + 8, 4, "MRT record length", rec, end - start - 12))
        if typ in (16, 17):
            _bgp4mp(fields, data, start, end, rec, typ, sub)
        elif typ == 13:
            _table_dump_v2(fields, data, start, end, rec, sub)
        elif typ == 12:
            _table_dump(fields, data, start, end, rec, sub)
        elif typ == 5 and sub == 1:
            _update(fields, data, start + 24, end, rec, 2, False)
    return fields


def damage_values(f: Field) -> list[int]:
    """0, +1, -1, all ones and the top bit flipped, without the intact value. A prefix length
    given a value with the same number of address bytes (24 -> 23) is left out: the file
    stays well-formed and says another prefix, which no reader can tell from an intact one."""
    top = (1 << (8 * f.size)) - 1
    out = []
    for v in (0, f.value + 1, f.value - 1, top, f.value ^ (1 << (8 * f.size - 1))):
        v &= top
        if v == f.value or v in out:
            continue
        if f.family and v <= f.family and (v + 7) // 8 == (f.value + 7) // 8:
            continue
        out.append(v)
    return out


def damaged(data: bytes, f: Field, value: int) -> bytes:
    b = bytearray(data)
    b[f.offset:f.offset + f.size] = value.to_bytes(f.size, "big")
    return bytes(b)


def intact_records(data: bytes) -> list[Record]:
    """Each record's range and its `-m` lines, read by the Python reader from the intact
    stream."""
    recs = [Record(start, end) for start, end, _t, _s in records(data)]
    for rec, (_raw, rows) in zip(recs, iter_rows(io.BytesIO(data)), strict=True):
        render_rows(rows, rec.lines.append)
    return recs


def dump(data: bytes, accel: bool) -> tuple[list[str], ReadStats]:
    """The `-m` lines of one run from cold attribute caches, on the compiled or Python path."""
    before = os.environ.get(mrt_accel.ENV)
    os.environ[mrt_accel.ENV] = "1" if accel else "0"
    try:
        for cache in bgp_attributes.attr_caches.values():
            cache.clear()
        out = io.StringIO()
        stats = ReadStats()
        write_bgpdump(io.BytesIO(data), out, stats)
    finally:
        if before is None:
            del os.environ[mrt_accel.ENV]
        else:
            os.environ[mrt_accel.ENV] = before
    return out.getvalue().splitlines(), stats


def well_formed(data: bytes, f: Field) -> bool:
    """Whether a damaged prefix length left its NLRI range whole prefixes of its family all
    the same (24 -> 16 turning "24 a b c" into "16 a b" and "c": a /16 and a prefix of
    c bits): the file then says other routes, and no reader can tell them from intact ones."""
    if not f.family:
        return False
    off, end = f.span
    while off < end:
        if f.addpath:
            off += 4
        if off >= end or data[off] > f.family:
            return False
        off += 1 + (data[off] + 7) // 8
    return off == end


def windows(data: bytes, fields: list[Field], window: int
            ) -> Iterator[tuple[Field, bytes, list[Record]]]:
    """(field as placed in its window, the window's bytes, its intact records) for each
    field: the record holding it, the one before and `window` - 1 after (0: the whole
    file), with the PEER_INDEX_TABLE in front when the file starts with one (RIB entries
    name their peers in it). A damaged length can make the framing skip far ahead; a window
    of tens of records shows that while keeping each case small."""
    recs = list(records(data))
    key = None
    for f in fields:
        lo = 0 if window <= 0 else max(0, f.record - 1)
        hi = len(recs) if window <= 0 else min(len(recs), f.record + window)
        if key != (lo, hi):
            key = (lo, hi)
            head = data[:recs[0][1]] if lo and recs[0][2:] == (13, 1) else b""
            chunk = head + data[recs[lo][0]:recs[hi - 1][1]]
            shift = recs[lo][0] - len(head)
            intact = intact_records(chunk)
        local = replace(f, offset=f.offset - shift,
                        record=f.record - lo + (1 if head else 0),
                        span=(f.span[0] - shift, f.span[1] - shift))
        yield local, chunk, intact


@dataclass
class Verdict:
    altered: list[str]  # printed lines the intact file does not print (or prints fewer times)
    lost: int  # intact lines not printed
    lost_intact: int  # ... of records other than the damaged one
    unreported: int  # ... of records no reported skipped range covers
    covered: bool  # a reported skipped range holds the damaged field
    reported: bool  # anything at all was reported (counts or warnings)


def ranges_of(stats: ReadStats) -> list[tuple[int, int]] | None:
    return getattr(stats, "skipped_ranges", None)


def judge(recs: list[Record], f: Field, lines: list[str], stats: ReadStats) -> Verdict:
    intact = Counter(line for r in recs for line in r.lines)
    got = Counter(lines)
    altered = sorted((got - intact).elements())
    missing = intact - got
    ranges = ranges_of(stats)
    lost = lost_intact = unreported = 0
    # A line printed by several records (the same route announced twice) is missing from the
    # record that was dropped: the damaged one and those in reported ranges go first.
    def hit(i: int, rec: Record) -> bool:
        return i == f.record or ranges is not None and any(
            a < rec.end and rec.start < b for a, b in ranges)

    order = sorted(range(len(recs)), key=lambda i: not hit(i, recs[i]))
    for i in order:
        rec = recs[i]
        gone = 0
        for line in rec.lines:
            if missing[line]:
                missing[line] -= 1
                gone += 1
        if not gone:
            continue
        lost += gone
        if i != f.record:
            lost_intact += gone
        if ranges is not None and not any(a < rec.end and rec.start < b for a, b in ranges):
            unreported += gone
    reported = bool(stats.skipped_records or stats.malformed_records or stats.warnings
                    or stats.truncated)
    if ranges is None:  # a reader without skipped_ranges: only "something was said"
        unreported = 0 if reported else lost
        covered = reported
    else:
        covered = any(a <= f.offset and f.offset + f.size <= b for a, b in ranges)
    return Verdict(altered, lost, lost_intact, unreported, covered, reported)


__all__ = ["Field", "Record", "Verdict", "damage_values", "damaged", "dump", "intact_records",
           "judge", "length_fields", "records", "well_formed", "windows"]
