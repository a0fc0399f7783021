"""The bundle kinds and the verdicts are each named in one place, and every part of the platform
that offers or reads them follows: a kind the tools can write is one the platform can read, and a
verdict the probe can give is one the platform can store and label."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from sentinelle.evidence import bundle as evidence_bundle
from sentinelle.observatory import bundles
from sentinelle.observatory.access import verdict_names
from sentinelle.observatory.forms import SubmitForm
from sentinelle.observatory.models import AccessObservation, BundleSubmission, Verdict


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
