"""Routing detectors (issue 7): watch list, RPKI, as-rel, RIS-Live replay, scan, CLI."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest

from sentinelle.observatory.routing import cli
from sentinelle.observatory.routing.asrel import ASRelationships, ASRelError, valley_free
from sentinelle.observatory.routing.detectors import alert_key, path_text
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.prefixes import parse_prefix
from sentinelle.observatory.routing.rislive import RisLiveStats, read_rislive
from sentinelle.observatory.routing.rpki import VRP, VRPError, VRPSet, load_vrps, parse_vrps
from sentinelle.observatory.routing.scan import Scanner, ScanOptions, scan
from sentinelle.observatory.routing.watchlist import (
    WatchListError,
    from_vrps,
    load,
    loads,
)
from tests.paths import FIXTURES_DIR, SHARED_DIR

FIXTURES = FIXTURES_DIR / "bgp"
SHARED = SHARED_DIR / "data"
SHARED_BGP = SHARED / "bgp"

WATCH = """\
states:
  CU:
    name: Cuba
    asns: [27725]
    neighbors: [11960]
    prefixes:
      - prefix: 190.6.64.0/19
        origins: [27725]
        max_length: 24
      - 152.206.0.0/16
      - prefix: 2001:db8:cc00::/40
        origins: [AS27725]
        max_length: 48
      - prefix: 181.225.224.0/19
        origins: []
  SY:
    asns: [29256]
    prefixes:
      - prefix: 5.0.0.0/16
        origins: [29256]
"""

PEER = ("rrc00", "192.0.2.1", 3356)


def el(prefix: str, path: tuple = (), kind: str = "A", t: int = 1_700_000_000,
       peer: tuple[str, str, int] = PEER, raw: bytes = b"") -> Element:
    collector, ip, asn = peer
    return Element(kind, t, ip, asn, prefix, tuple(path), collector, raw, "test")


@pytest.fixture()
def watch():
    return loads(WATCH, "watch.yaml")


def types(alerts) -> list[str]:
    return sorted(a.type for a in alerts)


# ----------------------------------------------------------------- hijack detectors


def test_legitimate_origin_no_alert(watch):
    assert scan([el("190.6.64.0/19", (3356, 11960, 27725))], watch) == []


def test_more_specific_within_max_length_from_legit_origin_no_alert(watch):
    elements = [el("190.6.65.0/24", (3356, 11960, 27725)),
                el("190.6.64.0/20", (3356, 11960, 27725, 27725, 27725))]
    assert scan(elements, watch) == []


def test_unwatched_prefix_and_withdrawal_no_alert(watch):
    elements = [el("8.8.8.0/24", (3356, 15169)),
                el("190.6.64.0/19", kind="W"),
                el("190.0.0.0/8", (3356, 666))]  # less specific than watched: not ours
    assert scan(elements, watch) == []


def test_exact_prefix_origin_hijack(watch):
    alerts = scan([el("190.6.64.0/19", (3356, 174, 666))], watch)
    assert types(alerts) == ["E|0"]
    alert = alerts[0]
    assert alert.offending_asn == 666
    assert alert.state == "CU"
    assert alert.legitimate_origins == [27725]
    assert alert.watched_prefix == "190.6.64.0/19"
    assert alert.example_paths == ["3356 174 666"]
    assert alert.id == alert_key("E|0", "190.6.64.0/19", 666, "CU")


def test_sub_prefix_hijack(watch):
    alerts = scan([el("190.6.70.0/24", (3356, 174, 666))], watch)
    assert types(alerts) == ["S|0"]
    assert alerts[0].prefix == "190.6.70.0/24"
    assert alerts[0].watched_prefix == "190.6.64.0/19"


def test_short_form_prefix_defaults_to_state_asns(watch):
    assert scan([el("152.206.0.0/16", (3356, 11960, 27725))], watch) == []
    # default max_length is the prefix length: a /24 from the legit origin is reported S|-
    alerts = scan([el("152.206.1.0/24", (3356, 11960, 27725))], watch)
    assert types(alerts) == ["S|-"]
    assert alerts[0].reason == "beyond-max-length"


def test_beyond_max_length_from_legit_origin(watch):
    alerts = scan([el("190.6.65.0/25", (3356, 11960, 27725))], watch)
    assert types(alerts) == ["S|-"]


def test_first_hop_anomaly_exact_and_sub(watch):
    alerts = scan([el("190.6.64.0/19", (3356, 174, 27725))], watch)
    assert types(alerts) == ["E|1"]
    assert alerts[0].offending_asn == 174
    assert alerts[0].details["origin"] == 27725
    alerts = scan([el("190.6.66.0/23", (3356, 174, 27725, 27725))], watch)
    assert types(alerts) == ["S|1"]


def test_first_hop_prepending_and_direct_peer_are_fine(watch):
    elements = [el("190.6.64.0/19", (3356, 11960, 11960, 27725, 27725)),
                el("190.6.64.0/19", (27725,), peer=("rrc00", "192.0.2.9", 27725))]
    assert scan(elements, watch) == []


def test_no_neighbors_configured_means_no_first_hop_check(watch):
    assert scan([el("5.0.0.0/16", (3356, 174, 29256))], watch) == []


def test_squatting(watch):
    alerts = scan([el("181.225.224.0/19", (3356, 174, 27725)),
                   el("181.225.230.0/24", (3356, 666))], watch)
    assert types(alerts) == ["Q|0", "Q|0"]
    assert {a.offending_asn for a in alerts} == {27725, 666}
    assert all(a.legitimate_origins == [] for a in alerts)


def test_as_set_origin(watch):
    aggregate = scan([el("190.6.64.0/19", (3356, 11960, frozenset({27725, 64512})))], watch)
    assert aggregate == []
    alerts = scan([el("190.6.64.0/19", (3356, 174, frozenset({666, 667})))], watch)
    assert types(alerts) == ["E|0"]
    assert alerts[0].offending_asn is None
    assert alerts[0].as_set == [666, 667]
    assert alerts[0].example_paths == ["3356 174 {666,667}"]


def test_ipv6_watched_prefix(watch):
    assert scan([el("2001:db8:cc00::/48", (3356, 11960, 27725))], watch) == []
    alerts = scan([el("2001:db8:cc10::/44", (6939, 666))], watch)
    assert types(alerts) == ["S|0"]


def test_empty_path_is_skipped(watch):
    scanner = Scanner(watch)
    scanner.feed(el("190.6.64.0/19", ()))
    assert scanner.finish() == []
    assert scanner.stats.no_origin == 1


def test_two_states_each_get_their_alert():
    watch = loads("states:\n  CU:\n    asns: [1]\n    prefixes: [10.0.0.0/8]\n"
                  "  VE:\n    asns: [2]\n    prefixes: [10.1.0.0/16]\n")
    alerts = scan([el("10.1.2.0/24", (3356, 666))], watch)
    assert sorted((a.state, a.type, a.watched_prefix) for a in alerts) == [
        ("CU", "S|0", "10.0.0.0/8"), ("VE", "S|0", "10.1.0.0/16")]


# ----------------------------------------------------------------- alerts: dict, dedup


def test_alert_dict_and_samples(watch):
    raws = [bytes([i]) * 20 for i in range(7)]
    elements = [el("190.6.64.0/19", (100 + i, 174, 666), t=1_700_000_000 + i,
                   peer=(f"rrc0{i % 3}", f"192.0.2.{i}", 100 + i), raw=raws[i])
                for i in range(7)]
    alerts = scan(elements, watch)
    assert len(alerts) == 1
    alert = alerts[0]
    data = alert.to_dict()
    assert data["type"] == "E|0"
    assert data["peers"] == 7
    assert data["collectors"] == ["rrc00", "rrc01", "rrc02"]
    assert data["collectors_count"] == 3
    assert len(data["example_paths"]) == 5
    assert data["first_seen"] == 1_700_000_000
    assert data["last_seen"] == 1_700_000_006
    assert data["first_seen_iso"] == "2023-11-14T22:13:20Z"
    assert data["elements"] == 7
    assert alert.samples == raws[:5]
    assert "samples" in data and not isinstance(data["samples"], list)
    json.dumps(data)  # serialisable, no bytes


def test_dedup_window_extends_then_new_episode(watch):
    base = 1_700_000_000
    times = [base, base + 1000, base + 4000, base + 4000 + 3601, base + 4000 + 3601 + 10]
    alerts = scan([el("190.6.64.0/19", (3356, 666), t=t) for t in times], watch)
    assert len(alerts) == 2
    first, second = alerts
    assert first.id == alert_key("E|0", "190.6.64.0/19", 666, "CU")
    assert second.id == first.id + "-2"
    assert (first.first_seen, first.last_seen, first.elements) == (base, base + 4000, 3)
    assert (second.first_seen, second.elements) == (base + 7601, 2)
    # a shorter window splits more
    alerts = scan([el("190.6.64.0/19", (3356, 666), t=t) for t in times], watch,
                  options=ScanOptions(dedup_window=600))
    assert len(alerts) == 4


def test_dedup_out_of_order_bridging_merges(watch):
    base = 1_700_000_000
    times = [base, base + 5000, base + 2500]  # the last one bridges the two
    alerts = scan([el("190.6.64.0/19", (3356, 666), t=t) for t in times], watch)
    assert len(alerts) == 1
    assert (alerts[0].first_seen, alerts[0].last_seen) == (base, base + 5000)


def test_ids_are_stable_across_runs(watch):
    elements = [el("190.6.70.0/24", (3356, 666)), el("190.6.64.0/19", (3356, 174, 27725))]
    assert [a.id for a in scan(elements, watch)] == [a.id for a in scan(elements, watch)]


def test_path_text_like_bgpdump():
    assert path_text((1853, 1239, 13659, frozenset({701, 13659}))) == "1853 1239 13659 {701,13659}"


# ----------------------------------------------------------------- RPKI


def test_vrp_formats_from_fixtures():
    small = load_vrps(FIXTURES / "rpki" / "stayrtr_smalltest.rpki.json")
    assert len(small) == 2
    assert small.validate("2001:200:136::/48", 9367).state == "valid"  # "AS9367" string
    assert small.validate("1.0.0.0/24", 13335).state == "valid"
    full = load_vrps(FIXTURES / "rpki" / "stayrtr_test.rpki.json")
    assert len(full) == 19
    big = load_vrps(FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json")
    assert len(big) == 5000


def test_rfc6811_states_on_real_vrps():
    vrps = load_vrps(FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json")
    # AS0 ROA 103.10.112.0/22 maxLength 32: anything inside is invalid, reason as0
    result = vrps.validate("103.10.113.0/24", 64500)
    assert (result.state, result.reason) == ("invalid", "as0")
    # AS0 never validates, even for an "AS0" origin
    assert vrps.validate("103.10.112.0/22", 0).state == "invalid"
    # 103.138.210.0/24 has an AS0 ROA and an AS1221 ROA: 1221 is valid, others invalid-asn
    assert vrps.validate("103.138.210.0/24", 1221).state == "valid"
    result = vrps.validate("103.138.210.0/24", 666)
    assert (result.state, result.reason) == ("invalid", "invalid-asn")
    # 1.120.0.0/13 maxLength 13 for AS1221: a /16 is too long
    result = vrps.validate("1.120.0.0/16", 1221)
    assert (result.state, result.reason) == ("invalid", "invalid-length")
    assert vrps.validate("1.120.0.0/13", 1221).state == "valid"
    assert vrps.validate("8.8.8.0/24", 15169).state == "not-found"
    # AS_SET origin: covered -> invalid, never valid (RFC 6811 "NONE")
    result = vrps.validate("1.120.0.0/13", frozenset({1221}))
    assert (result.state, result.reason) == ("invalid", "invalid-asn")
    assert vrps.validate("8.8.8.0/24", frozenset({1})).state == "not-found"


@pytest.mark.skipif(not (SHARED_BGP / "rpki").exists(), reason="../shared/data absent")
def test_shared_rpki_files_match_fixtures():
    for path in (SHARED_BGP / "rpki").glob("*.json"):
        assert len(load_vrps(path)) == len(load_vrps(FIXTURES / "rpki" / path.name))


def test_vrp_index_is_fast():
    vrps = load_vrps(FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json")
    started = time.perf_counter()
    for i in range(20_000):
        vrps.validate(parse_prefix(f"{i % 223 + 1}.{i % 256}.{(i * 7) % 256}.0/24"), 1221)
    assert time.perf_counter() - started < 3.0


def test_routinator_csv_and_errors(tmp_path):
    text = ("ASN,IP Prefix,Max Length,Trust Anchor\n"
            "AS13335,1.0.0.0/24,24,apnic\nAS0,192.0.2.0/24,32,arin\n")
    vrps = parse_vrps(text, "vrps.csv")
    assert len(vrps) == 2
    assert vrps.validate("192.0.2.128/25", 64500).reason == "as0"
    with pytest.raises(VRPError, match=r"vrps.csv: line 3: .*maxLength 8"):
        parse_vrps("ASN,IP Prefix,Max Length,Trust Anchor\nAS1,1.0.0.0/24,24,x\n"
                   "AS1,1.0.0.0/24,8,x\n", "vrps.csv")
    with pytest.raises(VRPError, match=r"entry 2: .*ASN"):
        parse_vrps('{"roas": [{"asn": 1, "prefix": "1.0.0.0/24", "maxLength": 24},'
                   ' {"asn": "ASX", "prefix": "1.0.0.0/24", "maxLength": 24}]}', "r.json")
    with pytest.raises(VRPError, match="host bits"):
        parse_vrps('[{"asn": 1, "prefix": "1.0.0.1/24", "maxLength": 24}]', "r.json")
    routinator = tmp_path / "routinator.json"
    routinator.write_text('{"roas": [{"asn": "AS27725", "prefix": "190.6.64.0/19",'
                          ' "maxLength": 24, "ta": "lacnic"}]}')
    assert load_vrps(routinator).validate("190.6.65.0/24", 27725).state == "valid"


def test_rpki_invalid_alerts(watch):
    vrps = VRPSet([VRP(parse_prefix("190.6.64.0/19"), 24, 27725),
                   VRP(parse_prefix("200.0.0.0/16"), 16, 27725),
                   VRP(parse_prefix("181.225.224.0/19"), 32, 0)])
    # valid: no RPKI alert
    assert scan([el("190.6.64.0/19", (3356, 11960, 27725))], watch, vrps) == []
    alerts = scan([el("190.6.64.0/19", (3356, 666))], watch, vrps)
    assert types(alerts) == ["E|0", "rpki-invalid"]
    rpki = next(a for a in alerts if a.type == "rpki-invalid")
    assert (rpki.reason, rpki.offending_asn, rpki.legitimate_origins) == (
        "invalid-asn", 666, [27725])
    # an unwatched prefix originated by a State ASN, too long for its ROA
    alerts = scan([el("200.0.1.0/24", (3356, 11960, 27725))], watch, vrps)
    assert types(alerts) == ["rpki-invalid"]
    assert (alerts[0].reason, alerts[0].watched_prefix) == ("invalid-length", None)
    alerts = scan([el("181.225.224.0/24", (3356, 666))], watch, vrps)
    assert types(alerts) == ["Q|0", "rpki-invalid"]
    assert next(a for a in alerts if a.type == "rpki-invalid").reason == "as0"
    # not-found outside the State: nothing
    assert scan([el("8.8.8.0/24", (3356, 15169))], watch, vrps) == []


# ----------------------------------------------------------------- AS relationships


ASREL = """\
# source: hand-made for tests
# provider|customer|-1, peer|peer|0
174|666|-1
3356|666|-1
174|3356|0
3356|11960|-1
11960|27725|-1
174|27725|-1
6939|3356|0
1299|174|0
"""


def test_asrel_parse_and_valley_free():
    rels = ASRelationships.parse(ASREL.splitlines())
    assert len(rels) == 8
    assert rels.relation(174, 666) == "provider"
    assert rels.relation(666, 174) == "customer"
    assert rels.relation(174, 3356) == "peer"
    # customer -> provider -> peer -> customer: fine
    assert valley_free((6939, 3356, 11960, 27725), rels) is None
    # 666 learned 27725's route from provider 174 and gave it to provider 3356: a leak
    leak = valley_free((6939, 3356, 666, 666, 174, 27725), rels)
    assert leak is not None
    assert leak.leaker == 666
    assert leak.triple == (3356, 666, 174)
    assert (leak.learned_from, leak.sent_to) == ("provider", "provider")
    # peer route passed to another peer: 174 got it from peer 3356 and gave it to peer 1299
    leak = valley_free((1299, 174, 3356, 11960, 27725), rels)
    assert leak is not None and leak.leaker == 174
    # unknown links are skipped, not guessed
    assert valley_free((64500, 64501, 64502), rels) is None
    assert valley_free((3356, frozenset({666, 174}), 27725), rels) is None


def test_asrel_errors_and_gzip(tmp_path):
    with pytest.raises(ASRelError, match="line 2"):
        ASRelationships.parse(["1|2|-1", "1|2|5"], "rel.txt")
    with pytest.raises(ASRelError, match="line 1"):
        ASRelationships.parse(["1|x|-1"], "rel.txt")
    path = tmp_path / "20261101.as-rel.txt.gz"
    path.write_bytes(gzip.compress(ASREL.encode()))
    assert len(ASRelationships.load(path)) == 8


def test_route_leak_alert(watch):
    rels = ASRelationships.parse(ASREL.splitlines())
    leak_path = (6939, 3356, 666, 174, 27725)
    assert "route-leak" not in types(scan([el("190.6.64.0/19", leak_path)], watch))
    alerts = scan([el("190.6.64.0/19", leak_path)], watch, asrel=rels)
    leak = next(a for a in alerts if a.type == "route-leak")
    assert leak.offending_asn == 666
    assert leak.details["triple"] == [3356, 666, 174]
    assert scan([el("190.6.64.0/19", (6939, 3356, 11960, 27725))], watch, asrel=rels) == []


# ----------------------------------------------------------------- visibility


def _peers(n: int) -> list[tuple[str, str, int]]:
    return [("rrc00", f"192.0.2.{i}", 64500 + i) for i in range(n)]


def _filler(peer, count: int, kind: str = "B", t: int = 1_700_000_000):
    return [el(f"100.{i // 256}.{i % 256}.0/24", (peer[2], 64999), kind=kind, t=t, peer=peer)
            for i in range(count)]


def test_visibility_loss_over_a_rib(watch):
    options = ScanOptions(full_feed_v4=10, full_feed_v6=10)
    peers = _peers(4)
    elements = []
    for index, peer in enumerate(peers):
        elements += _filler(peer, 12)
        if index == 0:  # only one of four full-feed peers sees 190.6.64.0/19
            elements.append(el("190.6.64.0/19", (peer[2], 11960, 27725), kind="B", peer=peer))
        for prefix in ("152.206.0.0/16", "5.0.0.0/16"):
            elements.append(el(prefix, (peer[2], 11960, 27725 if prefix[0] == "1" else 29256),
                               kind="B", peer=peer))
    # a small peer (not full-feed) does not count
    elements.append(el("190.6.64.0/19", (1, 11960, 27725), kind="B",
                       peer=("rrc00", "192.0.2.99", 1)))
    scanner = Scanner(watch, options=options)
    for element in elements:
        scanner.feed(element)
    alerts = scanner.finish()
    assert types(alerts) == ["visibility-loss"]
    alert = alerts[0]
    assert alert.prefix == "190.6.64.0/19"
    assert alert.details["share"] == 0.25
    assert alert.details["full_feed_peers"] == 4
    assert alert.details["mode"] == "rib"
    assert alert.peers == 3
    assert scanner.stats.full_feed_peers == 4
    # the IPv6 prefix has no IPv6 full-feed peer: not evaluated, no alert


def test_visibility_over_updates_with_withdrawals(watch):
    options = ScanOptions(full_feed_v4=10, visibility_bucket=300)
    peers = _peers(4)
    t0 = 1_700_000_100
    elements = []
    for peer in peers:
        elements += _filler(peer, 12, kind="A", t=t0)
        elements.append(el("190.6.64.0/19", (peer[2], 11960, 27725), t=t0, peer=peer))
    # next bucket: three of four withdraw
    for peer in peers[:3]:
        elements.append(el("190.6.64.0/19", kind="W", t=t0 + 400, peer=peer))
    # one more bucket later: they come back
    for peer in peers[:3]:
        elements.append(el("190.6.64.0/19", (peer[2], 11960, 27725), t=t0 + 1300, peer=peer))
    alerts = scan(elements, watch, options=options)
    assert types(alerts) == ["visibility-loss"]
    alert = alerts[0]
    assert alert.details["mode"] == "updates"
    assert alert.details["share"] == 0.25
    assert alert.first_seen == (t0 + 400) // 300 * 300 + 300


def test_visibility_needs_full_feed_peers(watch):
    scanner = Scanner(watch)
    for element in _filler(PEER, 5):
        scanner.feed(element)
    assert scanner.finish() == []
    assert any("no full-feed peer" in note for note in scanner.stats.notes)


def test_visibility_peer_down(watch):
    options = ScanOptions(full_feed_v4=10)
    peers = _peers(2)
    scanner = Scanner(watch, options=options)
    t0 = 1_700_000_100
    for peer in peers:
        for element in [*_filler(peer, 12, "A", t0),
                        el("190.6.64.0/19", (peer[2], 11960, 27725), t=t0, peer=peer)]:
            scanner.feed(element)
    scanner.peer_down(*peers[0])
    scanner.peer_down(*peers[1])
    scanner.feed(el("8.8.8.0/24", (3356, 15169), t=t0 + 600))
    alerts = scanner.finish()
    assert types(alerts) == ["visibility-loss"]
    assert alerts[0].details["share"] == 0.0


# ----------------------------------------------------------------- RIS-Live


def test_rislive_libbgpstream_stream():
    stats = RisLiveStats()
    elements = list(read_rislive(FIXTURES / "rislive" / "libbgpstream_ris-live-stream.json",
                                 stats))
    assert len(elements) == 1
    element = elements[0]
    assert (element.kind, element.prefix, element.peer_asn, element.collector) == (
        "A", "45.161.192.0/23", 11708, "rrc00")
    assert element.time == 1553627987
    assert element.origin() == 268481
    assert stats.errors == 1  # ris_error
    assert len(stats.peer_states) == 1 and stats.peer_states[0]["state"] == "down"
    assert stats.skipped == 3  # OPEN, NOTIFICATION, KEEPALIVE
    assert stats.malformed == [(7, "invalid JSON: Expecting ',' delimiter")]


def test_rislive_bgpkit_single_object():
    stats = RisLiveStats()
    elements = list(read_rislive(FIXTURES / "rislive" / "bgpkit-parser_ris_live_raw_full.json",
                                 stats))
    assert [e.prefix for e in elements] == ["2a0e:97c7::/48", "2a0e:97c6:fe::/48",
                                             "2a10:cc42:17b7::/48", "2a10:cc42:1feb::/48"]
    assert {e.collector for e in elements} == {"rrc10"}
    assert elements[0].as_path == (201333, 6762, 174, 20473)
    assert elements[0].communities == ("6762:30", "6762:14400")
    assert stats.malformed == []


@pytest.mark.skipif(not (SHARED_BGP / "rislive").exists(), reason="../shared/data absent")
def test_rislive_shared_files_replay():
    for path in sorted((SHARED_BGP / "rislive").glob("*.json")):
        stats = RisLiveStats()
        assert list(read_rislive(path, stats))
        assert stats.frames >= 1


def _frame(data: dict) -> dict:
    base = {"timestamp": 1700000000.5, "peer": "192.0.2.1", "peer_asn": "3356",
            "host": "rrc10.ripe.net", "type": "UPDATE"}
    base.update(data)
    return {"type": "ris_message", "data": base}


def test_rislive_layouts_and_host(tmp_path):
    frames = [
        _frame({"path": [3356, 174, [666, 667]], "community": [[3356, 1]],
                "announcements": [{"next_hop": "192.0.2.1",
                                   "prefixes": ["190.6.64.0/19", "190.6.70.1/24"]}]}),
        _frame({"withdrawals": ["190.6.64.0/19"]}),
    ]
    array = tmp_path / "array.json"
    array.write_text(json.dumps(frames, indent=2))
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n".join(json.dumps(f, indent=2) for f in frames))
    lines = tmp_path / "lines.jsonl.gz"
    lines.write_bytes(gzip.compress("\n".join(json.dumps(f) for f in frames).encode()))
    for path in (array, pretty, lines):
        elements = list(read_rislive(path))
        assert [(e.kind, e.prefix) for e in elements] == [
            ("A", "190.6.64.0/19"), ("A", "190.6.70.0/24"), ("W", "190.6.64.0/19")], path
        assert elements[0].collector == "rrc10"
        assert elements[0].as_path == (3356, 174, frozenset({666, 667}))
        assert elements[0].communities == ("3356:1",)
        assert elements[0].time == 1700000000


def test_rislive_malformed_frames_are_counted(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([
        json.dumps(_frame({"announcements": [{"prefixes": ["10.0.0.0/8"]}], "path": [1]})),
        "[1, 2",
        "42",
        json.dumps(_frame({"peer_asn": "x"})),
        json.dumps(_frame({"announcements": [{"prefixes": ["not-a-prefix"]}]})),
        json.dumps({"type": "ris_message"}),
        "",
        json.dumps(_frame({"path": [1], "announcements": [{"prefixes": ["10.1.0.0/16"]}]})),
    ]))
    stats = RisLiveStats()
    elements = list(read_rislive(path, stats))
    assert [e.prefix for e in elements] == ["10.0.0.0/8", "10.1.0.0/16"]
    assert [line for line, _ in stats.malformed] == [2, 3, 4, 5, 6]


def test_rislive_truncated_gzip_and_blank_lines(tmp_path):
    body = "\n\n" + "\n".join(json.dumps(_frame({
        "path": [1], "announcements": [{"prefixes": [f"10.{i}.0.0/16"]}]})) for i in range(300))
    path = tmp_path / "cut.jsonl.gz"
    data = gzip.compress(body.encode())
    path.write_bytes(data[: len(data) // 2])
    stats = RisLiveStats()
    elements = list(read_rislive(path, stats))
    assert 0 < len(elements) < 300
    assert stats.truncated and "compressed data" in stats.malformed[-1][1]
    broken = tmp_path / "blank.jsonl"
    broken.write_text("\n\n" + json.dumps(_frame({})) + "\n{oops\n")
    stats = RisLiveStats()
    list(read_rislive(broken, stats))
    assert stats.malformed == [(4, "invalid JSON: Expecting property name enclosed in double "
                                   "quotes")]


def test_rislive_replay_through_scan(watch, tmp_path):
    path = tmp_path / "hijack.jsonl"
    path.write_text(json.dumps(_frame({
        "path": [3356, 174, 666],
        "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["190.6.64.0/19"]}]})) + "\n")
    alerts = scan(read_rislive(path), watch)
    assert types(alerts) == ["E|0"]
    assert alerts[0].collectors == ["rrc10"]
    assert alerts[0].samples == []  # RIS-Live has no MRT bytes


# ----------------------------------------------------------------- watch list


def test_watch_list_loads(watch):
    assert sorted(watch.states) == ["CU", "SY"]
    cu = watch.states["CU"]
    assert cu.name == "Cuba" and cu.asns == {27725} and cu.neighbors == {11960}
    first = cu.prefixes[0]
    assert (str(first.prefix), first.max_length, first.origins, first.line) == (
        "190.6.64.0/19", 24, {27725}, 7)
    assert cu.prefixes[3].squat
    assert len(watch) == 5


@pytest.mark.parametrize(("text", "line", "message"), [
    ("states:\n  CU:\n    prefixes:\n      - prefix: 190.6.64.0/33\n", 4, "invalid prefix"),
    ("states:\n  CU:\n    prefixes:\n      - 190.6.64.1/19\n", 4, "host bits"),
    ("states:\n  CU:\n    prefixes:\n      - prefix: 190.6.64.0/19\n        max_length: 16\n",
     5, "max_length 16"),
    ("states:\n  CU:\n    prefixes:\n      - prefix: 190.6.64.0/19\n        max_length: 33\n",
     5, "max_length 33"),
    ("states:\n  CU:\n    prefixes:\n      - prefix: 2001:db8::/32\n        max_length: 129\n",
     5, "max_length 129"),
    ("states:\n  CU:\n    asns: [27725, 4294967296]\n", 3, "out of range"),
    ("states:\n  CU:\n    asns: [-1]\n", 3, "out of range"),
    ("states:\n  CU:\n    prefixes:\n      - prefix: 10.0.0.0/8\n        origins: [ASX]\n",
     5, "not an ASN"),
    ("states:\n  Cuba:\n    asns: [1]\n", 2, "ISO 3166"),
    ("states:\n  cu:\n    asns: [1]\n", 2, "ISO 3166"),
    ("states:\n  CU:\n    asns: [1]\n    prefixes:\n      - 10.0.0.0/8\n  VE:\n"
     "    prefixes:\n      - 10.0.0.0/8\n", 8, r"duplicate prefix 10.0.0.0/8 \(first on line 5\)"),
    ("states:\n  CU:\n    asns: [1]\n  CU:\n    asns: [2]\n", 4, "duplicate"),
    ("states:\n  CU:\n    asn: [1]\n", 3, "unknown key 'asn'"),
    ("states:\n  CU:\n    prefixes:\n      - prefix: [10.0.0.0/8\n", 5, "invalid YAML"),
    ("states:\n  CU:\n    prefixes:\n      - 10.0.0.0/8\n", 4, "has no origins"),
    ("- 1\n- 2\n", 1, "must be a mapping"),
    ("states: [CU]\n", 1, "'states' must be a mapping"),
])
def test_watch_list_errors_name_the_line(text, line, message):
    with pytest.raises(WatchListError, match=message) as info:
        loads(text, "w.yaml")
    assert info.value.line == line
    assert str(info.value).startswith(f"w.yaml: line {line}: ")


def test_watch_list_refuses_aliases_and_huge_files(tmp_path):
    bomb = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nstates: {}\n")
    with pytest.raises(WatchListError, match=r"line 2: YAML aliases \(\*a\)"):
        loads(bomb, "bomb.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("states:\n" + "#" * 100 + "\n")
    with pytest.raises(WatchListError, match="too large"):
        load(big, max_bytes=50)
    with pytest.raises(WatchListError, match="too large"):
        loads("x" * 5_000_000)
    with pytest.raises(WatchListError, match="empty"):
        loads("")
    with pytest.raises(WatchListError, match="cannot read"):
        load(tmp_path / "missing.yaml")


def test_from_vrps_and_dump_roundtrip():
    vrps = load_vrps(FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json")
    watch = from_vrps(vrps, "AU", [1221], name="Australia", neighbors=[4637])
    state = watch.states["AU"]
    assert state.asns == {1221}
    assert len(state.prefixes) == sum(1 for v in vrps if v.asn == 1221)
    assert all(p.origins == {1221} for p in state.prefixes)
    one = next(p for p in state.prefixes if str(p.prefix) == "1.120.0.0/13")
    assert one.max_length == 13
    again = loads(watch.dump_yaml(), "dumped.yaml")
    assert again.to_data() == watch.to_data()
    # the shared 103.138.210.0/24 (AS0 + AS1221) is watched for 1221 only
    assert any(str(p.prefix) == "103.138.210.0/24" for p in state.prefixes)
    with pytest.raises(WatchListError):
        from_vrps(vrps, "Australia", [1221])


# ----------------------------------------------------------------- CLI


def _write_watch(tmp_path: Path) -> Path:
    path = tmp_path / "watch.yaml"
    path.write_text(WATCH)
    return path


def _rislive_file(tmp_path: Path) -> Path:
    path = tmp_path / "rrc10.jsonl"
    frames = [
        _frame({"path": [3356, 174, 666],
                "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["190.6.64.0/19"]}]}),
        _frame({"path": [3356, 11960, 27725],
                "announcements": [{"next_hop": "192.0.2.1", "prefixes": ["152.206.0.0/16"]}]}),
        {"type": "ris_message", "data": {"timestamp": 1700000001, "peer": "192.0.2.1",
                                         "peer_asn": "3356", "host": "rrc10.ripe.net",
                                         "type": "RIS_PEER_STATE", "state": "down"}},
    ]
    path.write_text("\n".join(json.dumps(f) for f in frames) + "\n{broken\n")
    return path


def test_cli_scan_writes_alerts(tmp_path, capsys):
    output = tmp_path / "alerts.jsonl"
    code = cli.main(["scan", "--rislive", str(_rislive_file(tmp_path)),
                     "--watch", str(_write_watch(tmp_path)),
                     "--vrp", str(FIXTURES / "rpki" / "stayrtr_test.rpki.json"),
                     "--output", str(output), "--quiet"])
    assert code == 0
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert [a["type"] for a in lines] == ["E|0"]
    assert lines[0]["offending_asn"] == 666
    out = capsys.readouterr()
    assert "E|0" in out.out and "190.6.64.0/19" in out.out
    assert "line 4" in out.err  # the broken frame is reported


def test_cli_bad_input_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("states:\n  CU:\n    asns: [99999999999]\n")
    rislive = _rislive_file(tmp_path)
    code = cli.main(["scan", "--rislive", str(rislive), "--watch", str(bad),
                     "--output", str(tmp_path / "a.jsonl"), "-q"])
    assert code == 2
    assert f"{bad}: line 3:" in capsys.readouterr().err
    assert not (tmp_path / "a.jsonl").exists()
    code = cli.main(["scan", "--rislive", str(tmp_path / "nope.json"),
                     "--watch", str(_write_watch(tmp_path)), "--output", str(tmp_path / "a")])
    assert code == 2
    assert "nope.json: no such file" in capsys.readouterr().err
    vrp = tmp_path / "v.csv"
    vrp.write_text("ASN,IP Prefix,Max Length,Trust Anchor\nAS1,1.0.0.0/24,x,y\n")
    code = cli.main(["scan", "--rislive", str(rislive), "--watch", str(tmp_path / "watch.yaml"),
                     "--vrp", str(vrp), "--output", str(tmp_path / "a")])
    assert code == 2
    assert "v.csv: line 2: maxLength" in capsys.readouterr().err
    code = cli.main(["scan", "--watch", str(tmp_path / "watch.yaml"), "--output", "x"])
    assert code == 2
    code = cli.main(["scan", "--rislive", str(rislive), "--watch", str(tmp_path / "watch.yaml"),
                     "--output", "x", "--visibility-threshold", "2"])
    assert code == 2
    assert "--visibility-threshold" in capsys.readouterr().err
    code = cli.main(["scan", "--rislive", str(rislive), "--watch", str(tmp_path / "watch.yaml"),
                     "--output", str(tmp_path / "no" / "such" / "a.jsonl"), "-q"])
    assert code == 1
    assert "No such file" in capsys.readouterr().err
    assert cli.main(["scan", "--bogus"]) == 2


@pytest.mark.parametrize("sub", ["scan", "vrp-to-watch"])
def test_cli_help_shows_example(sub, capsys):
    assert cli.main([sub, "--help"]) == 0
    assert "example:" in capsys.readouterr().out


def test_cli_vrp_to_watch(tmp_path, capsys):
    code = cli.main(["vrp-to-watch", "--vrp", str(FIXTURES / "rpki" / "stayrtr_test.rpki.json"),
                     "--state", "AU", "--asn", "AS13335", "--asn", "38803"])
    assert code == 0
    text = capsys.readouterr().out
    watch = loads(text)
    assert {str(p.prefix) for p in watch.states["AU"].prefixes} >= {"1.0.0.0/24", "1.0.4.0/22"}
    assert cli.main(["vrp-to-watch", "--vrp", str(FIXTURES / "rpki" / "stayrtr_test.rpki.json"),
                     "--state", "Cuba", "--asn", "1"]) == 2
    assert "ISO 3166" in capsys.readouterr().err


def test_cli_scan_bundle_signed_and_verifies(tmp_path, capsys):
    bundle = pytest.importorskip("sentinelle.evidence.bundle")
    keys = pytest.importorskip("sentinelle.evidence.keys")
    private, public = keys.generate(tmp_path / "cirt.key")
    output = tmp_path / "alerts.jsonl"
    zip_path = tmp_path / "scan.zip"
    code = cli.main(["scan", "--rislive", str(_rislive_file(tmp_path)),
                     "--watch", str(_write_watch(tmp_path)), "--output", str(output),
                     "--bundle", str(zip_path), "--sign-key", str(private), "-q"])
    assert code == 0
    result = bundle.verify(zip_path, keys.load_public(public))
    assert result.ok, result.problems
    manifest = result.manifest
    assert manifest["kind"] == "routing-scan"
    summary = manifest["summary"]
    assert summary["states"] == ["CU", "SY"]
    assert summary["watch"] == "watch.yaml"
    assert summary["sources"][0]["name"] == "rrc10.jsonl"
    assert summary["sources"][0]["records"] == 3
    assert summary["sources"][0]["skipped"] == 1
    assert len(summary["sources"][0]["sha256"]) == 64
    assert [a["type"] for a in summary["alerts"]] == ["E|0"]
    assert bundle.read_member(zip_path, "alerts.jsonl") == output.read_bytes()
    assert bundle.read_member(zip_path, "watch.yaml").decode() == WATCH
    assert cli.main(["scan", "--rislive", "x", "--watch", "w", "--output", "o",
                     "--sign-key", str(private)]) == 2


def test_cli_dump_delegates_or_says_unavailable(tmp_path, capsys):
    try:
        import sentinelle.observatory.routing.dump  # noqa: F401
    except ImportError:
        assert cli.main(["dump", "x.mrt"]) == 2
        assert "unavailable" in capsys.readouterr().err
    else:
        assert cli.main(["dump", "--help"]) in (0, None)


MRT_UPDATES = SHARED_BGP / "mrt" / "bgpkit-parser" / "ripe" / "rrc15" / "2010.02" / \
    "updates.20100227.1610.gz"
MRT_RIB = SHARED_BGP / "mrt" / "pyasn" / "rib.20140523.0600_firstMB.bz2"


@pytest.mark.skipif(not MRT_UPDATES.exists(), reason="../shared/data absent")
def test_cli_scan_real_ris_updates(tmp_path, capsys):
    pytest.importorskip("sentinelle.observatory.routing.mrt")
    watch = tmp_path / "watch.yaml"
    # 199.60.22.0/24 is originated by AS18747 in this file; pretend the State owns it
    watch.write_text("states:\n  CA:\n    asns: [64999]\n    prefixes:\n"
                     "      - prefix: 199.60.0.0/16\n        origins: [64999]\n"
                     "        max_length: 24\n")
    output = tmp_path / "alerts.jsonl"
    assert cli.main(["scan", "--mrt", str(MRT_UPDATES), "--watch", str(watch),
                     "--output", str(output), "-q"]) == 0
    alerts = [json.loads(line) for line in output.read_text().splitlines()]
    hijack = next(a for a in alerts if a["prefix"] == "199.60.22.0/24")
    assert (hijack["type"], hijack["offending_asn"], hijack["collectors"]) == (
        "S|0", 18747, ["rrc15"])
    assert hijack["peers"] > 1
    assert hijack["first_seen_iso"].startswith("2010-02-27T16:")
    assert hijack["samples"] >= 1


@pytest.mark.skipif(not MRT_RIB.exists(), reason="../shared/data absent")
def test_cli_scan_rib_bundle_records_start_with_peer_index(tmp_path):
    pytest.importorskip("sentinelle.observatory.routing.mrt")
    bundle = pytest.importorskip("sentinelle.evidence.bundle")
    from sentinelle.observatory.routing.mrt import read_elements

    watch = tmp_path / "watch.yaml"
    watch.write_text("states:\n  CN:\n    prefixes:\n      - prefix: 1.8.8.0/24\n"
                     "        origins: [64999]\n")
    zip_path = tmp_path / "rib.zip"
    assert cli.main(["scan", "--mrt", str(MRT_RIB), "--watch", str(watch), "--output",
                     str(tmp_path / "a.jsonl"), "--bundle", str(zip_path), "-q",
                     "--full-feed-v4", "5000"]) == 0
    summary = bundle.read_manifest(zip_path)["summary"]
    alert = next(a for a in summary["alerts"] if a["type"] == "E|0")
    assert alert["offending_asn"] == 38345
    assert summary["sources"][0]["records"] > 9000
    records = bundle.read_member(zip_path, f"records/{alert['id']}.mrt")
    # TABLE_DUMP_V2 (13) / PEER_INDEX_TABLE (1) first, so the file decodes on its own
    assert (int.from_bytes(records[4:6], "big"), int.from_bytes(records[6:8], "big")) == (13, 1)
    replayed = [e for e in read_elements(io_bytes(records)) if e.prefix == "1.8.8.0/24"]
    assert replayed and all(e.peer_ip for e in replayed)


def io_bytes(data: bytes):
    import io

    return io.BytesIO(data)
