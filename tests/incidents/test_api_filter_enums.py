"""Filters that accept a closed set of values are enums in /api/schema/, read from the database
when the schema is generated (incidents/api/schema.py): every value the schema offers is
accepted, a value outside it is refused with 400 naming the parameter, and a category or State
added later is in the next schema without a code change (issue 19)."""

from __future__ import annotations

from sentinelle.core.models import MemberState
from sentinelle.incidents.models import TLP, Category, RsitClass, Status
from tests.conftest import api_client, file_report
from tests.openapi_helpers import schema_document

URL = "/api/v1/incidents/"


def _enum(document: dict, path: str, name: str) -> list[str]:
    for parameter in document["paths"][path]["get"]["parameters"]:
        if parameter["name"] == name:
            return parameter["schema"]["enum"]
    raise AssertionError(f"{path} has no parameter {name}")


def test_incident_filters_are_the_database_vocabularies(db):
    document = schema_document()
    assert _enum(document, URL, "state") == sorted(
        MemberState.objects.values_list("alpha2", flat=True))
    assert _enum(document, URL, "category") == sorted(
        Category.objects.values_list("code", flat=True))
    assert _enum(document, URL, "rsit_class") == sorted(
        RsitClass.objects.values_list("code", flat=True))
    assert sorted(_enum(document, URL, "tlp")) == sorted(TLP.values)
    assert sorted(_enum(document, URL, "status")) == sorted(Status.values)
    assert "CU" in _enum(document, URL, "state")   # the seeded States are there


def test_every_value_the_schema_offers_is_accepted_and_no_other(alice, bob, charlie):
    mine = file_report(alice, tlp="amber")
    file_report(bob, tlp="amber", category="access-denial")
    document = schema_document()
    client = api_client(charlie)
    for name in ("category", "rsit_class", "tlp", "status"):
        for value in _enum(document, URL, name):
            response = client.get(URL, {name: value})
            assert response.status_code == 200, (name, value, response.content)
        refused = client.get(URL, {name: "no-such-value"})
        assert refused.status_code == 400, name
        assert name in refused.json()["fields"], name
    # All States (about 190): a sample of them, the reporter's among them; each accepted.
    states = _enum(document, URL, "state")
    for code in [*states[::40], "CU"]:
        assert client.get(URL, {"state": code}).status_code == 200, code
    assert client.get(URL, {"state": "XX"}).status_code == 400
    found = client.get(URL, {"state": "CU", "category": "trust-security"}).json()
    assert [row["id"] for row in found["results"]] == [mine.pk]
    # Bob's filter on Cuba answers 200 and shows him nothing of its TLP:AMBER report.
    assert api_client(bob).get(URL, {"state": "CU"}).json()["results"] == []


def test_a_category_added_later_is_in_the_next_schema(db):
    assert "space-weather" not in _enum(schema_document(), URL, "category")
    Category.objects.create(code="space-weather", labels={"en": "Space weather"})
    assert "space-weather" in _enum(schema_document(), URL, "category")


def test_access_index_state_and_year_say_what_the_form_accepts(alice):
    path = "/api/v1/observatory/access-index/"
    document = schema_document()
    assert _enum(document, path, "state") == sorted(
        MemberState.objects.values_list("alpha2", flat=True))
    year = next(p for p in document["paths"][path]["get"]["parameters"] if p["name"] == "year")
    assert (year["schema"]["minimum"], year["schema"]["maximum"]) == (1990, 2100)
    client = api_client(alice)
    assert client.get(path, {"state": "CH", "year": 1990}).status_code == 200
    assert client.get(path, {"state": "CH", "year": 2100}).status_code == 200
    for refused in ({"state": "XX"}, {"year": 1989}, {"year": 2101}):
        assert client.get(path, refused).status_code == 400, refused
