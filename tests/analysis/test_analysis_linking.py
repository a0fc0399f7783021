"""Linked incidents: one incident reported by several States counts once (analysis/linking.py).

alice = Cuba's focal point, bob = Switzerland's, charlie = Secretariat analyst."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from sentinelle.analysis import linking
from sentinelle.analysis.disclosure import publish
from sentinelle.analysis.models import IncidentCluster, LinkedReport
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.core.models import AuditEntry, Role
from tests.conftest import api_client, file_report, make_user

pytestmark = pytest.mark.django_db

BOTNET = [{"type": "domain", "value": "c2.brokenrelay.net"}]


def _hours(report, hours: float):
    # user_hours is derived at filing; set it directly for arithmetic that is easy to read.
    report.user_hours = hours
    report.save(update_fields=["user_hours"])
    return report


@pytest.fixture
def botnet(alice, bob):
    """The same botnet reported by Cuba and by Switzerland, plus an unrelated Cuban report."""
    a = _hours(file_report(alice, indicators=BOTNET), 1000)
    b = _hours(file_report(bob, indicators=BOTNET), 400)
    other = _hours(file_report(alice, category="routing-disruption", rsit="availability:outage",
                               started_at="2026-05-01T00:00:00Z",
                               ended_at="2026-05-01T02:00:00Z",
                               indicators=[{"type": "sha256", "value": "b" * 64}]), 50)
    return a, b, other


def test_link_and_unlink_are_audited_and_reversible(botnet, charlie):
    a, b, _other = botnet
    cluster = linking.link(charlie, [a, b], label="Mirai variant, March", note="same C2")
    assert set(cluster.members.values_list("incident_id", flat=True)) == {a.pk, b.pk}
    entry = AuditEntry.objects.filter(action="analysis.link").get()
    assert entry.actor == charlie and entry.object_id == str(cluster.pk)
    assert sorted(entry.after["reports"]) == sorted([a.reference, b.reference])
    assert entry.before is None

    assert linking.unlink(charlie, b, note="different botnet after all") is None
    entry = AuditEntry.objects.filter(action="analysis.unlink").get()
    assert sorted(entry.before["reports"]) == sorted([a.reference, b.reference])
    assert entry.after["dissolved"] is True and entry.after["removed"] == b.reference
    # Fewer than two reports left: the linked incident dissolves, nothing else is touched.
    assert not IncidentCluster.objects.exists() and not LinkedReport.objects.exists()
    a.refresh_from_db()
    assert a.status == "submitted"


def test_adding_to_an_existing_linked_incident_records_before_and_after(botnet, charlie, alice):
    a, b, _other = botnet
    cluster = linking.link(charlie, [a, b], label="Mirai")
    c = file_report(alice, indicators=BOTNET, title="Third sighting")
    linking.link(charlie, [c], cluster=cluster)
    entry = AuditEntry.objects.filter(action="analysis.link").order_by("-seq").first()
    assert len(entry.before["reports"]) == 2 and len(entry.after["reports"]) == 3
    assert linking.unlink(charlie, c) == cluster     # two remain: it stays
    assert cluster.members.count() == 2


def test_focal_point_cannot_link_or_unlink(botnet, alice, charlie):
    a, b, _other = botnet
    with pytest.raises(PermissionDenied):
        linking.link(alice, [a, b], label="Mine")
    cluster = linking.link(charlie, [a, b], label="Mirai")
    with pytest.raises(PermissionDenied):
        linking.unlink(alice, a)
    assert cluster.members.count() == 2
    assert not AuditEntry.objects.filter(action="analysis.unlink").exists()


@pytest.mark.parametrize(("label", "field"), [("", "label"), ("x" * 201, "label"),
                                              ("two\nlines", "label")])
def test_bad_label_is_refused_and_nothing_written(botnet, charlie, label, field):
    a, b, _other = botnet
    with pytest.raises(ValidationError) as info:
        linking.link(charlie, [a, b], label=label)
    assert field in info.value.message_dict
    assert not IncidentCluster.objects.exists()


def test_one_report_two_clusters_or_alone_is_refused(botnet, charlie):
    a, b, other = botnet
    with pytest.raises(ValidationError) as info:
        linking.link(charlie, [a], label="Alone")
    assert "reports" in info.value.message_dict
    linking.link(charlie, [a, b], label="Mirai")
    with pytest.raises(ValidationError) as info:
        linking.link(charlie, [a, other], label="Other")
    assert a.reference in info.value.message_dict["reports"][0]
    assert IncidentCluster.objects.count() == 1


def test_analyst_cannot_link_a_report_hidden_from_them(alice, bob, charlie):
    red = file_report(alice, tlp="red", indicators=BOTNET)    # charlie is not named
    b = file_report(bob, indicators=BOTNET)
    with pytest.raises(PermissionDenied):
        linking.link(charlie, [red, b], label="Mirai")
    assert not IncidentCluster.objects.exists()


def test_statistics_count_a_linked_incident_once_with_its_largest_user_hours(botnet, charlie):
    a, b, other = botnet
    before = compute(StatsFilter(year=2026)).totals
    assert (before["incidents"], before["reported"], before["user_hours"]) == (3, 3, 1450)
    linking.link(charlie, [a, b], label="Mirai")
    stats = compute(StatsFilter(year=2026))
    # One incident seen from two States: counted once, with the larger estimate (not 1400).
    assert stats.totals["incidents"] == 2
    assert stats.totals["reported"] == 3
    assert stats.totals["user_hours"] == 1050
    category = {r["key"]: r for r in stats.by_category}["trust-security"]
    assert (category["incidents"], category["reported"], category["user_hours"]) == (1, 2, 1000)
    # Each State's row still counts its own report.
    by_state = {r["key"]: r for r in stats.by_state}
    assert (by_state["CU"]["incidents"], by_state["CU"]["user_hours"]) == (2, 1050)
    assert (by_state["CH"]["incidents"], by_state["CH"]["user_hours"]) == (1, 400)
    # Reports-describing tables still count reports.
    assert sum(r["incidents"] for r in stats.by_severity) == 3
    # A State's own view counts its own report.
    cuba = compute(StatsFilter(year=2026, states=("CU",))).totals
    assert (cuba["incidents"], cuba["user_hours"]) == (2, 1050)


def test_withdrawn_member_no_longer_counts(botnet, charlie):
    a, b, _other = botnet
    linking.link(charlie, [a, b], label="Mirai")
    b.status = "withdrawn"
    b.save(update_fields=["status"])
    totals = compute(StatsFilter(year=2026)).totals
    assert (totals["incidents"], totals["reported"], totals["user_hours"]) == (2, 2, 1050)


def test_publication_with_a_link_hides_nothing_more(charlie, settings):
    """Public figures: links make the relation reported ≥ incidents, which must not read as a
    hidden remainder."""
    states = ["CU", "CH", "FR", "DE"]
    users = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in states]
    reports = []
    for user in users:
        for n in range(3):
            reports.append(file_report(user, indicators=[
                {"type": "sha256", "value": f"{user.pk:02d}{n}".ljust(64, "c")}]))
    raw_before = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    plain = publish(raw_before)
    linking.link(charlie, [reports[0], reports[3]], label="Shared")
    raw = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    public = publish(raw)
    assert public.totals["incidents"] == 11 and public.totals["reported"] == 12
    hidden = [(name, r["key"]) for name in ("by_category", "by_state", "by_severity")
              for r in getattr(public, name) if r.get("incidents") is None]
    hidden_before = [(name, r["key"]) for name in ("by_category", "by_state", "by_severity")
                     for r in getattr(plain, name) if r.get("incidents") is None]
    assert hidden == hidden_before


# --- pages, API, export: the Secretariat's panel; what a focal point may learn -----------------

def test_suggestions_find_shared_indicator_across_states_and_skip_other_times(alice, bob,
                                                                             charlie):
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    file_report(bob, started_at="2026-09-01T00:00:00Z", ended_at="2026-09-01T02:00:00Z",
                indicators=BOTNET)                          # same C2, months later: not linked
    file_report(alice, indicators=BOTNET, title="Cuba again")   # same State: a duplicate lead
    common = [{"type": "ipv4", "value": "8.8.8.8"}]          # a public resolver: links nothing
    file_report(alice, indicators=common, started_at="2026-06-01T00:00:00Z",
                ended_at="2026-06-01T01:00:00Z")
    file_report(bob, indicators=common, started_at="2026-06-01T00:00:00Z",
                ended_at="2026-06-01T01:00:00Z")
    found = linking.suggestions(charlie)
    pairs = {frozenset(i.pk for i in s.incidents) for s in found}
    assert frozenset({a.pk, b.pk}) in pairs
    assert all(len({i.state_id for i in s.incidents}) == 2 for s in found)
    assert all(i.started_at.month == 3 for s in found for i in s.incidents)
    assert any("c2.brokenrelay.net" in r for r in found[0].reasons)
    cluster = linking.link(charlie, [a, b], label="Mirai")
    assert frozenset({a.pk, b.pk}) not in {frozenset(i.pk for i in s.incidents)
                                           for s in linking.suggestions(charlie)}
    # The other Cuban report may join the existing linked incident.
    assert {s.cluster for s in linking.suggestions(charlie)} == {cluster}
    with pytest.raises(PermissionDenied):
        linking.suggestions(alice)


def test_secretariat_links_and_unlinks_from_the_pages(botnet, charlie, client):
    a, b, _other = botnet
    client.force_login(charlie)
    page = client.get("/analysis/links/").content.decode()
    assert a.reference in page and b.reference in page
    response = client.post("/analysis/links/link/", {
        "reports": [a.pk, b.pk], "label": "Mirai", "next": f"/incidents/{a.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/incidents/{a.pk}/"
    detail = client.get(f"/incidents/{a.pk}/").content.decode()
    assert 'id="linked-incident"' in detail and "Mirai" in detail and b.reference in detail
    response = client.post("/analysis/links/unlink/", {"report": b.pk})
    assert response.status_code == 302
    assert not IncidentCluster.objects.exists()


def test_focal_point_cannot_reach_the_link_pages(botnet, alice, client):
    a, b, _other = botnet
    client.force_login(alice)
    assert client.get("/analysis/links/").status_code == 403
    assert client.post("/analysis/links/link/", {"reports": [a.pk, b.pk],
                                                 "label": "x"}).status_code == 403
    assert not IncidentCluster.objects.exists()


def test_bad_report_numbers_are_refused_with_a_message(botnet, charlie, client):
    a, _b, _other = botnet
    client.force_login(charlie)
    response = client.post("/analysis/links/link/", {"reports": [f"{a.pk}, x"], "label": "M"},
                           follow=True)
    assert "Give report numbers" in response.content.decode()
    for hostile in ("9" * 5000, str(10 ** 30), "-3", "0x10", "1e3", "\x00"):
        response = client.post("/analysis/links/link/", {"reports": [hostile], "label": "M"},
                               follow=True)
        assert response.status_code == 200
        assert "Give report numbers" in response.content.decode(), hostile[:20]
    response = client.post("/analysis/links/link/", {"reports": ["42," * 10000], "label": "M"},
                           follow=True)
    assert "at most 50 reports" in response.content.decode()
    response = client.post("/analysis/links/link/", {"reports": [a.pk], "label": "x" * 10000},
                           follow=True)
    assert "at most 200 characters" in response.content.decode()
    assert client.post("/analysis/links/link/", {"reports": [a.pk, 99999],
                                                 "label": "M"}).status_code == 404
    assert client.post("/analysis/links/unlink/", {"report": "nope"}).status_code == 404
    assert not IncidentCluster.objects.exists()


def test_state_b_learns_nothing_of_state_a_restricted_report_through_the_link(
        alice, bob, charlie, client):
    """Cuba's AMBER report is linked with Switzerland's: Switzerland's focal point sees a count
    on its own report, never Cuba's reference, title or the analyst's name for the link."""
    a = file_report(alice, indicators=BOTNET, title="Cuban secret outage", tlp="amber")
    b = file_report(bob, indicators=BOTNET, title="Swiss view")
    linking.link(charlie, [a, b], label="Mirai hitting Cuba")
    client.force_login(bob)
    own = client.get(f"/incidents/{b.pk}/").content.decode()
    assert 'id="linked-incident"' in own
    assert "1 report of another Member State" in own
    for secret in (a.reference, "Cuban secret outage", "Mirai hitting Cuba"):
        assert secret not in own
    assert client.get(f"/incidents/{a.pk}/").status_code == 404
    body = api_client(bob).get(f"/api/v1/incidents/{b.pk}/").json()
    assert body["linked_incident"] == {"id": None, "label": None, "reports": [b.reference],
                                       "other_reports": 1, "size": 2}
    listing = api_client(bob).get("/api/v1/incidents/").content.decode()
    assert a.reference not in listing and "Mirai" not in listing
    export = b"".join(client.get("/incidents/?export=csv").streaming_content).decode()
    assert b.reference in export and a.reference not in export
    # Cuba's own focal point sees its report linked, but not Switzerland's AMBER report.
    body = api_client(alice).get(f"/api/v1/incidents/{a.pk}/").json()
    assert body["linked_incident"]["reports"] == [a.reference]
    assert body["linked_incident"]["other_reports"] == 1


def test_focal_point_sees_no_link_on_another_states_visible_report(alice, bob, charlie, client):
    a = file_report(alice, indicators=BOTNET, tlp="green")
    b = file_report(bob, indicators=BOTNET, tlp="green")
    linking.link(charlie, [a, b], label="Mirai")
    client.force_login(bob)
    page_a = client.get(f"/incidents/{a.pk}/").content.decode()   # GREEN: visible
    assert 'id="linked-incident"' not in page_a
    assert api_client(bob).get(f"/api/v1/incidents/{a.pk}/").json()["linked_incident"] is None
    # On its own report, a GREEN member of another State is listed: bob may see it anyway.
    body = api_client(bob).get(f"/api/v1/incidents/{b.pk}/").json()
    assert sorted(body["linked_incident"]["reports"]) == sorted([a.reference, b.reference])


def test_analyst_sees_members_and_label_in_the_api(botnet, charlie):
    a, b, _other = botnet
    cluster = linking.link(charlie, [a, b], label="Mirai")
    body = api_client(charlie).get(f"/api/v1/incidents/{a.pk}/").json()
    assert body["linked_incident"]["id"] == cluster.pk
    assert body["linked_incident"]["label"] == "Mirai"
    assert sorted(body["linked_incident"]["reports"]) == sorted([a.reference, b.reference])


def test_council_report_counts_a_linked_incident_once_and_says_so(botnet, charlie, settings):
    from sentinelle.reports.content.builder import _Builder
    from sentinelle.reports.options import ReportOptions
    from tests.report_helpers import sentences

    settings.SMALL_COUNT = 1
    a, b, _other = botnet
    before = _Builder(ReportOptions(year=2026))
    assert before.stats.totals["incidents"] == 3
    assert before.linked_sentence() is None
    linking.link(charlie, [a, b], label="Mirai")
    builder = _Builder(ReportOptions(year=2026))
    assert builder.stats.totals["incidents"] == 2
    assert builder.stats.totals["user_hours"] == 1050
    text = " ".join(sentences(builder.reporting()))
    assert "counted once: 2 incidents (3 reports)" in text
    method = " ".join(sentences(builder.annex_method()))
    assert "Linked incidents:" in method


def test_council_report_hides_the_linked_count_with_its_figures(botnet, charlie, settings):
    from sentinelle.reports.content.builder import _Builder
    from sentinelle.reports.options import ReportOptions

    settings.SMALL_COUNT = 3       # two States, three reports: the totals are withheld
    a, b, _other = botnet
    linking.link(charlie, [a, b], label="Mirai")
    builder = _Builder(ReportOptions(year=2026))
    sentence = builder.linked_sentence()
    assert sentence is not None
    assert builder.stats.totals["incidents"] is None      # 2 incidents: fewer than k
    assert "2 incidents" not in sentence.text and "n.p. incidents" in sentence.text


def test_api_links_and_unlinks_for_the_secretariat_only(botnet, alice, charlie):
    a, b, other = botnet
    assert api_client(alice).get("/api/v1/linked-incidents/").status_code == 403
    response = api_client(alice).post("/api/v1/linked-incidents/",
                                      {"reports": [a.pk, b.pk], "label": "x"}, format="json")
    assert response.status_code == 403
    response = api_client(charlie, read_only=True).post(
        "/api/v1/linked-incidents/", {"reports": [a.pk, b.pk], "label": "x"}, format="json")
    assert response.status_code == 403
    assert not IncidentCluster.objects.exists()

    analyst = api_client(charlie)
    response = analyst.post("/api/v1/linked-incidents/",
                            {"reports": [a.pk, b.pk], "label": "Mirai"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert sorted(body["reports"]) == sorted([a.reference, b.reference])
    assert body["other_reports"] == 0
    listed = analyst.get("/api/v1/linked-incidents/").json()
    assert [c["label"] for c in listed] == ["Mirai"]
    response = analyst.post("/api/v1/linked-incidents/",
                            {"reports": [other.pk], "cluster": body["id"]}, format="json")
    assert response.status_code == 201 and len(response.json()["reports"]) == 3
    url = f"/api/v1/linked-incidents/{body['id']}/reports/{other.pk}/"
    assert api_client(alice).delete(url).status_code == 403
    assert analyst.delete(url).status_code == 204
    assert analyst.delete(url).status_code == 404           # no longer a member
    assert AuditEntry.objects.filter(action="analysis.unlink").count() == 1


@pytest.mark.parametrize("payload", [
    {"reports": [], "label": "x"}, {"reports": "1,2", "label": "x"},
    {"reports": [10 ** 30], "label": "x"}, {"reports": [1, 2], "label": "x" * 201},
    {"reports": list(range(1, 60)), "label": "x"}, {"reports": [{"id": 1}], "label": "x"},
    {"reports": [1, 2], "label": ["x"]}])
def test_api_refuses_malformed_input_naming_the_field(botnet, charlie, payload):
    response = api_client(charlie).post("/api/v1/linked-incidents/", payload, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) & {"reports", "label"}
    assert not IncidentCluster.objects.exists()


def test_api_refuses_a_link_without_a_name(botnet, charlie):
    a, b, _other = botnet
    response = api_client(charlie).post("/api/v1/linked-incidents/",
                                        {"reports": [a.pk, b.pk]}, format="json")
    assert response.status_code == 400 and "label" in response.json()["fields"]


def test_openapi_documents_the_linked_incident_endpoints_and_field(client, db):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/linked-incidents/" in document["paths"]
    assert "/api/v1/linked-incidents/{id}/reports/{report}/" in document["paths"]
    incident = document["components"]["schemas"]["Incident"]["properties"]
    assert incident["linked_incident"]["readOnly"] is True


def test_reports_are_linked_by_their_reference_as_pages_show_it(botnet, charlie, client):
    a, b, _other = botnet
    client.force_login(charlie)
    response = client.post("/analysis/links/link/", {
        "reports": [f"{a.reference}, {b.reference.lower()}"], "label": "Mirai"})
    assert response.status_code == 302
    assert LinkedReport.objects.filter(incident__in=[a, b]).count() == 2


def test_a_reference_naming_another_state_is_as_if_it_did_not_exist(botnet, charlie, client):
    a, b, _other = botnet
    client.force_login(charlie)
    wrong = "ZZ" + b.reference[2:]
    response = client.post("/analysis/links/link/", {"reports": [f"{a.pk}, {wrong}"],
                                                     "label": "Mirai"})
    assert response.status_code == 404 and not IncidentCluster.objects.exists()


@pytest.mark.parametrize("target", ["/\\evil.example/", "//evil.example/",
                                    "https://evil.example/"])
def test_the_form_never_sends_the_analyst_to_another_site(botnet, charlie, client, target):
    a, b, _other = botnet
    client.force_login(charlie)
    response = client.post("/analysis/links/link/", {"reports": [a.pk, b.pk], "label": "M",
                                                     "next": target})
    assert response.status_code == 302 and response["Location"] == "/analysis/links/"


def test_three_states_reporting_one_botnet_are_one_suggestion_linked_in_one_step(
        alice, bob, charlie, client):
    france = make_user("fp-fr", Role.FOCAL_POINT, "FR")
    reports = [file_report(user, indicators=BOTNET) for user in (alice, bob, france)]
    pairs = linking.suggestions(charlie)
    assert len(pairs) == 3                                     # every pair of the three
    groups = linking.suggestion_groups(charlie)
    assert [sorted(i.pk for i in s.incidents) for s in groups] == [
        sorted(r.pk for r in reports)]
    assert any("c2.brokenrelay.net" in r for r in groups[0].reasons)
    client.force_login(charlie)
    page = client.get("/analysis/links/").content.decode()
    assert page.count('name="reports"') == 3                   # one form, three reports
    client.post("/analysis/links/link/", {"reports": [r.pk for r in reports], "label": "Mirai"})
    cluster = IncidentCluster.objects.get()
    assert cluster.members.count() == 3
    assert linking.suggestion_groups(charlie) == []


def test_an_api_page_asks_once_which_reports_are_linked(botnet, charlie, alice):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a, b, _other = botnet
    linking.link(charlie, [a, b], label="Mirai")
    client = api_client(charlie)
    client.get("/api/v1/incidents/?limit=50")          # warm the caches (taxonomy, states)

    def page() -> tuple[int, list[dict]]:
        with CaptureQueriesContext(connection) as queries:
            rows = client.get("/api/v1/incidents/?limit=50").json()["results"]
        return len(queries.captured_queries), rows

    few, _rows = page()
    for n in range(20):
        file_report(alice, title=f"Unlinked {n}")
    many, rows = page()
    # Twenty more rows that are not linked cost no query (one per row before).
    assert many == few
    linked = {row["reference"]: row["linked_incident"] for row in rows}
    assert set(linked[a.reference]["reports"]) == {a.reference, b.reference}
    assert sum(1 for value in linked.values() if value) == 2
