"""The live RIS Live client (observatory/routing/ris_live_client.py) against a loopback replay
server (tests/observatory/routing/ris_live_replay.py) playing real recordings: the libbgpstream RIS
Live capture, and a real RIS MRT updates file (rrc00, 2000-03-25) rendered as RIS Live frames."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import random
from pathlib import Path

import pytest

from sentinelle.observatory.routing import ris_live_client as rlc
from sentinelle.observatory.routing.mrt import read_elements
from sentinelle.observatory.routing.rislive import read_rislive
from tests.observatory.routing.ris_live_replay import (
    RisLiveReplay,
    frames_from_elements,
    load_frames,
)
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "bgp"
LIBBGPSTREAM = FIXTURES / "rislive" / "libbgpstream_ris-live-stream.json"
MRT_UPDATES = FIXTURES / "mrt" / "bgpkit-parser" / "updates.20000325.0345.gz"
FAST = rlc.Backoff(initial=0.02, maximum=0.1, stable_after=60.0)
TIMEOUT = 20.0  # per scenario: nothing may hang


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def take(agen, count: int) -> list:
    out = []
    try:
        async for element in agen:
            out.append(element)
            if len(out) >= count:
                break
    finally:
        await agen.aclose()
    return out


def recorded(frames: list[str], tmp_path: Path) -> list:
    """What the file reader yields for the same frames, with the live source name."""
    path = tmp_path / "frames.jsonl"
    path.write_text("\n".join(frames) + "\n", encoding="utf-8")
    return [dataclasses.replace(e, source=rlc.SOURCE) for e in read_rislive(path)]


@pytest.fixture(scope="module")
def mrt_frames() -> list[str]:
    return frames_from_elements(read_elements(MRT_UPDATES))


# --- subscriptions, URLs, backoff ------------------------------------------------------------

def test_subscribe_messages_one_per_prefix_with_more_and_less_specific():
    messages = [json.loads(m) for m in rlc.subscribe_messages(
        ["190.6.64.0/19", "2001:DB8::/32", "190.6.64.1/19"], host="rrc00")]
    assert messages == [
        {"type": "ris_subscribe", "data": {
            "prefix": prefix, "moreSpecific": True, "lessSpecific": True,
            "socketOptions": {"includeRaw": False, "acknowledge": True}, "host": "rrc00"}}
        for prefix in ("190.6.64.0/19", "2001:db8::/32")   # normalised, deduplicated
    ]


def test_bad_prefixes_and_urls_are_refused_by_name():
    with pytest.raises(ValueError, match="invalid prefix '300.0.0.0/8'"):
        rlc.subscribe_messages(["300.0.0.0/8"])
    with pytest.raises(ValueError, match="no prefix"):
        rlc.subscribe_messages([])
    assert rlc.parse_source("ris-live") == rlc.DEFAULT_URL
    assert rlc.parse_source("ris-live:ws://127.0.0.1:9/x") == "ws://127.0.0.1:9/x"
    with pytest.raises(ValueError, match="ws:// or wss://"):
        rlc.parse_source("ris-live:http://example.org/")
    with pytest.raises(ValueError, match="not a ris-live source"):
        rlc.parse_source("mrt:x")


def test_backoff_grows_exponentially_is_jittered_and_bounded():
    backoff = rlc.Backoff(initial=1.0, maximum=60.0)
    assert [backoff.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert backoff.ceiling(10**6) == 60.0   # no overflow after days of failures
    rng = random.Random(1)
    delays = [backoff.delay(7, rng) for _ in range(200)]
    assert all(0 <= d <= 60 for d in delays)
    assert len({round(d, 3) for d in delays}) > 150   # jittered, not lockstep


# --- frames become the same elements as the recorded-file reader ------------------------------

def test_live_elements_equal_the_file_reader_on_a_real_update_stream(mrt_frames, tmp_path):
    expected = recorded(mrt_frames, tmp_path)
    assert len(expected) == 5378

    async def scenario():
        async with RisLiveReplay(mrt_frames) as server:
            stats = rlc.LiveStats()
            got = await take(rlc.stream(server.url, ["0.0.0.0/0"], stats=stats,
                                        app_ping=None), len(expected))
            return got, stats
    got, stats = run(scenario())
    assert got == expected
    assert stats.malformed_count == 0 and stats.connects == 1


def test_subscriptions_are_honoured_more_and_less_specific(mrt_frames, tmp_path):
    # 200.32.0.0/16 (more specifics inside it) and 204.70.231.128/25 (its covering /24 is a
    # less specific): the server sends only frames touching them, the client yields them all.
    watched = ["200.32.0.0/16", "204.70.231.128/25"]

    def prefixes(frame: str) -> list[str]:
        data = json.loads(frame)["data"]
        return data.get("withdrawals") or data["announcements"][0]["prefixes"]
    kept = [f for f in mrt_frames
            if any(p.startswith("200.32.") or p == "204.70.231.0/24" for p in prefixes(f))]
    expected = recorded(kept, tmp_path)
    assert 100 < len(expected) < 5378

    async def scenario():
        async with RisLiveReplay(mrt_frames, start_after=2) as server:
            got = await take(rlc.stream(server.url, watched, app_ping=None), len(expected))
            return got, server.received[0]
    got, received = run(scenario())
    assert got == expected
    assert [m["data"]["prefix"] for m in received] == watched


def test_real_ris_live_capture_error_peer_state_and_truncated_frame(caplog):
    frames = load_frames(LIBBGPSTREAM)
    expected = [dataclasses.replace(e, source=rlc.SOURCE) for e in read_rislive(LIBBGPSTREAM)]
    caplog.set_level(logging.WARNING)
    events = []

    async def scenario():
        async with RisLiveReplay(frames) as server:
            stats = rlc.LiveStats()
            agen = rlc.stream(server.url, ["45.160.0.0/12"], stats=stats,
                              on_event=events.append, app_ping=None)
            got = []

            async def consume():
                async for element in agen:
                    got.append(element)
            task = asyncio.create_task(consume())
            # +1: our ris_subscribe_ok; the capture's 7 lines all reach the client
            while stats.frames + stats.malformed_count < len(frames) + 1:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await agen.aclose()
            return got, stats
    got, stats = run(scenario())
    assert got == expected and len(got) == 1
    assert stats.errors == 1 and stats.ris_errors == ["this is a test error message"]
    assert stats.peer_states[0]["state"] == "down"
    assert stats.malformed_count == 1 and stats.malformed[0][0] == 8   # the truncated last line
    assert "frame 8 skipped: invalid JSON" in caplog.text
    assert "ris_error: this is a test error message" in caplog.text
    assert [(e.kind, e.detail) for e in events] == [
        ("connected", ""), ("error", "this is a test error message")]


def test_malformed_frames_are_counted_warned_and_never_stop_the_stream(mrt_frames, caplog,
                                                                      tmp_path):
    good = mrt_frames[:20]
    expected = recorded(good, tmp_path)
    bad = ["not json", "[1, 2", json.dumps({"type": "ris_message", "data": {"type": "UPDATE"}}),
           "[" * 5000 + "]" * 5000, json.dumps({"type": "ris_message", "data": {
               "type": "UPDATE", "timestamp": 1, "peer": "192.0.2.1", "peer_asn": "1e999",
               "announcements": [{"prefixes": ["192.0.2.0/24"]}]}})]
    frames = good[:10] + bad + good[10:]
    caplog.set_level(logging.WARNING)

    async def scenario():
        async with RisLiveReplay(frames) as server:
            stats = rlc.LiveStats()
            got = await take(rlc.stream(server.url, ["0.0.0.0/0"], stats=stats, app_ping=None),
                             len(expected))
            return got, stats
    got, stats = run(scenario())
    assert stats.malformed_count == len(bad)
    assert [n for n, _ in stats.malformed] == [12, 13, 14, 15, 16]   # frame 1 = subscribe_ok
    assert "frame 12 skipped: invalid JSON" in caplog.text
    assert "frame 15 skipped: JSON nested deeper than 32 levels" in caplog.text
    assert "frame 16 skipped: peer_asn is not an ASN" in caplog.text
    assert got == expected   # everything after the bad frames still arrives


# --- drops, reconnection, resubscription, events ----------------------------------------------

def test_drop_reconnects_with_backoff_resubscribes_and_reports_events(mrt_frames, tmp_path):
    events: list[rlc.FeedEvent] = []
    per_connection = recorded(mrt_frames[:5], tmp_path)
    expected = per_connection * 2 + per_connection[:1]   # 3 connections at least
    watched = ["0.0.0.0/0", "2001:db8::/32"]

    async def scenario():
        # every connection is cut (no close frame) after its 5th frame; each replays from 0
        async with RisLiveReplay(mrt_frames, start_after=2, drop_after=5) as server:
            stats = rlc.LiveStats()
            got = await take(rlc.stream(server.url, watched, stats=stats, backoff=FAST,
                                        on_event=events.append, app_ping=None,
                                        rng=random.Random(7)), len(expected))
            return got, stats, server.received
    got, stats, received = run(scenario())
    assert stats.connects >= 3 and stats.disconnects >= 2
    kinds = [e.kind for e in events]
    assert kinds[:5] == ["connected", "disconnected", "connected", "resubscribed",
                         "disconnected"]
    drops = [e for e in events if e.kind == "disconnected"]
    assert all("no close frame" in e.detail for e in drops)
    # failures keep counting (the connections are short-lived) and the delays stay bounded
    assert [e.attempt for e in drops[:2]] == [1, 2]
    assert all(0 <= e.delay <= FAST.maximum for e in drops)
    subscribe = [m for m in received[0] if m["type"] == "ris_subscribe"]
    assert len(subscribe) == 2
    assert all([m for m in r if m["type"] == "ris_subscribe"] == subscribe for r in received)
    assert got == expected


@pytest.mark.parametrize("code", [1000, 1011])   # a normal close is a drop too
def test_server_drop_on_command_with_a_close_code(mrt_frames, code):
    events: list[rlc.FeedEvent] = []
    stats = rlc.LiveStats()

    async def scenario():
        async with RisLiveReplay(mrt_frames[:3]) as server:
            agen = rlc.stream(server.url, ["0.0.0.0/0"], backoff=FAST, app_ping=None,
                              on_event=events.append, stats=stats)
            task = asyncio.create_task(take(agen, 10**9))
            await server.wait_connections(1)
            while sum(server.sent) < 3:
                await asyncio.sleep(0.01)
            await server.drop(code=code)
            await server.wait_connections(2)
            while stats.acknowledged < 2:   # the server confirmed the resubscription
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
    run(scenario())
    assert [e.kind for e in events][:4] == ["connected", "disconnected", "connected",
                                            "resubscribed"]
    assert f"closed by the server: code {code}" in events[1].detail
    assert stats.acknowledged == 2   # ris_subscribe_ok on both connections


def test_unreachable_server_gives_up_after_max_retries():
    events: list[rlc.FeedEvent] = []

    async def scenario():
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()   # the port is now closed: connection refused
        agen = rlc.stream(f"ws://127.0.0.1:{port}/", ["192.0.2.0/24"], backoff=FAST,
                          max_retries=2, on_event=events.append)
        with pytest.raises(ConnectionError, match="gave up after 2 retries"):
            await take(agen, 1)
    run(scenario())
    assert [e.kind for e in events] == ["connect_failed"] * 3
    assert [e.attempt for e in events] == [1, 2, 3]


def test_frame_over_max_size_is_refused_then_the_client_reconnects(mrt_frames):
    events: list[rlc.FeedEvent] = []
    single = next(f for f in mrt_frames if len(json.loads(f)["data"].get("withdrawals", [])) == 1)

    async def scenario():
        async with RisLiveReplay([single], max_size=4 << 20) as server:
            stats = rlc.LiveStats()
            agen = rlc.stream(server.url, ["0.0.0.0/0"], stats=stats, max_size=64 * 1024,
                              backoff=FAST, on_event=events.append, app_ping=None)
            task = asyncio.create_task(take(agen, 2))
            while sum(server.sent) < 1:
                await asyncio.sleep(0.01)
            huge = json.dumps({"type": "ris_message", "data": {"type": "UPDATE",
                                                               "x": "a" * (1 << 20)}})
            await server.send_raw(huge)
            got = await task   # the 2nd element comes from the replay after reconnecting
            return got, stats
    got, stats = run(scenario())
    assert stats.oversized == 1 and stats.malformed_count == 0
    assert len(got) == 2 and got[0] == got[1]
    disconnected = next(e for e in events if e.kind == "disconnected")
    assert "code 1009" in disconnected.detail


def test_application_ping_is_answered(mrt_frames):
    async def scenario():
        async with RisLiveReplay([]) as server:
            stats = rlc.LiveStats()
            agen = rlc.stream(server.url, ["192.0.2.0/24"], stats=stats, app_ping=0.05)
            task = asyncio.create_task(take(agen, 1))
            while stats.pongs < 2:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return stats, server.received[0]
    stats, received = run(scenario())
    assert {"type": "ping"} in received and stats.pongs >= 2


def test_replay_keeps_the_recording_pace_scaled_by_speed(mrt_frames, tmp_path):
    # three frames 1 s apart in the recording, replayed 10x faster: about 0.2 s in all
    frames = []
    for second, frame in enumerate(mrt_frames[:3]):
        data = json.loads(frame)
        data["data"]["timestamp"] = 1_700_000_000 + second
        frames.append(json.dumps(data))
    expected = recorded(frames, tmp_path)

    async def scenario():
        async with RisLiveReplay(frames, speed=10) as server:
            start = asyncio.get_running_loop().time()
            got = await take(rlc.stream(server.url, ["0.0.0.0/0"], app_ping=None),
                             len(expected))
            return got, asyncio.get_running_loop().time() - start
    got, elapsed = run(scenario())
    assert got == expected and 0.18 <= elapsed < 2.0
