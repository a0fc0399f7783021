"""A report's sub-resources (versions, transitions, messages, evidence) answer what the schema
says: a JSON array of items for a read, the created item (201) for a new message or file, and
the transitions (201) after a status change. Clients generated from /api/schema/ had been told
a paginated object (issue 19); the answers stay arrays, so no existing client breaks."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import api_client, file_report
from tests.openapi_helpers import assert_matches_schema, schema_document

URL = "/api/v1/incidents/"
SUB = "/api/v1/incidents/{id}/%s/"


def test_sub_resource_answers_match_the_schema(alice, bob, charlie):
    document = schema_document()
    # No end yet: duration_hours and user_hours are null, which the schema must allow.
    incident = file_report(alice, tlp="amber", ended_at=None)
    owner, analyst = api_client(alice), api_client(charlie)
    base = f"{URL}{incident.pk}/"

    created = owner.post(base + "evidence/", {"file": SimpleUploadedFile("log.txt", b"x"),
                                              "description": "server log"},
                         format="multipart")
    assert created.status_code == 201, created.content
    assert_matches_schema(document, SUB % "evidence", created)
    assert created.json()["filename"] == "log.txt"

    moved = analyst.post(base + "transitions/", {"to": "acknowledged"}, format="json")
    assert moved.status_code == 201, moved.content
    assert_matches_schema(document, SUB % "transitions", moved)

    asked = owner.post(base + "messages/", {"body": "Any news?"}, format="json")
    assert asked.status_code == 201, asked.content
    assert_matches_schema(document, SUB % "messages", asked)

    amended = owner.patch(base, {"title": "DDoS, second wave", "note": "new wave"},
                          format="json")
    assert amended.status_code == 200, amended.content
    assert_matches_schema(document, "/api/v1/incidents/{id}/", amended)
    assert amended.json()["duration_hours"] is None
    # The list's rows are built apart (api/rows.py): they hold to the same schema.
    listed = owner.get(URL)
    assert_matches_schema(document, URL, listed)
    assert listed.json()["results"][0]["duration_hours"] is None

    for name, count in (("evidence", 1), ("transitions", 2), ("messages", 1),
                        ("versions", 2)):
        # A filter of the report list is no parameter here: it neither filters nor hides.
        for client in (owner, analyst):
            listed = client.get(base + f"{name}/", {"status": "closed"})
            assert listed.status_code == 200, (name, listed.content)
            assert_matches_schema(document, SUB % name, listed)
            assert len(listed.json()) == count, name
        # State B never learns Cuba's TLP:AMBER report exists.
        assert api_client(bob).get(base + f"{name}/").status_code == 404


def test_sub_resources_document_no_pagination_or_list_filters(db):
    document = schema_document()
    for name in ("evidence", "transitions", "messages", "versions"):
        for method, operation in document["paths"][SUB % name].items():
            assert [p["name"] for p in operation["parameters"]] == ["id"], (name, method)
            if method == "get":
                body = operation["responses"]["200"]["content"]["application/json"]["schema"]
                assert body["type"] == "array", name


def test_an_amendment_with_half_an_indicator_is_400_not_500(alice):
    # Found by tests/project/test_api_schemathesis.py: DRF's partial PATCH skipped the nested
    # indicator's required value.
    incident = file_report(alice)
    response = api_client(alice).patch(f"{URL}{incident.pk}/", {"indicators": [{"type": "ipv4"}]},
                                       format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {
        "indicators": ["Give each indicator a type and a value."]}
    incident.refresh_from_db()
    assert incident.version == 1


def test_evidence_download_types_are_documented(alice):
    """A file is served with its own type when that type is passive (text/plain here), which
    the schema must list: it said application/octet-stream only (Schemathesis, ST105)."""
    document = schema_document()
    incident = file_report(alice, tlp="amber")
    owner = api_client(alice)
    for name, body in (("log.txt", b"a log"), ("tool.exe", b"MZ\x90\x00")):
        created = owner.post(f"{URL}{incident.pk}/evidence/",
                             {"file": SimpleUploadedFile(name, body)}, format="multipart")
        assert created.status_code == 201, created.content
        download = owner.get(f"/api/v1/evidence/{created.json()['id']}/download/")
        assert download.status_code == 200
        served = download["Content-Type"].split(";")[0]
        documented = document["paths"]["/api/v1/evidence/{id}/download/"]["get"][
            "responses"]["200"]["content"]
        assert served in documented, (name, served, sorted(documented))
        assert b"".join(download.streaming_content) == body
