"""X-ARF v4 samples (xarf-spec) and abusix v3: RSIT, indicators, channel, evidence."""

from __future__ import annotations

import base64
import json

import pytest

from sentinelle.exchange.records import FormatError
from tests.format_helpers import FIXTURES, SHARED_FORMATS, parse, rejections, reports

SPEC = SHARED_FORMATS / "xarf"


def test_spam_sample():
    [record] = reports(parse("xarf", FIXTURES / "xarf" / "messaging-spam.json"))
    assert record.rsit == "abusive-content:spam" and record.category == "trust-security"
    assert record.indicators == [("ipv4", "192.168.1.100"), ("email", "marketing@example.com")]
    assert record.affected_services == ["e-mail"] and "channel:e-mail" in record.tags
    assert record.external_id == "xarf:02eb480f-8172-431a-9276-c28ba90f694a"
    assert record.started_at.isoformat() == "2025-01-11T10:59:45+00:00"
    [evidence] = record.attachments
    assert evidence.content.startswith(b"Received: from example.com")
    assert evidence.name == "evidence-1.eml"
    assert "Urgent: Claim Your Prize Now!" in record.description   # subject kept


@pytest.mark.parametrize(("name", "rsit"), [
    ("connection-ddos.json", "availability:ddos"),
    ("connection-login-attack.json", "intrusion-attempts:brute-force"),
    ("abusix-v3-spam_sample.json", "abusive-content:spam"),
])
def test_type_mapping(name, rsit):
    [record] = reports(parse("xarf", FIXTURES / "xarf" / name))
    assert record.rsit == rsit and record.started_at is not None


@pytest.mark.skipif(not SPEC.exists(), reason="../shared/data/formats/xarf is absent")
def test_every_official_positive_sample_maps():
    files = sorted(SPEC.glob("xarf-spec-samples/v4/*.json")) + sorted(
        SPEC.glob("abusix-v3-samples/positive/*.json"))
    assert len(files) >= 60
    for path in files:
        [record] = parse("xarf", path)
        assert record.rsit and record.indicators, path


def sample() -> dict:
    return json.loads((FIXTURES / "xarf" / "messaging-spam.json").read_text())


def test_hostile_attachment_name_and_bad_base64():
    report = sample()
    report["evidence"][0]["filename"] = "../../etc/passwd"
    [record] = parse("xarf", json.dumps(report).encode())
    assert record.attachments[0].name == "passwd"
    report["evidence"][0]["payload"] = "***not base64***"
    [rejection] = parse("xarf", json.dumps(report).encode())
    assert rejection.where == "$.evidence[0].payload"


def test_hash_mismatch_is_noted_not_refused():
    report = sample()
    report["evidence"][0]["payload"] = base64.b64encode(b"other").decode()
    [record] = parse("xarf", json.dumps(report).encode())
    assert "does not match" in record.attachments[0].description


def test_json_lines_and_bad_line():
    line = json.dumps(sample()).encode()
    records = parse("xarf", line + b"\n{oops\n" + line + b"\n")
    assert len(reports(records)) == 2
    assert [r.where for r in rejections(records)] == ["line 2"]


def test_truncated():
    with pytest.raises(FormatError, match="X-ARF"):
        parse("xarf", (FIXTURES / "xarf" / "connection-ddos.json").read_bytes()[:200])
