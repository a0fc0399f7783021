"""The importer: all or nothing, merge by identity, rejections with their place."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from sentinelle.exchange import formats
from sentinelle.exchange.importer import import_records
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.reading import open_records
from sentinelle.incidents.models import Evidence, Incident
from tests.conftest import api_client


@pytest.fixture(autouse=True)
def _test_format(monkeypatch):
    monkeypatch.setitem(formats.FORMAT_MODULES, "testjsonl", "tests.exchange.jsonl_format")


def lines(*items) -> bytes:
    return b"".join(json.dumps(item).encode() + b"\n" for item in items)


REPORT = {"t": "report", "id": "R-1", "title": "Hijack", "category": "routing-disruption",
          "rsit": "availability:outage", "tlp": "green", "start": "2026-02-01T10:00:00+00:00",
          "indicators": [["prefix", "190.6.64.0/19"], ["asn", "AS27725"]]}


def run(user, data: bytes, **kw):
    _fmt, records = open_records(io.BytesIO(data), "auto")
    return import_records(records, user=user, **kw)


def test_reports_and_indicators_are_created(alice):
    summary = run(alice, lines(REPORT, {"t": "ind", "type": "ipv4", "value": "192.0.2.1"}))
    assert (summary.reports_created, summary.indicators_created, summary.rejected) == (1, 1, [])
    incident = Incident.objects.get()
    assert (incident.state.alpha2, incident.status, incident.tlp) == ("CU", "submitted", "green")
    assert incident.stix_id.startswith("incident--")
    assert SharedIndicator.objects.get().state == alice.state


def test_reimport_merges_and_a_newer_version_amends(alice):
    run(alice, lines(REPORT))
    again = run(alice, lines(REPORT))
    assert (again.reports_created, again.reports_merged) == (0, 1)
    newer = {**REPORT, "title": "Hijack (confirmed)", "modified": "2099-01-01T00:00:00+00:00"}
    update = run(alice, lines(newer))
    assert update.reports_updated == 1
    incident = Incident.objects.get()
    assert (incident.version, incident.title) == (2, "Hijack (confirmed)")
    assert incident.versions.get(number=1).content["title"] == "Hijack"


def test_one_bad_item_writes_nothing_and_names_its_line(alice):
    bad = {**REPORT, "id": "R-2", "category": "no-such-category"}
    attached = {**REPORT, "id": "R-3", "attach": True}
    summary = run(alice, lines(attached, {"t": "ind", "type": "ipv4", "value": "192.0.2.1"},
                               bad, {"t": "ind", "type": "ipv4", "value": "999.1.1.1"}))
    assert not summary.ok
    assert [r.where for r in summary.rejected] == ["line 3", "line 4"]
    assert "no-such-category" in summary.rejected[0].reason
    assert not Incident.objects.exists() and not SharedIndicator.objects.exists()
    assert not Evidence.objects.exists()


def test_rejected_import_leaves_no_evidence_file(alice, settings):
    attached = {**REPORT, "attach": True}
    run(alice, lines(attached, {**REPORT, "id": "X", "rsit": "nope:nope"}))
    media = settings.MEDIA_ROOT
    leftovers = [p for p in media.rglob("*") if p.is_file()] if media.exists() else []
    assert leftovers == []


def test_dry_run_counts_and_writes_nothing(alice):
    summary = run(alice, lines(REPORT), dry_run=True)
    assert summary.reports_created == 1 and not summary.written
    assert not Incident.objects.exists()


def test_a_state_cannot_merge_into_another_states_report(alice, bob):
    # The same source id is each State's own (issue 11, finding 8): Bob gets a report of his
    # State, and Cuba's stays as it was.
    run(alice, lines(REPORT))
    summary = run(bob, lines(REPORT))
    assert summary.ok and summary.reports_created == 1
    assert sorted(Incident.objects.values_list("state__alpha2", "version")) == [
        ("CH", 1), ("CU", 1)]


def test_duplicate_indicators_in_one_file_are_merged(alice):
    ind = {"t": "ind", "type": "domain", "value": "Example.ORG", "id": "feed-1"}
    summary = run(alice, lines(ind, ind, {**ind, "id": "feed-2"}))
    assert (summary.indicators_created, summary.indicators_merged) == (2, 1)
    assert SharedIndicator.objects.filter(value="example.org").count() == 2


def test_command_imports_and_reports_failures(alice, tmp_path, capsys):
    good = tmp_path / "good.jsonl"
    good.write_bytes(lines(REPORT))
    call_command("import", str(good), "--state", "CU")
    assert "1 created" in capsys.readouterr().out
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(lines({**REPORT, "id": "Z", "tlp": "purple"}))
    with pytest.raises(CommandError, match="nothing imported"):
        call_command("import", str(bad), "--state", "CU")
    with pytest.raises(CommandError, match="unknown format"):
        call_command("import", str(good), "--state", "CU", "--format", "nope")
    with pytest.raises(CommandError, match="unknown Member State"):
        call_command("import", str(good), "--state", "XX")
    with pytest.raises(CommandError, match="no such file"):
        call_command("import", str(tmp_path / "missing"), "--state", "CU")
    assert Incident.objects.count() == 1


def test_api_import_runs_as_a_job_owned_by_its_starter(alice, bob):
    upload = SimpleUploadedFile("r.jsonl", lines(REPORT))
    response = api_client(alice).post("/api/v1/imports/", {"file": upload}, format="multipart")
    assert response.status_code == 202
    job = response.json()
    assert job["status"] == "succeeded" and job["result"]["reports_created"] == 1
    assert api_client(alice).get(f"/api/v1/jobs/{job['id']}/").status_code == 200
    assert api_client(bob).get(f"/api/v1/jobs/{job['id']}/").status_code == 404


def test_api_import_failure_shows_the_reason(alice):
    upload = SimpleUploadedFile("r.jsonl", lines({**REPORT, "rsit": "x:y"}))
    job = api_client(alice).post("/api/v1/imports/", {"file": upload},
                                 format="multipart").json()
    assert job["status"] == "failed" and "line 1" in job["message"]
    assert job["result"]["rejected"][0]["where"] == "line 1"
    assert not Incident.objects.exists()


def test_api_import_refuses_unknown_format_and_non_focal_points(alice, charlie):
    upload = SimpleUploadedFile("r.jsonl", lines(REPORT))
    response = api_client(alice).post("/api/v1/imports/", {"file": upload, "format": "nope"},
                                      format="multipart")
    assert response.status_code == 400 and "format" in response.json()["fields"]
    upload = SimpleUploadedFile("r.jsonl", lines(REPORT))
    assert api_client(charlie).post("/api/v1/imports/", {"file": upload},
                                    format="multipart").status_code == 403


def test_web_import_starts_a_job(client, alice):
    client.force_login(alice)
    response = client.post("/exchange/", {"file": SimpleUploadedFile("r.jsonl", lines(REPORT)),
                                          "format": "auto", "tlp": ""})
    assert response.status_code == 302 and "/jobs/" in response.url
    assert "Succeeded" in client.get(response.url).content.decode()


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_import_templates_download_and_import_back(client, alice, language):
    csv_template = client.get(f"/exchange/template.csv?lang={language}")
    assert csv_template.status_code == 200
    xlsx_template = client.get(f"/exchange/template.xlsx?lang={language}")
    assert xlsx_template.status_code == 200
    for extension, body in (("csv", csv_template.content), ("xlsx", xlsx_template.content)):
        _fmt, records = open_records(io.BytesIO(body), "auto", f"template.{extension}")
        summary = import_records(records, user=alice, dry_run=True)
        assert summary.ok and summary.reports_created == 1, summary.rejected
    assert client.get("/exchange/template.csv?lang=xx").status_code == 404
