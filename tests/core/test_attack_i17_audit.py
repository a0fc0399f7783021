"""Issue 17 attack (E5): audit.batch() (core/audit.py) against the one-by-one writing it
replaced: a failure leaves no entry, concurrent submissions on PostgreSQL leave a chain that
verifies with no gap, and an entry recorded inside a savepoint that rolls back goes with it."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry, Role
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, make_user


def _actions(since: int) -> list[str]:
    return list(AuditEntry.objects.filter(seq__gt=since).order_by("seq")
                .values_list("action", flat=True))


def _head() -> int:
    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


@pytest.mark.django_db
def test_a_report_that_fails_inside_its_batch_leaves_no_entry_and_no_report(alice,
                                                                             monkeypatch):
    from sentinelle.incidents import services

    start, reports = _head(), Incident.objects.count()

    def broken(*args, **kwargs):
        raise RuntimeError("the receipt could not be written")

    # The receipt is the last write of a submission, after the report, its version and the
    # first entries were recorded inside the batch.
    monkeypatch.setattr(services.receipts, "issue", broken)
    with pytest.raises(RuntimeError):
        file_report(alice)
    assert (_head(), Incident.objects.count()) == (start, reports)
    monkeypatch.undo()
    file_report(alice)
    assert _actions(start) == ["incident.create", "incident.status", "incident.receipt"]
    assert audit.verify_chain() is None


@pytest.mark.django_db
def test_an_entry_inside_a_rolled_back_savepoint_goes_with_it(alice):
    """One by one, an entry written inside a savepoint that rolls back goes with it; batch()
    kept it (and wrote it at the end) for a change that was never made."""
    def run():
        with transaction.atomic():
            audit.record("test.kept", alice)
            try:
                with transaction.atomic():
                    audit.record("test.rolled-back", alice)
                    raise RuntimeError("refused")
            except RuntimeError:
                pass
            audit.record("test.after", alice)

    start = _head()
    run()   # one by one
    one_by_one = _actions(start)
    for nested in (False, True):
        start = _head()
        with transaction.atomic(), audit.batch():
            if nested:   # the savepoint inside another one, the batch in a savepoint too
                with transaction.atomic():
                    run()
            else:
                run()
        assert one_by_one == ["test.kept", "test.after"]
        assert _actions(start) == one_by_one
    # A savepoint that is released keeps its entries.
    start = _head()
    with transaction.atomic(), audit.batch():
        audit.record("test.one", alice)
        with transaction.atomic():
            audit.record("test.two", alice)
        audit.record("test.three", alice)
    assert _actions(start) == ["test.one", "test.two", "test.three"]
    assert audit.verify_chain() is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_batch_outside_a_transaction_keeps_only_what_committed(alice):
    """Outside a transaction the block's own transactions commit or roll back before the batch
    ends: the entries of those that rolled back are not written, the others are, in order."""
    def run(fail: bool):
        try:
            with transaction.atomic():
                audit.record("test.inner", alice)
                if fail:
                    raise RuntimeError("refused")
        except RuntimeError:
            pass

    start = _head()
    with audit.batch():
        audit.record("test.first", alice)
        run(True)
        run(False)
        audit.record("test.last", alice)
    assert _actions(start) == ["test.first", "test.inner", "test.last"]
    assert audit.verify_chain() is None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="threads need PostgreSQL")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_concurrent_submissions_leave_a_chain_that_verifies():
    users = [make_user(f"fp{n}", Role.FOCAL_POINT, state) for n, state in
             enumerate(("CU", "CH", "FR", "BR"))]
    analyst = make_user("an", Role.ANALYST)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(users) + 1)

    def submit(user):
        try:
            barrier.wait()
            for n in range(3):
                file_report(user, title=f"{user.username} {n}", tlp="red",
                            named_analysts=[analyst])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    def plain():
        try:
            barrier.wait()
            for n in range(6):
                with transaction.atomic():
                    audit.record("test.plain", f"x{n}", object_type="test")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(u,)) for u in users]
    threads.append(threading.Thread(target=plain))
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert audit.verify_chain() is None
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    # Each report's entries are contiguous (one batch) and in the one-by-one order.
    by_object: dict[str, list[tuple[int, str]]] = {}
    for seq, action, oid in AuditEntry.objects.filter(object_type="incidents.incident") \
            .order_by("seq").values_list("seq", "action", "object_id"):
        by_object.setdefault(oid, []).append((seq, action))
    assert len(by_object) == 12
    for entries in by_object.values():
        assert [a for _s, a in entries] == ["incident.create", "incident.status",
                                            "incident.receipt"]
        assert [s for s, _a in entries] == list(range(entries[0][0], entries[0][0] + 3))
    assert AuditEntry.objects.filter(action="test.plain").count() == 6
