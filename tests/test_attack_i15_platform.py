"""Attacks on the platform side of the ``challenged`` verdict (issue 15): verdict strings a
crafted bundle may claim, and a denial claimed for what the bundle's own measurement shows to be
a bot challenge."""

from __future__ import annotations

import pytest

from tests.observatory_helpers import CONTROL, VANTAGE, access_bundle, result


def any_bundle(path, results):
    """access_bundle, for results whose verdict may be of any JSON type."""
    import json

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from sentinelle.evidence.bundle import BundleWriter

    with BundleWriter(path, kind="access-probe", signing_key=Ed25519PrivateKey.generate(),
                      command_line=["sentinelle", "probe", "run"]) as w:
        w.add_bytes("measurements.jsonl",
                    b"".join(json.dumps(r).encode() + b"\n" for r in results))
        w.set("vantage", VANTAGE)
        w.set("control", CONTROL)
        w.set("started_at", "2026-03-10T11:59:00+00:00")
        w.set("summary", {"list": "x.csv", "count": len(results), "verdicts": {},
                          "results": results})
    return path


@pytest.mark.parametrize("claimed", [
    "Challenged", "challenged ", " geoblocked", "GEOBLOCKED", "challenge", "blocked",
    "geoblocked\u200b", ["challenged"], {"verdict": "geoblocked"}, 1, True,
])
def test_a_verdict_that_is_not_one_of_the_nine_is_refused_and_nothing_is_written(
        alice, tmp_path, claimed):
    from sentinelle.observatory import services
    from sentinelle.observatory.models import AccessObservation, BundleSubmission

    rows = [result("https://shop.example.com/", "accessible", "2026-03-01 10:00:00"),
            result("https://shop.example.com/a", "challenged", "2026-03-01 10:00:00")]
    rows[1]["verdict"] = claimed
    with pytest.raises(services.BundleRefused) as caught:
        services.submit(alice, any_bundle(tmp_path / "bad.zip", rows))
    assert "result 2" in str(caught.value.args[0])
    assert AccessObservation.objects.count() == 0
    assert BundleSubmission.objects.count() == 0


def _challenge_line_claiming(verdict: str) -> dict:
    """A measurement line as the probe writes it, whose local answer is Cloudflare's challenge
    page (the control got the site), with its verdict rewritten by a dishonest submitter."""
    from sentinelle.observatory.access import fingerprints, ooni
    from sentinelle.observatory.access.verdict import decide
    from tests.probe_farm import CF_CHALLENGE, CF_CHALLENGE_HEADERS
    from tests.test_probe_verdict import SITE_HEADERS, measurement

    url = "https://shop.example.com/"
    local = measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS)
    control = measurement(200, headers=SITE_HEADERS)
    decision = decide(url, local, control, None, fingerprints.load())
    assert decision.verdict == "challenged"
    line = ooni.measurement_line(url, "COMM", local, control, decision, {"cc": "CU"},
                                 "2026-03-01T10:00:00Z", 1.0, "r1")
    line["verdict"], line["provider"] = verdict, "Cloudflare"
    return line


@pytest.mark.xfail(strict=True, reason=(
    "the platform stores the verdict the bundle's summary claims; it never re-derives it from "
    "the measurement in the same bundle (test_keys.requests and control), so a signer can call "
    "a Cloudflare challenge 'geoblocked' and it counts in the access-denial index. Fix: "
    "re-run verdict.decide on each measurements.jsonl line at submission (local requests + "
    "test_keys.control), refuse or downgrade a denial the evidence contradicts; a change to "
    "services.submit and the bundle reading, not small."))
def test_a_denial_claimed_for_a_measured_challenge_is_not_counted(alice, tmp_path):
    from sentinelle.observatory import services
    from sentinelle.observatory.models import DENIAL_VERDICTS, AccessObservation

    line = _challenge_line_claiming("geoblocked")
    try:
        incident = services.submit(alice, access_bundle(tmp_path / "lie.zip", [line])).incident
    except services.BundleRefused:
        return                                          # refused: fine
    stored = AccessObservation.objects.get(incident=incident)
    assert stored.verdict not in DENIAL_VERDICTS
