"""Regression tests: the action plan's computed indicators obey the disclosure rule outside the
Secretariat (the same publication as the statistics API and the Council report), and the
publication's States-reporting total obeys the small-count rule."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from sentinelle.analysis.disclosure import publication
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, file_report, make_user

pytestmark = pytest.mark.django_db
YEAR = 2024
COMPUTED = ("A1.1", "A1.2", "A1.3", "A4.1")


@pytest.fixture
def one_red_report(alice):
    call_command("seed_actionplan", "--year", str(YEAR), stdout=io.StringIO())
    file_report(alice, tlp="red", category="access-denial",
                started_at=f"{YEAR}-03-01T08:00:00Z", ended_at=f"{YEAR}-03-01T12:00:00Z")


def _values(client, user, path: str) -> dict[str, float | None]:
    client.force_login(user)
    response = client.get(path, {"year": str(YEAR)})
    assert response.status_code == 200
    return {r.indicator.code: r.value for r in response.context["evaluation"].indicators
            if r.indicator.code in COMPUTED}


@pytest.mark.parametrize("path", ["/action-plan/", "/action-plan/A1/", "/action-plan/A4/"])
def test_one_red_report_does_not_show_on_the_action_plan(client, one_red_report, council,
                                                          bob, path):
    api = api_client(council).get("/api/v1/statistics/", {"year": str(YEAR)}).json()
    assert api["totals"]["incidents"] is None  # the API hides it ...
    for reader in (council, bob):  # ... and so must the action plan
        assert _values(client, reader, path) == {code: None for code in COMPUTED}
        page = client.get(path, {"year": str(YEAR)}).content.decode()
        assert "States reporting 1" not in page


def test_the_secretariat_keeps_the_precise_figures(client, one_red_report, charlie):
    values = _values(client, charlie, "/action-plan/")
    # Charlie is not named for the RED report: the Secretariat counts what it may see.
    assert values["A1.1"] is None
    Incident.objects.get().named_analysts.add(charlie)
    values = _values(client, charlie, "/action-plan/")
    assert values["A1.1"] == 1.0 and values["A4.1"] == 1.0 and values["A1.3"] == 0.0


def test_the_published_number_of_states_reporting_obeys_the_rule(alice, bob):
    for user in (alice, bob):
        for _n in range(3):
            file_report(user, tlp="green")
    stats = publication(2026)
    assert stats.totals["incidents"] == 6  # shown: 6 reports from two States ...
    assert stats.totals["states_reporting"] is None  # ... but "2 States" is below k
    assert stats.suppressed
    fr = make_user("fred", "focal-point", "FR")
    for _n in range(3):
        file_report(fr, tlp="green")
    assert publication(2026).totals["states_reporting"] == 3


def test_every_top_level_figure_is_a_published_one(alice, bob):
    """No summary figure of the publication is 1 … k−1."""
    file_report(alice, tlp="green")
    for _n in range(4):
        file_report(bob, tlp="green")
    stats = publication(2026)
    for key in ("incidents", "reported", "from_summary_returns", "states_reporting",
                "with_evidence"):
        value = stats.totals[key]
        assert value is None or value == 0 or value >= 3, key
    for times in (stats.time_to_acknowledge, stats.time_to_close):
        assert times["count"] is None or times["count"] == 0 or times["count"] >= 3


def test_one_state_holding_all_but_one_of_the_reports_with_evidence(alice, bob):
    """4 of 5 reports with evidence are Switzerland's: showing 5 would tell Switzerland that
    exactly one other report has evidence."""
    from django.core.files.base import ContentFile

    from sentinelle.incidents.models import Evidence

    reports = [file_report(bob, tlp="green") for _n in range(4)]
    reports += [file_report(alice, tlp="green") for _n in range(5)]
    for incident in reports[:5]:
        Evidence.objects.create(incident=incident, file=ContentFile(b"x", name="e.txt"),
                                filename="e.txt", size=1, sha256="0" * 64,
                                content_type="text/plain", uploaded_by=bob)
    stats = publication(2026)
    assert stats.totals["reported"] == 9
    assert stats.totals["with_evidence"] is None and stats.totals["evidence_rate"] is None
