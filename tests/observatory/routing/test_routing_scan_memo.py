"""The scanner's round-3 fast paths (issue 17) give what the code they replaced gave.

`Scanner._detect` makes each finding once per prefix run and key (origin and first hop, leak,
RPKI origin) instead of once per route; `first_hop` replaces `deprepend(path)[-2]`; alert
keys and path texts are remembered; `feed_all` and `finish` pause the cyclic garbage
collector. Each is compared here with the code as it was (copied below) on the same routes:
IPv4 and IPv6, RIB runs of one prefix over many peers, AS_SET origins and hops, prepending,
private ASNs, a squatted prefix, max-length, first-hop lists, leaks and RPKI invalids for
two States.
"""

from __future__ import annotations

import gc
import hashlib
import random
from typing import Any

import pytest

from sentinelle.observatory.routing import detectors
from sentinelle.observatory.routing.asrel import ASRelationships, deprepend, first_hop
from sentinelle.observatory.routing.detectors import (
    Finding,
    alert_key,
    detect_hijack,
    detect_leak,
    path_text,
    rpki_finding,
)
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.rpki import VRPSet, load_vrps, parse_vrps
from sentinelle.observatory.routing.scan import Scanner, ScanOptions, _network
from sentinelle.observatory.routing.watchlist import load, loads
from tests.paths import TESTS_DIR

HERE = TESTS_DIR
FIXTURES = HERE / "fixtures" / "bgp"
CONFIG = FIXTURES / "scan"

PRIVATE = [64512, 65000, 65534, 4_200_000_000, 4_294_967_294]
WATCH = """states:
  CU:
    asns: [27725, 64512]
    neighbors: [11960]
    prefixes:
      - prefix: 190.6.64.0/19
        max_length: 22
      - prefix: 190.6.96.0/20
        origins: []
      - prefix: 2001:db8:cc00::/40
        max_length: 48
        neighbors: [6939, 4200000000]
  SY:
    asns: [29256]
    neighbors: [3356]
    prefixes:
      - 190.6.0.0/16
      - 2001:db8::/32
"""
VRPS = """ASN,IP Prefix,Max Length,Trust Anchor
AS27725,190.6.64.0/19,21,lacnic
AS29256,190.6.0.0/16,16,ripe
AS0,190.6.96.0/20,24,lacnic
AS27725,2001:db8:cc00::/40,44,lacnic
AS29256,5.0.0.0/16,24,ripe
"""
PREFIXES = ["190.6.64.0/19", "190.6.70.0/23", "190.6.70.0/24", "190.6.97.0/24",
            "190.6.0.0/16", "190.6.200.0/24", "190.6.64.1/19", "5.0.1.0/24",
            "2001:db8:cc00::/40", "2001:db8:cc10::/44", "2001:db8:cc10::/48",
            "2001:db8:cc10::/56", "2001:db8:1::/48", "9.9.9.0/24"]
HOPS = [3356, 174, 1299, 6939, 11960, 27725, 29256, 666, *PRIVATE]
ORIGINS = [27725, 29256, 64512, 666, 3356, frozenset({27725, 666}), frozenset({666, 667}),
           4_200_000_000]


def _detect_hijack_before(element, network, watched, state):
    """`detect_hijack` as it was before round 3 (deprepend, a closure per call)."""
    origin = element.origin()
    if origin is None:
        return None
    exact = network.prefixlen == watched.prefix.prefixlen
    scope = "E" if exact else "S"

    def base() -> dict[str, Any]:
        return dict(state=state.code, prefix=str(network), watched_prefix=str(watched.prefix),
                    legitimate_origins=watched.origins)

    as_set = origin if isinstance(origin, frozenset) else None
    offending = origin if isinstance(origin, int) else None
    if watched.squat:
        return Finding("Q|0", offending_asn=offending, as_set=as_set, **base())
    if isinstance(origin, int):
        legitimate = origin in watched.origins
    else:
        legitimate = bool(origin & watched.origins)
    if not legitimate:
        return Finding(f"{scope}|0", offending_asn=offending, as_set=as_set, **base())
    if not exact and network.prefixlen > watched.max_length:
        return Finding("S|-", offending_asn=offending, reason="beyond-max-length",
                       details={"max_length": watched.max_length}, **base())
    allowed = state.allowed_neighbors(watched)
    if not allowed or not isinstance(origin, int):
        return None
    hops = deprepend(element.as_path)
    if len(hops) < 2:
        return None
    neighbor = hops[-2]
    if not isinstance(neighbor, int):
        return None
    if neighbor in allowed or neighbor in state.asns or neighbor in watched.origins:
        return None
    return Finding(f"{scope}|1", offending_asn=neighbor,
                   details={"origin": origin, "allowed_neighbors": sorted(allowed)}, **base())


class PlainScanner(Scanner):
    """The scanner with `_detect` as it was before round 3: every detector on every route."""

    def _detect(self, element, network, watched_all, origin, origin_states):
        stats = self.stats
        stats.matched += 1
        if origin is None:
            stats.no_origin += 1
            return
        matches = {}
        for watched in watched_all:
            matches[watched.state] = watched
        store = self.store
        for code, watched in matches.items():
            state = self.watch.states[code]
            finding = _detect_hijack_before(element, network, watched, state)
            if finding is not None:
                store.record(finding, element)
            if self.asrel is not None:
                leak = detect_leak(element, network, watched, self.asrel)
                if leak is not None:
                    store.record(leak, element)
        if self.vrps is not None:
            validation = self.vrps.validate(network, origin)
            if validation.state == "invalid":
                for code in dict.fromkeys([*matches, *origin_states]):
                    finding = rpki_finding(validation, element, network, code,
                                           matches.get(code))
                    if finding is not None:
                        store.record(finding, element)


def _path(rng: random.Random, origin) -> tuple:
    hops = [rng.choice(HOPS) for _ in range(rng.randint(0, 4))]
    if rng.random() < 0.15:
        hops.insert(rng.randint(0, len(hops)), frozenset(rng.sample(HOPS, 2)))
    path: list = []
    for hop in [*hops, origin]:
        path.extend([hop] * rng.choice([1, 1, 1, 2, 3]))  # prepending
    return tuple(path)


def _routes(seed: int) -> list[Element]:
    """RIB runs (one prefix, many peers, as a TABLE_DUMP_V2 record lists them) and updates."""
    rng = random.Random(seed)
    peers = [("192.0.2.1", 3356), ("192.0.2.2", 174), ("2001:db8::1", 6939),
             ("192.0.2.3", 64512), ("192.0.2.4", 11960)]
    routes = []
    t = 1_700_000_000
    for _ in range(120):  # a RIB: each prefix once per peer, in a row
        prefix = rng.choice(PREFIXES)
        origin = rng.choice(ORIGINS)
        for peer_ip, peer_asn in peers:
            if rng.random() < 0.8:
                path = (peer_asn, *_path(rng, rng.choice([origin, origin, *ORIGINS])))
                raw = bytes([rng.randint(0, 3)]) * 20
                routes.append(Element("B", t, peer_ip, peer_asn, prefix, path, "rrc00", raw,
                                      "rib.gz"))
    for _ in range(1500):  # updates after it, hours apart at times (new episodes)
        t += rng.choice([0, 1, 30, 5000])
        peer_ip, peer_asn = rng.choice(peers)
        kind = rng.choice("AAAAW")
        path = () if kind == "W" else (peer_asn, *_path(rng, rng.choice(ORIGINS)))
        if kind == "A" and rng.random() < 0.03:
            path = ()
        routes.append(Element(kind, t, peer_ip, peer_asn, rng.choice(PREFIXES), path, "rrc00",
                              bytes([rng.randint(0, 9)]) * 8, "updates.gz"))
    return routes


def _outcome(scanner: Scanner) -> tuple:
    alerts = scanner.finish()
    return ([(a.to_dict(), a.samples, a.sample_sources, sorted(a.peer_set)) for a in alerts],
            scanner.stats.to_dict())


def _config():
    watch = loads(WATCH, "w.yaml")
    vrps = parse_vrps(VRPS, "v.csv")
    rels = ASRelationships.parse(
        ["3356|174|-1", "174|27725|-1", "1299|27725|-1", "3356|1299|0", "174|1299|0",
         "6939|29256|-1", "3356|6939|0", "11960|27725|-1", "3356|11960|-1", "1299|64512|-1",
         "65000|666|-1", "3356|65000|0", "174|4200000000|0", "4200000000|29256|-1"])
    return watch, vrps, rels


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_memoised_detectors_give_the_findings_of_every_detector_on_every_route(seed):
    watch, vrps, rels = _config()
    routes = _routes(seed)
    options = {"full_feed_v4": 3, "full_feed_v6": 1, "visibility_bucket": 600}
    plain = PlainScanner(watch, vrps, rels, ScanOptions(**options))
    for route in routes:
        plain.feed(route)
    before = _outcome(plain)
    for one_by_one in (True, False):
        scanner = Scanner(watch, vrps, rels, ScanOptions(**options))
        if one_by_one:
            for route in routes:
                scanner.feed(route)
        else:
            scanner.feed_all(routes)
        assert _outcome(scanner) == before
    types = {alert["type"] for alert, *_ in before[0]}
    # every detector the memo covers found something in these routes
    assert types >= {"E|0", "S|0", "E|1", "S|1", "S|-", "Q|0", "rpki-invalid", "route-leak"}
    assert any(alert["as_set"] for alert, *_ in before[0])
    assert any(alert["episode"] > 1 for alert, *_ in before[0])


def test_detect_hijack_equals_the_version_with_deprepend():
    watch, _, _ = _config()
    rng = random.Random(7)
    compared = first_hop_findings = 0
    for _ in range(4000):
        prefix = rng.choice(PREFIXES)
        network = _network(prefix)
        path = (rng.choice(HOPS), *_path(rng, rng.choice(ORIGINS)))
        element = Element("A", 1, "192.0.2.1", path[0], prefix, path)
        for watched in watch.lookup(network.version, int(network.network_address),
                                    network.prefixlen):
            state = watch.states[watched.state]
            new = detect_hijack(element, network, watched, state)
            assert new == _detect_hijack_before(element, network, watched, state)
            compared += 1
            first_hop_findings += new is not None and new.type.endswith("|1")
    assert compared > 3000 and first_hop_findings > 100


def test_first_hop_is_the_second_to_last_hop_once_prepending_is_collapsed():
    rng = random.Random(11)
    paths: list[tuple] = [(), (1,), (1, 1, 1), (2, 1), (2, 1, 1), (1, 2, 2, 1, 1),
                          (frozenset({1, 2}), 3), (3, frozenset({1, 2}), frozenset({2, 1})),
                          (65000, 4_200_000_000, 4_200_000_000), (64512, [1, 2], 7)]
    for _ in range(3000):
        paths.append(_path(rng, rng.choice(ORIGINS)))
    for path in paths:
        hops = deprepend(path)
        assert first_hop(path) == (hops[-2] if len(hops) >= 2 else None), path


def test_remembered_keys_and_path_texts_are_the_computed_ones():
    for args in [("E|0", "190.6.64.0/19", 666, "CU"), ("route-leak", "2001:db8::/32", None,
                                                        "SY")] * 2:
        text = f"{args[0]}|{args[1]}|{'' if args[2] is None else args[2]}|{args[3]}"
        assert alert_key(*args) == hashlib.sha256(text.encode()).hexdigest()[:20]
    for _ in range(2):
        assert path_text((3356, 3356, frozenset({65001, 64512}))) == "3356 3356 {64512,65001}"
        assert path_text((3356, [2, 1])) == "3356 {1,2}"  # type: ignore[arg-type]
    assert detectors._path_texts and detectors._alert_keys


def test_feed_all_and_finish_pause_the_collector_and_restore_it():
    watch, vrps, rels = _config()
    routes = _routes(5)[:300]
    states = []

    def watching(items, fail=False):
        for item in items:
            states.append(gc.isenabled())
            yield item
        if fail:
            raise RuntimeError("the reader failed")

    was = gc.isenabled()
    try:
        gc.enable()
        scanner = Scanner(watch, vrps, rels)
        scanner.feed_all(watching(routes))
        assert gc.isenabled() and states and not any(states)
        assert scanner.finish() and gc.isenabled()
        with pytest.raises(RuntimeError):
            Scanner(watch, vrps, rels).feed_all(watching(routes, fail=True))
        assert gc.isenabled()
        gc.disable()
        Scanner(watch, vrps, rels).feed_all(watching(routes))
        assert not gc.isenabled()
    finally:
        (gc.enable if was else gc.disable)()


@pytest.mark.parametrize("name", ["mrt/bgpkit-parser/updates.20000325.0345.gz",
                                  "mrt/mrtparse-samples/quagga_rib"])
def test_a_scan_makes_no_reference_cycles(name):
    """What makes pausing the collector safe: nothing the scan leaves behind needs it."""
    from sentinelle.observatory.routing.asrel import ASRelationships as Rels
    from sentinelle.observatory.routing.mrt import read_elements

    scanner = Scanner(load(CONFIG / "watch.yaml"),
                      load_vrps(FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json"),
                      Rels.load(CONFIG / "as-rel.txt.gz"),
                      ScanOptions(full_feed_v4=1, full_feed_v6=1))
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        assert scanner.feed_all(read_elements(str(FIXTURES / name))) > 0
        alerts = scanner.finish()
        assert gc.collect() == 0
    finally:
        if was:
            gc.enable()
    assert alerts


def test_vrp_validation_is_asked_once_per_prefix_run_and_origin(monkeypatch):
    """The memo's point on a RIB: one validation per origin of a prefix, not per peer."""
    watch, vrps, rels = _config()
    calls = []
    validate = VRPSet.validate

    def counting(self, prefix, origin):
        calls.append((str(prefix), origin))
        return validate(self, prefix, origin)

    monkeypatch.setattr(VRPSet, "validate", counting)
    scanner = Scanner(watch, vrps, rels, ScanOptions(visibility=False))
    for peer in range(1, 31):
        scanner.feed(Element("B", 1, f"192.0.2.{peer}", 3356, "190.6.70.0/24",
                             (3356, 174, 666), "rrc00"))
    assert calls == [("190.6.70.0/24", 666)]
    assert [a.peers for a in scanner.finish() if a.type == "rpki-invalid"] == [30, 30]  # CU and SY
