"""The observatory pages: upload as a job, the State's submissions, isolation between States."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core.models import Job
from sentinelle.incidents.models import Incident
from sentinelle.observatory import services
from sentinelle.observatory.models import BundleSubmission
from tests.conftest import PASSWORD, page
from tests.observatory_helpers import ALERTS, access_bundle, flip_byte, routing_bundle


def _login(client, user) -> None:
    assert client.login(username=user.username, password=PASSWORD)


def _upload(client, path, expect: str = ""):
    return client.post("/observatory/", {
        "file": SimpleUploadedFile(path.name, path.read_bytes(), "application/zip"),
        "expect": expect})


def test_focal_point_uploads_a_bundle_as_a_job_linking_to_the_draft(client, alice, tmp_path):
    _login(client, alice)
    text = page(client.get("/observatory/"))
    assert "Submit an evidence bundle" in text and "No submission yet." in text
    response = _upload(client, access_bundle(tmp_path / "run.zip"), "probe")
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.pk}/"
    assert job.status == Job.Status.SUCCEEDED, job.message
    incident = Incident.objects.get()
    status = page(client.get(f"/jobs/{job.pk}/"))
    assert incident.get_absolute_url() in status and incident.reference in status
    listing = page(client.get("/observatory/"))
    assert incident.reference in listing and "access probe" in listing
    submission = BundleSubmission.objects.get()
    report = page(client.get(incident.get_absolute_url()))
    assert f"/observatory/submissions/{submission.pk}/" in report and "run.zip" in report
    detail = page(client.get(f"/observatory/submissions/{submission.pk}/"))
    assert "hub.docker.com" in detail and submission.sha256 in detail
    csv = client.get(f"/observatory/submissions/{submission.pk}/observations.csv")
    body = b"".join(csv.streaming_content).decode()
    assert "https://hub.docker.com/v2/,NEWS,geoblocked,Docker" in body


def test_a_tampered_upload_fails_the_job_naming_the_file(client, alice, tmp_path):
    _login(client, alice)
    path = access_bundle(tmp_path / "run.zip")
    flip_byte(path, "transcripts/0001.json")
    _upload(client, path)
    job = Job.objects.get()
    assert job.status == Job.Status.FAILED and "transcripts/0001.json" in job.message
    assert "transcripts/0001.json" in page(client.get(f"/jobs/{job.pk}/"))
    assert Incident.objects.count() == 0 and BundleSubmission.objects.count() == 0


def test_an_oversized_upload_is_refused_by_the_form(client, alice, tmp_path, settings):
    settings.EVIDENCE_MAX_BYTES = 100
    _login(client, alice)
    text = page(_upload(client, access_bundle(tmp_path / "run.zip")))
    assert "the limit is 100 bytes" in text
    assert Job.objects.count() == 0


def test_outsiders_get_404_for_another_states_submission(client, alice, bob, tmp_path):
    submission_a = services.submit(alice, access_bundle(tmp_path / "a.zip")).incident
    submission = BundleSubmission.objects.get(incident=submission_a)
    _login(client, bob)
    for url in (f"/observatory/submissions/{submission.pk}/",
                f"/observatory/submissions/{submission.pk}/observations.csv",
                submission_a.get_absolute_url()):
        assert client.get(url).status_code == 404, url
    listing = page(client.get("/observatory/"))
    assert submission_a.reference not in listing and "hub.docker.com" not in listing
    # Bob cannot report Cuba's routing alerts: only his own State's alerts make his report.
    with pytest.raises(services.BundleRefused, match="no routing alert for CH"):
        services.submit(bob, routing_bundle(tmp_path / "b.zip"))
    swiss = [{**ALERTS[0], "state": "CH", "prefix": "192.0.2.0/24"}]
    services.submit(bob, routing_bundle(tmp_path / "c.zip", swiss))
    assert set(Incident.objects.values_list("state__alpha2", flat=True)) == {"CU", "CH"}


def test_the_same_bundle_from_two_states_makes_two_reports(alice, bob, tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    a = services.submit(alice, path)
    b = services.submit(bob, path)
    assert a.created and b.created and a.incident.pk != b.incident.pk


def test_secretariat_sees_the_overview_of_submitted_reports_only(client, alice, charlie,
                                                                 tmp_path):
    draft = services.submit(alice, access_bundle(tmp_path / "a.zip")).incident
    _login(client, charlie)
    text = page(client.get("/observatory/"))
    assert "Submit an evidence bundle" not in text
    assert draft.reference not in text   # a draft belongs to its State until submitted
    from sentinelle.incidents import services as incident_services

    incident_services.change_status(draft, alice, "submitted")
    text = page(client.get("/observatory/"))
    assert draft.reference in text and "Submissions by Member State and kind" in text
    submission = BundleSubmission.objects.get()
    assert client.get(f"/observatory/submissions/{submission.pk}/").status_code == 200
    assert client.post("/observatory/", {}).status_code == 403 and Job.objects.count() == 0


def test_anonymous_readers_are_sent_to_sign_in(client, db):
    for url in ("/observatory/", "/observatory/index/", "/observatory/index.csv"):
        response = client.get(url)
        assert response.status_code == 302 and "login" in response["Location"], url
