"""GET /api/v1/statistics/ answers what /api/schema/ says for every reader: the Secretariat's
precise rows had no `suppressed` key, which the schema requires of every row (Schemathesis with
an analyst's token, issue 19); the public rows of a focal point and an anonymous reader have
it."""

from __future__ import annotations

from tests.conftest import api_client, file_report
from tests.openapi_helpers import assert_matches_schema, schema_document


def test_statistics_rows_match_the_schema_for_every_reader(alice, bob, charlie):
    document = schema_document()
    file_report(alice, tlp="amber")
    file_report(bob, tlp="clear", category="access-denial")
    for user in (charlie, alice, None):
        answer = api_client(user).get("/api/v1/statistics/")
        assert answer.status_code == 200, answer.content
        assert_matches_schema(document, "/api/v1/statistics/", answer)
        rows = answer.json()["by_category"]
        assert rows, user
        assert all(isinstance(row["suppressed"], bool) for row in rows), user
    # The Secretariat's figures are never suppressed.
    precise = api_client(charlie).get("/api/v1/statistics/").json()
    assert not any(row["suppressed"] for row in precise["by_category"])
