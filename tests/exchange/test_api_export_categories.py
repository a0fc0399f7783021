"""GET /api/v1/exports/?category=…: Schemathesis sent a category holding a NUL, which reached
PostgreSQL and answered 500. Every code is now checked first, as the report list's filter does:
an unknown one is a 400 naming it, and the schema lists the known ones (issue 19)."""

from __future__ import annotations

from tests.conftest import api_client, file_report
from tests.openapi_helpers import schema_document


def _field_errors(body: dict) -> dict:
    # The refused fields, at the top level or under "fields" (the one error shape).
    return body.get("fields", body)


def test_an_unknown_category_is_a_400_naming_it(alice):
    file_report(alice, tlp="amber")
    client = api_client(alice)
    # A NUL is refused before the view, for any parameter (core/querystring.py).
    for bad, said in (("a\x00b", "NUL"), ("nope", "nope"), ("", "")):
        answer = client.get("/api/v1/exports/", {"format": "csv",
                                                 "category": ["trust-security", bad]})
        assert answer.status_code == 400, (bad, answer.content[:300])
        assert said in _field_errors(answer.json())["category"][0]
    assert client.get("/api/v1/exports/", {"format": "csv",
                                           "category": "trust-security"}).status_code == 200
    parameters = schema_document()["paths"]["/api/v1/exports/"]["get"]["parameters"]
    category = next(p for p in parameters if p["name"] == "category")
    assert "trust-security" in category["schema"]["items"]["enum"]
