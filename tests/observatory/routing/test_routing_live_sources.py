"""Live sources of the routing monitor (observatory/routing/live/sources.py).

* parse_source: every accepted form, and a clear error for the rest;
* run_source mrt-dir: polling while a collector writes and rotates (the tailer itself:
  tests/observatory/routing/test_routing_live_mrt_dir.py);
* ris-live: tests/observatory/routing/ris_live_replay.py on loopback (elements, a drop,
  RIS_PEER_STATE, pongs);
* bmp: crafted messages (tests/observatory/routing/bmp_bytes.py) over a loopback TCP connection;
* cancellation leaves no task and no socket behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket

import pytest

from sentinelle.observatory.routing import ris_live_client as rlc
from sentinelle.observatory.routing.live.sources import (
    SourceOptions,
    parse_source,
    run_source,
)
from sentinelle.observatory.routing.mrt import read_elements
from tests.observatory.routing import bmp_bytes as B
from tests.observatory.routing.bgp_lab import free_port
from tests.observatory.routing.ris_live_replay import RisLiveReplay, frames_from_elements
from tests.observatory.routing.test_routing_live_mrt_dir import (
    UPDATES,
    Sink,
    expected,
    key,
    plain,
    record_ends,
    run,
)

# --- parse_source ----------------------------------------------------------------------------

def test_parse_source_accepts_every_documented_form(tmp_path):
    spec = parse_source("ris-live")
    assert (spec.kind, spec.url) == ("ris-live", rlc.DEFAULT_URL)
    spec = parse_source("ris-live:ws://127.0.0.1:8765/v1/ws/?client=x")
    assert (spec.kind, spec.url) == ("ris-live", "ws://127.0.0.1:8765/v1/ws/?client=x")
    assert parse_source("ris-live:wss://ris-live.ripe.net/v1/ws/").url.startswith("wss://")
    spec = parse_source("bmp:127.0.0.1:11019")
    assert (spec.kind, spec.host, spec.port) == ("bmp", "127.0.0.1", 11019)
    spec = parse_source("bmp:[::1]:11019")
    assert (spec.kind, spec.host, spec.port) == ("bmp", "::1", 11019)
    assert parse_source("bmp:0.0.0.0:11019").host == "0.0.0.0"  # noqa: S104
    assert parse_source("bmp:localhost:11019").host == "localhost"
    spec = parse_source(f"mrt-dir:{tmp_path}")
    assert (spec.kind, spec.directory) == ("mrt-dir", tmp_path)
    assert spec.text == f"mrt-dir:{tmp_path}"


@pytest.mark.parametrize("bad", [
    "", "ris", "ris-live:http://example.org/", "ris-live:ws://", "bmp:127.0.0.1",
    "bmp:127.0.0.1:99999", "bmp:127.0.0.1:port", "bmp:::1:11019", "bmp:[::1]", "bmp::11019",
    "bmp:[not-an-ip]:11019", "bmp:bad host:11019", "mrt-dir:", "kafka:localhost:9092",
    "RIS-LIVE",
])
def test_parse_source_refuses_other_forms_naming_the_spec_and_the_accepted_forms(bad):
    with pytest.raises(ValueError) as info:
        parse_source(bad)
    message = str(info.value)
    assert repr(bad) in message
    for form in ("ris-live", "bmp:HOST:PORT", "bmp:[IPv6]:PORT", "mrt-dir:DIR"):
        assert form in message


def test_parse_source_mrt_dir_must_be_an_existing_directory(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        parse_source(f"mrt-dir:{tmp_path / 'missing'}")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(ValueError, match="not a directory"):
        parse_source(f"mrt-dir:{tmp_path / 'file'}")


# --- run_source ------------------------------------------------------------------------------

FAST = SourceOptions(poll_interval=0.05, ris_backoff=rlc.Backoff(initial=0.02, maximum=0.1),
                     ris_app_ping=None)


async def wait_until(check, what: str, timeout: float = 10.0):
    async def loop():
        while not check():
            await asyncio.sleep(0.01)
    try:
        await asyncio.wait_for(loop(), timeout)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def stop(task: asyncio.Task, before: set[asyncio.Task]) -> None:
    """Cancel the source; no task of its own may outlive it."""
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    others = asyncio.all_tasks() - before
    assert others == set(), others


def test_run_source_mrt_dir_polls_until_cancelled(tmp_path):
    data = plain(UPDATES)
    spec = parse_source(f"mrt-dir:{tmp_path}")
    state: dict = {}

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=state,
                                              options=FAST))
        (tmp_path / "updates.mrt").write_bytes(data)
        await wait_until(lambda: len(sink.elements()) == len(expected(UPDATES)), "elements")
        await stop(task, before)
        return sink
    sink = run(scenario())
    assert sink.elements() == expected(UPDATES)
    assert json.loads(json.dumps(state))["files"]


def test_run_source_mrt_dir_while_a_collector_writes_and_rotates(tmp_path):
    """A writer task appends random-sized pieces and rotates every 300 records while the
    source polls every 10 ms: every element arrives once, in order."""
    import random
    rng = random.Random(7)
    data = plain(UPDATES)
    ends = [0, *record_ends(data)]
    spec = parse_source(f"mrt-dir:{tmp_path}")
    fast = SourceOptions(poll_interval=0.01)

    async def collector():
        path = tmp_path / "updates.mrt"
        pos, rotation = 0, 0
        while pos < len(data):
            piece = rng.randint(1, 3000)
            with path.open("ab") as fp:
                fp.write(data[pos:pos + piece])
            pos += piece
            rotate_at = 300 * (rotation + 1)
            if pos < len(data) and rotate_at < len(ends) and pos >= ends[rotate_at]:
                # finish the record being written, then rotate
                boundary = next(e for e in ends if e >= pos)
                with path.open("ab") as fp:
                    fp.write(data[pos:boundary])
                pos = boundary
                rotation += 1
                os.rename(path, tmp_path / f"updates.mrt.{rotation}")
            await asyncio.sleep(rng.choice((0, 0.001, 0.005)))

    async def scenario():
        sink = Sink()
        source = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state={},
                                                options=fast))
        await collector()
        await wait_until(lambda: len(sink.elements()) >= len(expected(UPDATES)), "elements")
        await asyncio.sleep(0.05)
        source.cancel()
        with pytest.raises(asyncio.CancelledError):
            await source
        return sink
    sink = run(scenario())
    assert sink.elements() == expected(UPDATES)
    assert len(list(tmp_path.iterdir())) >= 3


def peer_state_frame(state: str) -> str:
    return json.dumps({"type": "ris_message", "data": {
        "timestamp": 1267286400.5, "peer": "195.66.224.59", "peer_asn": "24931",
        "host": "rrc01.ripe.net", "type": "RIS_PEER_STATE", "state": state}})


def test_run_source_ris_live_elements_peer_down_pong_and_reconnect():
    elements = list(read_elements(UPDATES))[:40]
    frames = frames_from_elements(elements, host="rrc01")
    frames.insert(10, peer_state_frame("down"))
    prefixes = sorted({e.prefix for e in elements})

    async def scenario():
        async with RisLiveReplay(frames, start_after=len(prefixes)) as server:
            spec = parse_source(f"ris-live:{server.url}")
            sink = Sink()
            options = SourceOptions(ris_backoff=rlc.Backoff(initial=0.02, maximum=0.1),
                                    ris_app_ping=0.1)
            before = asyncio.all_tasks()
            task = asyncio.create_task(run_source(spec, sink.put, prefixes=prefixes,
                                                  state=None, options=options))
            await wait_until(lambda: len(sink.of("element")) >= len(elements), "elements")
            await wait_until(lambda: sink.of("alive"), "a pong")
            await server.drop()  # abrupt: no close frame
            await wait_until(lambda: len(sink.of("element")) >= 2 * len(elements),
                             "elements after the reconnection")
            await stop(task, before)
            assert server.connections == []
            return sink
    sink = run(scenario())
    got = [key(i.element) for i in sink.of("element")]
    assert got[:len(elements)] == [key(e) for e in elements]
    downs = sink.of("peer-down")
    assert downs[0].peer == ("rrc01", "195.66.224.59", 24931)
    assert downs[0].observed_at > 0
    # the peer-down comes in its place among the elements
    position = sink.items.index(downs[0])
    assert len([i for i in sink.items[:position] if i.kind == "element"]) >= 1
    details = [i.detail for i in sink.of("status")]
    assert any(d.startswith("disconnected") for d in details)
    assert any(d.startswith("resubscribed") for d in details)


def test_run_source_ris_live_bad_prefix_raises():
    spec = parse_source("ris-live:ws://127.0.0.1:9/")
    with pytest.raises(ValueError, match="no prefix"):
        run(run_source(spec, Sink().put, prefixes=[], state=None, options=FAST))


def test_run_source_bmp_elements_peer_down_initiation_and_disconnect():
    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")
    p1 = B.peer_header("192.0.2.7", 65001, 1_700_000_000)
    p2 = B.peer_header("192.0.2.8", 65002, 1_700_000_000)
    announce = B.update(attrs=B.ipv4_attrs([65001, 64500]), announced=B.nlri("198.18.0.0/16"))
    stream = b"".join((
        B.initiation(sys_name="edge1"),
        B.peer_up(p1, B.bgp_open(65000), B.bgp_open(65001)),
        B.peer_up(p2, B.bgp_open(65000), B.bgp_open(65002)),
        B.route_monitoring(p1, announce),
        B.route_monitoring(p2, announce),
        B.statistics(p1),
        B.peer_down(p1),
    ))

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=FAST))
        await wait_until(lambda: sink.of("status"), "listening")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(stream)
        await writer.drain()
        await wait_until(lambda: len(sink.of("peer-down")) == 1, "peer down")
        writer.close()  # the router goes away: its remaining peer's routes are gone too
        await writer.wait_closed()
        await wait_until(lambda: len(sink.of("peer-down")) == 2, "peer down at disconnect")
        # a second router stays connected while the source is cancelled
        _r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(B.initiation(sys_name="edge2"))
        await w2.drain()
        await wait_until(lambda: len(sink.of("alive")) >= 3, "edge2 initiation")
        await stop(task, before)
        with pytest.raises(OSError):
            await asyncio.open_connection("127.0.0.1", port)
        assert await _r2.read() == b""  # its connection was closed too
        w2.close()
        return sink
    sink = run(scenario())
    elements = sink.of("element")
    assert [(i.element.peer_ip, i.element.prefix) for i in elements] == [
        ("192.0.2.7", "198.18.0.0/16"), ("192.0.2.8", "198.18.0.0/16")]
    assert [d.peer for d in sink.of("peer-down")] == [
        ("edge1", "192.0.2.7", 65001), ("edge1", "192.0.2.8", 65002)]
    assert {i.element.collector for i in elements} == {"edge1"}
    alive = [i.detail for i in sink.of("alive")]
    assert any("initiation" in d for d in alive) and any("statistics" in d for d in alive)


def test_run_source_bmp_port_in_use_raises():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        spec = parse_source(f"bmp:127.0.0.1:{busy.getsockname()[1]}")
        with pytest.raises(OSError):
            run(run_source(spec, Sink().put, prefixes=[], state=None, options=FAST))


def test_run_source_bmp_only_accepts_routers_in_bmp_allow():
    """BMP has no authentication: with --bmp-allow, a connection from elsewhere is closed
    before a byte is read, so it can neither inject routes nor take peers down."""
    import dataclasses
    import ipaddress

    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")
    options = dataclasses.replace(FAST, bmp_allow=(ipaddress.ip_network("127.0.0.2/32"),))
    p1 = B.peer_header("192.0.2.7", 65001, 1_700_000_000)
    stream = b"".join((
        B.initiation(sys_name="edge1"),
        B.peer_up(p1, B.bgp_open(65000), B.bgp_open(65001)),
        B.route_monitoring(p1, B.update(attrs=B.ipv4_attrs([65001, 64500]),
                                        announced=B.nlri("198.18.0.0/16"))),
    ))

    async def send_from(address: str) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                       local_addr=(address, 0))
        writer.write(stream)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return reader, writer

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=options))
        await wait_until(lambda: sink.of("status"), "listening")
        stranger, w1 = await send_from("127.0.0.3")
        # closed on it: an end of stream, or a reset since what it sent was never read
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(stranger.read(), 5) == b""
        w1.close()
        _router, w2 = await send_from("127.0.0.2")
        await wait_until(lambda: sink.of("element"), "the allowed router's route")
        w2.close()
        await stop(task, before)
        return sink
    sink = run(scenario())
    assert [i.element.collector for i in sink.of("element")] == ["edge1"]
