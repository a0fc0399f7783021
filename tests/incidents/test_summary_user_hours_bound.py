"""A summary line's user-hours are bounded (summaries.MAX_USER_HOURS, more than everyone alive
spends in a year): two lines near the float maximum summed to infinity, and the Secretariat's
statistics, which JSON cannot carry infinity in, answered 500 (Schemathesis, issue 19). Every
path (API, web form, CSV) goes through summaries.check_lines."""

from __future__ import annotations

from sentinelle.incidents.summaries import MAX_USER_HOURS
from tests.conftest import api_client

URL = "/api/v1/summary-returns/"


def _line(category: str, rsit_class: str, hours: float) -> dict:
    return {"category": category, "rsit_class": rsit_class, "incidents": 1, "user_hours": hours}


def test_user_hours_over_the_bound_are_refused_and_statistics_stay_finite(alice, charlie):
    client = api_client(alice)
    huge = [_line("trust-security", "availability", 1.7e308),
            _line("routing-disruption", "intrusions", 1.7e308)]
    refused = client.post(URL, {"year": 2025, "lines": huge}, format="json")
    assert refused.status_code == 400, refused.content
    assert "user_hours" in refused.content.decode()
    # The bound itself is a count a State may report, twice over.
    at_bound = [_line("trust-security", "availability", MAX_USER_HOURS),
                _line("routing-disruption", "intrusions", MAX_USER_HOURS)]
    accepted = client.post(URL, {"year": 2025, "lines": at_bound}, format="json")
    assert accepted.status_code == 201, accepted.content
    statistics = api_client(charlie).get("/api/v1/statistics/", {"year": 2025})
    assert statistics.status_code == 200, statistics.content[:300]
    assert statistics.json()["totals"]["user_hours"] == 2 * MAX_USER_HOURS
