"""Our OONI-compatible lines: df-000 base keys and ts-017 test keys as in OONI's own example,
read back by Sentinelle's OONI importer with our verdicts; OONI's specification examples read by
the same importer."""

from __future__ import annotations

import datetime as dt
import io
import json
import re

import pytest

from sentinelle.exchange.formats import ooni as ooni_format
from sentinelle.exchange.records import Rejection, ReportRecord
from sentinelle.observatory.access import fingerprints, ooni
from sentinelle.observatory.access.verdict import Verdict, decide
from tests.observatory.access.test_probe_fingerprints import CF, CF_1009
from tests.observatory.access.test_probe_verdict import URL, measurement
from tests.paths import FIXTURES_DIR, SHARED_DIR

EXAMPLES = FIXTURES_DIR / "probe" / "ooni-spec-examples"
SHARED = SHARED_DIR / "data"
EXAMPLE = json.loads((EXAMPLES / "ts-017-web-connectivity.measurement.json").read_text())
CONTROL_EXAMPLE = json.loads(
    (EXAMPLES / "ts-017-web-connectivity.control-response.json").read_text())
FP = fingerprints.load()
CUBA = {"self_reported": {"cc": "CU", "asn": 27725},
        "geoip": {"cc": "CU", "asn": 27725, "as_org": "Empresa de Telecomunicaciones de Cuba",
                  "network": "127.0.0.2/32", "db": "farm.mmdb", "db_build": "2026-11-01",
                  "asn_db": None, "asn_db_build": None},
        "ip": "127.0.0.2", "mismatch": False, "mismatch_reasons": []}
SWISS = {**CUBA, "self_reported": {"cc": "CH", "asn": 559}, "ip": "127.0.0.3"}
STARTED = dt.datetime(2026, 11, 28, 13, 0, 5, tzinfo=dt.UTC)


def line_for(local: dict, control: dict | None = None, control_failure: str | None = None,
             **kw) -> dict:
    control = measurement() if control is None and not control_failure else control
    result = decide(URL, local, control, control_failure, FP)
    return ooni.measurement_line(
        URL, "NEWS", local, control, result, CUBA, STARTED, 1.25,
        "20261128T130005Z_webconnectivity_CU_27725_n1_abcdefghijklmnop",
        control_vantage=SWISS, control_url="https://127.0.0.3:9443/",
        control_failure=control_failure, resolver_ip="127.0.0.53", resolver_asn=27725, **kw)


def parse(data: bytes) -> list:
    return list(ooni_format.parse(io.BytesIO(data), name="probe.jsonl"))


def test_ooni_line_has_every_base_key_of_the_example():
    line = line_for(measurement(403, CF_1009, CF))
    missing = set(EXAMPLE) - set(line)
    assert not missing
    ignored = {"network_events"}          # raw socket events: we keep them in transcripts
    wanted = {k for k in EXAMPLE["test_keys"] if not k.startswith("x_")} - ignored
    assert not wanted - set(line["test_keys"])
    assert line["data_format_version"] == "0.2.0"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", line["measurement_start_time"])
    assert line["measurement_start_time"] == "2026-11-28 13:00:05"
    assert line["test_start_time"] == line["measurement_start_time"]
    assert (line["probe_asn"], line["probe_cc"], line["probe_ip"]) == ("AS27725", "CU",
                                                                       "127.0.0.1")
    assert line["probe_network_name"] == "Empresa de Telecomunicaciones de Cuba"
    assert (line["resolver_asn"], line["resolver_ip"]) == ("AS27725", "127.0.0.53")
    assert line["software_name"] == "sentinelle-probe" and line["software_version"]
    assert line["test_name"] == "web_connectivity" and line["test_runtime"] == 1.25
    assert line["test_helpers"] == {"backend": {"address": "https://127.0.0.3:9443/",
                                                "type": "https"}}
    assert line["input"] == URL and line["category_code"] == "NEWS"
    assert (line["verdict"], line["provider"]) == ("geoblocked", "Cloudflare")
    assert line["verdict_reasons"][0].startswith("local answer (status 403) matches")
    assert line["vantage"] == CUBA and line["control_vantage"] == SWISS
    keys = line["test_keys"]
    assert keys["blocking"] == "http-diff" and keys["accessible"] is False
    assert keys["status_code_match"] is False and keys["dns_consistency"] == "consistent"
    assert keys["requests"][0]["response"]["headers"]["Server"] == "cloudflare"
    assert keys["control_failure"] is None
    for name, types in {"annotations": dict, "test_keys": dict, "test_helpers": dict,
                        "extensions": dict, "test_runtime": float, "report_id": str}.items():
        assert isinstance(line[name], types), name


def test_ooni_control_has_the_helper_response_shape():
    line = line_for(measurement())
    control = line["test_keys"]["control"]
    assert set(control) == set(CONTROL_EXAMPLE)
    assert set(control["http_request"]) == set(CONTROL_EXAMPLE["http_request"])
    assert control["tcp_connect"] == {"93.184.216.34:443": {"status": True, "failure": None}}
    assert control["tls_handshake"]["93.184.216.34:443"]["status"] is True
    assert control["http_request"]["status_code"] == 200
    assert control["http_request"]["title"] == "Example Domain"
    assert control["dns"] == {"failure": None, "addrs": ["93.184.216.34"]}
    assert control["ip_info"] == {"93.184.216.34": {"asn": 15133}}
    six = measurement(addresses=("2606:2800:220:1:248:1893:25c8:1946",))
    assert "[2606:2800:220:1:248:1893:25c8:1946]:443" in ooni.control_response(six)["tcp_connect"]


@pytest.mark.parametrize(("local", "control_failure", "blocking", "accessible"), [
    (measurement(), None, False, True),
    (measurement(dns_failure="dns_nxdomain_error"), None, "dns", False),
    (measurement(tcp_failure="connection_refused"), None, "tcp_ip", False),
    (measurement(tls_failure="connection_reset"), None, "http-failure", False),
    (measurement(), "control helper unreachable", None, None),
])
def test_ooni_blocking_and_accessible(local, control_failure, blocking, accessible):
    line = line_for(local, None, control_failure)
    assert line["test_keys"]["blocking"] == blocking
    assert line["test_keys"]["accessible"] is accessible
    if control_failure:
        assert line["test_keys"]["control_failure"] == control_failure
        assert line["test_keys"]["control"] == {}


def test_ooni_our_lines_read_back_with_our_verdicts():
    lines = [line_for(measurement(403, CF_1009, CF)), line_for(measurement()),
             line_for(measurement(), None, "control helper unreachable")]
    lines[2]["input"] = "https://other.example/"
    # A body that is not UTF-8 travels as base64, as OONI writes it.
    lines[1]["test_keys"]["requests"][0]["response"]["body"] = {
        "format": "base64", "data": "//6A6Q=="}
    data = b"".join(json.dumps(x, ensure_ascii=False).encode() + b"\n" for x in lines)
    records = parse(data)
    assert not [r for r in records if isinstance(r, Rejection)]
    first, second = [r for r in records if isinstance(r, ReportRecord)]
    assert first.category == "access-denial" and first.where == "lines 1-2"
    assert "ooni:verdict=geoblocked" in first.tags and "ooni:verdict=accessible" in first.tags
    assert "geoblocked ×1" in first.description and "AS27725" in first.description
    assert "Cloudflare geoblock page cloudflare-1009" in first.description
    assert first.started_at == STARTED
    assert [a.content for a in first.attachments] == data.splitlines()[:2]
    assert ooni_format.verdict(lines[0]) == ("geoblocked", lines[0]["verdict_reasons"])
    assert ooni_format.verdict(lines[2])[0] == "inconclusive"
    assert "ooni:verdict=inconclusive" in second.tags


def test_ooni_spec_measurements_are_read_and_fragments_rejected():
    measurements = 0
    for path in sorted(EXAMPLES.glob("*.json")):
        document = json.loads(path.read_text())
        records = parse(path.read_bytes())
        if "measurement_start_time" in document:
            measurements += 1
            assert len(records) == 1 and isinstance(records[0], ReportRecord), path.name
            assert records[0].attachments[0].content == path.read_bytes().rstrip(b"\r\n")
        else:   # df-001/005/006/008 entries and the control messages are parts, not lines
            assert all(isinstance(r, Rejection) for r in records), path.name
    assert measurements == 3     # df-000 examples 1 and 3, ts-017 measurement


def test_ooni_example_blocking_read_as_ooni_says():
    [record] = parse((EXAMPLES / "ts-017-web-connectivity.measurement.json").read_bytes())
    assert "ooni:verdict=accessible" in record.tags and "AS30722" in record.description


@pytest.mark.skipif(not (SHARED / "probe" / "ooni-spec-examples").exists(),
                    reason="../shared/data is not here")
def test_ooni_fixture_copies_are_verbatim():
    shared = SHARED / "probe" / "ooni-spec-examples"
    for path in EXAMPLES.iterdir():
        if path.name != "SOURCES.txt":
            assert path.read_bytes() == (shared / path.name).read_bytes(), path.name


def test_ooni_input_is_not_changed():
    local = measurement(403, CF_1009, CF)
    before = json.dumps(local, sort_keys=True)
    line_for(local)
    assert json.dumps(local, sort_keys=True) == before


def test_ooni_times_and_report_id():
    assert ooni.ooni_time("2026-11-28T14:00:05+01:00") == "2026-11-28 13:00:05"
    assert ooni.ooni_time("2026-11-28T13:00:05Z") == "2026-11-28 13:00:05"
    assert ooni.ooni_time(dt.datetime(2026, 11, 28, 13, 0, 5)) == "2026-11-28 13:00:05"
    with pytest.raises(ValueError, match="not a date"):
        ooni.ooni_time("yesterday")
    report = ooni.make_report_id(STARTED, "CU", 27725)
    assert re.fullmatch(r"20261128T130005Z_webconnectivity_CU_27725_n1_[A-Za-z0-9]{16}", report)
    assert ooni.make_report_id(STARTED, None, None).split("_")[2:4] == ["ZZ", "0"]


def test_ooni_unknown_vantage_uses_ooni_placeholders():
    local = measurement()
    result = Verdict("accessible", ["local status 200, control status 200"])
    line = ooni.measurement_line(URL, None, local, measurement(), result, None, STARTED, 0.5,
                                 "r1")
    assert (line["probe_asn"], line["probe_cc"], line["probe_network_name"]) == ("AS0", "ZZ", "")
    assert line["test_keys"]["body_proportion"] == 1.0      # computed when the verdict has none
    assert line["test_helpers"]["backend"]["address"] == "" and line["category_code"] == ""
    json.dumps(line)
