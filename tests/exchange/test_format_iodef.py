"""IODEF v2: fields of our RFC 7970-shaped fixture, XML attacks refused, streaming."""

from __future__ import annotations

import io

import pytest

from sentinelle.exchange.formats import iodef
from sentinelle.exchange.records import FormatError
from tests.format_helpers import FIXTURES, parse, reports

DOC = (FIXTURES / "iodef" / "incidents.xml").read_bytes()


def test_incident_fields():
    first, second = reports(parse("iodef", DOC))
    assert first.where == "/IODEF-Document/Incident[1]"
    assert first.external_id == "csirt.example.org:189493"
    assert first.title == "Host involved in a DoS attack against the national portal <b>bold</b>"
    assert first.tlp == "green" and first.severity == "high"
    assert first.rsit == "availability:dos" and first.category == "trust-security"
    assert first.started_at.isoformat() == "2026-02-10T06:00:00+00:00"
    assert first.ended_at.isoformat() == "2026-02-10T09:30:00+00:00"
    assert first.detected_at.isoformat() == "2026-02-10T07:15:00+00:00"
    assert first.indicators == [
        ("ipv4", "192.0.2.200"), ("prefix", "198.51.100.0/24"), ("asn", "AS64496"),
        ("domain", "portal.example.gov"),
        ("sha256", "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")]
    # The contact's address is the reporter's, never an indicator.
    assert ("email", "contact@csirt.example.org") not in first.indicators
    assert "Example CSIRT" in first.description
    assert second.tlp == "red" and second.category == "routing-disruption"
    assert second.indicators == [("prefix", "2001:db8::/32")]
    assert second.started_at.isoformat() == "2026-02-11T10:00:00+00:00"   # ReportTime


def test_billion_laughs_is_refused_by_name():
    bomb = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0"><Incident>
<Description>&lol3;</Description></Incident></IODEF-Document>"""
    assert iodef.sniff(bomb)
    with pytest.raises(FormatError, match="billion laughs"):
        parse("iodef", bomb)


def test_external_entity_is_refused_by_name():
    xxe = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0"><Incident>
<Description>&secret;</Description></Incident></IODEF-Document>"""
    with pytest.raises(FormatError, match="XXE"):
        parse("iodef", xxe)


def test_truncated_and_wrong_root():
    with pytest.raises(FormatError, match="truncated or not well-formed"):
        parse("iodef", DOC[: len(DOC) // 2])
    with pytest.raises(FormatError, match="root element is <html>"):
        parse("iodef", b"<html xmlns='urn:ietf:params:xml:ns:iodef-2.0'></html>")


def test_bad_time_rejects_only_that_incident():
    doc = DOC.replace(b"<StartTime>2026-02-10T06:00:00Z", b"<StartTime>yesterday")
    records = parse("iodef", doc)
    assert records[0].where == "/IODEF-Document/Incident[1]"
    assert "StartTime" in records[0].reason
    assert len(reports(records)) == 1


def test_many_incidents_stream():
    incident = (b'<Incident purpose="reporting"><IncidentID name="x">%d</IncidentID>'
                b"<ReportTime>2026-01-01T00:00:00Z</ReportTime>"
                b'<EventData><Flow><System><Node><Address category="ipv4-addr">192.0.2.1'
                b"</Address></Node></System></Flow></EventData></Incident>")

    def chunks():
        yield b'<IODEF-Document xmlns="urn:ietf:params:xml:ns:iodef-2.0">'
        for i in range(20000):
            yield incident % i
        yield b"</IODEF-Document>"

    class Stream(io.RawIOBase):
        def __init__(self):
            self.it, self.buf = chunks(), b""

        def readable(self):
            return True

        def readinto(self, target):
            while len(self.buf) < len(target):
                try:
                    self.buf += next(self.it)
                except StopIteration:
                    break
            n = min(len(target), len(self.buf))
            target[:n], self.buf = self.buf[:n], self.buf[n:]
            return n

    records = iodef.parse(io.BufferedReader(Stream()))
    assert next(records).external_id == "x:0"
    assert sum(1 for _ in records) == 19999
