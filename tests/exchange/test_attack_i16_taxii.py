"""Attacks on TAXII paging (issue 16): hostile query parameters and keys. Each must give a
TAXII error naming what is wrong, or the user's own view; never a 500, never another State's
restricted objects, never the existence or date of an object the user may not see."""

from __future__ import annotations

import datetime as dt

import pytest

from sentinelle.core.models import SharingGroup
from sentinelle.exchange.taxii.collections import collection_id
from sentinelle.exchange.taxii.keys import Position
from sentinelle.incidents import services
from sentinelle.incidents.models import Incident
from tests.conftest import file_report
from tests.exchange.test_taxii import ALL, Taxii, objects_of

OBJECTS = f"sentinelle/collections/{ALL}/objects/"
MANIFEST = f"sentinelle/collections/{ALL}/manifest/"


@pytest.mark.parametrize("name", ["added_after", "match[version]"])
@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00",
                                   "9999-12-31T23:59:59.999999-23:59"])
def test_a_timestamp_past_the_calendar_is_a_400_naming_the_parameter(alice, name, value):
    response = Taxii(alice).get(OBJECTS, **{name: value})
    assert response.status_code == 400, response.content
    assert name in response.json()["description"]


def test_ten_thousand_match_ids_give_only_the_users_own_matches(alice, bob):
    mine = file_report(alice, tlp="green", title="mine").stix_id
    theirs = file_report(bob, tlp="red", title="theirs").stix_id
    ids = ",".join([theirs, *(f"incident--00000000-0000-4000-8000-{n:012d}"
                              for n in range(10_000)), mine])
    found = objects_of(Taxii(alice).get(OBJECTS, **{"match[id]": ids}))
    assert [o["id"] for o in found] == [mine]


@pytest.mark.parametrize("limit", ["-5", "0", "1e9", "99999999999999999999", "abc", " 2 "])
def test_a_hostile_limit_gives_a_bounded_page(alice, limit):
    for n in range(3):
        file_report(alice, tlp="green", title=f"r{n}")
    response = Taxii(alice).get(OBJECTS, limit=limit, **{"match[type]": "incident"})
    assert response.status_code == 200
    assert 1 <= len(response.json()["objects"]) <= 3


def test_a_key_from_another_root_or_user_pages_only_the_holders_view(alice, bob):
    group = SharingGroup.objects.create(name="Caribbean")
    group.states.add(alice.state)
    for n in range(3):
        report = file_report(alice, tlp="amber", title=f"caribbean {n}")
        Incident.objects.filter(pk=report.pk).update(sharing_group=group)
    file_report(bob, tlp="green", title="swiss green")
    shared = f"group-{group.pk}/collections/{collection_id(f'group-{group.pk}', 'shared')}/objects/"
    first = Taxii(alice).get(shared, limit=1, **{"match[type]": "incident"}).json()
    assert first["more"]
    # Bob (not in the group) replays alice's group key on the community root and on the group.
    assert Taxii(bob).get(shared, next=first["next"]).status_code == 404
    seen = objects_of(Taxii(bob).get(OBJECTS, next=first["next"], **{"match[type]": "incident"}))
    assert all("caribbean" not in o["name"] for o in seen)
    # A key forged at the epoch's start still pages only bob's view.
    forged = Position(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), 1, 0).key()
    seen = objects_of(Taxii(bob).get(OBJECTS, next=forged, **{"match[type]": "incident"}))
    assert {o["name"] for o in seen} == {"swiss green"}


def test_versions_of_a_report_loosened_from_red_show_only_the_loosened_one(alice, bob):
    report = file_report(alice, tlp="red", title="red secret words")
    services.amend_report(report, alice, {"title": "still red", "description": "red detail"})
    services.amend_report(report, alice, {"tlp": "green", "title": "public now",
                                          "description": "public"})
    report.refresh_from_db()
    path = f"sentinelle/collections/{ALL}/objects/{report.stix_id}/"
    body = Taxii(bob).get(path, **{"match[version]": "all"}).json()
    assert [o["name"] for o in body["objects"]] == ["public now"]
    versions = Taxii(bob).get(path + "versions/").json()["versions"]
    assert len(versions) == 1
    for old in ("first", "2026-01-01T00:00:00Z"):
        seen = Taxii(bob).get(path, **{"match[version]": old})
        assert b"red secret" not in seen.content and b"red detail" not in seen.content


def test_date_headers_never_date_an_object_the_user_cannot_see(alice, bob):
    file_report(bob, tlp="green", title="swiss")
    secret = file_report(alice, tlp="red", title="cuban red")
    response = Taxii(bob).get(MANIFEST)
    last = response["X-TAXII-Date-Added-Last"]
    assert secret.updated_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ") != last
    hidden = Taxii(bob).get(f"sentinelle/collections/{ALL}/objects/{secret.stix_id}/")
    assert hidden.status_code == 404 and "X-TAXII-Date-Added-First" not in hidden
    replay = Taxii(bob).get(f"sentinelle/collections/{ALL}/objects/{secret.stix_id}/",
                            next=Position(dt.datetime(1970, 1, 1, tzinfo=dt.UTC), 0).key())
    assert "objects" not in replay.json() and "X-TAXII-Date-Added-Last" not in replay


def test_objects_posted_to_the_taxii_server_are_recorded_as_federation(alice):
    from tests.exchange.test_federation_states import incident

    posted = Taxii(alice).post(OBJECTS, {"objects": [incident(
        "incident--0c0c0c0c-0000-4000-8000-000000000001", None, "posted")]})
    assert posted.status_code == 202 and posted.json()["success_count"] == 1, posted.content
    assert Incident.objects.get(title="posted").channel == "federation"


def _linked_indicator(report, tlp: str = "green"):
    from django.utils import timezone

    from sentinelle.exchange.models import SharedIndicator

    now = timezone.now()
    return SharedIndicator.objects.create(
        state=report.state, created_by=report.reporter, type="ipv4", value="192.0.2.99",
        tlp=tlp, incident=report, created=now, modified=now, source="test")


def test_a_shared_indicator_never_names_a_report_the_reader_cannot_see(alice, bob, charlie):
    # Cuba shares a GREEN indicator it linked to its RED report: every focal point reads the
    # indicator, but the RED report's id (that it exists at all) stays Cuba's.
    secret = file_report(alice, tlp="red", title="cuban red")
    indicator = _linked_indicator(secret)
    for user in (bob, charlie):
        page = Taxii(user).get(OBJECTS)
        seen = objects_of(page)
        assert indicator.stix_id in {o["id"] for o in seen}
        assert secret.stix_id not in page.content.decode()
        assert not [o for o in seen if o["type"] == "relationship"]
    # Cuba itself still reads the link.
    mine = objects_of(Taxii(alice).get(OBJECTS))
    assert any(o.get("target_ref") == secret.stix_id for o in mine)


def test_a_push_never_sends_a_link_to_a_report_that_does_not_leave(alice):
    from sentinelle.exchange import federation
    from sentinelle.exchange.taxii import collections as tc

    secret = file_report(alice, tlp="red", title="cuban red")
    indicator = _linked_indicator(secret)
    sent = [e.build() for e in tc.iter_entries(federation.pushable(alice), alice, tc.Filters())]
    assert indicator.stix_id in {o["id"] for o in sent}
    assert secret.stix_id not in str(sent)


@pytest.mark.parametrize("fmt", ["stix", "misp"])
def test_a_file_export_never_names_a_report_the_reader_cannot_see(alice, bob, fmt):
    import io

    from sentinelle.exchange import exporting

    secret = file_report(alice, tlp="red", title="cuban red")
    _linked_indicator(secret)
    out = io.BytesIO()
    exporting.export(fmt, bob, out)
    assert b"192.0.2.99" in out.getvalue()                   # the GREEN indicator, shared
    assert secret.stix_id.split("--")[1].encode() not in out.getvalue()
    mine = io.BytesIO()
    exporting.export("stix", alice, mine)
    assert secret.stix_id.encode() in mine.getvalue()
