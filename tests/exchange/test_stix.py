"""STIX 2.1: the official OASIS examples import, schema-invalid objects are rejected with their
JSON path, exports validate against the OASIS schemas, and export → re-import keeps content."""

from __future__ import annotations

import io
import json

import pytest

from sentinelle.exchange import exporting
from sentinelle.exchange.exporters import stix as stix_export
from sentinelle.exchange.formats import detect, stix
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.records import FormatError, IndicatorRecord, Rejection, ReportRecord
from sentinelle.incidents.models import Incident
from tests.conftest import SHARED, file_report
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stix21"
EXAMPLES = sorted(FIXTURES.glob("examples-*/*.json"))


def parse_bytes(data: bytes, seekable: bool = True) -> list:
    stream = io.BytesIO(data)
    if not seekable:
        stream.seekable = lambda: False   # a pipe: one pass, indicators held to the end
    return list(stix.parse(stream))


def bundle(*objects) -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                       "objects": list(objects)}).encode()


INCIDENT = {"type": "incident", "spec_version": "2.1",
            "id": "incident--7a1e4b56-2f0e-4b38-8f5b-0e0a8c1e2f10",
            "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-02T08:00:00.000Z",
            "name": "Routing leak", "description": "Prefixes leaked.",
            "object_marking_refs": [sc.TLP2_IDS["amber"]],
            "labels": ['rsit:availability="outage"']}


def indicator(n: int, pattern: str, **extra) -> dict:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--00000000-0000-4000-8000-{n:012d}",
            "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-01T08:00:00.000Z",
            "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-03-01T08:00:00Z",
            **extra}


def relationship(n: int, src: str, dst: str) -> dict:
    return {"type": "relationship", "spec_version": "2.1",
            "id": f"relationship--00000000-0000-4000-8000-{n:012d}",
            "created": "2026-03-01T08:00:00.000Z", "modified": "2026-03-01T08:00:00.000Z",
            "relationship_type": "indicates", "source_ref": src, "target_ref": dst}


# --- parser, no database ---------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_official_examples_parse_without_rejection(path):
    data = path.read_bytes()
    assert stix.sniff(data[:4096])
    records = parse_bytes(data)
    assert not [r for r in records if isinstance(r, Rejection)]


def test_official_example_values():
    by_name = {p.name: parse_bytes(p.read_bytes()) for p in EXAMPLES}
    url = by_name["indicator-for-malicious-url.json"][0]
    assert (url.type, url.value) == ("url", "http://x4z9arb.cn/4712/")
    assert url.external_id == "indicator--d81f86b9-975b-4c0b-875e-810c5ad45a4f"
    sha = by_name["malware-indicator-for-file-hash.json"][0]
    assert sha.type == "sha256" and sha.value.startswith("ef537f25")
    marked = by_name["using-marking-definitions.json"][0]
    assert (marked.type, marked.value) == ("ipv4", "10.0.0.0")
    # Regex patterns (MATCHES) name classes of values, not values: nothing to import.
    assert by_name["malicious-email-indicator-with-attachment.json"] == []


def test_sco_bundle_truncated_artifacts_are_rejected_with_their_path():
    records = parse_bytes((FIXTURES / "sco-examples-bundle.json").read_bytes())
    rejected = [r for r in records if isinstance(r, Rejection)]
    assert [r.where for r in rejected] == ["$[6].payload_bin", "$[7].payload_bin",
                                          "$[20].payload_bin"]
    assert "does not match" in rejected[0].reason
    kinds = {r.type for r in records if isinstance(r, IndicatorRecord)}
    assert kinds == {"ipv4", "ipv6", "prefix", "domain", "url", "email", "sha256", "asn"}


def test_invalid_object_in_bundle_names_objects_index_and_property():
    bad = indicator(1, "[ipv4-addr:value = '192.0.2.1']")
    del bad["valid_from"]
    records = parse_bytes(bundle(indicator(2, "[domain-name:value = 'a.example']"), bad))
    assert isinstance(records[1], Rejection)
    assert records[1].where.startswith("$.objects[1]")
    assert "valid_from" in records[1].reason


def test_relationship_after_indicator_puts_it_in_the_report_both_ways():
    objects = [indicator(1, "[ipv4-addr:value = '192.0.2.1']"),
               indicator(2, "[domain-name:value = 'standalone.example']"),
               INCIDENT, relationship(3, "indicator--00000000-0000-4000-8000-000000000001",
                                      INCIDENT["id"])]
    for seekable in (True, False):
        records = parse_bytes(bundle(*objects), seekable=seekable)
        assert [type(r) for r in records] == [IndicatorRecord, ReportRecord]
        report = records[-1]
        assert report.indicators == [("ipv4", "192.0.2.1")]
        assert report.tlp == "amber" and report.rsit == "availability:outage"
        assert records[0].value == "standalone.example"


def test_patterns_map_to_every_indicator_type():
    pattern = ("[ipv4-addr:value = '198.51.100.0/24'] OR [ipv6-addr:value = '2001:db8::1'] OR "
               "[autonomous-system:number = 64500] OR [email-addr:value = 'x@example.org'] OR "
               "[file:hashes.'SHA-256' = 'AB" + "0" * 62 + "'] OR [url:value = 'http://e.x/it''s']")
    records = parse_bytes(bundle(indicator(1, pattern)))
    assert [(r.type, r.value) for r in records][:5] == [
        ("prefix", "198.51.100.0/24"), ("ipv6", "2001:db8::1"), ("asn", "AS64500"),
        ("email", "x@example.org"), ("sha256", "ab" + "0" * 62)]
    assert len({r.external_id for r in records}) == len(records)   # derived ids are distinct


def test_tlp_markings_1_0_and_2_0():
    objects = [indicator(1, "[domain-name:value = 'a.example']",
                         object_marking_refs=[sc.TLP1_IDS["green"]]),
               indicator(2, "[domain-name:value = 'b.example']",
                         object_marking_refs=[sc.TLP2_IDS["amber+strict"], sc.TLP1_IDS["green"]])]
    records = parse_bytes(bundle(*objects))
    assert [r.tlp for r in records] == ["green", "amber+strict"]


def test_not_stix_and_truncated_inputs():
    assert not stix.sniff(b'{"Event": {"info": "misp"}}')
    assert detect(bundle(INCIDENT)[:200]) == "stix"
    with pytest.raises(FormatError):
        parse_bytes(b"<xml/>")
    with pytest.raises(FormatError, match="truncated"):
        parse_bytes(bundle(INCIDENT)[:-10])


def test_note_is_appended_to_the_report():
    note = {"type": "note", "spec_version": "2.1",
            "id": "note--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061",
            "created": "2026-03-03T08:00:00.000Z", "modified": "2026-03-03T08:00:00.000Z",
            "content": "Confirmed by the upstream provider.", "object_refs": [INCIDENT["id"]]}
    report = parse_bytes(bundle(note, INCIDENT))[-1]
    assert report.description.endswith("Confirmed by the upstream provider.")


@pytest.mark.skipif(not (SHARED / "data/formats/stix21").is_dir(),
                    reason="../shared/data is not present in this checkout")
def test_every_shared_example_still_parses():
    for path in sorted((SHARED / "data/formats/stix21").glob("examples-*/**/*.json")):
        assert not [r for r in parse_bytes(path.read_bytes()) if isinstance(r, Rejection)]


# --- import, export, round trip --------------------------------------------------------------

def validate_bundle(data: bytes) -> dict:
    parsed = json.loads(data)
    assert parsed["type"] == "bundle"
    for obj in parsed["objects"]:
        assert sc.schema_error(obj) is None, (obj, sc.schema_error(obj))
    return parsed


def export_for(user) -> bytes:
    out = io.BytesIO()
    exporting.export("stix", user, out)
    return out.getvalue()


def test_official_examples_import(alice, bob, charlie):
    for path in EXAMPLES:
        with path.open("rb") as stream:
            summary = import_records(stix.parse(stream), user=alice, default_tlp="green")
        assert summary.ok, (path.name, summary.rejected)
    assert SharedIndicator.objects.filter(value="http://x4z9arb.cn/4712/").exists()
    summary = import_records(stix.parse(io.BytesIO(EXAMPLES[2].read_bytes())), user=alice)
    assert summary.indicators_created == 0   # idempotent: merged by STIX id


def test_schema_invalid_bundle_writes_nothing(alice, bob, charlie):
    with (FIXTURES / "sco-examples-bundle.json").open("rb") as stream:
        summary = import_records(stix.parse(stream), user=alice)
    assert not summary.written and len(summary.rejected) == 3
    assert SharedIndicator.objects.count() == 0


def test_export_validates_and_carries_tlp2_and_identities(alice, bob, charlie):
    file_report(alice, tlp="green")
    file_report(alice, tlp="amber", title="Amber one")
    data = export_for(alice)
    parsed = validate_bundle(data)
    types = [o["type"] for o in parsed["objects"]]
    assert types.count("incident") == 2 and types.count("indicator") == 4
    assert types.count("relationship") == 4 and types.count("identity") == 1
    markings = {o["id"] for o in parsed["objects"] if o["type"] == "marking-definition"}
    assert markings == {sc.TLP2_IDS["green"], sc.TLP2_IDS["amber"]}
    assert export_for(alice).split(b'"objects"')[1] == data.split(b'"objects"')[1]  # stable


def test_amber_report_of_a_never_reaches_b_by_export(alice, bob, charlie):
    file_report(alice, tlp="amber", title="Cuban amber")
    file_report(alice, tlp="green", title="Cuban green")
    data = export_for(bob)
    assert b"Cuban amber" not in data and b"Cuban green" in data
    assert b"203.0.113.7" in data    # the green report's indicators do go


def test_export_then_reimport_gives_the_same_content(alice, bob, charlie):
    incident = file_report(alice, tlp="green", severity="high",
                           indicators=[{"type": "ipv4", "value": "203.0.113.7"},
                                       {"type": "asn", "value": "AS64500"},
                                       {"type": "prefix", "value": "198.51.100.0/24"}])
    data = export_for(alice)
    records = list(stix.parse(io.BytesIO(data)))
    [report] = [r for r in records if isinstance(r, ReportRecord)]
    assert report.external_id == incident.stix_id
    assert (report.title, report.description, report.category, report.rsit, report.tlp,
            report.severity) == (incident.title, incident.description, incident.category.code,
                                 incident.rsit, incident.tlp, incident.severity)
    assert report.started_at == incident.started_at and report.ended_at == incident.ended_at
    assert report.affected_services == incident.affected_services
    assert report.users_affected == incident.users_affected
    assert sorted(report.indicators) == sorted(
        [("ipv4", "203.0.113.7"), ("asn", "AS64500"), ("prefix", "198.51.100.0/24")])
    summary = import_records(iter(records), user=alice)
    assert summary.ok and summary.reports_created == 0 and summary.reports_merged == 1
    assert Incident.objects.count() == 1
    # A second export of the re-imported data is the same, object for object.
    assert validate_bundle(export_for(alice))["objects"] == json.loads(data)["objects"]


def test_shared_indicators_round_trip(alice, bob, charlie):
    data = bundle(indicator(1, "[domain-name:value = 'evil.example']", name="C2",
                            object_marking_refs=[sc.TLP2_IDS["green"]]))
    assert import_records(stix.parse(io.BytesIO(data)), user=alice).indicators_created == 1
    exported = validate_bundle(export_for(bob))
    [ind] = [o for o in exported["objects"] if o["type"] == "indicator"]
    assert ind["id"] == "indicator--00000000-0000-4000-8000-000000000001"
    assert ind["pattern"] == "[domain-name:value = 'evil.example']" and ind["name"] == "C2"
    assert ind["object_marking_refs"] == [sc.TLP2_IDS["green"]]


def test_exporter_module_streams_without_a_queryset(alice, bob, charlie):
    file_report(alice, tlp="clear")
    out = io.BytesIO()
    count = stix_export.export(iter(Incident.objects.for_user(bob)), iter(()), out)
    assert count == len(validate_bundle(out.getvalue())["objects"]) == 7  # + marking, identity
