"""VERIS: the documented category/RSIT mapping on our synthetic incidents, and the official
VERIS test files read from ../shared when present (CC BY-SA: never copied here)."""

from __future__ import annotations

import json

import pytest

from sentinelle.exchange.formats import veris
from sentinelle.exchange.records import FormatError
from tests.format_helpers import FIXTURES, SHARED_FORMATS, parse, rejections, reports

SHARED = SHARED_FORMATS / "veris"


def test_synthetic_incidents_map_as_documented():
    records = reports(parse("veris", FIXTURES / "veris" / "incidents.json"))
    mapped = [(r.category, r.rsit) for r in records]
    assert mapped == [
        ("trust-security", "fraud:phishing"),
        ("interception-surveillance", "information-gathering:sniffing"),
        ("interception-surveillance", "availability:ddos"),   # State espionage actor
        ("other", "availability:misconfiguration"),
        ("trust-security", "abusive-content:spam"),
    ]
    phishing = records[0]
    assert phishing.title == "Phishing e-mails impersonating the tax authority"
    assert phishing.severity == "medium"                     # overall_rating Painful
    assert phishing.started_at.isoformat() == "2025-11-03T00:00:00+00:00"
    assert "veris:action.social.variety=Phishing" in phishing.tags
    assert phishing.external_id == "sentinelle-test:7a1c2b3d-0000-4000-8000-000000000001"
    assert records[1].started_at.isoformat() == "2025-06-01T00:00:00+00:00"
    assert records[1].alleged_origin_state is None           # ZZ is no State
    assert records[2].alleged_origin_state == "FR"
    assert records[2].started_at.isoformat() == "2025-02-14T10:30:00+00:00"


def test_single_incident_object_and_wrong_type():
    one = json.loads((FIXTURES / "veris" / "incidents.json").read_text())[0]
    [record] = parse("veris", json.dumps(one).encode())
    assert record.rsit == "fraud:phishing"
    records = parse("veris", b'[{"action": {}, "timeline": {}}, "text"]')
    assert [r.where for r in rejections(records)] == ["$[1]"]


def test_bad_date_is_rejected_with_its_path():
    bad = [{"timeline": {"incident": {"year": 2025, "month": 2, "day": 30}}, "action": {}}]
    [rejection] = parse("veris", json.dumps(bad).encode())
    assert rejection.where == "$[0]" and "timeline.incident" in rejection.reason


def test_truncated():
    data = (FIXTURES / "veris" / "incidents.json").read_bytes()
    with pytest.raises(FormatError, match="VERIS"):
        parse("veris", data[:300])


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data/formats/veris is absent")
def test_official_veris_files_parse():
    files = sorted(SHARED.glob("bin-tests/*.[jJ][sS][oO][nN]"))
    assert files
    for path in files:
        [record] = parse("veris", path)
        assert record.started_at is not None and record.rsit, path
    passing = [p for p in SHARED.glob("validation-tests/*.json")
               if json.loads(p.read_text()).get("should") == "pass"]
    for path in passing:
        assert veris.sniff(path.read_bytes()[:65536])
        assert reports(parse("veris", path)), path
