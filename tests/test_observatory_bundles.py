"""The bundle kinds and the verdicts are each named in one place, and every part of the platform
that offers or reads them follows: a kind the tools can write is one the platform can read, and a
verdict the probe can give is one the platform can store and label."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.observatory import bundles, services
from sentinelle.observatory.access import verdict_names
from sentinelle.observatory.forms import SubmitForm
from sentinelle.observatory.models import AccessObservation, BundleSubmission, Verdict
from tests.observatory_helpers import access_bundle, routing_bundle


def test_every_kind_the_tools_write_has_one_reader():
    assert sorted(BundleSubmission.Kind.values) == sorted(evidence_bundle.KINDS)
    readers = [module.KIND for module in bundles.all_kinds()]
    assert sorted(readers) == sorted(evidence_bundle.KINDS)   # each once, none missing
    for kind in evidence_bundle.KINDS:
        assert kind == bundles.get(kind).KIND
    assert bundles.get("ooni-dump") is None


def test_expect_words_name_their_kind():
    assert bundles.kind_for("probe") == evidence_bundle.ACCESS_PROBE
    assert bundles.kind_for("routing") == evidence_bundle.ROUTING_SCAN
    assert bundles.kind_for(evidence_bundle.ROUTING_SCAN) == evidence_bundle.ROUTING_SCAN
    assert bundles.kind_for("scan") is None


def test_upload_form_and_command_offer_every_kind():
    offered = [value for value, _label in SubmitForm().fields["expect"].choices]
    assert offered == ["", "probe", "routing"]
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("submit_bundle", "run.zip", "--expect", "scan", "--user", "alice")


def test_every_verdict_the_probe_gives_is_stored_and_labelled():
    assert tuple(Verdict.values) == verdict_names.VERDICTS
    stored = [value for value, _label in AccessObservation._meta.get_field("verdict").choices]
    assert tuple(stored) == verdict_names.VERDICTS
    assert str(Verdict(verdict_names.CHALLENGED).label) == "bot challenge"


def _csv(client, user, incident) -> list[str]:
    client.force_login(user)
    submission = BundleSubmission.objects.get(incident=incident)
    answer = client.get(f"/observatory/submissions/{submission.pk}/observations.csv")
    assert answer.status_code == 200
    return b"".join(answer.streaming_content).decode("utf-8-sig").splitlines()


def test_each_kind_downloads_its_own_columns(client, alice, tmp_path):
    scan = services.submit(alice, routing_bundle(tmp_path / "scan.zip")).incident
    assert _csv(client, alice, scan) == [
        "Type,Prefix,Offending AS,First seen (UTC),Last seen (UTC),Peers,Collectors",
        "E|0,190.6.64.0/19,64666,2026-03-10T12:00:00+00:00,2026-03-10T13:00:00+00:00,12,3",
        "S|0,190.6.64.0/24,64666,2026-03-10T13:00:00+00:00,2026-03-10T14:00:00+00:00,9,2"]
    probe = services.submit(alice, access_bundle(tmp_path / "run.zip")).incident
    lines = _csv(client, alice, probe)
    assert lines[0] == ("Service,URL,Category code,Verdict,Provider,Measured (UTC),"
                        "Vantage country,Vantage ASN,Control country")
    assert "hub.docker.com,https://hub.docker.com/v2/,NEWS,geoblocked,Docker," \
           "2026-03-10T12:00:00+00:00,CU,27725,CH" in lines
