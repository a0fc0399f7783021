"""Federation with real peers: the OASIS reference server medallion (pull and push), and a second
Sentinelle instance (gunicorn, its own SQLite database) federating both ways with this one.
Both peers are subprocesses on loopback with bounded timeouts, always stopped."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinelle.core.models import ApiToken, AuditEntry
from sentinelle.exchange import federation
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.models import FederationCursor, SharedIndicator
from sentinelle.incidents import services
from sentinelle.incidents.models import Incident
from tests.conftest import PASSWORD, file_report
from tests.paths import FIXTURES_DIR

BIN = Path(sys.executable).parent
FIXTURE = FIXTURES_DIR / "taxii21" / "medallion-default_data.json"
HIGH_VALUE = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"    # medallion fixture: readable, writable
WRITABLE = "365fed99-08fa-fdcd-a1b3-fb247eb41d01"
MEDALLION_AUTH = {"user": "admin", "password": "Password0"}
pytestmark = pytest.mark.skipif(not (BIN / "medallion").exists() or not (BIN / "gunicorn").exists(),
                                reason="medallion and gunicorn are installed with the test extra")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"peer exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on {port} after {timeout}s")


@contextlib.contextmanager
def running(args: list[str], port: int, env: dict | None = None) -> Iterator[None]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def serve_medallion(data: Path) -> Iterator[str]:
    """medallion on loopback serving `data` (its memory backend's JSON, which it rewrites) with
    basic authentication; yields its URL."""
    config = data.with_name("medallion.json")
    config.write_text(json.dumps({
        "backend": {"module": "medallion.backends.memory_backend",
                    "module_class": "MemoryBackend", "filename": str(data)},
        "users": {MEDALLION_AUTH["user"]: MEDALLION_AUTH["password"]},
        "taxii": {"max_page_size": 100}}))
    port = free_port()
    with running([str(BIN / "medallion"), "--host", "127.0.0.1", "--port", str(port),
                  str(config)], port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def medallion(tmp_path) -> Iterator[str]:
    data = tmp_path / "medallion-data.json"
    shutil.copy(FIXTURE, data)
    with serve_medallion(data) as url:
        yield url


# --- medallion -------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pull_from_medallion_is_incremental_and_idempotent(db, medallion, alice, bob, charlie):
    result = federation.pull(remote=medallion, api_root="trustgroup1", collection=HIGH_VALUE,
                             user=alice, auth=MEDALLION_AUTH)
    created = result.summary["indicators_created"]
    assert created >= 2 and result.objects >= created, result
    values = set(SharedIndicator.objects.values_list("value", flat=True))
    assert "http://x4z9arb.cn/4712" in values
    assert set(SharedIndicator.objects.values_list("state__alpha2", flat=True)) == {"CU"}
    cursor = FederationCursor.objects.get(direction="pull")
    assert cursor.added_after    # the remote's X-TAXII-Date-Added-Last
    again = federation.pull(remote=medallion, api_root="trustgroup1", collection=HIGH_VALUE,
                            user=alice, auth=MEDALLION_AUTH)
    assert again.objects == 0    # incremental: nothing added since
    full = federation.pull(remote=medallion, api_root="trustgroup1", collection=HIGH_VALUE,
                           user=alice, auth=MEDALLION_AUTH, full=True)
    assert full.summary["indicators_created"] == 0
    assert SharedIndicator.objects.count() == created


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_push_to_medallion_sends_only_green_and_clear(db, medallion, alice, bob, charlie):
    from taxii2client.v21 import Collection

    green = file_report(alice, tlp="green", title="Green to the world")
    amber = file_report(alice, tlp="amber", title="Amber stays home")
    result = federation.push(remote=medallion, api_root="trustgroup1", collection=WRITABLE,
                             user=alice, auth=MEDALLION_AUTH)
    assert result.objects > 0
    remote = Collection(f"{medallion}/trustgroup1/collections/{WRITABLE}/",
                        user=MEDALLION_AUTH["user"], password=MEDALLION_AUTH["password"])
    ids = {o["id"] for o in remote.get_objects().get("objects", [])}
    assert green.stix_id in ids and amber.stix_id not in ids
    assert sc.TLP2_IDS["green"] in ids
    again = federation.push(remote=medallion, api_root="trustgroup1", collection=WRITABLE,
                            user=alice, auth=MEDALLION_AUTH)
    assert again.objects == 0    # the push cursor remembers


# --- a second Sentinelle instance ------------------------------------------------------------

class Peer:
    """A Sentinelle instance in subprocesses with its own SQLite database."""

    def __init__(self, root: Path):
        self.db = root / "peer.sqlite3"
        self.env = {**os.environ, "DATABASE_URL": f"sqlite:///{self.db}",
                    "SENTINELLE_DATA_DIR": str(root), "SENTINELLE_SECRET_KEY": "peer-b-key",
                    "SENTINELLE_ALLOWED_HOSTS": "127.0.0.1,localhost",
                    "SENTINELLE_REQUIRE_2FA": "false", "SENTINELLE_NEW_PASSWORD": PASSWORD,
                    "DJANGO_SETTINGS_MODULE": "sentinelle.settings"}
        self.env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(BIN / "sentinelle"), *args], env=self.env, capture_output=True,
                              text=True, timeout=180)
        if check and done.returncode:
            raise AssertionError(f"sentinelle {' '.join(args)}: {done.stderr[-2000:]}")
        return done

    def rows(self, sql: str) -> list[tuple]:
        with contextlib.closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql).fetchall()


@pytest.fixture
def peer(tmp_path) -> Iterator[Peer]:
    peer = Peer(tmp_path / "peer")
    peer.db.parent.mkdir()
    peer.run("migrate", "--no-input")
    peer.run("user", "create", "alice-b", "--role", "focal-point", "--state", "CU")
    peer.run("user", "create", "bob-b", "--role", "focal-point", "--state", "CH")
    yield peer


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_instances_federate_both_ways(db, live_server, peer, tmp_path, alice, bob, charlie):
    taxii = f"{live_server.url}/taxii2/"
    green = file_report(alice, tlp="green", title="Cuban green")
    amber = file_report(alice, tlp="amber", title="Cuban amber")
    swiss = file_report(bob, tlp="amber", title="Swiss amber")
    _t, alice_token = ApiToken.issue(alice)
    _t, bob_token = ApiToken.issue(bob)
    common = ["--remote", taxii, "--api-root", "sentinelle", "--collection", "all"]

    # B pulls as Cuba: Cuba's reports (green and amber) arrive, Switzerland's amber does not.
    out = peer.run("federate", "pull", *common, "--token", alice_token, "--user", "alice-b")
    assert json.loads(out.stdout)["summary"]["reports_created"] == 2
    on_b = dict(peer.rows("SELECT stix_id, tlp FROM incidents_incident"))
    assert on_b == {green.stix_id: "green", amber.stix_id: "amber"}
    assert {s for (s,) in peer.rows("SELECT DISTINCT s.alpha2 FROM incidents_incident i "
                                    "JOIN core_memberstate s ON s.id = i.state_id")} == {"CU"}

    # Switzerland pulls with its own token: never Cuba's amber; Cuba's green is Cuba's to share.
    out = peer.run("federate", "pull", *common, "--token", bob_token, "--user", "bob-b")
    result = json.loads(out.stdout)
    assert result["summary"]["reports_created"] == 1 and result["skipped_other_states"] > 0
    assert swiss.stix_id in {s for (s,) in peer.rows("SELECT stix_id FROM incidents_incident")}

    # Idempotent: again, nothing new.
    out = peer.run("federate", "pull", *common, "--token", alice_token, "--user", "alice-b",
                   "--full")
    summary = json.loads(out.stdout)["summary"]
    assert summary["reports_created"] == 0 and summary["reports_merged"] == 2

    # Conflict: A amends its green report; B's next pull takes the newer one and audits it.
    services.amend_report(green, alice, {"title": "Cuban green, revised"}, note="revised")
    out = peer.run("federate", "pull", *common, "--token", alice_token, "--user", "alice-b")
    assert json.loads(out.stdout)["summary"]["reports_updated"] == 1
    assert peer.rows(f"SELECT title FROM incidents_incident WHERE stix_id = '{green.stix_id}'"
                     ) == [("Cuban green, revised",)]
    assert peer.rows("SELECT count(*) FROM core_auditentry "
                     "WHERE action = 'exchange.federate.conflict'") == [(1,)]

    # B → A: a report filed on B reaches A by push; its amber sibling does not.
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "incident", "spec_version": "2.1", "name": n, "description": n,
         "id": f"incident--2b2b2b2b-0000-4000-8000-00000000000{i}",
         "created": "2026-04-01T00:00:00.000Z", "modified": "2026-04-01T00:00:00.000Z",
         "object_marking_refs": [sc.TLP2_IDS[t]]}
        for i, (n, t) in enumerate([("Filed on B", "green"), ("B amber", "amber")])]}))
    peer.run("import", str(bundle), "--format", "stix", "--user", "alice-b")
    out = peer.run("federate", "push", *common, "--token", alice_token, "--user", "alice-b")
    assert json.loads(out.stdout)["objects"] > 0
    pushed = Incident.objects.get(stix_id="incident--2b2b2b2b-0000-4000-8000-000000000000")
    assert pushed.state == alice.state and pushed.title == "Filed on B"
    assert not Incident.objects.filter(title="B amber").exists()
    assert AuditEntry.objects.filter(action="exchange.import").exists()
    # A pulls from B's own TAXII server (gunicorn): B's amber report of Cuba comes home to
    # Cuba; what A already has is merged, not copied.
    token_b = peer.run("token", "create", "--user", "alice-b").stdout.strip()
    port = free_port()
    with running([str(BIN / "gunicorn"), "sentinelle.wsgi", "-b", f"127.0.0.1:{port}",
                  "--timeout", "60", "--workers", "1"], port, env=peer.env):
        result = federation.pull(remote=f"http://127.0.0.1:{port}/taxii2/",
                                 api_root="sentinelle", collection="all", user=alice,
                                 token=token_b)
    assert result.summary["reports_created"] == 1, result
    assert Incident.objects.get(title="B amber").tlp == "amber"
    assert not Incident.objects.filter(title="Swiss amber").exclude(pk=swiss.pk).exists()
    # Bad token: a clear error, non-zero exit.
    failed = peer.run("federate", "pull", *common, "--token", "snl_bad_bad", "--user", "alice-b",
                      check=False)
    assert failed.returncode != 0 and "401" in failed.stderr
