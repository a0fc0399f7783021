"""Every status an operation can answer is in /api/schema/, with the one error body; the
security the schema states is what the API does: an operation that needs a token answers 401
without one, and one that anonymous callers may use (TLP:CLEAR material, the public gateway)
says so with optional security ({}) and answers them (issue 19). The operations are walked from
the served schema, so a new one is held to it without an edit here."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from sentinelle.core.api.schema import NO_NUL_PATTERN, NOT_BLANK_PATTERN
from sentinelle.incidents import services
from tests.conftest import api_client, file_report
from tests.openapi_helpers import assert_matches_schema, schema_document

ERROR_REF = "#/components/schemas/Error"


def _operations(document: dict):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def _anonymous(operation: dict) -> bool:
    return {} in operation.get("security", [{}])


@pytest.fixture
def clear_report(alice):
    """A TLP:CLEAR report of Cuba with a file: what an anonymous caller may read."""
    incident = file_report(alice, tlp="clear")
    services.attach_evidence(incident, alice, SimpleUploadedFile("note.txt", b"public"), "")
    return incident


def _concrete(path: str, incident) -> str:
    """The path with real ids for the report routes, an id that exists nowhere elsewhere."""
    if path.startswith("/api/v1/incidents/"):
        value = str(incident.pk)
    elif path.startswith("/api/v1/evidence/"):
        value = str(incident.evidence.get().pk)
    else:
        value = "999999"
    parts = [value if part.startswith("{") else part for part in path.split("/")]
    return "/".join(parts)


def test_every_error_status_has_the_one_error_body(db):
    document = schema_document()
    assert document["components"]["schemas"]["Error"]["properties"]["code"]["type"] == "string"
    for path, method, operation in _operations(document):
        responses = operation["responses"]
        for status, response in responses.items():
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": ERROR_REF}, (method, path, status)
        if operation.get("security") != [{}]:   # any operation a token can be sent to
            assert "401" in responses, (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)
        if method in ("post", "patch", "put"):
            assert {"400", "403"} <= set(responses), (method, path)
        if method == "post":
            assert {"201", "202"} & set(responses), (method, path)   # creates say so


def test_each_operation_answers_anonymous_callers_as_its_security_says(clear_report):
    document = schema_document()
    client = api_client(None)
    walked = {True: 0, False: 0}
    for path, method, operation in _operations(document):
        url = _concrete(path, clear_report)
        response = getattr(client, method)(url, {}, format="json") if method != "get" \
            else client.get(url)
        walked[_anonymous(operation)] += 1
        if _anonymous(operation):
            assert response.status_code not in (401, 403, 500), (method, url, response.status_code)
        else:
            assert response.status_code == 401, (method, url, response.status_code)
            assert response.json()["code"] == "not_authenticated"
        assert str(response.status_code) in operation["responses"], (method, url,
                                                                     response.status_code)
        if response["Content-Type"].startswith("application/json"):
            assert_matches_schema(document, path, response)
    assert walked[True] >= 5 and walked[False] >= 10   # the walk saw both kinds


def test_anonymous_reads_show_tlp_clear_reports_only(clear_report, bob):
    amber = file_report(bob, tlp="amber")
    client = api_client(None)
    listed = client.get("/api/v1/incidents/").json()["results"]
    assert [row["id"] for row in listed] == [clear_report.pk]
    assert client.get(f"/api/v1/incidents/{amber.pk}/").status_code == 404
    evidence = clear_report.evidence.get()
    assert client.get(f"/api/v1/evidence/{evidence.pk}/download/").status_code == 200


def test_a_bad_token_is_401_on_every_operation_that_takes_one(clear_report):
    document = schema_document()
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    for path, method, operation in _operations(document):
        if operation.get("security") == [{}]:
            continue
        url = _concrete(path, clear_report)
        response = getattr(client, method)(url, {}, format="json") if method != "get" \
            else client.get(url)
        assert response.status_code == 401, (method, url, response.status_code)
        assert_matches_schema(document, path, response)


def test_text_fields_say_nul_is_refused_and_it_is(alice):
    # DRF refuses U+0000 in any text field; the schema says so with a pattern, so a client
    # (or Schemathesis) generating from it sends no NUL and gets no 400 it could not foresee.
    document = schema_document()
    body = document["components"]["schemas"]["MessageRequest"]["properties"]["body"]
    note = document["components"]["schemas"]["Transition"]["properties"]["note"]
    # A message is required text: not only whitespace either (test_api_schema_patterns.py).
    assert body["pattern"] == NOT_BLANK_PATTERN
    assert note["pattern"] == NO_NUL_PATTERN
    assert "oneOf" not in note   # a blank note matches the one schema, not two
    search = next(p for p in document["paths"]["/api/v1/incidents/"]["get"]["parameters"]
                  if p["name"] == "q")
    assert search["schema"]["pattern"] == NO_NUL_PATTERN
    assert api_client(alice).get("/api/v1/incidents/", {"q": "a\x00"}).status_code == 400
    incident = file_report(alice)
    answer = api_client(alice).post(f"/api/v1/incidents/{incident.pk}/messages/",
                                    {"body": "a\x00b"}, format="json")
    assert answer.status_code == 400 and "body" in answer.json()["fields"]
