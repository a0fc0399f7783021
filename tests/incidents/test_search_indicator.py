"""Search by indicator (issue 12, point 6): the web list and the API's `q=` find the reports that
carry an address, a domain, a URL, an AS number or a hash, IP ranges by containment, and nothing
the searcher may not see."""

from __future__ import annotations

import pytest

from sentinelle.incidents import services
from tests.conftest import api_client, file_report, page

pytestmark = pytest.mark.django_db

HASH = "5f3c0e1b9d2a4c6e8f1a3b5d7c9e0f2a4b6c8d0e1f3a5b7c9d1e3f5a7b9c0d2e"


def ind(kind: str, value: str) -> dict:
    return {"type": kind, "value": value}


@pytest.fixture
def cuban(alice):
    """Cuba's TLP:AMBER report: restricted, so a Swiss focal point may not see it."""
    return file_report(alice, title="Defacement of the national portal", indicators=[
        ind("ipv4", "203.0.113.7"), ind("domain", "portal.gob.cu"),
        ind("url", "https://mail.gob.cu/owa/login"), ind("prefix", "45.83.0.0/16"),
        ind("asn", "AS27725"), ind("sha256", HASH), ind("ipv6", "2a05:d014::7")])


@pytest.fixture
def other(alice):
    return file_report(alice, title="Unrelated outage", indicators=[
        ind("ipv4", "203.0.114.9"), ind("domain", "news.example.net")])


def web_refs(client, q: str) -> str:
    response = client.get("/incidents/", {"q": q})
    assert response.status_code == 200
    return page(response)


def api_ids(user, q: str) -> set[int]:
    response = api_client(user).get("/api/v1/incidents/", {"q": q})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


FINDS = ["203.0.113.7", "portal.gob.cu", "PORTAL.GOB.CU", "gob.cu", "mail.gob.cu",
         "https://mail.gob.cu/owa/login", "203.0.113.0/24", "203.0.113.0/28", "203.0.112.0/23",
         "203.0.113.4/30", "45.83.12.7", "45.83.0.0/16", "45.83.0.0/20", "as27725", "AS27725",
         HASH, HASH.upper(), "2a05:d014::7", "2a05:d014:0:0:0:0:0:7", "2a05:d014::/32",
         "2a05::/16", "Defacement"]
MISSES = ["203.0.113.8", "203.0.113.128/25", "203.0.113.16/28", "gob.c", "ortal.gob.cu",
          "AS2772", "2a05:d015::/32", "45.84.0.0/16"]


@pytest.mark.parametrize("q", FINDS)
def test_web_and_api_find_the_report_by_indicator(alice, cuban, other, client, q):
    client.force_login(alice)
    html = web_refs(client, q)
    assert cuban.reference in html and "No report matches" not in html
    assert other.reference not in html
    assert api_ids(alice, q) == {cuban.pk}


@pytest.mark.parametrize("q", MISSES)
def test_no_false_matches(alice, cuban, other, client, q):
    client.force_login(alice)
    assert cuban.reference not in web_refs(client, q)
    assert cuban.pk not in api_ids(alice, q)


def test_another_state_finds_nothing_of_a_restricted_report(bob, charlie, cuban, client):
    for q in ("203.0.113.7", "portal.gob.cu", "203.0.113.0/24", HASH, "AS27725"):
        client.force_login(bob)
        assert cuban.reference not in web_refs(client, q)
        assert api_ids(bob, q) == set()
        # The Secretariat sees TLP:AMBER reports, so it finds it.
        client.force_login(charlie)
        assert cuban.reference in web_refs(client, q)
        assert api_ids(charlie, q) == {cuban.pk}


def test_red_report_is_not_found_by_unnamed_analyst(alice, charlie, client):
    red = file_report(alice, tlp="red", indicators=[ind("domain", "portal.gob.cu")])
    client.force_login(charlie)
    assert red.reference not in web_refs(client, "portal.gob.cu")
    assert api_ids(charlie, "portal.gob.cu") == set()
    assert api_ids(alice, "portal.gob.cu") == {red.pk}


def test_only_the_latest_version_is_searched(alice, cuban):
    """An indicator taken out by an amendment no longer finds the report: a past version may
    have been under a stricter TLP."""
    from sentinelle.incidents import fields

    services.amend_report(cuban, alice, {"indicators": fields.parse_indicators(
        [("domain", "portal.gob.cu")])}, note="remove the address")
    assert api_ids(alice, "portal.gob.cu") == {cuban.pk}
    assert api_ids(alice, "203.0.113.7") == set()


def test_a_broad_range_is_answered_from_the_database(alice, cuban):
    # /1 is 128 patterns of one octet: bounded, and still exact.
    assert api_ids(alice, "128.0.0.0/1") == {cuban.pk}
    assert api_ids(alice, "0.0.0.0/1") == {cuban.pk}   # 45.83.0.0/16
    assert api_ids(alice, "0.0.0.0/0") == {cuban.pk}


def test_an_ipv6_range_over_the_bound_is_refused_naming_q(alice, cuban, client, monkeypatch):
    from sentinelle.incidents import search

    file_report(alice, indicators=[ind("ipv6", "2a05:d014::8")])
    monkeypatch.setattr(search, "MAX_IPV6_SCAN", 1)
    response = api_client(alice).get("/api/v1/incidents/", {"q": "2a05::/16"})
    assert response.status_code == 400
    assert "too many addresses" in response.json()["fields"]["q"][0]
    client.force_login(alice)
    html = web_refs(client, "2a05::/16")
    assert "This IPv6 range holds too many addresses to search" in html
    assert cuban.reference not in html
    # Within the bound, the same search answers.
    monkeypatch.setattr(search, "MAX_IPV6_SCAN", 10)
    assert cuban.pk in api_ids(alice, "2a05::/16")


@pytest.mark.parametrize("q", ["203.0.113.0/33", "::/", "/24", "AS", "%", "_", "a" * 2048])
def test_odd_text_is_just_text(alice, cuban, client, q):
    client.force_login(alice)
    assert cuban.reference not in web_refs(client, q)
    assert api_ids(alice, q) == set()
