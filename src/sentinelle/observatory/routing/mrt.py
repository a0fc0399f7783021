"""Streaming MRT reader (RFC 6396, RFC 8050 ADD-PATH, RFC 6793 AS4 transition): the public face.

Reads gzip, bzip2 or plain MRT files chunk by chunk, never the whole file, and turns each
record into *rows*: one per route announced, withdrawn or dumped, plus BGP state changes.
`read_elements` makes `Element`s of them for the detectors; `bgpdump_format` renders the same
rows as `bgpdump -m` lines, which is how the decoding is checked field by field against the
C reference parser. Damaged input never raises; what was dropped is counted in `ReadStats`,
and every byte range skipped is in `ReadStats.skipped_ranges` and named by a warning. A record
gives rows only when it decodes whole: one length field that disagrees with the bytes around it
(record, BGP message, withdrawn routes, attributes, AS path segments, next hop, NLRI, RIB
entries) and the whole record is skipped, so a damaged length never becomes an altered route.

The work is done in three stages, one module each:

  mrt_framing     decompression sniffing, record framing and resynchronisation, ReadStats
  bgp_attributes  path attributes, AS paths (AS4 merge), communities, prefixes, caches
  mrt_records     per-type decoders (TABLE_DUMP, TABLE_DUMP_V2, BGP4MP(_ET), type 5) -> rows

Import from here: the names below are the stable interface.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from . import mrt_accel
from .bgp_attributes import ATTR_CACHE_SIZE, Attrs, fmt_ipv6, parse_attrs
from .elements import Element
from .mrt_framing import (
    BGP,
    BGP4MP,
    BGP4MP_ET,
    CHUNK,
    MAX_RECORD,
    MAX_WARNINGS,
    TABLE_DUMP,
    TABLE_DUMP_V2,
    WINDOW,
    ReadStats,
    decompressed,
    iter_records,
    open_input,
)
from .mrt_records import Context, Row, decode

__all__ = [
    "ATTR_CACHE_SIZE",
    "BGP",
    "BGP4MP",
    "BGP4MP_ET",
    "CHUNK",
    "MAX_RECORD",
    "MAX_WARNINGS",
    "TABLE_DUMP",
    "TABLE_DUMP_V2",
    "WINDOW",
    "Attrs",
    "Context",
    "ReadStats",
    "Row",
    "decode",
    "fmt_ipv6",
    "iter_records",
    "iter_rows",
    "parse_attrs",
    "read_elements",
]


def _collector_of(name: str, path: Any) -> str:
    m = re.search(r"\b(rrc\d\d)\b", str(path)) if path is not None else None
    return m.group(1) if m else name


def iter_rows(path_or_stream: str | Path | IO[bytes], stats: ReadStats | None = None
              ) -> Iterator[tuple[bytes, list[Row]]]:
    """(raw record, rows) for every framed record of a file or binary stream."""
    stats = stats if stats is not None else ReadStats()
    fp, name, close = open_input(path_or_stream)
    ctx = Context(stats, name)
    try:
        for raw, ts, typ, sub in iter_records(decompressed(fp, stats, name), stats, name):
            yield raw, decode(raw, ts, typ, sub, ctx)
    finally:
        if close:
            fp.close()


def read_elements(path_or_stream: str | Path | IO[bytes], *, collector: str = "",
                  stats: ReadStats | None = None, compiled: bool | None = None
                  ) -> Iterator[Element]:
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
    fp, name, close = open_input(path_or_stream)
    ctx = Context(stats, name)
    # the compiled element path (mrt_accel) takes the records it can, None for the others
    fast = mrt_accel.element_reader(ctx, coll, source, compiled)
    record = fast.record if fast is not None else None
    new = Element
    last = None
    as_path: tuple = ()
    comms: tuple[str, ...] = ()
    try:
        for raw, ts, typ, sub in iter_records(decompressed(fp, stats, name), stats, name):
            if record is not None:
                elements = record(raw, ts, typ, sub)
                if elements is not None:  # already counted in stats.elements
                    yield from elements
                    continue
            for r in decode(raw, ts, typ, sub, ctx):
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
                    el = new(kind, ts, peer_ip or "", peer_as, prefix, as_path, coll, raw,
                             source, nh, comms)
                stats.elements += 1
                yield el
    finally:
        if close:
            fp.close()
