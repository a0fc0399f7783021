"""A NUL in a query string is a 400 naming the parameter, wherever it is sent (core/querystring.py).

PostgreSQL cannot compare text holding NUL: a filter that passed one to the database answered
500 there (the routing alerts' state and status filters, found by Schemathesis on PostgreSQL).
"""

from __future__ import annotations

import pytest
from django.test import Client

from sentinelle.core.querystring import nul_parameter
from tests.conftest import api_client, file_report


@pytest.mark.parametrize("user", [None, "alice", "charlie"])
@pytest.mark.parametrize("path", ["/api/v1/incidents/", "/api/v1/observatory/routing/alerts/",
                                  "/api/v1/statistics/", "/api/v1/incidents/1/"])
def test_the_api_answers_its_error_body_naming_the_parameter(request, db, user, path):
    # `db` named here: a test whose users come from getfixturevalue alone is sorted after the
    # transactional tests by pytest-django, which leave the database flushed.
    client = api_client(request.getfixturevalue(user) if user else None)
    answer = client.get(path, {"q": "a\x00b", "state": "CU"})
    assert answer.status_code == 400, answer.content
    body = answer.json()
    assert body["code"] == "invalid" and body["fields"] == {
        "q": ["The NUL character (U+0000) is not allowed here."]}
    assert "q" in body["detail"]


def test_a_nul_in_a_parameters_name_is_refused_and_shown_escaped(alice):
    answer = api_client(alice).get("/api/v1/incidents/?st%00ate=CU")
    assert answer.status_code == 400
    assert list(answer.json()["fields"]) == ["st\\0ate"]


def test_a_page_answers_the_translated_400_page(client: Client, alice):
    file_report(alice, title="Findable report")
    client.force_login(alice)
    answer = client.get("/incidents/?q=%00", HTTP_ACCEPT_LANGUAGE="fr")
    text = answer.content.decode()
    assert answer.status_code == 400
    assert "Findable report" not in text and "« q »" in text
    assert "L’adresse ne peut pas être lue" in text and "(U+0000) n’est pas accepté" in text
    # The page knows who is signed in (the check runs after the sign-in middleware).
    assert "alice" in text


def test_taxii_answers_its_own_error_message(alice):
    answer = api_client(alice).get("/taxii2/?match%5Btype%5D=indicator%00")
    assert answer.status_code == 400
    assert answer["Content-Type"].startswith("application/taxii+json")
    body = answer.json()
    assert body["http_status"] == "400" and "match[type]" in body["description"]


def test_queries_without_nul_pass_untouched(alice):
    file_report(alice, title="Findable report")
    answer = api_client(alice).get("/api/v1/incidents/", {"q": "Findable"})
    assert answer.status_code == 200 and answer.json()["count"] == 1


def test_the_check_reads_every_value_of_a_repeated_parameter(rf):
    assert nul_parameter(rf.get("/x?a=1&a=2%00&b=3")) == "a"
    assert nul_parameter(rf.get("/x?a=1&a=2&b=3")) is None
    assert nul_parameter(rf.get("/x?" + "a" * 300 + "%00=1")) == "a" * 100


def test_the_schema_says_nul_is_refused_on_every_text_query_parameter(alice):
    schema = api_client(alice).get("/api/schema/?format=json").json()
    seen = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") != "query":
                    continue
                text = parameter["schema"]
                text = text.get("items", {}) if text.get("type") == "array" else text
                if text.get("type") != "string":
                    continue
                seen += 1
                assert {"enum", "format", "pattern"} & set(text), (method, path, parameter)
    assert seen > 20


def test_the_page_shows_a_hostile_parameter_name_as_text(client: Client, alice):
    client.force_login(alice)
    answer = client.get("/incidents/?%3Cscript%3Ealert(1)%3C%2Fscript%3E=%00")
    text = answer.content.decode()
    assert answer.status_code == 400
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)" in text
