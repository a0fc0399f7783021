"""Live routing detector (issue 14, part A): a BMP Peer Up starts a fresh table for the peer.

A route withdrawn while the BMP session was down (monitor or router restarted) is not in the
table the router re-sends after Peer Up, and nothing else says it is gone: it is withdrawn
when the peer's End-of-RIB arrives, or once ``stale_after`` seconds have passed (``tick``).
Kept apart from test_routing_live_detector.py to keep both files under 600 lines."""

from __future__ import annotations

import json

import pytest

from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.live.detector import LiveDetector, LiveOptions
from sentinelle.observatory.routing.live.events import AlertEvent, SourceItem
from sentinelle.observatory.routing.watchlist import loads
from tests.observatory.routing.test_routing_live_detector import HIJACK, LEGIT, T0, WATCH

ROUTER = "router1"
PEER = (ROUTER, "192.0.2.1", 64501)


def el(prefix: str, path: tuple = (), kind: str = "A", t: float = T0,
       p: tuple[str, str, int] = PEER) -> Element:
    return Element(kind, int(t), p[1], p[2], prefix, tuple(path), p[0], b"", "test")


def item(element: Element, observed: float) -> SourceItem:
    return SourceItem("element", "bmp:127.0.0.1:11019", observed, element)


def peer_up(at: float, p: tuple[str, str, int] = PEER) -> SourceItem:
    return SourceItem("peer-up", "bmp:127.0.0.1:11019", at, peer=p)


def end_of_rib(at: float, family: str = "ipv4 unicast",
               p: tuple[str, str, int] = PEER) -> SourceItem:
    return SourceItem("end-of-rib", "bmp:127.0.0.1:11019", at, peer=p, detail=family)


def restarted(d: LiveDetector, watch, **options) -> LiveDetector:
    again = LiveDetector(watch, options=LiveOptions(**options))
    again.restore(json.loads(json.dumps(d.snapshot())))
    return again


@pytest.fixture()
def watch():
    return loads(WATCH, "watch.yaml")


def _raised_then_restarted(watch, **options) -> tuple[LiveDetector, AlertEvent]:
    d = LiveDetector(watch, options=LiveOptions(min_peers=1, **options))
    d.feed(item(el("190.6.64.0/19", LEGIT), T0 + 1))
    events = d.feed(item(el("190.6.70.0/24", HIJACK, t=T0 + 5), T0 + 6))
    assert [(e.event, e.type) for e in events] == [("raised", "S|0")]
    # the monitor stops; the hijack is withdrawn meanwhile; the monitor starts again
    return restarted(d, watch, min_peers=1, **options), events[0]


def test_route_gone_while_the_session_was_down_is_resolved_at_end_of_rib(watch):
    d, raised = _raised_then_restarted(watch)
    assert [e.alert_id for e in d.active()] == [raised.alert_id]
    up_at = T0 + 1000
    assert d.feed(peer_up(up_at)) == []
    # the router re-sends its table: only the legitimate route
    assert d.feed(item(el("190.6.64.0/19", LEGIT, t=up_at), up_at + 0.1)) == []
    assert [e.alert_id for e in d.active()] == [raised.alert_id]  # not yet: table not whole
    events = d.feed(end_of_rib(up_at + 0.5))
    assert [(e.event, e.alert_id, e.resolved_at) for e in events] == [
        ("resolved", raised.alert_id, up_at + 0.5)]
    assert events[0].duration == pytest.approx(up_at + 0.5 - (T0 + 5))
    assert d.active() == []
    # nothing more: not at a second End-of-RIB, not at the grace period's end
    assert d.feed(end_of_rib(up_at + 1)) == []
    assert d.tick(up_at + 10_000) == []
    assert d.snapshot()["routes"] == []  # no offending route left on record


def test_route_gone_while_the_session_was_down_is_resolved_after_the_grace_period(watch):
    d, raised = _raised_then_restarted(watch, stale_after=120)
    up_at = T0 + 1000
    d.feed(peer_up(up_at))
    d.feed(item(el("190.6.64.0/19", LEGIT, t=up_at), up_at + 0.1))
    assert d.tick(up_at + 119) == []
    events = d.tick(up_at + 121)
    assert [(e.event, e.alert_id, e.resolved_at) for e in events] == [
        ("resolved", raised.alert_id, up_at + 121)]
    assert d.tick(up_at + 500) == []
    assert d.active() == []


def test_hijack_re_announced_after_peer_up_stays_raised_without_a_second_raise(watch):
    d, raised = _raised_then_restarted(watch, stale_after=120)
    up_at = T0 + 1000
    d.feed(peer_up(up_at))
    events = d.feed(item(el("190.6.70.0/24", HIJACK, t=up_at), up_at + 0.1))
    assert events == []  # still the same episode: no duplicate "raised"
    assert d.feed(item(el("190.6.64.0/19", LEGIT, t=up_at), up_at + 0.2)) == []
    assert d.feed(end_of_rib(up_at + 0.5)) == []
    assert d.tick(up_at + 1000) == []
    assert [e.alert_id for e in d.active()] == [raised.alert_id]
    # and it still ends when the peer withdraws it
    events = d.feed(item(el("190.6.70.0/24", kind="W", t=up_at + 2000), up_at + 2000))
    assert [(e.event, e.alert_id) for e in events] == [("resolved", raised.alert_id)]


def test_peer_up_without_known_routes_changes_nothing(watch):
    d, raised = _raised_then_restarted(watch, stale_after=120)
    other = (ROUTER, "192.0.2.9", 64509)
    assert d.feed(peer_up(T0 + 1000, p=other)) == []
    assert d.feed(end_of_rib(T0 + 1001, p=other)) == []
    assert d.tick(T0 + 5000) == []
    assert [e.alert_id for e in d.active()] == [raised.alert_id]


def test_end_of_rib_of_one_family_leaves_the_other_family_pending(watch):
    d = LiveDetector(watch, options=LiveOptions(min_peers=1, stale_after=120))
    v4 = d.feed(item(el("190.6.70.0/24", HIJACK, t=T0), T0))
    v6 = d.feed(item(el("2001:db8:cc00::/40", HIJACK, t=T0), T0))
    assert [e.event for e in v4 + v6] == ["raised", "raised"]
    d.feed(peer_up(T0 + 100))
    events = d.feed(end_of_rib(T0 + 101, "ipv4 unicast"))
    assert [(e.event, e.prefix) for e in events] == [("resolved", "190.6.70.0/24")]
    events = d.feed(end_of_rib(T0 + 102, "ipv6 unicast"))
    assert [(e.event, e.prefix) for e in events] == [("resolved", "2001:db8:cc00::/40")]


def test_visibility_counts_only_routes_re_sent_after_peer_up(watch):
    d = LiveDetector(watch, options=LiveOptions(min_peers=3, stale_after=120))
    peers = [(ROUTER, f"192.0.2.{n}", 64500 + n) for n in (1, 2, 3, 4)]
    for p in peers:
        assert d.feed(item(el("190.6.64.0/19", LEGIT, p=p), T0)) == []
    d = restarted(d, watch, min_peers=3, stale_after=120)
    for p in peers:
        d.feed(peer_up(T0 + 100, p=p))
    # only peer 1 still has the prefix: the others lost it while the monitor was down
    d.feed(item(el("190.6.64.0/19", LEGIT, t=T0 + 100, p=peers[0]), T0 + 100))
    events = []
    for p in peers:
        events += d.feed(end_of_rib(T0 + 101, p=p))
    assert [(e.event, e.type) for e in events] == [("raised", "visibility-loss")]
    assert events[0].details["seen_by"] == 1


def test_stale_marks_survive_a_restart(watch):
    d, raised = _raised_then_restarted(watch, stale_after=120)
    d.feed(peer_up(T0 + 1000))
    d.feed(item(el("190.6.64.0/19", LEGIT, t=T0 + 1000), T0 + 1000))  # fresh: stays
    d = restarted(d, watch, min_peers=1, stale_after=120)
    assert d.tick(T0 + 1119) == []
    events = d.tick(T0 + 1121)
    assert [(e.event, e.alert_id) for e in events] == [("resolved", raised.alert_id)]


def test_peer_down_during_the_resync_resolves_at_once(watch):
    d, raised = _raised_then_restarted(watch, stale_after=120)
    d.feed(peer_up(T0 + 1000))
    events = d.feed(SourceItem("peer-down", "bmp:127.0.0.1:11019", T0 + 1010, peer=PEER))
    assert [(e.event, e.resolved_at) for e in events] == [("resolved", T0 + 1010)]
    assert d.tick(T0 + 2000) == []


# ------------------------------------------------------------------------- the BMP source


def test_bmp_source_reports_peer_up_and_end_of_rib_and_the_detector_resolves():
    """Through the real BMP listener: a router re-sends its table after Peer Up without the
    hijack; its End-of-RIB markers (an empty UPDATE for IPv4, an empty MP_UNREACH for IPv6)
    end the resync and the alert raised before the restart is resolved."""
    import asyncio

    from sentinelle.observatory.routing.live.sources import parse_source, run_source
    from tests.observatory.routing import bmp_bytes as B
    from tests.observatory.routing.bgp_lab import free_port
    from tests.observatory.routing.test_routing_live_mrt_dir import Sink, run
    from tests.observatory.routing.test_routing_live_sources import FAST, stop, wait_until

    watch = loads("states:\n  CU:\n    asns: [64500]\n    prefixes:\n"
                  "      - prefix: 198.18.0.0/16\n        origins: [64500]\n"
                  "        max_length: 24\n", "watch.yaml")
    router_peer = ("edge1", "192.0.2.7", 65001)
    d = LiveDetector(watch, options=LiveOptions(min_peers=1))
    raised = d.feed(item(el("198.18.7.0/24", (65001, 65666), p=router_peer), T0))
    assert [e.event for e in raised] == ["raised"]

    port = free_port("127.0.0.1")
    spec = parse_source(f"bmp:127.0.0.1:{port}")
    p1 = B.peer_header("192.0.2.7", 65001, 1_700_000_000)
    legit = B.update(attrs=B.ipv4_attrs([65001, 64500]), announced=B.nlri("198.18.0.0/16"))
    stream = b"".join((
        B.initiation(sys_name="edge1"),
        B.peer_up(p1, B.bgp_open(65000), B.bgp_open(65001)),
        B.route_monitoring(p1, legit),
        B.route_monitoring(p1, B.update()),  # IPv4 End-of-RIB
        B.route_monitoring(p1, B.update(attrs=B.mp_unreach_v6([]))),  # IPv6 End-of-RIB
    ))

    async def scenario():
        sink = Sink()
        before = asyncio.all_tasks()
        task = asyncio.create_task(run_source(spec, sink.put, prefixes=[], state=None,
                                              options=FAST))
        await wait_until(lambda: sink.of("status"), "listening")
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(stream)
        await writer.drain()
        await wait_until(lambda: len(sink.of("end-of-rib")) == 2, "two End-of-RIB")
        await stop(task, before)
        writer.close()
        return sink
    sink = run(scenario())
    kinds = [i.kind for i in sink.items if i.kind not in ("status", "alive")]
    assert kinds[:4] == ["peer-up", "element", "end-of-rib", "end-of-rib"]
    assert sink.of("peer-up")[0].peer == router_peer
    assert [(i.peer, i.detail) for i in sink.of("end-of-rib")] == [
        (router_peer, "ipv4 unicast"), (router_peer, "ipv6 unicast")]
    events = []
    for one in sink.items[:sink.items.index(sink.of("end-of-rib")[1]) + 1]:
        events += d.feed(one)
    assert [(e.event, e.alert_id) for e in events] == [("resolved", raised[0].alert_id)]


@pytest.mark.parametrize(("attrs", "family"), [
    (b"", "ipv4 unicast"),
    ("mp_unreach_v6", "ipv6 unicast"),
    (bytes((0x90, 15, 0, 3, 0, 2, 1)), "ipv6 unicast"),  # extended length form
    (bytes((0x80, 15, 3, 0, 1, 128)), None),  # VPNv4: not a family the monitor reads
    (bytes((0x40, 1, 1, 0)), None),  # attributes but no NLRI: not a marker
    (bytes((0x80, 15, 4, 0, 2, 1, 0)), None),  # an MP_UNREACH withdrawing ::/0
])
def test_end_of_rib_marker_recognised_and_nothing_else(attrs, family):
    from sentinelle.observatory.routing.bmp import BmpSession
    from tests.observatory.routing import bmp_bytes as B

    if attrs == "mp_unreach_v6":
        attrs = B.mp_unreach_v6([])
    p1 = B.peer_header("192.0.2.7", 65001, T0)
    elements, events = BmpSession("r").decode(B.route_monitoring(p1, B.update(attrs=attrs)))
    if family is None:
        assert events == []
    else:
        assert elements == []
        assert [(e.kind, e.peer_ip, e.info) for e in events] == [
            ("end_of_rib", "192.0.2.7", {"family": family})]
