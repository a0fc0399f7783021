"""The live monitor's outbox (SQLite) and deliverer: nothing lost, nothing repeated, in order.

The kill test (``test_sigkill_at_random_moments_loses_nothing``) runs this file as a child
process (``python tests/observatory/routing/test_routing_live_outbox.py --child ...``): the child
adds events to an outbox and delivers them to a loopback webhook receiver run by the test, and the
test SIGKILLs it at random moments, several times, then lets a last run finish. Figures are printed
(-s shows them):

    .venv/bin/pytest tests/observatory/routing/test_routing_live_outbox.py -q -s -p no:cacheprovider
    -k sigkill
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from sentinelle.observatory.routing.live.delivery import Backoff, Deliverer
from sentinelle.observatory.routing.live.destinations import DeliveryError, parse_destination
from sentinelle.observatory.routing.live.destinations.webhook import verify_signature
from sentinelle.observatory.routing.live.events import AlertEvent
from sentinelle.observatory.routing.live.outbox import SCHEMA_VERSION, Outbox, OutboxError

SECRET = "kill-test-secret"
D1, D2 = "webhook:http://127.0.0.1:9/a", "webhook:http://127.0.0.1:9/b"


def event(n: int, kind: str = "raised", muted_by: str | None = None) -> AlertEvent:
    return AlertEvent(event=kind, alert_id=f"{n:020x}@{1_700_000_000 + n}", type="E|0",
                      state="CU", prefix=f"198.18.{n % 256}.0/24", offending_asn=65666,
                      legitimate_origins=[65001], first_seen=1_700_000_000 + n,
                      muted_by=muted_by, samples=[bytes([n % 256]) * 3])


# --- the outbox ------------------------------------------------------------------------------

def test_each_event_is_stored_once_per_destination_and_a_repeat_is_ignored(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1, D2])
    events = [event(i) for i in range(3)]
    assert outbox.add(events) == 6
    assert outbox.add(events) == 0          # a restart producing the same events again
    assert outbox.add([event(1), event(3)]) == 2
    assert outbox.counts() == {D1: {"pending": 4}, D2: {"pending": 4}}
    due = outbox.due(D1, now=time.time())
    assert [e.alert_id for _, e in due] == [event(i).alert_id for i in (0, 1, 2, 3)]
    assert due[0][1].samples == [b"\x00\x00\x00"]      # raw bytes kept (hex in the file)
    assert due[0][1].to_dict() == event(0).to_dict()


def test_a_muted_copy_is_kept_but_not_delivered_until_the_unmuted_event_comes(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1])
    assert outbox.add([event(1, muted_by="m1"), event(2)]) == 1
    assert [e.alert_id for _, e in outbox.due(D1, time.time())] == [event(2).alert_id]
    assert outbox.counts()[D1] == {"muted": 1, "pending": 1}
    assert outbox.add([event(1, muted_by="m1")]) == 0      # still muted: nothing changes
    assert outbox.add([event(1)]) == 1                     # the mute expired: same key, unmuted
    due = outbox.due(D1, time.time())
    assert [e.alert_id for _, e in due] == [event(2).alert_id, event(1).alert_id]
    assert due[1][1].muted_by is None
    # a delivered event is left alone by a later muted copy
    outbox.delivered(due[0][0], time.time())
    assert outbox.add([event(2, muted_by="m2")]) == 0
    assert outbox.counts()[D1] == {"delivered": 1, "pending": 1}


def test_the_snapshot_is_written_in_the_same_transaction_as_the_events(tmp_path):
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path, [D1])
    assert outbox.load_snapshot() is None
    outbox.add([event(1)], {"detector": {"n": 1}})
    with pytest.raises(TypeError):   # the snapshot cannot be stored: the events are not either
        outbox.add([event(2)], {"detector": {1, 2}})
    outbox.close()
    again = Outbox(path, [D1])
    assert again.load_snapshot() == {"detector": {"n": 1}}
    assert again.counts() == {D1: {"pending": 1}}
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the snapshot write fails inside the transaction (as a full disk would): the events
    # written just before it in the same transaction are rolled back with it
    db.execute("CREATE TRIGGER full BEFORE INSERT ON snapshot BEGIN "
               "SELECT RAISE(ABORT, 'disk full'); END")
    db.execute("DELETE FROM snapshot")
    db.commit()
    db.close()
    with pytest.raises(OutboxError, match="disk full"):
        again.add([event(3)], {"detector": {"n": 3}})
    assert again.counts() == {D1: {"pending": 1}}
    assert again.load_snapshot() is None


def test_events_for_a_destination_no_longer_given_are_kept_and_reported(tmp_path, caplog):
    path = tmp_path / "o.sqlite3"
    first = Outbox(path, [D1, D2])
    first.add([event(0)])
    first.close()
    again = Outbox(path, [D1])
    assert again.counts() == {D1: {"pending": 1}}      # the status line: configured ones only
    assert again.orphans() == {D2: 1}
    assert f"1 events wait for {D2}" in caplog.text
    again.close()
    assert Outbox(path, [D1, D2]).counts()[D2] == {"pending": 1}   # given again: still there


def test_order_is_kept_a_row_waiting_for_its_retry_holds_the_later_ones(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1])
    outbox.add([event(i) for i in range(3)])
    first = outbox.due(D1, 1000.0)[0][0]
    outbox.failed(first, "503", retry_at=1010.0)
    assert outbox.due(D1, 1005.0) == []             # nothing overtakes the first event
    assert [e.alert_id for _, e in outbox.due(D1, 1010.0)][0] == event(0).alert_id
    outbox.failed(first, "HTTP 400", retry_at=None)  # permanent: rejected, the rest go on
    assert [e.alert_id for _, e in outbox.due(D1, 1005.0)] == [event(1).alert_id,
                                                               event(2).alert_id]
    assert outbox.counts()[D1] == {"rejected": 1, "pending": 2}
    assert outbox.attempts(first) == 2


@pytest.mark.parametrize("damage", ["text", "truncated", "foreign", "foreign-v1", "newer"])
def test_a_damaged_or_foreign_outbox_file_is_refused_and_left_as_it_is(tmp_path, damage):
    path = tmp_path / "outbox.sqlite3"
    if damage == "text":
        path.write_text("this is not a database\n" * 10)
    elif damage in ("truncated", "newer"):
        outbox = Outbox(path, [D1])
        outbox.add([event(i) for i in range(200)], {"big": "x" * 20000})
        outbox.close()
        if damage == "truncated":
            with open(path, "r+b") as handle:
                handle.truncate(path.stat().st_size // 3)
        else:
            db = sqlite3.connect(path)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
            db.commit()
            db.close()
    else:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE accounts (name TEXT)")
        if damage == "foreign-v1":
            db.execute("PRAGMA user_version = 1")
        db.commit()
        db.close()
    before = path.read_bytes()
    with pytest.raises(OutboxError) as caught:
        Outbox(path, [D1]).counts()
    assert str(path) in str(caught.value)
    assert path.read_bytes() == before


def test_a_damaged_row_is_rejected_naming_it_and_the_queue_goes_on(tmp_path):
    path = tmp_path / "o.sqlite3"
    outbox = Outbox(path, [D1])
    outbox.add([event(i) for i in range(3)], {"n": 1})
    db = sqlite3.connect(path)
    db.execute("UPDATE deliveries SET event = '{\"event\": ' WHERE id = 2")
    db.execute("UPDATE deliveries SET samples = '[\"zz\"]' WHERE id = 3")
    db.execute("UPDATE snapshot SET data = 'not json'")
    db.commit()
    db.close()
    assert outbox.due(D1, time.time()) == [(1, event(0))]
    assert outbox.counts()[D1] == {"pending": 1, "rejected": 2}
    assert "damaged" in outbox.last_error(2) and "damaged" in outbox.last_error(3)
    with pytest.raises(OutboxError, match="snapshot"):
        outbox.load_snapshot()


# --- delivery: backoff, rejection, order, isolation ---------------------------------------------

class FakeDestination:
    """Fails as scripted, records what it delivered."""

    def __init__(self, name: str, script: list[DeliveryError | None] | None = None,
                 delay: float = 0.0) -> None:
        self.name, self.script, self.delay = name, list(script or []), delay
        self.delivered: list[str] = []

    async def deliver(self, ev: AlertEvent) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.script:
            error = self.script.pop(0)
            if error is not None:
                raise error
        self.delivered.append(ev.alert_id)


class FixedRng:
    def random(self) -> float:
        return 1.0


def test_backoff_is_exponential_with_jitter_and_a_cap():
    backoff = Backoff(base=2.0, factor=2.0, cap=60.0, jitter=0.5)
    assert [backoff.delay(n, FixedRng()) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]
    rng = random.Random(1)
    delays = [backoff.delay(3, rng) for _ in range(200)]
    assert min(delays) >= 4.0 and max(delays) <= 8.0 and len(set(delays)) > 100


def test_retries_back_off_then_everything_arrives_in_order(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1])
    outbox.add([event(i) for i in range(3)])
    down = DeliveryError("HTTP 503", retryable=True)
    dest = FakeDestination(D1, [down, down, down])
    now = [1000.0]
    deliverer = Deliverer(outbox, {D1: dest}, Backoff(base=2, factor=2, cap=5, jitter=0.5),
                          clock=lambda: now[0], rng=FixedRng())

    async def passes() -> list[float | None]:
        waits = []
        for _ in range(4):
            await deliverer.deliver_due(D1)
            waits.append(outbox.next_due(D1))
            now[0] = waits[-1] or now[0]
        return waits

    waits = asyncio.run(passes())
    assert waits == [1002.0, 1006.0, 1011.0, None]     # 2, 4, then capped at 5; then all sent
    assert dest.delivered == [event(i).alert_id for i in range(3)]
    assert outbox.counts()[D1] == {"delivered": 3}


def test_a_permanent_refusal_is_rejected_logged_and_not_retried(tmp_path, caplog):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1])
    outbox.add([event(i) for i in range(3)])
    dest = FakeDestination(D1, [None, DeliveryError("HTTP 400 bad request", retryable=False)])
    deliverer = Deliverer(outbox, {D1: dest}, clock=lambda: 1000.0)
    asyncio.run(deliverer.deliver_due(D1))
    assert dest.delivered == [event(0).alert_id, event(2).alert_id]
    assert deliverer.counts() == {D1: {"delivered": 2, "rejected": 1}}
    assert "rejected" in caplog.text and "HTTP 400 bad request" in caplog.text
    assert outbox.next_due(D1) is None


def test_a_destination_bug_is_logged_and_backed_off_not_spun_on(tmp_path, caplog):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1])
    outbox.add([event(0)])
    dest = FakeDestination(D1, [RuntimeError("boom")])
    deliverer = Deliverer(outbox, {D1: dest}, Backoff(base=10), clock=lambda: 1000.0,
                          rng=FixedRng())
    asyncio.run(deliverer.deliver_due(D1))
    assert outbox.next_due(D1) == 1010.0 and "boom" in caplog.text
    assert "RuntimeError: boom" in outbox.last_error(1)


def test_a_slow_destination_does_not_hold_the_others_and_a_hung_one_times_out(tmp_path):
    outbox = Outbox(tmp_path / "o.sqlite3", [D1, D2])
    slow = FakeDestination(D1, delay=30)
    fast = FakeDestination(D2)
    deliverer = Deliverer(outbox, {D1: slow, D2: fast}, Backoff(base=60), timeout=0.5)

    async def scenario() -> float:
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop))
        started = time.monotonic()
        outbox.add([event(i) for i in range(5)])
        deliverer.wake()
        while len(fast.delivered) < 5:
            await asyncio.sleep(0.01)
        took = time.monotonic() - started
        await asyncio.sleep(0.7)
        stop.set()
        await asyncio.wait_for(task, 5)
        return took

    assert asyncio.run(scenario()) < 2.0   # the slow one takes 30 s per event
    assert slow.delivered == []
    assert outbox.counts()[D1] == {"pending": 5}
    assert outbox.attempts(outbox.due(D1, time.time() + 120)[0][0]) == 1
    assert "timed out" in outbox.last_error(outbox.due(D1, time.time() + 120)[0][0])


class Receiver:
    """A loopback webhook receiver: records (Idempotency-Key, alert_id); scripted statuses."""

    def __init__(self, port: int = 0) -> None:
        self.keys: list[str] = []
        self.alert_ids: list[str] = []
        self.bad_signatures = 0
        self.truncated = 0
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers["Content-Length"])
                body = self.rfile.read(length)
                if len(body) < length:   # the sender was killed mid-request: nothing accepted
                    with outer.lock:
                        outer.truncated += 1
                    return
                with outer.lock:
                    status = outer.statuses.pop(0) if outer.statuses else 200
                    if status == 200:
                        if not verify_signature(SECRET, self.headers["X-Sentinelle-Signature"],
                                                body):
                            outer.bad_signatures += 1
                        outer.keys.append(self.headers["Idempotency-Key"])
                        outer.alert_ids.append(json.loads(body)["alert_id"])
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_webhook_down_503_then_refused_then_back_gets_everything_in_order(tmp_path,
                                                                         monkeypatch):
    """Real time, real HTTP: short backoff so that it takes about a second."""
    monkeypatch.setenv("SENTINELLE_WEBHOOK_SECRET", SECRET)
    receiver = Receiver()
    port = receiver.port
    receiver.statuses = [503, 503]
    spec = f"webhook:http://127.0.0.1:{port}/hook"
    dest = parse_destination(spec)
    outbox = Outbox(tmp_path / "o.sqlite3", [dest.name])
    deliverer = Deliverer(outbox, {dest.name: dest}, Backoff(base=0.05, factor=2, cap=0.2))

    async def scenario() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop))
        outbox.add([event(i) for i in range(3)])
        deliverer.wake()
        while receiver.statuses:                  # the two 503s are answered
            await asyncio.sleep(0.01)
        receiver.close()                          # now connection refused
        outbox.add([event(i) for i in range(3, 6)])
        deliverer.wake()
        await asyncio.sleep(0.6)
        assert outbox.counts()[dest.name] == {"pending": 6}
        back = Receiver(port)
        try:
            for _ in range(300):
                if outbox.counts()[dest.name] == {"delivered": 6}:
                    break
                await asyncio.sleep(0.01)
            stop.set()
            await asyncio.wait_for(task, 5)
        finally:
            back.close()
        assert back.alert_ids == [event(i).alert_id for i in range(6)]
        assert back.bad_signatures == 0

    asyncio.run(scenario())
    first = outbox.due(dest.name, 0)  # nothing left
    assert first == []


# --- the kill test ----------------------------------------------------------------------------

TOTAL = 400
BATCH = 8
KILLS = 10


def child(state: Path, port: int) -> None:
    """Add TOTAL events in batches (each batch with a snapshot saying how far it got, as the
    monitor does) while delivering; after a restart, resume from the snapshot and add the last
    batch again (a monitor replaying from its last position produces those events again)."""
    os.environ["SENTINELLE_WEBHOOK_SECRET"] = SECRET
    dest = parse_destination(f"webhook:http://127.0.0.1:{port}/hook")
    outbox = Outbox(state / "outbox.sqlite3", [dest.name])
    snapshot = outbox.load_snapshot() or {"next": 0}
    start = max(0, snapshot["next"] - BATCH)
    deliverer = Deliverer(outbox, {dest.name: dest}, Backoff(base=0.05, cap=0.2))

    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(deliverer.run(stop))
        for first in range(start, TOTAL, BATCH):
            last = min(TOTAL, first + BATCH)
            outbox.add([event(i) for i in range(first, last)], {"next": last})
            deliverer.wake()
            await asyncio.sleep(0.01)
        while outbox.counts()[dest.name].get("pending"):
            await asyncio.sleep(0.01)
        stop.set()
        await task

    asyncio.run(main())
    outbox.close()


def test_sigkill_at_random_moments_loses_nothing(tmp_path):
    """Nothing is lost, and after dropping repeats by Idempotency-Key each event arrived once,
    in order. A raw repeat is possible in one window only: the receiver has accepted a delivery
    and the process dies before the outbox's "delivered" commit reaches the file (the HTTP
    response on its way back, a thread hop, the SQLite write; the fsync after it does not count,
    the WAL frame is in the page cache and survives a killed process). The restarted process
    sends that one event again first, so a repeat directly follows its first copy, at most one
    per kill. This test kills during back-to-back delivery, where that window is about half of
    each ~2 ms cycle: measured over 40 runs (399 kills), 180 repeats, 0 events lost. A real
    monitor delivers a few alerts an hour, so a kill almost never falls inside the window.
    (A kill in the middle of sending a request leaves the receiver a short body: not accepted,
    so not a repeat; the test receiver counts those apart.)"""
    receiver = Receiver()
    rng = random.Random()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3] / "src")}
    command = [sys.executable, __file__, "--child", str(tmp_path), str(receiver.port)]
    kills = 0
    try:
        for _ in range(KILLS):
            proc = subprocess.Popen(command, env=env)
            # Kill once the child has delivered a random number more events, a random few ms
            # later: so every kill falls mid-way, during adds, deliveries or commits.
            target = len(receiver.keys) + rng.randint(1, TOTAL // KILLS)
            while len(receiver.keys) < target and proc.poll() is None:
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.03))
            if proc.poll() is not None:
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
        final = subprocess.run(command, env=env, timeout=120)
        assert final.returncode == 0
    finally:
        receiver.close()
    expected = [event(i).idempotency_key for i in range(TOTAL)]
    unique = list(dict.fromkeys(receiver.keys))
    repeats = len(receiver.keys) - len(unique)
    print(f"\nkill test: {kills} SIGKILLs, {TOTAL} events, {len(receiver.keys)} deliveries "
          f"received, {len(unique)} distinct keys, {repeats} repeats, {receiver.truncated} "
          "requests cut short by a kill")
    assert kills >= KILLS - 2
    assert sorted(unique) == sorted(expected)           # every event at least once
    assert unique == expected                           # first deliveries in order
    assert receiver.bad_signatures == 0
    # Each repeat is the delivery in flight when the process died, sent again first thing
    # after the restart: so it directly follows its first copy, at most one per kill.
    assert repeats <= kills
    assert all(receiver.keys[i - 1] == key for i, key in enumerate(receiver.keys)
               if key in receiver.keys[:i])


if __name__ == "__main__" and sys.argv[1:2] == ["--child"]:
    child(Path(sys.argv[2]), int(sys.argv[3]))
