"""`sentinelle routing monitor` as an operator runs it: a real process, a RIS Live replay server
and a webhook receiver on loopback (observatory/routing/live/monitor.py).

A hijack of 198.18.0.0/16 by AS65666 is seen by three RIS peers, then withdrawn by all three:
the webhook must get one signed "raised" and one "resolved" with the duration, the process must
stop cleanly on SIGTERM, and a restart on the same state directory, with the feed replaying the
same messages, must deliver nothing twice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.observatory.routing.bgp_lab import free_port
from tests.paths import ROOT

BIN = Path(sys.executable).parent
SECRET = "test-secret-0123456789"
T0 = 1_700_000_000
PREFIX = "198.18.0.0/16"

WATCH = """\
states:
  CU:
    asns: [65001]
    prefixes:
      - prefix: 198.18.0.0/16
        origins: [65001]
"""


def frame(t: float, peer: str, path: list[int], announce: list[str] = (),
          withdraw: list[str] = ()) -> str:
    data = {"timestamp": t, "peer": peer, "peer_asn": str(path[0] if path else 64500),
            "id": f"{t}-{peer}", "host": "rrc00", "type": "UPDATE", "path": path,
            "origin": "IGP", "announcements": [], "withdrawals": list(withdraw)}
    if announce:
        data["announcements"] = [{"next_hop": peer, "prefixes": list(announce)}]
    return json.dumps({"type": "ris_message", "data": data})


def hijack_frames() -> list[str]:
    peers = [("192.0.2.1", 64501), ("192.0.2.2", 64502), ("192.0.2.3", 64503)]
    frames = [frame(T0, ip, [asn, 65001], announce=[PREFIX]) for ip, asn in peers]
    frames += [frame(T0 + 10 + i, ip, [asn, 65666], announce=[PREFIX])
               for i, (ip, asn) in enumerate(peers)]
    # back to the legitimate origin, one peer after the other
    frames += [frame(T0 + 100 + i, ip, [asn, 65001], announce=[PREFIX])
               for i, (ip, asn) in enumerate(peers)]
    return frames


class Receiver:
    """A webhook endpoint: keeps every delivery whose signature verifies."""

    def __init__(self) -> None:
        self.deliveries: list[dict] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                header = self.headers.get("X-Sentinelle-Signature", "")
                parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
                expected = hmac.new(SECRET.encode(), f"{parts.get('t')}.".encode() + body,
                                    hashlib.sha256).hexdigest()
                if hmac.compare_digest(expected, parts.get("v1", "")):
                    receiver.deliveries.append(
                        {"key": self.headers.get("Idempotency-Key"), **json.loads(body)})
                else:
                    receiver.bad_signatures += 1
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, event: str) -> list[dict]:
        return [d for d in self.deliveries if d["event"] == event]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def replay(tmp_path: Path):
    recording = tmp_path / "frames.jsonl"
    recording.write_text("\n".join(hijack_frames()) + "\n")
    port = free_port("127.0.0.1")
    replay_script = ROOT / "tests" / "observatory" / "routing" / "ris_live_replay.py"
    proc = subprocess.Popen([sys.executable, str(replay_script),
                             str(recording), "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for("the replay server", lambda: _listening(port), 10)
    yield f"ws://127.0.0.1:{port}/v1/ws/?client=test"
    proc.terminate()
    proc.wait(10)


def wait_for(what: str, check, timeout: float):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.1)
    return result


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_monitor(tmp_path: Path, url: str, hook: str, *extra: str) -> subprocess.Popen:
    watch = tmp_path / "watch.yaml"
    watch.write_text(WATCH)
    env = {**os.environ, "SENTINELLE_WEBHOOK_SECRET": SECRET}
    return subprocess.Popen(
        [str(BIN / "sentinelle"), "routing", "monitor", "--watch", str(watch),
         "--source", f"ris-live:{url}", "--alert", f"webhook:{hook}",
         "--state-dir", str(tmp_path / "state"), "--min-peers", "3",
         "--status-interval", "1", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def test_hijack_raised_then_resolved_and_nothing_twice_after_restart(
        tmp_path: Path, replay: str, receiver: Receiver) -> None:
    proc = start_monitor(tmp_path, replay, receiver.url)
    try:
        wait_for("resolved at the webhook", lambda: receiver.of("resolved"), 30)
    finally:
        log = stop(proc)
    raised, resolved = receiver.of("raised"), receiver.of("resolved")
    assert len(raised) == 1 and len(resolved) == 1, receiver.deliveries
    assert receiver.bad_signatures == 0
    alert = raised[0]
    assert (alert["type"], alert["prefix"], alert["state"], alert["offending_asn"]) == (
        "E|0", PREFIX, "CU", 65666)
    assert alert["peers"] >= 3
    assert alert["first_seen"] == T0 + 10  # the first hijacking announcement, not the 3rd
    assert resolved[0]["alert_id"] == alert["alert_id"]
    assert resolved[0]["resolved_at"] == T0 + 102
    assert resolved[0]["duration"] == 92
    assert "status:" in log  # the operator sees it working

    # Restart: the replay server plays the same messages again to the new connection.
    before = len(receiver.deliveries)
    proc = start_monitor(tmp_path, replay, receiver.url)
    try:
        time.sleep(4)
    finally:
        stop(proc)
    assert len(receiver.deliveries) == before, receiver.deliveries[before:]


def test_below_the_peer_threshold_nothing_is_raised(tmp_path: Path, replay: str,
                                                    receiver: Receiver) -> None:
    proc = start_monitor(tmp_path, replay, receiver.url, "--min-peers", "4")
    try:
        time.sleep(4)
    finally:
        stop(proc)
    assert receiver.of("raised") == [] and receiver.of("resolved") == []


@pytest.mark.parametrize("args, words", [
    (["--source", "carrier-pigeon:x"], "carrier-pigeon"),
    (["--alert", "webhook:ftp://x"], "webhook:ftp://x"),
    (["--min-peers", "0"], "at least 1"),
    (["--feed-timeout", "soon"], "not a duration"),
])
def test_bad_command_line_names_the_option(tmp_path: Path, args: list[str], words: str) -> None:
    watch = tmp_path / "watch.yaml"
    watch.write_text(WATCH)
    base = ["--watch", str(watch), "--state-dir", str(tmp_path / "s")]
    if "--source" not in args:
        base += ["--source", "ris-live:ws://127.0.0.1:9/"]
    result = subprocess.run([str(BIN / "sentinelle"), "routing", "monitor", *base, *args],
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, "SENTINELLE_WEBHOOK_SECRET": SECRET})
    assert result.returncode == 2, result.stderr
    assert words in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_watch_list_names_the_line(tmp_path: Path) -> None:
    watch = tmp_path / "watch.yaml"
    watch.write_text("states:\n  CU:\n    prefixes:\n      - prefix: 198.18.0.0/33\n")
    result = subprocess.run(
        [str(BIN / "sentinelle"), "routing", "monitor", "--watch", str(watch), "--state-dir",
         str(tmp_path / "s"), "--source", "ris-live:ws://127.0.0.1:9/"],
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "line 4" in result.stderr and "Traceback" not in result.stderr


def test_two_monitors_on_one_state_directory_are_refused(tmp_path: Path, replay: str,
                                                         receiver: Receiver) -> None:
    first = start_monitor(tmp_path, replay, receiver.url)
    try:
        wait_for("the first monitor's lock", lambda: (tmp_path / "state" / "monitor.lock")
                 .exists(), 20)
        time.sleep(1)
        second = start_monitor(tmp_path, replay, receiver.url)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 2
        assert "another monitor is running" in err
    finally:
        stop(first)
