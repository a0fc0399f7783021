"""A submission's shorter path (issue 17, round 2) against the path it replaces, on the same
input: the category and RSIT type in one query (fields.parse_taxonomy) against one query each;
a report written as submitted at once against a draft then change_status(); a receipt hashing
the version it just wrote (receipts.as_stored) against the version read back."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry, Role
from sentinelle.incidents import fields, receipts, services
from sentinelle.incidents.models import Category, Incident, IncidentVersion, Status
from tests.conftest import api_client, file_report, make_user, report_payload

URL = "/api/v1/incidents/"


def _fields(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.parametrize("code,value", [
    ("trust-security", "availability:ddos"),
    ("  trust-security ", " availability : ddos "),
    ("no-such-category", "availability:ddos"),
    ("trust-security", "availability:no-such-type"),
    ("trust-security", "no-colon"),
    (12, "availability:ddos"),
])
def test_taxonomy_in_one_query_finds_what_the_two_lookups_find(db, code, value):
    found = fields.parse_taxonomy(code, value)
    try:
        expected = (fields.parse_category(code), fields.parse_rsit(value))
    except Exception:   # either one refuses: the combined lookup must find nothing
        assert found is None
        return
    assert found is not None
    category, rsit_type = found
    assert _fields(category) == _fields(expected[0]) and category.label == expected[0].label
    assert _fields(rsit_type) == _fields(expected[1])
    assert _fields(rsit_type.rsit_class) == _fields(expected[1].rsit_class)
    assert str(rsit_type) == str(expected[1])


def test_an_inactive_category_is_refused_as_before(alice):
    Category.objects.filter(code="trust-security").update(active=False)
    assert fields.parse_taxonomy("trust-security", "availability:ddos") is None
    response = api_client(alice).post(URL, data=report_payload(), format="json")
    assert response.status_code == 400
    assert response.json()["fields"]["category"] == ["Unknown category “trust-security”."]


@pytest.mark.parametrize("overrides,field", [
    ({"category": "nope"}, "category"), ({"rsit": "availability:nope"}, "rsit"),
    ({"rsit": "nope"}, "rsit"), ({"rsit": 5}, "rsit")])
def test_unknown_taxonomy_gets_the_same_errors(alice, overrides, field):
    response = api_client(alice).post(URL, data=report_payload(**overrides), format="json")
    assert response.status_code == 400
    body = response.json()["fields"]
    assert set(body) == {field}
    if field == "category":
        assert body[field] == [f"Unknown category “{overrides['category']}”."]
    elif isinstance(overrides["rsit"], str) and ":" in overrides["rsit"]:
        assert body[field] == [f"Unknown RSIT class and type “{overrides['rsit']}”."]


def _entries(since: int) -> list[tuple]:
    return [(e.action, e.object_type, e.actor_name, e.request_id, e.before, e.after)
            for e in AuditEntry.objects.filter(seq__gt=since).order_by("seq")]


def _head() -> int:
    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


def _as_written(incident: Incident) -> dict:
    receipt = incident.receipts.get()
    transitions = [(t.from_status, t.to_status, t.actor_id, t.note)
                   for t in incident.transitions.order_by("id")]
    return {"status": incident.status, "version": incident.version,
            "submitted": incident.submitted_at is not None, "transitions": transitions,
            "receipt": (receipt.version.number, receipt.content_sha256, receipt.evidence,
                        receipt.submitted_at == incident.submitted_at),
            "versions": list(incident.versions.values_list("number", "content"))}


@pytest.mark.parametrize("tlp", ["amber", "red"])
def test_written_as_submitted_at_once_equals_draft_then_submitted(
        alice, charlie, tlp, django_capture_on_commit_callbacks):
    dana = make_user("dana", Role.ANALYST)
    with audit.audit_context(actor=alice, request_id="req-1"):
        mail.outbox.clear()
        start = _head()
        with django_capture_on_commit_callbacks(execute=True):
            new = file_report(alice, tlp=tlp, named_analysts=[dana])
        new_entries, new_mail = _entries(start), [(m.to, m.subject) for m in mail.outbox]
        # The old path: a draft, then the status change on its own.
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            old = file_report(alice, tlp=tlp, named_analysts=[dana], submit=False)
            start = _head()
            services.change_status(old, alice, Status.SUBMITTED)
        old = Incident.objects.get(pk=old.pk)
        old_entries, old_mail = _entries(start), [(m.to, m.subject) for m in mail.outbox]
    new = Incident.objects.get(pk=new.pk)
    assert _as_written(new) == _as_written(old)
    assert [e[0] for e in new_entries] == ["incident.create", "incident.status",
                                           "incident.receipt"]
    assert new_entries[1:] == old_entries   # the status and the receipt: the same entries
    assert new_mail == [(to, subject.replace(old.reference, new.reference))
                        for to, subject in old_mail]
    # Written in one INSERT, the submission time is taken just before the row's own
    # created_at (microseconds apart; a draft then submitted had it just after).
    assert abs(new.submitted_at - new.created_at) < dt.timedelta(seconds=1)
    assert audit.verify_chain() is None
    assert receipts.verify(new.receipts.get()) == []


@pytest.mark.parametrize("content", [
    {"a": 1.5, "b": [0.1, 0.30000000000000004, 1e-07, 123456789.25], "c": "é\u2028\\\"x"},
    {"big": 1e15, "bigger": 1e16, "n": 10**20},
    {"negative_zero": -0.0, "whole": 4.0},
    {"nested": {"z": [1, {"y": None, "x": True}]}, "empty": {}},
])
def test_the_receipt_hashes_a_version_as_the_database_gives_it_back(alice, content):
    incident = file_report(alice, submit=False)
    version = IncidentVersion.objects.create(incident=incident, number=2, author=alice,
                                             content=content)
    stored = receipts.as_stored(version.content)
    read_back = IncidentVersion.objects.get(pk=version.pk).content
    if stored is not None:   # known without reading it back: then exactly what is read
        assert receipts.canonical_json(stored) == receipts.canonical_json(read_back)
    assert receipts.content_sha256(read_back) == receipts.content_sha256(
        stored if stored is not None else read_back)
    # Whatever path it takes, a receipt issued now verifies against what is kept.
    receipt = receipts.issue(incident, alice, incident.created_at, version=version)
    assert receipt.content_sha256 == receipts.content_sha256(read_back)
    assert receipts.verify(receipt) == []
