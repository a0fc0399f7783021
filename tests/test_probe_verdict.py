"""Verdicts from a local and a control measurement (rules in verdict.py's docstring), and the
vantage identity from MMDB files (MaxMind's test databases and one built with mmdb-writer)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sentinelle.observatory.access import dns_check, fingerprints, vantage, verdict
from sentinelle.observatory.access.vantage import VantageError
from sentinelle.observatory.access.verdict import decide
from sentinelle.observatory.access.verdict_names import VERDICTS
from tests.test_probe_fingerprints import (
    AKAMAI,
    CF,
    CF_1009,
    CF_1020,
    CLOUDFRONT,
    DOCKER,
    EXAMPLE,
    GEMINI,
    GITLAB_1020,
    GOOGLE_API,
    GOOGLE_COUNTRY,
    GOOGLE_STORAGE,
    IRAN,
    NGINX_403,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "probe"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
URL = "https://www.example.com/"
SITE_HEADERS = [["Content-Type", "text/html; charset=UTF-8"], ["Server", "ECS (dce/268A)"],
                ["X-Cache", "HIT"], ["Etag", '"3147526947"']]
FP = fingerprints.load()


def measurement(status: int | None = 200, body: str | dict = EXAMPLE,
                headers: list | None = None, *, addresses=("93.184.216.34",), asn=15133,
                dns_failure: str | None = None, tcp_failure: str | None = None,
                tls_failure: str | None = None, http_failure: str | None = None,
                https: bool = True, truncated: bool = False) -> dict:
    """A measurement in the contracts.md structure, as H4a's measure() writes it."""
    queries = [{"hostname": "www.example.com", "query_type": "A", "engine": "system",
                "resolver_address": "", "failure": dns_failure, "t": 0.01,
                "answers": [] if dns_failure else [
                    {"answer_type": "A", "ipv4": a, "asn": asn, "as_org_name": None}
                    for a in addresses]}]
    result: dict = {"queries": queries, "tcp_connect": [], "tls_handshakes": [],
                    "requests": [], "failure": None}
    if dns_failure:
        result["failure"] = dns_failure
        return result
    port = 443 if https else 80
    for address in addresses:
        result["tcp_connect"].append({"ip": address, "port": port, "t": 0.02, "status": {
            "success": tcp_failure is None, "failure": tcp_failure, "blocked": None}})
    if tcp_failure:
        result["failure"] = tcp_failure
        return result
    if https:
        result["tls_handshakes"].append({
            "address": f"{addresses[0]}:443", "server_name": "www.example.com",
            "failure": tls_failure, "peer_certificates": [], "tls_version": "TLSv1.3",
            "cipher_suite": "TLS_AES_256_GCM_SHA384", "negotiated_protocol": "http/1.1",
            "t": 0.03})
        if tls_failure:
            result["failure"] = tls_failure
            return result
    request = {"method": "GET", "url": URL, "headers_list": [["Host", "www.example.com"]]}
    if http_failure or status is None:
        result["requests"] = [{"request": request, "failure": http_failure or "eof_error",
                               "response": {"code": 0, "headers_list": [], "body": "",
                                            "body_is_truncated": False, "body_length": 0},
                               "t": 0.04}]
        result["failure"] = http_failure or "eof_error"
        return result
    raw = base64.b64decode(body["data"]) if isinstance(body, dict) else body.encode()
    result["requests"] = [{"request": request, "failure": None, "t": 0.05, "response": {
        "code": status, "headers_list": SITE_HEADERS if headers is None else headers,
        "body": body, "body_is_truncated": truncated, "body_length": len(raw)}}]
    return result


def run(local: dict, control: dict | None = None, control_failure: str | None = None,
        **kw) -> verdict.Verdict:
    result = decide(URL, local, measurement() if control is None and not control_failure
                    else control, control_failure, FP, **kw)
    assert result.verdict in VERDICTS
    assert all(isinstance(r, str) and r for r in result.reasons)
    return result


def test_verdict_accessible():
    result = run(measurement())
    assert result.verdict == "accessible" and result.provider is None
    assert result.reasons == ["local status 200, control status 200", "body length ratio 1.00",
                              "titles share a word", "uncommon headers match"]
    assert result.comparison["dns_consistency"] == "consistent"


@pytest.mark.parametrize(("body", "status", "headers", "provider"), [
    (CF_1009, 403, CF, "Cloudflare"),
    ("error code: 1009", 403, CF, "Cloudflare"),
    (GITLAB_1020, 403, CF, "GitLab (Cloudflare)"),
    (CLOUDFRONT, 403, [["Server", "CloudFront"]], "Amazon CloudFront"),
    (GOOGLE_COUNTRY, 403, [], "Google"),
    (GOOGLE_API, 403, [], "Google"),
    (GOOGLE_STORAGE, 403, [], "Google Cloud Storage"),
    (GEMINI, 400, [], "Google"),
    (DOCKER, 403, [], "Docker Hub"),
    ("<p>This video is not available in your country.</p>", 200, [], None),
])
def test_verdict_geoblocked_over_https(body, status, headers, provider):
    result = run(measurement(status, body, headers))
    assert result.verdict == "geoblocked"
    assert result.provider == provider
    assert f"local status {status}, control status 200" in result.reasons
    assert "matches the" in result.reasons[0]


def test_verdict_geoblocked_names_fingerprint_and_figures():
    result = run(measurement(403, CF_1009, CF))
    assert result.reasons[0] == ("local answer (status 403) matches the Cloudflare geoblock page "
                                 "cloudflare-1009; also cloudflare-1009-code")
    assert {m["id"] for m in result.matches} == {"cloudflare-1009", "cloudflare-1009-code"}


def test_verdict_geoblock_page_in_base64_non_utf8_body():
    raw = CF_1009.encode() + b"\xff\xfe\x80 windows-1252 \xe9"
    body = {"format": "base64", "data": base64.b64encode(raw).decode()}
    result = run(measurement(403, body, CF))
    assert (result.verdict, result.provider) == ("geoblocked", "Cloudflare")


def test_verdict_cloudflare_1020_is_server_denied_not_geoblocked():
    result = run(measurement(403, CF_1020, CF))
    assert (result.verdict, result.provider) == ("server-denied", "Cloudflare")
    assert result.reasons[0] == "local status 403, control status 200"
    assert "cloudflare-1020" in result.reasons[1]


def test_verdict_akamai_is_server_denied():
    result = run(measurement(403, AKAMAI, [["Server", "AkamaiGHost"]]))
    assert (result.verdict, result.provider) == ("server-denied", "Akamai")


def test_verdict_plain_403_is_server_denied_without_provider():
    result = run(measurement(403, NGINX_403, [["Server", "nginx"]]))
    assert (result.verdict, result.provider) == ("server-denied", None)
    assert result.reasons == ["local status 403, control status 200"]


def test_verdict_451_with_blocked_by():
    headers = [["Link", '<https://authority.example/orders/42>; rel="blocked-by"']]
    result = run(measurement(451, "<h1>Unavailable For Legal Reasons</h1>", headers))
    assert (result.verdict, result.provider) == ("server-denied", None)
    assert result.reasons[0] == ("local status 451 Unavailable For Legal Reasons (RFC 7725), "
                                 "control status 200")
    assert ('the Link rel="blocked-by" header names https://authority.example/orders/42'
            in result.reasons)


def test_verdict_404_is_http_diff_not_denial():
    result = run(measurement(404, "<title>Not Found</title>"))
    assert result.verdict == "http-diff"
    assert result.reasons[0] == "local status 404, control status 200"


def test_verdict_http_diff_with_figures():
    local = measurement(200, "<title>Maintenance</title>" + "x" * 40,
                        [["Content-Type", "text/html"], ["X-Filter", "on"]])
    control = measurement(200, "<title>Example Domain</title>" + "y" * 1500)
    result = run(local, control)
    assert result.verdict == "http-diff"
    assert result.reasons[0] == "the answers differ in body length, title and uncommon headers"
    assert "body length ratio 0.04" in result.reasons
    assert "titles share no word" in result.reasons and "uncommon headers differ" in result.reasons
    assert result.comparison["body_length_match"] is False


def test_verdict_similar_enough_is_accessible():
    # Dynamic page: body shorter, but the title and uncommon headers agree (OONI's rule).
    local = measurement(200, "<title>Example Domain today</title>" + "x" * 100)
    control = measurement(200, "<title>Example Domain</title>" + "y" * 1500)
    assert run(local, control).verdict == "accessible"


def test_verdict_truncated_bodies_are_not_compared_by_length():
    result = run(measurement(truncated=True))
    assert result.comparison["body_length_match"] is None
    assert result.verdict == "accessible"


def test_verdict_control_unreachable_is_inconclusive():
    result = run(measurement(403, CF_1009, CF), None, "control helper unreachable: "
                 "connection_refused")
    assert result.verdict == "inconclusive"
    assert result.reasons[0] == "control unavailable: control helper unreachable: " \
                                "connection_refused"
    assert result.provider == "Cloudflare"       # what was seen is still named
    failed = run(measurement(tcp_failure="connection_refused"), None, "generic_timeout_error")
    assert failed.verdict == "inconclusive"
    assert failed.reasons == ["control unavailable: generic_timeout_error",
                              "local fetch failed (connection_refused)"]


def test_verdict_control_refused_too():
    same = run(measurement(403, CF_1009, CF), measurement(403, CF_1009, CF))
    assert same.verdict == "inconclusive" and "refused too" in same.reasons[1]
    denied = run(measurement(200), measurement(403, NGINX_403, [["Server", "nginx"]]))
    assert denied.verdict == "inconclusive"
    assert denied.reasons == ["control status 403, local status 200: the control cannot vouch "
                              "for the site"]
    down = run(measurement(tcp_failure="connection_refused"),
               measurement(tcp_failure="connection_refused"))
    assert down.verdict == "inconclusive"
    assert down.reasons[0] == "control got no response (connection_refused)"


def test_verdict_dns_nxdomain():
    result = run(measurement(dns_failure="dns_nxdomain_error"))
    assert result.verdict == "dns-tampering"
    assert result.reasons == ["system resolver answered NXDOMAIN (dns_nxdomain_error) while the "
                              "control resolved 1 address(es) (93.184.216.34)"]
    assert result.comparison["dns_experiment_failure"] == "dns_nxdomain_error"


def test_verdict_dns_bogon():
    result = run(measurement(addresses=("10.10.34.34",), asn=None, tcp_failure="generic_"
                                                                             "timeout_error"))
    assert result.verdict == "dns-tampering"
    assert "bogon address(es) 10.10.34.34" in result.reasons[0]


def test_verdict_dns_by_asn_like_ooni():
    # A CDN answering other addresses of the same network: consistent.
    cdn = run(measurement(addresses=("93.184.216.99",)))
    assert cdn.comparison["dns_consistency"] == "consistent" and cdn.verdict == "accessible"
    # Other network but the fetch is fine: inconsistent, yet no tampering shown.
    other = run(measurement(addresses=("151.101.1.69",), asn=64500))
    assert other.comparison["dns_consistency"] == "inconsistent"
    assert other.verdict == "accessible"
    # Other network and the fetch fails: DNS tampering (OONI's "dns" blocking).
    bad = run(measurement(addresses=("151.101.1.69",), asn=64500, tcp_failure="connection_"
                                                                           "refused"))
    assert bad.verdict == "dns-tampering"
    assert bad.reasons[0].startswith("DNS answers share no address and no ASN with the "
                                     "control's (local 151.101.1.69, control 93.184.216.34; "
                                     "ASNs AS64500 vs AS15133)")
    # Other network and a different page: DNS tampering too.
    diff = run(measurement(200, "<title>Hijacked</title>", [], addresses=("151.101.1.69",),
                           asn=64500))
    assert diff.verdict == "dns-tampering"


def second_resolver(local: dict, failure: str | None, addresses=()) -> dict:
    local["queries"].append({
        "hostname": "www.example.com", "query_type": "A", "engine": "udp",
        "resolver_address": "192.0.2.53:53", "failure": failure, "t": 0.02,
        "answers": [{"answer_type": "A", "ipv4": a, "asn": None} for a in addresses]})
    return local


def test_verdict_two_local_resolvers():
    # The configured resolver says NXDOMAIN while the system one answers: a lie.
    lying = run(second_resolver(measurement(), "dns_nxdomain_error"))
    assert lying.verdict == "dns-tampering"
    assert lying.reasons[0].startswith("udp resolver 192.0.2.53:53 answered NXDOMAIN")
    # It times out while the system one answers: flakiness, the site is accessible.
    assert run(second_resolver(measurement(), "generic_timeout_error")).verdict == "accessible"
    # It answers a private address the control never gave: a lie too.
    bogon = run(second_resolver(measurement(), None, ("10.10.34.35",)))
    assert bogon.verdict == "dns-tampering"
    assert bogon.reasons[0].startswith("udp resolver 192.0.2.53:53 answered bogon address(es) "
                                       "10.10.34.35")


def test_verdict_resolver_failing_at_both_vantages_is_not_tampering():
    """A name only the configured resolver knows (a local zone): the system resolvers of both
    sides fail alike, which says nothing about this vantage."""
    local = second_resolver(measurement(dns_failure="dns_nxdomain_error"), None,
                            ("93.184.216.34",))
    control = second_resolver(measurement(dns_failure="dns_nxdomain_error"), None,
                              ("93.184.216.34",))
    for side in (local, control):   # both fetched the site through the udp resolver's answer
        side.update({key: value for key, value in measurement().items() if key != "queries"})
    assert decide(URL, local, control, None, FP).verdict == "accessible"
    # Only the local system resolver failing is still a sign of tampering.
    control_ok = second_resolver(measurement(), None, ("93.184.216.34",))
    assert decide(URL, local, control_ok, None, FP).verdict == "dns-tampering"


def test_verdict_resolver_asns_fill_missing_asns():
    local = measurement(addresses=("93.184.216.99",), asn=None)
    control = measurement(addresses=("93.184.216.34",), asn=None)
    known = {"93.184.216.99": 15133, "93.184.216.34": 15133}
    assert run(local, control, resolver_asns=known).comparison["dns_consistency"] == "consistent"
    assert run(local, control, resolver_asns=known.get).comparison["dns_consistency"] == \
        "consistent"
    assert run(local, control).comparison["dns_consistency"] == "inconsistent"


def test_verdict_tcp_blocked():
    result = run(measurement(tcp_failure="generic_timeout_error"))
    assert result.verdict == "tcp-blocked"
    assert result.reasons == ["all 1 local TCP connect(s) failed (93.184.216.34:443 "
                              "generic_timeout_error) while the control connected and got "
                              "status 200"]


@pytest.mark.parametrize("failure", ["connection_reset", "eof_error", "ssl_invalid_certificate",
                                     "generic_timeout_error"])
def test_verdict_tls_interference(failure):
    result = run(measurement(tls_failure=failure))
    assert result.verdict == "tls-interference"
    assert result.reasons == [f"all 1 local TLS handshake(s) failed ({failure}) while the "
                              "control's handshake succeeded and it got status 200"]


def test_verdict_tls_failure_of_the_request_only():
    local = measurement(http_failure="ssl_unknown_authority")
    local["tls_handshakes"] = []
    assert run(local).verdict == "tls-interference"


def test_verdict_http_failure_after_connect():
    result = run(measurement(http_failure="connection_reset", https=False),
                 measurement(https=False))
    assert result.verdict == "http-diff"
    assert result.reasons == ["local HTTP request failed (connection_reset) while the control "
                              "got status 200"]


def test_verdict_censorship_block_page():
    plain = run(measurement(200, IRAN, []))
    assert plain.verdict == "http-diff" and plain.provider is None
    assert plain.reasons[0] == ("local answer is the Iran national filtering block page "
                                "(ir-iframe-10-10-34), status 200")
    dns = run(measurement(200, IRAN, [], addresses=("151.101.1.69",), asn=64500))
    assert dns.verdict == "dns-tampering"


@pytest.mark.parametrize("local", [
    {}, {"queries": "x", "requests": [None, 5], "tcp_connect": {"a": 1}},
    {"requests": [{"response": {"code": "200", "body": 7}}]},
    {"requests": [{"response": {"code": 200, "body": {"format": "base64", "data": "%%%"},
                                "headers_list": [["a"], 5, None]}}]},
    {"queries": [{"answers": [{"ipv4": "not-an-ip", "asn": "x"}, 7]}, None]},
])
def test_verdict_malformed_measurements_do_not_crash(local):
    assert run(local).verdict in VERDICTS
    assert run(local, None, "down").verdict == "inconclusive"


def test_verdict_module_documents_every_verdict():
    for name in VERDICTS:
        assert f"``{name}``" in verdict.__doc__


def test_verdict_helpers():
    assert verdict.title_match("Example Domain", "Example Domain - news") is True
    assert verdict.title_match("Blocked page", "Example Domain") is False
    assert verdict.title_match("403", "Example Domain") is None
    assert verdict.headers_match([["Date", "x"]], [["Server", "y"]]) is True
    assert verdict.headers_match([["X-A", "1"]], [["x-a", "2"], ["X-B", "3"]]) is True
    assert verdict.headers_match([["X-A", "1"]], [["X-B", "2"]]) is False
    assert dns_check.is_bogon("10.10.34.34") and dns_check.is_bogon("::1")
    assert not dns_check.is_bogon("93.184.216.34") and not dns_check.is_bogon("nonsense")


# ------------------------------------------------------------------------------- vantage

@pytest.fixture
def maxmind() -> Path:
    return FIXTURES / "maxmind-test-mmdb"


@pytest.fixture
def built_db(tmp_path) -> Path:
    """The test farm's layout: 127.0.0.2 is in Cuba (AS27725), 127.0.0.3 in Switzerland."""
    mmdb_writer = pytest.importorskip("mmdb_writer")
    from netaddr import IPSet

    writer = mmdb_writer.MMDBWriter(ip_version=6, ipv4_compatible=True,
                                    database_type="Sentinelle-Farm", description="test")
    writer.insert_network(IPSet(["127.0.0.2/32"]), {
        "country": {"iso_code": "CU"}, "autonomous_system_number": 27725,
        "autonomous_system_organization": "Empresa de Telecomunicaciones de Cuba"})
    writer.insert_network(IPSet(["127.0.0.3/32"]), {
        "country": {"iso_code": "CH"}, "autonomous_system_number": 559,
        "autonomous_system_organization": "SWITCH"})
    writer.insert_network(IPSet(["2001:db8::/32"]), {"country": {"iso_code": "SY"}})
    path = tmp_path / "farm.mmdb"
    writer.to_db_file(str(path))
    return path


def test_vantage_maxmind_test_databases(maxmind):
    country, asn = maxmind / "GeoLite2-Country-Test.mmdb", maxmind / "GeoLite2-ASN-Test.mmdb"
    ok = vantage.identify("1.128.0.1", "au", "AS1221", country, asn)
    assert ok["self_reported"] == {"cc": "AU", "asn": 1221}
    assert ok["geoip"]["asn"] == 1221 and ok["geoip"]["as_org"] == "Telstra Pty Ltd"
    assert ok["geoip"]["network"] == "1.128.0.0/11"
    assert ok["geoip"]["db"] == "GeoLite2-Country-Test.mmdb"
    assert ok["geoip"]["db_build"][:2] == "20" and len(ok["geoip"]["db_build"]) == 10
    assert ok["mismatch"] is False and ok["mismatch_reasons"] == [] and ok["ip"] == "1.128.0.1"
    wrong = vantage.identify("81.2.69.142", "CU", None, country, asn)
    assert wrong["geoip"]["cc"] == "GB" and wrong["mismatch"] is True
    assert wrong["mismatch_reasons"] == [
        "self-reported country CU, GeoIP country GB for 81.2.69.142 "
        f"(GeoLite2-Country-Test.mmdb built {wrong['geoip']['db_build']})"]
    other_as = vantage.identify("1.128.0.1", None, 27725, country, asn)
    assert other_as["mismatch_reasons"] == [
        "self-reported AS27725, GeoIP AS1221 for 1.128.0.1 "
        f"(GeoLite2-ASN-Test.mmdb built {other_as['geoip']['asn_db_build']})"]


@pytest.mark.skipif(not (SHARED / "probe" / "maxmind-test-mmdb").exists(),
                    reason="../shared/data is not here")
def test_vantage_fixture_copies_are_verbatim():
    for name in ("GeoLite2-Country-Test.mmdb", "GeoLite2-ASN-Test.mmdb", "LICENSE-MIT"):
        shared = SHARED / "probe" / "maxmind-test-mmdb" / name
        assert (FIXTURES / "maxmind-test-mmdb" / name).read_bytes() == shared.read_bytes()


def test_vantage_built_database_one_file_for_both(built_db):
    cuba = vantage.identify("127.0.0.2", "CU", 27725, built_db, None)
    assert cuba["geoip"]["cc"] == "CU" and cuba["geoip"]["asn"] == 27725
    assert cuba["mismatch"] is False
    swiss = vantage.identify("127.0.0.3", "CU", 27725, built_db, built_db)
    assert swiss["geoip"]["cc"] == "CH" and swiss["mismatch"] is True
    assert len(swiss["mismatch_reasons"]) == 2
    six = vantage.identify("2001:db8::5", None, None, None, built_db)
    assert six["geoip"]["cc"] == "SY" and six["geoip"]["asn"] is None
    unknown = vantage.identify("192.0.2.1", "CU", 27725, built_db, None)
    assert unknown["geoip"]["cc"] is None and unknown["mismatch"] is False
    with vantage.GeoDB(built_db) as db:
        assert db.asn("127.0.0.2") == 27725 and db.asn("junk") is None
        # The GeoDB lookup feeds DNS comparison by ASN.
        local = measurement(addresses=("127.0.0.2",), asn=None)
        control = measurement(addresses=("127.0.0.3",), asn=None)
        assert decide(URL, local, control, None, FP, db.asn).comparison[
            "dns_consistency"] == "inconsistent"


def test_vantage_without_address_or_database():
    record = vantage.identify(None, "CU", 27725, None, None)
    assert record["geoip"]["cc"] is None and record["ip"] is None
    assert record["mismatch"] is False
    assert vantage.best(record) == ("CU", 27725)
    assert vantage.best({"self_reported": {}, "geoip": {"cc": "CH", "asn": 559}}) == ("CH", 559)
    assert vantage.best(None) == (None, None)


@pytest.mark.parametrize(("args", "message"), [
    (("not-an-ip", None, None), "is not an IP address"),
    (("127.0.0.2", "Cuba", None), "two-letter"),
    (("127.0.0.2", None, "AS-X"), "is not a number"),
    (("127.0.0.2", None, 2**32), "is not a number"),
])
def test_vantage_bad_input(args, message):
    with pytest.raises(VantageError, match=message):
        vantage.identify(*args, None, None)


def test_vantage_bad_database(tmp_path):
    with pytest.raises(VantageError, match="not found"):
        vantage.identify("127.0.0.2", None, None, tmp_path / "missing.mmdb", None)
    junk = tmp_path / "junk.mmdb"
    junk.write_bytes(b"<html>not a database</html>" * 10)
    with pytest.raises(VantageError, match="not a readable MMDB"):
        vantage.identify("127.0.0.2", None, None, junk, None)


def test_vantage_geodb_closes(built_db):
    db = vantage.GeoDB(built_db, built_db)
    assert db.describe()["db"] == "farm.mmdb"
    db.close()
    db.close()
