"""Whole probe runs on the local farm (tests/observatory/access/probe_farm.py): every scenario gets
its verdict — HTTPS geoblocking by Cloudflare's 1009 page included — an unreachable control makes
every URL inconclusive with the reason, bad list lines are reported by number and skipped, the JSON
lines read back through the OONI importer, and the evidence bundle verifies (and fails when
touched).
"""

from __future__ import annotations

import io
import json
import socket
from pathlib import Path

import pytest

from tests.paths import SHARED_DIR

pytest.importorskip("dnslib")
pytest.importorskip("trustme")
pytest.importorskip("mmdb_writer")

from sentinelle.observatory.access import cli  # noqa: E402
from tests.observatory.access import probe_farm  # noqa: E402
from tests.observatory.access.probe_farm import (  # noqa: E402
    PROBE_IP,
    SCENARIOS,
    TOKEN,
)


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    yield from probe_farm.running_farm(tmp_path_factory.mktemp("farm"))


@pytest.fixture(scope="module")
def control(farm):
    yield from probe_farm.running_control(farm)


SHARED = SHARED_DIR / "data"
OONI_EXAMPLES = SHARED / "probe" / "ooni-spec-examples"


def write_list(path: Path, farm, extra: str = "") -> Path:
    rows = ["url,category_code,notes"]
    rows += [f"{farm.url(s)},NEWS,{s.name}" for s in SCENARIOS]
    path.write_text("\n".join(rows) + "\n" + extra, encoding="utf-8")
    return path


def probe_args(farm, control_url: str, listing: Path, output: Path, *more: str) -> list[str]:
    return ["run", "--list", str(listing), "--control", control_url, "--control-token", TOKEN,
            "--output", str(output), "--bind", PROBE_IP, "--timeout", "1.5",
            "--resolver", farm.resolver, "--no-system-resolver", "--ca-file", str(farm.ca_file),
            "--geoip-db", str(farm.mmdb), "--asn-db", str(farm.mmdb), "--self-cc", "CU",
            "--self-asn", "27725", "--no-progress", "--max-body", "200000", *more]


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def full_run(farm, control, tmp_path_factory):
    """One run of every scenario, with a signed bundle, shared by the tests below."""
    evidence = pytest.importorskip("sentinelle.evidence.keys")
    work = tmp_path_factory.mktemp("run")
    key, _public = evidence.generate(work / "probe.key")
    listing = write_list(work / "farm.csv", farm,
                         extra="example.org,NEWS,no scheme\nftp://files.example/,FILE,ftp\n")
    output = work / "out.jsonl"
    bundle = work / "evidence.zip"
    code = cli.main(probe_args(farm, control.url, listing, output, "--sign-key", str(key),
                               "--bundle", str(bundle)))
    return {"code": code, "output": output, "bundle": bundle, "key": key, "listing": listing}


def test_every_scenario_gets_its_verdict(full_run, farm, capsys):
    assert full_run["code"] == 0
    lines = read_lines(full_run["output"])
    by_url = {line["input"]: line for line in lines}
    assert len(lines) == len(SCENARIOS)
    wrong = []
    for scenario in SCENARIOS:
        line = by_url[farm.url(scenario)]
        if (line["verdict"], line["provider"]) != (scenario.expected, scenario.provider):
            wrong.append((scenario.name, line["verdict"], line["provider"],
                          line["verdict_reasons"]))
    assert not wrong, wrong


def test_https_geoblocking_by_cloudflare_is_named(full_run, farm):
    line = {x["input"]: x for x in read_lines(full_run["output"])}[
        farm.url("cloudflare-1009-https")]
    assert line["verdict"] == "geoblocked" and line["provider"] == "Cloudflare"
    assert any("cloudflare-1009" in reason for reason in line["verdict_reasons"])
    keys = line["test_keys"]
    assert keys["tls_handshakes"][0]["failure"] is None       # HTTPS, and still caught
    assert keys["requests"][0]["response"]["code"] == 403
    assert line["probe_cc"] == "CU" and line["probe_asn"] == "AS27725"
    assert line["vantage"]["geoip"]["cc"] == "CU" and line["vantage"]["mismatch"] is False
    assert line["control_vantage"]["geoip"]["cc"] == "CH"
    assert line["category_code"] == "NEWS"


def test_bad_list_lines_are_reported_and_skipped(full_run, capsys):
    # The module's run printed its warnings before this test captured; run the reader again
    # through the CLI's path on the same file.
    from sentinelle.observatory.access.targets import read_list
    problems = [str(p) for p in read_list(full_run["listing"]).problems]
    n = len(SCENARIOS)
    assert problems == [f"line {n + 2}: no scheme in 'example.org' (write http:// or https://)",
                        f"line {n + 3}: scheme 'ftp' is not http or https"]


def test_cli_reports_bad_lines_on_stderr(farm, control, tmp_path, capsys):
    listing = tmp_path / "small.csv"
    listing.write_text(f"{farm.url('accessible-https')},NEWS\nexample.net/page\n")
    code = cli.main(probe_args(farm, control.url, listing, tmp_path / "o.jsonl"))
    assert code == 0
    err = capsys.readouterr().err
    assert "line 2: no scheme in 'example.net/page'" in err and "(skipped)" in err
    assert "1 URL in" in err and "accessible 1" in err


def test_jsonl_reads_back_through_the_ooni_importer(full_run):
    from sentinelle.exchange.formats import ooni as ooni_format
    from sentinelle.exchange.records import ReportRecord

    data = full_run["output"].read_bytes()
    assert ooni_format.sniff(data[:4096])
    records = list(ooni_format.parse(io.BytesIO(data), name="out.jsonl"))
    reports = [r for r in records if isinstance(r, ReportRecord)]
    assert len(reports) == len(SCENARIOS) and len(records) == len(SCENARIOS)
    geoblocked = [r for r in reports if "ooni:verdict=geoblocked" in r.tags]
    # cf, cloudfront and the HTTP/2-only block (h2geo)
    assert len(geoblocked) == sum(s.expected == "geoblocked" for s in SCENARIOS) == 3
    assert all(r.category == "access-denial" for r in reports)
    assert all("ooni:probe_cc=CU" in r.tags for r in reports)


@pytest.mark.skipif(not OONI_EXAMPLES.exists(), reason="shared OONI examples not present")
def test_ooni_examples_read_the_same_way():
    from sentinelle.exchange.formats import ooni as ooni_format
    from sentinelle.exchange.records import ReportRecord

    path = OONI_EXAMPLES / "ts-017-web-connectivity.measurement.json"
    records = list(ooni_format.parse(io.BytesIO(path.read_bytes()), name=path.name))
    assert [type(r) for r in records] == [ReportRecord]


def test_bundle_verifies_and_names_what_was_touched(full_run, tmp_path):
    bundle_mod = pytest.importorskip("sentinelle.evidence.bundle")
    keys = pytest.importorskip("sentinelle.evidence.keys")
    public = keys.load_public(Path(str(full_run["key"]) + ".pub"))
    result = bundle_mod.verify(full_run["bundle"], public)
    assert result.ok, result.problems
    manifest = result.manifest
    assert manifest["kind"] == "access-probe"
    names = {f["name"] for f in manifest["files"]}
    assert "measurements.jsonl" in names
    assert {f"transcripts/{i:04d}.json" for i in range(1, len(SCENARIOS) + 1)} <= names
    assert manifest["vantage"]["self_reported"] == {"cc": "CU", "asn": 27725}
    assert manifest["control"]["geoip"]["cc"] == "CH"
    summary = manifest["summary"]
    assert summary["count"] == len(SCENARIOS) and summary["list"] == "farm.csv"
    assert sum(summary["verdicts"].values()) == len(SCENARIOS)
    assert [r["input"] for r in summary["results"]] == [
        line.split(",")[0] for line in full_run["listing"].read_text().splitlines()[1:]
        if line.startswith("http")]
    assert "***" in manifest["command_line"] and TOKEN not in manifest["command_line"]
    transcript = json.loads(bundle_mod.read_member(full_run["bundle"], "transcripts/0001.json"))
    assert transcript["input"].startswith("https://www.farm.test")
    assert any(t["type"] == "http" for t in transcript["probe"])
    assert any(t["type"] == "http" for t in transcript["control"])

    # One flipped byte in the measurements: verification fails and names the file.
    raw = bytearray(full_run["bundle"].read_bytes())
    first = full_run["output"].read_bytes()[:64]
    at = raw.find(first)
    assert at > 0
    raw[at + 10] ^= 0x01
    touched = tmp_path / "touched.zip"
    touched.write_bytes(bytes(raw))
    result = bundle_mod.verify(touched, public)
    assert not result.ok and any("measurements.jsonl" in p for p in result.problems)


def test_unreachable_control_makes_every_url_inconclusive(farm, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    listing = write_list(tmp_path / "l.csv", farm)
    output = tmp_path / "o.jsonl"
    code = cli.main(probe_args(farm, f"http://127.0.0.1:{port}", listing, output))
    assert code == 0
    lines = read_lines(output)
    assert len(lines) == len(SCENARIOS)
    for line in lines:
        assert line["verdict"] == "inconclusive"
        assert "unreachable: connection_refused" in line["verdict_reasons"][0]
        assert line["test_keys"]["control_failure"]
    # The local side is still measured and recorded.
    cf = {x["input"]: x for x in lines}[farm.url("cloudflare-1009-https")]
    assert cf["test_keys"]["requests"][0]["response"]["code"] == 403
    assert cf["provider"] == "Cloudflare"


def test_a_control_that_refuses_makes_the_url_inconclusive(farm, tmp_path):
    from tests.observatory.access.probe_farm import ControlHelper

    strict = ControlHelper(farm, allow_private=False)
    try:
        listing = tmp_path / "l.csv"
        listing.write_text(f"{farm.url('cloudflare-1009-https')},NEWS\n")
        output = tmp_path / "o.jsonl"
        assert cli.main(probe_args(farm, strict.url, listing, output)) == 0
    finally:
        strict.stop()
    (line,) = read_lines(output)
    assert line["verdict"] == "inconclusive"
    assert "answered 403: refused: resolver 127.0.0.1 is a loopback address" in \
        line["verdict_reasons"][0]


def test_system_resolver_run(farm, control, tmp_path):
    listing = tmp_path / "l.csv"
    listing.write_text(f"{farm.url('accessible-system-dns')},NEWS\n")
    output = tmp_path / "o.jsonl"
    args = [a for a in probe_args(farm, control.url, listing, output)
            if a != "--no-system-resolver"]
    assert cli.main(args) == 0
    (line,) = read_lines(output)
    assert line["verdict"] == "accessible"
    engines = {q["engine"] for q in line["test_keys"]["queries"]}
    assert engines == {"system", "udp"}


def test_bad_options_exit_2(farm, tmp_path, capsys, monkeypatch):
    listing = write_list(tmp_path / "l.csv", farm)
    base = ["run", "--list", str(listing), "--control", "http://127.0.0.1:9",
            "--control-token", TOKEN, "--output", str(tmp_path / "o.jsonl")]
    assert cli.main([*base, "--concurrency", "0"]) == 2
    assert "--concurrency" in capsys.readouterr().err
    assert cli.main([*base, "--bind", "not-an-ip"]) == 2
    assert "not an IP address" in capsys.readouterr().err
    assert cli.main([*base, "--resolver", "dns.google"]) == 2
    assert cli.main([*base, "--self-cc", "Cuba"]) == 2
    missing = ["run", "--list", str(tmp_path / "missing.csv"), "--control", "http://x:1",
               "--control-token", TOKEN, "--output", str(tmp_path / "o.jsonl")]
    assert cli.main(missing) == 2
    assert "cannot read" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("url,category_code\nnope\n")
    assert cli.main(["run", "--list", str(empty), *base[3:]]) == 2
    assert "no usable URL" in capsys.readouterr().err
    monkeypatch.delenv("SENTINELLE_CONTROL_TOKEN", raising=False)
    assert cli.main(["run", "--list", str(listing), "--control", "http://x:1",
                     "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "--control-token is required" in capsys.readouterr().err
    assert cli.main(["helper", "--listen", "nowhere"]) == 2
    assert cli.main(["helper", "--listen", "127.0.0.1:0", "--token", "short"]) == 2


def test_help_has_examples(capsys):
    assert cli.main(["run", "--help"]) == 0
    out = capsys.readouterr().out
    assert "example:" in out and "--control-token" in out and "--bundle" in out
    assert cli.main(["helper", "--help"]) == 0
    assert "--allow-private" in capsys.readouterr().out


def test_extra_fingerprint_file_names_the_block_page(farm, control, tmp_path):
    """A user's fingerprint file: the Cuban ISP's block page (served after the DNS lie) is named
    as such, and a bare nginx 403 is attributed to the site's firewall."""
    extra = tmp_path / "mine.yaml"
    extra.write_text(
        "- id: cu-etecsa-blockpage\n"
        "  provider: ETECSA filtering\n"
        "  kind: censorship-blockpage\n"
        "  location: body\n"
        "  pattern_type: contains\n"
        "  pattern: ha sido bloqueado por disposicion de las autoridades\n"
        "  source: tests/observatory/access/probe_farm.py BLOCK_PAGE\n"
        "- id: farm-waf-403\n"
        "  provider: Farm WAF\n"
        "  kind: server-denial\n"
        "  location: title\n"
        "  pattern_type: exact\n"
        "  pattern: 403 Forbidden\n"
        "  source: tests/observatory/access/probe_farm.py NGINX_403\n", encoding="utf-8")
    listing = tmp_path / "l.csv"
    listing.write_text(f"{farm.url('dns-blockpage')},NEWS\n{farm.url('server-403-https')},NEWS\n")
    output = tmp_path / "o.jsonl"
    assert cli.main(probe_args(farm, control.url, listing, output,
                               "--fingerprints", str(extra))) == 0
    lines = {x["input"]: x for x in read_lines(output)}
    blockpage = lines[farm.url("dns-blockpage")]
    assert blockpage["verdict"] == "dns-tampering"
    assert [m["id"] for m in blockpage["fingerprint_matches"]] == ["cu-etecsa-blockpage"]
    denied = lines[farm.url("server-403-https")]
    assert (denied["verdict"], denied["provider"]) == ("server-denied", "Farm WAF")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: x\n  kind: nonsense\n")
    assert cli.main(probe_args(farm, control.url, listing, output,
                               "--fingerprints", str(bad))) == 2
