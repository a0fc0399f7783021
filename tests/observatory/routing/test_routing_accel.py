"""The compiled MRT fast path (`observatory/routing/_mrt_accel.pyx`) against the pure-Python
reader, which defines the output: the same `bgpdump -m` bytes, the same elements from
`read_elements` (what `routing scan` reads), the same `ReadStats` (counts, warnings in order,
suppressed warnings), on every MRT file of ../shared/data/bgp and the fixtures, and on
damaged copies (bytes flipped, cut, repeated).

Without the compiled module (no C compiler when the package was installed) these tests skip,
except in CI (`CI` set), where `make install` builds it: there a missing module fails.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import itertools
import os
import random
import struct
from pathlib import Path

import pytest

from sentinelle.observatory.routing import bgp_attributes, dump, mrt_accel
from sentinelle.observatory.routing.bgpdump_format import write_bgpdump, write_bgpdump_py
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.mrt import ReadStats, read_elements
from tests.paths import ROOT

MRT = ROOT.parent / "shared" / "data" / "bgp" / "mrt"
FIXTURES = ROOT / "tests" / "fixtures" / "bgp" / "mrt"

if not mrt_accel.available():
    if os.environ.get("CI"):
        pytest.fail("the compiled MRT reader (_mrt_accel) is not built: `pip install -e .` "
                    "should have built it (is Cython or a C compiler missing?)",
                    pytrace=False)
    pytest.skip("the compiled MRT reader is not built here", allow_module_level=True)


def _clear_caches() -> None:
    for cache in bgp_attributes.attr_caches.values():
        cache.clear()


def _dump(source: Path | bytes, accel: bool, monkeypatch: pytest.MonkeyPatch,
          extended: bool = True) -> tuple[str, int, ReadStats]:
    """-m text, line count and stats of one run, from cold caches."""
    monkeypatch.setenv(mrt_accel.ENV, "1" if accel else "0")
    assert mrt_accel.enabled() is accel
    _clear_caches()
    out = io.StringIO()
    stats = ReadStats()
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    n = write_bgpdump(stream, out, stats, extended=extended)
    return out.getvalue(), n, stats


def _assert_same(source: Path | bytes, monkeypatch: pytest.MonkeyPatch,
                 extended: bool = True) -> str:
    fast = _dump(source, True, monkeypatch, extended)
    slow = _dump(source, False, monkeypatch, extended)
    if fast[0] != slow[0]:
        for number, (a, b) in enumerate(zip(fast[0].splitlines(), slow[0].splitlines(),
                                            strict=False), 1):
            assert a == b, f"line {number} differs"
        raise AssertionError(f"{fast[0].count(chr(10))} lines != {slow[0].count(chr(10))}")
    assert fast[1] == slow[1]
    assert fast[2] == slow[2]  # every count, the warnings in order, the suppressed ones
    return fast[0]


def _mrt_files() -> list[Path]:
    found = sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix != ".txt")
    if MRT.exists():
        found += sorted(p for p in MRT.rglob("*") if p.is_file() and p.suffix != ".md"
                        and "test_expect" not in p.parts)
    return found


def _param(p: Path):  # type: ignore[no-untyped-def]
    label = str(p.relative_to(MRT) if MRT in p.parents else p.relative_to(ROOT))
    # the few big files take seconds each: `-m "not slow"` leaves them out
    marks = (pytest.mark.slow,) if p.stat().st_size > 1_000_000 else ()
    return pytest.param(p, id=label, marks=marks)


@pytest.mark.parametrize("path", [_param(p) for p in _mrt_files()])
def test_same_output_and_stats(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(path, monkeypatch)


@pytest.mark.parametrize("path", [_param(p) for p in _mrt_files()
                                  if p.stat().st_size <= 500_000])
def test_same_elements_after_a_compiled_dump(path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    # The elements (read by the Python decoders) are the same whether or not the compiled
    # path filled the attribute caches first with its own entries.
    fresh_stats, after_stats = ReadStats(), ReadStats()
    _clear_caches()
    fresh = list(read_elements(path, stats=fresh_stats))
    monkeypatch.setenv(mrt_accel.ENV, "1")
    _clear_caches()
    write_bgpdump(path, io.StringIO(), ReadStats())
    after = read_elements(path, stats=after_stats)
    for number, (a, b) in enumerate(itertools.zip_longest(after, fresh), 1):
        assert a == b, f"element {number}"
    assert after_stats == fresh_stats


def test_shared_files_are_there_in_ci() -> None:
    if os.environ.get("CI") and not MRT.exists():
        pytest.skip("../shared/data is not present")  # the fixtures above still ran
    if MRT.exists():
        names = {p.name for p in _mrt_files()}
        assert "updates.et-header.2015.gz" in names


@pytest.mark.parametrize("name", ["updates.20000325.0345.gz",
                                  "updates.20100227.1600.first-796-records.gz"])
def test_bgpdump_only_mode(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _assert_same(FIXTURES / "bgpkit-parser" / name, monkeypatch, extended=False)


# --------------------------------------------------------------------------- damaged input


def _plain(path: Path) -> bytes:
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    return data


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        choice = rng.random()
        if choice < 0.55 and b:  # flip a byte (lengths, flags, AFIs, markers...)
            i = rng.randrange(len(b))
            b[i] = rng.choice((rng.randrange(256), b[i] ^ 0xFF, 0, 0xFF, b[i] + 1 & 0xFF))
        elif choice < 0.75 and b:  # cut
            del b[rng.randrange(len(b)):]
        elif choice < 0.9 and b:  # delete a run
            i = rng.randrange(len(b))
            del b[i:i + rng.randint(1, 40)]
        elif b:  # repeat a run
            i = rng.randrange(len(b))
            b[i:i] = b[i:i + rng.randint(1, 200)]
    return bytes(b)


# files the compiled path decodes: updates (2-byte and 4-byte ASes, IPv4 and IPv6, ET
# headers) and TABLE_DUMP_V2 RIBs (peer tables, IPv4 and IPv6 entries)
_DAMAGE_SEEDS = ("bgpkit-parser/updates.20100227.1600.first-796-records.gz",
                 "bgpkit-parser/updates.20001104.0124.gz",
                 "bgpkit-parser/examples_local_only_updates.bz2",
                 "mrtparse-samples/bird6_bgp", "mrtparse-samples/openbgpd_bgp",
                 "mrtparse-samples/openbgpd_rib_table-v2", "mrtparse-samples/bird6-mrtdump_rib",
                 "mrtparse-samples/quagga_rib")


@pytest.mark.parametrize("seed_name", _DAMAGE_SEEDS)
def test_damaged_copies_same_output(seed_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _plain(FIXTURES / seed_name)[:60_000]
    rng = random.Random(seed_name)
    for _ in range(60):
        _assert_same(_mutate(rng, data), monkeypatch)


def _bgp4mp_et(body: bytes, asn4: bool = True, ts: int = 1445565678) -> bytes:
    """One BGP4MP_ET MESSAGE(_AS4) record from 192.0.2.1 (AS 64500) carrying body (an UPDATE
    after the type byte)."""
    asn = struct.pack(">II", 64500, 64501) if asn4 else struct.pack(">HH", 64500, 64501)
    msg = b"\xff" * 16 + struct.pack(">HB", 19 + len(body), 2) + body
    peer = asn + struct.pack(">HH", 0, 1) + bytes((192, 0, 2, 1)) + bytes((192, 0, 2, 2))
    rec = struct.pack(">I", 509481) + peer + msg
    return struct.pack(">IHHI", ts, 17, 4 if asn4 else 1, len(rec)) + rec


def _update(attrs: bytes, nlri: bytes = b"\x18\xc6\x33\x64", withdrawn: bytes = b"") -> bytes:
    return struct.pack(">H", len(withdrawn)) + withdrawn + struct.pack(">H", len(attrs)) \
        + attrs + nlri


def _attr(flags: int, typ: int, value: bytes) -> bytes:
    return bytes((flags, typ, len(value))) + value


_ORIGIN = _attr(0x40, 1, b"\x00")
_NH = _attr(0x40, 3, bytes((192, 0, 2, 1)))
_PATH4 = _attr(0x40, 2, b"\x02\x02" + struct.pack(">II", 64500, 64496))


def test_a_truncated_attribute_goes_to_python_with_its_warning(
        monkeypatch: pytest.MonkeyPatch) -> None:
    broken = _ORIGIN + _PATH4 + b"\xc0\x08\x08\x00\x01"  # communities: 8 bytes declared, 2
    good = _bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH))
    bad = _bgp4mp_et(_update(broken))
    text = _assert_same(good + bad, monkeypatch)
    # the damaged record gives no route (it printed one without next hop before issue 20)
    assert text.splitlines() == [
        "BGP4MP_ET|1445565678.509481|A|192.0.2.1|64500|198.51.100.0/24|64500 64496|IGP|"
        "192.0.2.1|0|0||NAG||"]
    stats = _dump(good + bad, True, monkeypatch)[2]
    end = len(good) + len(bad)
    assert stats.warnings == [
        f"<stream>: 17/4 record at offset {len(good)} ({len(bad)} bytes, to {end}) does not "
        "decode whole (attribute type 8 truncated: 8 bytes declared, 2 present); skipped"]
    assert stats.skipped_ranges == [(len(good), end)] and stats.malformed_records == 1


def test_sets_as4_merge_and_mp_routes_same_as_python(monkeypatch: pytest.MonkeyPatch) -> None:
    as_set = _attr(0x40, 2, b"\x02\x01" + struct.pack(">I", 64500) + b"\x01\x02"
                   + struct.pack(">II", 64511, 64512))
    path2 = _attr(0x40, 2, b"\x02\x02" + struct.pack(">HH", 64500, 23456))
    as4 = _attr(0xC0, 17, b"\x02\x02" + struct.pack(">II", 64500, 4200000000))
    nlri6 = b"\x30\x20\x01\x0d\xb8\x00\x01" + b"\x20\x20\x01\x0d\xb8"
    mp6 = _attr(0x80, 14, struct.pack(">HBB", 2, 1, 16)
                + bytes.fromhex("20010db8000000000000000000000001") + b"\x00" + nlri6)
    unreach = _attr(0x80, 15, b"\x00\x01\x01\x18\xcb\x00\x71")
    comms = _attr(0xC0, 8, struct.pack(">III", 0xFFFFFF01, 0xFFFFFF03, (64500 << 16) | 7))
    agg = _attr(0xC0, 7, struct.pack(">I", 64500) + bytes((192, 0, 2, 9)))
    med_lp = _attr(0x80, 4, b"\xff\xff\xff\xfe") + _attr(0x40, 5, b"\x80\x00\x00\x00")
    mp4 = _attr(0x80, 14, b"\x00\x01\x02\x04\xc0\x00\x02\x05\x00\x10\xe0\x01")
    records = [
        _bgp4mp_et(_update(_ORIGIN + as_set + _NH)),
        _bgp4mp_et(_update(_ORIGIN + path2 + as4 + _NH), asn4=False),
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + mp6 + comms + agg + med_lp, nlri=b"")),
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + mp4 + med_lp + unreach, nlri=b"",
                           withdrawn=b"\x10\x0a\x01\x19\xc6\x33\x64\x80")),
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH, nlri=b"\x21\x01\x02\x03\x04\x05\x00")),
    ]
    text = _assert_same(b"".join(records), monkeypatch)
    assert "|64500 {64511,64512}|" in text
    assert "|64500 4200000000|" in text
    assert ("BGP4MP_ET|1445565678.509481|A|192.0.2.1|64500|2001:db8:1::/48|64500 64496|IGP|"
            "2001:db8::1|2147483648|4294967294|no-export local-AS 64500:7|NAG|64500 192.0.2.9|"
            in text)
    assert "|224.1.0.0/16|64500 64496|IGP|192.0.2.5|-2147483648|-2|" in text  # signed, MP IPv4
    assert "|W|192.0.2.1|64500|203.0.113.0/24\n" in text
    assert "|W|192.0.2.1|64500|198.51.100.128/25\n" in text  # host bits cleared
    # a prefix longer than its family: the record does not decode whole (before issue 20
    # both paths printed "1.2.3.4/33")
    assert "/33|" not in text
    assert _dump(b"".join(records), True, monkeypatch)[2].malformed_records == 1


def test_env_var_forces_the_python_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                        capsys: pytest.CaptureFixture) -> None:
    made = []
    real = mrt_accel.renderer

    def spy(ctx):  # type: ignore[no-untyped-def]
        made.append(ctx)
        return real(ctx)

    monkeypatch.setattr(mrt_accel, "renderer", spy)
    path = tmp_path / "one.mrt"
    path.write_bytes(_bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH)))
    monkeypatch.setenv(mrt_accel.ENV, "0")
    assert dump.dump_main([str(path)]) == 0
    slow = capsys.readouterr().out
    assert not made
    monkeypatch.setenv(mrt_accel.ENV, "1")
    assert dump.dump_main([str(path)]) == 0
    assert len(made) == 1 and capsys.readouterr().out == slow
    assert slow.startswith("BGP4MP_ET|1445565678.509481|A|192.0.2.1|64500|198.51.100.0/24|")


def test_python_path_reads_a_block_the_compiled_path_cached(
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = _bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH))
    monkeypatch.setenv(mrt_accel.ENV, "1")
    _clear_caches()
    write_bgpdump(io.BytesIO(data), io.StringIO())
    blob = _ORIGIN + _PATH4 + _NH
    cache = bgp_attributes.attr_caches[(4, False)]
    assert type(cache[blob]).__name__ == "_Block"
    attrs = bgp_attributes.parse_attrs(blob, 0, len(blob), 4, False)
    assert isinstance(attrs, bgp_attributes.Attrs) and cache[blob] is attrs
    assert attrs.as_path == (64500, 64496) and attrs.nexthop == "192.0.2.1"
    out = io.StringIO()
    write_bgpdump_py(io.BytesIO(data), out)
    assert out.getvalue().startswith("BGP4MP_ET|1445565678.509481|A|")


# --------------------------------------------------------------------------- elements
# `read_elements` takes the compiled element path (`_mrt_accel.ElementReader`) for the records
# the `-m` renderer takes; what `routing scan` reads must not depend on it.


def _elements(source: Path | bytes, accel: bool, monkeypatch: pytest.MonkeyPatch
              ) -> tuple[list[Element], ReadStats]:
    monkeypatch.setenv(mrt_accel.ENV, "1" if accel else "0")
    _clear_caches()
    stats = ReadStats()
    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    return list(read_elements(stream, stats=stats)), stats


def _digest(path: Path, accel: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ReadStats]:
    """Every field of every element hashed (the big files' elements do not fit in lists)."""
    monkeypatch.setenv(mrt_accel.ENV, "1" if accel else "0")
    _clear_caches()
    stats = ReadStats()
    h = hashlib.sha256()
    for el in read_elements(path, stats=stats):
        assert type(el) is Element
        h.update(repr((el.kind, el.time, el.peer_ip, el.peer_asn, el.prefix, el.as_path,
                       el.collector, el.source, el.next_hop, el.communities)).encode())
        h.update(el.raw)
    return h.hexdigest(), stats


def _assert_same_elements(source: Path | bytes, monkeypatch: pytest.MonkeyPatch
                          ) -> list[Element]:
    fast, fast_stats = _elements(source, True, monkeypatch)
    slow, slow_stats = _elements(source, False, monkeypatch)
    for number, (a, b) in enumerate(itertools.zip_longest(fast, slow), 1):
        assert a == b, f"element {number}"
    assert fast_stats == slow_stats  # counts (elements, malformed), warnings in order
    return fast


@pytest.mark.parametrize("path", [_param(p) for p in _mrt_files()])
def test_same_elements_compiled_and_python(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = _digest(path, True, monkeypatch)
    slow = _digest(path, False, monkeypatch)
    if fast[0] != slow[0] and path.stat().st_size <= 2_000_000:
        _assert_same_elements(path, monkeypatch)  # says which element differs
    assert fast[0] == slow[0]
    assert fast[1] == slow[1]


@pytest.mark.parametrize("seed_name", _DAMAGE_SEEDS)
def test_damaged_copies_same_elements(seed_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _plain(FIXTURES / seed_name)[:60_000]
    rng = random.Random("elements " + seed_name)
    for _ in range(40):
        _assert_same_elements(_mutate(rng, data), monkeypatch)


def test_element_path_is_compiled_and_declines_like_the_renderer(
        monkeypatch: pytest.MonkeyPatch) -> None:
    readers = []
    real = mrt_accel._mrt_accel.ElementReader  # type: ignore[union-attr]

    def spy(*args):  # type: ignore[no-untyped-def]
        readers.append(real(*args))
        return readers[-1]

    monkeypatch.setattr(mrt_accel._mrt_accel, "ElementReader", spy)
    assert mrt_accel._mrt_accel.fast_new()  # type: ignore[union-attr]  # slots filled in C
    comms = _attr(0xC0, 8, struct.pack(">II", 0xFFFFFF01, (64500 << 16) | 7))
    large = _attr(0xC0, 32, struct.pack(">III", 64500, 1, 2))
    rfc5549 = _attr(0x80, 14, struct.pack(">HBB", 1, 1, 16)
                    + bytes.fromhex("20010db8000000000000000000000001") + b"\x00"
                    + b"\x18\xcb\x00\x71")
    unreach6 = _attr(0x80, 15, b"\x00\x02\x01\x20\x20\x01\x0d\xb8")
    as_set = _attr(0x40, 2, b"\x02\x01" + struct.pack(">I", 64500) + b"\x01\x02"
                   + struct.pack(">II", 64511, 64512))
    data = b"".join([
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH + comms + large)),
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + rfc5549 + unreach6, nlri=b"",
                           withdrawn=b"\x10\x0a\x01")),
        _bgp4mp_et(_update(_ORIGIN + _PATH4 + _NH, nlri=b"\x21\x01\x02\x03\x04\x05")),
        _bgp4mp_et(_update(_ORIGIN + as_set + _NH)),  # an AS_SET: the Python decoder
    ])
    elements = _assert_same_elements(data, monkeypatch)
    assert [(e.kind, e.prefix, e.as_path, e.next_hop, e.communities) for e in elements] == [
        ("A", "198.51.100.0/24", (64500, 64496), "192.0.2.1",
         ("65535:65281", "64500:7", "64500:1:2")),
        ("W", "10.1.0.0/16", (), "", ()),
        ("W", "2001:db8::/32", (), "", ()),
        ("A", "203.0.113.0/24", (64500, 64496), "2001:db8::1", ()),
        ("A", "198.51.100.0/24", (64500, frozenset({64511, 64512})), "192.0.2.1", ()),
    ]
    assert {e.peer_ip for e in elements} == {"192.0.2.1"} and elements[0].time == 1445565678
    # the ENV=0 run made no reader; the compiled run's reader declined the AS_SET record
    assert len(readers) == 1 and readers[0].fallbacks == 1
    fast, stats = _elements(data, True, monkeypatch)
    assert stats.malformed_records == 1 and stats.elements == 5  # the /33 route
    assert stats.record_types[(17, 4)] == 4


@pytest.mark.parametrize("first", ["elements", "dump"])
def test_shared_cache_either_order(first: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block cached by one compiled path is completed by the other: the dump after the
    elements (and the elements after the dump) are those of the Python reader."""
    path = FIXTURES / "bgpkit-parser" / "updates.20100227.1600.first-796-records.gz"
    want_text = _dump(path, False, monkeypatch)[0]
    want_elements, want_stats = _elements(path, False, monkeypatch)
    monkeypatch.setenv(mrt_accel.ENV, "1")
    _clear_caches()
    for step in ([first, "dump" if first == "elements" else "elements"]):
        if step == "dump":
            out = io.StringIO()
            write_bgpdump(path, out, ReadStats())
            assert out.getvalue() == want_text
        else:
            stats = ReadStats()
            assert list(read_elements(path, stats=stats)) == want_elements
            assert stats == want_stats
    assert any(type(v).__name__ == "_Block" for v in bgp_attributes.attr_caches[(4, False)]
               .values())
