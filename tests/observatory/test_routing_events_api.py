"""POST /api/v1/observatory/routing/events/ (the live monitor's `platform:` destination) and
GET /api/v1/observatory/routing/watch/ and alerts/: the contract of INTERFACE.md part D."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.db import IntegrityError

from sentinelle.core.models import AuditEntry
from sentinelle.evidence.bundle import BundleWriter
from sentinelle.incidents.models import Evidence, Incident, Status
from sentinelle.observatory.models import (
    BundleSubmission,
    LiveRoutingAlert,
    LiveRoutingEvent,
    RoutingWatch,
)
from sentinelle.observatory.routing.live.events import AlertEvent
from tests.conftest import api_client

URL = "/api/v1/observatory/routing/events/"
WATCH_URL = "/api/v1/observatory/routing/watch/"
ALERTS_URL = "/api/v1/observatory/routing/alerts/"
T0 = 1_796_000_000  # 2026-11-28 (BGP time, unix seconds)
KEY = Ed25519PrivateKey.generate()  # the State's monitor's signing key (--sign-key)


def event(kind: str = "raised", state: str = "CU", **overrides) -> AlertEvent:
    base = dict(event=kind, alert_id=f"0123456789abcdef0123@{T0}", type="E|0", state=state,
                prefix="152.206.0.0/16", watched_prefix="152.206.0.0/16", offending_asn=64500,
                legitimate_origins=[27725], first_seen=T0, last_seen=T0 + 60, peers=4,
                collectors=["rrc00", "bmp:127.0.0.1:11019"],
                example_paths=["3356 174 64500"],
                tags={"roa": "invalid", "relationship": "none", "confidence": 0.82,
                      "confidence_level": "high"},
                source="bmp:127.0.0.1:11019", observed_at=T0 + 1.5, emitted_at=T0 + 1.6)
    if kind == "resolved":
        base.update(resolved_at=T0 + 3600, duration=3600.0, last_seen=T0 + 3500)
    base.update(overrides)
    return AlertEvent(**base)


def bundle(path: Path, ev: AlertEvent, key: Ed25519PrivateKey | None = None) -> Path:
    """What live/destinations/bundle.py writes: one alert in the scan format."""
    data = ev.to_dict()
    alert = {"id": ev.alert_id, "key": ev.alert_id.split("@")[0], "type": ev.type,
             "state": ev.state, "prefix": ev.prefix, "watched_prefix": ev.watched_prefix,
             "offending_asn": ev.offending_asn, "legitimate_origins": ev.legitimate_origins,
             "first_seen": int(ev.first_seen), "last_seen": int(ev.last_seen),
             "first_seen_iso": data["first_seen_iso"], "last_seen_iso": data["last_seen_iso"],
             "peers": ev.peers, "collectors": ev.collectors,
             "collectors_count": len(ev.collectors), "example_paths": ev.example_paths,
             "tags": ev.tags, "details": ev.details, "resolved_at": ev.resolved_at,
             "duration": ev.duration}
    with BundleWriter(path, kind="routing-scan",
                      signing_key=key or KEY) as writer:
        writer.add_bytes("alerts.jsonl", json.dumps(alert).encode() + b"\n")
        writer.add_bytes(f"records/{ev.alert_id.replace('@', '_')}.mrt", b"\x00" * 19)
        writer.set("summary", {"alerts": [alert], "sources": [{"name": ev.source}],
                               "monitor": {"event": ev.event,
                                           "idempotency_key": ev.idempotency_key}})
        writer.set("started_at", data["first_seen_iso"])
        writer.set("finished_at", data["last_seen_iso"])
    return path


def post(client, ev: AlertEvent | dict | str, bundle_path: Path | None = None, *,
         key: str | None = None):
    body = ev if isinstance(ev, str) else json.dumps(
        ev.to_dict() if isinstance(ev, AlertEvent) else ev)
    data = {"event": body}
    idem = key if key is not None else (ev.idempotency_key if isinstance(ev, AlertEvent)
                                        else "")
    headers = {"HTTP_IDEMPOTENCY_KEY": idem} if idem else {}
    if bundle_path is None:
        return client.post(URL, data, format="multipart", **headers)
    with open(bundle_path, "rb") as handle:
        return client.post(URL, {**data, "bundle": handle}, format="multipart", **headers)


def counts() -> tuple[int, int, int, int, int]:
    return (LiveRoutingEvent.objects.count(), LiveRoutingAlert.objects.count(),
            Incident.objects.count(), Evidence.objects.count(), BundleSubmission.objects.count())


# --- raised / resolved ------------------------------------------------------------------------

def test_raised_with_bundle_makes_a_draft_report_linked_to_the_alert(alice, tmp_path):
    ev = event()
    response = post(api_client(alice), ev, bundle(tmp_path / "r.zip", ev))
    assert response.status_code == 201, response.content
    body = response.json()
    alert = LiveRoutingAlert.objects.get()
    assert (alert.state.alpha2, alert.alert_id, alert.status) == ("CU", ev.alert_id, "raised")
    assert (alert.type, alert.prefix, alert.offending_asn, alert.peers) == (
        "E|0", "152.206.0.0/16", 64500, 4)
    assert alert.tags["roa"] == "invalid" and alert.tags["confidence_level"] == "high"
    assert alert.raised_at.timestamp() == T0
    incident = alert.incident
    assert incident is not None and incident.status == Status.DRAFT
    assert incident.state.alpha2 == "CU" and incident.category.code == "routing-disruption"
    assert BundleSubmission.objects.get().incident == incident
    assert body["report"] == incident.reference and body["alert_status"] == "raised"
    assert body["idempotency_key"] == ev.idempotency_key


def test_repeat_returns_200_and_the_first_answer_and_writes_nothing(alice, tmp_path):
    client = api_client(alice)
    ev = event()
    first = post(client, ev, bundle(tmp_path / "r.zip", ev))
    assert first.status_code == 201
    before = counts()
    audit = AuditEntry.objects.count()
    # The monitor died after delivery: the same event again, with a freshly built bundle.
    again = post(client, ev, bundle(tmp_path / "r2.zip", ev))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert counts() == before
    assert AuditEntry.objects.count() == audit


def test_a_repeat_racing_the_first_gets_the_first_answer(alice, tmp_path):
    """Two deliveries at once: the second finds no row when it looks, then loses the insert to
    the first; it answers with what the first stored, and nothing is written twice."""
    client = api_client(alice)
    ev = event()
    first = post(client, ev, bundle(tmp_path / "r.zip", ev))
    before = counts()
    from sentinelle.observatory import live

    with mock.patch.object(live, "_stored", side_effect=_none_then_real(live._stored)):
        again = post(client, ev, bundle(tmp_path / "r2.zip", ev))
    assert again.status_code == 200, again.content
    assert again.json() == first.json()
    assert counts() == before


def _none_then_real(real):
    calls = {"n": 0}

    def side_effect(*args, **kwargs):
        calls["n"] += 1
        return None if calls["n"] == 1 else real(*args, **kwargs)
    return side_effect


def test_insert_conflict_without_a_stored_row_is_not_swallowed(alice):
    from sentinelle.observatory import live

    with mock.patch.object(live.LiveRoutingEvent.objects, "create",
                           side_effect=IntegrityError("boom")), \
            pytest.raises(IntegrityError):
        post(api_client(alice), event())


def test_resolved_updates_the_alert_and_adds_the_bundle_to_the_draft(alice, tmp_path):
    client = api_client(alice)
    raised = event()
    post(client, raised, bundle(tmp_path / "r.zip", raised))
    incident = LiveRoutingAlert.objects.get().incident
    resolved = event("resolved")
    response = post(client, resolved, bundle(tmp_path / "s.zip", resolved))
    assert response.status_code == 201, response.content
    alert = LiveRoutingAlert.objects.get()
    assert alert.status == "resolved" and alert.duration == 3600
    assert alert.resolved_at.timestamp() == T0 + 3600
    assert Incident.objects.count() == 1
    files = Evidence.objects.filter(incident=incident)
    assert files.count() == 2
    incident.refresh_from_db()
    assert incident.ended_at.timestamp() == T0 + 3600
    assert response.json()["report"] == incident.reference


def test_resolved_without_a_bundle_still_ends_the_draft(alice, tmp_path):
    client = api_client(alice)
    raised = event()
    post(client, raised, bundle(tmp_path / "r.zip", raised))
    assert post(client, event("resolved")).status_code == 201
    incident = LiveRoutingAlert.objects.get().incident
    assert incident.ended_at.timestamp() == T0 + 3600
    assert Evidence.objects.filter(incident=incident).count() == 1


def test_a_resolved_bundle_signed_by_another_key_is_refused(alice, tmp_path):
    client = api_client(alice)
    raised = event()
    post(client, raised, bundle(tmp_path / "r.zip", raised))
    before = counts()
    resolved = event("resolved")
    response = post(client, resolved, bundle(tmp_path / "s.zip", resolved,
                                             key=Ed25519PrivateKey.generate()))
    assert response.status_code == 400 and "bundle" in response.json()["fields"]
    assert counts() == before
    assert LiveRoutingAlert.objects.get().status == "raised"


def test_resolved_leaves_a_submitted_report_alone(alice, tmp_path):
    from sentinelle.incidents import services as incident_services

    client = api_client(alice)
    raised = event()
    post(client, raised, bundle(tmp_path / "r.zip", raised))
    incident = LiveRoutingAlert.objects.get().incident
    incident_services.change_status(incident, alice, Status.SUBMITTED)
    resolved = event("resolved")
    assert post(client, resolved, bundle(tmp_path / "s.zip", resolved)).status_code == 201
    assert Evidence.objects.filter(incident=incident).count() == 1
    assert LiveRoutingAlert.objects.get().status == "resolved"


def test_raised_without_bundle_records_the_alert_only(alice):
    response = post(api_client(alice), event())
    assert response.status_code == 201
    assert LiveRoutingAlert.objects.get().incident is None
    assert Incident.objects.count() == 0


def test_a_bundle_about_another_alert_is_refused_and_nothing_written(alice, tmp_path):
    other = event(alert_id=f"ffffffffffffffffffff@{T0}")
    response = post(api_client(alice), event(), bundle(tmp_path / "o.zip", other))
    assert response.status_code == 400
    assert "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_a_tampered_bundle_is_refused_and_nothing_written(alice, tmp_path):
    from tests.observatory_helpers import flip_byte

    ev = event()
    path = bundle(tmp_path / "r.zip", ev)
    flip_byte(path, "alerts.jsonl")
    response = post(api_client(alice), ev, path)
    assert response.status_code == 400
    assert "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_feed_and_mute_events_are_kept_and_mutes_audited(alice):
    client = api_client(alice)
    lost = AlertEvent(event="feed-lost", alert_id=f"feed:bmp:127.0.0.1:11019@{T0}", type="feed",
                      source="bmp:127.0.0.1:11019", first_seen=T0)
    assert post(client, lost).status_code == 201
    mute = AlertEvent(event="muted", alert_id="mute:m1", type="mute", state="CU",
                      prefix="152.206.0.0/16",
                      details={"id": "m1", "prefix": "152.206.0.0/16", "until": T0 + 86400,
                               "reason": "planned maintenance", "by": "noc"})
    assert post(client, mute).status_code == 201
    assert LiveRoutingEvent.objects.filter(event="feed-lost", alert=None).count() == 1
    assert LiveRoutingAlert.objects.count() == 0
    entry = AuditEntry.objects.filter(action="observatory.routing.muted").get()
    assert entry.after["reason"] == "planned maintenance"


# --- who may post ------------------------------------------------------------------------------

def test_an_event_for_another_state_is_403_other_state(bob):
    response = post(api_client(bob), event(state="CU"))
    assert response.status_code == 403
    assert response.json()["code"] == "other-state"
    assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.parametrize("who", ["charlie", "council"])
def test_only_focal_points_post(who, request):
    user = request.getfixturevalue(who)
    response = post(api_client(user), event())
    assert response.status_code == 403
    assert counts() == (0, 0, 0, 0, 0)


def test_anonymous_and_read_only_tokens_cannot_post(alice):
    assert post(api_client(None), event()).status_code == 401
    assert post(api_client(alice, read_only=True), event()).status_code == 403
    assert counts() == (0, 0, 0, 0, 0)


def test_the_token_scheme_named_in_the_contract_is_accepted(alice):
    from sentinelle.core.models import ApiToken

    _token, secret = ApiToken.issue(alice)
    client = api_client(None)
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert post(client, event()).status_code == 201


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "field"), [
    ({"event": "exploded"}, "event"),
    ({"alert_id": ""}, "alert_id"),
    ({"alert_id": "<script>alert(1)</script>"}, "alert_id"),
    ({"type": 5}, "type"),
    ({"prefix": "not-a-prefix"}, "prefix"),
    ({"offending_asn": "AS64500"}, "offending_asn"),
    ({"offending_asn": 2**32}, "offending_asn"),
    ({"peers": -1}, "peers"),
    ({"first_seen": "yesterday"}, "first_seen"),
    ({"first_seen": None}, "first_seen"),
    ({"first_seen": 10**400}, "first_seen"),          # found by fuzz/targets/routing_event.py
    ({"alert_id": "a\ud800"}, "alert_id"),            # a lone surrogate: not storable
    ({"collectors": "rrc00"}, "collectors"),
    ({"tags": ["roa"]}, "tags"),
    ({"tags": {"roa": "<b>invalid</b>"}}, "tags.roa"),
    ({"state": "Cuba"}, "state"),
    ({"source": "x" * 5000}, "source"),
])
def test_malformed_fields_are_400_naming_the_field(alice, change, field):
    data = {**event().to_dict(), **change}
    response = post(api_client(alice), data, key="k" * 32)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"], response.json()
    assert counts() == (0, 0, 0, 0, 0)


def test_missing_fields_are_named(alice):
    data = event().to_dict()
    del data["alert_id"], data["type"]
    response = post(api_client(alice), data, key="k" * 32)
    assert response.status_code == 400
    assert {"alert_id", "type"} <= set(response.json()["fields"])


@pytest.mark.parametrize("body", ["{not json", "[1, 2]", "[" * 5000, "[" * 100_000, '"x"',
                                  '{"event": "raised", "first_seen": NaN}'])
def test_event_that_is_not_a_json_object_is_400(alice, body):
    response = post(api_client(alice), body, key="k" * 32)
    assert response.status_code == 400
    assert "event" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_the_event_may_also_come_as_a_json_body(alice):
    ev = event()
    client = api_client(alice)
    response = client.post(URL, ev.to_dict(), format="json")
    assert response.status_code == 201
    assert client.post(URL, [1], format="json").status_code == 400
    bad = client.post(URL, {**ev.to_dict(), "peers": "many"}, format="json")
    assert bad.status_code == 400 and "peers" in bad.json()["fields"]
    assert LiveRoutingEvent.objects.count() == 1


def test_no_event_field_is_400(alice):
    response = api_client(alice).post(URL, {}, format="multipart")
    assert response.status_code == 400 and "event" in response.json()["fields"]


def test_huge_event_is_400(alice):
    data = event(details={"note": "x" * 200_000}).to_dict()
    response = post(api_client(alice), data, key="k" * 32)
    assert response.status_code == 400 and "event" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_a_bundle_over_the_limit_is_400(alice, tmp_path, settings):
    settings.EVIDENCE_MAX_BYTES = 1000
    ev = event()
    response = post(api_client(alice), ev, bundle(tmp_path / "r.zip", ev))
    assert response.status_code == 400 and "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_idempotency_key_must_match_the_event(alice):
    ev = event()
    response = post(api_client(alice), ev, key="0" * 32)
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["fields"]
    data = {**ev.to_dict(), "idempotency_key": "0" * 32}
    response = post(api_client(alice), data, key=ev.idempotency_key)
    assert response.status_code == 400 and "idempotency_key" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_same_key_in_two_states_is_two_events(alice, bob):
    assert post(api_client(alice), event()).status_code == 201
    assert post(api_client(bob), event(state="CH")).status_code == 201
    assert LiveRoutingEvent.objects.count() == 2 and LiveRoutingAlert.objects.count() == 2


# --- the watch list for the monitor, and the alerts list ---------------------------------------

WATCH = "states:\n  CU:\n    asns: [27725]\n    prefixes:\n      - 152.206.0.0/16\n"


def test_watch_endpoint_gives_the_states_yaml(alice, bob, charlie, council):
    from sentinelle.core.models import MemberState

    RoutingWatch.objects.create(state=MemberState.objects.get(alpha2="CU"), yaml=WATCH)
    response = api_client(alice).get(WATCH_URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert response.content.decode() == WATCH
    # Switzerland has none, and may not ask for Cuba's.
    assert api_client(bob).get(WATCH_URL).status_code == 404
    assert api_client(bob).get(WATCH_URL, {"state": "CU"}).status_code == 404
    assert api_client(charlie).get(WATCH_URL, {"state": "CU"}).content.decode() == WATCH
    assert api_client(charlie).get(WATCH_URL).status_code == 404
    assert api_client(council).get(WATCH_URL, {"state": "CU"}).status_code == 404
    assert api_client(None).get(WATCH_URL, {"state": "CU"}).status_code == 401


def test_alerts_list_is_scoped_to_the_state(alice, bob, charlie, council):
    post(api_client(alice), event())
    post(api_client(bob), event(state="CH", alert_id=f"aaaaaaaaaaaaaaaaaaaa@{T0}"))
    mine = api_client(alice).get(ALERTS_URL).json()["results"]
    assert [a["state"] for a in mine] == ["CU"]
    assert api_client(alice).get(ALERTS_URL, {"state": "CH"}).json()["results"] == []
    cuban = LiveRoutingAlert.objects.get(state__alpha2="CU")
    assert api_client(bob).get(f"{ALERTS_URL}{cuban.pk}/").status_code == 404
    assert api_client(alice).get(f"{ALERTS_URL}{cuban.pk}/").status_code == 200
    every = api_client(charlie).get(ALERTS_URL).json()["results"]
    assert sorted(a["state"] for a in every) == ["CH", "CU"]
    assert api_client(charlie).get(ALERTS_URL, {"state": "CU"}).json()["count"] == 1
    assert api_client(council).get(ALERTS_URL).json()["results"] == []
    assert api_client(council).get(f"{ALERTS_URL}{cuban.pk}/").status_code == 404


def test_an_event_field_beyond_djangos_upload_limit_is_400_naming_it(alice, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100_000
    data = {**event().to_dict(), "details": {"note": "x" * 150_000}}
    response = post(api_client(alice), data, key="k" * 32)
    assert response.status_code == 400 and "event" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"),
    reason="in-memory SQLite (shared cache) fails a waiting writer with 'table is locked' "
           "instead of waiting: run with DATABASE_URL=postgres://...")
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_deliveries_at_once_make_one_report(tmp_path):
    """Two threads, two connections, the same event and bundle at the same moment: one 201,
    one 200 with the same answer, one alert, one report."""
    import threading

    from django.db import connections

    from tests.conftest import make_user

    alice = make_user("alice", "focal-point", "CU")
    ev = event()
    path = bundle(tmp_path / "r.zip", ev)
    clients = [api_client(alice), api_client(alice)]
    start = threading.Barrier(2)
    answers: list = [None, None]

    def deliver(n: int) -> None:
        try:
            start.wait()
            answers[n] = post(clients[n], ev, path)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [200, 201], [a.content for a in answers]
    assert answers[0].json() == answers[1].json()
    assert (LiveRoutingEvent.objects.count(), LiveRoutingAlert.objects.count(),
            Incident.objects.count(), BundleSubmission.objects.count()) == (1, 1, 1, 1)


def test_what_the_monitors_platform_destination_sends_is_accepted(alice, tmp_path):
    """The request live/destinations/platform.py builds (multipart, `Token` scheme, bundle of
    live/destinations/bundle.py), raised then resolved then the raised again."""
    from sentinelle.core.models import ApiToken

    platform = pytest.importorskip("sentinelle.observatory.routing.live.destinations.platform")
    _token, secret = ApiToken.issue(alice)
    destination = platform.PlatformDestination("platform:http://testserver", "http://testserver",
                                               secret, KEY)
    client = api_client(None)

    def send(ev: AlertEvent):
        body, content_type = platform.multipart(destination.fields(ev, tmp_path))
        return client.generic("POST", URL, body, content_type=content_type,
                              HTTP_AUTHORIZATION=f"Token {secret}",
                              HTTP_IDEMPOTENCY_KEY=ev.idempotency_key)

    raised = event(samples=[b"\xff" * 16 + b"\x00\x13\x04"])
    first = send(raised)
    assert first.status_code == 201, first.content
    assert first.json()["report"]
    assert send(event("resolved")).status_code == 201
    again = send(raised)
    assert again.status_code == 200 and again.json() == first.json()
    alert = LiveRoutingAlert.objects.get()
    assert alert.status == "resolved"
    assert Evidence.objects.filter(incident=alert.incident).count() == 2


def test_watch_list_yaml_matches_its_documented_schema(alice):
    """The watch list is YAML; the schema described it as a string, while a client (and
    Schemathesis, which parses YAML bodies) reads an object: the schema now says the object."""
    import yaml
    from openapi_schema_validator import OAS30ReadValidator

    from sentinelle.core.models import MemberState
    from tests.openapi_helpers import schema_document

    watch = WATCH + ("      - prefix: 169.158.0.0/16\n        origins: [27725]\n"
                     "        max_length: 24\n")
    RoutingWatch.objects.create(state=MemberState.objects.get(alpha2="CU"), yaml=watch)
    document = schema_document()
    content = document["paths"][WATCH_URL]["get"]["responses"]["200"]["content"]
    parsed = yaml.safe_load(api_client(alice).get(WATCH_URL).content)
    validator = OAS30ReadValidator(content["application/yaml"]["schema"])
    assert not list(validator.iter_errors(parsed))
    assert not validator.is_valid("states: not a mapping")


def test_a_nul_in_the_alert_filters_is_a_400_naming_it_not_a_500(alice):
    # PostgreSQL refuses NUL in a string: it answered 500 (Schemathesis on PostgreSQL).
    client = api_client(alice)
    for name, query in (("state", {"state": "C\x00U"}), ("status", {"status": "raised\x00"})):
        answer = client.get("/api/v1/observatory/routing/alerts/", query)
        assert answer.status_code == 400, answer.content
        assert list(answer.json()["fields"]) == [name]
