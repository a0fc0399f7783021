"""Bot challenges are not blocks (issue 15, point 4).

A CDN's or bot manager's challenge ("Just a moment...", ``cf-mitigated: challenge``, a CAPTCHA)
asks the client to prove it is a browser; a person with a browser passes it. OONI's users report
these as false positives (ooni/probe#1734, #2528). Here: the challenge fingerprints of each
product, the ``challenged`` verdict (never ``geoblocked``, ``server-denied`` or ``http-diff``),
its OONI-compatible line, the farm's challenge pages, and the platform (the verdict is stored,
labelled, and never counted as a denial in the access-denial index).
"""

from __future__ import annotations

import pytest

from sentinelle.observatory.access import fingerprints, ooni
from sentinelle.observatory.access.verdict_names import VERDICTS
from tests.observatory_helpers import access_bundle, result
from tests.probe_farm import (
    AKAMAI_CHALLENGE,
    AWS_WAF,
    CF_CHALLENGE,
    CF_CHALLENGE_HEADERS,
    CF_IUAM,
    DATADOME,
    DATADOME_HEADERS,
    IMPERVA_ABP,
    INCAPSULA,
    INCAPSULA_BLOCK,
    JSD,
    PERIMETERX,
)
from tests.test_probe_fingerprints import AKAMAI, CF, CF_1009, CF_1020, EXAMPLE
from tests.test_probe_verdict import SITE_HEADERS, measurement, run

# --- challenge pages, as each product serves them: tests/probe_farm.py serves them too -------

CF_SITE = EXAMPLE.replace("</body>", JSD + "</body>")
# A real geoblock page whose paragraph says "Just a moment" and which carries Cloudflare's
# JavaScript Detections script: it is a geoblock, never a challenge.
GEOBLOCK_SAYING_JUST_A_MOMENT = CF_1009.replace(
    "</div></body>", "<p>Just a moment\u2026 we checked: this service is not offered where you "
    "are. Just a moment... is not a challenge here.</p>" + JSD + "</div></body>")

# (page name, status, headers, body, provider, challenge fingerprint ids that must match)
CHALLENGES = [
    ("cloudflare managed challenge", 403, CF_CHALLENGE_HEADERS, CF_CHALLENGE, "Cloudflare",
     {"cloudflare-challenge-header", "cloudflare-challenge-page"}),
    ("cloudflare under attack", 503, CF, CF_IUAM, "Cloudflare", {"cloudflare-challenge-page"}),
    ("cloudflare challenge on 429", 429, CF_CHALLENGE_HEADERS, "<html>rate</html>",
     "Cloudflare", {"cloudflare-challenge-header"}),
    ("akamai bot manager", 428, [["Server", "AkamaiGHost"]], AKAMAI_CHALLENGE, "Akamai",
     {"akamai-bot-challenge"}),
    ("datadome", 403, DATADOME_HEADERS, DATADOME, "DataDome", {"datadome-challenge"}),
    ("perimeterx", 403, [["Server", "nginx"]], PERIMETERX, "HUMAN (PerimeterX)",
     {"perimeterx-challenge"}),
    ("incapsula", 200, [["X-CDN", "Imperva"], ["X-Iinfo", "8-1234-0 0NNN RT(1) q(0 -1 -1 0)"]],
     INCAPSULA, "Imperva (Incapsula)", {"incapsula-challenge"}),
    ("imperva advanced bot protection", 405, [], IMPERVA_ABP, "Imperva",
     {"imperva-abp-challenge"}),
    ("aws waf captcha", 405, [["x-amzn-waf-action", "captcha"], ["Server", "awselb/2.0"]],
     AWS_WAF, "AWS WAF", {"aws-waf-challenge"}),
    ("aws waf challenge", 202, [["x-amzn-waf-action", "challenge"]], AWS_WAF, "AWS WAF",
     {"aws-waf-challenge"}),
]
CHALLENGE_IDS = {i for c in CHALLENGES for i in c[5]}
# (page name, status, headers, body): no challenge fingerprint may match these.
NOT_CHALLENGES = [
    ("cloudflare 1009 geoblock", 403, CF, CF_1009),
    ("cloudflare 1020 (Attention Required! | Cloudflare)", 403, CF, CF_1020),
    ("geoblock saying just a moment", 403, CF, GEOBLOCK_SAYING_JUST_A_MOMENT),
    ("ordinary page with cloudflare's js detections", 200, CF, CF_SITE),
    ("akamai access denied with its bot manager cookies", 403,
     [["Server", "AkamaiGHost"], ["Set-Cookie", "_abck=0A1B2C~-1~YAAQ~-1~-1; Path=/"],
      ["Set-Cookie", "bm_sz=D4E5F6~YAAQ; Path=/"]], AKAMAI),
    ("page with datadome's tag", 200, [["X-DataDome", "protected"]],
     EXAMPLE.replace("</body>", '<script src="https://js.datadome.co/tags.js"></script></body>')),
    ("page with perimeterx's sensor", 200, [], EXAMPLE.replace(
        "</body>", "<script>window._pxAppId = 'PXabcdef12';</script></body>")),
    ("aws waf block", 403, [["Server", "awselb/2.0"]], "<html><h1>403 Forbidden</h1></html>"),
    ("an article about challenges", 200, [["Server", "nginx"]],
     "<html><head><title>Why do I see Just a moment...?</title></head><body>Cloudflare shows "
     "'Just a moment...' and sets cf-mitigated: challenge; Akamai uses _abck and sec-cpt; "
     "DataDome's captcha-delivery.com; PerimeterX's Press &amp; Hold.</body></html>"),
]


@pytest.fixture(scope="module")
def builtin() -> fingerprints.FingerprintSet:
    return fingerprints.load()


# --- fingerprints ---------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "status", "headers", "body", "provider", "expected"),
                         CHALLENGES, ids=[c[0] for c in CHALLENGES])
def test_challenge_fingerprints_match_each_product(builtin, name, status, headers, body,
                                                   provider, expected):
    matches = [m for m in builtin.match(status, headers, body) if m.kind == "challenge"]
    assert {m.id for m in matches} == expected, name
    assert {m.provider for m in matches} == {provider}
    assert all(m.source for m in matches)


@pytest.mark.parametrize(("name", "status", "headers", "body"), NOT_CHALLENGES,
                         ids=[n[0] for n in NOT_CHALLENGES])
def test_challenge_fingerprints_do_not_match_blocks_and_ordinary_pages(builtin, name, status,
                                                                       headers, body):
    assert not [m.id for m in builtin.match(status, headers, body) if m.kind == "challenge"]


def test_every_builtin_challenge_fingerprint_is_tested(builtin):
    assert {f.id for f in builtin if f.kind == "challenge"} == CHALLENGE_IDS


def test_a_user_file_may_declare_challenges(tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text("- id: farm-bot-check\n  provider: Farm\n  kind: challenge\n"
                    "  location: title\n  pattern_type: exact\n  pattern: Are you human?\n"
                    "  source: tests\n", encoding="utf-8")
    found = fingerprints.load([mine]).match(200, [], "<title>Are you human?</title>")
    assert [(m.id, m.kind) for m in found] == [("farm-bot-check", "challenge")]


# --- the verdict ----------------------------------------------------------------------------

def test_challenge_at_vantage_and_control_is_challenged():
    page = measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS)
    result = run(page, measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS))
    assert "challenged" in VERDICTS
    assert (result.verdict, result.provider) == ("challenged", "Cloudflare")
    assert result.reasons[0].startswith("local answer (status 403) matches the Cloudflare "
                                        "challenge page cloudflare-challenge-header")
    assert "the control was challenged too" in result.reasons[1]


@pytest.mark.parametrize(("name", "status", "headers", "body", "provider", "expected"),
                         CHALLENGES, ids=[c[0] for c in CHALLENGES])
def test_challenge_only_at_the_vantage_is_challenged_not_geoblocked(name, status, headers, body,
                                                                    provider, expected):
    result = run(measurement(status, body, headers), measurement(200, EXAMPLE, SITE_HEADERS))
    assert (result.verdict, result.provider) == ("challenged", provider), result.reasons
    assert "control status 200 without a challenge" in result.reasons[-1]
    assert "re-measure with a browser" in result.reasons[-1]


def test_geoblock_page_saying_just_a_moment_stays_geoblocked():
    result = run(measurement(403, GEOBLOCK_SAYING_JUST_A_MOMENT, CF))
    assert (result.verdict, result.provider) == ("geoblocked", "Cloudflare")
    assert not [m for m in result.matches if m["kind"] == "challenge"]


def test_ordinary_page_with_js_detections_is_accessible():
    assert run(measurement(200, CF_SITE, CF), measurement(200, CF_SITE, CF)).verdict == \
        "accessible"


def test_akamai_access_denied_stays_a_denial():
    headers = [["Server", "AkamaiGHost"], ["Set-Cookie", "_abck=0A1B2C~-1~YAAQ~-1~-1; Path=/"]]
    result = run(measurement(403, AKAMAI, headers))
    assert (result.verdict, result.provider) == ("server-denied", "Akamai")


def test_a_hard_block_outranks_a_challenge_marker_on_the_same_page(builtin):
    kinds = {m.kind for m in builtin.match(403, [], INCAPSULA_BLOCK)}
    assert kinds == {"challenge", "server-denial"}      # the iframe says both; the block wins
    result = run(measurement(403, INCAPSULA_BLOCK, [["X-CDN", "Imperva"]]))
    assert result.verdict == "server-denied" and result.provider == "Imperva (Incapsula)"


def test_control_challenged_alone_is_inconclusive_not_a_difference():
    # AWS WAF challenges with 202: without this rule the answers would be compared (http-diff).
    result = run(measurement(200, EXAMPLE),
                 measurement(202, AWS_WAF, [["x-amzn-waf-action", "challenge"]]))
    assert result.verdict == "inconclusive"
    assert "the control got the AWS WAF challenge page aws-waf-challenge" in result.reasons[0]


def test_challenge_without_control_is_inconclusive_and_says_so():
    result = run(measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS), None, "helper down")
    assert result.verdict == "inconclusive"
    assert any("Cloudflare challenge page" in r for r in result.reasons)


def test_ooni_line_of_a_challenge_is_neither_accessible_nor_blocked():
    local = measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS)
    control = measurement(200, EXAMPLE)
    result = run(local, control)
    line = ooni.measurement_line("https://www.example.com/", "NEWS", local, control, result,
                                 None, "2026-11-28 12:00:00", 0.5, "r")
    assert line["verdict"] == "challenged" and line["provider"] == "Cloudflare"
    # OONI's Web Connectivity would say accessible=false, blocking="http-diff" here (the false
    # positive of ooni/probe#1734, #2528); we leave both undetermined.
    assert line["test_keys"]["accessible"] is None and line["test_keys"]["blocking"] is None
    assert line["test_keys"]["status_code_match"] is False
    assert [m["kind"] for m in line["fingerprint_matches"]] == ["challenge", "challenge"]


def test_importing_our_line_back_does_not_call_a_challenge_blocking():
    from sentinelle.exchange.formats import ooni as ooni_format

    assert not ooni_format._anomalous("challenged")
    assert ooni_format._anomalous("geoblocked")


# --- the platform ---------------------------------------------------------------------------

CHALLENGE_RESULTS = [
    result("https://shop.example.com/", "challenged", "2026-03-01 10:00:00", "Cloudflare"),
    result("https://shop.example.com/a", "challenged", "2026-03-02 10:00:00", "DataDome"),
    result("https://shop.example.com/b", "geoblocked", "2026-03-03 10:00:00", "Cloudflare"),
    result("https://shop.example.com/c", "accessible", "2026-03-04 10:00:00"),
]


def test_platform_verdict_has_a_label():
    from sentinelle.observatory.models import CONCLUSIVE_VERDICTS, DENIAL_VERDICTS, Verdict

    assert Verdict("challenged").label == "bot challenge"
    assert Verdict.CHALLENGED not in DENIAL_VERDICTS
    assert Verdict.CHALLENGED not in CONCLUSIVE_VERDICTS


def test_submitted_challenges_are_stored_but_not_reported_as_denial(alice, tmp_path):
    from sentinelle.incidents.models import Indicator
    from sentinelle.observatory import services
    from sentinelle.observatory.models import AccessObservation

    incident = services.submit(alice, access_bundle(tmp_path / "cu.zip",
                                                    CHALLENGE_RESULTS)).incident
    stored = AccessObservation.objects.filter(incident=incident)
    assert sorted(stored.values_list("verdict", flat=True)) == [
        "accessible", "challenged", "challenged", "geoblocked"]
    assert stored.filter(verdict="challenged").first().get_verdict_display() == "bot challenge"
    assert "1/1 services denied" in incident.title
    assert incident.affected_services == ["shop.example.com"]
    indicators = set(Indicator.objects.filter(incident=incident).values_list("value", flat=True))
    assert indicators == {"https://shop.example.com/b", "shop.example.com"}
    assert ("Bot challenges (not counted as denial; re-measure with a browser): "
            "shop.example.com (bot challenge (challenged) ×2).") in incident.description
    assert "Providers named by block pages: Cloudflare ×1." in incident.description


def test_the_index_leaves_challenges_out(alice, charlie, tmp_path):
    from sentinelle.incidents import services as incident_services
    from sentinelle.observatory import services
    from sentinelle.observatory.access_index import IndexFilter, compute_index

    incident = services.submit(alice, access_bundle(tmp_path / "cu.zip",
                                                    CHALLENGE_RESULTS)).incident
    incident_services.change_status(incident, alice, "submitted")
    row = compute_index(IndexFilter(year=2026), charlie, group_by=("state", "service")).rows[0]
    # 4 measurements; the 2 challenges count in neither: 1 denied of 2 conclusive.
    assert (row["measurements"], row["conclusive"], row["denied"], row["index"]) == (
        4, 2, 1, 0.5)


# --- the farm: each product's page served to the probe's vantage point only -------------------

@pytest.fixture(scope="module")
def challenge_run(tmp_path_factory):
    """The farm's challenge scenarios (and Cloudflare's 1009 geoblock beside them) measured
    from 'Cuba' against the control in 'Switzerland', with a signed bundle."""
    for module in ("dnslib", "trustme", "mmdb_writer", "maxminddb"):
        pytest.importorskip(module)
    from sentinelle.evidence import keys
    from sentinelle.observatory.access import cli
    from tests import probe_farm
    from tests.test_probe_run import probe_args

    work = tmp_path_factory.mktemp("challenge-run")
    farm_gen = probe_farm.running_farm(work / "farm")
    farm = next(farm_gen)
    control_gen = probe_farm.running_control(farm)
    control = next(control_gen)
    try:
        scenarios = [s for s in probe_farm.SCENARIOS
                     if s.expected == "challenged" or s.name == "cloudflare-1009-https"]
        listing = work / "challenges.csv"
        listing.write_text("url,category_code,notes\n" + "".join(
            f"{farm.url(s)},NEWS,{s.name}\n" for s in scenarios), encoding="utf-8")
        private, public = keys.generate(work / "probe.key")
        output, bundle = work / "out.jsonl", work / "evidence.zip"
        code = cli.main(probe_args(farm, control.url, listing, output, "--sign-key",
                                   str(private), "--bundle", str(bundle)))
        urls = {s.name: farm.url(s) for s in scenarios}
    finally:
        for gen in (control_gen, farm_gen):
            gen.close()
    return {"code": code, "scenarios": scenarios, "urls": urls, "output": output,
            "bundle": bundle, "public": public}


def test_farm_challenges_are_challenged_with_their_provider(challenge_run):
    import json

    assert challenge_run["code"] == 0
    lines = {json.loads(x)["input"]: json.loads(x)
             for x in challenge_run["output"].read_text().splitlines()}
    got = {s.name: (lines[challenge_run["urls"][s.name]]["verdict"],
                    lines[challenge_run["urls"][s.name]]["provider"])
           for s in challenge_run["scenarios"]}
    assert got == {s.name: (s.expected, s.provider) for s in challenge_run["scenarios"]}
    only_here = lines[challenge_run["urls"]["challenge-cloudflare"]]
    assert "control status 200 without a challenge" in only_here["verdict_reasons"][-1]
    everyone = lines[challenge_run["urls"]["challenge-everyone"]]
    assert "the control was challenged too" in everyone["verdict_reasons"][-1]
    for line in lines.values():
        if line["verdict"] == "challenged":
            assert line["test_keys"]["blocking"] is None
            assert line["test_keys"]["accessible"] is None


def test_farm_challenge_bundle_summary_and_platform_import(challenge_run, alice):
    from sentinelle.evidence import bundle as evidence_bundle
    from sentinelle.evidence import keys
    from sentinelle.observatory import services
    from sentinelle.observatory.models import AccessObservation

    checked = evidence_bundle.verify(challenge_run["bundle"],
                                     keys.load_public(challenge_run["public"]))
    assert checked.ok, checked.problems
    assert checked.manifest["summary"]["verdicts"] == {"challenged": 8, "geoblocked": 1}
    incident = services.submit(alice, challenge_run["bundle"]).incident
    cf_host = challenge_run["urls"]["cloudflare-1009-https"].split("//")[1].split(":")[0]
    assert incident.affected_services == [cf_host]          # challenges are not denied services
    assert AccessObservation.objects.filter(incident=incident,
                                            verdict="challenged").count() == 8
    assert "Bot challenges (not counted as denial; re-measure with a browser): " \
        "akamaibot.farm.test (bot challenge (challenged) ×1)" in incident.description
