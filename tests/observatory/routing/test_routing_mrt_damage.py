"""Issue 20, part 5: a damaged length field of a real MRT file never alters a printed route.

Length fields of real files (a 2010 RIS update file: BGP4MP, IPv4 and IPv6, 2- and 4-byte
ASes; a 2014 RouteViews RIB: PEER_INDEX_TABLE and TABLE_DUMP_V2 entries; 2024 BGP4MP_ET
updates with IPv6 MP_REACH/MP_UNREACH) and of OpenBGPD's sample RIB are set in turn to 0, +1,
-1, all ones and their top bit flipped, and each damaged copy is dumped by both
readers (compiled and pure Python) and read as elements (what `routing scan` reads). Against
the undamaged file:

* every printed line appears identically in the undamaged output (no altered route), and no
  element is one the undamaged file does not give;
* every line missing belongs to a record inside a reported skipped byte range
  (`ReadStats.skipped_ranges`, the offsets the warnings name), and when anything is missing
  a reported range holds the damaged field;
* both readers print the same lines and leave the same stats.

The one exception is a prefix length damaged into another well-formed NLRI ("24 a b c" read
as a /16 and a /c): the damaged file then says other routes, which no reader can tell from
intact ones (`mrt_damage.well_formed` checks that this is what happened).

Here a sample: eight fields of each kind, each record in a window of 12. Every field of both
files, with the before/after figures: `bench/routing/damage.py` (bench/README.md).
"""

from __future__ import annotations

import bz2
import gzip
import io
import random
import struct
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from sentinelle.observatory.routing import mrt_accel
from sentinelle.observatory.routing.bgpdump_format import bgpdump_lines
from sentinelle.observatory.routing.mrt import ReadStats, read_elements
from tests.observatory.routing import mrt_damage as md
from tests.paths import FIXTURES_DIR

MRT = FIXTURES_DIR / "bgp" / "mrt"
UPDATES = MRT / "bgpkit-parser" / "updates.20100227.1600.first-796-records.gz"
RIB = MRT / "pyasn" / "rib.20140523.0600_first12.bz2"
READERS = (True, False) if mrt_accel.available() else (False,)


def _plain(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    return bz2.decompress(data) if data[:3] == b"BZh" else data


def _sample(fields: list[md.Field], per_kind: int, seed: str) -> list[md.Field]:
    by_kind: dict[str, list[md.Field]] = defaultdict(list)
    for f in fields:
        by_kind[f.kind.split(" ")[0] + f.kind.split(" ")[-1]].append(f)
    rng = random.Random(seed)
    out = []
    for group in by_kind.values():
        out += rng.sample(group, min(per_kind, len(group)))
    return sorted(out, key=lambda f: f.offset)


def _elements(data: bytes, accel: bool) -> Counter:
    return Counter((e.kind, e.time, e.peer_ip, e.peer_asn, e.prefix, e.as_path, e.next_hop,
                    e.communities)
                   for e in read_elements(io.BytesIO(data), compiled=accel)
                   if e.peer_ip)  # "": a RIB entry whose peer is unknown (reported)


# file, records used, kinds of length field the walk must find there
FILES = [
    pytest.param(UPDATES, 240, 10, id="ris-updates-2010"),
    pytest.param(RIB, 12, 8, id="routeviews-rib-2014"),
    # IPv6 MP_REACH/MP_UNREACH with BGP4MP_ET headers; a synthetic OpenBGPD TABLE_DUMP_V2 RIB
    # with IPv4 and IPv6 entries (abbreviated MP_REACH)
    pytest.param(MRT / "bgpkit-parser" / "examples_local_only_updates.bz2", 85, 8,
                 id="local-only-updates-2024"),
    pytest.param(MRT / "mrtparse-samples" / "openbgpd_rib_table-v2", 24, 6, id="openbgpd-rib"),
]


@pytest.mark.parametrize("path, records, min_kinds", FILES)
def test_damaged_lengths_never_alter_a_route(path: Path, records: int, min_kinds: int) -> None:
    data = _plain(path)
    data = data[:list(md.records(data))[records - 1][1]]
    fields = _sample(md.length_fields(data), 8, path.name)
    kinds = {f.kind for f in fields}
    assert {"MRT record length"} <= kinds
    assert len(kinds) >= min_kinds  # the walk found the nested fields
    cases = 0
    for f, chunk, intact in md.windows(data, fields, 12):
        intact_elements = _elements(chunk, False)
        for value in md.damage_values(f):
            bad = md.damaged(chunk, f, value)
            allowed = md.well_formed(bad, f)
            runs = []
            for accel in READERS:
                lines, stats = md.dump(bad, accel)
                runs.append((lines, stats))
                v = md.judge(intact, f, lines, stats)
                case = f"{f.kind} at {f.offset} of the window: {f.value} -> {value}"
                if not allowed:
                    assert v.altered == [], f"{case}: altered route {v.altered[0]}"
                    assert v.unreported == 0, f"{case}: lines lost outside reported ranges"
                    assert not v.lost or v.covered, f"{case}: damage not in a reported range"
                    extra = _elements(bad, accel) - intact_elements
                    assert not extra, f"{case}: element not in the file {next(iter(extra))}"
                cases += 1
            assert all(run == runs[0] for run in runs), f"readers differ on {f.kind}"
    assert cases > 150


def _peer_table_file() -> tuple[bytes, int]:
    data = _plain(RIB)
    first = list(md.records(data))[0]
    assert first[2:] == (13, 1)
    return data, first[1]


@pytest.mark.parametrize("length", [0, 618, 620, 0xFFFFFFFF])
def test_a_peer_table_with_a_damaged_length_is_read_by_its_own_fields(length: int) -> None:
    """The RIB entries name their peers in the PEER_INDEX_TABLE: losing it to a damaged
    length lost every line of the file (319 here). It is read to where its peers end."""
    data, end = _peer_table_file()
    intact = list(bgpdump_lines(io.BytesIO(data)))
    bad = data[:8] + struct.pack(">I", length) + data[12:]
    stats = ReadStats()
    assert list(bgpdump_lines(io.BytesIO(bad), stats)) == intact and len(intact) == 319
    assert stats.repaired_records == 1 and stats.skipped_ranges == []
    assert f"declares {length} bytes, its peer entries end after {end - 12}" in \
        stats.warnings[0]


def test_a_damaged_peer_table_is_reported_for_every_record_it_leaves_unprintable() -> None:
    data, _end = _peer_table_file()
    bad = data[:18] + struct.pack(">H", 46) + data[20:]  # one peer fewer than listed
    stats = ReadStats()
    assert list(bgpdump_lines(io.BytesIO(bad), stats)) == []
    starts = [start for start, _end, _t, _s in md.records(data)]
    assert [start for start, _ in stats.skipped_ranges] == starts
    assert "does not decode whole" in stats.warnings[0]


def test_a_record_declared_too_long_is_read_to_the_next_header() -> None:
    """A BGP4MP record whose length says one byte more than it holds: the next header is one
    byte early, the record is read up to it and, as it decodes whole, printed."""
    data = _plain(UPDATES)
    recs = list(md.records(data))[:20]
    data = data[:recs[-1][1]]
    start = recs[5][0]
    length = struct.unpack_from(">I", data, start + 8)[0]
    bad = data[:start + 8] + struct.pack(">I", length + 1) + data[start + 12:]
    stats = ReadStats()
    assert list(bgpdump_lines(io.BytesIO(bad), stats)) == list(bgpdump_lines(io.BytesIO(data)))
    assert stats.repaired_records == 1 and stats.skipped_ranges == []
    assert f"record at offset {start} declares {length + 1} bytes" in stats.warnings[0]


@pytest.mark.parametrize("name", ["bird_bgp", "bird6_bgp"])
def test_bird_addpath_mislabelled(name: str) -> None:
    """BIRD's samples write ADD-PATH NLRI (a path identifier before each prefix) under the
    BGP4MP subtypes without ADD-PATH. Read as labelled, the NLRI do not fill their range
    (bgpdump prints 0.0.0.0/0 and /1 routes that are in no UPDATE): each such record is
    skipped whole and reported with its offsets; the state changes still print."""
    stats = ReadStats()
    lines = list(bgpdump_lines(MRT / "mrtparse-samples" / name, stats))
    assert lines and all("|STATE|" in line for line in lines)
    assert stats.malformed_records == len(stats.skipped_ranges) == 6
    for start, end in stats.skipped_ranges:
        assert any(f"at offset {start} (" in w and f"to {end})" in w for w in stats.warnings)
