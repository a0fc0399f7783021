"""TAXII collections paged in the database (issue 16): keyset pages over the reports and shared
indicators tables give every object exactly once, inserts made between pages included; filters
and headers hold across pages; a bad ``next`` is a 400; a page costs the same queries at any
depth; and what each user may page through is what they may see, nothing more."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from sentinelle.core.models import SharingGroup
from sentinelle.exchange.models import SharedIndicator
from sentinelle.exchange.taxii import paging
from sentinelle.exchange.taxii.collections import collection_id
from sentinelle.exchange.taxii.keys import Position
from sentinelle.incidents import services
from tests.conftest import file_report
from tests.exchange.test_taxii import ALL, Taxii, objects_of

OBJECTS = f"sentinelle/collections/{ALL}/objects/"
MANIFEST = f"sentinelle/collections/{ALL}/manifest/"


def shared(user, n: int, tlp: str = "green") -> SharedIndicator:
    now = timezone.now()
    return SharedIndicator.objects.create(
        state=user.state, created_by=user, type="ipv4", value=f"192.0.2.{n}", tlp=tlp,
        created=now, modified=now, source="test")


def walk(api: Taxii, path: str, limit: int, between=None, **params) -> list[dict]:
    """Every page of `path`, calling between(page number) after each page."""
    seen, key, number = [], None, 0
    while True:
        response = api.get(path, limit=limit, **params, **({"next": key} if key else {}))
        assert response.status_code == 200, response.content
        body = response.json()
        assert len(body.get("objects", [])) <= limit
        seen.extend(body.get("objects", []))
        number += 1
        if between is not None:
            between(number)
        if not body["more"]:
            assert "next" not in body
            return seen
        key = body["next"]


@pytest.fixture
def small_chunks(monkeypatch):
    # Chunks of 3 rows: pages and chunks end inside a report's objects, and at every offset.
    monkeypatch.setattr(paging, "CHUNK", 3)


def test_every_object_exactly_once_across_pages_with_inserts_between(alice, bob, charlie,
                                                                      small_chunks):
    reports = [file_report(alice, tlp="green", title=f"Report {n}") for n in range(4)]
    for n in range(7):
        shared(alice, n)
    api = Taxii(bob)
    before = {o["id"] for o in objects_of(api.get(OBJECTS, limit=1000))}
    inserted: list[str] = []

    def insert(page_number: int) -> None:
        if page_number <= 4:   # new rows land after every position already sent
            inserted.append(shared(alice, 100 + page_number).stix_id)
        if page_number == 2:
            inserted.append(file_report(alice, tlp="green", title="Filed meanwhile").stix_id)

    seen = walk(api, OBJECTS, 4, between=insert)
    ids = [o["id"] for o in seen]
    assert len(ids) == len(set(ids)), "an object came twice"
    assert before <= set(ids) and set(inserted) <= set(ids)
    assert {r.stix_id for r in reports} <= set(ids)
    # Exactly what one page taken now holds, in the same order: rows inserted between pages
    # come once, at the end.
    assert ids == [o["id"] for o in objects_of(api.get(OBJECTS, limit=1000))]


def test_an_amended_report_moves_to_the_end_as_its_new_version(alice, bob, charlie,
                                                              small_chunks):
    first = file_report(alice, tlp="green", title="First")
    for n in range(5):
        shared(alice, n)
    api = Taxii(bob)

    def amend(page_number: int) -> None:
        if page_number == 1:
            services.amend_report(first, alice, {"title": "First, amended"}, note="amend")

    seen = walk(api, OBJECTS, 3, between=amend, **{"match[type]": "incident,indicator"})
    versions = [(o["id"], o["modified"]) for o in seen]
    assert len(versions) == len(set(versions))
    names = [o["name"] for o in seen if o["id"] == first.stix_id]
    assert names[-1] == "First, amended"


def test_filters_and_headers_hold_across_pages(alice, bob, charlie, small_chunks):
    for n in range(3):
        file_report(alice, tlp="green", title=f"Report {n}")
    for n in range(5):
        shared(alice, n)
    api = Taxii(bob)
    incidents = walk(api, OBJECTS, 2, **{"match[type]": "incident"})
    assert [o["type"] for o in incidents] == ["incident"] * 3
    markings = walk(api, OBJECTS, 1, **{"match[type]": "marking-definition,identity"})
    assert {o["type"] for o in markings} == {"marking-definition", "identity"}
    picked = {incidents[1]["id"], incidents[2]["id"]}
    assert {o["id"] for o in walk(api, OBJECTS, 1, **{"match[id]": ",".join(picked)})} == picked
    # added_after = the last date of a page: the rest, and none of what came before.
    response = api.get(OBJECTS, limit=5)
    last = response["X-TAXII-Date-Added-Last"]
    first = response["X-TAXII-Date-Added-First"]
    assert first <= last
    later = walk(api, OBJECTS, 2, added_after=last)
    cut = dt.datetime.fromisoformat(last.replace("Z", "+00:00"))
    manifest = walk(api, MANIFEST, 3, added_after=last)
    assert [m["id"] for m in manifest] == [o["id"] for o in later]
    assert all(dt.datetime.fromisoformat(m["date_added"].replace("Z", "+00:00")) > cut
               for m in manifest)
    # The manifest pages the same objects as /objects/.
    assert [m["id"] for m in walk(api, MANIFEST, 4)] == [o["id"] for o in walk(api, OBJECTS, 4)]
    # One object, and its versions, through the same pages.
    one = incidents[0]
    detail = objects_of(api.get(f"{OBJECTS}{one['id']}/"))
    assert [o["id"] for o in detail] == [one["id"]]
    assert api.get(f"{OBJECTS}{one['id']}/versions/").json()["versions"] == [one["modified"]]
    assert api.get(f"{OBJECTS}indicator--00000000-0000-4000-8000-000000000000/"
                   ).status_code == 404


@pytest.mark.parametrize("key", [
    "garbage!", "A" * 5000, "", "x", "MjAyNi0xMi0wMg",                       # not a position
    Position(dt.datetime(2026, 1, 1), 1, 1).key(),                            # naive date
    "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5fDF8MHw",                            # source 9
    "MDAwMS0wMS0wMVQwMDowMDowMCswNTowMHwxfDF8MHw",                            # year 1 +05:00
    "MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHwxfDk5OTk5OTk5OTk5OTk5OTk5OTk5OTl8MHw",  # pk too big
])
def test_a_next_key_this_server_did_not_give_is_a_400(alice, bob, charlie, key):
    file_report(alice, tlp="green")
    api = Taxii(bob)
    for path in (OBJECTS, MANIFEST):
        response = api.get(path, next=key) if key else api.get(path, next="")
        if not key:   # an empty next is no next: the first page
            assert response.status_code == 200
            continue
        assert response.status_code == 400, (key, response.content)
        assert response.json()["http_status"] == "400"


def test_a_page_costs_the_same_queries_at_any_depth(alice, bob, charlie):
    file_report(alice, tlp="green")
    SharedIndicator.objects.bulk_create([SharedIndicator(
        state=alice.state, created_by=alice, type="ipv4", value=f"198.51.{n // 250}.{n % 250}",
        tlp="green", created=timezone.now(), modified=timezone.now(), stix_id=f"indicator--"
        f"00000000-0000-4000-8000-{n:012d}") for n in range(600)])
    api = Taxii(bob)
    counts, key = [], None
    while True:
        with CaptureQueriesContext(connection) as queries:
            body = api.get(OBJECTS, limit=50, **({"next": key} if key else {})).json()
        counts.append(len(queries))
        if not body["more"]:
            break
        key = body["next"]
    assert len(counts) >= 12
    # The first page also gathers the markings and identities; deeper pages never cost more.
    assert max(counts[1:]) <= counts[1] + 1, counts


def test_paging_never_shows_another_states_restricted_material(alice, bob, charlie):
    amber = file_report(alice, tlp="amber", title="Cuban amber",
                        indicators=[{"type": "ipv4", "value": "203.0.113.5"}])
    red = file_report(alice, tlp="red", title="Cuban red")
    green = file_report(alice, tlp="green", title="Cuban green")
    shared(alice, 1, tlp="amber")
    shared(alice, 2, tlp="red")
    shared(alice, 3, tlp="green")
    secret = {amber.stix_id, red.stix_id}
    for path in (OBJECTS, MANIFEST):
        as_bob = walk(Taxii(bob), path, 1)
        ids = {o["id"] for o in as_bob}
        assert green.stix_id in ids and not ids & secret
        assert "192.0.2.1" not in str(as_bob) and "203.0.113.5" not in str(as_bob)
        assert "192.0.2.2" not in str(as_bob)
        as_charlie = {o["id"] for o in walk(Taxii(charlie), path, 2)}
        assert amber.stix_id in as_charlie and red.stix_id not in as_charlie
        assert secret <= {o["id"] for o in walk(Taxii(alice), path, 2)}
    # The same position key does not carry a view: Bob following Alice's key sees Bob's view.
    key = Taxii(alice).get(OBJECTS, limit=1).json()["next"]
    followed = Taxii(bob).get(OBJECTS, next=key, limit=1000).json()
    assert not {o["id"] for o in followed.get("objects", [])} & secret
    assert Taxii(bob).get(f"{OBJECTS}{amber.stix_id}/").status_code == 404
    group = SharingGroup.objects.create(name="Caribbean")
    group.states.add(alice.state)
    path = f"group-{group.pk}/collections/{collection_id(f'group-{group.pk}', 'shared')}/objects/"
    assert Taxii(bob).get(path, limit=1).status_code == 404
