"""The MISP feed (/feeds/misp/<collection>/): what stock MISP's "Add feed" (source format "MISP
Feed") reads — manifest.json, one <event-uuid>.json per event, hashes.csv — read here by PyMISP
against a live server, with conditional GETs (ETag / If-None-Match), and isolation: State B's
token never sees State A's AMBER/RED, a sharing group's collection shows the group's AMBER only
to its members, and RED / AMBER+STRICT never leave."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

import pytest
import requests
from django.test import Client
from pymisp import MISPEvent

from sentinelle.core.models import ApiToken, Role, SharingGroup
from sentinelle.exchange.models import SharedIndicator
from sentinelle.incidents import services
from sentinelle.incidents.models import Incident
from tests.conftest import file_report, make_user
from tests.incidents.test_isolation import GROUP_SHARED, VIEWERS, VISIBLE, world  # noqa: F401 (fixture)

FEED = "/feeds/misp"


@pytest.fixture(autouse=True)
def _fresh_cache():
    from django.core.cache import cache

    cache.clear()   # the manifest's ETags by fingerprint (views.manifest)
    yield
    cache.clear()


def token_of(user) -> str:
    return ApiToken.issue(user, read_only=True)[1]


class Feed:
    """What MISP's Feed model does: GET with the configured header, If-None-Match on reuse."""

    def __init__(self, base: str, user, collection: str = "all"):
        self.base = f"{base}{FEED}/{collection}"
        self.session = requests.Session()
        # MISP sends the feed's configured headers, e.g. "Authorization: Bearer <token>".
        self.session.headers.update({"Authorization": f"Bearer {token_of(user)}",
                                     "Accept": "application/json, text/plain, text/*"})

    def get(self, name: str, etag: str | None = None) -> requests.Response:
        headers = {"If-None-Match": etag} if etag else {}
        return self.session.get(f"{self.base}/{name}", headers=headers, timeout=30)


def uuid_of(incident: Incident) -> str:
    return incident.stix_id.split("--", 1)[1]


def get(user, path: str, **extra):
    client = Client()
    if user is not None:
        extra.setdefault("HTTP_AUTHORIZATION", f"Bearer {token_of(user)}")
    return client.get(f"{FEED}/{path}", **extra)


def body(response) -> bytes:
    """The body, whether served whole or streamed (the manifest and hashes.csv are)."""
    return b"".join(response.streaming_content) if response.streaming else response.content


def manifest_of(user, collection: str = "all") -> dict:
    response = get(user, f"{collection}/manifest.json")
    assert response.status_code == 200, body(response)
    return json.loads(body(response))


@pytest.fixture
def reports(alice):
    green = file_report(alice, tlp="green", title="Green outage",
                        indicators=[{"type": "ipv4", "value": "198.51.100.1"},
                                    {"type": "domain", "value": "green.example"}])
    clear = file_report(alice, tlp="clear", title="Clear outage",
                        indicators=[{"type": "url", "value": "https://clear.example/x"}])
    amber = file_report(alice, tlp="amber", title="Amber intrusion",
                        indicators=[{"type": "ipv4", "value": "203.0.113.99"}])
    red = file_report(alice, tlp="red", title="Red intrusion",
                      indicators=[{"type": "domain", "value": "red.example"}])
    return {"green": green, "clear": clear, "amber": amber, "red": red}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_pymisp_pulls_the_feed_then_only_what_changed(live_server, alice, bob, charlie):
    green = file_report(alice, tlp="green", title="Green outage",
                        indicators=[{"type": "ipv4", "value": "198.51.100.1"},
                                    {"type": "domain", "value": "green.example"}])
    other = file_report(alice, tlp="clear", title="Clear outage",
                        indicators=[{"type": "url", "value": "https://clear.example/x"}])
    feed = Feed(live_server.url, bob)
    first = feed.get("manifest.json")
    assert first.status_code == 200
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    manifest = first.json()
    assert set(manifest) == {uuid_of(green), uuid_of(other)}
    etags = {}
    for event_uuid, entry in manifest.items():
        response = feed.get(f"{event_uuid}.json")
        assert response.status_code == 200
        assert response.headers["ETag"] == f'"{hashlib.sha256(response.content).hexdigest()}"'
        etags[event_uuid] = response.headers["ETag"]
        event = MISPEvent()
        event.load(response.text)
        incident = Incident.objects.get(stix_id=f"incident--{event_uuid}")
        assert event.uuid == event_uuid and event.info == incident.title
        expected = {(i.type, i.value) for i in incident.versions.get(
            number=incident.version).indicators.all()}
        got = {(a.type, a.value) for a in event.attributes if a.type != "text"}
        assert {v for _t, v in got} == {v for _t, v in expected}
        # The manifest entry says what the event says: MISP decides what to fetch from it.
        mine = event.manifest[event_uuid]
        assert entry["info"] == mine["info"] and entry["date"] == mine["date"]
        assert entry["timestamp"] == mine["timestamp"] == int(incident.updated_at.timestamp())
        assert entry["Orgc"]["uuid"] == mine["Orgc"]["uuid"]
        assert entry["Orgc"]["name"] == mine["Orgc"]["name"] == "Sentinelle CU"
        assert [t["name"] for t in entry["Tag"]] == [t["name"] for t in mine["Tag"]]
        assert int(entry["analysis"]) == int(mine["analysis"])
        assert int(entry["threat_level_id"]) == int(mine["threat_level_id"])
    # Second pull, nothing new: 304 everywhere, no body.
    again = feed.get("manifest.json", first.headers["ETag"])
    assert again.status_code == 304 and again.content == b""
    for event_uuid, etag in etags.items():
        response = feed.get(f"{event_uuid}.json", etag)
        assert response.status_code == 304 and response.content == b""
    # Amend one report: only its event changes, and the manifest with it.
    services.amend_report(Incident.objects.get(pk=green.pk), alice,
                          {"title": "Green outage (updated)"})
    changed = feed.get("manifest.json", first.headers["ETag"])
    assert changed.status_code == 200
    assert changed.json()[uuid_of(green)]["info"] == "Green outage (updated)"
    assert feed.get(f"{uuid_of(other)}.json", etags[uuid_of(other)]).status_code == 304
    renewed = feed.get(f"{uuid_of(green)}.json", etags[uuid_of(green)])
    assert renewed.status_code == 200 and renewed.headers["ETag"] != etags[uuid_of(green)]


def test_b_never_sees_a_amber_or_red(reports, alice, bob, charlie):
    seen_by_bob = manifest_of(bob)
    assert set(seen_by_bob) == {uuid_of(reports["green"]), uuid_of(reports["clear"])}
    for name in ("amber", "red"):
        assert get(bob, f"all/{uuid_of(reports[name])}.json").status_code == 404
        assert get(bob, f"tlp-amber/{uuid_of(reports[name])}.json").status_code == 404
    assert manifest_of(bob, "tlp-amber") == {}
    hashes = body(get(bob, "all/hashes.csv")).decode()
    assert hashlib.md5(b"198.51.100.1").hexdigest() in hashes  # noqa: S324 (MISP's choice)
    assert hashlib.md5(b"203.0.113.99").hexdigest() not in hashes  # noqa: S324
    # The Secretariat reads AMBER but not RED; the owner State everything.
    assert uuid_of(reports["amber"]) in manifest_of(charlie)
    assert uuid_of(reports["red"]) not in manifest_of(charlie)
    assert get(charlie, f"all/{uuid_of(reports['red'])}.json").status_code == 404
    assert set(manifest_of(alice)) == {uuid_of(r) for r in reports.values()}
    assert set(manifest_of(alice, "tlp-green")) == {uuid_of(reports["green"])}


def test_same_visibility_as_taxii(reports, alice, bob, charlie):
    from sentinelle.exchange.taxii import collections as tc

    for user in (alice, bob, charlie):
        collection = tc.find_collection(tc.api_root(tc.ROOT, user), "all")
        taxii = {i.stix_id.split("--", 1)[1]
                 for i in tc._scoped(collection, user)[0]}
        assert set(manifest_of(user)) == taxii


def test_sharing_group_collection(alice, bob, charlie):
    group = SharingGroup.objects.create(name="Alpine")
    group.states.add(alice.state, bob.state)
    dora = make_user("dora", Role.FOCAL_POINT, "FR")
    shared = {tlp: file_report(alice, tlp=tlp, title=f"Group {tlp}")
              for tlp in ("amber", "amber+strict", "red")}
    Incident.objects.filter(pk__in=[i.pk for i in shared.values()]).update(sharing_group=group)
    collection = f"group-{group.pk}"
    assert set(manifest_of(bob, collection)) == {uuid_of(shared["amber"])}
    assert get(bob, f"{collection}/{uuid_of(shared['amber'])}.json").status_code == 200
    for tlp in ("amber+strict", "red"):
        assert get(bob, f"{collection}/{uuid_of(shared[tlp])}.json").status_code == 404
    # Not a member: the collection does not exist for her, nor its events.
    assert get(dora, f"{collection}/manifest.json").status_code == 404
    assert get(dora, f"{collection}/{uuid_of(shared['amber'])}.json").status_code == 404
    assert get(dora, f"{collection}/hashes.csv").status_code == 404
    assert uuid_of(shared["amber"]) not in manifest_of(dora)
    index = get(bob, "").json()
    assert collection in {c["id"] for c in index["collections"]}
    assert collection not in {c["id"] for c in get(dora, "").json()["collections"]}


def test_shared_indicators_come_as_daily_batches(alice, bob, charlie):
    now = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
    green = SharedIndicator.objects.create(state=alice.state, type="domain",
                                           value="shared.example", tlp="green",
                                           created=now, modified=now)
    SharedIndicator.objects.create(state=alice.state, type="domain", value="secret.example",
                                   tlp="amber", created=now, modified=now)
    manifest = manifest_of(bob)
    assert len(manifest) == 1
    (event_uuid, entry), = manifest.items()
    assert "tlp:green" in [t["name"] for t in entry["Tag"]]
    event = MISPEvent()
    event.load(get(bob, f"all/{event_uuid}.json").content.decode())
    assert [a.value for a in event.attributes] == ["shared.example"]
    assert event.attributes[0].uuid == green.stix_id.split("--", 1)[1]
    assert entry["timestamp"] == int(event.timestamp.timestamp())
    hashes = body(get(bob, "all/hashes.csv")).decode().splitlines()
    assert hashes == [f"{hashlib.md5(b'shared.example').hexdigest()},{event_uuid}"]  # noqa: S324
    assert len(manifest_of(alice)) == 2     # her State's AMBER batch too


def test_authentication_like_taxii(reports, bob):
    assert get(None, "all/manifest.json").status_code == 401
    assert get(None, "all/manifest.json").headers["WWW-Authenticate"] == "Bearer"
    assert get(None, f"all/{uuid_of(reports['clear'])}.json").status_code == 401
    bad = get(None, "all/manifest.json", HTTP_AUTHORIZATION="Bearer snl_nope_nope")
    assert bad.status_code == 401


@pytest.mark.parametrize("path", [
    "all/not-a-uuid.json", "all/..%2fmanifest.json", "all/..%2f..%2fsettings.py",
    "../all/manifest.json", "nope/manifest.json", "group-999/manifest.json",
    "group-x/manifest.json", "all/" + "a" * 5000 + ".json", "all/%00.json",
    f"all/{uuid.uuid4()}.json", f"all/{str(uuid.uuid4()).upper()}.json",
    "all/manifest.json/", "tlp-red/manifest.json", "all/manifest.json%0a", "ALL/manifest.json",
])
def test_malformed_paths_are_404(reports, bob, path):
    assert get(bob, path).status_code == 404


def test_read_only_methods_and_head(reports, bob):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_of(bob)}"}
    assert client.post(f"{FEED}/all/manifest.json", {}, **auth).status_code == 405
    assert client.delete(f"{FEED}/all/manifest.json", **auth).status_code == 405
    head = client.head(f"{FEED}/all/manifest.json", **auth)
    full = client.get(f"{FEED}/all/manifest.json", **auth)
    assert head.status_code == 200 and head["ETag"] == full["ETag"] and head.content == b""
    assert full["Cache-Control"] == "private, no-cache"
    # Several tags, a weak one (a proxy that compressed it) and "*" also match.
    assert client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=f'"x", W/{full["ETag"]}',
                      **auth).status_code == 304
    assert client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH="*",
                      **auth).status_code == 304
    assert client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH='"other"',
                      **auth).status_code == 200


def test_deterministic_bytes(reports, bob):
    manifest = body(get(bob, "all/manifest.json"))
    assert manifest == body(get(bob, "all/manifest.json"))
    assert manifest == json.dumps(json.loads(manifest), sort_keys=True, separators=(",", ":"),
                                  ensure_ascii=False).encode()
    path = f"all/{uuid_of(reports['green'])}.json"
    assert get(bob, path).content == get(bob, path).content


@pytest.mark.parametrize("header", [
    ",".join(['"x"'] * 50_000), "\x00\xff", 'W/', '"' * 10_000, "*,", " , ,", "ünïcödé",
])
def test_hostile_if_none_match_is_a_miss_or_a_match_never_an_error(reports, bob, header):
    response = get(bob, "all/manifest.json", HTTP_IF_NONE_MATCH=header)
    assert response.status_code in (200, 304)
    assert response.status_code == (304 if header.startswith("*") else 200)


def test_unchanged_manifest_is_revalidated_without_being_rebuilt(reports, bob, monkeypatch):
    from sentinelle.exchange.misp_feed import content

    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_of(bob)}"}
    etag = client.get(f"{FEED}/all/manifest.json", **auth)["ETag"]

    def rebuilt(*args):
        raise AssertionError("the manifest was rebuilt to answer an unchanged If-None-Match")

    monkeypatch.setattr(content, "manifest", rebuilt)
    response = client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=etag, **auth)
    assert response.status_code == 304 and response["ETag"] == etag


def test_a_report_leaving_the_collection_changes_the_manifest(reports, alice, bob):
    client = Client()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_of(bob)}"}
    first = client.get(f"{FEED}/all/manifest.json", **auth)
    # No updated_at moves (update() skips auto_now): only the visible set changes.
    Incident.objects.filter(pk=reports["green"].pk).update(tlp="red")
    second = client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=first["ETag"], **auth)
    assert second.status_code == 200
    assert uuid_of(reports["green"]) not in json.loads(body(second))
    Incident.objects.filter(pk=reports["green"].pk).update(tlp="green")
    third = client.get(f"{FEED}/all/manifest.json", HTTP_IF_NONE_MATCH=second["ETag"], **auth)
    assert third.status_code == 200 and third["ETag"] == first["ETag"]


# --- the isolation matrix of tests/incidents/test_isolation.py, read through the feed -------------

@pytest.mark.parametrize("viewer", VIEWERS)
def test_isolation_matrix(world, viewer):  # noqa: F811 (the fixture imported above)
    user = world["users"][viewer]
    reports = world["reports"]
    if user is None:   # TAXII answers 401 without a token; so does the feed
        assert get(None, "all/manifest.json").status_code == 401
        return
    expected = VISIBLE[viewer] - {"draft"}   # drafts never leave
    cuba = {uuid_of(r): key for key, r in reports.items()}
    assert {cuba[u] for u in manifest_of(user) if u in cuba} == expected
    for key, incident in reports.items():
        status = get(user, f"all/{uuid_of(incident)}.json").status_code
        assert status == (200 if key in expected else 404), key
    group = SharingGroup.objects.get(name="Cuba and France")
    collection = f"group-{group.pk}"
    if viewer in ("bob", "council"):   # not a member, not the Secretariat
        assert get(user, f"{collection}/manifest.json").status_code == 404
        return
    shown = {cuba[u] for u in manifest_of(user, collection)}
    assert shown == expected & GROUP_SHARED
    for key in GROUP_SHARED:
        status = get(user, f"{collection}/{uuid_of(reports[key])}.json").status_code
        assert status == (200 if key in expected else 404), key
