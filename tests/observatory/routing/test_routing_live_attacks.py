"""Attacks on the live routing monitor (issue 14 part 2) from the outside world: another State,
another role, crafted input, hostile peers of the monitor's network services.

Each test is named after the attack; those that found a hole failed before the fix.
"""

from __future__ import annotations

import asyncio
import json

import pytest

from sentinelle.evidence.bundle import BundleWriter
from sentinelle.incidents.models import Incident
from sentinelle.observatory.live_validation import MAX_EVENT_BYTES
from sentinelle.observatory.models import LiveRoutingAlert, LiveRoutingEvent, RoutingWatch
from sentinelle.observatory.routing.live.sources import SourceOptions, parse_source, run_source
from tests.conftest import api_client
from tests.observatory.routing import bmp_bytes as B
from tests.observatory.routing.bgp_lab import free_port
from tests.observatory.routing.test_routing_live_mrt_dir import Sink, run
from tests.observatory.routing.test_routing_live_sources import FAST, stop, wait_until
from tests.observatory.test_routing_events_api import KEY, T0, URL, bundle, counts, event, post

PAGE = "/observatory/routing/"


def post_json(client, body: str):
    return client.post(URL, body, content_type="application/json")


# --- the events endpoint, JSON body -----------------------------------------------------------

def test_deeply_nested_json_body_is_400_not_a_server_error(alice):
    response = post_json(api_client(alice), "[" * 100_000 + "]" * 100_000)
    assert response.status_code == 400, response.status_code
    assert "event" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_json_body_over_the_event_limit_is_refused_like_the_form_field(alice):
    # every string and list within its own limit, the whole over the 64 KiB of an event
    data = {**event().to_dict(), "details": {"notes": ["x" * 1900] * (MAX_EVENT_BYTES // 1900 + 2)}}
    response = post_json(api_client(alice), json.dumps(data))
    assert response.status_code == 400, response.status_code
    assert "event" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_json_body_with_nan_or_a_thousand_digit_number_is_400(alice):
    for body in ('{"event": "raised", "first_seen": NaN}',
                 '{"event": "raised", "first_seen": ' + "9" * 5000 + "}"):
        response = post_json(api_client(alice), body)
        assert response.status_code == 400, (body[:40], response.status_code)
    assert counts() == (0, 0, 0, 0, 0)


# --- another State ----------------------------------------------------------------------------

def test_another_states_idempotency_key_gives_back_nothing_of_cubas(alice, bob):
    """Bob replays Cuba's event key with an event of his own: he gets his own answer (a new
    Swiss event), never Cuba's stored one, and Cuba's rows are untouched."""
    cuban = event()
    assert post(api_client(alice), cuban).status_code == 201
    swiss = event(state="CH")   # same alert_id, hence the same key, as Cuba's
    assert swiss.idempotency_key == cuban.idempotency_key
    response = post(api_client(bob), swiss, key=cuban.idempotency_key)
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    # the CU event sent by bob with Cuba's key: refused, nothing read back
    response = post(api_client(bob), cuban, key=cuban.idempotency_key)
    assert response.status_code == 403 and response.json()["code"] == "other-state"
    assert "report" not in response.json()
    cu = LiveRoutingAlert.objects.get(state__alpha2="CU")
    assert (cu.peers, cu.status) == (4, "raised")
    assert LiveRoutingEvent.objects.filter(state__alpha2="CU").count() == 1


def test_a_bundle_naming_the_alert_as_another_states_is_refused(bob, tmp_path):
    """Bob's event is about CH, but the alert of that id in the bundle says CU (another alert
    of CH's rides along so the report could still be made): the bundle is not evidence of
    this alert."""
    swiss = event(state="CH")
    cu_alert = {"id": swiss.alert_id, "type": "E|0", "state": "CU", "prefix": "152.206.0.0/16",
                "first_seen": T0, "last_seen": T0 + 60, "peers": 4}
    ch_alert = {"id": f"ffffffffffffffffffff@{T0}", "type": "E|0", "state": "CH",
                "prefix": "193.5.0.0/16", "first_seen": T0, "last_seen": T0 + 60, "peers": 4}
    path = tmp_path / "mixed.zip"
    with BundleWriter(path, kind="routing-scan", signing_key=KEY) as writer:
        writer.add_bytes("alerts.jsonl", (json.dumps(cu_alert) + "\n"
                                          + json.dumps(ch_alert) + "\n").encode())
        writer.set("summary", {"alerts": [cu_alert, ch_alert], "sources": [{"name": "x"}]})
    response = post(api_client(bob), swiss, path)
    assert response.status_code == 400, response.content
    assert "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_a_bundle_whose_only_alert_is_another_states_is_refused(bob, tmp_path):
    swiss = event(state="CH")
    path = bundle(tmp_path / "b.zip", event(state="CU"))
    response = post(api_client(bob), swiss, path)
    assert response.status_code == 400 and "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0) and Incident.objects.count() == 0


@pytest.mark.parametrize("member", ["manifest.json", "records/../../../etc/cron.d/x"])
def test_a_zip_bomb_or_traversal_name_in_the_bundle_is_refused_and_nothing_written(
        alice, tmp_path, member):
    import zipfile

    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if member != "manifest.json":
            bundle(tmp_path / "ok.zip", event())
            with zipfile.ZipFile(tmp_path / "ok.zip") as ok:
                for info in ok.infolist():
                    archive.writestr(info, ok.read(info))
        with archive.open(member, "w") as handle:   # 65 MiB of spaces, a few KiB zipped
            for _ in range(65):
                handle.write(b" " * 1024 * 1024)
    assert path.stat().st_size < 1024 * 1024
    response = post(api_client(alice), event(), path)
    assert response.status_code == 400 and "bundle" in response.json()["fields"]
    assert counts() == (0, 0, 0, 0, 0)


def test_the_secretariat_sees_the_alert_but_not_cubas_draft_report(alice, charlie, client,
                                                                   tmp_path):
    """A draft is its State's alone (README, *Who sees what*): the alert's report reference
    is not shown to an analyst, in the API or on the page."""
    ev = event()
    answer = post(api_client(alice), ev, bundle(tmp_path / "b.zip", ev)).json()
    reference = answer["report"]
    assert reference and Incident.objects.get(pk=answer["report_id"]).status == "draft"
    rows = api_client(charlie).get("/api/v1/observatory/routing/alerts/").json()["results"]
    assert [r["report"] for r in rows] == [None]
    client.force_login(charlie)
    html = client.get(PAGE, {"state": "CU"}).content.decode()
    assert "152.206.0.0/16" in html and reference not in html
    mine = api_client(alice).get("/api/v1/observatory/routing/alerts/").json()["results"]
    assert [r["report"] for r in mine] == [reference]


def test_another_focal_point_cannot_post_cubas_watch_list_through_the_page(alice, bob, client):
    client.force_login(bob)
    text = "states:\n  CU:\n    asns: [27725]\n    prefixes:\n      - 152.206.0.0/16\n"
    assert client.post(f"{PAGE}?state=CU", {"yaml": text}).status_code == 404
    # on his own page, a list naming CU is refused with its line
    response = client.post(PAGE, {"yaml": text})
    assert response.status_code == 200 and RoutingWatch.objects.count() == 0
    assert "line 2" in response.content.decode()


# --- crafted text on the page -----------------------------------------------------------------

def test_markup_in_every_text_the_page_shows_is_escaped(alice, client):
    """"<" and ">" are refused at the API; quotes and ampersands pass and must be escaped."""
    hostile = 'x" onmouseover="alert(1)" y=\'&amp;'
    mute = {"event": "muted", "alert_id": "mute:1", "type": "mute", "state": "CU",
            "details": {"prefix": "152.206.0.0/16", "type": hostile, "reason": hostile,
                        "by": hostile, "until": T0 + 3600}}
    assert post(api_client(alice), mute, key="").status_code == 201
    feed = {"event": "feed-lost", "alert_id": f"feed:x@{T0}", "type": "feed",
            "source": hostile, "first_seen": T0}
    assert post(api_client(alice), feed, key="").status_code == 201
    assert post(api_client(alice), event(type=hostile[:40],
                                         tags={"roa": hostile, "confidence_level": hostile}
                                         )).status_code == 201
    client.force_login(alice)
    html = client.get(PAGE).content.decode()
    assert 'onmouseover="alert(1)"' not in html
    assert "onmouseover=&quot;alert(1)&quot;" in html
    assert "&amp;amp;" in html


def test_a_watch_list_closing_the_textarea_in_a_comment_is_escaped(alice, client):
    text = ("# </textarea><script>alert(1)</script>\nstates:\n  CU:\n    name: '<b>Cuba</b>'\n"
            "    asns: [27725]\n    prefixes:\n      - 152.206.0.0/16\n")
    client.force_login(alice)
    assert client.post(PAGE, {"yaml": text}).status_code == 302
    assert RoutingWatch.objects.get().yaml == text
    html = client.get(PAGE).content.decode()
    assert "<script>alert(1)" not in html and "<b>Cuba</b>" not in html
    assert "&lt;/textarea&gt;&lt;script&gt;" in html


def test_a_watch_list_with_aliases_is_refused(alice, client):
    bomb = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "states:\n  CU:\n    asns: [27725]\n    prefixes: *c\n")
    client.force_login(alice)
    response = client.post(PAGE, {"yaml": bomb})
    assert response.status_code == 200 and RoutingWatch.objects.count() == 0


# --- BMP listener as a network service --------------------------------------------------------

def _announce_stream(sys_name: str) -> bytes:
    peer = B.peer_header("192.0.2.7", 65001, 1_700_000_000)
    return b"".join((B.initiation(sys_name=sys_name),
                     B.peer_up(peer, B.bgp_open(65000), B.bgp_open(65001)),
                     B.route_monitoring(peer, B.update(attrs=B.ipv4_attrs([65001, 64500]),
                                                       announced=B.nlri("198.18.0.0/16")))))


def test_bmp_a_stranger_claiming_a_routers_sysname_does_not_take_its_peers_down():
    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=FAST))
        await wait_until(lambda: sink.of("status"), "listening")
        _r, router = await asyncio.open_connection("127.0.0.1", port)
        router.write(_announce_stream("edge1"))
        await router.drain()
        await wait_until(lambda: sink.of("element"), "the route")
        # a stranger connects, names itself edge1 and leaves
        _r2, stranger = await asyncio.open_connection("127.0.0.1", port)
        stranger.write(B.initiation(sys_name="edge1"))
        await stranger.drain()
        stranger.close()
        await wait_until(lambda: sum("disconnected" in i.detail for i in sink.of("status")),
                         "the stranger gone")
        await asyncio.sleep(0.05)
        down_while_up = list(sink.of("peer-down"))
        router.close()
        await wait_until(lambda: sink.of("peer-down"), "the real router's peers down")
        await stop(task, before)
        return down_while_up, sink
    down_while_up, sink = run(scenario())
    assert down_while_up == []
    assert [d.peer for d in sink.of("peer-down")] == [("edge1", "192.0.2.7", 65001)]


def test_bmp_a_connection_stalled_inside_a_message_is_closed():
    """Slowloris: a few bytes of a header, then nothing; the connection must not be held (with
    its buffer) forever."""
    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")
    options = SourceOptions(poll_interval=FAST.poll_interval, ris_backoff=FAST.ris_backoff,
                            ris_app_ping=None, bmp_frame_timeout=0.3)

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=options))
        await wait_until(lambda: sink.of("status"), "listening")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(B.initiation(sys_name="slow")[:3])
        await writer.drain()
        closed = await asyncio.wait_for(reader.read(), 5)
        await stop(task, before)
        writer.close()
        return closed, sink
    closed, sink = run(scenario())
    assert closed == b""
    assert any("disconnected: stalled" in i.detail for i in sink.of("status"))


def test_bmp_connections_beyond_the_limit_are_refused():
    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")
    options = SourceOptions(poll_interval=FAST.poll_interval, ris_backoff=FAST.ris_backoff,
                            ris_app_ping=None, bmp_max_routers=3)

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=options))
        await wait_until(lambda: sink.of("status"), "listening")
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        await wait_until(lambda: sum("connected" in i.detail and "dis" not in i.detail
                                     for i in sink.of("status")) == 3, "three routers")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        extra = await asyncio.wait_for(reader.read(), 5)
        # the first three are still served
        _r, w = held[0]
        w.write(_announce_stream("edge1"))
        await w.drain()
        await wait_until(lambda: sink.of("element"), "a route from a held connection")
        await stop(task, before)
        for _r, w in held:
            w.close()
        writer.close()
        return extra
    assert run(scenario()) == b""


def test_bmp_garbage_closes_only_that_connection():
    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=FAST))
        await wait_until(lambda: sink.of("status"), "listening")
        _r, router = await asyncio.open_connection("127.0.0.1", port)
        router.write(_announce_stream("edge1"))
        await router.drain()
        await wait_until(lambda: sink.of("element"), "the route")
        reader, garbage = await asyncio.open_connection("127.0.0.1", port)
        # version 3, declared length 4 GiB - 1, then junk
        garbage.write(b"\x03\xff\xff\xff\xff\x00" + b"junk" * 100)
        await garbage.drain()
        assert await asyncio.wait_for(reader.read(), 5) == b""
        router.write(B.statistics(B.peer_header("192.0.2.7", 65001, 1_700_000_000)))
        await router.drain()
        await wait_until(lambda: any("statistics" in i.detail for i in sink.of("alive")),
                         "the router still served")
        await stop(task, before)
        router.close()
        return sink
    sink = run(scenario())
    assert sink.of("peer-down") == []


@pytest.mark.parametrize("sys_name", ["edge<1>", "edge\x07one\r\nX-Injected: 1", "r" * 300,
                                      "\u202eevil"])
def test_bmp_a_routers_odd_sysname_does_not_make_the_platform_refuse_its_alerts(sys_name):
    """The sysName is the collector's name in every alert; the platform refuses "<", ">",
    control characters and names over 200 characters: the whole alert would be rejected."""
    from sentinelle.observatory.live_validation import clean_event
    from sentinelle.observatory.routing.bmp import BmpSession

    session = BmpSession("192.0.2.1:179")
    session.decode(B.initiation(sys_name=sys_name))
    assert session.router and session.router.isprintable()
    assert "<" not in session.router and len(session.router) <= 100
    data = {**event().to_dict(), "collectors": [session.router]}
    assert clean_event(data).collectors == [session.router]


def test_ris_live_a_hostile_host_field_does_not_make_the_platform_refuse_the_alerts():
    from sentinelle.observatory.live_validation import clean_event
    from sentinelle.observatory.routing import ris_live_client as rlc

    frame = {"type": "ris_message", "data": {
        "timestamp": 1_700_000_000, "peer": "192.0.2.7", "peer_asn": "65001", "id": "x",
        "host": "rrc<script>" + "\x1b[2J" + "z" * 500 + ".ripe.net", "type": "UPDATE",
        "path": [65001, 64500],
        "announcements": [{"next_hop": "192.0.2.7", "prefixes": ["198.18.0.0/16"]}]}}
    elements = rlc.parse_frame(json.dumps(frame), rlc.LiveStats(), 1)
    assert elements
    name = elements[0].collector
    data = {**event().to_dict(), "collectors": [name]}
    assert clean_event(data).collectors == [name]


# --- extreme values on the page ---------------------------------------------------------------

def test_extreme_times_and_durations_do_not_break_the_page(alice, client):
    """The largest accepted time (year 2242), time 0, an end before the start, the largest
    duration: the page still renders every alert."""
    late = 2**33 - 1
    events = [
        event(alert_id=f"aaaaaaaaaaaaaaaaaaaa@{late}", first_seen=late, last_seen=late),
        event("resolved", alert_id="bbbbbbbbbbbbbbbbbbbb@0", first_seen=0, last_seen=0,
              resolved_at=0, duration=0),
        event("resolved", alert_id=f"cccccccccccccccccccc@{late}", first_seen=late,
              last_seen=late, resolved_at=1, duration=late - 1),
    ]
    for ev in events:
        assert post(api_client(alice), ev).status_code in (200, 201), ev.alert_id
    feed = {"event": "feed-restored", "alert_id": "feed:x@0", "type": "feed", "source": "x",
            "first_seen": 0, "resolved_at": late, "duration": late}
    assert post(api_client(alice), feed, key="").status_code == 201
    client.force_login(alice)
    response = client.get(PAGE)
    assert response.status_code == 200
    assert response.content.decode().count('class="alert-row"') == 3


@pytest.mark.parametrize("until", [10**20, 1e300, -10**12, True, "tomorrow", [1], {"a": 1}])
def test_a_mute_with_an_odd_until_does_not_break_the_page(alice, client, until):
    """A mute event's details are free-form JSON; the page reads "until" from them."""
    mute = {"event": "muted", "alert_id": "mute:odd", "type": "mute", "state": "CU",
            "details": {"id": "odd", "prefix": {"x": [1]}, "until": until, "reason": "r",
                        "by": "b"}}
    assert post(api_client(alice), mute, key="").status_code in (201, 400)
    client.force_login(alice)
    response = client.get(PAGE)
    assert response.status_code == 200


@pytest.mark.parametrize("confidence", ["high", [0.5], {"v": 1}, 10**4000, 1e308, -1e308, True])
def test_odd_tag_values_do_not_break_the_page(alice, client, confidence):
    tags = {"roa": ["invalid"], "relationship": {"x": 1}, "confidence": confidence,
            "confidence_level": 7}
    assert post(api_client(alice), event(tags=tags)).status_code == 201
    client.force_login(alice)
    assert client.get(PAGE).status_code == 200


# --- the monitor's state directory ------------------------------------------------------------

def test_a_mute_added_to_mutes_json_by_hand_is_not_in_force_and_is_reported(tmp_path):
    import time

    from sentinelle.observatory.routing.live.mutes import MuteStore

    now = time.time()
    store = MuteStore(tmp_path)
    store.add("152.206.0.0/16", None, now + 3600, "maintenance window", "noc")
    path = tmp_path / "mutes.json"
    doc = json.loads(path.read_text())
    doc["mutes"].append({**doc["mutes"][0], "id": "sneaky", "prefix": "0.0.0.0/0",
                         "until": 253402214400})   # 9999-12-31, everything, never audited
    path.write_text(json.dumps(doc))
    again = MuteStore(tmp_path)
    assert again.matching("E|0", "8.8.8.0/24", now) is None
    assert any("sneaky" in problem for problem in again.verify_audit())


def test_a_snapshot_damaged_by_hand_starts_the_monitor_fresh_not_refuses_it(tmp_path, caplog):
    """The monitor's own rule: an unusable saved state is logged and forgotten (refusing to
    start leaves the State unwatched, systemd restarting it for ever); the queued deliveries
    in the same file are kept."""
    import argparse
    import logging
    import sqlite3

    from sentinelle.observatory.routing.live.events import AlertEvent
    from sentinelle.observatory.routing.live.monitor import Monitor, add_parser
    from sentinelle.observatory.routing.live.outbox import Outbox

    watch = tmp_path / "watch.yaml"
    watch.write_text("states:\n  CU:\n    asns: [65001]\n    prefixes:\n"
                     "      - prefix: 198.18.0.0/16\n        origins: [65001]\n")
    state = tmp_path / "state"
    state.mkdir()
    dest = "syslog:127.0.0.1:9"
    outbox = Outbox(state / "outbox.sqlite3", [dest])
    queued = AlertEvent(event="feed-lost", alert_id="feed:x@1", type="feed", first_seen=1)
    assert outbox.add([queued], snapshot={"detector": {}, "health": {}}) == 1
    del outbox
    with sqlite3.connect(state / "outbox.sqlite3") as db:
        db.execute("UPDATE snapshot SET data = '{\"detector\": ' WHERE id = 1")
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["monitor", "--watch", str(watch), "--state-dir", str(state),
                              "--source", "ris-live:ws://127.0.0.1:9/", "--alert", dest])
    caplog.set_level(logging.ERROR)
    monitor = Monitor(args)
    assert "starting fresh" in caplog.text
    assert monitor.outbox.counts()[dest].get("pending") == 1


# --- the monitor's destinations ---------------------------------------------------------------

def test_platform_over_plain_http_to_another_host_is_refused_the_token_would_leak(tmp_path):
    from types import SimpleNamespace

    from sentinelle.evidence import keys
    from sentinelle.observatory.routing.live.destinations import parse_destination

    key, _ = keys.generate(tmp_path / "monitor.key")
    options = SimpleNamespace(sign_key=str(key))
    env = {"SENTINELLE_API_TOKEN": "tok-123"}
    for url in ("http://sentinelle.example.org", "http://192.0.2.10:8000/"):
        with pytest.raises(ValueError, match="https://"):
            parse_destination(f"platform:{url}", options, environ=env)
    for url in ("https://sentinelle.example.org", "http://127.0.0.1:8000", "http://[::1]:80",
                "http://localhost:8000"):
        assert parse_destination(f"platform:{url}", options, environ=env).name


def test_webhook_signature_with_a_tampered_or_restamped_time_fails():
    import time

    from sentinelle.observatory.routing.live.destinations.webhook import sign, verify_signature

    body = b'{"event": "raised"}'
    captured = sign("s3cret", body, int(time.time()) - 600)   # captured 10 minutes ago
    assert not verify_signature("s3cret", captured, body)
    _stamp, _, mac = captured.partition(",")
    restamped = f"t={int(time.time())},{mac}"                  # replayed with a fresh time
    assert not verify_signature("s3cret", restamped, body)
