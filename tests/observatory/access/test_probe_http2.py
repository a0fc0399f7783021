"""Fetching as a browser does (issue 15, point 3), on the farm's HTTP/2 server
(tests/observatory/access/probe_farm_h2.py): ALPN h2 negotiated and spoken, its failures named,
bodies decoded and bounded, cookies carried across a redirect, the browser header set sent in
Chrome's order, the control helper told to fetch the same way, and whole `probe run`s whose verdict
changes with --no-h2 and --browser-headers."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import pytest

pytest.importorskip("dnslib")
pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")
pytest.importorskip("h2")

from sentinelle.observatory.access import cli  # noqa: E402
from sentinelle.observatory.access import helper as helper_mod  # noqa: E402
from sentinelle.observatory.access import measure as m  # noqa: E402
from tests.observatory.access import probe_farm  # noqa: E402
from tests.observatory.access.probe_farm import CONTROL_IP, PROBE_IP, TOKEN  # noqa: E402
from tests.observatory.access.probe_farm_h2 import COOKIE  # noqa: E402


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


@pytest.fixture(scope="module")
def control(farm):
    yield from probe_farm.running_control(farm)


def config(farm, bind=PROBE_IP, **extra) -> m.MeasureConfig:
    cfg = m.MeasureConfig(resolver=m.parse_resolver(farm.resolver), bind=bind,
                          ca_file=str(farm.ca_file), system_resolver=False, **extra)
    cfg.set_timeout(2)
    return cfg


def measure(url: str, cfg: m.MeasureConfig) -> m.Measurement:
    return asyncio.run(m.measure(url, cfg))


def h2url(farm, host: str, path: str = "/") -> str:
    return f"https://{host}.farm.test:{farm.ports['h2']}{path}"


def body(entry: dict) -> bytes:
    return m.body_bytes(entry["response"]["body"])


# ---- HTTP/2 -----------------------------------------------------------------------------------

def test_h2_is_negotiated_and_spoken(farm):
    result = measure(h2url(farm, "gzip"), config(farm))
    keys = result.keys
    assert keys["failure"] is None
    assert keys["tls_handshakes"][0]["negotiated_protocol"] == "h2"
    entry = keys["requests"][0]
    assert entry["alpn"] == "h2" and entry["request"]["x_protocol"] == "h2"
    assert entry["response"]["code"] == 200
    assert body(entry) == probe_farm.site_page("gzip.farm.test")
    # The headers as received, HTTP/2's lower-case names; the transcript names the protocol.
    assert ["content-encoding", "gzip"] in entry["response"]["headers_list"]
    http = [t for t in result.transcripts if t["type"] == "http"][0]
    assert http["protocol"] == "h2" and http["header_set"] == "bare"
    assert http["request_head"].startswith(":method: GET\r\n:authority: gzip.farm.test:")
    assert ":status: 200\r\n" in http["response_head"]
    # The server saw an h2 request with the bare set.
    protocol, headers = farm.h2.requests["gzip.farm.test"][-1]
    assert protocol == "h2" and ("accept-encoding", "gzip, deflate, br") in headers


def test_no_h2_offers_only_http11(farm):
    keys = measure(h2url(farm, "gzip"), config(farm, http2=False)).keys
    assert keys["tls_handshakes"][0]["negotiated_protocol"] == "http/1.1"
    entry = keys["requests"][0]
    assert entry["alpn"] == "http/1.1" and entry["request"]["x_protocol"] == "http/1.1"
    assert body(entry) == probe_farm.site_page("gzip.farm.test")
    assert farm.h2.requests["gzip.farm.test"][-1][0] == "http/1.1"


def test_a_server_without_h2_still_speaks_http11(farm):
    # The farm's other HTTPS servers offer only http/1.1: the probe's h2 offer changes nothing.
    keys = measure(farm.url("accessible-https"), config(farm)).keys
    assert keys["failure"] is None and keys["requests"][0]["alpn"] == "http/1.1"


def test_the_h2_only_geoblock(farm):
    blocked = measure(h2url(farm, "h2geo"), config(farm)).keys["requests"][0]
    assert blocked["response"]["code"] == 403 and b"1009" in body(blocked)
    plain = measure(h2url(farm, "h2geo"), config(farm, http2=False)).keys["requests"][0]
    assert plain["response"]["code"] == 200
    swiss = measure(h2url(farm, "h2geo"), config(farm, bind=CONTROL_IP)).keys["requests"][0]
    assert swiss["response"]["code"] == 200


@pytest.mark.parametrize("host, failure", [
    ("rst", "http2_stream_reset: error code REFUSED_STREAM"),
    ("goaway", "http2_goaway: error code PROTOCOL_ERROR"),
    ("trunc", "eof_error"),
])
def test_h2_failures_are_named(farm, host, failure):
    keys = measure(h2url(farm, host), config(farm)).keys
    assert keys["failure"].startswith(failure)
    assert keys["requests"][0]["failure"] == keys["failure"]
    if host == "trunc":        # what came before the end is kept
        entry = keys["requests"][0]
        assert entry["response"]["code"] == 200
        assert 0 < entry["response"]["body_length"] < len(probe_farm.site_page("trunc.farm.test"))


def test_h2_body_is_cut_at_the_cap(farm):
    keys = measure(h2url(farm, "gzip", "/big"), config(farm, max_body=50_000)).keys
    entry = keys["requests"][0]
    assert keys["failure"] is None
    assert entry["response"]["body_length"] == 50_000 and entry["response"]["body_is_truncated"]


def test_h2_timeout(farm):
    # A TLS listener that negotiates h2 and then never says a word: the HTTP timeout ends it.
    async def stall(reader, writer):
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(5)
        writer.close()

    async def start():
        server = await asyncio.start_server(stall, probe_farm.SERVER_IP, 0, ssl=farm.h2.ctx)
        farm.servers.append(server)
        return server.sockets[0].getsockname()[1]

    port = farm.thread.call(start())
    cfg = config(farm)
    cfg.http_timeout = 0.5
    keys = measure(f"https://stall.farm.test:{port}/", cfg).keys
    assert keys["failure"] == "generic_timeout_error"
    assert keys["requests"][0]["alpn"] == "h2"


async def _hostile_h2(kind: str, reader, writer) -> None:
    """One hostile HTTP/2 answer (after ALPN h2 was agreed)."""
    import h2.config
    import h2.connection
    import h2.events

    try:
        if kind == "http1":                   # agreed h2, speaks HTTP/1.1
            await reader.read(65536)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
            await asyncio.sleep(1)
            return
        conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=False, validate_outbound_headers=False,
            normalize_outbound_headers=False))
        conn.initiate_connection()
        writer.write(conn.data_to_send())
        while True:
            data = await reader.read(65536)
            if not data:
                return
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    if kind == "bad-status":
                        headers = [(":status", "abc")]
                    else:                     # huge: 200 kB of headers
                        headers = [(":status", "200"),
                                   *((f"x-h{i}", "v" * 1000) for i in range(200))]
                    conn.send_headers(event.stream_id, headers, end_stream=True)
            writer.write(conn.data_to_send())
            await writer.drain()
    except Exception:  # noqa: BLE001, S110 - the client hung up: that is the test
        pass
    finally:
        writer.close()


@pytest.mark.parametrize("kind, failure", [
    ("http1", "http2_protocol_error"),
    ("bad-status", "http2_protocol_error"),
    ("huge", "http2_protocol_error"),
])
def test_hostile_h2_answers_are_failures_not_exceptions(farm, kind, failure):
    async def start():
        server = await asyncio.start_server(lambda r, w: _hostile_h2(kind, r, w),
                                            probe_farm.SERVER_IP, 0, ssl=farm.h2.ctx)
        farm.servers.append(server)
        return server.sockets[0].getsockname()[1]

    port = farm.thread.call(start())
    keys = measure(f"https://hostile.farm.test:{port}/", config(farm)).keys
    assert keys["requests"][0]["alpn"] == "h2"
    assert keys["failure"].startswith(failure), keys["failure"]


# ---- content encoding ---------------------------------------------------------------------

@pytest.mark.parametrize("path, coding", [("/", "gzip"), ("/br", "br"), ("/deflate", "deflate")])
@pytest.mark.parametrize("http2", [True, False])
def test_bodies_are_decoded_before_they_are_judged(farm, path, coding, http2):
    result = measure(h2url(farm, "gzip", path), config(farm, http2=http2))
    entry = result.keys["requests"][0]
    page = probe_farm.site_page("gzip.farm.test")
    assert body(entry) == page and entry["response"]["body_length"] == len(page)
    assert entry["response"]["x_content_encoding"] == coding
    assert entry["response"]["x_body_encoded_length"] < len(page)
    http = [t for t in result.transcripts if t["type"] == "http"][0]
    assert http["body_bytes_read"] == entry["response"]["x_body_encoded_length"]
    assert http["body_decoded_length"] == len(page) and http["content_encoding"] == coding


def test_the_bomb_is_bounded(farm):
    keys = measure(h2url(farm, "gzip", "/bomb"), config(farm, max_body=1024 * 1024)).keys
    response = keys["requests"][0]["response"]
    assert keys["failure"] is None
    assert response["body_length"] == 1024 * 1024 and response["body_is_truncated"]
    assert response["x_body_encoded_length"] < 100_000


@pytest.mark.parametrize("http2", [True, False])
def test_a_body_that_does_not_decode_is_a_failure(farm, http2):
    keys = measure(h2url(farm, "gzip", "/bad"), config(farm, http2=http2)).keys
    assert keys["failure"].startswith("http_content_decoding_error: gzip")
    assert keys["requests"][0]["response"]["code"] == 200      # the raw answer is kept


# ---- cookies and headers ------------------------------------------------------------------

def test_the_cookie_set_on_a_redirect_is_sent_on_the_next_hop(farm):
    keys = measure(h2url(farm, "cookie"), config(farm)).keys
    assert keys["failure"] is None and keys["x_redirects"] == 1
    final, first = keys["requests"]
    assert first["response"]["code"] == 302 and final["response"]["code"] == 200
    assert "cookie" not in dict(first["request"]["headers_list"])
    assert dict(final["request"]["headers_list"])["cookie"] == COOKIE   # not other.test's
    # Without the cookie, the follow-up is refused: the cookie is what made the difference.
    alone = measure(h2url(farm, "cookie", "/home"), config(farm)).keys["requests"][0]
    assert alone["response"]["code"] == 403


@pytest.mark.parametrize("http2", [True, False])
def test_browser_headers_are_sent_in_chromes_order(farm, http2):
    keys = measure(h2url(farm, "gzip"), config(farm, http2=http2, browser_headers=True)).keys
    assert keys["requests"][0]["request"]["x_header_set"] == "browser"
    _protocol, received = farm.h2.requests["gzip.farm.test"][-1]
    names = [k.lower() for k, _ in received if k.lower() not in ("host", "connection")]
    assert names == ["sec-ch-ua", "sec-ch-ua-mobile", "sec-ch-ua-platform",
                     "upgrade-insecure-requests", "user-agent", "accept", "sec-fetch-site",
                     "sec-fetch-mode", "sec-fetch-user", "sec-fetch-dest", "accept-encoding",
                     "accept-language"]


# ---- the control helper ---------------------------------------------------------------------

def ask(control_url: str, url: str, farm, **options) -> dict:
    client = helper_mod.ControlClient(control_url, TOKEN, bind=PROBE_IP)
    return asyncio.run(client.measure(url, farm.resolver, 2, system_resolver=False, **options))


def test_the_helper_fetches_as_the_probe_asks(farm, control):
    answer = ask(control.url, h2url(farm, "gzip"), farm, http2=False, browser_headers=True)
    assert answer["fetch"] == {"http2": False, "browser_headers": True}
    entry = answer["measurement"]["requests"][0]
    assert entry["alpn"] == "http/1.1" and entry["request"]["x_header_set"] == "browser"
    assert "sec-fetch-mode" in {k.lower() for k, _ in entry["request"]["headers_list"]}
    answer = ask(control.url, h2url(farm, "gzip"), farm)
    assert answer["fetch"] == {"http2": True, "browser_headers": False}
    assert answer["measurement"]["requests"][0]["alpn"] == "h2"


def test_the_helper_refuses_options_of_the_wrong_type(farm, control):
    from tests.observatory.access.test_probe_measure import call

    for bad in ({"http2": "yes"}, {"browser_headers": 1}):
        status, answer, _ = call(control.url, "POST", "/v1/measure",
                                 {"url": h2url(farm, "gzip"), "resolver": farm.resolver,
                                  "system_resolver": False, **bad})
        assert status == 400 and next(iter(bad)) in answer["error"]


class _OldHelper(helper_mod.HelperServer):
    """A helper from before these options: ignores them and does not say how it fetched."""

    async def measure(self, body, client, local_ip):
        request = json.loads(body)
        request.pop("http2", None)
        request.pop("browser_headers", None)
        request["http2"] = False          # an old helper spoke HTTP/1.1 only
        status, answer, extra = await super().measure(json.dumps(request).encode(), client,
                                                      local_ip)
        answer.pop("fetch", None)
        return status, answer, extra


@pytest.fixture(scope="module")
def old_control(farm):
    helper = probe_farm.ControlHelper(farm)
    helper.thread.call(helper.server.close())
    helper.server = helper.thread.call(_make_old(helper.config))
    host, port = helper.thread.call(helper.server.start())
    helper.url = f"http://{host}:{port}"
    try:
        yield helper
    finally:
        helper.stop()


async def _make_old(config):
    return _OldHelper(config)


# ---- whole runs -----------------------------------------------------------------------------

def run_probe(farm, control_url: str, tmp_path: Path, urls: list[str], *more: str) -> dict:
    tmp_path.mkdir(parents=True, exist_ok=True)
    listing = tmp_path / "list.csv"
    listing.write_text("url,category_code\n" + "".join(f"{u},NEWS\n" for u in urls))
    output = tmp_path / "out.jsonl"
    bundle = tmp_path / "evidence.zip"
    args = ["run", "--list", str(listing), "--control", control_url, "--control-token", TOKEN,
            "--output", str(output), "--bind", PROBE_IP, "--timeout", "2",
            "--resolver", farm.resolver, "--no-system-resolver", "--ca-file", str(farm.ca_file),
            "--self-cc", "CU", "--no-progress", "--bundle", str(bundle), *more]
    assert cli.main(args) == 0
    lines = {x["input"]: x for x in map(json.loads, output.read_text().splitlines())}
    return {"lines": lines, "bundle": bundle}


def test_run_h2_geoblock_seen_with_h2_and_missed_without(farm, control, tmp_path):
    url = h2url(farm, "h2geo")
    line = run_probe(farm, control.url, tmp_path / "a", [url])["lines"][url]
    assert (line["verdict"], line["provider"]) == ("geoblocked", "Cloudflare")
    assert line["x_fetch"] == {"http2": True, "header_set": "bare"}
    assert line["x_control_fetch"] == {"http2": True, "header_set": "bare"}
    assert line["test_keys"]["requests"][0]["alpn"] == "h2"
    line = run_probe(farm, control.url, tmp_path / "b", [url], "--no-h2")["lines"][url]
    assert line["verdict"] == "accessible"
    assert line["x_fetch"]["http2"] is False and line["x_control_fetch"]["http2"] is False


def test_run_browser_only_block_needs_browser_headers(farm, control, tmp_path):
    from sentinelle.evidence import bundle as bundle_mod

    url = h2url(farm, "browseronly")
    line = run_probe(farm, control.url, tmp_path / "a", [url])["lines"][url]
    assert line["verdict"] == "accessible"
    run = run_probe(farm, control.url, tmp_path / "b", [url], "--browser-headers")
    line = run["lines"][url]
    assert (line["verdict"], line["provider"]) == ("geoblocked", "Amazon CloudFront")
    assert line["x_control_fetch"] == {"http2": True, "header_set": "browser"}
    manifest = bundle_mod.read_manifest(run["bundle"])
    assert manifest["fetch"] == {"http2": True, "header_set": "browser"}
    transcript = json.loads(bundle_mod.read_member(run["bundle"], "transcripts/0001.json"))
    assert transcript["fetch"]["header_set"] == "browser"
    assert {t["header_set"] for t in transcript["probe"] + transcript["control"]
            if t["type"] == "http"} == {"browser"}


def test_run_cookie_redirect_is_accessible(farm, control, tmp_path):
    url = h2url(farm, "cookie")
    line = run_probe(farm, control.url, tmp_path, [url])["lines"][url]
    assert line["verdict"] == "accessible", line["verdict_reasons"]


def test_an_old_helper_does_not_break_the_probe(farm, old_control, tmp_path):
    url = h2url(farm, "gzip")
    line = run_probe(farm, old_control.url, tmp_path, [url], "--browser-headers")["lines"][url]
    assert line["verdict"] == "accessible"
    assert line["x_control_fetch"] is None          # it did not say how it fetched
    assert line["test_keys"]["requests"][0]["alpn"] == "h2"


def test_help_names_the_options(capsys):
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--no-h2" in out and "--browser-headers" in out


def test_the_frame_guard_refuses_huge_frames_before_they_are_buffered():
    from sentinelle.observatory.access.failures import Http2Failure
    from sentinelle.observatory.access.http2 import _FrameGuard

    guard = _FrameGuard(16384)
    settings = (6).to_bytes(3, "big") + b"\x04\x00" + b"\0\0\0\0" + b"\x00\x03\x00\x00\x00\x64"
    for byte in settings:                      # one byte at a time: boundaries anywhere
        guard.feed(bytes([byte]))
    data = (100).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01"
    guard.feed(data + b"x" * 100)
    with pytest.raises(Http2Failure) as caught:
        guard.feed((16 * 1024 * 1024 - 1).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01")
    assert str(caught.value) == ("http2_protocol_error: a frame of 16777215 bytes, more than "
                                 "the 16384 allowed")
    with pytest.raises(Http2Failure, match="first frame is not SETTINGS"):
        _FrameGuard(16384).feed(b"HTTP/1.1 200 OK\r\n")
