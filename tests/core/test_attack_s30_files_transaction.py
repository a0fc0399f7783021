"""Attacker pass on files that follow the transaction (issue 20, session 30). The storage tells
a rolled-back file from a committed one when Django frees the file's on-commit callback
unrun: rolled back unless the connection's `run_commit_hooks_on_set_autocommit_on` is still
set (a commit whose earlier callback raised). That flag is read when the callback is freed,
and the callback is freed with the failed commit's traceback (the list of callbacks not yet
run is a local of Django's frame in it). Whoever keeps that exception a while (an error
reporter, a job that records it, a test's `pytest.raises(...) as caught`) while the connection
ends another transaction (which clears the flag) makes a committed file look rolled back."""

from __future__ import annotations

import gc
import logging

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence
from tests.conftest import file_report

committing = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@committing
@pytest.mark.xfail(strict=True, reason=(
    "transactional.py decides 'rolled back' from the connection's state when the callback is "
    "freed, not when it was dropped: a failed commit's exception kept past the next "
    "transaction removes the committed row's file. Moving the file's callback to the front of "
    "connection.run_on_commit was tried: it breaks django_capture_on_commit_callbacks (which "
    "takes the queue's tail) and costs a scan per file; the drop must be recorded where Django "
    "drops it, not a small local change."))
def test_a_committed_file_survives_its_failed_commit_hooks_exception_being_kept(
        alice, bob, charlie, caplog):
    incident = file_report(alice)

    def mail() -> None:
        raise OSError("the mail server is down")

    caplog.set_level(logging.CRITICAL)
    with pytest.raises(OSError, match="mail server") as caught, transaction.atomic():
        transaction.on_commit(mail)   # as notifications.submitted is, before the evidence
        item = services.attach_evidence(incident, alice,
                                        SimpleUploadedFile("a.log", b"committed evidence"))
    file_report(bob)   # the connection's next transaction: a report of another State
    del caught
    gc.collect()
    item = Evidence.objects.get(pk=item.pk)   # the row is committed
    with item.file.open("rb") as handle:
        assert handle.read() == b"committed evidence"
