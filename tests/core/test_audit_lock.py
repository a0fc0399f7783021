"""The audit chain's lock and head read in one round trip (issue 17, core/audit.py): a writer
that waited for the lock must chain after what the holder committed meanwhile. PostgreSQL only
(the lock is PostgreSQL's); two real connections, so the test commits (transactional_db)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from sentinelle.core import audit
from sentinelle.core.models import AuditEntry

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="the advisory lock is PostgreSQL's")


def _in_thread(target, errors: list) -> threading.Thread:
    def run():
        try:
            target()
        except BaseException as exc:   # reported by the test, not lost in the thread
            errors.append(exc)
        finally:
            connections.close_all()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


# serialized_rollback: the migrations' Member States are there for alice whatever ran before.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_writer_that_waited_for_the_lock_chains_after_the_holder(alice):
    holding, release, errors = threading.Event(), threading.Event(), []
    with audit.audit_context(actor=alice):
        audit.record("test.start", alice)

        def holder():
            with transaction.atomic():
                audit.record("test.holder", alice)   # takes the lock, writes, holds it
                holding.set()
                release.wait(10)

        def waiter():
            holding.wait(10)
            with transaction.atomic():
                audit.record("test.waiter", alice)   # waits for the holder's commit

        first = _in_thread(holder, errors)
        second = _in_thread(waiter, errors)
        holding.wait(10)
        # The waiter is blocked on the lock (its statement waits in pg_locks) before the
        # holder commits: its head read must come after the wait, not before.
        for _ in range(200):
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                               "AND NOT granted")
                if cursor.fetchone()[0]:
                    break
            threading.Event().wait(0.02)
        else:
            pytest.fail("the second writer never waited for the lock")
        release.set()
        first.join(10)
        second.join(10)
    assert not errors, errors
    rows = list(AuditEntry.objects.order_by("seq").values_list("action", "seq"))
    assert [action for action, _seq in rows][-3:] == ["test.start", "test.holder",
                                                       "test.waiter"]
    assert [seq for _action, seq in rows] == list(range(1, len(rows) + 1))
    assert audit.verify_chain() is None
