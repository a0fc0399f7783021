"""One error path: the services raise, core/api/errors.py answers, always with one shape:
`detail` and `code`, and `fields` naming what was refused. The exact bodies a client parses are
pinned here (issue 19: there were two shapes, `{detail, code}` and DRF's `{field: [...]}`)."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.incidents.models import Evidence, Incident
from tests.conftest import api_client, file_report, report_payload

URL = "/api/v1/incidents/"


def test_a_report_from_the_wrong_role_is_403_with_detail_and_code(charlie):
    # 400 before the one rule for roles (tests/core/test_role_answers.py); the message is the same.
    response = api_client(charlie).post(URL, report_payload(), format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Only a Member State's focal point can report incidents.",
        "code": "permission_denied"}
    assert Incident.objects.count() == 0


def test_a_report_the_service_refuses_is_400_naming_the_field(alice):
    # The date check is the service's (incidents/services.py), a Django ValidationError.
    response = api_client(alice).post(URL, report_payload(ended_at="2026-02-01T00:00:00Z"),
                                      format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "The request has errors: see “fields”.",
                               "code": "invalid",
                               "fields": {"ended_at": ["The end is before the start."]}}


def test_a_move_the_status_does_not_allow_is_409_with_detail_and_code(alice):
    # The same move is allowed from another status: the report's state, not the request, is
    # at fault (a 400 would tell a client generated from the schema that its request is wrong).
    incident = file_report(alice)
    response = api_client(alice).post(f"{URL}{incident.pk}/transitions/",
                                      {"to": "closed"}, format="json")
    assert response.status_code == 409
    assert response.json() == {"detail": "A report cannot go from “Submitted” to “Closed”.",
                               "code": "conflict"}


def test_an_unknown_status_is_400_with_the_message_as_detail(alice):
    incident = file_report(alice)
    response = api_client(alice).post(f"{URL}{incident.pk}/transitions/",
                                      {"to": "teleported"}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["fields"]) == {"to"}
    assert body["detail"] == "The request has errors: see “fields”."


def test_amending_a_closed_report_is_409(alice, charlie):
    incident = file_report(alice)
    for to in ("acknowledged", "closed"):
        assert api_client(charlie).post(f"{URL}{incident.pk}/transitions/", {"to": to},
                                        format="json").status_code == 201
    response = api_client(alice).patch(f"{URL}{incident.pk}/", {"title": "New"}, format="json")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "A closed, duplicate or withdrawn report cannot be amended.",
        "code": "conflict"}


def test_evidence_from_a_state_outside_the_report_is_403_with_detail_and_code(alice, bob):
    incident = file_report(alice, tlp="clear")   # bob may read it, not add to it
    response = api_client(bob).post(f"{URL}{incident.pk}/evidence/",
                                    {"file": SimpleUploadedFile("a.txt", b"a")},
                                    format="multipart")
    assert response.status_code == 403
    assert response.json() == {"detail": "You may not add evidence to this report.",
                               "code": "permission_denied"}
    assert Evidence.objects.count() == 0


def test_oversize_evidence_is_413_with_detail_and_code(alice, settings):
    incident = file_report(alice)
    settings.EVIDENCE_MAX_BYTES = 4
    response = api_client(alice).post(f"{URL}{incident.pk}/evidence/",
                                      {"file": SimpleUploadedFile("a.txt", b"abcde")},
                                      format="multipart")
    assert response.status_code == 413
    assert response.json() == {"detail": "The file is 5 bytes; the limit is 4 bytes.",
                               "code": "too_large"}


def test_a_body_that_is_no_json_is_400_parse_error(alice):
    response = api_client(alice).post(URL, b"{nope", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error" and body["detail"].startswith("JSON parse error")
    assert "fields" not in body


def test_a_form_body_where_only_json_is_read_is_415(alice):
    # Reports have nested fields (indicators) that a form cannot carry: JSON only, as the
    # schema now says; the upload operations alone read multipart.
    response = api_client(alice).post(URL, report_payload(), format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert Incident.objects.count() == 0


def test_a_missing_token_is_401_with_detail_and_code(db):
    response = api_client(None).post(URL, report_payload(), format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided.",
                               "code": "not_authenticated"}


def test_a_no_route_404_under_the_api_has_the_same_shape(db):
    response = api_client(None).get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_nested_field_error_keeps_its_place_under_fields(alice):
    response = api_client(alice).post(URL, report_payload(
        indicators=[{"type": "bitcoin", "value": "x"}]), format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "indicators": {"0": {"type": ["\"bitcoin\" is not a valid choice."]}}}


def test_an_unacceptable_accept_is_406_with_the_error_body(alice):
    # DRF's content negotiation; documented on every operation (test_api_throttling.py).
    response = api_client(alice).get(URL, HTTP_ACCEPT="text/csv")
    assert response.status_code == 406
    assert response.json() == {"detail": "Could not satisfy the request Accept header.",
                               "code": "not_acceptable"}
