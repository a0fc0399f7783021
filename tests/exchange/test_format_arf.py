"""RFC 5965 ARF: each .eml against its expected parse (.json), field by field."""

from __future__ import annotations

import email
import json
from pathlib import Path

import pytest

from sentinelle.exchange.formats import arf
from sentinelle.exchange.records import FormatError
from tests.format_helpers import FIXTURES, SHARED_FORMATS, parse, rejections, reports

CORPORA = [FIXTURES / "arf"] + ([SHARED_FORMATS / "arf" / "mail-auth"]
                                if (SHARED_FORMATS / "arf").exists() else [])
CASES = sorted({p for corpus in CORPORA for p in corpus.glob("*.eml")
                if p.with_suffix(".json").exists()}, key=lambda p: (p.name, str(p)))
COMPARED = [k for k in arf.feedback_fields(email.message_from_string("")) if k]


@pytest.mark.parametrize("path", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_expected_parse_field_by_field(path: Path):
    expected = json.loads(path.with_suffix(".json").read_text())
    got = arf.feedback_fields(email.message_from_bytes(path.read_bytes()))
    for key in COMPARED:
        assert got[key] == expected[key], key


def test_report_record_002():
    [record] = reports(parse("arf", FIXTURES / "arf" / "002.eml"))
    assert record.rsit == "abusive-content:spam" and record.category == "trust-security"
    assert record.affected_services == ["e-mail"]
    assert ("ipv4", "192.0.2.1") in record.indicators
    assert ("domain", "example.net") in record.indicators
    assert ("email", "somespammer@example.net") in record.indicators
    assert ("email", "user@example.com") in record.indicators      # Reported-URI mailto:
    assert record.started_at.isoformat() == "2005-03-08T18:00:00+00:00"
    [original] = record.attachments
    assert original.name == "original-message.eml" and b"Subject: Earn money" in original.content


def test_auth_failure_and_sms_channel():
    [record] = reports(parse("arf", FIXTURES / "arf" / "003.eml"))
    assert record.rsit == "fraud:masquerade"
    sms = (FIXTURES / "arf" / "002.eml").read_bytes().replace(
        b"Reported-Uri: mailto:user@example.com", b"Reported-Uri: sms:+15551234567")
    [record] = reports(parse("arf", sms))
    assert record.affected_services == ["SMS"] and "channel:SMS" in record.tags


def test_attachment_name_is_made_safe():
    data = (FIXTURES / "arf" / "002.eml").read_bytes().replace(
        b"Content-Type: message/rfc822\n",
        b'Content-Type: message/rfc822\nContent-Disposition: attachment; '
        b'filename="../../../etc/cron.d/x"\n')
    [record] = reports(parse("arf", data))
    assert record.attachments[0].name == "x"


def test_not_spam_missing_type_and_wrong_format():
    data = (FIXTURES / "arf" / "002.eml").read_bytes()
    assert rejections(parse("arf", data.replace(b"Feedback-Type: abuse",
                                                 b"Feedback-Type: not-spam")))
    assert rejections(parse("arf", data.replace(b"Feedback-Type: abuse", b"X-Nothing: 1")))
    with pytest.raises(FormatError, match="not ARF"):
        parse("arf", b"From: a@example.org\nSubject: hi\n\nplain mail\n")
