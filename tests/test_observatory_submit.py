"""Submitting evidence bundles: a verified bundle becomes one draft report with the bundle as
evidence; a tampered or wrong bundle is refused and nothing is written."""

from __future__ import annotations

import hashlib
import io

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import CommandError, call_command

from sentinelle.core.models import AuditEntry
from sentinelle.evidence import keys
from sentinelle.incidents.models import Evidence, Incident, Indicator, Status
from sentinelle.observatory import services
from sentinelle.observatory.models import AccessObservation, BundleSubmission, RoutingAlertRecord
from tests.observatory_helpers import (
    ALERTS,
    access_bundle,
    flip_byte,
    result,
    routing_bundle,
)


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nothing_written() -> None:
    assert Incident.objects.count() == 0
    assert Evidence.objects.count() == 0
    assert BundleSubmission.objects.count() == 0
    assert AccessObservation.objects.count() == 0
    assert RoutingAlertRecord.objects.count() == 0


def test_probe_bundle_makes_a_draft_access_denial_report(alice, tmp_path, settings):
    path = access_bundle(tmp_path / "run.zip")
    outcome = services.submit(alice, path, expect="probe")
    incident = outcome.incident
    assert outcome.created
    assert incident.status == Status.DRAFT and incident.state.alpha2 == "CU"
    assert incident.category.code == "access-denial" and incident.tlp == "amber"
    assert incident.rsit == "availability:outage"
    assert incident.affected_services == ["dl.google.com", "hub.docker.com"]
    assert "2/4 services denied" in incident.title
    assert "geoblocked ×2" in incident.description and "Docker" in incident.description
    assert "CU AS27725" in incident.description and "CH AS559" in incident.description
    indicators = set(Indicator.objects.filter(incident=incident).values_list("type", "value"))
    assert ("domain", "hub.docker.com") in indicators
    assert ("url", "https://hub.docker.com/v2/") in indicators
    assert ("url", "https://news.example.org/") not in indicators  # accessible: no indicator
    evidence = Evidence.objects.get(incident=incident)
    assert evidence.sha256 == _sha256(path) and evidence.filename == "run.zip"
    with evidence.file.open("rb") as stored:   # kept byte for byte
        assert stored.read() == path.read_bytes()
    submission = BundleSubmission.objects.get(incident=incident)
    assert submission.sha256 == _sha256(path) and submission.evidence == evidence
    assert submission.counts == {"geoblocked": 2, "server-denied": 1, "accessible": 1,
                                 "inconclusive": 1}
    assert len(submission.key_fingerprint) == 64
    rows = AccessObservation.objects.filter(incident=incident).order_by("id")
    assert [(o.service, o.verdict) for o in rows] == [
        ("hub.docker.com", "geoblocked"), ("hub.docker.com", "geoblocked"),
        ("dl.google.com", "server-denied"), ("news.example.org", "accessible"),
        ("slow.example.net", "inconclusive")]
    first = rows[0]
    assert (first.vantage_cc, first.vantage_asn, first.control_cc, first.provider) == (
        "CU", 27725, "CH", "Docker")
    assert first.measured_at.isoformat() == "2026-03-10T12:00:00+00:00"
    assert AuditEntry.objects.filter(action="observatory.submit").count() == 1


def test_routing_bundle_makes_a_draft_routing_disruption_report(alice, tmp_path):
    path = routing_bundle(tmp_path / "scan.zip")
    incident = services.submit(alice, path, expect="routing").incident
    assert incident.status == Status.DRAFT
    assert incident.category.code == "routing-disruption"
    assert incident.affected_services == ["190.6.64.0/19", "190.6.64.0/24"]
    assert "E|0 ×1, S|0 ×1" in incident.title
    indicators = set(Indicator.objects.filter(incident=incident).values_list("type", "value"))
    assert {("prefix", "190.6.64.0/19"), ("prefix", "190.6.64.0/24"),
            ("asn", "AS64666")} <= indicators
    alerts = RoutingAlertRecord.objects.filter(incident=incident).order_by("id")
    assert [(a.type, a.prefix, a.offending_asn, a.peers, a.collectors) for a in alerts] == [
        ("E|0", "190.6.64.0/19", 64666, 12, 3), ("S|0", "190.6.64.0/24", 64666, 9, 2)]
    assert alerts[0].first_seen.isoformat() == "2026-03-10T12:00:00+00:00"
    assert Evidence.objects.get(incident=incident).sha256 == _sha256(path)


@pytest.mark.parametrize("member", ["measurements.jsonl", "transcripts/0001.json",
                                    "manifest.json", "manifest.sig"])
def test_a_tampered_bundle_is_refused_naming_what_fails_and_nothing_is_written(
        alice, tmp_path, member):
    path = access_bundle(tmp_path / "run.zip")
    flip_byte(path, member)
    with pytest.raises(services.BundleRefused) as refused:
        services.submit(alice, path)
    text = " ".join(refused.value.messages)
    assert "fails verification" in text
    if member not in ("manifest.json", "manifest.sig"):
        assert member in text
    else:
        assert "manifest" in text
    _nothing_written()


def test_the_wrong_kind_is_refused(alice, tmp_path):
    with pytest.raises(services.BundleRefused, match="“routing-scan” was expected"):
        services.submit(alice, access_bundle(tmp_path / "run.zip"), expect="routing")
    with pytest.raises(services.BundleRefused, match="“access-probe” was expected"):
        services.submit(alice, routing_bundle(tmp_path / "scan.zip"), expect="probe")
    _nothing_written()


def test_a_bundle_signed_by_another_key_than_the_given_one_is_refused(alice, tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(services.BundleRefused, match="not the given key"):
        services.submit(alice, path, public_key=other)
    _nothing_written()


def test_resubmitting_the_same_bundle_returns_the_first_report(alice, tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    first = services.submit(alice, path)
    again = services.submit(alice, path)
    assert not again.created and again.incident.pk == first.incident.pk
    assert "already submitted" in again.message and first.incident.reference in again.message
    assert Incident.objects.count() == 1 and Evidence.objects.count() == 1
    assert AccessObservation.objects.count() == 5


def test_a_bad_summary_is_refused_by_result_number(alice, tmp_path):
    path = access_bundle(tmp_path / "run.zip", [result("https://a.example/", "accessible"),
                                                result("not a url", "accessible"),
                                                result("https://b.example/", "blocked-ish")])
    with pytest.raises(services.BundleRefused) as refused:
        services.submit(alice, path)
    text = " ".join(refused.value.messages)
    assert "result 2" in text and "result 3" in text and "blocked-ish" in text
    _nothing_written()


def test_an_empty_bundle_is_refused(alice, tmp_path):
    with pytest.raises(services.BundleRefused, match="no probe result"):
        services.submit(alice, access_bundle(tmp_path / "run.zip", []))
    with pytest.raises(services.BundleRefused, match="no routing alert"):
        services.submit(alice, routing_bundle(tmp_path / "scan.zip", []))
    _nothing_written()


def test_only_focal_points_submit(charlie, tmp_path):
    with pytest.raises(services.BundleRefused, match="focal point"):
        services.submit(charlie, access_bundle(tmp_path / "run.zip"))
    _nothing_written()


def test_a_bundle_over_the_evidence_limit_is_refused(alice, tmp_path, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    with pytest.raises(services.BundleRefused, match="the limit is 100 bytes"):
        services.submit(alice, access_bundle(tmp_path / "run.zip"))
    _nothing_written()


def test_a_failure_after_the_file_was_stored_leaves_nothing(alice, tmp_path, settings,
                                                            monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(AccessObservation.objects, "bulk_create", boom)
    with pytest.raises(RuntimeError):
        services.submit(alice, access_bundle(tmp_path / "run.zip"))
    _nothing_written()
    media = settings.MEDIA_ROOT
    assert not any(p.is_file() for p in media.rglob("*")) if media.exists() else True


def test_vantage_outside_the_state_and_mismatch_are_flagged(alice, tmp_path):
    vantage = {"self_reported": {"cc": "CU", "asn": 27725},
               "geoip": {"cc": "US", "asn": 7922}, "mismatch": True,
               "mismatch_reasons": ["self-reported CU, geolocated US"]}
    incident = services.submit(alice, access_bundle(tmp_path / "run.zip",
                                                    vantage=vantage)).incident
    assert "located in US, not in the reporting State" in incident.description
    assert "self-reported CU, geolocated US" in incident.description
    assert "self-reported CU AS27725" in incident.description


def test_submitting_a_file_object(alice, tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    incident = services.submit(alice, io.BytesIO(path.read_bytes()), name="upload.zip").incident
    evidence = Evidence.objects.get(incident=incident)
    assert evidence.filename == "upload.zip" and evidence.sha256 == _sha256(path)


# --- the management command --------------------------------------------------------------------

def test_command_submits_and_prints_the_reference_and_url(alice, tmp_path):
    private, public = keys.generate(tmp_path / "probe.key")
    path = access_bundle(tmp_path / "run.zip", key=keys.load_private(private))
    out = io.StringIO()
    call_command("submit_bundle", str(path), "--expect", "probe", "--user", "alice",
                 "--key", str(public), stdout=out)
    incident = Incident.objects.get()
    assert incident.reference in out.getvalue()
    assert f"/incidents/{incident.pk}/" in out.getvalue() or \
        incident.get_absolute_url() in out.getvalue()
    out = io.StringIO()
    call_command("submit_bundle", str(path), "--expect", "probe", "--user", "alice", stdout=out)
    assert "already submitted" in out.getvalue() and Incident.objects.count() == 1


def test_command_takes_the_user_from_the_environment(alice, tmp_path, monkeypatch):
    monkeypatch.setenv("SENTINELLE_USER", "alice")
    path = routing_bundle(tmp_path / "scan.zip")
    call_command("submit_bundle", str(path), "--expect", "routing", stdout=io.StringIO())
    assert Incident.objects.get().category.code == "routing-disruption"


def test_command_fails_with_the_verification_problems(alice, tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    flip_byte(path, "measurements.jsonl")
    with pytest.raises(CommandError) as failed:
        call_command("submit_bundle", str(path), "--expect", "probe", "--user", "alice")
    assert "measurements.jsonl" in str(failed.value) and "refused" in str(failed.value)
    _nothing_written()


def test_command_refuses_a_missing_or_unfit_user(alice, charlie, tmp_path, monkeypatch):
    monkeypatch.delenv("SENTINELLE_USER", raising=False)
    path = access_bundle(tmp_path / "run.zip")
    with pytest.raises(CommandError, match="--user is required"):
        call_command("submit_bundle", str(path), "--expect", "probe")
    with pytest.raises(CommandError, match="no active user"):
        call_command("submit_bundle", str(path), "--user", "nobody")
    with pytest.raises(CommandError, match="not a Member State's focal point"):
        call_command("submit_bundle", str(path), "--user", "charlie")
    with pytest.raises(CommandError, match="no such file"):
        call_command("submit_bundle", str(tmp_path / "missing.zip"), "--user", "alice")
    _nothing_written()


def test_routing_alerts_of_other_states_are_left_out(alice, tmp_path):
    alerts = [{**ALERTS[0], "collectors": ["rrc00", "rrc01"]},
              {**ALERTS[1], "state": "VE", "prefix": "200.44.32.0/19"}]
    incident = services.submit(alice, routing_bundle(tmp_path / "scan.zip", alerts)).incident
    assert list(RoutingAlertRecord.objects.values_list("prefix", "collectors")) == [
        ("190.6.64.0/19", 2)]
    assert "not part of this report: 1." in incident.description
    only_other = [{**ALERTS[1], "state": "VE"}]
    with pytest.raises(services.BundleRefused, match="no routing alert for CU"):
        services.submit(alice, routing_bundle(tmp_path / "other.zip", only_other))



ROUTING_WATCH = """states:
  CU:
    asns: [27725]
    prefixes:
      - {prefix: 190.6.64.0/19, origins: [27725], max_length: 24}
    neighbors: [11960]
"""


def test_a_real_routing_scan_bundle_is_submitted(alice, tmp_path):
    """End to end with the routing monitor's own bundle (sentinelle routing scan --bundle)."""
    import json

    routing_cli = pytest.importorskip("sentinelle.observatory.routing.cli")

    def frame(prefix: str, t: int) -> dict:
        return {"type": "ris_message", "data": {
            "timestamp": t, "peer": "192.0.2.1", "peer_asn": "3356", "host": "rrc10.ripe.net",
            "type": "UPDATE", "path": [3356, 174, 666],
            "announcements": [{"next_hop": "192.0.2.1", "prefixes": [prefix]}]}}

    stream = tmp_path / "rrc10.jsonl"
    stream.write_text(json.dumps(frame("190.6.64.0/19", 1_700_000_000)) + "\n"
                      + json.dumps(frame("190.6.70.0/24", 1_700_000_100)) + "\n")
    (tmp_path / "watch.yaml").write_text(ROUTING_WATCH)
    private, _public = keys.generate(tmp_path / "k")
    bundle_path = tmp_path / "scan.zip"
    assert routing_cli.main(["scan", "--rislive", str(stream), "--watch",
                             str(tmp_path / "watch.yaml"), "--output",
                             str(tmp_path / "alerts.jsonl"), "--bundle", str(bundle_path),
                             "--sign-key", str(private), "--quiet"]) == 0
    incident = services.submit(alice, bundle_path, expect="routing").incident
    assert incident.category.code == "routing-disruption"
    alerts = RoutingAlertRecord.objects.filter(incident=incident).order_by("prefix")
    assert [(a.type, a.prefix, a.offending_asn, a.collectors) for a in alerts] == [
        ("E|0", "190.6.64.0/19", 666, 1), ("S|0", "190.6.70.0/24", 666, 1)]
    assert alerts[0].first_seen.isoformat() == "2023-11-14T22:13:20+00:00"
