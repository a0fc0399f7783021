"""One error path: the services raise, core/api/errors.py answers. The exact bodies a client
parses are pinned here (they were the same before the views stopped translating errors)."""

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
    assert response.json() == {"ended_at": ["The end is before the start."]}


def test_a_refused_transition_is_400_with_non_field_errors(alice):
    incident = file_report(alice)
    response = api_client(alice).post(f"{URL}{incident.pk}/transitions/",
                                      {"to": "closed"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": [
        "A report cannot go from “Submitted” to “Closed”."]}


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
