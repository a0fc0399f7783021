"""Live routing detector (issue 14, part A): thresholds, episodes, visibility, tags, snapshot."""

from __future__ import annotations

import json

import pytest

from sentinelle.observatory.routing.asrel import ASRelationships
from sentinelle.observatory.routing.detectors import alert_key
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.live.detector import LiveDetector, LiveOptions
from sentinelle.observatory.routing.live.events import AlertEvent, SourceItem
from sentinelle.observatory.routing.live.mutes import MuteStore
from sentinelle.observatory.routing.live.tags import confidence, confidence_level, routing_tags
from sentinelle.observatory.routing.prefixes import parse_prefix
from sentinelle.observatory.routing.rpki import VRP, VRPSet, load_vrps
from sentinelle.observatory.routing.watchlist import loads
from tests.paths import SHARED_DIR

SHARED_RPKI = SHARED_DIR / "data" / "bgp" / "rpki"

WATCH = """\
states:
  CU:
    asns: [27725]
    neighbors: [11960]
    prefixes:
      - prefix: 190.6.64.0/19
        origins: [27725]
        max_length: 24
      - prefix: 2001:db8:cc00::/40
        origins: [27725]
        max_length: 48
"""

T0 = 1_700_000_000
HIJACK = (3356, 174, 666)
LEGIT = (3356, 11960, 27725)


def peer(n: int, collector: str = "rrc00") -> tuple[str, str, int]:
    return (collector, f"192.0.2.{n}", 64500 + n)


def el(prefix: str, path: tuple = (), kind: str = "A", t: int = T0,
       p: tuple[str, str, int] | None = None, raw: bytes = b"") -> Element:
    collector, ip, asn = p or peer(1)
    return Element(kind, t, ip, asn, prefix, tuple(path), collector, raw, "test")


def item(element: Element, observed: float | None = None) -> SourceItem:
    return SourceItem("element", "test", observed if observed is not None else element.time + 2,
                      element)


def down(p: tuple[str, str, int], at: float) -> SourceItem:
    return SourceItem("peer-down", "test", at, peer=p)


def feed_all(detector: LiveDetector, elements: list[Element]) -> list[AlertEvent]:
    events: list[AlertEvent] = []
    for element in elements:
        events.extend(detector.feed(item(element)))
    return events


@pytest.fixture()
def watch():
    return loads(WATCH, "watch.yaml")


def detector(watch, **options) -> LiveDetector:
    return LiveDetector(watch, options=LiveOptions(**options))


# ------------------------------------------------------------------------- thresholds


def test_nothing_raised_below_min_peers_then_exactly_one_raise(watch):
    d = detector(watch, min_peers=3)
    assert feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0, p=peer(1)),
                        el("190.6.64.0/19", HIJACK, t=T0 + 5, p=peer(2)),
                        # the same peer again is not a new peer
                        el("190.6.64.0/19", HIJACK, t=T0 + 6, p=peer(2))]) == []
    events = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0 + 9, p=peer(3))])
    assert [e.event for e in events] == ["raised"]
    raised = events[0]
    assert raised.type == "E|0" and raised.offending_asn == 666 and raised.state == "CU"
    assert raised.peers == 3 and raised.collectors == ["rrc00"]
    assert raised.first_seen == T0 and raised.last_seen == T0 + 9
    key = alert_key("E|0", "190.6.64.0/19", 666, "CU")
    assert raised.alert_id == f"{key}@{T0}"
    assert raised.legitimate_origins == [27725]
    assert raised.example_paths == ["3356 174 666"]
    assert raised.source == "test" and raised.observed_at == T0 + 11
    # more peers: still the same episode, no second "raised"
    assert feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0 + 10, p=peer(4)),
                        el("190.6.64.0/19", HIJACK, t=T0 + 11, p=peer(5))]) == []
    assert [e.alert_id for e in d.active()] == [raised.alert_id]


def test_min_collectors(watch):
    d = detector(watch, min_peers=3, min_collectors=2)
    same = [el("190.6.70.0/24", HIJACK, p=peer(n)) for n in (1, 2, 3, 4)]
    assert feed_all(d, same) == []
    events = feed_all(d, [el("190.6.70.0/24", HIJACK, p=peer(9, "rrc01"))])
    assert [(e.event, e.type, e.peers, e.collectors) for e in events] == [
        ("raised", "S|0", 5, ["rrc00", "rrc01"])]


def test_legitimate_and_unwatched_routes_raise_nothing(watch):
    d = detector(watch, min_peers=1)
    assert feed_all(d, [el("190.6.64.0/19", LEGIT, p=peer(1)),
                        el("190.6.65.0/24", LEGIT, p=peer(2)),
                        el("8.8.8.0/24", (3356, 15169), p=peer(3)),
                        el("190.0.0.0/8", HIJACK, p=peer(4)),
                        el("8.8.8.0/24", kind="W", p=peer(3))]) == []
    snapshot = d.snapshot()
    assert "8.8.8.0/24" not in json.dumps(snapshot)


# ------------------------------------------------------------------------- resolution


def _raise(d: LiveDetector, prefix: str = "190.6.64.0/19", t: int = T0,
           peers=(1, 2, 3)) -> AlertEvent:
    events = feed_all(d, [el(prefix, HIJACK, t=t + i, p=peer(n)) for i, n in enumerate(peers)])
    assert [e.event for e in events] == ["raised"]
    return events[0]


def test_resolved_when_every_carrier_withdrew_replaced_or_went_down(watch):
    d = detector(watch, min_peers=3)
    raised = _raise(d)
    # peer 1 withdraws, peer 2 replaces the hijack with the legitimate route: still carried by 3
    assert feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 100, p=peer(1)),
                        el("190.6.64.0/19", LEGIT, t=T0 + 110, p=peer(2))]) == []
    assert d.active()[0].peers == 1
    # peer 3's session goes down: the route is gone with it
    events = d.feed(down(peer(3), at=T0 + 200.5))
    assert [e.event for e in events] == ["resolved"]
    resolved = events[0]
    assert resolved.alert_id == raised.alert_id
    assert resolved.idempotency_key != raised.idempotency_key
    assert resolved.resolved_at == T0 + 200.5
    assert resolved.duration == pytest.approx(200.5)
    assert resolved.peers == 3  # the peers that carried it during the episode
    assert d.active() == []


def test_withdrawal_resolves_with_bgp_time_and_reannouncement_is_a_new_episode(watch):
    d = detector(watch, min_peers=3)
    first = _raise(d)
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 50 + n, p=peer(n))
                          for n in (1, 2, 3)])
    assert [(e.event, e.resolved_at, e.duration) for e in events] == [
        ("resolved", T0 + 53, 53)]
    # the same hijack a day later: a new episode with its own id, raised once more
    second = _raise(d, t=T0 + 86_400)
    assert second.alert_id != first.alert_id
    assert second.alert_id.endswith(f"@{T0 + 86_400}")
    assert second.first_seen == T0 + 86_400


def test_pending_episode_is_dropped_silently(watch):
    d = detector(watch, min_peers=3)
    assert feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0, p=peer(1)),
                        el("190.6.64.0/19", HIJACK, t=T0 + 1, p=peer(2)),
                        el("190.6.64.0/19", kind="W", t=T0 + 2, p=peer(1)),
                        el("190.6.64.0/19", kind="W", t=T0 + 3, p=peer(2))]) == []
    raised = _raise(d, t=T0 + 10)
    assert raised.first_seen == T0 + 10  # the dropped pending episode is forgotten


def test_one_peer_switching_hijacks(watch):
    d = detector(watch, min_peers=1)
    first = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0)])
    assert [e.event for e in first] == ["raised"]
    events = feed_all(d, [el("190.6.64.0/19", (3356, 777), t=T0 + 5)])
    assert [(e.event, e.offending_asn) for e in events] == [("resolved", 666), ("raised", 777)]


def test_as_set_origin_and_rpki_for_state_asn(watch):
    vrps = VRPSet([VRP(parse_prefix("10.20.0.0/16"), 16, 65010)])
    d = LiveDetector(watch, vrps=vrps, options=LiveOptions(min_peers=1))
    # a State ASN originating someone else's space: RPKI-invalid for CU
    events = feed_all(d, [el("10.20.0.0/16", (3356, 27725))])
    assert [(e.type, e.state, e.offending_asn) for e in events] == [("rpki-invalid", "CU", 27725)]
    assert events[0].tags["roa"] == "invalid"
    # withdrawn: resolved, though the prefix is not watched
    events = feed_all(d, [el("10.20.0.0/16", kind="W", t=T0 + 3)])
    assert [e.event for e in events] == ["resolved"]
    events = feed_all(d, [el("190.6.64.0/19", (3356, frozenset({666, 667})))])
    assert [(e.type, e.offending_asn, e.as_set) for e in events] == [("E|0", None, [666, 667])]


# ------------------------------------------------------------------------- visibility


def _visible(d: LiveDetector, peers, t: int = T0) -> list[AlertEvent]:
    return feed_all(d, [el("190.6.64.0/19", LEGIT, t=t, p=peer(n)) for n in peers])


def test_visibility_loss_raised_and_resolved(watch):
    d = detector(watch, min_peers=3)
    assert _visible(d, (1, 2, 3, 4)) == []
    # 2 of 4 still carry it: 0.5 is not below the threshold
    assert feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 10, p=peer(n))
                        for n in (1, 2)]) == []
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 20, p=peer(3))])
    assert [(e.event, e.type, e.prefix) for e in events] == [
        ("raised", "visibility-loss", "190.6.64.0/19")]
    loss = events[0]
    assert loss.details["share"] == 0.25 and loss.details["baseline_peers"] == 4
    assert loss.peers == 3  # the baseline peers that lost it
    assert loss.first_seen == T0 + 20
    assert loss.alert_id == f"{alert_key('visibility-loss', '190.6.64.0/19', None, 'CU')}@{T0 + 20}"
    # a more-specific from the legitimate origin makes it visible again to peer 1
    events = feed_all(d, [el("190.6.65.0/24", LEGIT, t=T0 + 80, p=peer(1))])
    assert [(e.event, e.alert_id, e.resolved_at, e.duration) for e in events] == [
        ("resolved", loss.alert_id, T0 + 80, 60)]


def test_a_hijack_replacing_the_route_is_one_alert_not_also_a_visibility_loss(watch):
    d = detector(watch, min_peers=3)
    _visible(d, (1, 2, 3))
    events = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0 + 10, p=peer(n)) for n in (1, 2, 3)])
    assert [(e.event, e.type) for e in events] == [("raised", "E|0")]
    events = feed_all(d, [el("190.6.64.0/19", LEGIT, t=T0 + 90, p=peer(n)) for n in (1, 2, 3)])
    assert [(e.event, e.type) for e in events] == [("resolved", "E|0")]
    # withdrawn everywhere: that is a visibility loss
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 99, p=peer(n)) for n in (1, 2)])
    assert [(e.event, e.type) for e in events] == [("raised", "visibility-loss")]


def test_peer_down_removes_peer_from_visibility_baseline(watch):
    d = detector(watch, min_peers=3)
    _visible(d, (1, 2, 3, 4, 5, 6))
    # a collector losing its sessions is not the prefix losing visibility
    events = []
    for n in (1, 2, 3, 4):
        events += d.feed(down(peer(n), at=T0 + 30))
    assert events == []
    # peer 5 withdraws: baseline is {5, 6} now, below visibility_min_peers: not judged
    assert feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 40, p=peer(5))]) == []


def test_visibility_needs_enough_baseline_peers(watch):
    d = detector(watch, min_peers=3, visibility_min_peers=5)
    _visible(d, (1, 2, 3, 4))
    assert feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 5, p=peer(n))
                        for n in (1, 2, 3, 4)]) == []
    d = detector(watch, min_peers=3)
    # peers that only ever carried a hijacked route are not in the baseline
    feed_all(d, [el("190.6.64.0/19", HIJACK, p=peer(n)) for n in (1, 2, 3, 4)])
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 5, p=peer(n))
                          for n in (1, 2, 3, 4)])
    assert [e.type for e in events] == ["E|0"]


# ------------------------------------------------------------------------- tags


@pytest.fixture()
def small_vrps() -> VRPSet:
    return VRPSet([VRP(parse_prefix("190.6.64.0/19"), 24, 27725),
                   VRP(parse_prefix("190.6.64.0/20"), 20, 666)])


@pytest.fixture()
def rels() -> ASRelationships:
    return ASRelationships.parse(["27725|100|1", "200|27725|-1", "27725|300|-1",
                                  "400|27725|0"], "test-as-rel")


@pytest.mark.parametrize(("prefix", "origin", "roa"), [
    ("190.6.64.0/19", 666, "invalid"),
    ("190.6.64.0/20", 666, "valid"),
    ("190.6.64.0/19", 27725, "valid"),
    ("190.6.65.0/25", 27725, "invalid"),
    ("10.0.0.0/8", 666, "not-found"),
])
def test_roa_tag(small_vrps, prefix, origin, roa):
    tags = routing_tags("E|0", prefix, origin, origin, [27725], small_vrps, None, 3, 1,
                        LiveOptions())
    assert tags["roa"] == roa
    assert tags["relationship"] == "unknown"


def test_roa_unknown_without_vrps():
    tags = routing_tags("E|0", "190.6.64.0/19", 666, 666, [27725], None, None, 3, 1,
                        LiveOptions())
    assert tags["roa"] == "unknown"


@pytest.mark.parametrize(("offending", "relationship"), [
    (100, "sibling"), (200, "provider"), (300, "customer"), (400, "peer"), (999, "none"),
    (27725, "same"), (None, "unknown"),
])
def test_relationship_tag(rels, offending, relationship):
    tags = routing_tags("E|0", "190.6.64.0/19", offending, offending, [27725], None, rels, 3, 1,
                        LiveOptions())
    assert tags["relationship"] == relationship


def test_relationship_prefers_closest_link_over_several_origins(rels):
    # 400 is a peer of 27725 and a customer of 5: customer wins (sibling > customer > ...)
    rels.add(5, 400, -1)
    tags = routing_tags("E|0", "190.6.64.0/19", 400, 400, [27725, 5], None, rels, 3, 1,
                        LiveOptions())
    assert tags["relationship"] == "customer"
    tags = routing_tags("E|0", "190.6.64.0/19", 400, 400, [27725], None, None, 3, 1,
                        LiveOptions())
    assert tags["relationship"] == "unknown"


def test_confidence_rule():
    options = LiveOptions(min_peers=3, min_collectors=1)
    # an exact-prefix hijack, ROA-invalid, no business link, seen widely: high
    high = confidence("E|0", "invalid", "none", 6, 3, options)
    assert high == 1.0 and confidence_level(high) == "high"
    # the ROA authorises the "offending" origin and it is the origin's customer: a watch-list
    # gap, not a hijack
    low = confidence("E|0", "valid", "customer", 3, 1, options)
    assert low == 0.0 and confidence_level(low) == "low"
    plain = confidence("E|0", "not-found", "unknown", 3, 1, options)
    assert plain == 0.5 and confidence_level(plain) == "medium"
    assert confidence("S|-", "valid", "same", 3, 1, options) < 0.4
    assert confidence("S|-", "invalid", "same", 3, 1, options) >= 0.4
    assert confidence_level(0.39) == "low"
    assert confidence_level(0.4) == "medium"
    assert confidence_level(0.69) == "medium"
    assert confidence_level(0.7) == "high"
    # more peers and collectors never lower it
    assert confidence("S|0", "not-found", "unknown", 6, 1, options) > plain
    assert confidence("S|0", "not-found", "unknown", 3, 2, options) > plain


def test_events_carry_tags(watch, small_vrps, rels):
    d = LiveDetector(watch, vrps=small_vrps, asrel=rels, options=LiveOptions(min_peers=1))
    raised = feed_all(d, [el("190.6.64.0/19", (3356, 200))])[0]
    assert raised.tags["roa"] == "invalid"
    assert raised.tags["relationship"] == "provider"
    assert raised.tags["confidence"] == confidence("E|0", "invalid", "provider", 1, 1,
                                                   LiveOptions(min_peers=1))
    assert raised.tags["confidence_level"] in ("low", "medium", "high")
    d = detector(watch, min_peers=3)
    _visible(d, (1, 2, 3))
    loss = feed_all(d, [el("190.6.64.0/19", kind="W", p=peer(n)) for n in (1, 2)])[0]
    assert loss.tags["roa"] == "n/a" and loss.tags["relationship"] == "n/a"
    assert 0 <= loss.tags["confidence"] <= 1


def test_roa_tag_with_real_vrp_file():
    path = SHARED_RPKI / "stayrtr_smalltest.rpki.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data set is not mounted)")
    vrps = load_vrps(path)  # 1.0.0.0/24 AS13335 max 24, 2001:200:136::/48 AS9367
    watch = loads("states:\n  AU:\n    asns: [13335]\n    prefixes:\n      - 1.0.0.0/24\n"
                  "  JP:\n    asns: [9367]\n    prefixes:\n      - 2001:200:136::/48\n")
    d = LiveDetector(watch, vrps=vrps, options=LiveOptions(min_peers=1))
    events = feed_all(d, [el("1.0.0.0/24", (3356, 666)), el("2001:200:136::/48", (3356, 9367)),
                          el("2001:200:136::/48", (3356, 64512), p=peer(2))])
    by_type = {(e.type, e.prefix): e for e in events}
    assert by_type[("E|0", "1.0.0.0/24")].tags["roa"] == "invalid"
    assert by_type[("rpki-invalid", "1.0.0.0/24")].tags["confidence_level"] in ("medium", "high")
    assert by_type[("E|0", "2001:200:136::/48")].tags["roa"] == "invalid"
    assert ("E|0", "2001:200:136::/48") in by_type and len(events) == 4


def test_real_vrp_file_valid_origin_lowers_confidence():
    path = SHARED_RPKI / "rpki-validator_test_5000vrps.json"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data set is not mounted)")
    vrps = load_vrps(path)
    vrp = next(v for v in vrps if v.asn and v.prefix.version == 4)
    prefix = str(vrp.prefix)
    # the watch list (wrongly) names another origin: the ROA says the "offender" is allowed
    watch = loads(f"states:\n  XX:\n    asns: [64999]\n    prefixes:\n      - {prefix}\n")
    d = LiveDetector(watch, vrps=vrps, options=LiveOptions(min_peers=1))
    events = feed_all(d, [el(prefix, (3356, vrp.asn))])
    assert [(e.type, e.tags["roa"], e.tags["confidence_level"]) for e in events] == [
        ("E|0", "valid", "low")]


# ------------------------------------------------------------------------- snapshot


def _roundtrip(d: LiveDetector, watch, **options) -> LiveDetector:
    data = json.loads(json.dumps(d.snapshot()))
    restored = detector(watch, **options)
    restored.restore(data)
    return restored


def test_restored_detector_continues_the_episode(watch):
    d = detector(watch, min_peers=3)
    raised = _raise(d)
    d2 = _roundtrip(d, watch, min_peers=3)
    assert [e.alert_id for e in d2.active()] == [raised.alert_id]
    # the hijack still carried (re-sent after a restart): no second "raised"
    assert feed_all(d2, [el("190.6.64.0/19", HIJACK, t=T0 + 60, p=peer(n))
                         for n in (1, 2, 3, 4)]) == []
    events = feed_all(d2, [el("190.6.64.0/19", kind="W", t=T0 + 70, p=peer(n))
                           for n in (1, 2, 3, 4)])
    assert [(e.event, e.alert_id, e.duration) for e in events] == [
        ("resolved", raised.alert_id, 70)]


def test_restored_pending_and_visibility_state(watch):
    d = detector(watch, min_peers=3)
    _visible(d, (1, 2, 3, 4))
    feed_all(d, [el("190.6.70.0/24", HIJACK, p=peer(n)) for n in (5, 6)])
    d2 = _roundtrip(d, watch, min_peers=3)
    events = feed_all(d2, [el("190.6.70.0/24", HIJACK, t=T0 + 1, p=peer(7))])
    assert [(e.event, e.first_seen) for e in events] == [("raised", T0)]
    events = feed_all(d2, [el("190.6.64.0/19", kind="W", t=T0 + 9, p=peer(n))
                           for n in (1, 2, 3)])
    assert [(e.event, e.type) for e in events] == [("raised", "visibility-loss")]


def test_snapshot_stays_bounded(watch):
    d = detector(watch, min_peers=3, max_examples=2)
    elements = [el("190.6.64.0/19", (n, 174, 666), p=peer(n % 200), raw=bytes([n % 256]) * 40)
                for n in range(1, 400)]
    elements += [el(f"10.{n // 256}.{n % 256}.0/24", (3356, n), p=peer(1)) for n in range(3000)]
    feed_all(d, elements)
    data = d.snapshot()
    (episode,) = data["episodes"]
    assert len(episode["example_paths"]) == 2 and len(episode["samples"]) == 2
    assert len(json.dumps(data)) < 60_000  # 200 peers; nothing of the 3000 unwatched routes


def test_restore_rejects_an_unknown_snapshot(watch):
    d = detector(watch)
    with pytest.raises(ValueError, match="snapshot"):
        d.restore({"version": 99})


# ------------------------------------------------------------------------- mutes


def test_muted_alert_is_held_then_delivered_unmuted_when_the_mute_expires(watch, tmp_path):
    store = MuteStore(tmp_path)
    now = T0 + 2
    mute = store.add("190.6.64.0/18", None, now + 3600, "maintenance window", "noc", now=now)
    d = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=store)
    events = d.tick(now)
    assert [(e.event, e.type, e.alert_id, e.state) for e in events] == [
        ("muted", "mute", f"mute:{mute.id}", "CU")]
    raised = _raise(d)
    assert raised.muted_by == mute.id
    assert d.tick(now + 60) == []
    events = d.tick(now + 3601)
    assert [(e.event, e.muted_by) for e in events] == [("unmuted", None), ("raised", None)]
    again = events[1]
    assert again.alert_id == raised.alert_id
    assert again.idempotency_key == raised.idempotency_key
    assert d.tick(now + 3700) == []
    # the resolution is delivered as well, not muted
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 4000, p=peer(n))
                          for n in (1, 2, 3)])
    assert [(e.event, e.muted_by) for e in events] == [("resolved", None)]


def test_mute_removed_by_another_process_releases_held_alert(watch, tmp_path):
    monitor_store = MuteStore(tmp_path)
    cli_store = MuteStore(tmp_path)
    d = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=monitor_store)
    now = T0 + 2
    mute = cli_store.add(None, "E|0", now + 7200, "known", "ops", now=now)
    assert [e.event for e in d.tick(now)] == ["muted"]
    raised = _raise(d)
    assert raised.muted_by == mute.id
    # an S|0 is not covered by a mute of E|0
    assert _raise(d, prefix="190.6.70.0/24").muted_by is None
    cli_store.remove(mute.id, "ops", "done", now=now + 10)
    events = d.tick(now + 11)
    assert [(e.event, e.alert_id) for e in events] == [
        ("unmuted", f"mute:{mute.id}"), ("raised", raised.alert_id)]


def test_resolved_while_held_is_muted_too(watch, tmp_path):
    store = MuteStore(tmp_path)
    now = T0 + 2
    mute = store.add("190.6.64.0/19", None, now + 3600, "noise", "noc", now=now)
    d = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=store)
    d.tick(now)
    _raise(d)
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 10, p=peer(n))
                          for n in (1, 2, 3)])
    assert [(e.event, e.muted_by) for e in events] == [("resolved", mute.id)]


def test_held_state_survives_a_restart(watch, tmp_path):
    store = MuteStore(tmp_path)
    now = T0 + 2
    store.add("190.6.64.0/19", None, now + 3600, "noise", "noc", now=now)
    d = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=store)
    d.tick(now)
    raised = _raise(d)
    data = json.loads(json.dumps(d.snapshot()))
    d2 = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=MuteStore(tmp_path))
    d2.restore(data)
    assert d2.tick(now + 5) == []  # the "muted" event was reported before the restart
    events = d2.tick(now + 3601)
    assert [(e.event, e.alert_id) for e in events][1:] == [("raised", raised.alert_id)]


# ------------------------------------------------------------------------- speed


def test_unwatched_elements_are_cheap(watch):
    import time

    d = detector(watch)
    items = [item(el(f"{20 + n % 150}.{n % 256}.0.0/16", (3356, 1000 + n)))
             for n in range(20_000)]
    started = time.perf_counter()
    for one in items:
        d.feed(one)
    elapsed = time.perf_counter() - started
    assert elapsed < 1.0, f"{len(items) / elapsed:,.0f} elements/s"


# ------------------------------------------------------------------------- edges


def test_ipv6_hijack_and_visibility(watch):
    d = detector(watch, min_peers=2)
    events = feed_all(d, [el("2001:db8:cc10::/44", HIJACK, p=peer(n)) for n in (1, 2)])
    assert [(e.event, e.type, e.prefix) for e in events] == [
        ("raised", "S|0", "2001:db8:cc10::/44")]
    # another /40 in the same first 16-bit group is not ours
    assert feed_all(d, [el("2001:db8:dd00::/40", HIJACK, p=peer(n)) for n in (1, 2)]) == []


def test_an_episode_starting_in_the_same_second_gets_a_distinct_id(watch):
    d = detector(watch, min_peers=1)
    first = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0)])[0]
    feed_all(d, [el("190.6.64.0/19", kind="W", t=T0)])
    second = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0)])[0]
    feed_all(d, [el("190.6.64.0/19", kind="W", t=T0)])
    third = feed_all(d, [el("190.6.64.0/19", HIJACK, t=T0)])[0]
    assert first.alert_id.endswith(f"@{T0}")
    assert second.alert_id == f"{first.alert_id}-2"
    assert third.alert_id == f"{first.alert_id}-3"


def test_mute_ending_before_tick_delivers_raised_then_resolved(watch, tmp_path):
    store = MuteStore(tmp_path)
    now = T0 + 2
    store.add("190.6.64.0/19", None, now + 60, "noise", "noc", now=now)
    d = LiveDetector(watch, options=LiveOptions(min_peers=1), mutes=store)
    raised = feed_all(d, [el("190.6.64.0/19", HIJACK)])[0]
    assert raised.muted_by is not None
    # the withdrawal arrives after the mute ended, before any tick()
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 100)])
    assert [(e.event, e.alert_id, e.muted_by) for e in events] == [
        ("raised", raised.alert_id, None), ("resolved", raised.alert_id, None)]


def test_visibility_loss_can_be_muted(watch, tmp_path):
    store = MuteStore(tmp_path)
    now = T0 + 2
    mute = store.add(None, "visibility-loss", now + 600, "planned outage", "noc", now=now)
    d = LiveDetector(watch, options=LiveOptions(min_peers=3), mutes=store)
    d.tick(now)
    _visible(d, (1, 2, 3))
    events = feed_all(d, [el("190.6.64.0/19", kind="W", t=T0 + 5, p=peer(n)) for n in (1, 2)])
    assert [(e.type, e.muted_by) for e in events] == [("visibility-loss", mute.id)]
    assert [e.muted_by for e in d.active()] == [mute.id]
    events = feed_all(d, [el("190.6.64.0/19", LEGIT, t=T0 + 9, p=peer(n)) for n in (1, 2)])
    assert [(e.event, e.muted_by) for e in events] == [("resolved", mute.id)]


def test_restore_of_nothing_and_of_garbage(watch):
    d = detector(watch)
    d.restore({})
    assert d.active() == []
    snapshot = json.loads(json.dumps(d.snapshot()))
    snapshot["episodes"] = [{"key": "x"}]
    with pytest.raises(ValueError, match="snapshot"):
        d.restore(snapshot)
