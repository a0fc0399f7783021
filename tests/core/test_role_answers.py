"""A wrong role gets the same answer everywhere: 403 (web: the rendered 403 page; API: 403 with
the one error body), checked before any object is looked up. 404 stays for objects outside a
user's scope (the isolation tests keep that).

The URLs are read from the URLconf, not listed here: a web view marked with
core.roles.role_required, or an API endpoint with a core.api.permissions.RolePermission, is
walked by these tests as soon as it is routed."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import EndpointEnumerator

from sentinelle.core.api.permissions import RolePermission
from sentinelle.core.models import Role
from sentinelle.core.roles import has_role
from tests.conftest import api_client, make_user

# One user per role; "admin" is a Secretariat administrator with access to the Django admin.
USERS = {
    "focal point": ("alice", Role.FOCAL_POINT, "CU", {}),
    "analyst": ("charlie", Role.ANALYST, None, {}),
    "admin": ("dora", Role.ADMIN, None, {"is_staff": True, "is_superuser": True}),
    "council": ("carla", Role.COUNCIL, None, {}),
}


def _fill(route: str) -> str:
    # Any value will do: the role is checked before the object is looked up.
    route = re.sub(r"<int:\w+>", "1", route)
    return "/" + re.sub(r"<(?:\w+:)?\w+>", "x", route)


def _web_views(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _web_views(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "required_roles"):
            callback = pattern.callback
            for method in callback.role_methods or ("GET", "POST"):
                yield _fill(prefix + str(pattern.pattern)), method, callback.required_roles


def _api_endpoints():
    for path, _regex, method, callback in EndpointEnumerator().get_api_endpoints():
        view = callback.cls(**getattr(callback, "initkwargs", {}))
        view.action = (getattr(callback, "actions", None) or {}).get(method.lower())
        for permission in view.get_permissions():
            if isinstance(permission, RolePermission) and permission.applies(method, view.action):
                yield re.sub(r"\{\w+\}", "1", path), method, permission.roles


WEB = sorted(set(_web_views()))
API = sorted(set(_api_endpoints()))


@pytest.fixture
def everyone(db):
    """One saved user per role."""
    return [make_user(username, role, state, **extra)
            for username, role, state, extra in USERS.values()]


def _wrong(users, roles):
    wrong = [user for user in users if not has_role(user, *roles)]
    assert wrong, f"{roles} admit every role: the view needs no role check"
    return wrong


def test_the_walk_finds_the_role_restricted_views_of_every_app():
    # If the markers were lost, the walk below would pass on nothing.
    prefixes = {url.split("/")[1] for url, _m, _r in WEB}
    assert {"action-plan", "analysis", "gateway", "observatory", "reports", "exchange",
            "incidents"} <= prefixes
    assert {"/api/v1/incidents/", "/api/v1/imports/", "/api/v1/linked-incidents/",
            "/api/v1/summary-returns/"} <= {url for url, _m, _r in API}


@pytest.mark.parametrize(("url", "method", "roles"), WEB)
def test_a_wrong_role_gets_the_403_page(everyone, settings, url, method, roles):
    settings.REQUIRE_2FA = False
    for user in _wrong(everyone, roles):
        client = Client()
        client.force_login(user)
        response = client.generic(method, url)
        assert response.status_code == 403, (user.role, method, url, response.status_code)
        assert "Not for your role" in response.content.decode(), (user.role, url)


@pytest.mark.parametrize(("url", "method", "roles"), API)
def test_a_wrong_role_gets_the_one_api_error(everyone, url, method, roles):
    for user in _wrong(everyone, roles):
        response = getattr(api_client(user), method.lower())(url, {}, format="json")
        assert response.status_code == 403, (user.role, method, url, response.status_code)
        body = response.json()
        assert set(body) == {"detail", "code"} and body["code"] == "permission_denied", body


def test_a_signed_in_user_who_is_not_an_administrator_gets_403_from_the_admin(everyone, settings):
    settings.REQUIRE_2FA = False
    client = Client()
    client.force_login(everyone[0])
    response = client.get("/admin/login/")
    assert response.status_code == 403
    assert "Not for your role" in response.content.decode()
