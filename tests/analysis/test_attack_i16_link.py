"""Attacks on linked incidents (issue 16): who learns what through a link, the audit trail,
the pages' protections, and what the public figures let a reader work out once reports are
linked (counting once). alice = Cuba's focal point, bob = Switzerland's, charlie = an
analyst the States did not name, dave = an analyst Cuba names on its RED report."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from sentinelle.analysis import linking
from sentinelle.analysis.disclosure import publish
from sentinelle.analysis.models import IncidentCluster
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.core.models import AuditEntry, Role
from sentinelle.incidents import visibility
from sentinelle.incidents.models import Incident
from tests.conftest import PASSWORD, api_client, file_report, make_user

pytestmark = pytest.mark.django_db

BOTNET = [{"type": "domain", "value": "c2.brokenrelay.net"}]


@pytest.fixture
def dave(db):
    return make_user("dave", Role.ANALYST)


@pytest.fixture
def red_link(alice, bob, dave):
    """Cuba's RED report (dave named) linked by dave with Switzerland's GREEN report."""
    red = file_report(alice, tlp="red", title="Cuban grid secret", indicators=BOTNET,
                      named_analysts=[dave])
    green = file_report(bob, tlp="green", title="Swiss view", indicators=BOTNET)
    cluster = linking.link(dave, [red, green], label="Botnet")
    return red, green, cluster


# --- a State learns nothing of another State's RED report through the link -------------------

def test_focal_point_is_not_told_that_a_red_report_of_another_state_is_linked(red_link, bob,
                                                                                client):
    """TLP:RED reaches the reporting State and the named analysts only: Switzerland must not
    learn, from its own report, that another State filed a report about the same incident."""
    _red, green, _cluster = red_link
    client.force_login(bob)
    page = client.get(f"/incidents/{green.pk}/").content.decode()
    assert 'id="linked-incident"' not in page
    assert "another Member State" not in page
    assert api_client(bob).get(f"/api/v1/incidents/{green.pk}/").json()[
        "linked_incident"] is None


def test_a_red_member_is_left_out_of_the_count_but_an_amber_one_still_counts(alice, bob, dave):
    red = file_report(alice, tlp="red", indicators=BOTNET, named_analysts=[dave])
    amber = file_report(alice, tlp="amber", indicators=BOTNET, title="Cuban amber")
    green = file_report(bob, tlp="green", indicators=BOTNET)
    linking.link(dave, [red, amber, green], label="Botnet")
    view = linking.view_for(bob, green)
    # The AMBER report is counted (the README's rule, its existing test), the RED one is not.
    assert view is not None and view.others == 1 and view.size == 2
    body = api_client(bob).get(f"/api/v1/incidents/{green.pk}/").json()["linked_incident"]
    assert body["other_reports"] == 1 and body["size"] == 2


def test_the_reporting_state_still_sees_its_own_red_report_linked(red_link, alice):
    red, green, _cluster = red_link
    view = linking.view_for(alice, red)
    assert view is not None and {m.pk for m in view.members} == {red.pk, green.pk}


# --- the Secretariat: only what the visibility table gives each analyst ----------------------

def test_unnamed_analyst_does_not_see_a_linked_incident_made_only_of_reports_hidden_from_him(
        alice, dave, charlie, client):
    a = file_report(alice, tlp="red", indicators=BOTNET, named_analysts=[dave])
    carol = make_user("carol", Role.FOCAL_POINT, "FR")
    b = file_report(carol, tlp="red", indicators=BOTNET, named_analysts=[dave])
    linking.link(dave, [a, b], label="Havana-Paris grid outage")
    client.force_login(charlie)
    page = client.get("/analysis/links/").content.decode()
    assert "Havana-Paris grid outage" not in page
    listed = api_client(charlie).get("/api/v1/linked-incidents/").json()
    assert listed == []
    # The named analyst still sees it.
    assert [c["label"] for c in api_client(dave).get("/api/v1/linked-incidents/").json()] == [
        "Havana-Paris grid outage"]


def test_audit_entry_of_a_link_hides_red_references_from_who_may_not_see_them(red_link,
                                                                               charlie, dave):
    """The entry names every member by reference (State, year, number): an administrator or an
    analyst not named would learn that Cuba filed a RED report."""
    red, green, cluster = red_link
    entry = AuditEntry.objects.get(action="analysis.link")
    assert red.reference in entry.after["reports"]
    assert visibility.audit_content_visible(dave, entry) is True
    assert visibility.audit_content_visible(charlie, entry) is False
    admin = make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    assert visibility.audit_content_visible(admin, entry) is False
    linking.unlink(dave, green)                  # dissolves: the cluster row is gone
    entry = AuditEntry.objects.get(action="analysis.unlink")
    assert visibility.audit_content_visible(charlie, entry) is False
    assert visibility.audit_content_visible(dave, entry) is True
    assert not IncidentCluster.objects.filter(pk=cluster.pk).exists()


def test_audit_entry_of_a_link_of_visible_reports_is_shown(alice, bob, charlie):
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    linking.link(charlie, [a, b], label="Mirai")
    entry = AuditEntry.objects.get(action="analysis.link")
    assert visibility.audit_content_visible(charlie, entry) is True


def test_admin_audit_page_does_not_print_the_red_reference(red_link, client):
    red, _green, _cluster = red_link
    admin = make_user("root", Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(admin)
    entry = AuditEntry.objects.get(action="analysis.link")
    page = client.get(f"/admin/core/auditentry/{entry.pk}/change/").content.decode()
    assert "Hidden: you may not see the object this entry is about." in page
    assert red.reference not in page


# --- the forms: CSRF, second factor, read-only token, oracle -----------------------------------

def test_link_and_unlink_forms_need_the_csrf_token(alice, bob, charlie):
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    client = Client(enforce_csrf_checks=True)
    client.force_login(charlie)
    assert client.post("/analysis/links/link/", {"reports": [a.pk, b.pk],
                                                 "label": "x"}).status_code == 403
    assert not IncidentCluster.objects.exists()
    # The API through the browser's session: DRF's session authentication checks it too.
    response = client.post("/api/v1/linked-incidents/", {"reports": [a.pk, b.pk],
                                                         "label": "x"},
                           content_type="application/json")
    assert response.status_code == 403
    assert not IncidentCluster.objects.exists()
    cluster = linking.link(charlie, [a, b], label="Mirai")
    assert client.post("/analysis/links/unlink/", {"report": a.pk}).status_code == 403
    assert client.delete(
        f"/api/v1/linked-incidents/{cluster.pk}/reports/{a.pk}/").status_code == 403
    assert IncidentCluster.objects.get().members.count() == 2


def test_a_password_without_the_second_factor_cannot_link(alice, bob, charlie, client,
                                                          settings):
    settings.REQUIRE_2FA = True
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    assert client.post("/account/login/", {"username": "charlie",
                                           "password": PASSWORD}).status_code == 302
    response = client.post("/analysis/links/link/", {"reports": [a.pk, b.pk], "label": "x"})
    assert response.status_code == 302 and response.url.startswith("/account/two-factor/")
    response = client.post("/api/v1/linked-incidents/", {"reports": [a.pk, b.pk],
                                                         "label": "x"},
                           content_type="application/json")
    assert response.status_code in (401, 403)
    assert not IncidentCluster.objects.exists()


def test_read_only_token_cannot_unlink(alice, bob, charlie):
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    cluster = linking.link(charlie, [a, b], label="Mirai")
    url = f"/api/v1/linked-incidents/{cluster.pk}/reports/{a.pk}/"
    assert api_client(charlie, read_only=True).delete(url).status_code == 403
    assert cluster.members.count() == 2


def test_hidden_and_missing_reports_answer_alike(alice, bob, charlie, dave):
    """An analyst not named cannot tell a RED report from a number that does not exist."""
    red = file_report(alice, tlp="red", indicators=BOTNET, named_analysts=[dave])
    b = file_report(bob, indicators=BOTNET)
    missing = Incident.objects.order_by("-pk").first().pk + 1000
    analyst = api_client(charlie)
    answers = [analyst.post("/api/v1/linked-incidents/", {"reports": [n, b.pk], "label": "x"},
                            format="json") for n in (red.pk, missing)]
    assert [r.status_code for r in answers] == [404, 404]
    assert answers[0].content == answers[1].content
    client = Client()
    client.force_login(charlie)
    pages = [client.post("/analysis/links/link/", {"reports": [n, b.pk], "label": "x"})
             for n in (red.pk, missing)]
    assert [p.status_code for p in pages] == [404, 404]
    assert not IncidentCluster.objects.exists()


def test_a_draft_cannot_be_linked(alice, bob, charlie):
    draft = file_report(alice, indicators=BOTNET, submit=False)
    b = file_report(bob, indicators=BOTNET)
    # The Secretariat does not see a draft: as if it did not exist.
    response = api_client(charlie).post("/api/v1/linked-incidents/",
                                        {"reports": [draft.pk, b.pk], "label": "x"},
                                        format="json")
    assert response.status_code == 404
    assert not IncidentCluster.objects.exists()


def test_a_report_taken_between_the_check_and_the_write_is_refused_not_a_500(
        alice, bob, charlie, monkeypatch):
    """Two analysts linking the same report at once: the second gets a message, never a second
    linked incident or a server error."""
    from sentinelle.analysis.models import LinkedReport

    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    c = file_report(bob, indicators=BOTNET, title="Third")
    other = linking.link(charlie, [a, c], label="First")
    real = LinkedReport.objects.filter

    def blind(*args, **kwargs):   # the check sees the state before the other analyst's write
        if "incident__in" in kwargs:
            return real(pk__in=[])
        return real(*args, **kwargs)

    monkeypatch.setattr(LinkedReport.objects, "filter", blind)
    response = api_client(charlie).post("/api/v1/linked-incidents/",
                                        {"reports": [a.pk, b.pk], "label": "Second"},
                                        format="json")
    assert response.status_code == 400, response.content
    assert "reports" in response.json()["fields"]
    assert list(IncidentCluster.objects.all()) == [other]


# --- counting once: no withheld figure can be worked out from the public totals ----------------

def _consenting(user, n: int, **extra) -> list:
    reports = [file_report(user, indicators=[{"type": "sha256",
                                              "value": f"{user.pk:03d}{i}".ljust(64, "d")}],
                           **extra) for i in range(n)]
    Incident.objects.filter(pk__in=[r.pk for r in reports]).update(consent_to_name=True)
    return reports


def test_unnamed_states_small_count_cannot_be_worked_out_once_reports_are_linked(charlie,
                                                                                 settings):
    """k=3. Cuba (Americas) and Switzerland and France (Europe) are named, five reports each;
    Germany (Europe) is not named and filed one report. Linking a Swiss report with a French
    one makes the named rows add up to the total (14+1 = 15) and the Europe row to its named
    States' (10), so the clamp sees no remainder and hides nothing, yet total reports − the
    named rows' reports = 16 − 15 = 1: Germany's single report."""
    settings.SMALL_COUNT = 3
    named = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in ("CU", "CH", "FR")]
    reports = {u.state.alpha2: _consenting(u, 5) for u in named}
    lone = make_user("fpDE", Role.FOCAL_POINT, "DE")
    file_report(lone, indicators=[{"type": "sha256", "value": "e" * 64}])   # no consent
    linking.link(charlie, [reports["CH"][0], reports["FR"][0]], label="One")
    raw = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    assert (raw.totals["incidents"], raw.totals["reported"]) == (15, 16)
    public = publish(raw)
    t = public.totals
    rows = {r["key"]: r for r in public.by_state}
    europe = {r["key"]: r for r in public.by_itu_d_region}["Europe"]

    def rest(margin: dict, cells: list[dict], field: str) -> int | None:
        if margin[field] is None or any(r[field] is None for r in cells):
            return None
        return margin[field] - sum(r[field] for r in cells)

    in_europe = [r for r in rows.values() if r["itu_d_region"] == "Europe"]
    # What the unnamed State reported must not read 1 (0 < n < k) by any subtraction.
    for field in ("reported", "incidents"):
        for value in (rest(t, list(rows.values()), field), rest(europe, in_europe, field)):
            assert value is None or value == 0 or value >= 3, (field, value, t, rows)
    # With the links' overcount the reader also knows (reports − incidents): not 1 either.
    left = rest(t, list(rows.values()), "incidents")
    if left is not None and None not in (t["reported"], t["incidents"]):
        assert left + t["reported"] - t["incidents"] not in (1, 2)


def test_linking_does_not_hide_more_when_nothing_is_small(charlie, settings):
    """The fix must not hide figures a reader could not misuse: four named States with five
    reports each, two linked, everything stays visible."""
    settings.SMALL_COUNT = 3
    users = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in ("CU", "CH", "FR", "DE")]
    reports = {u.state.alpha2: _consenting(u, 5) for u in users}
    linking.link(charlie, [reports["CH"][0], reports["FR"][0]], label="One")
    public = publish(compute(StatsFilter(year=2026), with_shares=True,
                             with_year_over_year=False))
    assert (public.totals["incidents"], public.totals["reported"]) == (19, 20)
    assert all(r["incidents"] == 5 for r in public.by_state)


def test_unnamed_analyst_cannot_add_to_a_linked_incident_hidden_from_him(alice, bob, dave,
                                                                          charlie, client):
    """Its number answers like one that does not exist, on the API and the form alike."""
    a = file_report(alice, tlp="red", indicators=BOTNET, named_analysts=[dave])
    carol = make_user("carol", Role.FOCAL_POINT, "FR")
    b = file_report(carol, tlp="red", indicators=BOTNET, named_analysts=[dave])
    hidden = linking.link(dave, [a, b], label="Secret")
    mine = file_report(bob, indicators=BOTNET)
    for number in (hidden.pk, hidden.pk + 100):
        response = api_client(charlie).post("/api/v1/linked-incidents/",
                                            {"reports": [mine.pk], "cluster": number},
                                            format="json")
        assert response.status_code == 404
    client.force_login(charlie)
    assert client.post("/analysis/links/link/", {"reports": [mine.pk],
                                                 "cluster": hidden.pk}).status_code == 404
    assert hidden.members.count() == 2


def test_an_unlink_racing_another_is_answered_not_a_500(alice, bob, charlie, monkeypatch):
    """Two analysts unlink the two members of a linked incident at once: the second finds it
    dissolved under the lock and is told the report is not linked."""
    from sentinelle.analysis.models import LinkedReport

    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    cluster = linking.link(charlie, [a, b], label="Mirai")
    stale = LinkedReport.objects.get(incident=b)
    linking.unlink(charlie, a)                   # the first analyst: the link dissolves
    real = LinkedReport.objects.select_related

    class Stale:                                 # the second read its membership before that
        def filter(self, **kwargs):
            return self

        def first(self):
            return stale

    monkeypatch.setattr(LinkedReport.objects, "select_related", lambda *a: Stale())
    with pytest.raises(ValidationError) as info:
        linking.unlink(charlie, b)
    monkeypatch.setattr(LinkedReport.objects, "select_related", real)
    assert "report" in info.value.message_dict
    assert not IncidentCluster.objects.filter(pk=cluster.pk).exists()
    assert AuditEntry.objects.filter(action="analysis.unlink").count() == 1


def test_seed_demo_never_names_a_linked_incident_after_a_red_report(alice, bob, dave, charlie):
    """The demo names its linked incident after a member's title; every analyst reads that name,
    so a RED report's title (seen by its named analysts only) must not become it."""
    from sentinelle.incidents.management.commands.seed_demo import Command

    file_report(alice, tlp="red", title="Havana substation secret", indicators=BOTNET,
                named_analysts=[dave])
    file_report(bob, tlp="green", title="Swiss view", indicators=BOTNET)
    Command._link(dave)
    for cluster in IncidentCluster.objects.all():
        assert "Havana" not in cluster.label
        client = Client()
        client.force_login(charlie)
        assert "Havana" not in client.get("/analysis/links/").content.decode()


@pytest.mark.parametrize("target", ["/\\evil.example/", "/\\/evil.example", "//evil.example",
                                    "https://evil.example/", "/\t/evil.example"])
def test_link_forms_never_send_the_analyst_to_another_site(alice, bob, charlie, client, target):
    """A browser reads "/\\evil.example" as "//evil.example": another site, with the success
    message of a Secretariat page as bait."""
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    client.force_login(charlie)
    response = client.post("/analysis/links/link/", {"reports": [a.pk, b.pk], "label": "M",
                                                     "next": target})
    assert response.status_code == 302 and response["Location"] == "/analysis/links/"
    response = client.post("/analysis/links/unlink/", {"report": a.pk, "next": target})
    assert response.status_code == 302 and response["Location"] == "/analysis/links/"
    c = file_report(alice, indicators=BOTNET, title="again")
    response = client.post("/analysis/duplicates/merge/", {"primary": a.pk, "duplicate": c.pk,
                                                           "next": target})
    assert response.status_code == 302 and "evil" not in response["Location"]


def test_merging_a_linked_report_into_its_states_primary_still_counts_the_incident_once(
        alice, bob, charlie, client):
    """Cuba reported the botnet twice and Switzerland once; the analyst links Cuba's first
    report with Switzerland's, then marks it a duplicate of Cuba's second. The linked incident
    must follow the primary, or the one botnet counts twice (Cuba's primary + the link)."""
    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    primary = file_report(alice, indicators=BOTNET, title="Cuba, complete report")
    cluster = linking.link(charlie, [a, b], label="Mirai")
    client.force_login(charlie)
    response = client.post("/analysis/duplicates/merge/", {"primary": primary.pk,
                                                           "duplicate": a.pk})
    assert response.status_code == 302
    totals = compute(StatsFilter(year=2026)).totals
    assert (totals["incidents"], totals["reported"]) == (1, 2)
    assert set(cluster.members.values_list("incident_id", flat=True)) == {primary.pk, b.pk}
    entry = AuditEntry.objects.filter(action="analysis.link").order_by("-seq").first()
    assert primary.reference in entry.after["reports"]


def test_merging_into_a_primary_of_the_same_linked_incident_drops_the_duplicate(alice, bob,
                                                                               charlie):
    from sentinelle.incidents import services

    a = file_report(alice, indicators=BOTNET)
    b = file_report(bob, indicators=BOTNET)
    primary = file_report(alice, indicators=BOTNET, title="Cuba, complete report")
    cluster = linking.link(charlie, [a, b, primary], label="Mirai")
    services.change_status(a, charlie, "duplicate", duplicate_of=primary)
    assert set(cluster.members.values_list("incident_id", flat=True)) == {primary.pk, b.pk}
    # Unlinking Switzerland's report now dissolves the linked incident: one report is left.
    assert linking.unlink(charlie, b) is None
    assert not IncidentCluster.objects.exists()


def test_the_unnamed_states_incidents_are_the_remainder_not_a_clamped_difference(charlie,
                                                                                  settings):
    """Germany (not named) filed three reports of one botnet, linked with a Swiss report (both
    in Europe): it reported 3 but counts 1 incident. The part of the total (and of Europe's)
    that no row shows is that 1 (README: it must be 0 or at least k), though total − named
    rows = 15 − 15 = 0 and Europe − its named rows = 10 − 10 = 0 read as nothing."""
    settings.SMALL_COUNT = 3
    named = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in ("CU", "CH", "FR")]
    reports = {u.state.alpha2: _consenting(u, 5) for u in named}
    lone = make_user("fpDE", Role.FOCAL_POINT, "DE")
    german = [file_report(lone, indicators=BOTNET, title=f"DE {n}") for n in range(3)]
    linking.link(charlie, [reports["CH"][0], *german], label="One")
    raw = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    de = {r["key"]: r for r in raw.by_state}["DE"]
    assert (de["incidents"], de["reported"]) == (1, 3)
    assert (raw.totals["incidents"], raw.totals["reported"]) == (15, 18)
    public = publish(raw)
    assert public.totals["incidents"] is None or any(
        r["incidents"] is None for r in public.by_state), public.by_state


def test_incidents_from_reports_cannot_be_worked_out_when_returns_fill_the_total(charlie,
                                                                                 settings):
    """k=3. Cuba, Switzerland and France (named) report one botnet twice each: six reports,
    linked, one incident. Their summary returns and Germany's add five outages each. Total
    21, returns' excess 20: the incidents from individual reports, 21 − 20 = 1, is a small
    count that every figure shown gives away, and the Council report printed it ("1 incidents
    (6 reports)")."""
    from sentinelle.incidents import summaries
    from sentinelle.incidents.models import Category, RsitClass
    from sentinelle.reports.content.builder import _Builder
    from sentinelle.reports.options import ReportOptions

    settings.SMALL_COUNT = 3
    users = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in ("CU", "CH", "FR", "DE")]
    botnet = [file_report(u, indicators=BOTNET, title=f"{u.username} {n}")
              for u in users[:3] for n in range(2)]
    Incident.objects.update(consent_to_name=True)
    linking.link(charlie, botnet, label="One")
    for user in users:
        summaries.submit_return(user, 2026, [summaries.ReturnLine(
            Category.objects.get(code="routing-disruption"), RsitClass.objects.get(
                code="availability"), 5, 0.0)])
    raw = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    assert (raw.totals["incidents"], raw.totals["reported"],
            raw.totals["from_summary_returns"]) == (21, 6, 20)
    t = publish(raw).totals
    if t["incidents"] is not None and t["from_summary_returns"] is not None:
        assert t["incidents"] - t["from_summary_returns"] not in (1, 2), t
    sentence = _Builder(ReportOptions(year=2026)).linked_sentence()
    assert sentence is not None and "1 incidents" not in sentence.text


@pytest.mark.parametrize("seed", range(6))
def test_random_linked_years_leave_no_small_remainder(charlie, settings, seed):
    """Random years shaped like the attack: named States with several reports, linked with
    each other, beside unnamed States of the same region with one or two. In every table that
    counts a linked incident once, total reports − the rows shown is never a small count."""
    import random

    rng = random.Random(seed)
    settings.SMALL_COUNT = 3
    named = ["CH", "FR", "ES"]
    unnamed = rng.sample(["DE", "IT", "AT"], rng.randint(1, 2))
    users = {s: make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in [*named, *unnamed]}
    by_state = {s: _consenting(users[s], rng.randint(3, 6)) for s in named}
    for s in unnamed:
        for n in range(rng.randint(1, 2)):
            file_report(users[s], indicators=[{"type": "sha256",
                                               "value": f"{users[s].pk:04d}{n}".ljust(64, "b")}])
    pool = [r for s in named for r in by_state[s]]
    rng.shuffle(pool)
    for _ in range(rng.randint(1, 3)):
        group = [pool.pop() for _ in range(rng.randint(2, 3))]
        if len({r.state_id for r in group}) > 1:
            linking.link(charlie, group, label="L")
    raw = compute(StatsFilter(year=2026), with_shares=True, with_year_over_year=False)
    public = publish(raw)
    t = public.totals
    for name in ("by_category", "by_rsit_class", "by_itu_d_region", "by_admin_region",
                 "by_state"):
        if t["reported"] is None:
            continue
        # What a reader works out: the reports of every row hidden or not listed, together.
        rest = t["reported"] - sum(r["reported"] for r in getattr(public, name)
                                   if r["reported"] is not None)
        assert rest == 0 or rest >= 3, (name, rest, seed)


@pytest.mark.xfail(strict=True, reason="user-hours of a linked incident count its largest "
                   "report in a region but each State's own in the State rows; the difference "
                   "is one report's user-hours. Not fixed: it needs a different user-hours "
                   "rule for linked incidents (README, Linked incidents, Not built).")
def test_one_reports_user_hours_cannot_be_worked_out_from_a_region_and_its_states(charlie,
                                                                                  settings):
    """Switzerland and France (named, the only Europe States reporting) link one report each:
    Europe counts the linked incident with the larger user-hours, each State row with its own,
    so CH + FR − Europe = the smaller report's user-hours, a figure about one report."""
    settings.SMALL_COUNT = 3
    users = [make_user(f"fp{s}", Role.FOCAL_POINT, s) for s in ("CU", "CH", "FR")]
    reports = {u.state.alpha2: _consenting(u, 5) for u in users}
    Incident.objects.update(user_hours=100.0)
    Incident.objects.filter(pk=reports["CH"][0].pk).update(user_hours=1000.0)
    Incident.objects.filter(pk=reports["FR"][0].pk).update(user_hours=317.0)
    linking.link(charlie, [reports["CH"][0], reports["FR"][0]], label="One")
    public = publish(compute(StatsFilter(year=2026), with_shares=True,
                             with_year_over_year=False))
    rows = {r["key"]: r for r in public.by_state}
    europe = {r["key"]: r for r in public.by_itu_d_region}["Europe"]
    if None not in (rows["CH"]["user_hours"], rows["FR"]["user_hours"],
                    europe["user_hours"]):
        assert rows["CH"]["user_hours"] + rows["FR"]["user_hours"] \
            - europe["user_hours"] != 317.0
