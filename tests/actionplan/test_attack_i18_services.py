"""Attacks on issue 18's action plan (its writes moved to actionplan/services.py): every write
page, asked by a role other than the Secretariat, must be the one 403 whether the action or
indicator exists or not, and write nothing, audit included; the Secretariat's web writes must
still leave their audit entry with the values before the change."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.actionplan.models import Action, Indicator, ProgressUpdate
from sentinelle.core.models import AuditEntry

pytestmark = pytest.mark.django_db

ACTION = {"code": "A9", "clause": "Res. 130", "title": "Injected", "description": "x",
          "responsible": "GS", "start_date": "2026-01-01", "end_date": "2026-12-31",
          "position": "0"}
INDICATOR = {"code": "A1.9", "name": "Injected", "unit": "x", "kind": "manual", "baseline": "0",
             "baseline_date": "2026-01-01", "target": "5", "deadline": "2027-01-01",
             "direction": "up", "position": "0"}


@pytest.fixture
def plan(db):
    action = Action.objects.create(code="A1", clause="Res. 130", title="Report to Council",
                                   responsible="GS", start_date=dt.date(2025, 1, 1),
                                   end_date=dt.date(2027, 1, 1))
    Indicator.objects.create(action=action, code="A1.2", name="Workshops", unit="workshops",
                             baseline=0, baseline_date=dt.date(2025, 1, 1), target=10,
                             deadline=dt.date(2027, 1, 1))
    return action


def writes(code: str, indicator: str) -> list[tuple[str, dict]]:
    return [("/action-plan/new/", ACTION),
            (f"/action-plan/{code}/edit/", ACTION),
            (f"/action-plan/{code}/indicators/new/", INDICATOR),
            (f"/action-plan/{code}/indicators/{indicator}/edit/", INDICATOR),
            (f"/action-plan/indicators/{indicator}/updates/new/",
             {"date": "2026-03-01", "value": "3", "note": "injected"})]


@pytest.mark.parametrize("who", ["alice", "bob", "council"])
def test_every_write_page_is_403_for_another_role_whether_the_object_exists_or_not(
        client, plan, who, request):
    client.force_login(request.getfixturevalue(who))
    for code, indicator in (("A1", "A1.2"), ("Z9", "Z9.9")):
        for url, data in writes(code, indicator):
            assert client.get(url).status_code == 403, url
            upload = {"evidence_file": SimpleUploadedFile("x.pdf", b"%PDF")} \
                if "updates" in url else {}
            assert client.post(url, {**data, **upload}).status_code == 403, url
    assert list(Action.objects.values_list("code", "title")) == [("A1", "Report to Council")]
    assert list(Indicator.objects.values_list("code", flat=True)) == ["A1.2"]
    assert not ProgressUpdate.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="actionplan.").exists()


def test_the_secretariats_web_writes_keep_their_audit_entries(client, plan, charlie):
    client.force_login(charlie)
    assert client.post("/action-plan/A1/edit/", {**ACTION, "code": "A1",
                                                 "title": "Report to Council, revised"}
                       ).status_code == 302
    assert client.post("/action-plan/A1/indicators/new/", INDICATOR).status_code == 302
    assert client.post("/action-plan/indicators/A1.2/updates/new/", {
        "date": "2026-03-01", "value": "3",
        "evidence_file": SimpleUploadedFile("../../minutes.pdf", b"%PDF-1.4")}
    ).status_code == 302
    change = AuditEntry.objects.get(action="actionplan.action.change")
    assert (change.before["title"], change.after["title"]) == (
        "Report to Council", "Report to Council, revised")
    assert AuditEntry.objects.filter(action="actionplan.indicator.add").count() == 1
    update = ProgressUpdate.objects.get()
    assert AuditEntry.objects.filter(action="actionplan.update.add").count() == 1
    assert update.evidence_name == "minutes.pdf"  # no path survives
    assert update.recorded_by == charlie
