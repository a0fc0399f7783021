"""Campaigns on the platform (issue 15 point 2): a campaign round's bundle is linked to its
campaign, each service's verdict per round makes a timeline, and a change of verdict that holds
for two rounds is alerted once to the State's focal points and the Secretariat.

Three users as everywhere: alice (Cuba's focal point, owner of the campaigns), bob (focal point
of Switzerland, an outsider: 404 and never listed) and charlie (Secretariat analyst)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from sentinelle.evidence.bundle import BundleWriter
from sentinelle.incidents.models import Incident, Status
from sentinelle.observatory import campaigns, services
from sentinelle.observatory.models import (
    AccessObservation,
    BundleSubmission,
    Campaign,
    CampaignChange,
    CampaignRound,
    CampaignVerdict,
)
from tests.conftest import PASSWORD, api_client, make_user, page
from tests.observatory_helpers import CONTROL, VANTAGE, result

DOCKER = "https://hub.docker.com/"
NEWS = "https://news.example.org/"


def campaign_value(number: int, name: str = "weekly", **overrides) -> dict:
    value = {"name": name, "round": number,
             "scheduled_at": f"2026-03-{min(number, 28):02d}T12:00:00Z",
             "interval_seconds": 86400, "config_sha256": "ab" * 32}
    value.update(overrides)
    return value


def round_bundle(path: Path, campaign, results: list[dict]) -> Path:
    """An access-probe bundle as `sentinelle probe campaign` writes it: its manifest names
    the campaign and the round (``campaign=None``: no campaign key at all)."""
    with BundleWriter(path, kind="access-probe", signing_key=Ed25519PrivateKey.generate(),
                      command_line=["sentinelle", "probe", "campaign"]) as w:
        w.add_bytes("measurements.jsonl",
                    b"".join(json.dumps(r).encode() + b"\n" for r in results))
        w.set("vantage", VANTAGE)
        w.set("control", CONTROL)
        w.set("started_at", "2026-03-10T11:59:00+00:00")
        w.set("finished_at", "2026-03-10T12:30:00+00:00")
        if campaign is not None:
            w.set("campaign", campaign)
        w.set("summary", {"list": "test-list.csv", "count": len(results), "results": results})
    return path


def submit_round(user, tmp_path, number: int, docker: str, news: str = "accessible",
                 name: str = "weekly"):
    """Round ``number`` of campaign ``name``: Docker Hub with verdict ``docker``."""
    results = [result(DOCKER, docker), result(DOCKER + "v2/", docker), result(NEWS, news)]
    path = round_bundle(tmp_path / f"{name}-{number}-{docker}.zip",
                        campaign_value(number, name), results)
    return services.submit(user, path, expect="probe")


def submit_rounds(user, tmp_path, verdicts: dict[int, str], capture, name: str = "weekly"):
    """Submit rounds in the order given, running what each transaction defers (the e-mails)."""
    for number, verdict in verdicts.items():
        with capture(execute=True):
            submit_round(user, tmp_path, number, verdict, name=name)


def _nothing_written():
    assert Incident.objects.count() == 0 and BundleSubmission.objects.count() == 0
    assert AccessObservation.objects.count() == 0 and Campaign.objects.count() == 0


# --- the rules, alone -------------------------------------------------------------------------

@pytest.mark.parametrize(("counts", "expected"), [
    ({"accessible": 3}, "accessible"),
    ({"accessible": 2, "geoblocked": 1}, "geoblocked"),      # any denial denies the service
    ({"geoblocked": 1, "tcp-blocked": 2}, "tcp-blocked"),    # the most frequent denial
    ({"geoblocked": 1, "tcp-blocked": 1}, "geoblocked"),     # a tie: the order of Verdict
    ({"challenged": 1, "inconclusive": 4}, "challenged"),
    ({"inconclusive": 2}, "inconclusive"),
])
def test_a_service_verdict_sums_up_its_results(counts, expected):
    assert campaigns.service_verdict(counts) == expected


@pytest.mark.parametrize(("sequence", "expected"), [
    ([(1, "a"), (2, "a"), (3, "b"), (4, "b")], [(3, "a", "b")]),
    ([(1, "a"), (2, "b"), (3, "a"), (4, "b")], []),                       # flapping
    ([(1, "a"), (2, "b")], []),                                           # held once only
    ([(1, "a"), (3, "b"), (4, "b")], [(3, "a", "b")]),                    # a round missing
    ([(1, "a"), (2, "b"), (4, "b")], []),                                 # 2 and 4: not in a row
    ([(1, "a"), (2, "b"), (3, "b"), (4, "a"), (5, "a")], [(2, "a", "b"), (4, "b", "a")]),
    ([(1, "a"), (2, "inconclusive"), (3, "a")], []),                      # says nothing
])
def test_a_change_is_a_new_verdict_held_two_rounds_in_a_row(sequence, expected):
    assert campaigns.find_changes(sequence) == expected


# --- rounds ---------------------------------------------------------------------------------

def test_a_bundle_without_campaign_is_submitted_as_before(alice, tmp_path):
    outcome = services.submit(alice, round_bundle(tmp_path / "b.zip", None,
                                                  [result(DOCKER, "geoblocked")]))
    assert outcome.created and outcome.incident.status == Status.DRAFT
    assert Campaign.objects.count() == 0 and CampaignRound.objects.count() == 0


def test_each_round_is_its_own_draft_report_linked_to_the_campaign(alice, tmp_path,
                                                                    django_capture_on_commit_callbacks):
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "geoblocked"},
                  django_capture_on_commit_callbacks)
    campaign = Campaign.objects.get()
    assert (campaign.state.alpha2, campaign.name, campaign.interval) == ("CU", "weekly", 86400)
    assert campaign.config_sha256 == "ab" * 32
    assert f"{campaign.last_round_at:%Y-%m-%d}" == "2026-03-02"
    rounds = list(campaign.rounds.order_by("number"))
    assert [r.number for r in rounds] == [1, 2]
    assert len({r.submission.incident_id for r in rounds}) == 2     # two draft reports
    assert all(r.submission.incident.status == Status.DRAFT for r in rounds)
    verdicts = set(CampaignVerdict.objects.values_list("number", "service", "verdict"))
    assert verdicts == {(1, "hub.docker.com", "accessible"), (1, "news.example.org", "accessible"),
                        (2, "hub.docker.com", "geoblocked"), (2, "news.example.org", "accessible")}


def test_the_same_bundle_twice_is_still_one_round(alice, tmp_path):
    path = round_bundle(tmp_path / "r1.zip", campaign_value(1), [result(DOCKER, "accessible")])
    first = services.submit(alice, path)
    again = services.submit(alice, path)
    assert first.created and not again.created and again.incident == first.incident
    assert CampaignRound.objects.count() == 1


def test_a_round_number_submitted_again_with_another_bundle_is_refused(alice, tmp_path):
    first = submit_round(alice, tmp_path, 1, "accessible")
    sha = first.incident.bundle_submission.sha256
    path = round_bundle(tmp_path / "other.zip", campaign_value(1),
                        [result(DOCKER, "geoblocked")])
    with pytest.raises(services.BundleRefused) as refused:
        services.submit(alice, path)
    text = " ".join(refused.value.messages)
    assert "Round 1 of campaign “weekly”" in text and sha in text
    assert Incident.objects.count() == 1 and BundleSubmission.objects.count() == 1
    assert AccessObservation.objects.count() == 3 and CampaignRound.objects.count() == 1


def test_campaigns_are_per_state(alice, bob, tmp_path):
    submit_round(alice, tmp_path, 1, "accessible")
    submit_round(bob, tmp_path, 1, "accessible")     # the same name and round in another State
    assert sorted(Campaign.objects.values_list("state__alpha2", flat=True)) == ["CH", "CU"]


@pytest.mark.parametrize(("value", "field"), [
    ("weekly", "campaign"),
    ([1], "campaign"),
    ({"round": 1, "scheduled_at": "2026-03-01T00:00:00Z"}, "campaign.name"),
    (campaign_value(1, name="Weekly"), "campaign.name"),
    (campaign_value(1, name="-weekly"), "campaign.name"),
    (campaign_value(1, name="a" * 65), "campaign.name"),
    (campaign_value(1, name="week ly"), "campaign.name"),
    (campaign_value(1, name="weekly\n"), "campaign.name"),
    (campaign_value(1, name=7), "campaign.name"),
    (campaign_value(0), "campaign.round"),
    (campaign_value(-3), "campaign.round"),
    (campaign_value(1, round="1"), "campaign.round"),
    (campaign_value(1, round=True), "campaign.round"),
    (campaign_value(1, round=1.5), "campaign.round"),
    (campaign_value(1, round=10**30), "campaign.round"),
    (campaign_value(1, round=None), "campaign.round"),
    (campaign_value(1, scheduled_at="yesterday"), "campaign.scheduled_at"),
    (campaign_value(1, scheduled_at=1773144000), "campaign.scheduled_at"),
    (campaign_value(1, scheduled_at="2026-13-01T00:00:00Z"), "campaign.scheduled_at"),
    (campaign_value(1, scheduled_at="2" * 10_000), "campaign.scheduled_at"),
    (campaign_value(1, interval_seconds=-1), "campaign.interval_seconds"),
    (campaign_value(1, interval_seconds="3600"), "campaign.interval_seconds"),
    (campaign_value(1, config_sha256="not hex"), "campaign.config_sha256"),
    (campaign_value(1, config_sha256=["ab"]), "campaign.config_sha256"),
])
def test_a_malformed_campaign_is_refused_naming_the_field(alice, tmp_path, value, field):
    path = round_bundle(tmp_path / "bad.zip", value, [result(DOCKER, "accessible")])
    with pytest.raises(services.BundleRefused) as refused:
        services.submit(alice, path)
    assert f"“{field}”" in " ".join(refused.value.messages)
    _nothing_written()


# --- alerts ---------------------------------------------------------------------------------

def _mails_to() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_a_change_held_two_rounds_is_alerted_once(alice, bob, charlie, tmp_path,
                                                  django_capture_on_commit_callbacks):
    amelie = make_user("amelie", "focal-point", "CU")      # a second focal point of Cuba
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "accessible", 3: "geoblocked"},
                  django_capture_on_commit_callbacks)
    assert CampaignChange.objects.count() == 0 and mail.outbox == []   # held once: not yet
    submit_rounds(alice, tmp_path, {4: "geoblocked"}, django_capture_on_commit_callbacks)
    change = CampaignChange.objects.get()
    assert (change.service, change.from_verdict, change.to_verdict, change.number,
            change.detected_in) == ("hub.docker.com", "accessible", "geoblocked", 3, 4)
    # Cuba's focal points and the Secretariat; never another State's focal point.
    assert _mails_to() == sorted([alice.email, amelie.email, charlie.email])
    assert bob.email not in _mails_to()
    message = mail.outbox[0]
    assert "hub.docker.com" in message.subject and "weekly" in message.subject
    assert "from “accessible” to “geoblocked” in round 3" in message.body
    assert f"/observatory/campaigns/{change.campaign_id}/" in message.body
    mail.outbox.clear()
    submit_rounds(alice, tmp_path, {5: "geoblocked", 6: "geoblocked"},
                  django_capture_on_commit_callbacks)
    assert CampaignChange.objects.count() == 1 and mail.outbox == []   # no second alert
    submit_rounds(alice, tmp_path, {7: "accessible", 8: "accessible"},
                  django_capture_on_commit_callbacks)
    back = CampaignChange.objects.latest("number")
    assert (back.from_verdict, back.to_verdict, back.number) == ("geoblocked", "accessible", 7)
    assert len(mail.outbox) == 3


def test_a_flapping_service_raises_nothing(alice, charlie, tmp_path,
                                           django_capture_on_commit_callbacks):
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "geoblocked", 3: "accessible",
                                    4: "geoblocked", 5: "accessible"},
                  django_capture_on_commit_callbacks)
    assert CampaignChange.objects.count() == 0 and mail.outbox == []


def test_rounds_out_of_order_are_ordered_by_number(alice, charlie, tmp_path,
                                                   django_capture_on_commit_callbacks):
    # The outbox delivered rounds 4 and 1 first: 1 then 4 is not two rounds in a row.
    submit_rounds(alice, tmp_path, {4: "geoblocked", 1: "accessible"},
                  django_capture_on_commit_callbacks)
    assert CampaignChange.objects.count() == 0
    submit_rounds(alice, tmp_path, {3: "geoblocked"}, django_capture_on_commit_callbacks)
    change = CampaignChange.objects.get()
    assert (change.number, change.from_verdict, change.to_verdict) == (3, "accessible",
                                                                       "geoblocked")
    assert len(mail.outbox) == 2
    # Round 2 arrives last and moves the change one round earlier: the same change, not told
    # again.
    submit_rounds(alice, tmp_path, {2: "geoblocked"}, django_capture_on_commit_callbacks)
    change.refresh_from_db()
    assert CampaignChange.objects.count() == 1 and change.number == 2
    assert len(mail.outbox) == 2


def test_a_late_first_round_sets_the_stable_verdict(alice, charlie, tmp_path,
                                                    django_capture_on_commit_callbacks):
    submit_rounds(alice, tmp_path, {2: "geoblocked", 3: "geoblocked"},
                  django_capture_on_commit_callbacks)
    assert CampaignChange.objects.count() == 0    # geoblocked from the start: no change
    submit_rounds(alice, tmp_path, {1: "accessible"}, django_capture_on_commit_callbacks)
    assert list(CampaignChange.objects.values_list("number", "to_verdict")) == [
        (2, "geoblocked")]


def test_a_refused_round_alerts_nothing(alice, charlie, tmp_path,
                                        django_capture_on_commit_callbacks):
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "geoblocked"},
                  django_capture_on_commit_callbacks)
    path = round_bundle(tmp_path / "dup.zip", campaign_value(2),
                        [result(DOCKER, "tcp-blocked"), result(NEWS, "accessible")])
    with django_capture_on_commit_callbacks(execute=True), \
            pytest.raises(services.BundleRefused):
        services.submit(alice, path)
    assert CampaignChange.objects.count() == 0 and mail.outbox == []


def test_the_alert_is_in_each_recipients_language(alice, charlie, tmp_path, catalogues,
                                                  django_capture_on_commit_callbacks):
    charlie.language = "fr"
    charlie.save()
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "geoblocked", 3: "geoblocked"},
                  django_capture_on_commit_callbacks)
    by_address = {message.to[0]: message.body for message in mail.outbox}
    assert "géobloqué" in by_address[charlie.email]
    assert "geoblocked" in by_address[alice.email]


# --- pages ----------------------------------------------------------------------------------

def _client(user) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def weekly(alice, tmp_path, django_capture_on_commit_callbacks) -> Campaign:
    submit_rounds(alice, tmp_path, {1: "accessible", 2: "accessible", 3: "geoblocked",
                                    4: "geoblocked"}, django_capture_on_commit_callbacks)
    return Campaign.objects.get()


def test_the_timeline_page_shows_services_verdicts_and_the_change(alice, weekly):
    response = _client(alice).get(f"/observatory/campaigns/{weekly.pk}/")
    text = page(response)
    assert "Campaign weekly (CU)" in text
    assert "hub.docker.com" in text and "news.example.org" in text
    assert "Rounds 1 to 4" in text
    # The verdict in words, and the change point in words: not colour alone.
    assert text.count("change (was accessible)") == 1
    body = response.content.decode()
    docker_row = body[body.index("hub.docker.com</th>"):]
    docker_row = docker_row[:docker_row.index("</tr>")]
    cells = [c.split(">", 1)[1].split("<", 1)[0].strip() for c in docker_row.split("<td")[1:]]
    assert cells == ["accessible", "accessible", "geoblocked", "geoblocked"]
    assert 'class="verdict v-denied change-point"' in docker_row
    # The change is listed, and each round's bundle is linked for its State.
    assert "Changes of verdict" in text and "No change of verdict so far." not in text
    for r in weekly.rounds.all():
        assert f"/observatory/submissions/{r.submission_id}/" in body


def test_the_timeline_shows_a_window_of_rounds(alice, tmp_path,
                                               django_capture_on_commit_callbacks):
    submit_rounds(alice, tmp_path, {n: "accessible" for n in range(1, 8)},
                  django_capture_on_commit_callbacks)
    campaign = Campaign.objects.get()
    text = page(_client(alice).get(f"/observatory/campaigns/{campaign.pk}/?rounds=3"))
    assert "Rounds 5 to 7" in text and "Earlier rounds" in text and "Later rounds" not in text
    text = page(_client(alice).get(f"/observatory/campaigns/{campaign.pk}/?rounds=3&upto=4"))
    assert "Rounds 2 to 4" in text and "Earlier rounds" in text and "Later rounds" in text
    for bad in ("rounds=abc", "upto=-1", "rounds=999999999999", "upto=99999999999999999"):
        assert _client(alice).get(f"/observatory/campaigns/{campaign.pk}/?{bad}") \
            .status_code == 200


def test_the_list_and_links(alice, charlie, weekly):
    text = page(_client(alice).get("/observatory/campaigns/"))
    assert "weekly" in text and f"/observatory/campaigns/{weekly.pk}/" in text
    home = _client(alice).get("/observatory/").content.decode()
    assert "/observatory/campaigns/" in home
    submission = weekly.rounds.get(number=2).submission
    body = _client(alice).get(f"/observatory/submissions/{submission.pk}/").content.decode()
    assert f"/observatory/campaigns/{weekly.pk}/" in body and "Round 2 of campaign weekly" in body


def test_the_secretariat_sees_every_states_campaigns_and_filters_by_state(
        alice, bob, charlie, weekly, tmp_path, django_capture_on_commit_callbacks):
    submit_rounds(bob, tmp_path, {1: "accessible"}, django_capture_on_commit_callbacks,
                  name="swiss-daily")
    text = page(_client(charlie).get("/observatory/campaigns/"))
    assert "weekly" in text and "swiss-daily" in text
    text = page(_client(charlie).get("/observatory/campaigns/?state=CH"))
    assert "swiss-daily" in text and "weekly" not in text
    text = page(_client(charlie).get(f"/observatory/campaigns/{weekly.pk}/"))
    assert "change (was accessible)" in text
    # A round's draft report is its State's alone: the Secretariat gets no link to its bundle.
    body = _client(charlie).get(f"/observatory/campaigns/{weekly.pk}/").content.decode()
    assert "/observatory/submissions/" not in body


# --- isolation: State B never sees State A's campaign ---------------------------------------

def test_another_state_gets_404_and_no_listing(bob, weekly):
    assert _client(bob).get(f"/observatory/campaigns/{weekly.pk}/").status_code == 404
    text = page(_client(bob).get("/observatory/campaigns/?state=CU"))
    assert "weekly" not in text and f"/observatory/campaigns/{weekly.pk}/" not in text
    api = api_client(bob)
    assert api.get(f"/api/v1/observatory/campaigns/{weekly.pk}/").status_code == 404
    listed = api.get("/api/v1/observatory/campaigns/?state=CU").json()
    assert weekly.pk not in [c["id"] for c in listed.get("results", listed)]
    submission = weekly.rounds.first().submission
    assert _client(bob).get(f"/observatory/submissions/{submission.pk}/").status_code == 404


def test_council_readers_see_no_campaign(council, weekly):
    assert _client(council).get(f"/observatory/campaigns/{weekly.pk}/").status_code == 404
    assert "weekly" not in page(_client(council).get("/observatory/campaigns/"))
    assert api_client(council).get(f"/api/v1/observatory/campaigns/{weekly.pk}/") \
        .status_code == 404


def test_anonymous_is_sent_to_sign_in_and_gets_401(weekly):
    for url in ("/observatory/campaigns/", f"/observatory/campaigns/{weekly.pk}/"):
        response = Client().get(url)
        assert response.status_code == 302 and "login" in response["Location"]
    for url in ("/api/v1/observatory/campaigns/", f"/api/v1/observatory/campaigns/{weekly.pk}/"):
        assert api_client(None).get(url).status_code == 401


# --- API ------------------------------------------------------------------------------------

def test_api_lists_and_shows_the_timeline(alice, charlie, weekly):
    listed = api_client(alice).get("/api/v1/observatory/campaigns/").json()
    rows = listed.get("results", listed)
    assert [(c["name"], c["state"], c["rounds"], c["interval_seconds"]) for c in rows] == [
        ("weekly", "CU", 4, 86400)]
    detail = api_client(alice).get(f"/api/v1/observatory/campaigns/{weekly.pk}/").json()
    docker = next(r for r in detail["timeline"] if r["service"] == "hub.docker.com")
    assert [(c["round"], c["verdict"], c["change"]) for c in docker["cells"]] == [
        (1, "accessible", False), (2, "accessible", False), (3, "geoblocked", True),
        (4, "geoblocked", False)]
    assert detail["changes"] == [{
        "service": "hub.docker.com", "from_verdict": "accessible", "to": "geoblocked",
        "round": 3, "detected_in": 4, "detected_at": detail["changes"][0]["detected_at"]}]
    assert detail["changes_total"] == 1
    assert detail["window"]["first"] == 1 and detail["window"]["last"] == 4
    assert all(r["submission"] for r in detail["window"]["rounds"])
    window = api_client(alice).get(
        f"/api/v1/observatory/campaigns/{weekly.pk}/?upto=3&rounds=2").json()["window"]
    assert [r["round"] for r in window["rounds"]] == [2, 3] and window["later"] == 4
    # The Secretariat: the same timeline, without the links to the State's draft bundles.
    seen = api_client(charlie).get(f"/api/v1/observatory/campaigns/{weekly.pk}/").json()
    assert seen["timeline"] == detail["timeline"]
    assert not any(r["submission"] for r in seen["window"]["rounds"])


def test_openapi_schema_documents_the_campaign_endpoints(capsys, db):   # enums read the db
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(
        patterns=[path("api/v1/", include("sentinelle.observatory.api.urls"))]).get_schema(
        request=None, public=True)
    assert "get" in schema["paths"]["/api/v1/observatory/campaigns/"]
    detail = schema["paths"]["/api/v1/observatory/campaigns/{id}/"]["get"]
    assert {p["name"] for p in detail["parameters"]} >= {"id", "upto", "rounds"}
    properties = schema["components"]["schemas"]["CampaignDetail"]["properties"]
    assert {"window", "timeline", "changes"} <= set(properties)
    assert "campaign" not in capsys.readouterr().err.lower()   # no schema warning about them


def test_the_timeline_reads_a_window_whatever_the_campaigns_length(
        alice, tmp_path, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    """Thousands of rounds: the page and the API read the window's rows (a fixed number of
    queries, at most ``rounds`` columns), never every round or observation."""
    submit_rounds(alice, tmp_path, {n: ("accessible" if n % 4 else "geoblocked")
                                    for n in range(1, 13)}, django_capture_on_commit_callbacks)
    campaign = Campaign.objects.get()
    client, api = _client(alice), api_client(alice)
    client.get("/observatory/campaigns/")           # the first request's session and token
    api.get("/api/v1/observatory/campaigns/")
    counts = []
    for upto in (5, 10):                             # two windows in the middle: 4 rounds each
        with CaptureQueriesContext(connection) as page_queries:
            body = client.get(f"/observatory/campaigns/{campaign.pk}/?rounds=4&upto={upto}")
        with CaptureQueriesContext(connection) as api_queries:
            data = api.get(f"/api/v1/observatory/campaigns/{campaign.pk}/?rounds=4&upto={upto}")
        counts.append((len(page_queries), len(api_queries)))
        assert body.content.decode().count("<abbr title=") == 4
        assert len(data.json()["window"]["rounds"]) == 4
    assert counts[0] == counts[1]
    with django_assert_max_num_queries(30):
        client.get(f"/observatory/campaigns/{campaign.pk}/?rounds=200")


def test_rounds_uploaded_through_the_api_job_alert_and_refuse_as_the_service_does(
        alice, charlie, tmp_path, django_capture_on_commit_callbacks):
    """The upload path users take (a job, run in the request in tests): rounds link and alert;
    a malformed campaign fails the job naming the field, and nothing is written."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(path):
        upload = SimpleUploadedFile(path.name, path.read_bytes(), "application/zip")
        with django_capture_on_commit_callbacks(execute=True):
            return api_client(alice).post("/api/v1/observatory/submissions/",
                                          {"file": upload, "expect": "probe"},
                                          format="multipart").json()

    for number, verdict in ((1, "accessible"), (2, "dns-tampering"), (3, "dns-tampering")):
        path = round_bundle(tmp_path / f"api-{number}.zip", campaign_value(number),
                            [result(DOCKER, verdict)])
        assert post(path)["status"] == "succeeded"
    assert list(CampaignChange.objects.values_list("number", "to_verdict")) == [
        (2, "dns-tampering")]
    assert _mails_to() == sorted([alice.email, charlie.email])
    bad = round_bundle(tmp_path / "api-bad.zip", campaign_value(4, scheduled_at="soon"),
                       [result(DOCKER, "accessible")])
    job = post(bad)
    assert job["status"] == "failed" and "“campaign.scheduled_at”" in job["message"]
    assert CampaignRound.objects.count() == 3 and Incident.objects.count() == 3
