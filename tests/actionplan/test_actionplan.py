"""The action plan: the evaluation rule, computed indicators from the statistics service, the
demo plan, and who reads and edits."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from sentinelle.actionplan.evaluation import (
    Status,
    action_verdict,
    evaluate,
    indicator_status,
    overall_verdict,
)
from sentinelle.actionplan.models import Action, Indicator, Metric, ProgressUpdate
from sentinelle.analysis.statistics import StatsFilter, compute
from sentinelle.core.models import AuditEntry
from tests.conftest import file_report

START, DEADLINE = dt.date(2025, 1, 1), dt.date(2027, 1, 1)
MIDWAY = dt.date(2026, 1, 1)  # about half the way (365 of 730 days)


def status(value, on=MIDWAY, direction="up", baseline=0.0, target=100.0):
    return indicator_status(baseline=baseline, target=target, direction=direction, start=START,
                            deadline=DEADLINE, value=value, on=on)


@pytest.mark.parametrize(("value", "expected"), [
    (None, Status.NOT_MEASURED),
    (100, Status.ACHIEVED),
    (120, Status.ACHIEVED),
    (50, Status.ON_TRACK),    # on the line
    (41, Status.ON_TRACK),    # 9 points behind
    (30, Status.AT_RISK),     # 20 points behind
    (20, Status.OFF_TRACK),   # 30 points behind
    (-5, Status.OFF_TRACK),   # went the wrong way
])
def test_indicator_status_follows_the_trajectory(value, expected):
    assert status(value) == expected


def test_lower_is_better_and_the_deadline():
    # Baseline 96 h, target 24 h: half way is 60 h.
    assert status(60, direction="down", baseline=96, target=24) == Status.ON_TRACK
    assert status(80, direction="down", baseline=96, target=24) == Status.OFF_TRACK
    assert status(20, direction="down", baseline=96, target=24) == Status.ACHIEVED
    late = dt.date(2027, 6, 1)
    assert status(99, on=late) == Status.OFF_TRACK
    assert status(100, on=late) == Status.ACHIEVED


def test_verdicts():
    assert action_verdict([Status.ACHIEVED, Status.AT_RISK, Status.NOT_MEASURED]) == \
        Status.AT_RISK
    assert action_verdict([Status.NOT_MEASURED]) == Status.NOT_MEASURED
    assert overall_verdict([Status.ACHIEVED] * 2) == Status.ACHIEVED
    assert overall_verdict([Status.ON_TRACK] * 3 + [Status.AT_RISK]) == Status.ON_TRACK
    assert overall_verdict([Status.ON_TRACK] * 3 + [Status.OFF_TRACK]) == Status.AT_RISK
    assert overall_verdict([Status.ON_TRACK, Status.OFF_TRACK, Status.OFF_TRACK]) == \
        Status.OFF_TRACK


@pytest.fixture
def plan(db):
    action = Action.objects.create(code="A1", clause="Res. 130, instructs the SG 2",
                                   title="Report to Council", responsible="GS",
                                   start_date=START, end_date=DEADLINE)
    states = Indicator.objects.create(
        action=action, code="A1.1", name="States reporting", unit="States", baseline=0,
        baseline_date=START, target=4, deadline=DEADLINE, kind="computed",
        metric=Metric.STATES_REPORTING)
    manual = Indicator.objects.create(
        action=action, code="A1.2", name="Workshops", unit="workshops", baseline=0,
        baseline_date=START, target=10, deadline=DEADLINE)
    return action, states, manual


def test_computed_indicators_come_from_the_statistics_service(plan, alice, bob, charlie):
    file_report(alice)
    file_report(bob)
    ProgressUpdate.objects.create(indicator=plan[2], date=dt.date(2026, 2, 1), value=6)
    ProgressUpdate.objects.create(indicator=plan[2], date=dt.date(2026, 12, 1), value=9)
    result = evaluate(2026, on=dt.date(2026, 6, 30))
    by_code = {r.indicator.code: r for r in result.indicators}
    stats = compute(StatsFilter(year=2026))
    assert by_code["A1.1"].value == stats.totals["states_reporting"] == 2
    # 50 % of the way done where the line expects 75 % (546 of 730 days): 25 points behind.
    assert by_code["A1.1"].status == Status.AT_RISK
    assert by_code["A1.2"].value == 6  # the update after the date does not count yet
    assert evaluate(2031).indicators[0].status == Status.NOT_MEASURED  # no data that year


def test_seed_actionplan_is_idempotent(db):
    call_command("seed_actionplan", "--year", "2026", stdout=io.StringIO())
    counts = (Action.objects.count(), Indicator.objects.count(), ProgressUpdate.objects.count())
    call_command("seed_actionplan", "--year", "2026", stdout=io.StringIO())
    assert counts == (Action.objects.count(), Indicator.objects.count(),
                      ProgressUpdate.objects.count())
    assert counts[0] >= 5 and {a.responsible for a in Action.objects.all()} == \
        {"GS", "BR", "TSB", "BDT"}
    assert Indicator.objects.filter(kind="computed").count() >= 3


def test_everyone_signed_in_reads_and_only_the_secretariat_edits(client, plan, alice, charlie):
    assert client.get("/action-plan/").status_code == 302  # sign in first
    client.force_login(alice)
    page = client.get("/action-plan/").content.decode()
    assert "Report to Council" in page and "Overall verdict" in page
    assert client.get("/action-plan/A1/").status_code == 200
    assert client.get("/action-plan/new/").status_code == 403
    assert client.post("/action-plan/indicators/A1.2/updates/new/",
                       {"date": "2026-03-01", "value": "3"}).status_code == 403
    client.force_login(charlie)
    response = client.post("/action-plan/indicators/A1.2/updates/new/", {
        "date": "2026-03-01", "value": "3", "note": "First workshop",
        "evidence_file": SimpleUploadedFile("minutes.pdf", b"%PDF-1.4 minutes"),
        "evidence_link": "https://www.itu.int/"})
    assert response.status_code == 302
    update = ProgressUpdate.objects.get(indicator=plan[2])
    assert (update.value, update.recorded_by, update.evidence_name) == (3, charlie,
                                                                        "minutes.pdf")
    assert AuditEntry.objects.filter(action="actionplan.update.add").exists()
    client.force_login(alice)
    download = client.get(f"/action-plan/updates/{update.pk}/evidence/")
    assert download.status_code == 200 and b"".join(download) == b"%PDF-1.4 minutes"


def test_an_indicator_that_contradicts_its_direction_is_refused(client, plan, charlie):
    client.force_login(charlie)
    response = client.post("/action-plan/A1/indicators/new/", {
        "code": "A1.3", "name": "Bad", "unit": "x", "kind": "manual", "baseline": "10",
        "baseline_date": "2025-01-01", "target": "5", "deadline": "2027-01-01",
        "direction": "up", "position": "0"})
    assert response.status_code == 200 and "must not be below" in response.content.decode()
    assert not Indicator.objects.filter(code="A1.3").exists()
