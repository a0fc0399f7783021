"""Expected handling times (issue 12, point 8) and the Secretariat's queue (point 7): the
expectations are data the Secretariat sets, the queue marks what is overdue and sorts by age,
time since submission and time since the State's last answer, and the Council report gives the
share handled in time, computed from the status history."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.utils import timezone

from sentinelle.analysis import handling
from sentinelle.analysis.handling import handling_in_time
from sentinelle.analysis.models import HandlingExpectation
from sentinelle.analysis.statistics import StatsFilter
from sentinelle.core.models import AuditEntry, Role
from sentinelle.incidents import services
from sentinelle.incidents.models import Category, Incident, Message, Transition
from sentinelle.reports import services as service
from sentinelle.reports.options import ReportOptions
from tests.conftest import file_report, make_user, page

YEAR = 2026


def submitted(incident: Incident, hours_ago: float) -> Incident:
    """Pretend the report was submitted ``hours_ago`` hours before now."""
    at = timezone.now() - dt.timedelta(hours=hours_ago)
    Incident.objects.filter(pk=incident.pk).update(submitted_at=at)
    Transition.objects.filter(incident=incident, to_status="submitted").update(at=at)
    incident.refresh_from_db()
    return incident


def acknowledge(incident: Incident, analyst, hours_after: float) -> Transition:
    services.change_status(incident, analyst, "acknowledged")
    transition = Transition.objects.get(incident=incident, to_status="acknowledged")
    Transition.objects.filter(pk=transition.pk).update(
        at=incident.submitted_at + dt.timedelta(hours=hours_after))
    return transition


def set_hours(category: str, acknowledge: int, analyse: int) -> None:
    HandlingExpectation.objects.filter(category__code=category).update(
        acknowledge_hours=acknowledge, analyse_hours=analyse)


def test_defaults_are_seeded_for_every_category(db):
    """The data migration gives every shipped category an expectation (README's table)."""
    expectations = {e.category.code: (e.acknowledge_hours, e.analyse_hours)
                    for e in HandlingExpectation.objects.select_related("category")}
    assert set(expectations) == set(Category.objects.values_list("code", flat=True))
    assert expectations["routing-disruption"] == (8, 120)
    assert expectations["trust-security"] == (24, 360)
    assert expectations["other"] == (48, 720)


def test_share_acknowledged_in_time_follows_transitions_and_expectations(alice, charlie):
    first = submitted(file_report(alice), 100)
    second = submitted(file_report(alice), 100)
    acknowledge(first, charlie, 2)             # within trust-security's 24 hours
    late = acknowledge(second, charlie, 30)    # 6 hours past them
    flt = StatsFilter(year=YEAR)

    result = handling_in_time(flt)["acknowledge"]
    assert (result["in_time"], result["late"], result["share"]) == (1, 1, 0.5)

    # The late acknowledgement moved earlier: both were in time.
    Transition.objects.filter(pk=late.pk).update(at=second.submitted_at + dt.timedelta(hours=10))
    assert handling_in_time(flt)["acknowledge"]["share"] == 1.0

    # The Secretariat now expects acknowledgement within 5 hours: only the first is in time.
    handling.set_expectation(charlie, Category.objects.get(code="trust-security"), 5, 360)
    assert handling_in_time(flt)["acknowledge"]["share"] == 0.5


def test_a_report_never_acknowledged_is_pending_then_late(alice, charlie):
    report = submitted(file_report(alice), 3)
    flt = StatsFilter(year=YEAR)
    result = handling_in_time(flt)["acknowledge"]
    assert (result["pending"], result["late"], result["share"]) == (1, 0, None)
    submitted(report, 30)
    result = handling_in_time(flt)["acknowledge"]
    assert (result["pending"], result["late"], result["share"]) == (0, 1, 0.0)


def test_share_analysed_in_time_counts_the_first_closure(alice, charlie):
    report = submitted(file_report(alice), 500)
    acknowledge(report, charlie, 1)
    services.change_status(report, charlie, "closed")
    closed = Transition.objects.get(incident=report, to_status="closed")
    Transition.objects.filter(pk=closed.pk).update(
        at=report.submitted_at + dt.timedelta(hours=400))  # past trust-security's 360 hours
    flt = StatsFilter(year=YEAR)
    assert handling_in_time(flt)["analyse"]["share"] == 0.0
    set_hours("trust-security", 24, 480)
    assert handling_in_time(flt)["analyse"]["share"] == 1.0


def test_a_category_without_expectation_is_not_measured(alice, charlie):
    submitted(file_report(alice, category="other"), 1000)
    HandlingExpectation.objects.filter(category__code="other").delete()
    result = handling_in_time(StatsFilter(year=YEAR))
    assert result["not_measured"] == 1
    assert result["acknowledge"]["share"] is None


def _council_text() -> str:
    options = ReportOptions(year=YEAR, lang="en", fmt="html", date=dt.date(2027, 3, 1))
    body = service.produce(options).document.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body))


def test_the_council_report_gives_the_share_handled_in_time(alice, charlie, settings):
    # The small-count rule on this sentence is tested in test_trust_issue12_access.py.
    settings.SMALL_COUNT = 1
    first = submitted(file_report(alice), 100)
    second = submitted(file_report(alice), 100)
    acknowledge(first, charlie, 2)
    late = acknowledge(second, charlie, 30)
    text = _council_text()
    assert "50% of the 2 reports due for acknowledgement were acknowledged within" in text
    Transition.objects.filter(pk=late.pk).update(at=second.submitted_at + dt.timedelta(hours=1))
    assert "100% of the 2 reports due for acknowledgement" in _council_text()


# --- the queue ---------------------------------------------------------------------------------

def rows(client, query: str = "") -> list[str]:
    text = page(client.get(f"/analysis/queue/{query}"))
    body = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
            for r in body.split("</tr>") if "<td" in r]


def test_the_queue_marks_overdue_reports_in_words(client, alice, charlie):
    report = submitted(file_report(alice, title="Old DDoS"), 30)
    client.force_login(charlie)
    [row] = rows(client)
    assert "Old DDoS" in row and "Acknowledgement overdue by 6 h" in row
    assert 'class="overdue"' in page(client.get("/analysis/queue/"))
    # The Secretariat allows 48 hours for this category: not overdue any more.
    set_hours("trust-security", 48, 360)
    [row] = rows(client)
    assert "overdue" not in row and "Acknowledge within 18 h" in row
    # Acknowledged in time, the report is now measured against the analysis time.
    acknowledge(report, charlie, 1)
    set_hours("trust-security", 1, 10)
    [row] = rows(client)
    assert "Analysis overdue by 20 h" in row


def test_the_queue_sorts_by_age_submission_and_last_answer(client, alice, charlie):
    young = file_report(alice, title="Young", started_at="2026-06-01T00:00:00Z",
                        ended_at="2026-06-01T06:00:00Z")
    old = file_report(alice, title="Old", started_at="2026-01-01T00:00:00Z",
                        ended_at="2026-01-01T06:00:00Z")
    middle = file_report(alice, title="Middle", started_at="2026-03-01T00:00:00Z",
                        ended_at="2026-03-01T06:00:00Z")
    submitted(young, 50)
    submitted(old, 1)
    submitted(middle, 10)
    for report in (young, old, middle):
        acknowledge(report, charlie, 0.5)
    # Only Young and Middle have answers from the State; Middle's is the more recent.
    services.change_status(young, charlie, "info-requested", note="Which prefix?")
    young.refresh_from_db()
    services.post_message(young, alice, "203.0.113.0/24")
    services.post_message(middle, alice, "More logs")
    Message.objects.filter(incident=young, kind="answer").update(
        created_at=timezone.now() - dt.timedelta(hours=20))
    Message.objects.filter(incident=middle, kind="note").update(
        created_at=timezone.now() - dt.timedelta(hours=2))
    client.force_login(charlie)

    def titles(query: str) -> list[str]:
        return [next(t for t in ("Young", "Old", "Middle") if f" {t} " in f" {r} ")
                for r in rows(client, query)]

    assert titles("?sort=-age") == ["Old", "Middle", "Young"]          # the oldest first
    assert titles("?sort=age") == ["Young", "Middle", "Old"]
    assert titles("?sort=-submitted") == ["Young", "Middle", "Old"]    # waiting longest first
    assert titles("?sort=submitted") == ["Old", "Middle", "Young"]
    assert titles("?sort=-answer") == ["Young", "Middle", "Old"]       # no answer: last
    assert titles("?sort=answer") == ["Middle", "Young", "Old"]
    text = page(client.get("/analysis/queue/?sort=-age"))
    assert re.search(r'<th[^>]*aria-sort="descending"[^>]*>\s*<a href="\?sort=age"', text)
    assert text.count("aria-sort=") == 1
    # Each column header links to its sort, the oldest (longest) first.
    assert 'href="?sort=-submitted"' in text and 'href="?sort=-answer"' in text
    # Time since the last State answer is shown in words; none is said so.
    assert re.search(r">Middle<.*?class=\"num since-answer\">2 h<", text, re.S)
    assert re.search(r">Old<.*?class=\"num since-answer\"><span class=\"help\">no answer<",
                     text, re.S)


def test_an_unknown_sort_says_so(client, charlie):
    client.force_login(charlie)
    text = page(client.get("/analysis/queue/?sort=colour"))
    assert "Unknown sort “colour”" in text


@pytest.mark.parametrize("who", ["alice", "bob", "council"])
def test_the_queue_and_expectations_are_the_secretariat_s(db, client, who, request):
    client.force_login(request.getfixturevalue(who))
    assert client.get("/analysis/queue/").status_code == 403
    assert client.get("/analysis/handling-times/").status_code == 403
    assert client.post("/analysis/handling-times/", {
        "category": "other", "acknowledge_hours": 1, "analyse_hours": 2}).status_code == 403
    assert HandlingExpectation.objects.get(category__code="other").acknowledge_hours == 48


def test_the_queue_shows_only_what_the_analyst_may_see(client, alice, charlie):
    file_report(alice, title="Amber matter", tlp="amber")
    file_report(alice, title="Red matter", tlp="red")
    client.force_login(charlie)
    text = " ".join(rows(client))
    assert "Amber matter" in text and "Red matter" not in text


# --- setting the expectations ------------------------------------------------------------------

def test_the_secretariat_sets_expectations_and_the_change_is_audited(client, charlie):
    client.force_login(charlie)
    response = client.post("/analysis/handling-times/", {
        "category": "access-denial", "acknowledge_hours": "12", "analyse_hours": "96"},
        follow=True)
    assert "Expected handling times of Denial of access" in page(response)
    expectation = HandlingExpectation.objects.get(category__code="access-denial")
    assert (expectation.acknowledge_hours, expectation.analyse_hours) == (12, 96)
    assert expectation.updated_by == charlie
    entry = AuditEntry.objects.get(action="handling.expectation")
    assert entry.actor_name == "charlie"
    assert entry.before == {"category": "access-denial", "acknowledge_hours": 24,
                            "analyse_hours": 240}
    assert entry.after == {"category": "access-denial", "acknowledge_hours": 12,
                           "analyse_hours": 96}


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"acknowledge_hours": "0", "analyse_hours": "10"}, "acknowledge_hours", "1 to 8760"),
    ({"acknowledge_hours": "ten", "analyse_hours": "10"}, "acknowledge_hours", "whole number"),
    ({"acknowledge_hours": "48", "analyse_hours": "10"}, "analyse_hours",
     "cannot be due before the acknowledgement"),
    ({"acknowledge_hours": "4", "analyse_hours": "9000"}, "analyse_hours", "1 to 8760"),
])
def test_bad_expectations_are_refused_by_field_and_nothing_changes(client, charlie, data,
                                                                   field, message):
    client.force_login(charlie)
    response = client.post("/analysis/handling-times/", {"category": "access-denial", **data})
    assert response.status_code == 400
    text = html.unescape(response.content.decode())
    # The message sits in the named field's error area.
    assert re.search(rf'id="errors-{field}"[^>]*>[^<]*<ul class="errorlist[^>]*>\s*<li>[^<]*'
                     rf'{re.escape(message)}', text)
    expectation = HandlingExpectation.objects.get(category__code="access-denial")
    assert (expectation.acknowledge_hours, expectation.analyse_hours) == (24, 240)
    assert not AuditEntry.objects.filter(action="handling.expectation").exists()


def test_a_change_in_the_admin_is_audited_too(client, charlie):
    ada = make_user("ada", Role.ADMIN, is_staff=True, is_superuser=True)
    client.force_login(ada)
    expectation = HandlingExpectation.objects.get(category__code="other")
    response = client.post(f"/admin/analysis/handlingexpectation/{expectation.pk}/change/", {
        "category": expectation.category_id, "acknowledge_hours": "12",
        "analyse_hours": "100"})
    assert response.status_code == 302, response.content.decode()[:2000]
    expectation.refresh_from_db()
    assert (expectation.acknowledge_hours, expectation.analyse_hours, expectation.updated_by) \
        == (12, 100, ada)
    entry = AuditEntry.objects.get(action="admin.change",
                                   object_type="analysis.handlingexpectation")
    assert (entry.before["acknowledge_hours"], entry.after["acknowledge_hours"]) == (48, 12)
    # The admin refuses an analysis due before the acknowledgement, as the page does.
    response = client.post(f"/admin/analysis/handlingexpectation/{expectation.pk}/change/", {
        "category": expectation.category_id, "acknowledge_hours": "50",
        "analyse_hours": "10"})
    assert response.status_code == 200
    expectation.refresh_from_db()
    assert expectation.analyse_hours == 100


def test_with_nothing_due_the_council_report_says_so(db):
    assert "No report of 2026 was yet due for acknowledgement or analysis" in _council_text()
