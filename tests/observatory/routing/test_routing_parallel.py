"""`sentinelle routing dump --jobs N`: the parallel dump prints what one process prints.

Same stdout byte for byte, same stderr (summary, warnings, suppressed count) and the same
`ReadStats`, on every MRT fixture, on the shared oracle files when ../shared/data is present,
and on damaged input: truncated, corrupt, RIB entries without their PEER_INDEX_TABLE, a damaged
attribute block repeated across batches. Small batches (down to one record each) make every
file cross many batches and both workers.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import random
import struct
from pathlib import Path

import pytest

from sentinelle.observatory.routing import cli, parallel
from sentinelle.observatory.routing.bgp_attributes import attr_caches
from sentinelle.observatory.routing.bgpdump_format import write_bgpdump
from sentinelle.observatory.routing.dump import dump_main
from sentinelle.observatory.routing.mrt import ReadStats
from sentinelle.observatory.routing.parallel import ParallelDump, resolve_jobs
from tests.paths import FIXTURES_DIR, SHARED_DIR

FIXTURES = FIXTURES_DIR / "bgp" / "mrt"
MRT = SHARED_DIR / "data" / "bgp" / "mrt"
QUAGGA_RIB = FIXTURES / "mrtparse-samples" / "quagga_rib"
UPDATES_DAMAGED = FIXTURES / "bgpkit-parser" / "updates.20000325.0345.gz"  # 2 resyncs


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix not in (".md", ".txt")
                  and "test_expect" not in p.parts)


def _clear_caches() -> None:
    # which attribute blocks were decoded before decides when their warnings are raised
    for cache in attr_caches.values():
        cache.clear()


def _dump(args: list[str]) -> tuple[int, str, str]:
    _clear_caches()
    out, err = io.StringIO(), io.StringIO()
    rc = dump_main(args, out, err)
    return rc, out.getvalue(), err.getvalue()


def _stats(path: Path | str, jobs: int, batch_bytes: int = 1) -> tuple[int, str, ReadStats]:
    _clear_caches()
    stats, out = ReadStats(), io.StringIO()
    if jobs == 1:
        n = write_bgpdump(str(path), out, stats)
    else:
        with ParallelDump(jobs, batch_bytes=batch_bytes) as pool:
            n = pool.write(str(path), out, stats)
    return n, out.getvalue(), stats


def _records(data: bytes) -> list[bytes]:
    out, p = [], 0
    while p + 12 <= len(data):
        length = struct.unpack_from(">I", data, p + 8)[0]
        out.append(data[p:p + 12 + length])
        p += 12 + length
    return out


@pytest.mark.parametrize("batch_bytes", [1, 4096])
@pytest.mark.parametrize("path", _files(FIXTURES), ids=lambda p: p.name)
def test_fixtures_same_output(path: Path, batch_bytes: int,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BATCH_BYTES", batch_bytes)
    one = _dump([str(path)])
    assert _dump(["--jobs", "2", str(path)]) == one
    assert _dump(["--jobs=3", "--bgpdump-only", str(path)]) == _dump(["--bgpdump-only",
                                                                      str(path)])


@pytest.mark.skipif(not MRT.exists(), reason="../shared/data is not present")
def test_shared_files_same_output(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BATCH_BYTES", 256 << 10)  # several batches per large file
    # the files under 1 MB and one truncated TABLE_DUMP_V2 RIB (the other five large ones,
    # 2.5 million lines, were compared the same way by hand: identical)
    files = [str(p) for p in _files(MRT) if p.stat().st_size < 1 << 20
             or p.name == "rib.20140523.0600_firstMB.bz2"]
    assert len(files) >= 30
    # all files in one run: one pool, several files, per-file state reset between them
    assert _dump(["--jobs", "2", *files]) == _dump(files)


def test_stats_merged() -> None:
    n1, out1, s1 = _stats(UPDATES_DAMAGED, 1)
    n2, out2, s2 = _stats(UPDATES_DAMAGED, 2)
    assert (n1, out1) == (n2, out2) and n1 > 5000
    assert dataclasses.asdict(s1) == dataclasses.asdict(s2)
    assert s2.records == 2580 and s2.resyncs == 2 and s2.skipped_records == 2
    assert sum(s2.record_types.values()) == s2.records and s2.warnings == s1.warnings
    # counts add up across files as they do sequentially
    n3, _, s3 = _stats(QUAGGA_RIB, 2)
    _, _, s4 = _stats(QUAGGA_RIB, 1)
    assert s3.peer_index_record == s4.peer_index_record is not None
    assert dataclasses.asdict(s3) == dataclasses.asdict(s4) and n3 == 9


def test_truncated_and_corrupt_same_warnings(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BATCH_BYTES", 2000)
    packed = UPDATES_DAMAGED.read_bytes()
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(packed[:len(packed) * 2 // 3])
    one = _dump([str(truncated)])
    assert "truncated" in one[2] and "warning:" in one[2]
    assert _dump(["--jobs", "2", str(truncated)]) == one
    raw = gzip.decompress(packed)
    rnd = random.Random(7)
    for flips in (20, 300, 3000):  # up to many more warnings than are listed
        data = bytearray(raw)
        for _ in range(flips):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        corrupt = tmp_path / f"corrupt{flips}.mrt"
        corrupt.write_bytes(bytes(data[:len(data) - 333]))  # and cut inside a record
        one = _dump([str(corrupt)])
        assert "resyncs" in one[2] and "warning:" in one[2]
        assert _dump(["--jobs", "2", str(corrupt)]) == one
    assert "more warnings" in one[2]


def test_rib_peer_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "BATCH_BYTES", 1)  # one record per batch
    records = _records(QUAGGA_RIB.read_bytes())
    index, entries = records[0], records[1:]
    cases = {
        "no_index": b"".join(entries * 3),  # "no PEER_INDEX_TABLE lists it": once per file
        "index_late": b"".join(entries + [index] + entries),
        "two_indexes": b"".join([index] + entries + [index] + entries),
        "bad_index": b"".join([index] + entries + [index[:20] + b"\xff" * (len(index) - 20)]
                              + entries),
    }
    for name, data in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        one = _dump([str(path)])
        assert _dump(["--jobs", "2", str(path)]) == one, name
        n1, out1, s1 = _stats(path, 1)
        n2, out2, s2 = _stats(path, 2)
        assert (n1, out1, dataclasses.asdict(s1)) == (n2, out2, dataclasses.asdict(s2)), name
        if name == "no_index":
            assert n1 == 0 and len(s1.warnings) == 1 and "no PEER_INDEX_TABLE" in s1.warnings[0]
    both = [str(tmp_path / "no_index"), str(tmp_path / "two_indexes")]
    assert _dump(["--jobs", "2", *both]) == _dump(both)


def test_each_damaged_record_reported_with_its_range(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # Since issue 20 a record that does not decode whole is reported each time, with its
    # offsets (before, a damaged attribute block was warned about once, and its routes kept).
    monkeypatch.setattr(parallel, "BATCH_BYTES", 1)
    records = _records(QUAGGA_RIB.read_bytes())
    broken = []
    for rec in records[1:4]:  # the same attribute block; break its AS_PATH length
        assert rec[34:36] == b"\x50\x02"
        broken.append(rec[:36] + b"\xff\xff" + rec[38:])
    path = tmp_path / "attrs.mrt"
    path.write_bytes(b"".join([records[0]] + broken * 4))
    n1, out1, s1 = _stats(path, 1)
    assert all("attribute type 2 truncated" in w for w in s1.warnings)
    assert len(s1.warnings) == len(s1.skipped_ranges) == s1.malformed_records == 12
    assert n1 == 0
    starts = [start for start, _end in s1.skipped_ranges]
    assert all(f"at offset {start} (" in w for start, w in zip(starts, s1.warnings, strict=True))
    n2, out2, s2 = _stats(path, 2)  # 12 batches over 2 workers, each caching the block
    assert (n1, out1, dataclasses.asdict(s1)) == (n2, out2, dataclasses.asdict(s2))
    assert _dump(["--jobs", "2", str(path)]) == _dump([str(path)])


def test_jobs_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     capsys: pytest.CaptureFixture[str]) -> None:
    assert resolve_jobs(0) == (os.cpu_count() or 1) and resolve_jobs(3) == 3
    one = _dump([str(QUAGGA_RIB)])
    assert _dump(["--jobs", "0", str(QUAGGA_RIB)]) == one
    assert _dump(["--jobs", "1", str(QUAGGA_RIB)]) == one
    for bad in (["--jobs", "x", str(QUAGGA_RIB)], ["--jobs=-2", str(QUAGGA_RIB)], ["--jobs"]):
        rc, out, err = _dump(bad)
        assert rc == 2 and "--jobs needs a number" in err and out == ""
    assert "--jobs N" in _dump(["--help"])[1]
    # through `sentinelle routing dump`: stdout is written as bytes to its buffer
    assert cli.main(["dump", "--jobs", "2", str(QUAGGA_RIB)]) == 0
    assert capsys.readouterr().out == one[1]
    # a missing file among others: status 1, the others still printed
    rc, out, err = _dump(["--jobs", "2", str(tmp_path / "missing"), str(QUAGGA_RIB)])
    assert rc == 1 and out == one[1] and "cannot open" in err


def test_bounded_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = parallel.deque

    class Watched(real):  # type: ignore[valid-type, misc]
        def append(self, item: object) -> None:
            super().append(item)
            seen.append(len(self))

    monkeypatch.setattr(parallel, "deque", Watched)
    _, out1, _ = _stats(UPDATES_DAMAGED, 1)
    _clear_caches()
    out = io.StringIO()
    with ParallelDump(2, batch_bytes=1000, in_flight=3) as pool:
        pool.write(str(UPDATES_DAMAGED), out)
    assert out.getvalue() == out1 and len(seen) > 50 and max(seen) == 3
