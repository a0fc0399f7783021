"""The action plan's writes live in actionplan/services.py: each saves the row and its audit
entry together, and refuses anyone outside the Secretariat whoever calls it."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from sentinelle.actionplan import services
from sentinelle.actionplan.models import Action
from sentinelle.core.models import AuditEntry


def _action(code: str = "A1") -> Action:
    return Action(code=code, clause="Res. 130", title="Awareness", responsible="BDT",
                  start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 12, 31))


def test_a_new_action_and_a_change_are_saved_with_their_audit_entries(charlie):
    action = services.save_action(charlie, _action())
    before = services.snapshot(action)
    action.title = "Awareness month"
    services.save_action(charlie, action, before)
    entries = list(AuditEntry.objects.filter(action__startswith="actionplan.action.")
                   .order_by("pk"))
    assert [e.action for e in entries] == ["actionplan.action.add", "actionplan.action.change"]
    assert entries[1].before["title"] == "Awareness" and entries[1].after["title"] == \
        "Awareness month"


@pytest.mark.parametrize("who", ["alice", "council"])
def test_only_the_secretariat_writes_the_plan(db, who, request):
    with pytest.raises(PermissionDenied):
        services.save_action(request.getfixturevalue(who), _action())
    assert not Action.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="actionplan.").exists()
