"""Campaign rounds on the probe farm (tests/observatory/access/probe_farm.py), submitted to the REAL
platform (pytest-django's live_server, a Cuban focal point's API token): a round's bundle carries
the ``campaign`` manifest key and ends acknowledged as a draft report; the platform down then up
delivers it once; a refused bundle is moved aside and not retried; a bad token stops the campaign; a
state directory is one process's; kill -9 of a real campaign process mid-round and mid-drain loses
nothing and files nothing twice."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.paths import ROOT

pytest.importorskip("dnslib")
pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")

from sentinelle.core.models import ApiToken  # noqa: E402
from sentinelle.evidence import bundle as evidence_bundle  # noqa: E402
from sentinelle.evidence import keys  # noqa: E402
from sentinelle.incidents.models import Incident  # noqa: E402
from sentinelle.observatory.access import cli  # noqa: E402
from sentinelle.observatory.access.campaign.outbox import Outbox  # noqa: E402
from sentinelle.observatory.models import BundleSubmission  # noqa: E402
from tests.browser import browser_fixtures  # noqa: E402
from tests.observatory.access import probe_farm  # noqa: E402
from tests.observatory.access.probe_farm import PROBE_IP, TOKEN  # noqa: E402

# The live server is a thread of this process; serialized_rollback reloads the migrations' data
# (Member States, taxonomy) that each transactional test's flush removes (browser_fixtures).
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
_reference_data_stays = browser_fixtures._reference_data_stays

FAST = ["accessible-https", "cloudflare-1009-https", "http-451", "dns-lie"]


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


@pytest.fixture(scope="module")
def control(farm):
    yield from probe_farm.running_control(farm)


@pytest.fixture(scope="module")
def probe_key(tmp_path_factory):
    key, _public = keys.generate(tmp_path_factory.mktemp("key") / "probe.key")
    return key


def secret_file(path: Path, secret: str) -> Path:
    path.write_text(secret + "\n")
    path.chmod(0o600)
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Setup:
    """A campaign config in tmp_path pointing at the farm, its helper and a platform URL."""

    def __init__(self, tmp_path: Path, farm, control, key: Path, platform_url: str,
                 platform_token: str, scenarios=FAST, name: str = "cu-test") -> None:
        self.dir = tmp_path
        listing = tmp_path / "cu.csv"
        listing.write_text("url,category_code,notes\n" + "".join(
            f"{farm.url(s)},NEWS,{s}\n" for s in scenarios))
        self.data = {
            "name": name, "lists": [str(listing)],
            "schedule": {"interval": "6h", "jitter": "5m"},
            "control": {"url": control.url,
                        "token_file": str(secret_file(tmp_path / "control.token", TOKEN))},
            "vantage": {"self_cc": "CU", "self_asn": 27725, "geoip_db": str(farm.mmdb),
                        "asn_db": str(farm.mmdb), "bind": PROBE_IP},
            "sign_key": str(key), "concurrency": 8,
            "platform": {"url": platform_url, "retry_min": "1s", "retry_max": "2s",
                         "token_file": str(secret_file(tmp_path / "platform.token",
                                                       platform_token))},
            "probe": {"resolver": farm.resolver, "system_resolver": False,
                      "ca_file": str(farm.ca_file), "timeout": 1.5, "max_body": 200000},
            "state_dir": str(tmp_path / "state"),
        }
        self.write()

    def write(self) -> Path:
        self.path = self.dir / "campaign.yaml"
        self.path.write_text(yaml.safe_dump(self.data))
        return self.path

    def platform(self, url: str | None = None, token: str | None = None) -> None:
        if url:
            self.data["platform"]["url"] = url
        if token:
            secret_file(Path(self.data["platform"]["token_file"]), token)
        self.write()

    def main(self, *more: str) -> int:
        return cli.main(["campaign", "--config", str(self.path), *more])

    def outbox(self) -> Outbox:
        return Outbox(self.dir / "state", self.data["name"], read_only=True)

    def counts(self) -> dict[str, int]:
        outbox = self.outbox()
        try:
            return outbox.counts()
        finally:
            outbox.close()

    def folder(self, status: str) -> list[Path]:
        return sorted((self.dir / "state" / "outbox" / status).glob("*.zip"))


def token_for(user) -> str:
    _token, secret = ApiToken.issue(user)
    return secret


@pytest.fixture
def setup(tmp_path, farm, control, probe_key, live_server, alice):
    return Setup(tmp_path, farm, control, probe_key, live_server.url, token_for(alice))


def test_a_round_is_filed_as_a_draft_report_with_the_campaign_key(setup, capsys):
    assert setup.main("--once", "--no-progress") == 0
    err = capsys.readouterr().err
    assert "round 1 started" in err and "round 1 finished: 4 URLs" in err
    assert "acknowledged: report" in err
    assert setup.counts() == {"pending": 0, "acknowledged": 1, "refused": 0}
    [kept] = setup.folder("acknowledged")
    manifest = evidence_bundle.read_manifest(kept)
    campaign = manifest["campaign"]
    assert campaign["name"] == "cu-test" and campaign["round"] == 1
    assert campaign["interval_seconds"] == 6 * 3600
    assert campaign["scheduled_at"].endswith("+00:00")
    import hashlib
    assert campaign["config_sha256"] == hashlib.sha256(setup.path.read_bytes()).hexdigest()
    assert manifest["summary"]["count"] == 4
    assert "platform.token" not in json.dumps(manifest["command_line"])
    # the real platform verified it and made one draft report of Cuba
    submission = BundleSubmission.objects.get()
    assert submission.sha256 == kept.stem and submission.state.alpha2 == "CU"
    incident = Incident.objects.get()
    assert incident.status == "draft" and incident.category.code == "access-denial"
    # a second round: the number goes on, a second report
    assert setup.main("--once", "--no-progress") == 0
    assert BundleSubmission.objects.count() == 2
    rounds = [evidence_bundle.read_manifest(p)["campaign"]["round"]
              for p in setup.folder("acknowledged")]
    assert sorted(rounds) == [1, 2]
    capsys.readouterr()
    assert setup.main("--status") == 0
    out = capsys.readouterr().out
    assert "0 pending, 2 acknowledged, 0 refused" in out
    assert "round 1: finished" in out
    assert f"bundle acknowledged as report {incident.reference}" in out
    assert "round 2: finished" in out and "4 URLs (" in out


def test_platform_down_then_up_delivers_once(setup, live_server, capsys):
    setup.platform(url=f"http://127.0.0.1:{closed_port()}")
    assert setup.main("--once", "--no-progress") == 3           # measured, kept, not sent
    assert "not delivered (platform unreachable" in capsys.readouterr().err
    assert setup.counts()["pending"] == 1 and len(setup.folder("pending")) == 1
    assert setup.main("--drain") == 3
    assert not BundleSubmission.objects.exists()
    setup.platform(url=live_server.url)
    assert setup.main("--drain") == 0
    assert setup.counts() == {"pending": 0, "acknowledged": 1, "refused": 0}
    assert BundleSubmission.objects.count() == 1 and Incident.objects.count() == 1
    assert setup.main("--drain") == 0                           # nothing left to send
    assert BundleSubmission.objects.count() == 1


def test_an_unacknowledged_resend_is_absorbed_by_the_platform(setup):
    """Sent, but the process died before it recorded the answer: sent again, one report."""
    assert setup.main("--once", "--no-progress") == 0
    [sent] = setup.folder("acknowledged")
    state = setup.dir / "state"
    import sqlite3
    db = sqlite3.connect(state / "campaign.sqlite3")
    db.execute("UPDATE bundles SET status = 'pending'")
    db.commit()
    db.close()
    os.replace(sent, state / "outbox" / "pending" / sent.name)
    assert setup.main("--drain") == 0
    assert BundleSubmission.objects.count() == 1 and Incident.objects.count() == 1
    assert setup.counts()["acknowledged"] == 1


def test_a_refused_bundle_is_moved_aside_and_not_retried(setup, live_server, capsys):
    setup.platform(url=f"http://127.0.0.1:{closed_port()}")
    assert setup.main("--once", "--no-progress") == 3
    [pending] = setup.folder("pending")
    data = bytearray(pending.read_bytes())
    spot = data.find(b"measurements.jsonl") + 200          # inside the first member's data
    data[spot] ^= 0x01
    # A bundle bad from the start (filed under its own SHA-256): one changed on disk after it
    # was filed is refused before it is sent (tests/observatory/access/test_attack_i15b_probe.py).
    digest = hashlib.sha256(bytes(data)).hexdigest()
    pending.unlink()
    (pending.parent / f"{digest}.zip").write_bytes(bytes(data))
    with sqlite3.connect(setup.dir / "state" / "campaign.sqlite3") as db:
        db.execute("UPDATE bundles SET sha256 = ? WHERE sha256 = ?", (digest, pending.stem))
        db.execute("UPDATE rounds SET bundle_sha256 = ? WHERE bundle_sha256 = ?",
                   (digest, pending.stem))
    setup.platform(url=live_server.url)
    capsys.readouterr()
    assert setup.main("--drain") == 0
    assert "refused by the platform, moved to outbox/refused" in capsys.readouterr().err
    assert setup.counts() == {"pending": 0, "acknowledged": 0, "refused": 1}
    [aside] = setup.folder("refused")
    why = aside.with_suffix(".why").read_text()
    assert "measurements.jsonl" in why                    # the verifier's own words
    assert not BundleSubmission.objects.exists() and not Incident.objects.exists()
    assert setup.main("--drain") == 0 and setup.counts()["refused"] == 1
    assert setup.main("--status") == 0
    assert "bundle refused" in capsys.readouterr().out


def test_a_bad_token_stops_the_campaign_and_keeps_the_bundle(setup, capsys):
    setup.platform(token="not-a-real-token-0000")
    assert setup.main("--once", "--no-progress") == 1
    err = capsys.readouterr().err
    assert "refused the token (HTTP 401" in err and "platform.token_file" in err
    assert setup.counts()["pending"] == 1 and not BundleSubmission.objects.exists()


def test_a_read_only_token_stops_the_campaign(setup, alice, capsys):
    _token, secret = ApiToken.issue(alice, read_only=True)
    setup.platform(token=secret)
    assert setup.main("--once", "--no-progress") == 1
    assert "HTTP 403" in capsys.readouterr().err
    assert setup.counts()["pending"] == 1


def test_a_state_dir_is_one_process_s(setup, capsys):
    from sentinelle.observatory.access.campaign import config as c
    from sentinelle.observatory.access.campaign.loop import Campaign, CampaignError

    first = Campaign(c.load(setup.path))
    first.open()
    try:
        second = Campaign(c.load(setup.path))
        with pytest.raises(CampaignError, match=f"in use by another campaign process \\(pid "
                                                f"{os.getpid()}\\)"):
            second.open()
        second.close()
    finally:
        first.close()
    # another campaign's name on the same directory is refused
    setup.data["name"] = "other"
    setup.write()
    assert setup.main("--drain") == 1
    assert "belongs to campaign 'cu-test'" in capsys.readouterr().err


# ---- kill -9 --------------------------------------------------------------------------------

def start(setup: Setup, *mode: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=f"{ROOT / 'src'}{os.pathsep}{ROOT}")
    return subprocess.Popen(
        [sys.executable, "-m", "sentinelle.observatory.access.cli", "campaign", "--config",
         str(setup.path), "--no-progress", *mode],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def kill_when(process: subprocess.Popen, marker: str, delay: float = 0.0) -> str:
    seen = ""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen += line
        if marker in line:
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(10)
            process.stderr.close()
            return seen
    process.kill()
    process.wait(10)
    raise AssertionError(f"never saw {marker!r}:\n{seen}")


def test_kill_9_mid_round_and_mid_drain_loses_nothing_and_files_nothing_twice(
        tmp_path, farm, control, probe_key, live_server, alice):
    # the stalled server holds each round for the phase timeout: time to kill it mid-round
    setup = Setup(tmp_path, farm, control, probe_key, live_server.url, token_for(alice),
                  scenarios=[*FAST, "http-stall"])
    # 1. killed mid-round: the round is abandoned, nothing of it is kept or sent
    kill_when(start(setup, "--once"), "round 1 started", delay=0.5)
    assert not setup.folder("pending") and not BundleSubmission.objects.exists()
    # 2. killed while submitting, at several points of the exchange
    logs = [kill_when(start(setup, "--once"), "submitting bundle", delay=delay)
            for delay in (0.0, 0.05, 0.2)]
    assert "round 1: abandoned" in logs[0]          # reported by the start after the kill
    # 3. a clean run: recovers, runs its own round and sends everything pending
    process = start(setup, "--once")
    _out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    outbox = setup.outbox()
    try:
        rounds = outbox.rounds(20)
        counts = outbox.counts()
    finally:
        outbox.close()
    finished = [r for r in rounds if r["status"] == "finished"]
    assert [r["round"] for r in rounds if r["status"] == "abandoned"] == [1]
    assert len(finished) == 4 and counts == {"pending": 0, "acknowledged": 4, "refused": 0}
    # every finished round's bundle is on the platform exactly once
    shas = {p.stem for p in setup.folder("acknowledged")}
    assert len(shas) == 4
    assert set(BundleSubmission.objects.values_list("sha256", flat=True)) == shas
    assert BundleSubmission.objects.count() == 4 and Incident.objects.count() == 4
    numbers = sorted(evidence_bundle.read_manifest(p)["campaign"]["round"]
                     for p in setup.folder("acknowledged"))
    assert numbers == sorted(r["round"] for r in finished) and 1 not in numbers


def test_the_long_running_campaign_stops_cleanly_on_sigterm(tmp_path, farm, control, probe_key,
                                                             live_server, alice):
    setup = Setup(tmp_path, farm, control, probe_key, live_server.url, token_for(alice),
                  scenarios=[*FAST, "http-stall"])
    setup.data["schedule"] = {"interval": "1m"}        # no jitter: the first round starts now
    setup.write()
    # between rounds: the first round is delivered, then SIGTERM ends the wait at once
    process = start(setup)
    seen = ""
    while "acknowledged: report" not in seen:
        line = process.stderr.readline()
        assert line, seen
        seen += line
    assert "next round at" in seen
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    # during a round: abandoned, recorded, its number not reused; the next start plans anew
    process = start(setup, "--once")
    while "round 2 started" not in (line := process.stderr.readline()):
        assert line
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "round 2 abandoned (stopped)" in err
    outbox = setup.outbox()
    try:
        assert [(r["round"], r["status"]) for r in outbox.rounds()] == [
            (2, "abandoned"), (1, "finished")]
        assert outbox.counts() == {"pending": 0, "acknowledged": 1, "refused": 0}
    finally:
        outbox.close()
    assert not list((tmp_path / "state" / "work").iterdir())
    assert BundleSubmission.objects.count() == 1


class Forwarder:
    """A TCP port that forwards to the live server once started: the platform "comes up" at
    the URL the campaign was given."""

    def __init__(self, port: int, target: tuple[str, int]) -> None:
        import socketserver
        import threading

        class Pipe(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with socket.create_connection(target) as upstream:
                    def pump(src, dst) -> None:
                        try:
                            while data := src.recv(65536):
                                dst.sendall(data)
                        except OSError:
                            pass
                        finally:
                            with contextlib.suppress(OSError):
                                dst.shutdown(socket.SHUT_WR)
                    back = threading.Thread(target=pump, args=(upstream, self.request))
                    back.start()
                    pump(self.request, upstream)
                    back.join(30)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), Pipe)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_running_campaign_retries_until_the_platform_comes_up(setup, live_server):
    import threading
    from urllib.parse import urlsplit

    from sentinelle.observatory.access.campaign import config as c
    from sentinelle.observatory.access.campaign.loop import Campaign

    port = closed_port()
    setup.platform(url=f"http://127.0.0.1:{port}")
    setup.data["schedule"] = {"interval": "1h"}
    setup.write()
    campaign = Campaign(c.load(setup.path))
    failures: list[BaseException] = []

    def loop() -> None:
        try:
            campaign.open()
            campaign.run_forever()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            failures.append(exc)
        finally:
            campaign.close()
    thread = threading.Thread(target=loop)
    thread.start()
    forwarder = None
    try:
        deadline = time.monotonic() + 60
        attempts = 0
        while attempts < 2 and time.monotonic() < deadline:      # refused twice, backing off
            time.sleep(0.2)
            with contextlib.suppress(Exception):
                outbox = setup.outbox()
                try:
                    attempts = max([b["attempts"] for b in outbox.pending_list()] or [0])
                finally:
                    outbox.close()
        assert attempts >= 2 and not BundleSubmission.objects.exists()
        live = urlsplit(live_server.url)
        forwarder = Forwarder(port, (live.hostname, live.port))
        while setup.counts()["acknowledged"] < 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert setup.counts() == {"pending": 0, "acknowledged": 1, "refused": 0}
    finally:
        campaign.stop.set()
        thread.join(30)
        if forwarder is not None:
            forwarder.stop()
    assert not failures and not thread.is_alive()
    assert BundleSubmission.objects.count() == 1
    outbox = setup.outbox()
    try:
        assert [r["round"] for r in outbox.rounds()] == [1]      # the next is an hour away
        assert outbox.meta("next_at")
    finally:
        outbox.close()


def test_a_queued_job_is_followed_not_submitted_again(setup, settings):
    """With a worker (the database task backend), the POST answers a queued job: the campaign
    keeps its id and asks about that job, not the platform again with the bundle."""
    from django.core.management import call_command

    from sentinelle.core.models import Job

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert setup.main("--once", "--no-progress") == 3           # accepted, not yet done
    job = Job.objects.get()
    assert job.status == Job.Status.QUEUED
    outbox = setup.outbox()
    try:
        [pending] = outbox.pending_list()
        stored = outbox._db.execute("SELECT job_id FROM bundles").fetchone()[0]
    finally:
        outbox.close()
    assert stored == job.pk and pending["last_error"] is None
    assert setup.main("--drain") == 3                           # still queued: asked, waits
    call_command("db_worker", "--batch", "--no-startup-delay", "--no-reload", verbosity=0)
    assert setup.main("--drain") == 0
    assert Job.objects.count() == 1                             # one POST, then GETs
    assert setup.counts() == {"pending": 0, "acknowledged": 1, "refused": 0}
    assert BundleSubmission.objects.count() == 1
