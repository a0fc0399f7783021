"""The web report flow: draft, submit, attach, validate, preview, amend, triage, talk, export."""

from __future__ import annotations

import csv
import hashlib
import io
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from openpyxl import load_workbook

from sentinelle.incidents import services
from sentinelle.incidents.models import Evidence, Incident, IncidentVersion, Message, Status
from tests.conftest import file_report


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "title": "Fibre cut at the landing station",
        "category": "routing-disruption",
        "rsit": "availability:outage",
        "tlp": "amber",
        "severity": "high",
        "started_at": "2026-02-10T06:00",
        "ended_at": "2026-02-10T09:00",
        "detected_at": "",
        "affected_services": "fixed internet\nmobile data",
        "users_affected": "2000",
        "alleged_origin_state": "",
        "description": "Submarine cable damaged.",
        "narrative_language": "en",
        "indicators": "ipv4 192.0.2.10\ndomain Cable.Example",
    }
    data.update(overrides)
    return data


def field_errors(html: str, field: str) -> str:
    start = html.index(f'id="errors-{field}"')
    return html[start:html.index("</div>", start)]


def test_save_keeps_a_draft_then_submit_sends_it(alice, charlie):
    client = client_for(alice)
    response = client.post("/incidents/new/", {**form_data(), "save": ""})
    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"
    assert incident.status == Status.DRAFT and incident.submitted_at is None
    assert incident.state.alpha2 == "CU" and incident.reporter == alice
    assert (incident.duration_hours, incident.user_hours) == (3.0, 6000.0)
    assert incident.affected_services == ["fixed internet", "mobile data"]
    assert client_for(charlie).get(f"/incidents/{incident.pk}/").status_code == 404

    response = client.post(f"/incidents/{incident.pk}/edit/",
                           {**form_data(title="Fibre cut, landing station B"), "submit": ""})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.SUBMITTED and incident.submitted_at is not None
    assert incident.title == "Fibre cut, landing station B"
    assert client_for(charlie).get(f"/incidents/{incident.pk}/").status_code == 200


def test_submit_on_create_sends_at_once(alice):
    client = client_for(alice)
    response = client.post("/incidents/new/", {**form_data(), "submit": ""})
    assert response.status_code == 302
    incident = Incident.objects.get()
    assert incident.status == Status.SUBMITTED
    version = incident.versions.get()
    assert version.content["indicators"] == [{"type": "ipv4", "value": "192.0.2.10"},
                                             {"type": "domain", "value": "cable.example"}]
    page = client.get(response["Location"]).content.decode()
    assert "The report was submitted to the Secretariat: " in page


def test_attachments_on_create(alice):
    files = [SimpleUploadedFile("log.txt", b"syslog lines"),
             SimpleUploadedFile("../../trace.pcap", b"\xd4\xc3\xb2\xa1" + b"\0" * 20)]
    response = client_for(alice).post("/incidents/new/",
                                      {**form_data(), "submit": "", "attachments": files})
    assert response.status_code == 302
    incident = Incident.objects.get()
    stored = {e.filename: e.sha256 for e in Evidence.objects.filter(incident=incident)}
    assert stored == {"log.txt": hashlib.sha256(b"syslog lines").hexdigest(),
                      "trace.pcap": hashlib.sha256(b"\xd4\xc3\xb2\xa1" + b"\0" * 20).hexdigest()}
    page = client_for(alice).get(f"/incidents/{incident.pk}/").content.decode()
    assert stored["log.txt"] in page


def test_validation_errors_are_shown_next_to_the_field_and_input_is_kept(alice):
    response = client_for(alice).post("/incidents/new/", {**form_data(
        title="My typed title", ended_at="2026-02-10T05:00", users_affected="-3",
        indicators="ipv4 192.0.2.10\nipv4 300.1.1.1"), "submit": ""})
    assert response.status_code == 200
    assert Incident.objects.count() == 0
    html = response.content.decode()
    assert "before the start" in field_errors(html, "ended_at")
    assert field_errors(html, "users_affected").count("<li>") == 1
    assert "Line 2" in field_errors(html, "indicators")
    assert "<li>" not in field_errors(html, "title")
    assert 'value="My typed title"' in html
    assert "Submarine cable damaged." in html
    assert 'value="2026-02-10T05:00"' in html


def test_unknown_rsit_is_shown_on_the_rsit_field(alice):
    response = client_for(alice).post("/incidents/new/",
                                      {**form_data(rsit="availability:nope"), "submit": ""})
    assert "<li>" in field_errors(response.content.decode(), "rsit")
    assert Incident.objects.count() == 0


def test_preview_does_not_save(alice):
    response = client_for(alice).post("/incidents/new/", {**form_data(), "preview": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'class="preview"' in html
    assert "Fibre cut at the landing station" in html
    assert "6,000" in html  # the derived user-hours are previewed, as the report shows them
    assert Incident.objects.count() == 0
    assert IncidentVersion.objects.count() == 0


def test_preview_of_an_amendment_does_not_add_a_version(alice):
    incident = file_report(alice)
    response = client_for(alice).post(f"/incidents/{incident.pk}/edit/",
                                      {**form_data(title="Previewed only"), "preview": ""})
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.version == 1 and incident.title != "Previewed only"


def test_amend_adds_a_version_and_the_diff_shows_the_change(alice, bob):
    client = client_for(alice)
    client.post("/incidents/new/", {**form_data(), "submit": ""})
    incident = Incident.objects.get()
    response = client.post(f"/incidents/{incident.pk}/edit/", {**form_data(
        title="Fibre cut at two landing stations", users_affected="5000",
        note="second station affected"), "submit": ""})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.version == 2
    v1, v2 = incident.versions.order_by("number")
    assert v1.content["title"] == "Fibre cut at the landing station"
    assert v2.content["title"] == "Fibre cut at two landing stations"
    assert v2.note == "second station affected"

    html = unescape(client.get(f"/incidents/{incident.pk}/diff/").content.decode())
    assert '<span class="del">-"Fibre cut at the landing station"</span>' in html
    assert '<span class="add">+"Fibre cut at two landing stations"</span>' in html
    assert "<code>users_affected</code>" in html and "<code>user_hours</code>" in html
    assert "<code>description</code>" not in html  # unchanged fields are not listed
    assert "second station affected" in html
    assert client.get(f"/incidents/{incident.pk}/diff/?a=1&b=9").status_code == 404
    assert client.get(f"/incidents/{incident.pk}/diff/?a=x").status_code == 404
    assert client_for(bob).get(f"/incidents/{incident.pk}/diff/").status_code == 404


def test_amend_without_change_adds_no_version(alice):
    client = client_for(alice)
    client.post("/incidents/new/", {**form_data(), "submit": ""})
    incident = Incident.objects.get()
    response = client.post(f"/incidents/{incident.pk}/edit/", {**form_data(), "submit": ""})
    assert response.status_code == 200
    assert "Nothing was changed." in response.content.decode()
    assert incident.versions.count() == 1


def test_only_the_reporting_state_edits(alice, charlie):
    incident = file_report(alice)
    assert client_for(charlie).get(f"/incidents/{incident.pk}/edit/").status_code == 403
    assert client_for(charlie).get("/incidents/new/").status_code == 403


def htmx_validate(user, field: str, **overrides):
    return client_for(user).post("/incidents/validate/", form_data(**overrides),
                                 headers={"HX-Request": "true", "HX-Trigger-Name": field})


def test_htmx_validation_returns_the_fields_error(alice):
    response = htmx_validate(alice, "ended_at", ended_at="2026-02-10T05:00")
    assert response.status_code == 200
    assert "before the start" in response.content.decode()
    assert "<li>" in response.content.decode()
    response = htmx_validate(alice, "indicators", indicators="asn ASX")
    assert "Line 1" in response.content.decode()


def test_htmx_validation_of_a_valid_field_is_empty(alice):
    response = htmx_validate(alice, "title", ended_at="2026-02-10T05:00")
    assert response.status_code == 200
    assert response.content.decode().strip() == ""
    assert htmx_validate(alice, "no_such_field").content.decode().strip() == ""
    assert Incident.objects.count() == 0


def test_htmx_validation_needs_sign_in(db):
    response = Client().post("/incidents/validate/", form_data(),
                             headers={"HX-Trigger-Name": "title"})
    assert response.status_code == 302


def test_analyst_triage_through_the_status_form(alice, charlie):
    incident = file_report(alice)
    client = client_for(charlie)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert 'value="acknowledged"' in page
    response = client.post(f"/incidents/{incident.pk}/status/", {"to_status": "acknowledged"})
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED

    response = client.post(f"/incidents/{incident.pk}/status/",
                           {"to_status": "info-requested", "note": ""}, follow=True)
    assert "Say what information is needed." in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == Status.ACKNOWLEDGED

    client.post(f"/incidents/{incident.pk}/status/",
                {"to_status": "info-requested", "note": "Which cable segment?"})
    incident.refresh_from_db()
    assert incident.status == Status.INFO_REQUESTED
    assert incident.messages.get().kind == Message.Kind.REQUEST


def test_focal_point_cannot_triage_through_the_status_form(alice):
    incident = file_report(alice)
    page = client_for(alice).get(f"/incidents/{incident.pk}/").content.decode()
    assert 'value="acknowledged"' not in page
    response = client_for(alice).post(f"/incidents/{incident.pk}/status/",
                                      {"to_status": "acknowledged"}, follow=True)
    assert response.status_code == 200
    incident.refresh_from_db()
    assert incident.status == Status.SUBMITTED


def test_duplicate_through_the_status_form_needs_a_report_number(alice, charlie):
    first, second = file_report(alice), file_report(alice, title="Same again")
    client = client_for(charlie)
    client.post(f"/incidents/{second.pk}/status/", {"to_status": "duplicate"})
    second.refresh_from_db()
    assert second.status == Status.SUBMITTED
    client.post(f"/incidents/{second.pk}/status/",
                {"to_status": "duplicate", "duplicate_of": first.pk})
    second.refresh_from_db()
    assert (second.status, second.duplicate_of_id) == (Status.DUPLICATE, first.pk)


def test_message_thread_answer_reopens_analysis(alice, charlie):
    incident = file_report(alice)
    services.change_status(incident, charlie, Status.INFO_REQUESTED, note="Which segment?")
    response = client_for(alice).post(f"/incidents/{incident.pk}/messages/",
                                      {"body": "Segment S2 <b>only</b>."})
    assert response.status_code == 302
    assert response["Location"].endswith(f"/incidents/{incident.pk}/#thread")
    incident.refresh_from_db()
    assert incident.status == Status.UNDER_ANALYSIS
    answer = incident.messages.order_by("id").last()
    assert (answer.kind, answer.author) == (Message.Kind.ANSWER, alice)
    html = client_for(charlie).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Which segment?" in html
    assert "Segment S2 &lt;b&gt;only&lt;/b&gt;." in html


def test_empty_message_is_refused(alice):
    incident = file_report(alice)
    response = client_for(alice).post(f"/incidents/{incident.pk}/messages/", {"body": "  "},
                                      follow=True)
    assert response.status_code == 200
    assert Message.objects.count() == 0


def _csv_rows(client, **params):
    response = client.get("/incidents/", {"export": "csv", **params})
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def _xlsx_rows(client, **params):
    response = client.get("/incidents/", {"export": "xlsx", **params})
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("title", ['=HYPERLINK("http://evil.example","x")',
                                   "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)",
                                   "\uff1dcmd"])
def test_exports_neutralise_formula_titles(alice, title):
    incident = file_report(alice, title=title)
    client = client_for(alice)
    for rows in (_csv_rows(client), _xlsx_rows(client)):
        assert rows[0][3] == "Title"
        row = next(r for r in rows[1:] if r[0] == incident.reference)
        assert row[3] == "'" + title


def test_exports_leave_ordinary_titles_alone(alice):
    incident = file_report(alice, title="Ordinary title")
    client = client_for(alice)
    for rows in (_csv_rows(client), _xlsx_rows(client)):
        row = next(r for r in rows[1:] if r[0] == incident.reference)
        assert row[3] == "Ordinary title"
        assert row[1] == "CU"
        assert float(row[12]) == 60000.0  # 15 000 users × 4 hours


def test_export_follows_the_list_filters(alice):
    file_report(alice, title="Cable", category="routing-disruption")
    file_report(alice, title="Botnet")
    rows = _csv_rows(client_for(alice), category="routing-disruption")
    assert [r[3] for r in rows[1:]] == ["Cable"]
