"""The observatory over the REST API: a bundle submitted as a job, the submissions one may
see (404 for outsiders), and the access-denial index as the page computes it."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core.models import Job
from sentinelle.incidents import services as incident_services
from sentinelle.incidents.models import TLP, Evidence, Incident
from sentinelle.observatory import services
from sentinelle.observatory.access_index import IndexFilter, compute_index
from sentinelle.observatory.models import BundleSubmission
from tests.conftest import api_client
from tests.observatory_helpers import access_bundle, result, routing_bundle

pytestmark = pytest.mark.django_db

SUBMISSIONS = "/api/v1/observatory/submissions/"
INDEX = "/api/v1/observatory/access-index/"


def _upload(path) -> SimpleUploadedFile:
    return SimpleUploadedFile(path.name, path.read_bytes(), "application/zip")


def _post(user, payload, read_only: bool = False):
    return api_client(user, read_only=read_only).post(SUBMISSIONS, payload, format="multipart")


def test_a_focal_point_submits_a_bundle_as_a_job_making_a_draft(alice, tmp_path):
    response = _post(alice, {"file": _upload(access_bundle(tmp_path / "run.zip")),
                             "expect": "probe"})
    assert response.status_code == 202, response.content
    job = response.json()
    assert job["kind"] == "observatory-submit" and job["status"] == "succeeded", job["message"]
    assert job["input_name"] == "run.zip"
    incident = Incident.objects.get()
    assert incident.state.alpha2 == "CU" and incident.status == "draft"
    assert incident.tlp == TLP.AMBER and incident.category.code == "access-denial"
    assert job["result"]["report"] == incident.reference and job["result"]["created"]
    assert api_client(alice).get(f"/api/v1/jobs/{job['id']}/").json()["status"] == "succeeded"

    listing = api_client(alice, read_only=True).get(SUBMISSIONS).json()
    assert listing["count"] == 1
    item = listing["results"][0]
    submission = BundleSubmission.objects.get()
    assert item["id"] == submission.pk and item["report"] == incident.reference
    assert item["state"] == "CU" and item["kind"] == "access-probe"
    assert item["sha256"] == submission.sha256 and item["submitted_by"] == "alice"
    detail = api_client(alice, read_only=True).get(f"{SUBMISSIONS}{submission.pk}/").json()
    assert [o["service"] for o in detail["observations"]][:2] == ["hub.docker.com"] * 2
    assert detail["observations"][0]["verdict"] == "geoblocked"
    assert len(detail["observations"]) == 5 and detail["alerts"] == []
    assert detail["rows_total"] == 5


def test_a_large_submission_is_capped_in_the_detail_and_says_how_many(alice, monkeypatch,
                                                                        tmp_path):
    from sentinelle.observatory.api import serializers as api_serializers

    monkeypatch.setattr(api_serializers, "MAX_DETAIL_ROWS", 2)
    response = _post(alice, {"file": _upload(access_bundle(tmp_path / "run.zip")),
                             "expect": "probe"})
    assert response.status_code == 202, response.content
    submission = BundleSubmission.objects.get()
    detail = api_client(alice).get(f"{SUBMISSIONS}{submission.pk}/").json()
    assert len(detail["observations"]) == 2 and detail["rows_total"] == 5


def test_the_job_writes_the_draft_in_the_callers_language(alice, tmp_path, catalogues):
    response = api_client(alice).post(
        SUBMISSIONS, {"file": _upload(access_bundle(tmp_path / "run.zip"))},
        format="multipart", HTTP_ACCEPT_LANGUAGE="fr")
    job = Job.objects.get()
    assert response.status_code == 202 and job.status == Job.Status.SUCCEEDED, job.message
    assert job.params == {"expect": "", "language": "fr"}
    from django.utils import translation

    english = "Denial of access from %(state)s: %(denied)s/%(services)s services denied"
    with translation.override("fr"):
        french = translation.gettext(english)
    assert french != english
    assert Incident.objects.get().title.startswith(french.split("%(state)s")[0])


def test_a_routing_scan_lists_its_alerts(alice, tmp_path):
    job = _post(alice, {"file": _upload(routing_bundle(tmp_path / "scan.zip")),
                        "expect": "routing"}).json()
    assert job["status"] == "succeeded", job["message"]
    submission = BundleSubmission.objects.get()
    detail = api_client(alice).get(f"{SUBMISSIONS}{submission.pk}/").json()
    assert detail["observations"] == []
    assert {a["prefix"] for a in detail["alerts"]} == {"190.6.64.0/19", "190.6.64.0/24"}


def test_a_refused_bundle_fails_the_job_and_writes_nothing(alice, tmp_path):
    job = _post(alice, {"file": _upload(routing_bundle(tmp_path / "scan.zip")),
                        "expect": "probe"}).json()
    assert job["status"] == "failed" and "was expected" in job["message"]
    assert not Incident.objects.exists() and not BundleSubmission.objects.exists()


def test_read_only_tokens_analysts_and_council_may_not_submit(alice, charlie, council,
                                                              tmp_path):
    path = access_bundle(tmp_path / "run.zip")
    response = _post(alice, {"file": _upload(path)}, read_only=True)
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    for user in (charlie, council):
        response = _post(user, {"file": _upload(path)})
        assert response.status_code == 403, user
        assert "focal point" in response.json()["detail"]
    assert api_client(None).post(SUBMISSIONS, {"file": _upload(path)},
                                 format="multipart").status_code == 401
    assert not Job.objects.exists()


def test_bad_input_is_refused_naming_the_field(alice, tmp_path, settings):
    path = access_bundle(tmp_path / "run.zip")
    response = _post(alice, {"expect": "probe"})
    assert response.status_code == 400 and "file" in response.json()["fields"]
    response = _post(alice, {"file": _upload(path), "expect": "mrt"})
    assert response.status_code == 400 and list(response.json()["fields"]) == ["expect"]
    settings.EVIDENCE_MAX_BYTES = 100
    response = _post(alice, {"file": _upload(path)})
    assert response.status_code == 400
    assert "the limit is 100 bytes" in response.json()["fields"]["file"][0]
    assert not Job.objects.exists()
    for query, field in (({"year": "soon"}, "year"), ({"by": "state,planet"}, "by"),
                         ({"state": "CUB"}, "state")):
        response = api_client(alice).get(INDEX, query)
        assert response.status_code == 400 and list(response.json()["fields"]) == [field], query


def test_outsiders_get_404_and_do_not_list_another_states_submission(alice, bob, charlie,
                                                                     tmp_path):
    _post(alice, {"file": _upload(access_bundle(tmp_path / "a.zip"))})
    submission = BundleSubmission.objects.get()
    url = f"{SUBMISSIONS}{submission.pk}/"
    assert api_client(bob).get(url).status_code == 404
    assert api_client(bob).get(SUBMISSIONS).json()["count"] == 0
    # A draft belongs to its State until submitted; the Secretariat sees AMBER once it is.
    assert api_client(charlie).get(url).status_code == 404
    assert api_client(charlie).get(SUBMISSIONS).json()["count"] == 0
    incident_services.change_status(submission.incident, alice, "submitted")
    assert api_client(charlie, read_only=True).get(url).status_code == 200
    listing = api_client(charlie).get(SUBMISSIONS).json()
    assert [item["id"] for item in listing["results"]] == [submission.pk]
    assert api_client(bob).get(url).status_code == 404
    assert api_client(bob).get(SUBMISSIONS).json()["count"] == 0
    assert api_client(None).get(SUBMISSIONS).status_code == 401


def test_a_focal_point_lists_only_its_own_states_submissions(alice, bob, tmp_path):
    services.submit(alice, access_bundle(tmp_path / "a.zip"))
    swiss = services.submit(bob, access_bundle(tmp_path / "b.zip")).incident
    # Even a GREEN report of another State, visible to every focal point, is not in the list.
    Incident.objects.filter(pk=swiss.pk).update(tlp=TLP.GREEN)
    incident_services.change_status(Incident.objects.get(pk=swiss.pk), bob, "submitted")
    listing = api_client(alice).get(SUBMISSIONS).json()
    assert {item["state"] for item in listing["results"]} == {"CU"}


def _submitted(user, path, results=None, tlp: str = TLP.AMBER):
    incident = services.submit(user, access_bundle(path, results)).incident
    # GREEN reaches every focal point: the index then has another State's small cells. The
    # bundle is as if attached under that TLP (its rows follow the file's TLP, not the report's).
    Incident.objects.filter(pk=incident.pk).update(tlp=tlp)
    Evidence.objects.filter(incident=incident).update(tlp=tlp)
    incident_services.change_status(Incident.objects.get(pk=incident.pk), user, "submitted")


def test_the_index_json_is_compute_index_for_the_same_viewer(alice, bob, charlie, tmp_path):
    _submitted(alice, tmp_path / "a.zip", tlp=TLP.GREEN)
    _submitted(bob, tmp_path / "b.zip", [result("https://hub.docker.com/", "geoblocked"),
                                         result("https://news.example.org/", "accessible")])
    for user in (alice, bob, charlie):
        body = api_client(user, read_only=True).get(INDEX, {"year": 2026}).json()
        expected = compute_index(IndexFilter(year=2026), user)
        assert body["by"] == ["state", "service", "month"]
        assert body["small_count_threshold"] == expected.threshold
        assert body["suppressed"] == expected.suppressed
        for got, row in zip(body["rows"], expected.rows, strict=True):
            if row["suppressed"]:
                assert got["index"] is None and got["denied"] == f"<{expected.threshold}"
                assert {k: v for k, v in got.items() if k not in
                        ("index", "denied", "conclusive", "measurements", "reports")} == {
                    k: v for k, v in row.items() if k not in
                    ("index", "denied", "conclusive", "measurements", "reports")}
            else:
                assert got == row
    # The Secretariat sees every figure; bob sees Cuba's small cells as "<3".
    charlie_rows = api_client(charlie).get(INDEX, {"year": 2026}).json()["rows"]
    assert not any(r["suppressed"] for r in charlie_rows)
    bob_body = api_client(bob).get(INDEX, {"year": 2026}).json()
    cuban = [r for r in bob_body["rows"] if r["state"] == "CU"]
    hidden = [r for r in cuban if r["suppressed"]]
    assert hidden and all(r["conclusive"] == r["denied"] == "<3" and r["index"] is None
                          for r in hidden)
    # A service measured only inconclusively has no figure to hide.
    assert all(r["conclusive"] == 0 for r in cuban if not r["suppressed"])
    assert bob_body["suppressed"]
    swiss = [r for r in bob_body["rows"] if r["state"] == "CH"]
    assert swiss and not any(r["suppressed"] for r in swiss)
    # Coarser grouping and filters, as the CSV takes them.
    body = api_client(charlie).get(INDEX, {"year": 2026, "by": "service",
                                           "service": "hub.docker.com"}).json()
    assert body["by"] == ["service"] and body["rows"] == compute_index(
        IndexFilter(year=2026, services=("hub.docker.com",)), charlie,
        group_by=("service",)).rows
    assert body["rows"][0]["denied"] == 3 and body["rows"][0]["index"] == 1.0
    assert api_client(charlie).get(INDEX, {"year": 2025}).json()["rows"] == []
    assert api_client(None).get(INDEX).status_code == 401


def test_openapi_schema_lists_the_observatory_paths():
    from django.urls import include, path
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator(
        patterns=[path("api/v1/", include("sentinelle.observatory.api.urls"))]).get_schema(
        request=None, public=True)
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/v1/observatory/submissions/"])
    assert "get" in paths["/api/v1/observatory/submissions/{id}/"]
    operation = paths["/api/v1/observatory/access-index/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"year", "state", "service", "by"}
    post = paths["/api/v1/observatory/submissions/"]["post"]
    assert "multipart/form-data" in post["requestBody"]["content"]
    assert "202" in post["responses"]
    detail = schema["components"]["schemas"]["SubmissionDetail"]["properties"]
    assert {"observations", "alerts"} <= set(detail)


def test_the_served_schema_includes_the_observatory(client):
    document = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert "/api/v1/observatory/access-index/" in document["paths"]
    assert "/api/v1/observatory/submissions/{id}/" in document["paths"]


def test_the_refusal_is_in_the_callers_language(charlie, tmp_path, catalogues):
    from django.utils import translation

    response = api_client(charlie).post(
        SUBMISSIONS, {"file": _upload(access_bundle(tmp_path / "run.zip"))},
        format="multipart", HTTP_ACCEPT_LANGUAGE="fr")
    english = "Only a Member State's focal point can submit evidence bundles."
    with translation.override("fr"):
        french = translation.gettext(english)
    assert french != english and response.json()["detail"] == french
