"""The Secretariat administrator, tried as an attacker (a second pass on issue 11).

Three holes the attacker found after the first fixes: the admin could make any account a
State's focal point (or move an API token to one) and read that State's RED reports with no
trace in the audit chain; the admin's report page named the hidden report a duplicate points
to; and an import could share a report into a group its State is not in, telling which group
names exist. Two more after those: the admin could silence a State's focal points (blank their
e-mail, deactivate them) before making a new one, so nobody heard of it; and could add a State
to a sharing group, handing it the members' AMBER reports, telling nobody. Each test failed
before the fix it guards.
"""

from __future__ import annotations

import html

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from sentinelle.core import audit
from sentinelle.core.models import ApiToken, AuditEntry, MemberState, Role, SharingGroup, User
from sentinelle.incidents import services
from sentinelle.incidents.models import TLP, Incident
from tests.conftest import api_client, file_report, make_user
from tests.exchange.test_stix import INCIDENT
from tests.exchange.test_taxii import Taxii


@pytest.fixture
def ada(db) -> User:
    """Secretariat administrator, named on nothing."""
    return make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)


def admin_client(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def user_form(user: User, **changes) -> dict:
    data = {"username": user.username, "email": user.email, "role": user.role,
            "state": user.state_id or "", "language": user.language or "en",
            "is_active": "on", "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
            "initial-date_joined_0": "2026-01-01", "initial-date_joined_1": "00:00:00"}
    data.update(changes)
    return data


def test_an_account_made_a_focal_point_in_the_admin_is_audited_and_told_to_the_state(
        alice, ada):
    newcomer = make_user("newcomer", Role.ANALYST)
    mail.outbox.clear()
    response = admin_client(ada).post(
        f"/admin/core/user/{newcomer.pk}/change/",
        user_form(newcomer, role=Role.FOCAL_POINT, state=alice.state_id))
    assert response.status_code == 302, response.content.decode()[:2000]
    newcomer.refresh_from_db()
    assert newcomer.role == Role.FOCAL_POINT and newcomer.state_id == alice.state_id
    entry = AuditEntry.objects.filter(action="admin.change", object_type="core.user",
                                      object_id=str(newcomer.pk)).get()
    assert entry.actor_name == "ada"
    assert entry.before["role"] == Role.ANALYST and entry.after["role"] == Role.FOCAL_POINT
    assert entry.after["state"] == alice.state_id
    assert "password" not in entry.after and "password" not in entry.before
    # Cuba's focal points hear of it, in their language, naming the account and who did it.
    to_alice = [m for m in mail.outbox if m.to == [alice.email]]
    assert len(to_alice) == 1
    assert "newcomer" in to_alice[0].body and "ada" in to_alice[0].body
    assert not audit.verify_chain()


def test_a_focal_points_password_set_in_the_admin_is_audited_and_told(alice, ada):
    mail.outbox.clear()
    response = admin_client(ada).post(
        f"/admin/core/user/{alice.pk}/password/",
        {"password1": "a-new-long-passphrase-7", "password2": "a-new-long-passphrase-7",
         "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.filter(action="admin.change", object_type="core.user",
                                      object_id=str(alice.pk)).get()
    assert "password" in str(entry.after["admin_change_message"])
    assert [m.to for m in mail.outbox] == [[alice.email]]
    assert "alice" in mail.outbox[0].body


def test_a_focal_point_created_by_command_is_told_to_the_state(alice):
    mail.outbox.clear()
    call_command("user", "create", "cu-two", "--role", "focal-point", "--state", "CU",
                 "--email", "two@example.org")
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, "two@example.org"])


def test_an_api_token_cannot_be_handed_to_another_user_in_the_admin(alice, ada):
    token, secret = ApiToken.issue(ada)
    response = admin_client(ada).post(f"/admin/core/apitoken/{token.pk}/change/",
                                      {"user": alice.pk, "name": "x", "revoked_at_0": "",
                                       "revoked_at_1": ""})
    assert response.status_code in (302, 200)
    token.refresh_from_db()
    assert token.user == ada
    # Nor made there, where its secret would never be shown to its owner.
    assert admin_client(ada).get("/admin/core/apitoken/add/").status_code == 403
    red = file_report(alice, tlp=TLP.RED, title="Red for Cuba")
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert client.get(f"/api/v1/incidents/{red.pk}/").status_code == 404


def test_second_factor_devices_are_not_in_the_admin(ada):
    assert admin_client(ada).get("/admin/otp_totp/totpdevice/").status_code == 404


def test_every_admin_change_enters_the_chain(ada):
    state = MemberState.objects.get(alpha2="CU")
    response = admin_client(ada).post("/admin/core/sharinggroup/add/",
                                      {"name": "Caribbean CIRTs", "states": [state.pk]})
    assert response.status_code == 302, response.content.decode()[:2000]
    group = SharingGroup.objects.get(name="Caribbean CIRTs")
    entry = AuditEntry.objects.get(action="admin.add", object_type="core.sharinggroup")
    assert entry.object_id == str(group.pk) and entry.after["states"] == [state.pk]
    admin_client(ada).post(f"/admin/core/sharinggroup/{group.pk}/delete/", {"post": "yes"})
    assert AuditEntry.objects.filter(action="admin.delete", object_id=str(group.pk)).exists()


def test_the_admin_does_not_name_a_hidden_report_a_duplicate_points_to(alice, bob, charlie,
                                                                        ada):
    hidden = file_report(alice, tlp=TLP.RED, title="Secret original",
                         named_analysts=[charlie])
    copy = file_report(bob, tlp=TLP.AMBER, title="Swiss copy")
    services.change_status(copy, charlie, "duplicate", duplicate_of=hidden)
    page = admin_client(ada).get(f"/admin/incidents/incident/{copy.pk}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Secret original" not in text and hidden.reference not in text
    assert "a report you may not see" in text
    # The named analyst's view of the same field names it (charlie is not staff: checked
    # through the rule the field uses).
    assert Incident.objects.for_user(charlie).filter(pk=hidden.pk).exists()
    # And the list cannot be filtered by a relation to it.
    listing = admin_client(ada).get("/admin/incidents/incident/",
                                    {"duplicate_of__id__exact": hidden.pk})
    assert listing.status_code != 200 or "Swiss copy" not in listing.content.decode()


def test_an_import_cannot_share_into_a_group_its_state_is_not_in(alice, bob):
    dora = make_user("dora", Role.FOCAL_POINT, "DE")
    group = SharingGroup.objects.create(name="Cuba and Switzerland")
    group.states.set([alice.state, bob.state])
    path = "sentinelle/collections/"
    from sentinelle.exchange.taxii.collections import collection_id

    path += collection_id("sentinelle", "all") + "/objects/"
    answers = {}
    for name in ("Cuba and Switzerland", "No such group"):
        body = {"objects": [{**INCIDENT, "x_sentinelle_sharing_group": name}]}
        response = Taxii(dora).post(path, body)
        assert response.status_code == 202, response.content
        status = response.json()
        assert status["success_count"] == 0
        answers[name] = status["failures"][0]["message"].replace(name, "NAME")
    assert not Incident.objects.filter(stix_id=INCIDENT["id"]).exists()
    # The same answer whether the group exists or not.
    assert answers["Cuba and Switzerland"] == answers["No such group"]
    # A member may still share into it.
    body = {"objects": [{**INCIDENT, "x_sentinelle_sharing_group": "Cuba and Switzerland"}]}
    assert Taxii(alice).post(path, body).json()["success_count"] == 1
    assert Incident.objects.get(stix_id=INCIDENT["id"]).sharing_group == group


def sent_to(address: str) -> list:
    return [m for m in mail.outbox if m.to == [address]]


def change_entry(user: User) -> AuditEntry:
    return AuditEntry.objects.filter(action="admin.change", object_type="core.user",
                                     object_id=str(user.pk)).order_by("-seq").first()


def test_blanking_a_focal_points_e_mail_cannot_hide_a_new_focal_point(ada):
    francois = make_user("francois", Role.FOCAL_POINT, "FR")
    mallory = make_user("mallory", Role.ANALYST)
    client = admin_client(ada)
    mail.outbox.clear()
    # 1. The only French focal point loses its address: the old address hears of it.
    response = client.post(f"/admin/core/user/{francois.pk}/change/",
                           user_form(francois, email=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    told = sent_to("francois@example.org")
    assert len(told) == 1 and "ada" in told[0].body and "francois" in told[0].body
    # 2. A new French focal point: nobody who was one before can be told. The page says so,
    # and the audit entry keeps it.
    mail.outbox.clear()
    response = client.post(f"/admin/core/user/{mallory.pk}/change/",
                           user_form(mallory, role=Role.FOCAL_POINT,
                                     state=francois.state_id), follow=True)
    assert response.status_code == 200
    assert "No focal point of FR was told" in html.unescape(response.content.decode())
    notified = change_entry(mallory).after["notified"]
    assert notified == [{"notice": "focal_point_added", "state": "FR",
                         "to": ["mallory@example.org"], "state_told": False}]
    # 3. The address given back: the new address is told of the change too.
    mail.outbox.clear()
    francois.refresh_from_db()
    client.post(f"/admin/core/user/{francois.pk}/change/",
                user_form(francois, email="francois@example.org"))
    assert len(sent_to("francois@example.org")) == 1
    assert not audit.verify_chain()


def test_deactivating_a_states_focal_points_cannot_hide_a_new_one(ada):
    francois = make_user("francois", Role.FOCAL_POINT, "FR")
    fanny = make_user("fanny", Role.FOCAL_POINT, "FR", language="fr")
    mallory = make_user("mallory", Role.ANALYST)
    client = admin_client(ada)
    mail.outbox.clear()
    client.post(f"/admin/core/user/{francois.pk}/change/", user_form(francois, is_active=""))
    francois.refresh_from_db()
    assert not francois.is_active
    # The account's address is told, and the State's other focal point, in her language.
    assert len(sent_to("francois@example.org")) == 1
    to_fanny = sent_to("fanny@example.org")
    assert len(to_fanny) == 1 and "francois" in to_fanny[0].body
    assert "France" in to_fanny[0].body
    mail.outbox.clear()
    client.post(f"/admin/core/user/{fanny.pk}/change/", user_form(fanny, is_active=""))
    assert [m.to for m in mail.outbox] == [["fanny@example.org"]]
    mail.outbox.clear()
    response = client.post(f"/admin/core/user/{mallory.pk}/change/",
                           user_form(mallory, role=Role.FOCAL_POINT,
                                     state=francois.state_id), follow=True)
    assert "No focal point of FR was told" in html.unescape(response.content.decode())
    assert change_entry(mallory).after["notified"][0]["state_told"] is False
    # Given back its account, a focal point hears who now shares its seat.
    mail.outbox.clear()
    client.post(f"/admin/core/user/{francois.pk}/change/", user_form(francois))
    assert sorted(m.to[0] for m in mail.outbox) == ["francois@example.org",
                                                    "mallory@example.org"]
    assert not audit.verify_chain()


def test_a_focal_point_moved_or_given_another_role_is_told_with_its_state(alice, bob, ada):
    carmen = make_user("carmen", Role.FOCAL_POINT, "CU")
    client = admin_client(ada)
    mail.outbox.clear()
    client.post(f"/admin/core/user/{carmen.pk}/change/", user_form(carmen, role=Role.ANALYST,
                                                                   state=""))
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, carmen.email]
    carmen.refresh_from_db()
    carmen.role, carmen.state = Role.FOCAL_POINT, alice.state
    carmen.save()
    mail.outbox.clear()
    client.post(f"/admin/core/user/{carmen.pk}/change/",
                user_form(carmen, state=bob.state_id))
    # Cuba hears it lost her, Switzerland that it gained her; she hears both.
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [alice.email, carmen.email, carmen.email, bob.email])
    assert "No focal point" not in str(change_entry(carmen).after)
    assert all(n["state_told"] for n in change_entry(carmen).after["notified"])
    # Deleted, the same.
    mail.outbox.clear()
    response = admin_client(ada).post(f"/admin/core/user/{carmen.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert sorted(m.to[0] for m in mail.outbox) == sorted([bob.email, carmen.email])
    entry = AuditEntry.objects.get(action="admin.delete", object_id=str(carmen.pk))
    assert entry.after["notified"][0]["notice"] == "focal_point_removed"


def test_a_state_added_to_a_sharing_group_is_told_to_every_member(alice, bob, ada):
    dora = make_user("dora", Role.FOCAL_POINT, "DE", language="fr")
    charlie = make_user("charlie", Role.ANALYST)
    group = SharingGroup.objects.create(name="Cuba and Switzerland")
    group.states.set([alice.state, bob.state])
    client = admin_client(ada)
    mail.outbox.clear()
    response = client.post(f"/admin/core/sharinggroup/{group.pk}/change/",
                           {"name": group.name, "description": "",
                            "states": [alice.state_id, bob.state_id, dora.state_id]})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, bob.email, dora.email])
    assert not sent_to(charlie.email)
    to_alice, to_dora = sent_to(alice.email)[0], sent_to(dora.email)[0]
    assert "Cuba and Switzerland" in to_alice.body and "ada" in to_alice.body
    assert "Germany (DE)" in to_alice.body
    assert "Allemagne" in to_dora.body and "Germany" not in to_dora.body  # her language
    entry = AuditEntry.objects.filter(action="admin.change",
                                      object_type="core.sharinggroup").get()
    assert {n["state"] for n in entry.after["notified"]} == {"CU", "CH", "DE"}
    # Removing a State is told too: to the States that stay and to the one removed.
    mail.outbox.clear()
    client.post(f"/admin/core/sharinggroup/{group.pk}/change/",
                {"name": group.name, "description": "",
                 "states": [alice.state_id, dora.state_id]})
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, bob.email, dora.email])
    assert "Switzerland (CH)" in sent_to(alice.email)[0].body
    # A new group made with States is told to them.
    mail.outbox.clear()
    client.post("/admin/core/sharinggroup/add/",
                {"name": "Cuba and Germany", "description": "",
                 "states": [alice.state_id, dora.state_id]})
    assert sorted(m.to[0] for m in mail.outbox) == sorted([alice.email, dora.email])
    # A State with nobody to tell is named on the page.
    response = client.post("/admin/core/sharinggroup/add/",
                           {"name": "With France", "description": "",
                            "states": [alice.state_id,
                                       MemberState.objects.get(alpha2="FR").pk]},
                           follow=True)
    assert "No focal point of FR was told" in html.unescape(response.content.decode())
    assert not audit.verify_chain()
