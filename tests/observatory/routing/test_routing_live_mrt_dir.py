"""The ``mrt-dir`` source's tailer (observatory/routing/live/mrt_dir.py) over files a collector
is writing: real MRT fixtures written in chunks to a tmp dir. Split records, rotation (rename,
remove and recreate, truncation in place), compressed files, restart from the saved state,
malformed and hostile files (huge or zero lengths, unknown types, symlinks out of the
directory), memory and event-loop bounds. Helpers shared with test_routing_live_sources.py."""

from __future__ import annotations

import asyncio
import bz2
import gc
import gzip
import io
import json
import logging
import os
import struct
import tracemalloc
from pathlib import Path

import pytest

from sentinelle.observatory.routing.live.events import SourceItem
from sentinelle.observatory.routing.live.mrt_dir import MrtDirTailer
from sentinelle.observatory.routing.mrt import read_elements
from tests.paths import FIXTURES_DIR

MRT = FIXTURES_DIR / "bgp" / "mrt"
UPDATES = MRT / "bgpkit-parser" / "updates.20100227.1600.first-796-records.gz"  # BGP4MP
UPDATES_ET = MRT / "bgpkit-parser" / "examples_local_only_updates.bz2"  # BGP4MP_ET
STATES = MRT / "bgpkit-parser" / "updates.20001104.0124.gz"  # with state changes
TIMEOUT = 20.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


def plain(path: Path) -> bytes:
    opener = bz2.open if path.suffix == ".bz2" else gzip.open
    with opener(path, "rb") as fp:
        return fp.read()


def record_ends(data: bytes) -> list[int]:
    """Offsets where each MRT record of a clean file ends (independent framing)."""
    ends, pos = [], 0
    while pos < len(data):
        pos += 12 + struct.unpack_from(">I", data, pos + 8)[0]
        ends.append(pos)
    assert pos == len(data)
    return ends


def key(element) -> tuple:
    return (element.kind, element.time, element.peer_ip, element.peer_asn, element.prefix,
            element.as_path, element.next_hop, element.communities)


def expected(path: Path) -> list[tuple]:
    return [key(e) for e in read_elements(path)]


def elements_of(blob: bytes) -> list[tuple]:
    return [key(e) for e in read_elements(io.BytesIO(blob))]


class Sink:
    def __init__(self) -> None:
        self.items: list[SourceItem] = []

    async def put(self, item: SourceItem) -> None:
        self.items.append(item)

    def elements(self) -> list[tuple]:
        return [key(i.element) for i in self.items if i.kind == "element"]

    def of(self, kind: str) -> list[SourceItem]:
        return [i for i in self.items if i.kind == kind]


def poll(tailer: MrtDirTailer, sink: Sink) -> int:
    return run(tailer.poll(sink.put))


# --- mrt-dir: tailing files being written ------------------------------------------------------

def test_file_appended_in_pieces_reads_only_complete_records(tmp_path):
    data = plain(UPDATES)
    ends = record_ends(data)
    want = expected(UPDATES)
    path = tmp_path / "updates.mrt"
    tailer = MrtDirTailer(tmp_path, source=f"mrt-dir:{tmp_path}")
    sink = Sink()
    cut = ends[99] + 30  # inside record 101: its header and part of its body are written
    path.write_bytes(data[:cut])
    assert poll(tailer, sink) == 100
    first = sink.elements()
    assert first == want[:len(first)] and first
    assert poll(tailer, sink) == 0  # the half record waits
    with path.open("ab") as fp:  # the rest, in pieces cutting headers and bodies anywhere
        for start in range(cut, len(data), 997):
            fp.write(data[start:start + 997])
            fp.flush()
            poll(tailer, sink)
    assert sink.elements() == want  # everything, once, in order
    assert all(i.element.source == "updates.mrt" for i in sink.of("element"))
    assert all(i.source == f"mrt-dir:{tmp_path}" for i in sink.items)


def test_a_header_split_across_two_writes_waits(tmp_path):
    data = plain(UPDATES)
    ends = record_ends(data)
    path = tmp_path / "updates.mrt"
    path.write_bytes(data[:ends[0] + 5])  # 5 bytes of the second header
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    assert poll(tailer, sink) == 1
    with path.open("ab") as fp:
        fp.write(data[ends[0] + 5:ends[1]])
    assert poll(tailer, sink) == 1
    assert sink.elements() == expected(UPDATES)[:len(sink.elements())]


def test_rotation_rename_and_new_file_under_the_same_name(tmp_path):
    data = plain(UPDATES)
    ends = record_ends(data)
    want = expected(UPDATES)
    path = tmp_path / "updates.mrt"
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    path.write_bytes(data[:ends[199]])
    poll(tailer, sink)
    # the collector writes 100 more records, then rotates: renames the file and starts a
    # new one under the same name before we poll again
    with path.open("ab") as fp:
        fp.write(data[ends[199]:ends[299]])
    os.rename(path, tmp_path / "updates.mrt.1")
    path.write_bytes(data[ends[299]:])
    assert poll(tailer, sink) == len(ends) - 200
    assert sink.elements() == want


def test_rotation_remove_and_recreate_reads_the_new_file_from_its_start(tmp_path):
    data = plain(UPDATES)
    ends = record_ends(data)
    path = tmp_path / "updates.mrt"
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    path.write_bytes(data[:ends[299]])
    poll(tailer, sink)
    path.unlink()
    # a new file, larger, that may get the same inode number back: it starts with newer
    # records, as a collector's next file does
    path.write_bytes(data[ends[0]:ends[399]])
    poll(tailer, sink)
    assert sink.elements() == elements_of(data[:ends[299]]) + elements_of(data[ends[0]:ends[399]])


def test_truncated_in_place_is_read_again_from_the_start(tmp_path, caplog):
    data = plain(UPDATES)
    ends = record_ends(data)
    path = tmp_path / "updates.mrt"
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    path.write_bytes(data[:ends[299]])
    poll(tailer, sink)
    with path.open("r+b") as fp:  # same inode, shorter: `> updates.mrt` then new records
        fp.truncate(0)
        fp.write(data[:ends[9]])
    caplog.set_level(logging.INFO)
    assert poll(tailer, sink) == 10
    assert "updates.mrt" in caplog.text and "from its start" in caplog.text


@pytest.mark.parametrize("fixture,suffix,compress", [
    (UPDATES, ".gz", gzip.compress), (UPDATES_ET, ".bz2", bz2.compress)])
def test_compressed_files_are_read_once_they_stop_growing(tmp_path, fixture, suffix, compress):
    blob = compress(plain(fixture))
    path = tmp_path / f"updates.20100227.1600{suffix}"
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    with path.open("wb") as fp:
        for start in range(0, len(blob), len(blob) // 3 + 1):
            fp.write(blob[start:start + len(blob) // 3 + 1])
            fp.flush()
            assert poll(tailer, sink) == 0  # still growing
    assert poll(tailer, sink) > 0  # same size as at the last poll: complete
    assert sink.elements() == expected(fixture)
    assert poll(tailer, sink) == 0
    assert sink.elements() == expected(fixture)


def test_compressed_content_is_recognised_without_its_suffix_and_a_2005_timestamp_is_not(
        tmp_path):
    (tmp_path / "rib").write_bytes(UPDATES_ET.read_bytes())  # bzip2 without a .bz2 name
    data = plain(UPDATES)
    first = record_ends(data)[0]
    # a plain file whose first timestamp reads "BZh9" (2005-04-11) is no bzip2 stream
    (tmp_path / "updates.mrt").write_bytes(b"BZh9" + data[4:first])
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    poll(tailer, sink)
    assert [e[1] for e in sink.elements()] == [0x425A6839] * len(elements_of(data[:first]))
    assert poll(tailer, sink) > 0  # the bzip2 file, once its size held for a poll
    assert sink.elements()[-len(expected(UPDATES_ET)):] == expected(UPDATES_ET)


def test_a_compressed_file_that_grows_after_it_was_read_is_read_on_not_again(tmp_path,
                                                                            caplog):
    blob = gzip.compress(plain(UPDATES))
    path = tmp_path / "updates.20100227.1600.gz"
    path.write_bytes(blob[:len(blob) * 2 // 3])  # the writer stalls longer than a poll
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    caplog.set_level(logging.WARNING)
    poll(tailer, sink)
    assert poll(tailer, sink) > 0
    assert "truncated" in caplog.text
    part = len(sink.elements())
    with path.open("ab") as fp:
        fp.write(blob[len(blob) * 2 // 3:])
    poll(tailer, sink)
    poll(tailer, sink)
    assert len(sink.elements()) > part
    assert sink.elements() == expected(UPDATES)


def test_restart_from_the_state_reads_nothing_twice_and_misses_nothing(tmp_path):
    data = plain(UPDATES)
    ends = record_ends(data)
    path = tmp_path / "updates.mrt"
    state: dict = {}
    sink = Sink()
    path.write_bytes(data[:ends[149] + 7])
    poll(MrtDirTailer(tmp_path, source="x", state=state), sink)
    gz = tmp_path / "updates.20001104.0124.gz"
    gz.write_bytes(STATES.read_bytes())
    poll(MrtDirTailer(tmp_path, source="x", state=state), sink)  # seen once: growing?
    saved = json.loads(json.dumps(state))
    # the monitor stops; the collector goes on writing
    with path.open("ab") as fp:
        fp.write(data[ends[149] + 7:])
    restarted = MrtDirTailer(tmp_path, source="x", state=saved)
    poll(restarted, sink)
    poll(restarted, sink)
    got = sink.elements()
    assert sorted(got) == sorted(expected(UPDATES) + expected(STATES))


def test_restart_in_the_middle_of_a_record_resumes_after_the_last_item_put(tmp_path):
    """The put that was cancelled: the items of a record already handed over are skipped."""
    data = plain(STATES)
    path = tmp_path / "updates.mrt"
    path.write_bytes(data)
    state: dict = {}
    got: list[SourceItem] = []

    async def first_run():
        stop = asyncio.Event()

        async def put(item):
            if len(got) == 57:  # the queue is full when the monitor is stopped: like
                stop.set()      # asyncio.Queue.put, a cancelled put has not taken the item
                await asyncio.sleep(3600)
            got.append(item)

        task = asyncio.create_task(MrtDirTailer(tmp_path, source="x", state=state).poll(put))
        await stop.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run(first_run())
    saved = json.loads(json.dumps(state))
    sink = Sink()
    poll(MrtDirTailer(tmp_path, source="x", state=saved), sink)
    both = [key(i.element) for i in got if i.kind == "element"] + sink.elements()
    assert both == expected(STATES)


RIB = MRT / "mrtparse-samples" / "openbgpd_rib_table-v2"  # TABLE_DUMP_V2 with a peer table


@pytest.mark.parametrize("name,content", [
    ("rib.mrt", lambda: RIB.read_bytes()), ("rib.gz", lambda: gzip.compress(RIB.read_bytes()))])
def test_a_rib_dump_resumed_mid_file_still_names_its_peers(tmp_path, name, content):
    (tmp_path / name).write_bytes(content())
    state: dict = {}
    got: list[SourceItem] = []

    async def first_run():
        tailer = MrtDirTailer(tmp_path, source="x", state=state)
        stop = asyncio.Event()

        async def put(item):
            if len(got) == 12:
                stop.set()
                await asyncio.sleep(3600)
            got.append(item)
        if name.endswith(".gz"):
            assert await tailer.poll(put) == 0  # only seen: is it complete?
        task = asyncio.create_task(tailer.poll(put))
        await stop.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    run(first_run())
    sink = Sink()
    restarted = MrtDirTailer(tmp_path, source="x", state=json.loads(json.dumps(state)))
    poll(restarted, sink)
    want = expected(RIB)
    assert all(e[2] for e in want)  # every RIB entry has its peer address
    assert [key(i.element) for i in got if i.kind == "element"] + sink.elements() == want


def test_state_changes_give_peer_down_items(tmp_path):
    (tmp_path / "updates.mrt").write_bytes(plain(STATES))
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    poll(tailer, sink)
    downs = sink.of("peer-down")
    assert downs
    elements = sink.of("element")
    collectors = {i.element.collector for i in elements}
    assert {d.peer[0] for d in downs} <= collectors  # same collector name as the elements
    assert all(isinstance(d.peer[2], int) and d.peer[1] for d in downs)


def test_a_big_file_is_streamed_in_bounded_memory_without_blocking_the_event_loop(tmp_path):
    data = plain(UPDATES) * 30  # 23,880 records, 2.7 MB
    (tmp_path / "updates.mrt").write_bytes(data)
    count = 0

    async def put(item):
        nonlocal count
        count += item.kind == "element"

    async def scenario(trace: bool) -> float:
        gaps: list[float] = []

        async def ticker():
            loop = asyncio.get_running_loop()
            last = loop.time()
            while True:
                await asyncio.sleep(0.005)
                gaps.append(loop.time() - last)
                last = loop.time()
        beat = asyncio.create_task(ticker())
        if trace:
            tracemalloc.start()
        try:
            assert await MrtDirTailer(tmp_path, source="x").poll(put) == 23_880
            peak = tracemalloc.get_traced_memory()[1] if trace else 0
        finally:
            tracemalloc.stop()
            beat.cancel()
        if not trace:
            assert max(gaps) < 0.5  # the event loop kept running while the file was read
        return peak
    # What the suite's process already holds is set aside from the collector: in the full run a
    # collection of its heap alone stalled the loop 0.55 s (CI), which says nothing of the tailer.
    gc.collect()
    gc.freeze()
    try:
        run(scenario(False))
    finally:
        gc.unfreeze()
    assert count == len(elements_of(plain(UPDATES))) * 30
    assert run(scenario(True)) < 2 << 20  # not the 2.7 MB file, nor its 40,800 items


# --- mrt-dir: malformed and hostile files ------------------------------------------------------

def header(length: int, typ: int = 16, sub: int = 4, ts: int = 1_267_286_400) -> bytes:
    return struct.pack(">IHHI", ts, typ, sub, length)


@pytest.mark.parametrize("name,bad", [
    ("huge length", header(0xFFFFFFF0)),
    ("zero length", header(0)),
    ("unknown type", header(40, typ=99) + bytes(40)),
    ("wrong subtype", header(40, typ=16, sub=200) + bytes(40)),
    ("length over the type's maximum", header(1 << 20, typ=16) + bytes(100)),
])
def test_a_malformed_record_is_logged_and_the_rest_of_the_file_skipped(tmp_path, caplog, name,
                                                                       bad):
    data = plain(UPDATES)
    ends = record_ends(data)
    (tmp_path / "a-broken.mrt").write_bytes(data[:ends[9]] + bad + data[ends[9]:ends[19]])
    os.utime(tmp_path / "a-broken.mrt", (1, 1))
    (tmp_path / "b-next.mrt").write_bytes(data[ends[19]:ends[29]])
    caplog.set_level(logging.WARNING)
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    assert poll(tailer, sink) == 20  # 10 before the damage, the 10 of the next file
    assert f"a-broken.mrt: malformed MRT record at offset {ends[9]}" in caplog.text
    assert [i.detail for i in sink.of("status") if "a-broken.mrt" in i.detail]
    # the broken file is not read again, even when it grows
    with (tmp_path / "a-broken.mrt").open("ab") as fp:
        fp.write(data[ends[29]:ends[39]])
    assert poll(tailer, sink) == 0


def test_a_huge_declared_length_is_refused_without_allocating_it(tmp_path):
    (tmp_path / "x.mrt").write_bytes(header(0xFFFFFFF0, typ=13, sub=2) + bytes(1000))
    gz = tmp_path / "y.mrt.gz"
    gz.write_bytes(gzip.compress(header(0x7FFFFFF0, typ=13, sub=2) + bytes(1000)))
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    tracemalloc.start()
    try:
        poll(tailer, sink)
        poll(tailer, sink)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
    assert all(f["bad"] for f in tailer.state["files"].values())


def test_truncated_compressed_file_keeps_its_complete_records(tmp_path, caplog):
    data = plain(UPDATES)
    ends = record_ends(data)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(data[:ends[49] + 20]))
    caplog.set_level(logging.WARNING)
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    poll(tailer, sink)
    assert poll(tailer, sink) == 50
    assert "cut.gz" in caplog.text and "truncated" in caplog.text
    assert poll(tailer, sink) == 0


def test_symlinks_hidden_files_and_subdirectories_are_ignored(tmp_path, caplog):
    """A symlink can point outside the directory (a secret, /dev/zero, a FIFO that blocks):
    only regular files that are themselves in the directory are read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    watched = tmp_path / "watched"
    watched.mkdir()
    data = plain(UPDATES)
    (outside / "secret.mrt").write_bytes(data)
    (watched / "link.mrt").symlink_to(outside / "secret.mrt")
    (watched / "zero.mrt").symlink_to("/dev/zero")
    (watched / ".partial.mrt").write_bytes(data)  # rsync's temporary name
    (watched / "sub").mkdir()
    (watched / "sub" / "nested.mrt").write_bytes(data)
    os.mkfifo(watched / "fifo.mrt")
    caplog.set_level(logging.INFO)
    tailer, sink = MrtDirTailer(watched, source="x"), Sink()
    assert poll(tailer, sink) == 0
    assert poll(tailer, sink) == 0
    assert not sink.of("element")
    assert "link.mrt" in caplog.text and "symlink" in caplog.text
    assert caplog.text.count("link.mrt") == 1  # said once, not at every poll


def test_random_bytes_never_raise(tmp_path):
    import random
    rng = random.Random(14)
    data = plain(UPDATES)
    for n in range(30):
        blob = bytearray(data[:4000])
        for _ in range(rng.randint(1, 20)):
            blob[rng.randrange(len(blob))] = rng.randrange(256)
        (tmp_path / f"f{n}.mrt").write_bytes(bytes(blob))
    tailer, sink = MrtDirTailer(tmp_path, source="x"), Sink()
    poll(tailer, sink)
    poll(tailer, sink)
    json.dumps(tailer.state)
