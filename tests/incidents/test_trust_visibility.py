"""Issue 11, findings 4-6: one visibility policy for reports, versions, evidence, messages,
shared indicators and the admin; what was said while a report was RED stays RED.

Alice (Cuba) and Bob (Switzerland) are focal points, Charlie a Secretariat analyst, and Ada a
Secretariat administrator (Django admin) whom Alice never names.
"""

from __future__ import annotations

import itertools
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from sentinelle.core.models import AuditEntry, Job, MemberState, Role, SharingGroup
from sentinelle.exchange.formats import stix_common as sc
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.taxii.collections import collection_id
from sentinelle.incidents import services, visibility
from sentinelle.incidents.models import TLP, Incident, Status
from tests.conftest import api_client, file_report, make_user
from tests.exchange.test_stix import INCIDENT
from tests.exchange.test_taxii import Taxii, objects_of


def web(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def group_of(*users) -> SharingGroup:
    group = SharingGroup.objects.create(name="Island CERTs")
    group.states.set(MemberState.objects.filter(pk__in=[u.state_id for u in users]))
    return group


@pytest.fixture
def ada(db):
    """Secretariat administrator with access to the Django admin, named on nothing."""
    return make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)


@pytest.fixture
def dave(db):
    """A Secretariat analyst no State ever names."""
    return make_user("dave", Role.ANALYST)


# --- 4. One policy ---------------------------------------------------------------------------


def test_amber_strict_posted_to_a_group_collection_stays_with_its_state(alice, bob, charlie):
    group = group_of(alice, bob)
    root = f"group-{group.pk}"
    path = f"{root}/collections/{collection_id(root, 'shared')}/objects/"
    strict = {**INCIDENT, "name": "Strictly for Cuba",
              "object_marking_refs": [sc.TLP2_IDS["amber+strict"]]}
    response = Taxii(alice).post(path, {"objects": [strict]})
    assert response.status_code == 202, response.content
    incident = Incident.objects.get(stix_id=INCIDENT["id"])
    assert incident.tlp == TLP.AMBER_STRICT and incident.sharing_group == group
    # Not through the group collection, the community collection, the API or an export.
    assert incident.stix_id not in {o["id"] for o in objects_of(Taxii(bob).get(path))}
    everything = f"sentinelle/collections/{collection_id('sentinelle', 'all')}/objects/"
    assert incident.stix_id not in {o["id"] for o in objects_of(Taxii(bob).get(everything))}
    assert api_client(bob).get(f"/api/v1/incidents/{incident.pk}/").status_code == 404
    export = web(bob).get("/exchange/", {"format": "stix"})
    assert export.status_code == 200
    assert b"Strictly for Cuba" not in b"".join(export.streaming_content)
    assert web(bob).get(f"/incidents/{incident.pk}/").status_code == 404
    # Its State still has it.
    assert incident.stix_id in {o["id"] for o in objects_of(Taxii(alice).get(path))}


def test_the_page_of_a_group_shared_report_opens_for_a_member(alice, bob):
    group = group_of(alice, bob)
    amber = file_report(alice, tlp="amber", title="For the islands",
                        description="What the group may read")
    Incident.objects.filter(pk=amber.pk).update(sharing_group=group)
    response = web(bob).get(f"/incidents/{amber.pk}/")
    assert response.status_code == 200
    assert "What the group may read" in response.content.decode()
    versions = api_client(bob).get(f"/api/v1/incidents/{amber.pk}/versions/").json()
    assert [v["number"] for v in versions] == [1]
    assert web(bob).get(f"/incidents/{amber.pk}/diff/").status_code == 200


VIEWERS = ("owner", "member", "outsider", "analyst", "named", "council", "anonymous")


@pytest.mark.parametrize("tlp", [t.value for t in TLP])
def test_reports_versions_and_indicators_follow_one_table(alice, bob, charlie, dave, council,
                                                         tlp):
    """Every kind of object answers the same question the same way for every viewer."""
    group = group_of(alice, bob)
    olga = make_user("olga", Role.FOCAL_POINT, "RU")
    viewers = {"owner": alice, "member": bob, "outsider": olga, "analyst": dave,
               "named": charlie, "council": council, "anonymous": None}
    incident = file_report(alice, tlp=tlp, named_analysts=[charlie])
    Incident.objects.filter(pk=incident.pk).update(sharing_group=group)
    incident.refresh_from_db()
    now = timezone.now()
    indicator = SharedIndicator.objects.create(state=alice.state, type="ipv4",
                                               value="192.0.2.1", tlp=tlp, sharing_group=group,
                                               created=now, modified=now)
    version = incident.versions.get()
    expected = {
        "clear": set(VIEWERS),
        "green": {"owner", "member", "outsider", "analyst", "named"},
        "amber": {"owner", "member", "analyst", "named"},
        "amber+strict": {"owner", "named"},
        "red": {"owner", "named"},
    }[tlp]
    for name, user in viewers.items():
        sees = name in expected
        assert Incident.objects.for_user(user).filter(pk=incident.pk).exists() is sees, name
        assert visibility.report_visible(user, incident) is sees, name
        assert visibility.version_visible(user, incident, version.content) is sees, name
        if name == "named":
            continue  # indicators have no named analysts: AMBER+STRICT and RED stay home
        assert SharedIndicator.objects.for_user(user).filter(pk=indicator.pk).exists() is sees, \
            name
        assert visibility.indicator_visible(user, indicator) is sees, name


def test_every_state_and_status_combination_agrees(alice, bob, charlie, dave):
    """The queryset filter and the per-object predicate never disagree."""
    group = group_of(alice, bob)
    viewers = [alice, bob, charlie, dave, make_user("olga", Role.FOCAL_POINT, "RU"), None]
    reports = []
    for tlp, shared, status in itertools.product(
            [t.value for t in TLP], (False, True),
            (Status.DRAFT, Status.SUBMITTED, Status.WITHDRAWN)):
        incident = file_report(alice, tlp=tlp, named_analysts=[charlie], submit=False)
        Incident.objects.filter(pk=incident.pk).update(
            status=status, sharing_group=group if shared else None)
        incident.refresh_from_db()
        reports.append(incident)
    for user in viewers:
        by_query = set(Incident.objects.for_user(user).values_list("pk", flat=True))
        by_object = {i.pk for i in reports if visibility.report_visible(user, i)}
        assert by_query == by_object, user


# --- 5. What was said while RED stays RED ----------------------------------------------------


@pytest.fixture
def loosened(alice, charlie):
    """A RED report (Charlie named) with evidence and a message, then loosened to GREEN."""
    incident = file_report(alice, tlp="red", named_analysts=[charlie])
    red_file = services.attach_evidence(
        incident, alice, SimpleUploadedFile("engineers.txt", b"names of the engineers"),
        "Roster of the cooperating engineers")
    red_message = services.post_message(incident, alice, "The source is inside the ministry")
    services.amend_report(incident, alice, {"tlp": "green", "named_analysts": []})
    incident.refresh_from_db()
    green_file = services.attach_evidence(
        incident, alice, SimpleUploadedFile("public.txt", b"public summary"), "Public summary")
    green_message = services.post_message(incident, alice, "A sanitised account follows")
    return {"incident": incident, "red_file": red_file, "red_message": red_message,
            "green_file": green_file, "green_message": green_message}


def test_evidence_and_messages_record_the_tlp_they_were_added_under(loosened, charlie):
    red_file, red_message = loosened["red_file"], loosened["red_message"]
    assert (red_file.tlp, list(red_file.named_analysts.all())) == (TLP.RED, [charlie])
    assert (red_message.tlp, list(red_message.named_analysts.all())) == (TLP.RED, [charlie])
    assert loosened["green_file"].tlp == TLP.GREEN
    assert loosened["green_message"].tlp == TLP.GREEN


@pytest.mark.parametrize("path", ["/evidence/{id}/download/", "/api/v1/evidence/{id}/download/"])
def test_red_era_evidence_is_not_downloaded_by_another_state(loosened, alice, bob, charlie, dave,
                                                            path):
    def code(user, item):
        client = web(user) if path.startswith("/evidence") else api_client(user)
        return client.get(path.format(id=item.pk)).status_code

    red_file, green_file = loosened["red_file"], loosened["green_file"]
    assert [code(u, red_file) for u in (alice, bob, charlie, dave)] == [200, 404, 200, 404]
    assert [code(u, green_file) for u in (alice, bob, charlie, dave)] == [200, 200, 200, 200]


def test_red_era_evidence_is_not_listed_to_another_state(loosened, alice, bob, dave):
    incident = loosened["incident"]
    for user in (bob, dave):
        listed = api_client(user).get(f"/api/v1/incidents/{incident.pk}/evidence/").json()
        assert [item["filename"] for item in listed] == ["public.txt"]
        page = web(user).get(f"/incidents/{incident.pk}/").content.decode()
        assert "engineers.txt" not in page and "cooperating engineers" not in page
        assert "public.txt" in page
    listed = api_client(alice).get(f"/api/v1/incidents/{incident.pk}/evidence/").json()
    assert [(item["filename"], item["tlp"]) for item in listed] == [
        ("engineers.txt", "red"), ("public.txt", "green")]


def test_red_era_message_is_not_read_by_an_analyst_never_named(loosened, alice, charlie, dave):
    incident = loosened["incident"]

    def thread(user) -> list[str]:
        return [m["body"] for m in
                api_client(user).get(f"/api/v1/incidents/{incident.pk}/messages/").json()]

    assert thread(dave) == ["A sanitised account follows"]
    assert thread(charlie) == ["The source is inside the ministry", "A sanitised account follows"]
    assert thread(alice) == thread(charlie)
    page = web(dave).get(f"/incidents/{incident.pk}/").content.decode()
    assert "inside the ministry" not in page and "A sanitised account follows" in page
    assert "inside the ministry" in web(charlie).get(f"/incidents/{incident.pk}/").content.decode()


# --- 6. The admin ----------------------------------------------------------------------------


def test_admin_applies_the_table_to_reports(alice, charlie, ada):
    draft = file_report(alice, tlp="amber", title="Cuban draft", submit=False)
    strict = file_report(alice, tlp="amber+strict", title="Cuban strict",
                         description="Only Charlie may read this", named_analysts=[charlie])
    amber = file_report(alice, tlp="amber", title="Cuban amber")
    client = web(ada)
    for hidden in (draft, strict):
        response = client.get(f"/admin/incidents/incident/{hidden.pk}/change/")
        assert response.status_code in (302, 404), response.status_code
        assert b"Only Charlie" not in response.content
    listing = client.get("/admin/incidents/incident/").content.decode()
    assert "Cuban amber" in listing
    assert "Cuban strict" not in listing and "Cuban draft" not in listing
    assert client.get(f"/admin/incidents/incident/{amber.pk}/change/").status_code == 200


def test_admin_inlines_follow_the_era_of_each_item(loosened, ada):
    incident = loosened["incident"]
    page = web(ada).get(f"/admin/incidents/incident/{incident.pk}/change/").content.decode()
    assert "A sanitised account follows" in page and "public.txt" in page
    assert "inside the ministry" not in page
    assert "engineers.txt" not in page and "cooperating engineers" not in page


def test_audit_entries_do_not_show_restricted_content(alice, charlie, ada):
    strict = file_report(alice, tlp="amber+strict", title="Cuban strict",
                         description="Only Charlie may read this", named_analysts=[charlie])
    services.attach_evidence(strict, alice, SimpleUploadedFile("roster.txt", b"x"),
                             "Roster of engineers")
    amber = file_report(alice, tlp="amber", title="Cuban amber",
                        description="The Secretariat may read this")
    client = web(ada)
    entries = AuditEntry.objects.filter(object_type__startswith="incidents.")
    assert entries.filter(object_id=str(strict.pk)).exists()
    for entry in entries:
        response = client.get(f"/admin/core/auditentry/{entry.pk}/change/")
        text = response.content.decode()
        assert "Only Charlie" not in text and "roster.txt" not in text, entry
    listing = client.get("/admin/core/auditentry/").content.decode()
    assert "Only Charlie" not in listing
    visible = entries.get(action="incident.create", object_id=str(amber.pk))
    text = client.get(f"/admin/core/auditentry/{visible.pk}/change/").content.decode()
    assert "The Secretariat may read this" in text
    # Charlie, named, is shown what he may see (were he staff).
    charlie.is_staff = charlie.is_superuser = True
    charlie.save()
    entry = entries.get(action="incident.create", object_id=str(strict.pk))
    text = web(charlie).get(f"/admin/core/auditentry/{entry.pk}/change/").content.decode()
    assert "Only Charlie may read this" in text


def test_admin_sees_others_jobs_but_not_their_files(alice, ada, tmp_path):
    from django.core.files.base import ContentFile

    job = Job.objects.create(kind="export", owner=alice, status=Job.Status.SUCCEEDED,
                             result={"summary": "Cuban strict report"},
                             output_name="sentinelle-export.json")
    job.output.save("x", ContentFile(json.dumps({"secret": "Cuban strict"}).encode()))
    mine = Job.objects.create(kind="export", owner=ada, status=Job.Status.SUCCEEDED)
    assert set(Job.objects.for_user(ada)) == {mine}
    assert set(Job.objects.status_for_user(ada)) == {job, mine}
    page = web(ada).get(f"/admin/core/job/{job.pk}/change/")
    if page.status_code == 200:
        text = page.content.decode()
        assert "Cuban strict" not in text and job.output.name not in text
    assert web(ada).get(f"/jobs/{job.pk}/output/").status_code == 404
    status = web(ada).get(f"/jobs/{job.pk}/")
    assert status.status_code == 200 and "Cuban strict" not in status.content.decode()
    data = api_client(ada).get(f"/api/v1/jobs/{job.pk}/").json()
    assert data["status"] == "succeeded"
    assert data["output"] is None and data["result"] is None
    assert "Cuban strict" in web(alice).get(f"/jobs/{job.pk}/").content.decode()


def test_an_answer_written_under_red_is_not_mailed_to_an_analyst_who_may_not_read_it(
        alice, charlie, dave, django_capture_on_commit_callbacks):
    from django.core import mail

    incident = file_report(alice, tlp="amber")
    services.change_status(incident, dave, Status.ACKNOWLEDGED)
    services.change_status(incident, dave, Status.INFO_REQUESTED, note="Send the logs")
    incident.refresh_from_db()
    services.amend_report(incident, alice, {"tlp": "red", "named_analysts": [charlie]})
    incident.refresh_from_db()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(incident, alice, "The logs name our informant")
    assert incident.messages.get(body__contains="informant").kind == "answer"
    assert not [m for m in mail.outbox if "informant" in m.body]
    # Under AMBER the requesting analyst is told.
    services.amend_report(incident, alice, {"tlp": "amber", "named_analysts": []})
    services.change_status(incident, dave, Status.INFO_REQUESTED, note="And the dates?")
    incident.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.post_message(incident, alice, "From 1 to 3 March")
    assert [m.to for m in mail.outbox if "1 to 3 March" in m.body] == [[dave.email]]


def test_a_red_era_information_request_stays_red_in_the_status_history(alice, charlie, dave):
    incident = file_report(alice, tlp="red", named_analysts=[charlie])
    services.change_status(incident, charlie, Status.INFO_REQUESTED,
                           note="Name the engineer who saw the tap")
    incident.refresh_from_db()
    services.post_message(incident, alice, "We will answer in person")
    services.amend_report(incident, alice, {"tlp": "green", "named_analysts": []})
    services.change_status(incident, dave, Status.INFO_REQUESTED, note="Any update?")
    for user, sees in ((dave, False), (charlie, True), (alice, True)):
        notes = [t["note"] for t in
                 api_client(user).get(f"/api/v1/incidents/{incident.pk}/transitions/").json()]
        assert ("Name the engineer who saw the tap" in notes) is sees, user
        assert "Any update?" in notes
        page = web(user).get(f"/incidents/{incident.pk}/").content.decode()
        assert ("saw the tap" in page) is sees, user


def test_migration_gives_existing_rows_the_tlp_of_their_time(alice, charlie):
    """Rows written before evidence and messages carried a TLP get the one of the version
    current when they were created, or the report's own when no version is that old."""
    import datetime as dt
    import importlib

    from django.apps import apps

    from sentinelle.incidents.models import Evidence, IncidentVersion, Message

    migration = importlib.import_module(
        "sentinelle.incidents.migrations.0005_evidence_message_tlp_when_added")
    incident = file_report(alice, tlp="red", named_analysts=[charlie])
    services.amend_report(incident, alice, {"tlp": "green", "named_analysts": []})
    red_era = services.attach_evidence(incident, alice, SimpleUploadedFile("a.txt", b"a"))
    answer = services.post_message(incident, alice, "said under RED")
    green_era = services.attach_evidence(incident, alice, SimpleUploadedFile("b.txt", b"b"))
    v1, v2 = IncidentVersion.objects.filter(incident=incident).order_by("number")
    t1 = v1.created_at
    IncidentVersion.objects.filter(pk=v2.pk).update(created_at=t1 + dt.timedelta(hours=2))
    Evidence.objects.filter(pk=red_era.pk).update(uploaded_at=t1 + dt.timedelta(hours=1))
    Message.objects.filter(pk=answer.pk).update(created_at=t1 + dt.timedelta(hours=1))
    Evidence.objects.filter(pk=green_era.pk).update(uploaded_at=t1 + dt.timedelta(hours=3))
    # As the rows were before the migration: no TLP of their own, no analysts.
    Evidence.objects.update(tlp="clear")
    Message.objects.update(tlp="clear")
    for item in (red_era, answer, green_era):
        item.named_analysts.clear()
    migration.record_eras(apps, None)
    red_era.refresh_from_db()
    answer.refresh_from_db()
    green_era.refresh_from_db()
    assert (red_era.tlp, list(red_era.named_analysts.all())) == ("red", [charlie])
    assert (answer.tlp, list(answer.named_analysts.all())) == ("red", [charlie])
    assert (green_era.tlp, list(green_era.named_analysts.all())) == ("green", [])
    # Older than every version: the report's current TLP.
    Evidence.objects.filter(pk=red_era.pk).update(uploaded_at=t1 - dt.timedelta(days=1))
    migration.record_eras(apps, None)
    red_era.refresh_from_db()
    assert red_era.tlp == "green"


def test_observatory_admin_lists_only_rows_of_visible_reports(alice, ada, tmp_path):
    """A bundle makes a draft report: its submission and observations stay with its State."""
    from sentinelle.observatory import services as observatory
    from sentinelle.observatory.models import AccessObservation, BundleSubmission
    from tests.observatory_helpers import access_bundle

    incident = observatory.submit(alice, access_bundle(tmp_path / "run.zip")).incident
    assert incident.status == Status.DRAFT
    submission = BundleSubmission.objects.get(incident=incident)
    observation = AccessObservation.objects.filter(incident=incident).first()
    client = web(ada)
    for path in (f"/admin/observatory/bundlesubmission/{submission.pk}/change/",
                 f"/admin/observatory/accessobservation/{observation.pk}/change/"):
        assert client.get(path).status_code == 302, path
    listing = client.get("/admin/observatory/bundlesubmission/").content.decode()
    assert submission.sha256 not in listing
    services.change_status(incident, alice, Status.SUBMITTED)   # an AMBER report, submitted
    assert client.get(
        f"/admin/observatory/bundlesubmission/{submission.pk}/change/").status_code == 200
