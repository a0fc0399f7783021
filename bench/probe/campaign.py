"""Probe campaign benchmark: N URLs (1,000) x R rounds (10) on the local farm with injected
latency, each round a real `sentinelle probe campaign --once` process writing a signed bundle
through the outbox to a platform; a kill -9 in the middle of a round, outbox checked.

    .venv/bin/python bench/probe/campaign.py [--urls 1000] [--rounds 10] [--concurrency 16]
        [--latency 0.05:0.2] [--timeout 2] [--kill-round 6] [--json FILE]

1. starts the farm and the control helper as processes, as bench/probe/run.py does, and writes
   the same list (fixed seed, 15 scenarios);
2. starts a stand-in platform in this process: it answers the submission API as the platform
   does (202, a job that succeeded, the same report for a bundle it already has, by SHA-256) and
   counts every POST and every distinct bundle; it is DOWN (503) until the kill, so that
   bundles pile up in the outbox;
3. runs the rounds one after another, each `campaign --once` (a round, then one delivery pass),
   and times them: rounds/hour at --concurrency is 3600 / the mean round time (back to back,
   the most a vantage point can do with this list at this concurrency);
4. kill -9 of the campaign process half a round into round --kill-round (platform still down):
   the outbox's files and rows before the kill = after the restart's recovery; the killed
   round leaves nothing, its number is not reused;
5. the platform comes up; the remaining rounds deliver everything pending;
6. reads every delivered bundle's measurements.jsonl back and prints the verdict accuracy of
   each round, and checks: bundles delivered = rounds finished, none received twice.

The tests (tests/observatory/access/test_probe_campaign.py) do the same against the real platform
(live_server) at small sizes; here the platform is a stand-in so that its own cost (verifying and
importing 1,000 rows per bundle) does not blur the probe's figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as probe_bench  # noqa: E402  (bench/probe/run.py: farm, helper, list)

ROOT = probe_bench.ROOT
PYTHON = probe_bench.PYTHON
FARM = probe_bench.FARM
from tests.observatory.access.probe_farm import CONTROL_IP, PROBE_IP, TOKEN  # noqa: E402

from sentinelle.evidence import bundle as evidence_bundle  # noqa: E402
from sentinelle.evidence import keys  # noqa: E402

PLATFORM_TOKEN = "bench-platform-token-0123456789"


class StandIn:
    """The platform's submission API as a campaign sees it (see the module docstring)."""

    def __init__(self) -> None:
        self.up = False
        self.posts = 0
        self.refused_while_down = 0
        self.bundles: dict[str, int] = {}          # sha256 -> POSTs that carried it
        self.lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Authorization") != f"Bearer {PLATFORM_TOKEN}":
                    return self._answer(401, {"detail": "Invalid token."})
                if not stand_in.up:
                    with stand_in.lock:
                        stand_in.refused_while_down += 1
                    return self._answer(503, {"detail": "down for the benchmark"})
                sha = hashlib.sha256(_file_part(body, self.headers["Content-Type"])).hexdigest()
                with stand_in.lock:
                    stand_in.posts += 1
                    created = sha not in stand_in.bundles
                    stand_in.bundles[sha] = stand_in.bundles.get(sha, 0) + 1
                    number = list(stand_in.bundles).index(sha) + 1
                self._answer(202, {"id": number, "status": "succeeded", "message": "",
                                   "result": {"report": f"CU-2026-{number:05d}",
                                              "created": created}})

            def _answer(self, code: int, data: dict) -> None:
                payload = json.dumps(data).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _file_part(body: bytes, content_type: str) -> bytes:
    boundary = re.search(r"boundary=([^;]+)", content_type).group(1).encode()
    for part in body.split(b"--" + boundary):
        head, _sep, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return data[:-2]                     # the CRLF before the next boundary
    raise ValueError("no file part")


def outbox_state(state: Path) -> dict:
    files = {status: sorted(p.name for p in (state / "outbox" / status).glob("*.zip"))
             for status in ("pending", "acknowledged", "refused")}
    db = sqlite3.connect(f"file:{state / 'campaign.sqlite3'}?mode=ro", uri=True)
    try:
        rows = dict(db.execute("SELECT status, COUNT(*) FROM bundles GROUP BY status").fetchall())
        rounds = db.execute("SELECT number, status FROM rounds ORDER BY number").fetchall()
    finally:
        db.close()
    return {"files": files, "rows": rows, "rounds": rounds}


def campaign(config: Path, *more: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    return subprocess.Popen([str(PYTHON), "-m", "sentinelle.observatory.access.cli", "campaign",
                             "--config", str(config), "--no-progress", *more],
                            env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=1000, help="URLs in the list (1000)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds that finish (10)")
    parser.add_argument("--concurrency", type=int, default=16, help="URLs at once (16)")
    parser.add_argument("--latency", default="0.05:0.2", help="MIN:MAX seconds per response")
    parser.add_argument("--timeout", type=float, default=2.0, help="probe phase timeout (s)")
    parser.add_argument("--kill-round", type=int, default=0,
                        help="the round killed with kill -9 halfway (default: rounds/2 + 1); "
                             "the platform is down until then")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    kill_round = args.kill_round or args.rounds // 2 + 1
    if not 1 <= kill_round <= args.rounds:
        parser.error("--kill-round must be between 1 and --rounds")

    work = Path(tempfile.mkdtemp(prefix="campaign-bench-"))
    state_file = work / "state.json"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    farm = subprocess.Popen([str(PYTHON), str(FARM), "--dir",
                             str(work / "farm"), "--state", str(state_file), "--latency",
                             args.latency], env=env, start_new_session=True)
    helper = None
    try:
        probe_bench.wait_for(state_file)
        farm_state = json.loads(state_file.read_text())
        port = probe_bench.free_port()
        helper = subprocess.Popen(
            [str(PYTHON), "-m", "sentinelle.observatory.access.cli", "helper", "--listen",
             f"127.0.0.1:{port}", "--bind", CONTROL_IP, "--token", TOKEN, "--allow-private",
             "--rate", "1000000/min", "--timeout", str(args.timeout), "--ca-file",
             farm_state["ca_file"], "--resolver", farm_state["resolver"], "--self-cc", "CH",
             "--self-asn", "3303", "--max-body", str(256 * 1024), "--max-concurrent", "256"],
            env=env, start_new_session=True, stderr=subprocess.DEVNULL)
        probe_bench.wait_port(port)
        urls, expected = probe_bench.make_list(farm_state, args.urls)
        listing = work / "list.csv"
        listing.write_text("url,category_code,notes\n" + "".join(f"{u},NEWS,\n" for u in urls))
        platform = StandIn()
        config = write_config(work, listing, port, farm_state, platform.url, args)
        state = work / "state"

        times: list[float] = []
        kill = {}
        finished = 0
        while finished < args.rounds:
            number = finished + 1 + (1 if kill else 0)
            if number == kill_round and not kill:
                half = sum(times) / len(times) / 2 if times else 5.0
                kill = kill_mid_round(config, state, number, half)
                platform.up = True          # from here on, every round delivers the backlog
                continue
            started = time.perf_counter()
            process = campaign(config, "--once")
            _out, err = process.communicate()
            if process.returncode not in (0, 3):
                raise SystemExit(f"campaign exited {process.returncode}:\n{err}")
            times.append(time.perf_counter() - started)
            finished += 1
            print(f"  round {number}: {times[-1]:.1f} s, "
                  f"{'delivered' if process.returncode == 0 else 'kept (platform down)'}",
                  file=sys.stderr)
        final = outbox_state(state)
        return report(args, times, kill, final, platform, state, expected)
    finally:
        probe_bench.stop(helper, farm)
        shutil.rmtree(work, ignore_errors=True)


def write_config(work: Path, listing: Path, port: int, farm_state: dict, platform_url: str,
                 args) -> Path:
    import yaml

    key, _public = keys.generate(work / "probe.key")
    for name, secret in (("control.token", TOKEN), ("platform.token", PLATFORM_TOKEN)):
        (work / name).write_text(secret + "\n")
        (work / name).chmod(0o600)
    config = work / "campaign.yaml"
    config.write_text(yaml.safe_dump({
        "name": "bench", "lists": [str(listing)], "schedule": {"interval": "1h"},
        "control": {"url": f"http://127.0.0.1:{port}", "token_file": str(work / "control.token")},
        "vantage": {"self_cc": "CU", "self_asn": 27725, "bind": PROBE_IP,
                    "geoip_db": farm_state["mmdb"], "asn_db": farm_state["mmdb"]},
        "sign_key": str(key), "concurrency": args.concurrency,
        "platform": {"url": platform_url, "token_file": str(work / "platform.token"),
                     "retry_min": "1s", "retry_max": "2s"},
        "probe": {"resolver": farm_state["resolver"], "system_resolver": False,
                  "ca_file": farm_state["ca_file"], "timeout": args.timeout,
                  "max_body": 256 * 1024},
        "state_dir": str(work / "state")}))
    return config


def kill_mid_round(config: Path, state: Path, number: int, delay: float) -> dict:
    before = outbox_state(state)
    process = campaign(config, "--once")
    while f"round {number} started" not in (line := process.stderr.readline()):
        if not line:
            raise SystemExit("the campaign ended before its round started")
    time.sleep(delay)                           # half a round in (the earlier rounds' mean)
    died_before = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    at_kill = outbox_state(state)
    recover = campaign(config, "--drain")       # its start recovers; the platform is down
    _out, err = recover.communicate()
    after = outbox_state(state)
    print(f"  round {number}: killed (kill -9) {delay:.1f} s in; outbox before "
          f"{len(before['files']['pending'])} pending, after the restart "
          f"{len(after['files']['pending'])}", file=sys.stderr)
    return {"round": number, "before": before, "at_kill": at_kill, "after": after,
            "delay_s": round(delay, 1), "ended_before_the_kill": died_before,
            "recovery_log": [x for x in err.splitlines() if "recovered" in x]}


def report(args, times, kill, final, platform: StandIn, state: Path, expected) -> int:
    per_round = []
    delivered = sorted((state / "outbox" / "acknowledged").glob("*.zip"))
    for path in delivered:
        number = evidence_bundle.read_manifest(path)["campaign"]["round"]
        lines = [json.loads(x) for x in evidence_bundle.read_member(
            path, "measurements.jsonl").decode().splitlines()]
        share, wrong = probe_bench.accuracy(lines, expected)
        per_round.append({"round": number, "urls": len(lines), "accuracy": round(share, 4),
                          "wrong": dict(wrong)})
    per_round.sort(key=lambda r: r["round"])
    mean = sum(times) / len(times)
    finished_rounds = [n for n, status in final["rounds"] if status == "finished"]
    duplicates = {sha: n for sha, n in platform.bundles.items() if n > 1}
    checks = {
        "killed while its round ran": not kill["ended_before_the_kill"],
        "outbox files before kill = after restart":
            kill["before"]["files"] == kill["after"]["files"],
        "outbox rows before kill = after restart": kill["before"]["rows"] == kill["after"]["rows"],
        "killed round recorded abandoned, number not reused":
            (kill["round"], "abandoned") in [tuple(r) for r in final["rounds"]],
        "bundles delivered = rounds finished":
            len(platform.bundles) == len(finished_rounds) == len(delivered) == args.rounds,
        "no bundle received twice": not duplicates,
        "outbox empty at the end": not final["files"]["pending"],
    }
    figures = {
        "urls": args.urls, "rounds": args.rounds, "concurrency": args.concurrency,
        "latency_s": args.latency, "timeout_s": args.timeout,
        "round_s": [round(t, 1) for t in times], "mean_round_s": round(mean, 1),
        "rounds_per_hour": round(3600 / mean, 1),
        "urls_per_minute": round(args.urls / mean * 60, 1),
        "accuracy_per_round": per_round, "kill": {"round": kill["round"],
                                                  "pending_before": kill["before"]["files"],
                                                  "pending_after": kill["after"]["files"]},
        "platform": {"posts_accepted": platform.posts, "distinct_bundles": len(platform.bundles),
                     "refused_while_down": platform.refused_while_down,
                     "duplicates": duplicates},
        "checks": checks,
    }
    print(f"{args.urls} URLs x {args.rounds} rounds, concurrency {args.concurrency}, injected "
          f"latency {args.latency} s per response, phase timeout {args.timeout:g} s")
    print(f"  round time          mean {mean:.1f} s (min {min(times):.1f}, max "
          f"{max(times):.1f}; each a `campaign --once` process: start, round, bundle, "
          "outbox, delivery)")
    print(f"  rounds/hour         {3600 / mean:>7.1f} back to back "
          f"({args.urls / mean * 60:.0f} URLs/min)")
    print("  verdict accuracy    " + ", ".join(
        f"r{r['round']} {r['accuracy'] * 100:.1f} %" for r in per_round))
    print(f"  platform            {platform.posts} POSTs accepted, {len(platform.bundles)} "
          f"distinct bundles, {platform.refused_while_down} refused while down (503)")
    print(f"  kill -9 in round {kill['round']} ({kill['delay_s']} s in): pending before "
          f"{len(kill['before']['files']['pending'])}, after the restart "
          f"{len(kill['after']['files']['pending'])}")
    for name, ok in checks.items():
        print(f"  {'ok  ' if ok else 'FAIL'} {name}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, default=list))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
