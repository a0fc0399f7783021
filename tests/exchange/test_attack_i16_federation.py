"""Attacks on federation filing records under their own State (issue 16). The remote is
medallion on loopback serving objects that claim to be Cuba's
(tests/exchange/test_federation_states.py, `hub`); Switzerland (bob) pulls; Cuba (alice) holds
reports of its own here."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from sentinelle.core.models import ApiToken, AuditEntry, MemberState, Role
from sentinelle.exchange import federation
from sentinelle.exchange.accounts import state_account
from sentinelle.exchange.formats import stix
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import FederationRemote
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, make_user
from tests.exchange import test_federation_states as states
from tests.exchange.test_federation import MEDALLION_AUTH
from tests.exchange.test_federation_states import (
    COLLECTION,
    CU,
    CU_INCIDENT,
    JM_INCIDENT,
    _bundle,
    incident,
    pull,
)

hub = states.hub    # the fixture: medallion serving records that claim Cuba's and Jamaica's

medallion = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@medallion
def test_an_api_root_on_another_server_never_borrows_the_trust_of_remote(db, hub, alice, bob):
    # A remote trusted for Cuba; the objects fetched from another server (the hub, which any
    # identity can be forged on) by giving --api-root as a full URL.
    trusted = "http://127.0.0.1:9/taxii2"
    FederationRemote.objects.create(url=trusted).trusted_states.add(alice.state)
    with pytest.raises(federation.FederationError) as refused:
        federation.pull(remote=trusted + "/", api_root=f"{hub}/trustgroup1/",
                        collection=COLLECTION, user=bob, auth=MEDALLION_AUTH)
    assert "--api-root" in str(refused.value)
    assert not Incident.objects.filter(state=alice.state).exists()
    # The same server under its own name is fine (and trusted as declared for it).
    FederationRemote.objects.create(url=hub).trusted_states.add(alice.state)
    result = federation.pull(remote=hub, api_root=f"{hub}/trustgroup1/",
                             collection=COLLECTION, user=bob, auth=MEDALLION_AUTH)
    assert result.filed_under.get("CU") == 2


@pytest.mark.django_db
@pytest.mark.parametrize("api_root", ["https://127.0.0.1:8443/trustgroup1/",   # scheme differs
                                      "http://127.0.0.1.evil.example/trustgroup1/",
                                      "http://user@127.0.0.2:8000/x/"])
def test_an_api_root_url_must_be_on_the_remotes_own_server(bob, api_root):
    with pytest.raises(federation.FederationError) as refused:
        federation.open_collection("http://127.0.0.1:8000/taxii2/", api_root, COLLECTION)
    assert "--api-root" in str(refused.value)


@medallion
def test_a_pull_never_loosens_the_tlp_of_a_report_held_here(db, hub, alice, bob):
    # Cuba's RED report; the hub (trusted for Cuba) holds a newer AMBER "version" of it.
    local = file_report(alice, tlp="red", title="Cuban red, as Cuba filed it")
    Incident.objects.filter(pk=local.pk).update(stix_id=CU_INCIDENT)
    FederationRemote.objects.create(url=hub).trusted_states.add(alice.state)
    result = pull(hub, bob)
    report = Incident.objects.get(stix_id=CU_INCIDENT)
    # The newer content wins, as documented; the audience never widens: only Cuba decides that.
    assert report.title == "Cuban amber, as the hub holds it"
    assert report.tlp == "red"
    jamaican = make_user("jm", Role.FOCAL_POINT, state="JM")
    assert not Incident.objects.for_user(jamaican).filter(pk=report.pk).exists()
    assert result.summary["tlp_kept"] == 1
    amend = AuditEntry.objects.filter(action="incident.amend").order_by("-seq").first()
    assert amend.after["tlp"] == "red"
    # Cuba pulling itself: the same rule (a remote never loosens a report of ours).
    again = file_report(alice, tlp="amber+strict", title="strict")
    Incident.objects.filter(pk=again.pk).update(stix_id=JM_INCIDENT.replace("7b4c", "7b4d"))
    data = _bundle(incident(JM_INCIDENT.replace("7b4c", "7b4d"), CU, "loosened", tlp="clear",
                            modified="2099-01-01T00:00:00.000Z"))
    trust = federation.Trust(hub, alice)
    summary = import_records(stix.parse(io.BytesIO(data)), user=alice, channel="federation",
                             route=trust.route(federation.RunResult("pull")), pulled=True)
    again.refresh_from_db()
    assert summary.reports_updated == 1 and again.tlp == "amber+strict"
    assert again.title == "loosened"


@pytest.mark.django_db
def test_a_states_own_import_may_still_loosen_its_report(alice):
    # What the State itself sends (a file, a POST to our TAXII) is its own decision.
    local = file_report(alice, tlp="red", title="mine")
    data = _bundle(incident(local.stix_id, None, "now amber", tlp="amber",
                            modified="2099-01-01T00:00:00.000Z"))
    summary = import_records(stix.parse(io.BytesIO(data)), user=alice)
    local.refresh_from_db()
    assert summary.reports_updated == 1 and local.tlp == "amber"


@medallion
def test_the_pullers_result_names_no_report_of_another_state(db, hub, alice, bob):
    # Cuba holds its report here; the hub (trusted for Cuba and Jamaica) has a newer one, and
    # a Jamaican report. The Swiss puller's result (a job result: the API gives it whole) must
    # not carry Cuba's local times nor the rows of Cuba's and Jamaica's reports.
    local = file_report(alice, tlp="amber", title="Cuban amber, as Cuba filed it")
    Incident.objects.filter(pk=local.pk).update(stix_id=CU_INCIDENT)
    remote = FederationRemote.objects.create(url=hub)
    remote.trusted_states.add(alice.state, MemberState.objects.get(alpha2="JM"))
    held = Incident.objects.get(pk=local.pk).updated_at    # when Cuba last changed it, here
    result = pull(hub, bob)
    assert result.filed_under == {"CU": 2, "JM": 1, "CH": 1}, result
    assert result.summary["reports_created"] == 1 and result.summary["reports_updated"] == 1
    jamaican = Incident.objects.get(title="Jamaican amber")
    assert jamaican.pk not in result.summary["created_ids"]
    assert result.summary["created_ids"] == []
    assert result.conflicts == []
    assert held.strftime("%Y-%m-%dT%H:%M:%S") not in str(result.as_dict())
    # The audit trail keeps the conflict, for Cuba's report.
    assert AuditEntry.objects.filter(action="exchange.federate.conflict",
                                     object_id=str(local.pk)).exists()


@pytest.mark.django_db
def test_the_import_account_cannot_sign_in_nor_use_a_token(alice):
    account = state_account(alice.state)
    assert not Client().login(username=account.username, password="")
    _token, secret = ApiToken.issue(account)
    response = Client().get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_a_name_squatting_the_import_account_stops_the_import_with_a_clear_error(alice, bob):
    # Someone gave the name import-cu to a Swiss account: nothing is filed under it.
    make_user("import-cu", Role.FOCAL_POINT, state=bob.state.alpha2)
    FederationRemote.objects.create(url="https://hub.example").trusted_states.add(alice.state)
    trust = federation.Trust("https://hub.example", bob)
    data = _bundle(incident(CU_INCIDENT, CU, "for Cuba"))
    with pytest.raises(Exception) as refused:
        import_records(stix.parse(io.BytesIO(data)), user=bob,
                       route=trust.route(federation.RunResult("pull")))
    assert "import-cu" in str(refused.value)
    assert not Incident.objects.exists()


@medallion
@pytest.mark.parametrize("status", ["closed", "withdrawn", "duplicate"])
def test_a_closed_report_held_here_does_not_stop_every_pull(db, hub, alice, bob, status):
    # Cuba closed its report; the trusted hub holds a newer version. Refusing the whole pull
    # would refuse every later pull too (the cursor stays), and tell the Swiss puller that
    # Cuba's report is closed. The report is left as Cuba closed it; the rest is filed.
    local = file_report(alice, tlp="amber", title="Cuban amber, as Cuba filed it")
    Incident.objects.filter(pk=local.pk).update(stix_id=CU_INCIDENT, status=status)
    FederationRemote.objects.create(url=hub).trusted_states.add(alice.state)
    result = pull(hub, bob)
    assert result.filed_under == {"CU": 2, "CH": 1}, result
    assert result.summary["reports_merged"] == 1 and result.summary["written"]
    local.refresh_from_db()
    assert (local.title, local.status) == ("Cuban amber, as Cuba filed it", status)
    assert status not in str(result.as_dict())
    conflict = AuditEntry.objects.get(action="exchange.federate.conflict")
    assert conflict.after["winner"] == "local"


@medallion
def test_pulled_reports_are_recorded_as_federation_whoever_they_are_filed_under(db, hub, alice,
                                                                               bob):
    remote = FederationRemote.objects.create(url=hub)
    remote.trusted_states.add(alice.state, MemberState.objects.get(alpha2="JM"))
    pull(hub, bob)
    assert {(i.state.alpha2, i.channel) for i in Incident.objects.all()} == {
        ("CU", "federation"), ("JM", "federation")}


@pytest.mark.django_db
def test_a_red_record_filed_for_another_state_is_that_states_alone(alice, bob, charlie):
    # Switzerland pulls a RED record that claims Cuba's identity from a remote trusted for Cuba:
    # filed under Cuba, seen by Cuba only (no analyst is named), never by the puller, not even
    # through this instance's TAXII server.
    from tests.exchange.test_taxii import ALL, Taxii, objects_of

    FederationRemote.objects.create(url="https://hub.example").trusted_states.add(alice.state)
    trust = federation.Trust("https://hub.example", bob)
    data = _bundle(incident(CU_INCIDENT, CU, "Cuban red", tlp="red"))
    summary = import_records(stix.parse(io.BytesIO(data)), user=bob, channel="federation",
                             route=trust.route(federation.RunResult("pull")), pulled=True)
    assert summary.filed_under == {"CU": 1}
    report = Incident.objects.get(title="Cuban red")
    assert (report.state, report.tlp, report.reporter.username) == (alice.state, "red",
                                                                     "import-cu")
    assert Incident.objects.for_user(alice).filter(pk=report.pk).exists()
    assert not Incident.objects.for_user(bob).filter(pk=report.pk).exists()
    assert not Incident.objects.for_user(charlie).filter(pk=report.pk).exists()
    for user in (bob, charlie):
        seen = objects_of(Taxii(user).get(f"sentinelle/collections/{ALL}/objects/"))
        assert "Cuban red" not in str(seen)
    assert Client().get(f"/incidents/{report.pk}/").status_code in (302, 404)
    web = Client()
    web.force_login(bob)
    assert web.get(f"/incidents/{report.pk}/").status_code == 404


@medallion
def test_a_squatted_import_account_fails_the_pull_with_a_clear_error(db, hub, alice, bob):
    # A job only reports a FederationError cleanly (run_federation): anything else is an
    # internal error that says nothing to the person who scheduled the pull.
    make_user("import-cu", Role.FOCAL_POINT, state=bob.state.alpha2)
    FederationRemote.objects.create(url=hub).trusted_states.add(alice.state)
    with pytest.raises(federation.FederationError) as refused:
        pull(hub, bob)
    assert "import-cu" in str(refused.value)
    assert not Incident.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("held", ["red", "amber+strict", "amber"])
def test_a_pull_never_loosens_the_tlp_of_an_indicator_held_here(alice, bob, held):
    from django.utils import timezone

    from sentinelle.exchange.models import SharedIndicator
    from tests.exchange.test_federation_states import CU_INDICATOR, indicator

    now = timezone.now()
    SharedIndicator.objects.create(
        stix_id=CU_INDICATOR, state=alice.state, created_by=alice, type="ipv4",
        value="198.51.100.7", tlp=held, created=now, modified=now, source="test")
    FederationRemote.objects.create(url="https://hub.example").trusted_states.add(alice.state)
    trust = federation.Trust("https://hub.example", bob)
    newer = indicator(CU_INDICATOR, "198.51.100.70", CU, modified="2099-01-01T00:00:00.000Z")
    summary = import_records(stix.parse(io.BytesIO(_bundle(newer))), user=bob,
                             route=trust.route(federation.RunResult("pull")), pulled=True)
    kept = SharedIndicator.objects.get(stix_id=CU_INDICATOR)
    assert summary.indicators_updated == 1 and kept.value == "198.51.100.70"
    assert kept.tlp == held                 # the newer value, under Cuba's TLP
    assert summary.tlp_kept == 1
    # Cuba's own import of the same may loosen it: its decision.
    newest = indicator(CU_INDICATOR, "198.51.100.71", None, modified="2099-02-01T00:00:00.000Z")
    import_records(stix.parse(io.BytesIO(_bundle(newest))), user=alice)
    assert SharedIndicator.objects.get(stix_id=CU_INDICATOR).tlp == "green"


# --- trust is told to the States it concerns --------------------------------------------------
# A remote trusted for Cuba may file records under Cuba and bring newer versions of Cuba's
# reports: like a State added to a sharing group, Cuba must hear of it, whoever declared it.

@pytest.mark.django_db
def test_trust_set_by_command_is_told_to_the_states_concerned(alice, bob, mailoutbox):
    from django.core.management import call_command

    call_command("federate", "trust", "--remote", "https://hub.example.org/taxii2/",
                 "--trusted-states", "CU")
    told = [m for m in mailoutbox if alice.email in m.to]
    assert len(told) == 1 and "https://hub.example.org/taxii2" in told[0].body
    assert not [m for m in mailoutbox if bob.email in m.to]      # Switzerland: not concerned
    mailoutbox.clear()
    call_command("federate", "trust", "--remote", "https://hub.example.org/taxii2",
                 "--trusted-states", "CH")
    assert {m.to[0] for m in mailoutbox} == {alice.email, bob.email}   # removed, added
    entry = AuditEntry.objects.filter(action="exchange.federate.trust").order_by("-seq").first()
    assert {n["state"] for n in entry.after["notified"]} == {"CU", "CH"}
    mailoutbox.clear()
    call_command("federate", "trust", "--remote", "https://hub.example.org/taxii2",
                 "--trusted-states", "CH")                     # no change: nobody told again
    assert mailoutbox == []


@pytest.mark.django_db
def test_trust_set_in_the_admin_is_told_to_the_states_concerned(alice, bob, mailoutbox):
    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(ada)
    response = client.post("/admin/exchange/federationremote/add/", {
        "url": "https://hub.example.org/taxii2/", "note": "",
        "trusted_states": [alice.state_id]})
    assert response.status_code == 302
    told = [m for m in mailoutbox if alice.email in m.to]
    assert len(told) == 1 and "ada" in told[0].body
    entry = AuditEntry.objects.filter(object_type="exchange.federationremote").first()
    assert [n["state"] for n in entry.after["notified"]] == ["CU"]


@pytest.mark.django_db
def test_the_puller_never_sees_an_amber_report_it_filed_for_another_state(alice, bob):
    FederationRemote.objects.create(url="https://hub.example").trusted_states.add(alice.state)
    trust = federation.Trust("https://hub.example", bob)
    data = _bundle(incident(CU_INCIDENT, CU, "Cuban amber via Switzerland"))
    import_records(stix.parse(io.BytesIO(data)), user=bob, channel="federation",
                   route=trust.route(federation.RunResult("pull")), pulled=True)
    report = Incident.objects.get(title="Cuban amber via Switzerland")
    web = Client()
    web.force_login(bob)
    for path in ("/incidents/", "/incidents/?mine=1", "/"):
        assert b"Cuban amber via Switzerland" not in web.get(path).content
    assert web.get(f"/incidents/{report.pk}/").status_code == 404
    _token, secret = ApiToken.issue(bob)
    api = Client().get("/api/v1/incidents/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert api.status_code == 200 and b"Cuban amber via Switzerland" not in api.content
    cuban = Client()
    cuban.force_login(alice)
    assert b"Cuban amber via Switzerland" in cuban.get("/incidents/").content
