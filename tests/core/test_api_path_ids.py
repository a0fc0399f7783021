"""A path id that is not an id answers the API's 404 (JSON, the one error body), never 500 and
never an HTML page: clients generated from /api/schema/ parse every error the same way.

The routes are walked from the URLconf, so a route added later is tested without an edit here.
"""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import api_client, file_report

# What Schemathesis sent (issue 19), a negative id, a float spelt as one, one past every
# integer column, and a NUL byte (which PostgreSQL refuses in a query).
BAD_IDS = ["null,null", "-1", "1e3", "99999999999999999999", "%00"]

# A path parameter in either form Django or DRF's routers write one.
_PARAM = re.compile(r"<(?:\w+:)?\w+>|\(\?P<\w+>[^)]*\)")


def _routes(patterns, prefix: str = "") -> list[str]:
    found = []
    for entry in patterns:
        text = str(entry.pattern).lstrip("^").rstrip("$").replace("\\.", ".")
        if isinstance(entry, URLResolver):
            found += _routes(entry.url_patterns, prefix + text)
        elif isinstance(entry, URLPattern):
            found.append(prefix + text)
    return found


def api_routes_with_ids() -> list[str]:
    routes = {route for route in _routes(get_resolver().url_patterns)
              if route.startswith("api/v1/") and _PARAM.search(route)
              # The format-suffix twins (.json) of the router's routes are the same views.
              and "format>" not in route}
    return sorted(routes)


def test_the_walk_finds_the_routes_with_ids():
    # A walk that found nothing would pass every test below.
    routes = api_routes_with_ids()
    assert "api/v1/jobs/(?P<pk>[^/.]+)/" in routes
    assert "api/v1/evidence/(?P<pk>[^/.]+)/download/" in routes
    assert any(route.startswith("api/v1/linked-incidents/") for route in routes)
    assert len(routes) >= 10


def _fill(route: str, index: int, bad: str, good: str) -> str:
    """The route's path with its index-th parameter bad and the others good."""
    values = iter(bad if i == index else good for i in range(len(_PARAM.findall(route))))
    return "/" + _PARAM.sub(lambda _match: next(values), route)


@pytest.mark.parametrize("route", api_routes_with_ids())
def test_an_id_that_is_no_id_is_a_json_404(route, alice, charlie):
    # An existing report, so a route that wants two ids gets one real and one bad.
    incident = file_report(alice, tlp="clear")
    clients = [api_client(alice), api_client(charlie)]
    for bad in BAD_IDS:
        for index in range(len(_PARAM.findall(route))):
            statuses = set()
            for client in clients:
                path = _fill(route, index, bad, str(incident.pk))
                # GET, or DELETE for the routes that only delete (unlinking a report).
                answers = [response for response in (client.get(path), client.delete(path))
                           if response.status_code != 405]
                assert answers, path
                for response in answers:
                    # A role's refusal comes before any lookup (core/roles.py): 403 is right
                    # there, for the role that may not use the route at all.
                    assert response.status_code in (403, 404), (path, response.status_code)
                    assert response["Content-Type"].startswith("application/json"), path
                    code = {403: "permission_denied", 404: "not_found"}[response.status_code]
                    assert response.json()["code"] == code, path
                    statuses.add(response.status_code)
            # The role that may use the route is told the id is nowhere.
            assert 404 in statuses, path
