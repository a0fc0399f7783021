"""Attacks on the ``challenged`` verdict (issue 15): a real block excused as a bot challenge, a
challenge counted as a denial, and hostile fingerprint files (ReDoS). Each test is one attack;
the ones that found a hole failed before the fix that came with them."""

from __future__ import annotations

import base64
import time

import pytest

from sentinelle.observatory.access import fingerprints
from tests.observatory.access.probe_farm import (
    AWS_WAF,
    CF_CHALLENGE,
    CF_CHALLENGE_HEADERS,
    IMPERVA_ABP,
)
from tests.observatory.access.test_probe_fingerprints import AKAMAI, CF, CF_1009
from tests.observatory.access.test_probe_verdict import SITE_HEADERS, measurement, run

AWS_CHALLENGE = [["x-amzn-waf-action", "challenge"], ["Server", "awselb/2.0"]]


# --- (a) a real block dressed as a challenge -------------------------------------------------

def test_geoblock_page_against_a_challenged_control_is_not_geoblocked():
    """Hole: rule 2 compared the local geoblock page with the control's AWS WAF challenge
    (status 202, below 400) and said "geoblocked", though the control never saw the site.
    A challenged control cannot vouch for the site (rule 10): inconclusive, provider named."""
    result = run(measurement(403, CF_1009, CF), measurement(202, AWS_WAF, AWS_CHALLENGE))
    assert result.verdict == "inconclusive", result.reasons
    assert result.provider == "Cloudflare"
    assert "AWS WAF challenge page" in " ".join(result.reasons)


def test_451_wearing_cloudflare_challenge_markers_is_denied_not_challenged():
    """A 451 that also carries cf-mitigated: challenge and the "Just a moment" page stays a
    denial (held: the http-451 server-denial fingerprint wins over the challenge)."""
    headers = [*CF_CHALLENGE_HEADERS, ["Link", '<https://authority.example>; rel="blocked-by"']]
    result = run(measurement(451, CF_CHALLENGE, headers), measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "server-denied"
    assert "451 Unavailable For Legal Reasons" in result.reasons[0]


def test_akamai_access_denied_with_a_bot_manager_challenge_script_is_denied():
    """Akamai's hard "Access Denied ... Reference #18.x" with a sec-cpt script in it (held)."""
    body = AKAMAI.replace("</BODY>", '<script src="/_sec/cp_challenge/sec-4-4.js"></script>'
                          "</BODY>").replace("</body>", '<script src="/_sec/cp_challenge/'
                                             'sec-4-4.js"></script></body>')
    result = run(measurement(403, body, [["Server", "AkamaiGHost"]]),
                 measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "server-denied", result.reasons
    assert result.provider == "Akamai"


# --- (b) a challenge wrongly counted as a denial ---------------------------------------------

def test_challenge_header_in_any_case_is_a_challenge():
    headers = [["CF-MITIGATED", " Challenge "], ["SERVER", "CloudFlare"]]
    result = run(measurement(403, "<html></html>", headers),
                 measurement(200, headers=SITE_HEADERS))
    assert (result.verdict, result.provider) == ("challenged", "Cloudflare")


def test_challenge_page_in_a_base64_body_is_a_challenge():
    """A challenge page that is not UTF-8 (OONI's base64 body form) is still read."""
    raw = CF_CHALLENGE.encode() + b"\xff\xfe"
    body = {"format": "base64", "data": base64.b64encode(raw).decode()}
    result = run(measurement(403, body, CF), measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "challenged"


def test_challenge_title_written_with_entities_is_a_challenge():
    body = IMPERVA_ABP.replace("Pardon Our Interruption", "Pardon&#32;Our&nbsp;Interruption")
    assert body != IMPERVA_ABP
    result = run(measurement(405, body, []), measurement(200, headers=SITE_HEADERS))
    assert (result.verdict, result.provider) == ("challenged", "Imperva")


def test_challenge_at_the_control_only_is_never_a_denial():
    result = run(measurement(403, "<html>Forbidden</html>", [["Server", "nginx"]]),
                 measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS))
    assert result.verdict == "inconclusive"


# --- (d) hostile fingerprint files ---------------------------------------------------------

def entry(ident: str, pattern: str) -> str:
    return (f"- id: {ident}\n  provider: Hostile\n  kind: geoblock\n  location: body\n"
            f"  pattern_type: regex\n  pattern: '{pattern}'\n  source: tests\n")


@pytest.mark.parametrize("pattern", [
    "(?:a?){20}a{20}b",            # the textbook exponential pattern: 2**20 paths a position
    "(?:x?){9}(?:y?){9}z",
    "(?:(?=a?)b?){0,12}c",
])
def test_optional_inside_a_repeat_is_refused(tmp_path, monkeypatch, pattern):
    """Hole: ``?`` (a repeat of maximum 1) inside a repeat was not "nested", and the cost was
    counted as (20 + 1) * 2 * 21 = 882 < 1024; ``(?:a?){20}a{20}b`` took 40 ms a position,
    about 45 minutes on a 64 KiB body. (With Python's re, where the google-re2 wheel is
    missing; RE2 runs these in linear time: test_re2_runs_the_textbook_redos_in_linear_time.)"""
    monkeypatch.setattr(fingerprints, "re2", None)
    assert fingerprints.unsafe_regex(pattern)
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(entry("redos", pattern), encoding="utf-8")
    with pytest.raises(fingerprints.FingerprintError, match=r"hostile\.yaml.*redos.*pattern"):
        fingerprints.load([hostile])


def test_re2_runs_the_textbook_redos_in_linear_time(tmp_path):
    """The patterns above load with RE2 and a 64 KiB body that defeats them costs no more than
    a body a quarter its size, four times: the time is linear in the page."""
    hostile = tmp_path / "hostile.yaml"
    hostile.write_text(entry("redos", "(?:a?){20}a{20}b") + entry("issue-20", "[a-z]{0,1000}[0-9]")
                       + entry("dotall", "(?s)a.{0,999}z"), encoding="utf-8")
    loaded = fingerprints.load([hostile], builtin=False)

    def seconds(body: str) -> float:
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            assert loaded.match(403, [], body) == []
            best = min(best, time.process_time() - started)
        return best

    body = "a" * fingerprints.MATCH_CHARS
    whole, quarter = seconds(body), seconds(body[:len(body) // 4])
    assert whole < 1, whole
    assert whole < 4 * max(quarter, 0.005) * 3, (whole, quarter)   # linear, generously
    assert [m.id for m in loaded.match(403, [], "x" * 2000 + "5")] == ["issue-20"]


def test_harmless_optional_groups_stay_allowed():
    assert fingerprints.unsafe_regex(r"(?:ab?){0,3}c") is None
    assert fingerprints.unsafe_regex(r"error code:? ?1009\b") is None


def test_many_costly_regexes_together_are_refused(tmp_path):
    """Hole: each regex was within REPEAT_BUDGET but nothing bounded their sum: 2000 entries of
    ``[^z]{0,1000}z`` (0.1 s each on a 64 KiB body) took minutes for every URL, twice."""
    hostile = tmp_path / "many.yaml"
    hostile.write_text("".join(entry(f"slow-{i}", "[^z]{0,1000}z") for i in range(200)),
                       encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(fingerprints.FingerprintError, match=r"many\.yaml.*together"):
        fingerprints.load([hostile])
    assert time.monotonic() - started < 10


def test_a_few_costly_regexes_still_load(tmp_path):
    fine = tmp_path / "fine.yaml"
    fine.write_text("".join(entry(f"ok-{i}", "[^z]{0,1000}z") for i in range(3)),
                    encoding="utf-8")
    loaded = fingerprints.load([fine])
    started = time.monotonic()
    loaded.match(403, [], "a" * fingerprints.MATCH_CHARS)
    assert time.monotonic() - started < 5


def test_the_total_budget_bounds_the_time_of_one_body(tmp_path):
    """The worst file the budget admits (cheap-to-write, costly-to-run regexes up to the
    total) searches a 64 KiB body that defeats them all in seconds, not minutes."""
    worst = tmp_path / "worst.yaml"
    count = (fingerprints.TOTAL_BUDGET - 708) // 1002        # the built-in ones cost about 708
    worst.write_text("".join(entry(f"w-{i}", "[^z]{0,1000}z") for i in range(count)),
                     encoding="utf-8")
    loaded = fingerprints.load([worst])
    started = time.monotonic()
    loaded.match(403, [], "a" * fingerprints.MATCH_CHARS)
    assert time.monotonic() - started < 5


# --- a censor's copy of a provider's page, served from a bogon after a DNS lie -----------------

@pytest.mark.parametrize(("status", "body", "headers", "claimed"), [
    (403, CF_CHALLENGE, CF_CHALLENGE_HEADERS, "challenged"),
    (403, CF_1009, CF, "geoblocked"),
])
def test_a_provider_page_served_from_a_bogon_dns_answer_is_dns_tampering(status, body, headers,
                                                                         claimed):
    """Hole: rules 2 and 2b came before the DNS rule, so a national filter that answers the
    name with 10.10.34.35 and serves a copy of Cloudflare's challenge (or 1009) page there had
    its censorship called "challenged" (not counted) or blamed on Cloudflare ("geoblocked").
    No CDN serves from a private address the control never got: DNS tampering."""
    local = measurement(status, body, headers, addresses=("10.10.34.35",), asn=None)
    result = run(local, measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "dns-tampering", result.reasons
    assert "bogon" in result.reasons[0]
    assert any("Cloudflare" in r for r in result.reasons[1:])


def test_a_challenge_from_another_public_asn_stays_a_challenge():
    """CDNs answer per country: a different public address and ASN is no DNS lie."""
    local = measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS, addresses=("104.16.1.1",),
                        asn=13335)
    result = run(local, measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "challenged"


# --- a compressed answer the server sent although the probe asked for identity -----------------

def _gzipped(status: int, body: str, headers: list) -> dict:
    import gzip

    raw = gzip.compress(body.encode())
    encoded = {"format": "base64", "data": base64.b64encode(raw).decode()}
    return measurement(status, encoded, [*headers, ["Content-Encoding", "gzip"]])


@pytest.mark.parametrize(("status", "body", "headers", "expected"), [
    (403, CF_CHALLENGE, CF, "challenged"),
    (403, CF_1009, CF, "geoblocked"),
])
def test_a_gzipped_page_is_read_for_its_fingerprints(status, body, headers, expected):
    """Hole: a server that gzips despite "Accept-Encoding: identity" hid every body marker: a
    Cloudflare challenge (without cf-mitigated) became "server-denied" (a 403), and so did a
    1009 geoblock page."""
    result = run(_gzipped(status, body, headers), measurement(200, headers=SITE_HEADERS))
    assert result.verdict == expected, result.reasons


def test_a_gzip_bomb_is_read_only_up_to_the_match_window():
    import gzip

    bomb = gzip.compress(b"<html>" + b" " * (200 * 1024 * 1024))      # 200 MiB of spaces
    local = measurement(403, {"format": "base64", "data": base64.b64encode(bomb).decode()},
                        [*CF, ["Content-Encoding", "gzip"]])
    started = time.monotonic()
    result = run(local, measurement(200, headers=SITE_HEADERS))
    assert time.monotonic() - started < 5
    assert result.verdict == "server-denied"


def test_a_corrupt_gzip_body_is_read_as_it_came():
    local = measurement(403, {"format": "base64", "data": base64.b64encode(
        b"\x1f\x8b\x08garbage" + CF_CHALLENGE.encode()).decode()},
        [*CF, ["Content-Encoding", "gzip"]])
    result = run(local, measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "challenged"        # the raw bytes still carry the markers


def test_a_huge_header_value_is_searched_only_within_the_match_window(tmp_path):
    """Hole: bodies were cut to MATCH_CHARS before matching, header values were not; a control
    answer (JSON from the helper, up to tens of MiB) with a 8 MiB header made a costly header
    regex run for seconds per URL. The value is cut like the body."""
    mine = tmp_path / "mine.yaml"
    mine.write_text("- id: slow-header\n  provider: Test\n  kind: server-denial\n"
                    "  location: 'header:x-big'\n  pattern_type: regex\n"
                    "  pattern: '[^z]{0,1000}z'\n  source: tests\n", encoding="utf-8")
    loaded = fingerprints.load([mine], builtin=False)
    started = time.monotonic()
    assert loaded.match(200, [["X-Big", "a" * (8 * 1024 * 1024) + "z"]], "") == []
    assert time.monotonic() - started < 2
    assert [m.id for m in loaded.match(200, [["X-Big", "a" * 100 + "z"]], "")] == ["slow-header"]
    many = [["X-Big", "a" * 60_000]] * 400                  # 24 MB in 400 values
    started = time.monotonic()
    assert loaded.match(200, many, "") == []
    assert time.monotonic() - started < 2


def test_a_real_challenge_beside_one_lying_resolver_stays_a_challenge():
    """Rule 1b is about the page's origin: when the system resolver gave the CDN's address (the
    page came from there) and only another resolver said NXDOMAIN, the page is the CDN's."""
    local = measurement(403, CF_CHALLENGE, CF_CHALLENGE_HEADERS, addresses=("93.184.216.34",))
    local["queries"].append({"hostname": "www.example.com", "query_type": "A", "engine": "udp",
                             "resolver_address": "1.1.1.1:53", "failure": "dns_nxdomain_error",
                             "answers": []})
    result = run(local, measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "challenged", result.reasons


def test_a_cf_mitigated_header_on_a_server_that_is_not_cloudflare_is_no_excuse():
    """Hole: ``cf-mitigated: challenge`` alone made any answer a Cloudflare challenge, so a site
    on its own servers could add that header to its 403 for a country and leave the
    access-denial index. Cloudflare's challenge responses say ``Server: cloudflare``."""
    headers = [["Server", "nginx"], ["cf-mitigated", "challenge"]]
    result = run(measurement(403, "<html><h1>Forbidden</h1></html>", headers),
                 measurement(200, headers=SITE_HEADERS))
    assert result.verdict == "server-denied", result.reasons
