"""Attacks on the MISP feed (/feeds/misp/, issue 16): another State's token, conditional GETs
used as an existence oracle, ETags as a side channel, tokens that should no longer open it,
a session cookie instead of a token, a State removed from a sharing group, hashes.csv against
the manifest, withdrawn reports, and a fingerprint that two different sets share."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from sentinelle.core.models import ApiToken, MemberState, Role, SharingGroup
from sentinelle.incidents import services
from sentinelle.incidents.models import Incident, Status
from tests.conftest import file_report, make_user
from tests.exchange.test_misp_feed import FEED, body, get, manifest_of, token_of, uuid_of
from tests.incidents.test_isolation import VIEWERS, world  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    yield
    cache.clear()


def fetch(secret: str, path: str, **extra):
    return Client().get(f"{FEED}/{path}", HTTP_AUTHORIZATION=f"Bearer {secret}", **extra)


@pytest.fixture
def red_and_green(alice):
    return {"green": file_report(alice, tlp="green", title="Green"),
            "red": file_report(alice, tlp="red", title="Red",
                               indicators=[{"type": "domain", "value": "red.example"}])}


# --- existence oracles ---------------------------------------------------------------------

@pytest.mark.parametrize("header", ["*", 'W/"x", *', '"guess"'])
def test_if_none_match_never_turns_another_states_red_event_into_a_304(red_and_green, bob,
                                                                       header):
    red = uuid_of(red_and_green["red"])
    for collection in ("all", "tlp-amber", "tlp-green"):
        response = get(bob, f"{collection}/{red}.json", HTTP_IF_NONE_MATCH=header)
        assert response.status_code == 404, collection
        head = Client().head(f"{FEED}/{collection}/{red}.json", HTTP_IF_NONE_MATCH=header,
                             HTTP_AUTHORIZATION=f"Bearer {token_of(bob)}")
        assert head.status_code == 404 and "ETag" not in head


def test_the_red_events_real_etag_is_a_404_for_another_state(red_and_green, alice, bob):
    red = uuid_of(red_and_green["red"])
    etag = get(alice, f"all/{red}.json")["ETag"]
    assert get(bob, f"all/{red}.json", HTTP_IF_NONE_MATCH=etag).status_code == 404
    # And the answer for an existing RED event is the one for an event that never existed.
    missing = get(bob, "all/00000000-0000-4000-8000-000000000000.json")
    assert get(bob, f"all/{red}.json").content == missing.content


# --- side channels through ETags -----------------------------------------------------------

def test_b_manifest_etag_does_not_move_when_a_edits_its_red_report(red_and_green, alice, bob):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(bob, read_only=True)[1]}"}
    before = {name: client.get(f"{FEED}/all/{name}", **auth) for name in
              ("manifest.json", "hashes.csv")}
    services.amend_report(Incident.objects.get(pk=red_and_green["red"].pk), alice,
                          {"title": "Red, amended", "description": "more secrets"})
    file_report(alice, tlp="red", title="Another red")
    for name, first in before.items():
        again = client.get(f"{FEED}/all/{name}", HTTP_IF_NONE_MATCH=first["ETag"], **auth)
        assert again.status_code == 304, name


def test_cached_etags_are_per_user_not_shared(red_and_green, alice, bob):
    alices = get(alice, "all/manifest.json")["ETag"]
    # Bob sending Alice's ETag (which the cache holds) is a miss: his manifest differs.
    response = get(bob, "all/manifest.json", HTTP_IF_NONE_MATCH=alices)
    assert response.status_code == 200
    assert uuid_of(red_and_green["red"]) not in json.loads(body(response))


# --- tokens and sessions -------------------------------------------------------------------

def test_revoked_expired_and_deactivated_tokens_are_401(red_and_green, bob):
    token, secret = ApiToken.issue(bob, read_only=True)
    assert fetch(secret, "all/manifest.json").status_code == 200
    token.revoked_at = timezone.now()
    token.save()
    assert fetch(secret, "all/manifest.json").status_code == 401
    token, secret = ApiToken.issue(bob, read_only=True, expires_days=1)
    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(1))
    assert fetch(secret, "all/manifest.json").status_code == 401
    _token, secret = ApiToken.issue(bob, read_only=True)
    bob.is_active = False
    bob.save()
    assert fetch(secret, "all/manifest.json").status_code == 401
    # A cached ETag does not outlive the token: the 304 shortcut is after authentication.
    assert fetch(secret, "all/manifest.json", HTTP_IF_NONE_MATCH="*").status_code == 401


def test_read_only_and_full_tokens_see_the_same_feed(red_and_green, bob):
    read_only = fetch(ApiToken.issue(bob, read_only=True)[1], "all/manifest.json")
    full = fetch(ApiToken.issue(bob, read_only=False)[1], "all/manifest.json")
    assert read_only["ETag"] == full["ETag"]


def test_a_session_cookie_does_not_open_the_feed(red_and_green, alice, settings):
    """The feed is for MISP, by token: a browser session (even verified) is not accepted, so
    a page on another site cannot make a signed-in user's browser pull it."""
    client = Client()
    client.force_login(alice)
    response = client.get(f"{FEED}/all/manifest.json")
    assert response.status_code == 401
    assert client.get(f"{FEED}/all/{uuid_of(red_and_green['red'])}.json").status_code == 401


def test_a_password_alone_cannot_mint_a_feed_token(alice, settings):
    settings.REQUIRE_2FA = True
    from django_otp.plugins.otp_totp.models import TOTPDevice

    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    client = Client()
    client.force_login(alice)   # password only: no second factor verified
    client.post("/account/tokens/", {"name": "misp", "read_only": "on"})
    assert not ApiToken.objects.filter(user=alice).exists()


# --- sharing groups ------------------------------------------------------------------------

def test_a_state_removed_from_the_group_loses_the_collection_at_once(alice, bob):
    group = SharingGroup.objects.create(name="Alpine")
    group.states.add(alice.state, bob.state)
    shared = file_report(alice, tlp="amber", title="Group amber")
    Incident.objects.filter(pk=shared.pk).update(sharing_group=group)
    collection = f"group-{group.pk}"
    first = get(bob, f"{collection}/manifest.json")
    event = get(bob, f"{collection}/{uuid_of(shared)}.json")
    assert first.status_code == 200 and event.status_code == 200
    assert uuid_of(shared) in manifest_of(bob)
    group.states.remove(bob.state)
    for path, etag in ((f"{collection}/manifest.json", first["ETag"]),
                       (f"{collection}/{uuid_of(shared)}.json", event["ETag"]),
                       (f"{collection}/hashes.csv", "*")):
        assert get(bob, path, HTTP_IF_NONE_MATCH=etag).status_code == 404, path
    assert uuid_of(shared) not in manifest_of(bob)
    assert get(bob, f"all/{uuid_of(shared)}.json").status_code == 404


# --- hashes.csv against the manifest -------------------------------------------------------

@pytest.mark.parametrize("viewer", [v for v in VIEWERS if v != "anonymous"])
def test_hashes_name_only_events_of_the_manifest(world, viewer):  # noqa: F811
    user = world["users"][viewer]
    for collection in ("all", "tlp-green", "tlp-amber"):
        manifest = set(manifest_of(user, collection))
        lines = body(get(user, f"{collection}/hashes.csv")).decode().splitlines()
        assert {line.split(",")[1] for line in lines} <= manifest, (viewer, collection)


def test_withdrawn_and_duplicate_reports(alice, bob, charlie):
    withdrawn = file_report(alice, tlp="green", title="Withdrawn",
                            indicators=[{"type": "domain", "value": "withdrawn.example"}])
    original = file_report(alice, tlp="green", title="Original")
    duplicate = file_report(alice, tlp="green", title="Duplicate")
    services.change_status(Incident.objects.get(pk=withdrawn.pk), alice, Status.WITHDRAWN,
                           note="filed by mistake")
    Incident.objects.filter(pk=duplicate.pk).update(status=Status.DUPLICATE,
                                                    duplicate_of=original)
    seen = manifest_of(bob)
    assert uuid_of(withdrawn) not in seen
    assert get(bob, f"all/{uuid_of(withdrawn)}.json").status_code == 404
    md5 = hashlib.md5(b"withdrawn.example").hexdigest()  # noqa: S324 (MISP's format)
    assert md5 not in body(get(bob, "all/hashes.csv")).decode()
    # The Secretariat keeps it, as on every other read path.
    assert uuid_of(withdrawn) in manifest_of(charlie)
    assert uuid_of(duplicate) in seen and uuid_of(original) in seen


# --- the fingerprint behind the cheap 304 --------------------------------------------------

def test_a_different_set_with_the_same_count_sum_and_max_is_not_a_304(alice, bob):
    """Bob moves from one sharing group to another (no report is saved): the reports he sees
    change, but their number, the sum and the largest of their ids and the latest update stay
    the same. The manifest changed, so a 304 would keep his MISP on a stale list."""
    old_group = SharingGroup.objects.create(name="Old")
    new_group = SharingGroup.objects.create(name="New")
    for group in (old_group, new_group):
        group.states.add(alice.state)
    old_group.states.add(bob.state)
    # pks p, p+1, p+2, p+3, then the newest, green: {p, p+3} and {p+1, p+2} have one sum.
    first = file_report(alice, tlp="amber", title="Old 1")
    second = file_report(alice, tlp="amber", title="New 1")
    third = file_report(alice, tlp="amber", title="New 2")
    fourth = file_report(alice, tlp="amber", title="Old 2")
    newest = file_report(alice, tlp="green", title="Newest")
    assert [fourth.pk - first.pk, third.pk - second.pk] == [3, 1]
    Incident.objects.filter(pk__in=[first.pk, fourth.pk]).update(sharing_group=old_group)
    Incident.objects.filter(pk__in=[second.pk, third.pk]).update(sharing_group=new_group)
    assert Incident.objects.order_by("-updated_at").first().pk == newest.pk
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(bob, read_only=True)[1]}"}
    before = client.get(f"{FEED}/all/manifest.json", **auth)
    assert {uuid_of(first), uuid_of(fourth)} <= set(json.loads(body(before)))
    old_group.states.remove(bob.state)
    new_group.states.add(bob.state)
    after = client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=before["ETag"], **auth)
    assert after.status_code == 200
    assert set(json.loads(body(after))) == {uuid_of(second), uuid_of(third), uuid_of(newest)}


def test_a_user_moved_to_another_state_gets_that_states_view(red_and_green, bob):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {ApiToken.issue(bob, read_only=True)[1]}"}
    before = client.get(f"{FEED}/all/manifest.json", **auth)
    bob.state = MemberState.objects.get(alpha2="CU")
    bob.save()
    after = client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=before["ETag"], **auth)
    assert after.status_code == 200
    assert uuid_of(red_and_green["red"]) in json.loads(body(after))


def test_a_council_reader_sees_clear_only(alice, council):
    clear = file_report(alice, tlp="clear", title="Clear")
    file_report(alice, tlp="green", title="Green")
    assert set(manifest_of(council)) == {uuid_of(clear)}
    assert get(council, f"group-{SharingGroup.objects.create(name='G').pk}/manifest.json"
               ).status_code == 404
    dora = make_user("dora", Role.FOCAL_POINT, "FR")
    assert len(manifest_of(dora)) == 2   # CLEAR and GREEN: a focal point


# --- a day of a million shared indicators --------------------------------------------------

def test_a_busy_days_indicators_are_split_into_bounded_events(alice, bob, monkeypatch):
    """A State that imports a feed shares hundreds of thousands of indicators in one day: one
    event of them all would be built in memory (a dict per attribute) for every subscriber
    and be more than MISP handles. Events hold at most BATCH_SIZE indicators, split by id, so
    an indicator never moves from one event to another."""
    from sentinelle.exchange.misp_feed import content
    from sentinelle.exchange.models import SharedIndicator

    monkeypatch.setattr(content, "BATCH_SIZE", 3)
    now = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
    items = [SharedIndicator.objects.create(state=alice.state, type="domain",
                                            value=f"d{n}.example", tlp="green", created=now,
                                            modified=now) for n in range(8)]
    manifest = manifest_of(bob)
    assert len(manifest) >= 3
    seen: dict[str, str] = {}
    for event_uuid in manifest:
        event = json.loads(get(bob, f"all/{event_uuid}.json").content)["Event"]
        values = [a["value"] for a in event["Attribute"]]
        assert 1 <= len(values) <= 3
        for value in values:
            assert value not in seen
            seen[value] = event_uuid
    assert set(seen) == {i.value for i in items}
    hashes = body(get(bob, "all/hashes.csv")).decode().splitlines()
    by_md5 = {hashlib.md5(v.encode()).hexdigest(): u for v, u in seen.items()}  # noqa: S324
    assert dict(line.split(",") for line in hashes) == by_md5
    # Revoking one changes its own event only; the others keep their bytes.
    etags = {u: get(bob, f"all/{u}.json")["ETag"] for u in manifest}
    SharedIndicator.objects.filter(pk=items[0].pk).update(revoked=True)
    changed = {u for u, etag in etags.items()
               if get(bob, f"all/{u}.json", HTTP_IF_NONE_MATCH=etag).status_code != 304}
    assert changed == {seen[items[0].value]}
