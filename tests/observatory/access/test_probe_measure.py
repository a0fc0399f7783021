"""The access probe's parts on the local farm (tests/observatory/access/probe_farm.py): the URL
list, each phase of one measurement with its OONI failure string, redirects, the body cap, the
source address, and the control helper's protections (token, SSRF refusals, rate limit, size
cap)."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import ssl

import pytest

pytest.importorskip("dnslib")
pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")

from sentinelle.observatory.access import helper as h  # noqa: E402
from sentinelle.observatory.access import measure as m  # noqa: E402
from sentinelle.observatory.access import targets  # noqa: E402
from tests.observatory.access import probe_farm  # noqa: E402
from tests.observatory.access.probe_farm import (  # noqa: E402
    CONTROL_IP,
    PROBE_IP,
    TOKEN,
    ControlHelper,
)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


@pytest.fixture(scope="module")
def control(farm):
    yield from probe_farm.running_control(farm)


def config(farm, bind=PROBE_IP, **extra) -> m.MeasureConfig:
    cfg = m.MeasureConfig(resolver=m.parse_resolver(farm.resolver), bind=bind,
                          ca_file=str(farm.ca_file), **extra)
    cfg.set_timeout(1.5)
    return cfg


def measure(url, cfg) -> m.Measurement:
    return asyncio.run(m.measure(url, cfg))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- the list -------------------------------------------------------------------------------

def test_list_our_columns_citizenlab_columns_and_bad_lines(tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(
        b"url,category_code,notes\n"
        b"https://example.org/,NEWS,a news site\n"
        b"example.com,NEWS,no scheme\n"
        b"ftp://example.net/,FILE,wrong scheme\n"
        b",NEWS,empty\n"
        b"https://" + b"a" * 2100 + b".org/,NEWS,too long\n"
        b"\"https://broken.org/,NEWS,unclosed quote\n"
        b"\n# a comment\n"
        b"http://example.org:8080/path?q=1,HUMR\n"
        b"https://example.org/,NEWS,again\n"
        b"https://bad-category.org/,NOT A CODE!,x\n"
        b"\xff\xfe not utf-8\n")
    result = targets.read_list(path)
    assert [t.url for t in result.targets] == ["https://example.org/",
                                               "http://example.org:8080/path?q=1"]
    assert result.targets[0].category_code == "NEWS"
    assert result.targets[0].notes == "a news site"
    assert result.targets[1].line == 10
    lines = {p.line: str(p) for p in result.problems}
    assert sorted(lines) == [3, 4, 5, 6, 7, 11, 12, 13]
    assert "no scheme" in lines[3]
    assert "not http or https" in lines[4]
    assert "empty URL" in lines[5]
    assert "longer than" in lines[6]
    assert "bad CSV" in lines[7]
    assert "duplicate" in lines[11]
    assert "category" in lines[12]
    assert lines[13].startswith("line 13: not UTF-8")


def test_list_citizenlab_layout_and_no_header(tmp_path):
    path = tmp_path / "cu.csv"
    path.write_text("url,category_code,category_description,date_added,source,notes\n"
                    "https://beerinfo.com/,ALDR,Alcohol & Drugs,2025-05-13,Netalitica,Blocked\n")
    result = targets.read_list(path)
    assert [(t.url, t.category_code, t.notes) for t in result.targets] == [
        ("https://beerinfo.com/", "ALDR", "Blocked")]
    bare = tmp_path / "bare.csv"
    bare.write_text("https://a.example/,NEWS,x\nhttps://b.example/\n")
    assert [t.url for t in targets.read_list(bare).targets] == ["https://a.example/",
                                                                "https://b.example/"]


def test_list_caps_and_unreadable(tmp_path):
    path = tmp_path / "many.csv"
    path.write_text("".join(f"https://site{i}.example/,NEWS\n" for i in range(20)))
    result = targets.read_list(path, max_urls=5)
    assert len(result.targets) == 5
    assert "more than 5 URLs" in str(result.problems[-1])
    with pytest.raises(targets.TargetListError, match="more than"):
        targets.read_list(path, max_bytes=100)
    with pytest.raises(targets.TargetListError, match="cannot read"):
        targets.read_list(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x00\x01\x02")
    with pytest.raises(targets.TargetListError, match="binary"):
        targets.read_list(binary)


# ---- DNS ------------------------------------------------------------------------------------

def test_dns_system_and_configurable_resolver(farm):
    lookups = []

    def asn(ip):
        lookups.append(ip)
        return (64500, "Farm Hosting Inc.") if ip == "127.0.0.1" else (None, None)

    result = measure(farm.url("accessible-system-dns"), config(farm, asn_lookup=asn))
    engines = {(q["engine"], q["query_type"]): q for q in result.keys["queries"]}
    assert set(engines) == {("system", "A"), ("system", "AAAA"), ("udp", "A"), ("udp", "AAAA")}
    system_a = engines[("system", "A")]
    assert system_a["failure"] is None and system_a["answers"][0]["ipv4"] == "127.0.0.1"
    udp_a = engines[("udp", "A")]
    assert udp_a["resolver_address"] == farm.resolver
    assert udp_a["answers"][0] == {"answer_type": "A", "ipv4": "127.0.0.1", "ttl": 60,
                                   "asn": 64500, "as_org_name": "Farm Hosting Inc."}
    assert udp_a["raw_response"] and "127.0.0.1" in lookups
    dns = [t for t in result.transcripts if t["type"] == "dns"]
    assert {t["query_type"] for t in dns} == {"A", "AAAA"}
    assert base64.b64decode(dns[0]["query"])       # the raw query packet, for the evidence
    assert result.keys["failure"] is None


def test_dns_lies_depend_on_the_client_source(farm):
    lied = farm.url("dns-lie")
    cu = measure(lied, config(farm, system_resolver=False))
    ch = measure(lied, config(farm, bind=CONTROL_IP, system_resolver=False))
    answers = lambda r: [a.get("ipv4") for q in r.keys["queries"] for a in q["answers"]]  # noqa: E731
    assert answers(cu) == ["10.10.34.35"]
    assert answers(ch) == ["127.0.0.1"]
    assert ch.keys["requests"][0]["response"]["code"] == 200
    assert cu.keys["failure"] and not cu.keys["requests"]


def test_dns_nxdomain(farm):
    result = measure(farm.url("dns-nxdomain"), config(farm))
    assert result.keys["failure"] == "dns_nxdomain_error"
    assert {q["failure"] for q in result.keys["queries"]} == {"dns_nxdomain_error"}
    assert result.keys["tcp_connect"] == [] and result.keys["requests"] == []


def test_dns_resolver_timeout(farm):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        cfg = config(farm, system_resolver=False)
        cfg.resolver = ("127.0.0.1", silent.getsockname()[1])
        cfg.dns_timeout = 0.3
        result = measure("http://nowhere.farm.test/", cfg)
    finally:
        silent.close()
    assert result.keys["failure"] == "generic_timeout_error"


# ---- TCP ------------------------------------------------------------------------------------

def test_tcp_refused(farm):
    port = free_port()
    result = measure(f"http://127.0.0.1:{port}/", config(farm))
    assert result.keys["queries"] == []           # an address needs no DNS
    assert result.keys["tcp_connect"][0]["status"] == {
        "success": False, "failure": "connection_refused", "blocked": None}
    assert result.keys["failure"] == "connection_refused"


def test_tcp_timeout_when_syns_are_dropped(farm):
    result = measure(farm.url("tcp-drop"), config(farm))
    assert result.keys["tcp_connect"][0]["status"]["failure"] == "generic_timeout_error"
    assert result.keys["failure"] == "generic_timeout_error"
    ok = measure(farm.url("tcp-drop"), config(farm, bind=CONTROL_IP))
    assert ok.keys["failure"] is None                # the same server, another country


# ---- TLS ------------------------------------------------------------------------------------

def test_tls_handshake_keeps_the_chain(farm):
    result = measure(farm.url("accessible-https"), config(farm))
    tls = result.keys["tls_handshakes"][0]
    assert tls["failure"] is None and tls["server_name"] == "www.farm.test"
    assert tls["tls_version"].startswith("TLSv1.")
    assert tls["negotiated_protocol"] == "http/1.1"
    assert tls["peer_certificates"] and tls["peer_certificates"][0]["format"] == "base64"
    from cryptography import x509
    leaf = x509.load_der_x509_certificate(base64.b64decode(tls["peer_certificates"][0]["data"]))
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "*.farm.test" in names.get_values_for_type(x509.DNSName)


def test_tls_unknown_authority_still_records_the_certificate(farm):
    cfg = config(farm)
    cfg.ca_file = None                               # the farm's CA is not trusted now
    result = measure(farm.url("accessible-https"), cfg)
    tls = result.keys["tls_handshakes"][0]
    assert tls["failure"] == "ssl_unknown_authority"
    assert tls["peer_certificates"], "the rejected certificate is the evidence"
    assert result.keys["failure"] == "ssl_unknown_authority"
    assert result.keys["requests"] == []


def test_tls_invalid_hostname(farm):
    url = f"https://wrongname.example:{farm.ports['https']}/"
    result = measure(url, config(farm))
    assert result.keys["tls_handshakes"][0]["failure"] == "ssl_invalid_hostname"
    assert result.keys["tls_handshakes"][0]["peer_certificates"]


def test_tls_reset_and_interception(farm):
    reset = measure(farm.url("tls-reset"), config(farm))
    assert reset.keys["tls_handshakes"][0]["failure"] == "connection_reset"
    assert reset.keys["failure"] == "connection_reset"
    mitm = measure(farm.url("tls-mitm"), config(farm))
    assert mitm.keys["tls_handshakes"][0]["failure"] == "ssl_unknown_authority"
    assert measure(farm.url("tls-mitm"), config(farm, bind=CONTROL_IP)).keys["failure"] is None


# ---- HTTP -----------------------------------------------------------------------------------

def test_http_request_and_transcript(farm):
    result = measure(farm.url("cloudflare-1009-https"), config(farm))
    request = result.keys["requests"][0]
    assert request["request"]["method"] == "GET"
    assert ["Host", f"cf.farm.test:{farm.ports['https']}"] in request["request"]["headers_list"]
    response = request["response"]
    assert response["code"] == 403
    assert dict((k.lower(), v) for k, v in response["headers_list"])["server"] == "cloudflare"
    assert "has banned the country or region your IP address is in (CU)" in response["body"]
    assert response["body_length"] == len(response["body"].encode())
    http_t = [t for t in result.transcripts if t["type"] == "http"][0]
    assert http_t["request_head"].startswith("GET / HTTP/1.1\r\nHost: cf.farm.test:")
    assert http_t["response_head"].startswith("HTTP/1.1 403 Forbidden\r\n")
    assert "CF-RAY:" in http_t["response_head"]


def test_bind_chooses_the_vantage(farm):
    url = farm.url("cloudflare-1009-https")
    assert measure(url, config(farm, bind=PROBE_IP)).keys["requests"][0]["response"]["code"] \
        == 403
    assert measure(url, config(farm, bind=CONTROL_IP)).keys["requests"][0]["response"]["code"] \
        == 200


def test_http_timeout_on_a_stalled_server(farm):
    result = measure(farm.url("http-stall"), config(farm))
    assert result.keys["tcp_connect"][0]["status"]["success"] is True
    assert result.keys["requests"][0]["failure"] == "generic_timeout_error"
    assert result.keys["requests"][0]["response"]["code"] == 0
    assert result.keys["failure"] == "generic_timeout_error"


def test_redirects_are_followed_newest_first(farm):
    result = measure(farm.url("redirect-chain"), config(farm))
    codes = [r["response"]["code"] for r in result.keys["requests"]]
    assert codes == [200, 302, 302, 302]
    assert result.keys["requests"][0]["request"]["url"].endswith("/chain/0")
    assert result.keys["x_redirects"] == 3 and result.keys["failure"] is None


def test_redirects_stop_at_ten_and_on_a_loop(farm):
    base = f"https://redir.farm.test:{farm.ports['https']}"
    many = measure(f"{base}/chain/12", config(farm))
    assert many.keys["failure"] == "unknown_failure: stopped after 10 redirects"
    assert len(many.keys["requests"]) == 11
    loop = measure(f"{base}/loop", config(farm))
    assert loop.keys["failure"].startswith("unknown_failure: redirect loop")
    assert len(loop.keys["requests"]) == 2


def test_body_is_cut_at_the_cap(farm):
    result = measure(farm.url("endless-body"), config(farm, max_body=100_000))
    response = result.keys["requests"][0]["response"]
    assert response["body_is_truncated"] is True
    assert response["body_length"] == 100_000
    assert result.keys["failure"] is None


def test_failure_strings():
    assert m.failure_string(TimeoutError()) == "generic_timeout_error"
    assert m.failure_string(ConnectionRefusedError()) == "connection_refused"
    assert m.failure_string(ConnectionResetError()) == "connection_reset"
    assert m.failure_string(asyncio.IncompleteReadError(b"", 10)) == "eof_error"
    assert m.failure_string(socket.gaierror(socket.EAI_NONAME, "x")) == "dns_nxdomain_error"
    assert m.failure_string(OSError(113, "No route to host")) == "host_unreachable"
    error = ssl.SSLCertVerificationError("certificate has expired")
    error.verify_code = 10
    assert m.failure_string(error) == "ssl_invalid_certificate"
    assert m.failure_string(RuntimeError("odd")).startswith("unknown_failure")


def test_resolver_parsing():
    assert m.parse_resolver("1.1.1.1:53") == ("1.1.1.1", 53)
    assert m.parse_resolver("9.9.9.9") == ("9.9.9.9", 53)
    assert m.parse_resolver("[2606:4700::1111]:5353") == ("2606:4700::1111", 5353)
    for bad in ("dns.google:53", "1.1.1.1:0", "1.1.1.1:x"):
        with pytest.raises(ValueError):
            m.parse_resolver(bad)


# ---- the control helper ---------------------------------------------------------------------

def call(url: str, method: str, path: str, body: dict | bytes | None = None,
         token: str | None = TOKEN, headers: dict | None = None,
         source: str = PROBE_IP) -> tuple[int, dict, dict]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=20,
                                            source_address=(source, 0))
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body else None)
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    if data is not None:
        sent.setdefault("Content-Type", "application/json")
    connection.request(method, path, body=data, headers=sent)
    response = connection.getresponse()
    answer = json.loads(response.read() or b"{}")
    result = response.status, answer, dict(response.getheaders())
    connection.close()
    return result


def test_helper_needs_the_token(control):
    assert call(control.url, "GET", "/v1/identity", token=None)[0] == 401
    status, answer, headers = call(control.url, "GET", "/v1/identity", token="wrong-token!")
    assert status == 401 and "token" in answer["error"] and "Bearer" in headers[
        "WWW-Authenticate"]
    status, answer, _ = call(control.url, "GET", "/v1/identity")
    assert status == 200
    assert answer["client_ip"] == PROBE_IP               # the probe's address, as seen there
    assert answer["vantage"]["ip"] == CONTROL_IP
    assert answer["vantage"]["geoip"]["cc"] == "CH"
    assert call(control.url, "GET", "/v1/nothing")[0] == 404
    assert call(control.url, "GET", "/v1/measure")[0] == 405


def test_helper_measures_from_its_own_vantage(farm, control):
    status, answer, _ = call(control.url, "POST", "/v1/measure",
                             {"url": farm.url("cloudflare-1009-https"),
                              "resolver": farm.resolver})
    assert status == 200
    assert answer["measurement"]["requests"][0]["response"]["code"] == 200   # Swiss: the site
    assert answer["vantage"]["self_reported"] == {"cc": "CH", "asn": 3303}
    assert any(t["type"] == "http" for t in answer["transcripts"])
    for bad in ({"url": "ftp://x.example/"}, {"nothing": 1}):
        assert call(control.url, "POST", "/v1/measure", bad)[0] == 400
    assert call(control.url, "POST", "/v1/measure", b"{not json")[0] == 400


@pytest.fixture(scope="module")
def strict_helper(farm):
    """A helper as deployed: private targets refused; the farm's own server address allowed
    through --allow-net so a redirect from a 'public' site can be followed."""
    import ipaddress
    helper = ControlHelper(farm, allow_private=False,
                           allow_nets=[ipaddress.ip_network("127.0.0.1/32")])
    yield helper
    helper.stop()


@pytest.fixture(scope="module")
def closed_helper(farm):
    helper = ControlHelper(farm, allow_private=False)
    yield helper
    helper.stop()


def test_helper_refuses_a_name_resolving_to_loopback(farm, closed_helper):
    status, answer, _ = call(closed_helper.url, "POST", "/v1/measure",
                             {"url": f"http://localhost:{farm.ports['http']}/"})
    assert status == 403
    assert answer["error"] == ("refused: localhost resolves to 127.0.0.1, which is a loopback "
                               "address")
    status, answer, _ = call(closed_helper.url, "POST", "/v1/measure",
                             {"url": "http://169.254.169.254/latest/meta-data/"})
    assert status == 403 and "link-local" in answer["error"]
    status, answer, _ = call(closed_helper.url, "POST", "/v1/measure",
                             {"url": "http://www.farm.test/", "resolver": farm.resolver})
    assert status == 403 and "resolver 127.0.0.1 is a loopback address" in answer["error"]


def test_helper_refuses_private_answers_and_redirects(farm, strict_helper):
    ok = call(strict_helper.url, "POST", "/v1/measure",
              {"url": farm.url("accessible-https"), "resolver": farm.resolver})
    assert ok[0] == 200                                       # allowed by --allow-net
    status, answer, _ = call(strict_helper.url, "POST", "/v1/measure",
                             {"url": f"http://private.farm.test:{farm.ports['http']}/",
                              "resolver": farm.resolver})
    assert status == 403
    assert "private.farm.test resolves to 10.0.0.1, which is a private address" in \
        answer["error"]
    url = f"https://redir.farm.test:{farm.ports['https']}/private/{farm.ports['http']}"
    status, answer, _ = call(strict_helper.url, "POST", "/v1/measure",
                             {"url": url, "resolver": farm.resolver})
    assert status == 403
    assert "127.0.0.4" in answer["error"] and "loopback" in answer["error"]


def test_helper_rate_limit(farm):
    helper = ControlHelper(farm, rate=2)
    try:
        codes = [call(helper.url, "GET", "/v1/identity")[0] for _ in range(3)]
        assert codes == [200, 200, 429]
        status, answer, headers = call(helper.url, "GET", "/v1/identity")
        assert status == 429 and int(headers["Retry-After"]) >= 1
        assert "rate limit" in answer["error"]
        # Another client address has its own bucket.
        assert call(helper.url, "GET", "/v1/identity", source=CONTROL_IP)[0] == 200
    finally:
        helper.stop()


def test_helper_refuses_huge_requests(control):
    status, answer, _ = call(control.url, "POST", "/v1/measure", b"x" * (h.MAX_REQUEST_BODY + 1))
    assert status == 413
    status, _answer, _ = call(control.url, "GET", "/v1/identity",
                              headers={"X-Padding": "y" * (h.MAX_REQUEST_HEAD + 10)})
    assert status == 431


def test_address_policy():
    refused = {"127.0.0.1": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
               "10.1.2.3": "private", "192.168.0.1": "private", "169.254.169.254": "link-local",
               "fe80::1": "link-local", "224.0.0.1": "multicast", "0.0.0.0": "unspecified",  # noqa: S104
               "100.64.0.1": "not a public", "240.0.0.1": "reserved"}
    for ip, word in refused.items():
        assert word in (h.address_problem(ip) or ""), ip
        assert h.address_problem(ip, allow_private=True) is None
    assert h.address_problem("8.8.8.8") is None
    assert h.address_problem("2606:4700:4700::1111") is None


def test_control_client_failures(farm, control):
    async def ask(url, token=TOKEN):
        client = h.ControlClient(url, token, bind=PROBE_IP, timeout=2)
        return await client.measure(farm.url("accessible-https"), farm.resolver, 1.5)

    with pytest.raises(h.ControlError, match="unreachable: connection_refused"):
        asyncio.run(ask(f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(h.ControlError, match="answered 401"):
        asyncio.run(ask(control.url, token="wrong-token!"))
    answer = asyncio.run(ask(control.url))
    assert answer["measurement"]["requests"][0]["response"]["code"] == 200
