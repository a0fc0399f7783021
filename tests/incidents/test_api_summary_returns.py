"""Annual summary returns over the API: one return per State and year, corrections as versions."""

from __future__ import annotations

import pytest

from sentinelle.incidents.models import SummaryLine, SummaryReturn
from tests.conftest import api_client

URL = "/api/v1/summary-returns/"
LINES = [
    {"category": "trust-security", "rsit_class": "availability", "incidents": 12,
     "user_hours": 5400.5},
    {"category": "routing-disruption", "rsit_class": "intrusions", "incidents": 2,
     "user_hours": 0},
]


def send(user, year=2025, lines=None, notes="", **extra):
    body = {"year": year, "notes": notes, "lines": LINES if lines is None else lines, **extra}
    return api_client(user).post(URL, body, format="json")


def test_create_answers_201(alice):
    response = send(alice, notes="First return")
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["state"], data["year"], data["version"]) == ("CU", 2025, 1)
    assert data["submitted_by"] == "alice"
    assert data["notes"] == "First return"
    assert sorted(data["lines"], key=lambda line: line["category"]) == sorted(
        LINES, key=lambda line: line["category"])
    summary = SummaryReturn.objects.get(pk=data["id"])
    assert summary.total_incidents == 14
    assert summary.total_user_hours == 5400.5
    assert api_client(alice).get(f"{URL}{data['id']}/").json() == data


def test_state_is_the_senders_even_if_the_body_says_otherwise(alice):
    data = send(alice, state="CH").json()
    assert data["state"] == "CU"


def test_second_return_for_the_same_year_is_version_2_and_version_1_is_intact(alice):
    first = send(alice, notes="v1").json()
    corrected = [{"category": "other", "rsit_class": "fraud", "incidents": 1,
                  "user_hours": 3}]
    second = send(alice, lines=corrected, notes="v2 corrects v1")
    assert second.status_code == 201
    assert second.json()["version"] == 2
    assert second.json()["lines"] == corrected

    again = api_client(alice).get(f"{URL}{first['id']}/").json()
    assert again == first
    assert SummaryLine.objects.filter(summary_id=first["id"]).count() == 2
    listing = api_client(alice).get(URL).json()["results"]
    assert sorted((r["year"], r["version"]) for r in listing) == [(2025, 1), (2025, 2)]


def test_another_year_starts_at_version_1(alice):
    send(alice, year=2024)
    assert send(alice, year=2025).json()["version"] == 1


def test_versions_are_per_state(alice, bob):
    send(alice)
    assert send(bob).json()["version"] == 1


@pytest.mark.parametrize("body_change,field", [
    ({"year": 1999}, "year"),
    ({"year": "last year"}, "year"),
    ({"lines": []}, None),
    ({"lines": "12 incidents"}, "lines"),
    ({"lines": [{**LINES[0], "category": "espionage"}]}, "lines"),
    ({"lines": [{**LINES[0], "rsit_class": "telepathy"}]}, None),
    ({"lines": [{**LINES[0], "incidents": -1}]}, "lines"),
    ({"lines": [{**LINES[0], "incidents": "twelve"}]}, "lines"),
    ({"lines": [{**LINES[0], "user_hours": -0.5}]}, "lines"),
    ({"lines": [LINES[0], LINES[0]]}, None),
])
def test_bad_returns_are_refused_and_nothing_is_written(alice, body_change, field):
    body = {"year": 2025, "notes": "", "lines": LINES, **body_change}
    response = api_client(alice).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    if field:
        assert field in response.json()["fields"]
    assert SummaryReturn.objects.count() == 0
    assert SummaryLine.objects.count() == 0


def test_unknown_rsit_class_names_the_code(alice):
    response = send(alice, lines=[{**LINES[0], "rsit_class": "telepathy"}])
    assert "telepathy" in str(response.json())


def test_repeated_line_is_named(alice):
    response = send(alice, lines=[LINES[0], LINES[0]])
    assert "Line 2" in str(response.json())


@pytest.mark.parametrize("user", ["charlie", "council"])
def test_only_focal_points_send_returns(db, request, user):
    response = send(request.getfixturevalue(user))
    assert response.status_code == 403
    assert SummaryReturn.objects.count() == 0


def test_anonymous_and_read_only_tokens_cannot_send(alice):
    assert api_client(None).post(URL, {"year": 2025, "lines": LINES},
                                 format="json").status_code in (401, 403)
    assert api_client(alice, read_only=True).post(URL, {"year": 2025, "lines": LINES},
                                                  format="json").status_code == 403
    assert SummaryReturn.objects.count() == 0


def test_secretariat_reads_every_states_returns(alice, bob, charlie):
    send(alice)
    send(bob)
    listing = api_client(charlie).get(URL).json()["results"]
    assert sorted(r["state"] for r in listing) == ["CH", "CU"]
    assert [r["state"] for r in api_client(bob).get(URL).json()["results"]] == ["CH"]
