import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from sentinelle.core.audit import verify_chain
from sentinelle.core.models import AuditEntry
from tests.conftest import api_client, file_report


def test_every_change_is_audited_with_actor_and_request_id(alice, bob, charlie):
    client = api_client(alice)
    response = client.post("/api/v1/incidents/", {
        "title": "t", "category": "other", "rsit": "other:other", "tlp": "amber",
        "started_at": "2026-01-01T00:00:00Z", "description": "d"},
        format="json", HTTP_X_REQUEST_ID="req-123")
    assert response.status_code == 201
    entry = AuditEntry.objects.get(action="incident.create")
    assert entry.actor_name == "alice"
    assert entry.request_id == "req-123"
    assert entry.after["title"] == "t"
    client.patch(f"/api/v1/incidents/{response.data['id']}/", {"title": "t2"}, format="json")
    amend = AuditEntry.objects.get(action="incident.amend")
    assert (amend.before["title"], amend.after["title"]) == ("t", "t2")
    assert verify_chain() is None


def test_editing_an_audit_row_in_the_database_breaks_verification(alice):
    file_report(alice)
    file_report(alice, title="second")
    victim = AuditEntry.objects.order_by("seq")[1]
    # A direct UPDATE, as someone with database access would do it.
    AuditEntry.objects.filter(pk=victim.pk).update(actor_name="mallory")
    problem = verify_chain()
    assert problem is not None and problem.seq == victim.seq
    with pytest.raises(CommandError, match=f"#{victim.seq}"):
        call_command("audit", "verify")


def test_removing_an_audit_row_breaks_verification(alice):
    file_report(alice)
    file_report(alice, title="second")
    victim = AuditEntry.objects.order_by("seq")[2]
    AuditEntry.objects.filter(pk=victim.pk).delete()
    problem = verify_chain()
    assert problem is not None and problem.seq == victim.seq


def test_rehashing_an_edited_row_is_still_caught_by_the_next_link(alice):
    file_report(alice)
    file_report(alice, title="second")
    victim = AuditEntry.objects.order_by("seq")[1]
    victim.actor_name = "mallory"
    victim.hash = victim.compute_hash()
    AuditEntry.objects.filter(pk=victim.pk).update(actor_name="mallory", hash=victim.hash)
    problem = verify_chain()
    assert problem is not None and problem.seq == victim.seq + 1


def test_intact_chain_verifies(alice, capsys):
    file_report(alice)
    call_command("audit", "verify")
    assert "intact" in capsys.readouterr().out
