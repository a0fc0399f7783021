"""Issue 11, finding 14: the root causes the fuzzer found in the STIX, MISP, VERIS and OONI
importers, the RIS-Live reader, watch lists and fingerprints, each with a small hand-made
input. Each input must end in the project's own refusal naming the place (field, line, byte
offset), or import; never another exception, never a hang."""

from __future__ import annotations

import io
import json
import sys
import time

import pytest

from sentinelle.exchange.records import FormatError, Rejection, ReportRecord
from tests.format_helpers import OONI_MEASUREMENT, parse
from tests.paths import ROOT

sys.path.insert(0, str(ROOT))

from fuzz import harness  # noqa: E402 - after the path is set

STIX_ID = "incident--7a1e4b56-2f0e-4b38-8f5b-0e0a8c1e2f10"
INCIDENT = {"type": "incident", "spec_version": "2.1", "id": STIX_ID,
            "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-02T08:00:00.000Z",
            "name": "Routing leak"}
VERIS = {"schema_version": "1.4.0", "incident_id": "7a1c2b3d-0000-4000-8000-000000000001",
         "summary": "Phishing", "timeline": {"incident": {"year": 2025}},
         "action": {"social": {"variety": ["Phishing"]}}}


def stix_bundle(*objects) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                       "objects": list(objects)}).encode()


def misp_event(**event) -> bytes:
    return json.dumps({"Event": {"info": "Phishing wave", "uuid":
                                 "5b0a5b3c-0000-4000-8000-000000000001", **event}}).encode()


def deep(depth: int) -> object:
    """A value nested `depth` lists deep, built without recursion."""
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def dumps_deep(prefix: bytes, depth: int, suffix: bytes) -> bytes:
    return prefix + b"[" * depth + b'"x"' + b"]" * depth + suffix


# -- invalid UTF-8: UnicodeDecodeError before, now FormatError naming the byte offset ------

@pytest.mark.parametrize("fmt,data", [
    ("misp", misp_event(info="caf\udce9")),
    ("stix", stix_bundle({**INCIDENT, "name": "caf\udce9"})),
    ("veris", json.dumps([{**VERIS, "summary": "caf\udce9"}]).encode()),
], ids=["misp", "stix", "veris"])
def test_invalid_utf8_is_refused_naming_the_byte(fmt, data):
    # json.dumps wrote "\udce9" as an escape; put the raw invalid byte 0xE9 there instead.
    data = data.replace(b"\\udce9", b"\xe9")
    offset = data.index(b"\xe9")
    with pytest.raises(FormatError, match=rf"not UTF-8: byte {offset} \(0xe9\)"):
        parse(fmt, data)


@pytest.mark.parametrize("fmt,data", [
    ("misp", misp_event(info="x\\udc00y").replace(b"\\\\udc00", b"\\udc00")),
    ("stix", stix_bundle({**INCIDENT, "name": "x"}).replace(b'"name": "x"',
                                                          b'"name": "\\udc00"')),
], ids=["misp", "stix"])
def test_lone_surrogate_escape_is_refused_naming_the_item(fmt, data):
    with pytest.raises(FormatError, match=r"(\$\.Event|\$\.objects\[0\]).*unpaired surrogate"):
        parse(fmt, data)


# -- deep nesting: RecursionError (and quadratic time and memory) before --------------------

@pytest.mark.parametrize("fmt,data,where", [
    ("misp", dumps_deep(b'{"Event": {"info": "x", "Tag": ', 10_000, b"}}"), r"\$\.Event"),
    ("stix", stix_bundle({**INCIDENT, "x_deep": "@"}).replace(
        b'"@"', b"[" * 10_000 + b"]" * 10_000), r"\$\.objects\[0\]"),
    ("stix", b'{"type": "bundle", "id": "x", "extra": ' + b"[" * 10_000 + b"]" * 10_000
     + b', "objects": []}', r"\$:"),
    ("veris", json.dumps([VERIS, {**VERIS, "x": "@"}]).encode().replace(
        b'"@"', b"[" * 10_000 + b"]" * 10_000), r"\$\[1\]"),
], ids=["misp", "stix-object", "stix-bundle-key", "veris"])
def test_deep_nesting_is_refused_naming_the_item(fmt, data, where):
    started = time.monotonic()
    with pytest.raises(FormatError, match=rf"{where}.*nests deeper than 64 levels"):
        parse(fmt, data)
    assert time.monotonic() - started < 5


def test_nesting_within_the_limit_still_imports():
    records = parse("stix", stix_bundle({**INCIDENT, "x_deep": deep(40)}))
    assert [r.external_id for r in records if isinstance(r, ReportRecord)] == [STIX_ID]


@pytest.mark.parametrize("name", ["misp", "stix", "veris"])
def test_200_kb_of_nesting_neither_hangs_nor_takes_memory(name):
    """The inputs that hung (> 10 s) and took GiBs: ijson's per-event path strings grew with
    the depth, quadratically. Run in the fuzz harness's child: 10 s and 256 MiB at most."""
    target = harness.load_target(name)
    data = {"misp": dumps_deep(b'{"Event": {"info": "x", "Tag": ', 100_000, b"}}"),
            "stix": stix_bundle({**INCIDENT, "x": "@"}).replace(
                b'"@"', b'{"a":' * 50_000 + b"1" + b"}" * 50_000),
            "veris": json.dumps([{**VERIS, "x": "@"}]).encode().replace(
                b'"@"', b"[" * 100_000 + b"]" * 100_000)}[name]
    result = harness.run_inputs(target, [data], save=False)
    assert not result.failures, result.summary()
    assert result.refused == 1


# -- STIX: values of the wrong type where a name is hashed ----------------------------------

def test_stix_wrong_types_are_refused_or_ignored_not_a_type_error():
    relationship = {"type": "relationship", "spec_version": "2.1",
                    "id": "relationship--00000000-0000-4000-8000-000000000001",
                    "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-01T08:00:00Z",
                    "relationship_type": {"a": 1}, "source_ref": "indicator--x",
                    "target_ref": STIX_ID}
    marking = {"type": "marking-definition", "spec_version": "2.1",
               "id": "marking-definition--00000000-0000-4000-8000-000000000002",
               "created": "2026-03-01T08:00:00.000Z", "extensions": ["not", "a", "dict"],
               "definition_type": "tlp", "definition": ["x"]}
    stix20 = {"type": {"a": 1}, "id": "x--1"}   # no spec_version: read as STIX 2.0
    custom = {**INCIDENT, "x_sentinelle_category": {"a": 1}, "x_sentinelle_severity": [1],
              "x_sentinelle_users_affected": True}
    records = parse("stix", stix_bundle(relationship, marking, stix20, custom))
    report = next(r for r in records if isinstance(r, ReportRecord))
    assert (report.category, report.severity, report.users_affected) == (None, None, None)
    assert all(isinstance(r, Rejection | ReportRecord) for r in records)


def test_veris_year_too_large_for_a_date_is_rejected_naming_the_field():
    incident = {**VERIS, "timeline": {"incident": {"year": 2**40, "month": 1}}}
    (rejection,) = parse("veris", json.dumps([incident]).encode())
    assert isinstance(rejection, Rejection) and rejection.where == "$[0]"
    assert "timeline.incident" in rejection.reason


def test_stix_pattern_with_a_5000_digit_asn_is_not_a_value_error():
    indicator = {"type": "indicator", "spec_version": "2.1",
                 "id": "indicator--00000000-0000-4000-8000-000000000001",
                 "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-01T08:00:00.000Z",
                 "pattern": f"[autonomous-system:number = {'9' * 5_000}] OR "
                            "[ipv4-addr:value = '192.0.2.1']",
                 "pattern_type": "stix", "valid_from": "2026-03-01T08:00:00Z"}
    records = parse("stix", stix_bundle(indicator))
    assert [(r.type, r.value) for r in records] == [("ipv4", "192.0.2.1")]


# -- OONI ------------------------------------------------------------------------------------

def _ooni_line(**changes) -> bytes:
    measurement = json.loads(OONI_MEASUREMENT.read_bytes())
    measurement.update(changes)
    return json.dumps(measurement).encode()


def test_ooni_deep_line_is_rejected_naming_the_line():
    data = _ooni_line() + b"\n" + dumps_deep(b'{"test_keys": ', 5_000, b"}") + b"\n"
    records = parse("ooni", data)
    assert [(r.where, "nests deeper than 64 levels" in r.reason)
            for r in records if isinstance(r, Rejection)] == [("line 2", True)]


def test_ooni_deep_document_is_refused():
    with pytest.raises(FormatError, match="nests deeper than 64 levels"):
        parse("ooni", b'{"measurement_start_time": "2026-01-01 00:00:00",\n'
                      b'"data_format_version": "0.2.0", "x": ' + b"[" * 5_000 + b"]" * 5_000
                      + b"}")


def test_ooni_lone_surrogate_is_rejected_naming_the_line():
    line = _ooni_line(input="https://example.org/\udc00")   # json.dumps escapes it
    records = parse("ooni", _ooni_line() + b"\n" + line + b"\n")
    assert [(r.where, "unpaired surrogate" in r.reason)
            for r in records if isinstance(r, Rejection)] == [("line 2", True)]


@pytest.mark.parametrize("url", ["http://[::1/", "http://[1.2.3.4]/"])
def test_ooni_malformed_url_imports_without_a_host(url):
    records = parse("ooni", _ooni_line(input=url) + b"\n")
    (report,) = [r for r in records if isinstance(r, ReportRecord)]
    assert ("url", url) in report.indicators


# -- the fuzz harness's contract with the importer -----------------------------------------

def test_the_fuzzer_checks_record_field_types():
    """What the fuzzer checks on every record (fuzz/targets/_exchange.py): a dict where the
    importer expects a title is a failure, not an import."""
    from fuzz.targets._exchange import RecordTypeError, check_record, run_format

    run_format("stix", stix_bundle(INCIDENT))
    with pytest.raises(RecordTypeError, match="title"):
        check_record(ReportRecord(where="$", source_format="stix",
                                  title={"a": 1}))  # type: ignore[arg-type]


# -- RIS-Live: bad frames are counted, never raised -----------------------------------------

def _rislive(data: bytes):
    from sentinelle.observatory.routing.rislive import RisLiveStats, read_rislive

    stats = RisLiveStats()
    elements = list(read_rislive(io.BufferedReader(io.BytesIO(data)), stats))
    return elements, stats


RIS_UPDATE = {"type": "ris_message", "data": {
    "timestamp": 1700000000.0, "peer": "192.0.2.1", "peer_asn": "3356", "host": "rrc00",
    "type": "UPDATE", "path": [3356, 666],
    "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["10.0.0.0/8"]}]}}


@pytest.mark.parametrize("bad,reason", [
    (b'{"type": "ris_message", "data": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
     "nested deeper than 32 levels"),
    (b'{"type": "ris_message", "data": {"peer_asn": ' + b"9" * 5_000 + b"}}", "invalid JSON"),
    (json.dumps({**RIS_UPDATE, "data": {**RIS_UPDATE["data"], "timestamp": 1e999}}).encode(),
     "numeric timestamp"),
    (json.dumps({**RIS_UPDATE, "data": {**RIS_UPDATE["data"], "peer_asn": 1e999}}).encode(),
     "not an ASN"),
    (json.dumps({"type": "ris_message", "data": {"type": "RIS_PEER_STATE",
                                                 "timestamp": "inf"}}).encode(),
     "numeric timestamp"),
    (json.dumps({"meta": [], "elems": 5}).encode(), "not an object"),
], ids=["deep", "digits", "inf-time", "inf-asn", "peer-state", "bgpkit-types"])
def test_rislive_bad_frames_are_counted_with_their_line(bad, reason):
    good = json.dumps(RIS_UPDATE).encode()
    elements, stats = _rislive(good + b"\n" + bad + b"\n" + good + b"\n")
    assert len(elements) == 2
    assert [(line, reason in why) for line, why in stats.malformed] == [(2, True)]


def test_rislive_small_document_is_not_read_with_a_512_mib_buffer():
    """A pretty-printed document used to be read with read(512 Mi chars) in one call, which
    reserves the whole size: under a memory limit even a 2 kB file failed (MemoryError)."""
    target = harness.load_target("rislive")
    document = json.dumps([RIS_UPDATE, RIS_UPDATE], indent=2).encode()
    result = harness.run_inputs(target, [document], save=False)
    assert not result.failures, result.summary()
    elements, stats = _rislive(document)
    assert len(elements) == 2 and not stats.malformed


def test_rislive_many_frames_in_a_document_count_lines_in_linear_time():
    """Concatenated pretty-printed frames: the line of each was counted from the start of the
    document again (quadratic: minutes for a few MB)."""
    document = b"\n".join([json.dumps(RIS_UPDATE, indent=1).encode()] * 20_000)
    started = time.monotonic()
    elements, stats = _rislive(document + b"\n{\n")
    assert time.monotonic() - started < 10
    assert len(elements) == 20_000
    assert stats.malformed[0][0] >= document.count(b"\n") + 2   # at the stray "{"


# -- watch lists and fingerprint files (YAML) ------------------------------------------------

@pytest.mark.parametrize("text,reason", [
    ("states:\n  CU:\n    asns: [" + "9" * 5_000 + "]\n",
     "line 3: a number longer than 1000 characters"),
    ("states:\n  CU:\n    name: " + "[" * 100 + "]" * 100 + "\n",
     "line 3: nested deeper than 16 levels"),
])
def test_watch_list_hostile_yaml_is_refused_naming_the_line(text, reason):
    from sentinelle.observatory.routing.watchlist import WatchListError, loads

    with pytest.raises(WatchListError, match=reason):
        loads(text, "w.yaml")


@pytest.mark.parametrize("text,reason", [
    ("- id: " + "9" * 5_000 + "\n", "line 1: a number longer than 1000 characters"),
    ("- id: a\n  provider: P\n  kind: [geoblock]\n  source: s\n", "field kind"),
    ("- id: a\n  description: " + "[" * 100 + "]" * 100 + "\n",
     "line 2: nested deeper than 16 levels"),
])
def test_fingerprint_hostile_yaml_is_refused_naming_the_place(text, reason):
    from sentinelle.observatory.access.fingerprints import FingerprintError
    from sentinelle.observatory.access.fingerprints import parse as fp_parse

    with pytest.raises(FingerprintError, match=reason):
        fp_parse(text, "mine.yaml")


@pytest.mark.parametrize("name,shape", [("watchlist", "deep"), ("fingerprints", "many-objects")])
def test_a_megabyte_of_hostile_yaml_is_refused_quickly(name, shape):
    """Minutes with the pure-Python YAML parser before ("a: [[[[...]]]]", or "- {a: 1}" 100,000
    times): a hang for every scan or probe run given such a file."""
    target = harness.load_target(name)
    data = harness.hostile_inputs("yaml")[shape]
    result = harness.run_inputs(target, [data], save=False, timeout=10)
    assert not result.failures, result.summary()
    assert result.refused == 1


def test_fingerprint_file_of_tiny_values_is_refused_before_it_is_built():
    """1 MB of "- {a: 1}" was composed whole before the entry count was checked: ~200 MiB."""
    target = harness.load_target("fingerprints")
    data = harness.hostile_inputs("yaml")["many-objects"]
    result = harness.run_inputs(target, [data], save=False, memory_cap=64 * harness.MiB)
    assert not result.failures, result.summary()
    assert result.refused == 1


# -- TAXII: the STIX entry point that does not go through a file ----------------------------

@pytest.mark.django_db
@pytest.mark.parametrize("objects,status,why", [
    (b"[" * 5_000 + b"]" * 5_000, 400, "objects"),    # RecursionError in json.loads before
    *((b"[" * n + b"]" * n, 400, "") for n in range(900, 1000, 30)),   # near the limit
    # JSON, but its object is no STIX object (a list for a type): TAXII's 422, naming it.
    (b'[{"type": ' + b"[" * 100 + b"]" * 100 + b"}]", 422, "$.objects[0]"),
])
def test_taxii_deep_envelope_is_refused(alice, objects, status, why):
    from django.test import Client

    from sentinelle.core.models import ApiToken
    from tests.exchange.test_taxii import ALL, TAXII

    _token, secret = ApiToken.issue(alice)
    response = Client().post(f"/taxii2/sentinelle/collections/{ALL}/objects/",
                             b'{"objects": ' + objects + b"}", content_type=TAXII,
                             HTTP_AUTHORIZATION=f"Bearer {secret}", HTTP_ACCEPT=TAXII)
    assert response.status_code == status, response.content
    assert why in response.content.decode()


@pytest.mark.parametrize("pattern", ["a{0,99999999999999999999}", "a{99999999999999999999}"])
def test_fingerprint_regex_with_a_huge_repeat_is_refused_naming_the_field(pattern):
    from sentinelle.observatory.access.fingerprints import FingerprintError
    from sentinelle.observatory.access.fingerprints import parse as fp_parse

    text = (f"- id: a\n  provider: P\n  kind: geoblock\n  source: s\n  location: body\n"
            f"  pattern_type: regex\n  pattern: '{pattern}'\n")
    with pytest.raises(FingerprintError, match="entry 0.*field pattern"):
        fp_parse(text, "mine.yaml")
