"""MISP event JSON: PyMISP's test events, shapes, tags, sharing groups, hostile input."""

from __future__ import annotations

import io
import json

import pytest

from sentinelle.exchange.formats import misp
from sentinelle.exchange.records import FormatError, IndicatorRecord
from tests.format_helpers import FIXTURES, SHARED_FORMATS, parse, rejections, reports

PYMISP = SHARED_FORMATS / "misp"


def event(**extra) -> dict:
    base = {"uuid": "5758ebf5-c898-48e6-9fe9-5665c0a83866", "info": "Phishing wave",
            "date": "2026-01-05", "timestamp": "1767600000", "distribution": "1",
            "threat_level_id": "2", "Tag": [{"name": "tlp:green"},
                                            {"name": 'rsit:fraud="phishing"'}],
            "Attribute": [{"type": "ip-dst", "value": "203.0.113.7"},
                          {"type": "domain|ip", "value": "evil.example|198.51.100.1"},
                          {"type": "ip-src|port", "value": "2001:db8::1|443"},
                          {"type": "AS", "value": "64496"},
                          {"type": "email-src", "value": "phisher@evil.example"},
                          {"type": "filename|sha256", "value": "a.exe|" + "ab" * 32},
                          {"type": "md5", "value": "0" * 32},
                          {"type": "text", "value": "<script>alert(1)</script> lure"},
                          {"type": "url", "value": "http://x.example/", "deleted": True}]}
    base.update(extra)
    return base


def test_pymisp_event_maps_fields():
    [record] = reports(parse("misp", FIXTURES / "misp" / "misp_event.json"))
    assert record.title == "A Random Event"
    assert record.external_id == "incident--5758ebf5-c898-48e6-9fe9-5665c0a83866"
    assert record.indicators == [("url", "http://fake.website.com/malware/is/here")]
    assert record.rsit == "malicious-code:infected-system"   # from ecsirt:malicious-code
    assert record.severity == "high"                         # threat_level_id 1
    assert record.started_at.isoformat() == "2016-06-09T00:00:00+00:00"
    assert 'ecsirt:malicious-code="ransomware"' in record.tags
    assert "Locky" in record.description                     # a text attribute


def test_existing_event_galaxies_objects_and_tlp():
    [record] = reports(parse("misp", FIXTURES / "misp" / "existing_event.json"))
    assert record.tlp == "clear"                             # tlp:white
    assert ("domain", "movieultimate.com") in record.indicators
    assert any(t.startswith("misp-galaxy:threat-actor=") for t in record.tags)
    assert "sha1 ×" in record.description                    # counted, not silently dropped


@pytest.mark.skipif(not PYMISP.exists(), reason="../shared/data/formats/misp is absent")
def test_every_pymisp_event_file_parses_without_rejection():
    files = [p for p in PYMISP.glob("pymisp-test*/*.json")
             if misp.sniff(p.read_bytes()[:65536], p.name)]
    assert len(files) >= 15
    for path in files:
        records = parse("misp", path)
        assert records and not rejections(records), path


def test_shapes_single_list_response_and_bare():
    body = event()
    for document in ({"Event": body}, [{"Event": body}], {"response": [{"Event": body}]}, body):
        [record] = reports(parse("misp", json.dumps(document).encode()))
        assert record.tlp == "green" and record.rsit == "fraud:phishing"
        assert record.category == "trust-security"
        assert record.indicators == [
            ("ipv4", "203.0.113.7"), ("domain", "evil.example"), ("ipv4", "198.51.100.1"),
            ("ipv6", "2001:db8::1"), ("asn", "64496"), ("email", "phisher@evil.example"),
            ("sha256", "ab" * 32)]
        assert "<script>alert(1)</script> lure" in record.description   # literal text
        assert "md5 ×1" in record.description


def test_sharing_group_and_strictest_attribute_tlp():
    body = event(distribution="4", SharingGroup={"name": "Caribbean CIRTs"})
    body["Attribute"][0]["Tag"] = [{"name": "tlp:amber"}]
    [record] = reports(parse("misp", json.dumps({"Event": body}).encode()))
    assert record.sharing_group == "Caribbean CIRTs"
    assert record.tlp == "amber"   # the attribute is stricter than the event


def test_distribution_4_without_group_is_rejected():
    records = parse("misp", json.dumps({"Event": event(distribution="4")}).encode())
    assert [r.where for r in rejections(records)] == ["$.Event.SharingGroup"]


def test_indicator_events_give_indicator_records():
    body = event(Tag=[{"name": "tlp:green"}, {"name": 'sentinelle:kind="indicators"'}],
                 Attribute=[{"type": "ip-dst", "value": "203.0.113.9",
                             "uuid": "11111111-2222-4333-8444-555555555555"}])
    [record] = parse("misp", json.dumps({"Event": body}).encode())
    assert isinstance(record, IndicatorRecord)
    assert record.external_id == "indicator--11111111-2222-4333-8444-555555555555"
    assert (record.type, record.value, record.tlp) == ("ipv4", "203.0.113.9", "green")


def test_truncated_json_is_a_format_error():
    data = json.dumps({"response": [{"Event": event()}] * 3}).encode()
    with pytest.raises(FormatError, match="truncated"):
        parse("misp", data[: len(data) // 2])


def test_wrong_type_items_are_rejected_with_their_path():
    records = parse("misp", json.dumps({"response": [42, {"Event": event()}]}).encode())
    assert [r.where for r in rejections(records)] == ["$.response[0]"]
    assert len(reports(records)) == 1


def test_large_response_is_streamed():
    class Events(io.RawIOBase):
        """5,000 events, produced as they are read: never one document in memory."""
        def __init__(self):
            self.parts = self._parts()
            self.buffer = b""

        def _parts(self):
            yield b'{"response": ['
            for i in range(5000):
                yield (b"," if i else b"") + json.dumps({"Event": event(info=f"e{i}")}).encode()
            yield b"]}"

        def readable(self):
            return True

        def readinto(self, target):
            while len(self.buffer) < len(target):
                try:
                    self.buffer += next(self.parts)
                except StopIteration:
                    break
            n = min(len(target), len(self.buffer))
            target[:n], self.buffer = self.buffer[:n], self.buffer[n:]
            return n

    stream = io.BufferedReader(Events())
    records = misp.parse(stream)
    first = next(records)
    assert first.title == "e0"
    assert sum(1 for _ in records) == 4999
