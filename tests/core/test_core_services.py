"""Tokens and enrolment are written with their audit entry in one transaction, the same entry
whether the web page or the `token` command asked (they wrote two different ones before)."""

import io

import pytest
from django.core.management import call_command
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from sentinelle.core import audit, services
from sentinelle.core.models import ApiToken, AuditEntry


def _entries(action: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action).order_by("seq"))


def test_web_and_command_write_the_same_token_entries(client, alice):
    client.force_login(alice)
    client.post("/account/tokens/", {"name": "SIEM", "read_only": "on", "expires_days": "30"})
    out = io.StringIO()
    call_command("token", "create", "--user", "alice", "--name", "SIEM", "--read-only",
                 "--expires-days", "30", stdout=out)
    web, command = _entries("token.create")
    assert set(web.after) == set(command.after) == {"user", "name", "read_only", "expires_at"}
    assert (web.after["user"], web.after["name"], web.after["read_only"]) == (
        command.after["user"], command.after["name"], command.after["read_only"]) == (
        "alice", "SIEM", True)
    assert (web.actor_name, command.actor_name) == ("alice", "command:token")
    web_token = ApiToken.objects.get(pk=int(web.object_id))
    client.post(f"/account/tokens/{web_token.pk}/revoke/")
    prefix = ApiToken.objects.get(pk=int(command.object_id)).prefix
    call_command("token", "revoke", prefix, stdout=io.StringIO())
    revoked = _entries("token.revoke")
    assert [e.before for e in revoked] == [{"revoked_at": None}] * 2
    assert audit.verify_chain() is None


def test_revoking_twice_writes_once(alice):
    token, _secret = services.issue_token(alice)
    assert services.revoke_token(token) is True
    first = ApiToken.objects.get(pk=token.pk).revoked_at
    assert services.revoke_token(token) is False
    out = io.StringIO()
    call_command("token", "revoke", token.prefix, stdout=out)
    assert out.getvalue().startswith("already revoked")
    assert ApiToken.objects.get(pk=token.pk).revoked_at == first
    assert len(_entries("token.revoke")) == 1


def test_no_token_without_its_entry(alice, monkeypatch):
    # The service's atomic block is a savepoint inside the test's transaction: rolled back alike.
    def broken(*args, **kwargs):
        raise RuntimeError("audit down")

    monkeypatch.setattr(audit, "record", broken)
    with pytest.raises(RuntimeError):
        services.issue_token(alice, name="orphan")
    assert not ApiToken.objects.filter(user=alice).exists()


def test_enrolment_is_confirmed_with_its_entry(client, alice):
    device = TOTPDevice.objects.create(user=alice, name="authenticator", confirmed=False)
    client.force_login(alice)
    client.get("/account/two-factor/")   # the page owns the enrolment secret it shows
    device.refresh_from_db()
    code = f"{totp(device.bin_key, step=device.step, digits=device.digits):06d}"
    client.post("/account/two-factor/", {"code": code})
    device.refresh_from_db()
    assert device.confirmed
    (entry,) = _entries("otp.enrol")
    assert entry.after == {"device": device.pk} and entry.object_id == str(alice.pk)
