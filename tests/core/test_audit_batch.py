"""audit.batch() (issue 17): a report's creation writes its entries to the chain together at the
end. The entries must be the ones written one by one before (old path: batch() made a no-op),
the chain must still verify, and a batch that fails writes nothing. The submission mail's
recipients, now found with one query, must be those the per-analyst for_user() query found."""

from __future__ import annotations

import contextlib

import pytest
from django.core import mail
from django.db import transaction

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry, Role, User
from sentinelle.incidents import visibility
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, make_user

FIELDS = ("action", "object_type", "actor_name", "request_id", "before", "after")


def _entries(since: int) -> list[tuple]:
    rows = AuditEntry.objects.filter(seq__gt=since).order_by("seq")
    return [tuple(getattr(e, f) for f in FIELDS) for e in rows]


def _head() -> int:
    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


def _normalised(entries: list[tuple]) -> list[tuple]:
    """The entries with what differs between two reports (their version's hash) named."""
    out = []
    for action, kind, actor, request_id, before, after in entries:
        if isinstance(after, dict) and "content_sha256" in after:
            after = {**after, "content_sha256": "H"}
        out.append((action, kind, actor, request_id, before, after))
    return out


@pytest.mark.parametrize("submit", [True, False])
def test_batched_entries_are_those_written_one_by_one(alice, charlie, monkeypatch, submit):
    with audit.audit_context(actor=alice, request_id="req-1"):
        start = _head()
        new = file_report(alice, submit=submit, named_analysts=[charlie], tlp="red")
        batched = _entries(start)
        # The old path: every record() writes at once.
        monkeypatch.setattr(audit, "batch", contextlib.nullcontext)
        start = _head()
        old = file_report(alice, submit=submit, named_analysts=[charlie], tlp="red")
        one_by_one = _entries(start)
    assert [e[0] for e in batched] == (
        ["incident.create", "incident.status", "incident.receipt"] if submit
        else ["incident.create"])
    assert new.pk != old.pk
    assert _normalised(batched) == _normalised(one_by_one)
    assert audit.verify_chain() is None
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_failing_batch_writes_nothing(alice):
    start = _head()
    with pytest.raises(RuntimeError), transaction.atomic(), audit.batch():
        audit.record("test.one", alice)
        raise RuntimeError("the change failed")
    assert _head() == start
    with transaction.atomic(), audit.batch():
        first = audit.record("test.one", alice)
        with audit.batch():   # joins the outer batch
            second = audit.record("test.two", alice)
        assert first.pk is None
    assert (first.seq, second.seq) == (start + 1, start + 2)
    assert second.prev_hash == first.hash
    assert audit.verify_chain() is None


@pytest.mark.parametrize("tlp", ["clear", "green", "amber", "amber+strict", "red"])
def test_submission_mail_reaches_whom_for_user_lets_read(alice, charlie, tlp,
                                                         django_capture_on_commit_callbacks):
    dana = make_user("dana", Role.ANALYST)
    make_user("erin", Role.ADMIN)
    make_user("gone", Role.ANALYST, is_active=False)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        incident = file_report(alice, tlp=tlp, named_analysts=[dana])
    receipt = incident.receipts.get()
    # The old recipients: every active analyst the report's queryset shows, by the version too.
    expected = [u.email for u in User.objects.filter(role__in=(Role.ANALYST, Role.ADMIN),
                                                     is_active=True).order_by("pk")
                if Incident.objects.for_user(u).filter(pk=incident.pk).exists()
                and visibility.version_visible(u, incident, receipt.version.content)]
    told = [m.to[0] for m in mail.outbox if m.to[0] != alice.email]
    assert told == expected
    assert (charlie.email in told) == (tlp not in ("amber+strict", "red"))
    assert dana.email in told
