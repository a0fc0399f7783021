"""The request side of the API contract (issue 19): what the schema forbids is refused with a
400 naming the parameter or field, and what it allows is taken, or refused with a status the
schema documents for a reason it cannot hold (409 for a report's present status, 403 for a
role's limit). Schemathesis checks the same from the outside (negative_data_rejection,
positive_data_acceptance in tests/project/test_api_schemathesis.py)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from drf_spectacular.generators import SchemaGenerator

from sentinelle.incidents.models import Incident, Message, SummaryReturn
from tests.conftest import api_client, file_report, report_payload

URL = "/api/v1/incidents/"


def _fields(response) -> dict:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "invalid"
    return body["fields"]


@pytest.mark.parametrize("query,name", [
    ("offset=null", "offset"), ("offset=-1", "offset"), ("offset=", "offset"),
    ("limit=0", "limit"), ("limit=ten", "limit"), ("limit=5&limit=6", "limit"),
    ("offset=1e3", "offset"), ("offset=" + "9" * 40, "offset")])
def test_paging_that_is_no_count_is_400_naming_it(alice, query, name):
    # DRF's own class read these as "from the start", so a client's broken loop re-read page 1.
    file_report(alice)
    assert name in _fields(api_client(alice).get(f"{URL}?{query}"))


def test_paging_with_counts_still_pages(alice):
    for _ in range(3):
        file_report(alice)
    body = api_client(alice).get(URL, {"limit": 1, "offset": 1}).json()
    assert body["count"] == 3 and len(body["results"]) == 1
    assert "offset=2" in body["next"]


@pytest.mark.parametrize("name", ["started_before", "started_after", "state", "category",
                                  "status", "tlp", "rsit_class"])
def test_an_empty_report_filter_is_400_naming_it(alice, name):
    assert name in _fields(api_client(alice).get(f"{URL}?{name}="))


def test_an_empty_search_is_no_search(alice):
    # `q` is free text in the schema: empty is a value, and finds everything.
    file_report(alice)
    response = api_client(alice).get(f"{URL}?q=")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_the_web_list_still_reads_empty_filters_as_any(client, alice):
    # The web form sends every field, empty ones too: only the API is strict.
    file_report(alice, title="Findable report")
    client.force_login(alice)
    page = client.get("/incidents/?started_before=&state=&q=")
    assert page.status_code == 200 and "Findable report" in page.content.decode()


@pytest.mark.parametrize("field,value", [
    ("submit", 0), ("submit", "0"), ("submit", "yes"), ("consent_to_name", 1),
    ("title", 5), ("description", ["x"]), ("users_affected", "12"), ("users_affected", True),
    ("named_analysts", {}), ("affected_services", {"a": 1})])
def test_a_value_of_the_wrong_json_type_is_400_naming_the_field(alice, field, value):
    # DRF would take 0 as false, 5 as "5", "12" as 12 and {} as no analysts.
    response = api_client(alice).post(URL, report_payload(**{field: value}), format="json")
    assert field in _fields(response)
    assert Incident.objects.count() == 0


def test_a_message_body_that_is_a_number_is_refused(alice):
    incident = file_report(alice)
    response = api_client(alice).post(f"{URL}{incident.pk}/messages/", {"body": 0},
                                      format="json")
    assert "body" in _fields(response)
    assert not Message.objects.exists()


@pytest.mark.parametrize("line", [
    {"incidents": True}, {"incidents": "3"}, {"user_hours": False}, {"user_hours": "1.5"}])
def test_summary_line_numbers_must_be_json_numbers(alice, line):
    body = {"year": 2025, "lines": [{"category": "trust-security",
                                     "rsit_class": "availability", "incidents": 1,
                                     "user_hours": 0, **line}]}
    response = api_client(alice).post("/api/v1/summary-returns/", body, format="json")
    assert "lines" in _fields(response)
    assert not SummaryReturn.objects.exists()


@pytest.mark.parametrize("dry_run", ["0", "1", "on", "yes"])
def test_an_import_s_dry_run_is_true_or_false(alice, dry_run):
    response = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("a.csv", b"x"), "dry_run": dry_run}, format="multipart")
    assert "dry_run" in _fields(response)


def test_an_import_format_outside_the_list_is_400_listing_them(alice):
    response = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("a.csv", b"x"), "format": "odt"}, format="multipart")
    assert "auto, " in _fields(response)["format"][0]


@pytest.mark.parametrize("name", ["format", "tlp", "dry_run", "on_invalid"])
def test_an_import_field_sent_empty_is_400_not_its_default(alice, name):
    # A form's empty field: DRF would have used the default and run the import.
    response = api_client(alice).post("/api/v1/imports/", {
        "file": SimpleUploadedFile("a.csv", b"x"), name: ""}, format="multipart")
    assert name in _fields(response)


def test_an_evidence_description_over_its_length_is_400(alice):
    incident = file_report(alice)
    response = api_client(alice).post(f"{URL}{incident.pk}/evidence/", {
        "file": SimpleUploadedFile("a.txt", b"a"), "description": "x" * 501},
        format="multipart")
    assert "description" in _fields(response)
    assert not incident.evidence.exists()


@pytest.mark.parametrize("query", ["year=", "date_to=", "year=2026&date_from="])
def test_empty_statistics_parameters_are_400(charlie, query):
    assert _fields(api_client(charlie).get(f"/api/v1/statistics/?{query}"))


@pytest.mark.parametrize("user", [None, "bob"])
def test_statistics_narrowed_by_a_reader_who_may_not_is_403_naming_it(bob, user):
    # A role's limit the schema cannot hold: a documented 403, not a 400 (the request is valid).
    response = api_client(bob if user else None).get("/api/v1/statistics/",
                                                     {"date_from": "2026-01-01"})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "permission_denied" and set(body["fields"]) == {"date_from"}


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_says_what_the_code_checks(db):
    schema = _schema()
    incidents = schema["paths"]["/api/v1/incidents/"]
    paging = {p["name"]: p["schema"] for p in incidents["get"]["parameters"]}
    assert paging["offset"]["minimum"] == 0 and paging["limit"]["minimum"] == 1
    assert "400" in incidents["get"]["responses"]
    # JSON where nested fields need it; multipart only where a file is sent.
    assert set(incidents["post"]["requestBody"]["content"]) == {"application/json"}
    assert set(schema["paths"]["/api/v1/summary-returns/"]["post"]["requestBody"]["content"]) \
        == {"application/json"}
    assert set(schema["paths"]["/api/v1/incidents/{id}/evidence/"]["post"]["requestBody"][
        "content"]) == {"multipart/form-data"}
    components = schema["components"]["schemas"]
    report = components["IncidentRequest"]["properties"]
    assert "availability:ddos" in report["rsit"]["enum"]
    assert "trust-security" in report["category"]["enum"]
    assert None in report["alleged_origin_state"]["enum"]
    assert components["SummaryReturnInputRequest"]["properties"]["lines"]["minItems"] == 1
    year = {p["name"]: p for p in schema["paths"]["/api/v1/statistics/"]["get"]["parameters"]}
    assert year["year"]["schema"]["minimum"] == 1900
    assert "403" in schema["paths"]["/api/v1/statistics/"]["get"]["responses"]
    for path, method in (("/api/v1/incidents/{id}/transitions/", "post"),
                         ("/api/v1/incidents/{id}/", "patch")):
        assert "409" in schema["paths"][path][method]["responses"], path


def test_a_text_field_counts_the_characters_sent_not_those_left_after_trimming(alice):
    # Schemathesis sent "\u0085" + ten characters to the ten-character narrative_language:
    # DRF trimmed it to ten and stored it, though the schema's maxLength refuses it.
    response = api_client(alice).post(URL, report_payload(narrative_language="\u0085" + "e" * 10),
                                      format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["narrative_language"]
    response = api_client(alice).post(URL, report_payload(narrative_language=" fr "),
                                      format="json")
    assert response.status_code == 201 and response.json()["narrative_language"] == "fr"


def test_the_search_filter_counts_the_characters_sent(alice):
    from sentinelle.incidents.indicators import MAX_VALUE_LENGTH

    response = api_client(alice).get(URL, {"q": " " + "a" * MAX_VALUE_LENGTH})
    assert response.status_code == 400 and list(response.json()["fields"]) == ["q"]
    assert api_client(alice).get(URL, {"q": "a" * MAX_VALUE_LENGTH}).status_code == 200


def test_a_message_of_whitespace_only_is_refused_as_the_schema_says(alice):
    report = file_report(alice)
    response = api_client(alice).post(f"{URL}{report.pk}/messages/", {"body": "\t\u3000 "},
                                      format="json")
    assert response.status_code == 400 and list(response.json()["fields"]) == ["body"]
