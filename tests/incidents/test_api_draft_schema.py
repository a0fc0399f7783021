"""A draft filed through the API (submit=false) is answered as the schema says: its
`submitted_at` is null, which the schema did not allow (Schemathesis's stateful phase filed one,
then listed it: issue 19). The list's rows (api/rows.py) hold to the same schema."""

from __future__ import annotations

from tests.conftest import api_client, report_payload
from tests.openapi_helpers import assert_matches_schema, schema_document

URL = "/api/v1/incidents/"


def test_a_draft_matches_the_schema_in_every_answer(alice):
    document = schema_document()
    owner = api_client(alice)
    created = owner.post(URL, report_payload(submit=False), format="json")
    assert created.status_code == 201, created.content
    assert created.json()["status"] == "draft"
    assert created.json()["submitted_at"] is None
    assert_matches_schema(document, URL, created)
    assert_matches_schema(document, URL + "{id}/", owner.get(f"{URL}{created.json()['id']}/"))
    listed = owner.get(URL)
    assert_matches_schema(document, URL, listed)
    assert listed.json()["results"][0]["submitted_at"] is None
