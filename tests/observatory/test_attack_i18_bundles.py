"""Attacks on issue 18's bundle-kind registry (observatory/bundles/) and the submission CSV it
now builds: a bundle whose manifest names one kind but carries the other's summary, a kind
the registry does not know, a focal point of another State asking for a submission's CSV, and
formula cells in that CSV. Each answer must be the one the code gave before the registry."""

from __future__ import annotations

import csv
import io
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sentinelle.evidence.bundle import BundleWriter
from tests.conftest import PASSWORD
from tests.observatory_helpers import ALERTS, CONTROL, VANTAGE, access_bundle, result

pytestmark = pytest.mark.django_db


def declared_as(path, kind: str, summary: dict):
    """A validly signed bundle whose manifest names ``kind`` over ``summary``."""
    with BundleWriter(path, kind=kind, signing_key=Ed25519PrivateKey.generate(),
                      command_line=["sentinelle", "x"]) as w:
        w.add_bytes("data.jsonl", json.dumps(summary).encode())
        w.set("vantage", VANTAGE)
        w.set("control", CONTROL)
        w.set("started_at", "2026-03-10T11:59:00+00:00")
        w.set("summary", summary)
    return path


def nothing_written() -> bool:
    from sentinelle.incidents.models import Incident
    from sentinelle.observatory.models import (
        AccessObservation,
        BundleSubmission,
        RoutingAlertRecord,
    )

    return not (BundleSubmission.objects.exists() or AccessObservation.objects.exists()
                or RoutingAlertRecord.objects.exists() or Incident.objects.exists())


@pytest.mark.parametrize("kind, summary", [
    # A routing scan's alerts declared as an access probe, and the other way round.
    ("access-probe", {"alerts": ALERTS, "states": ["CU"], "sources": []}),
    ("routing-scan", {"list": "x.csv", "count": 1, "verdicts": {"tcp-blocked": 1},
                      "results": [result("https://a.example/", "tcp-blocked")]}),
])
def test_a_bundle_declared_as_the_other_kind_is_refused_and_nothing_is_written(
        alice, tmp_path, kind, summary):
    from sentinelle.observatory import services

    with pytest.raises(services.BundleRefused):
        services.submit(alice, declared_as(tmp_path / "b.zip", kind, summary))
    assert nothing_written()


@pytest.mark.parametrize("expect", ["routing", "routing-scan"])
def test_expecting_the_other_kind_refuses_the_bundle(alice, tmp_path, expect):
    from sentinelle.observatory import services

    with pytest.raises(services.BundleRefused, match="was expected"):
        services.submit(alice, access_bundle(tmp_path / "a.zip"), expect=expect)
    assert nothing_written()


@pytest.mark.parametrize("kind", ["unknown-kind", "ACCESS", "access", ""])
def test_an_unknown_kind_is_refused_whether_asked_for_or_declared(alice, tmp_path, kind):
    from sentinelle.observatory import services

    with pytest.raises(services.BundleRefused):
        services.submit(alice, access_bundle(tmp_path / "a.zip"), expect=kind or "?")
    # Declared in the manifest: the signature holds, but the kind names no handler.
    path = access_bundle(tmp_path / "m.zip")
    import zipfile

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members["manifest.json"])
    manifest["kind"] = kind
    members["manifest.json"] = json.dumps(manifest).encode()
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    with pytest.raises(services.BundleRefused):
        services.submit(alice, forged)
    assert nothing_written()


def test_another_states_submission_csv_is_404_and_a_formula_cell_is_neutralised(
        client, alice, bob, charlie, tmp_path):
    from sentinelle.observatory import services

    rows = [result("https://a.example/", "tcp-blocked", category="=HYPERLINK(\"x\")"),
            result("https://b.example/", "accessible", category="+1", provider="@SUM(1)"),
            result("https://c.example/", "accessible", category="\tTAB", provider="-2+3")]
    incident = services.submit(alice, access_bundle(tmp_path / "a.zip", rows)).incident
    from sentinelle.observatory.models import BundleSubmission

    submission = BundleSubmission.objects.get(incident=incident)
    url = f"/observatory/submissions/{submission.pk}/observations.csv"
    assert client.login(username=bob.username, password=PASSWORD)
    assert client.get(url).status_code == 404
    assert client.get("/observatory/submissions/999999/observations.csv").status_code == 404
    client.logout()
    assert client.login(username=alice.username, password=PASSWORD)
    response = client.get(url)
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert cells, text
    dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert dangerous == []
    assert "'=HYPERLINK(\"x\")" in cells and "'@SUM(1)" in cells and "'-2+3" in cells
