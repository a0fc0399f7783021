"""Queries per request of the incident API (issue 17): a page of the list costs the same number
of queries whatever its size, and a submission a bounded number. Counted with Django's
CaptureQueriesContext, so the ceilings are exact and fail on any N+1 or re-read that comes
back; their CPU cost is measured in bench/api_load, not here."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sentinelle.core.models import Role
from sentinelle.incidents.models import Incident
from tests.conftest import api_client, file_report, make_user, report_payload

URL = "/api/v1/incidents/"
# A page: the token (with its user and State), COUNT, the rows (with whether each is linked),
# and the latest indicators with the named analysts of the page (one query).
LIST_QUERIES = 4
# A submission (issue 17's goal: at most 12): the token; the category and the RSIT type
# named, in one query; BEGIN; the report (written as submitted), its version, its indicators,
# the transition and the receipt (hashing the version as written); the audit chain's lock
# and head in one round trip (SQLite: the head alone), then its three entries at once;
# COMMIT; the mail's recipients.
POST_QUERIES = 12


def _count(client, method: str, path: str, **kwargs) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as ctx:
        response = getattr(client, method)(path, **kwargs)
    return len(ctx.captured_queries), response


@pytest.fixture
def reports(alice, bob, charlie):
    dana = make_user("dana", Role.ANALYST)
    for n in range(6):
        file_report(alice, title=f"Cuban report {n}", tlp=["clear", "amber", "red"][n % 3],
                    named_analysts=[charlie, dana] if n % 3 == 2 else [],
                    indicators=[{"type": "ipv4", "value": f"192.0.2.{n + 1}"}] * (n % 3))
        file_report(bob, title=f"Swiss report {n}", tlp=["green", "amber"][n % 2])


@pytest.mark.parametrize("who", ["alice", "charlie"])
def test_a_page_costs_the_same_queries_whatever_its_size(reports, who, request):
    client = api_client(request.getfixturevalue(who))
    client.get(URL)   # the token's last use is written once a minute, not on every request
    counts = {}
    for limit in (1, 4, 12):
        counts[limit], response = _count(client, "get", f"{URL}?limit={limit}")
        assert response.status_code == 200
        assert len(response.json()["results"]) == min(limit, response.json()["count"])
    assert counts == {1: LIST_QUERIES, 4: LIST_QUERIES, 12: LIST_QUERIES}


def test_a_page_with_a_filter_costs_no_more(reports, alice):
    client = api_client(alice)
    client.get(URL)
    queries, response = _count(client, "get", f"{URL}?tlp=red&limit=50")
    assert response.status_code == 200 and response.json()["count"] == 2
    assert queries == LIST_QUERIES


@pytest.mark.parametrize("overrides,extra", [
    ({}, 0),
    # The named analysts are looked up (validation), written (one insert) and read by the
    # mail (one query).
    ({"tlp": "red", "named_analysts": ["charlie"]}, 3),
    ({"indicators": []}, -1)],
    ids=["amber", "red-named", "no-indicators"])
def test_a_submission_is_bounded_in_queries(alice, charlie, overrides, extra,
                                            django_capture_on_commit_callbacks):
    client = api_client(alice)
    client.get(URL)
    # The mail's recipients are read after the commit: count them too. (In a test the
    # request's transaction is a savepoint, SAVEPOINT and RELEASE for BEGIN and COMMIT.)
    with CaptureQueriesContext(connection) as ctx, \
            django_capture_on_commit_callbacks(execute=True):
        response = client.post(URL, data=report_payload(**overrides), format="json")
    assert response.status_code == 201, response.content
    assert len(ctx.captured_queries) <= POST_QUERIES + extra, \
        [q["sql"][:80] for q in ctx.captured_queries]
    incident = Incident.objects.get(pk=response.json()["id"])
    assert incident.status == "submitted" and incident.receipts.count() == 1
