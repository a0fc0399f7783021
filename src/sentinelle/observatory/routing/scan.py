"""Stream routing Elements through the detectors; nothing holds the whole feed in memory.

`scan(elements, watch, vrps, asrel, options)` is the one-call form; `Scanner` is the same
thing fed element by element (the CLI uses it to show progress and to feed several files).

Visibility (the IODA definition): a peer is *full-feed* when it carries more than
``full_feed_v4`` IPv4 (default 400,000) or ``full_feed_v6`` IPv6 (10,000) prefixes. A watched
prefix is visible to a peer when that peer has a route to it or to a more-specific inside it.
A ``visibility-loss`` alert is raised when fewer than ``visibility_threshold`` (0.5) of the
full-feed peers whose state is known see it:

* over a RIB dump (elements of kind "B"), once the RIB has been read: every full-feed peer of
  the RIB is known, so a watched prefix absent from the RIB is reported with share 0;
* over update streams, at the end of every ``visibility_bucket`` (300 s, IODA's 5 minutes):
  announcements and withdrawals are applied to the state (started from a preceding RIB when
  there is one). Without a RIB, only peers that announced or withdrew something inside the
  watched prefix have a known state, and full-feed status comes from the number of distinct
  prefixes a peer announced (so short update files rarely reach it: lower the thresholds).

Counting distinct prefixes per peer for update streams keeps a set per peer until the peer
reaches the threshold; RIB entries are simply counted (a RIB lists each prefix once per peer).
"""

from __future__ import annotations

import gc
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from . import mrt_accel
from .asrel import ASRelationships, first_hop
from .detectors import (
    Alert,
    AlertStore,
    Finding,
    detect_hijack,
    leak_finding,
    rpki_finding,
)
from .elements import Element
from .prefixes import Network
from .rpki import VRPSet
from .visibility import VisibilityTracker
from .watchlist import StateWatch, WatchedPrefix, WatchList

_NO_MATCH: list = []  # shared, never modified: "no watched prefix / no State"
_UNSET = object()


@dataclass
class ScanOptions:
    dedup_window: int = 3600
    visibility: bool = True
    visibility_threshold: float = 0.5
    visibility_bucket: int = 300
    full_feed_v4: int = 400_000
    full_feed_v6: int = 10_000
    max_examples: int = 5


@dataclass
class ScanStats:
    elements: int = 0
    announcements: int = 0
    withdrawals: int = 0
    rib_entries: int = 0
    matched: int = 0  # elements touching a watched prefix or originated by a State's ASN
    no_origin: int = 0
    bad_prefix: int = 0
    visibility_evaluations: int = 0
    full_feed_peers: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


@lru_cache(maxsize=1 << 16)
def _network(prefix: str) -> Network:
    return ipaddress.ip_network(prefix, strict=False)


# canonical length texts ("0".."128"); anything else ("024", "+24", " 24") takes the slow path
_LENGTHS = {str(n): n for n in range(129)}
_MASKS = {version: [((1 << n) - 1) << (bits - n) for n in range(bits + 1)]
          for version, bits in ((4, 32), (6, 128))}


def parse_prefix_fast(prefix: str) -> tuple[int, int, int] | None:
    """(version, network address as int, length) of `prefix`, None when
    ``ipaddress.ip_network(prefix, strict=False)`` refuses it; the same answer as that call,
    without building the object (the scanner needs it for every route, and only the few
    that touch a watched prefix or a State's ASN need the object).

    Only the canonical text (what inet_ntoa/inet_ntop print, a length without sign, space or
    leading zero) is parsed here; every other text goes through ipaddress, so the two can
    never disagree on an unusual spelling."""
    address, _, length_text = prefix.partition("/")
    length = _LENGTHS.get(length_text)
    if length is not None:
        try:
            if ":" in address:
                packed = socket.inet_pton(socket.AF_INET6, address)
                if length <= 128 and socket.inet_ntop(socket.AF_INET6, packed) == address:
                    return 6, int.from_bytes(packed, "big") & _MASKS[6][length], length
            else:
                packed = socket.inet_aton(address)
                if length <= 32 and socket.inet_ntoa(packed) == address:
                    return 4, int.from_bytes(packed, "big") & _MASKS[4][length], length
        except (OSError, ValueError):
            pass  # not canonical text: let ipaddress decide
    try:
        network = _network(prefix)
    except ValueError:
        return None
    return network.version, int(network.network_address), network.prefixlen


def v4_prefix_code_py(prefix: str) -> int:
    """What `_mrt_accel.v4_prefix_code` computes, the way `Scanner.feed_all` tests it in
    Python: (address << 6) | length for IPv4 text exactly as inet_ntoa prints it with a
    canonical length up to 32, else -1 (for the tests and the fuzz target)."""
    address, _, length_text = prefix.partition("/")
    length = _LENGTHS.get(length_text)
    if length is None or length > 32 or ":" in address:
        return -1
    try:
        packed = socket.inet_aton(address)
    except (OSError, ValueError):
        return -1
    if socket.inet_ntoa(packed) != address:
        return -1
    return (int.from_bytes(packed, "big") << 6) | length


class Scanner:
    def __init__(self, watch: WatchList, vrps: VRPSet | None = None,
                 asrel: ASRelationships | None = None,
                 options: ScanOptions | None = None) -> None:
        self.watch = watch
        self.vrps = vrps
        self.asrel = asrel
        self.options = options or ScanOptions()
        self.store = AlertStore(self.options.dedup_window, self.options.max_examples)
        self.stats = ScanStats()
        self.visibility = (VisibilityTracker(watch, self.options, self.store, self.stats)
                           if self.options.visibility else None)
        self._watch_lookup = watch.lookup
        self._asn_states = watch.asn_states()
        self._last_prefix: str | None = None
        self._last_parsed: tuple[int, int, int] | None = None
        self._last_watched: list[WatchedPrefix] = _NO_MATCH
        # what the detectors concluded on the routes of the current prefix (`_detect`)
        self._run: _Run | None = None

    def feed(self, element: Element) -> None:
        stats = self.stats
        stats.elements += 1
        kind = element.kind
        if kind == "A":
            stats.announcements += 1
        elif kind == "W":
            stats.withdrawals += 1
        else:
            stats.rib_entries += 1
        prefix = element.prefix
        # a RIB lists one prefix for every peer in a row: parse and look it up once
        if prefix == self._last_prefix:
            parsed, watched_all = self._last_parsed, self._last_watched
        else:
            parsed = parse_prefix_fast(prefix)
            watched_all = (self._watch_lookup(*parsed) if parsed is not None
                           else _NO_MATCH)
            self._last_prefix = prefix
            self._last_parsed, self._last_watched = parsed, watched_all
            self._run = None
        if parsed is None:
            stats.bad_prefix += 1
            return
        if self.visibility is not None:
            self.visibility.observe_version(element, parsed[0], watched_all)
        if kind == "W":
            return
        as_path = element.as_path
        origin = as_path[-1] if as_path else None  # Element.origin()
        # ints key the dict; an AS_SET origin (frozenset) or None finds nothing, as before
        try:
            origin_states = self._asn_states.get(origin, _NO_MATCH)  # type: ignore[arg-type]
        except TypeError:  # an unhashable hop (a list, from a hand-made element)
            origin_states = _NO_MATCH
        if not watched_all and not origin_states:
            return  # the route touches nothing watched: most of a full table stops here
        self._detect(element, _network(prefix), watched_all, origin, origin_states)

    def feed_all(self, elements: Iterable[Element]) -> int:
        """`feed` every element; returns how many. The same state and findings as calling
        `feed` on each, with the common case handled here with local names: an IPv4
        announcement or RIB entry in canonical text, in a /16 (the index's block) where
        nothing is watched, not originated by a State's ASN, within the current visibility
        bucket or RIB. At 500,000+ routes per file the per-call and attribute costs were
        most of the scan. Anything else goes through `feed`. The prefix text is read by
        `_mrt_accel.v4_prefix_code` when the compiled module is there (one call instead of
        five), else here; both accept exactly the same texts."""
        feed = self.feed
        stats = self.stats
        lengths = _LENGTHS
        aton, ntoa = socket.inet_aton, socket.inet_ntoa
        from_bytes = int.from_bytes
        block_bits, blocks = self.watch.index().blocks(4)
        shift = 32 - block_bits
        asn_states = self._asn_states
        v4_code = mrt_accel.v4_prefix_code()
        tracker = self.visibility
        if tracker is not None:
            bucket_seconds = self.options.visibility_bucket
            threshold = self.options.full_feed_v4
            full = tracker.full
            announced = tracker.announced
            rib_counts = tracker.rib_counts
        count = announcements = rib_entries = 0
        # the last prefix found canonical IPv4 with nothing watched in its block (None, not
        # "": an empty prefix must be parsed, and refused)
        clear: str | None = None
        # the peer of the previous fast-path announcement and its IPv4 prefix set (None:
        # full-feed); forgotten whenever `feed` runs, since it may change the tracker's state
        peer_ip: object = _UNSET
        peer_asn: object = _UNSET
        collector: object = _UNSET
        seen: set[str] | None = None
        bucket_end: int | None = None
        collector_paused = _pause_collector()  # see `_pause_collector`
        try:
            for element in elements:
                count += 1
                kind = element.kind
                prefix = element.prefix
                if kind == "W":
                    feed(element)
                    peer_ip = _UNSET
                    continue
                if prefix != clear and v4_code is not None:
                    # the compiled parser: the same test as the text parsing below
                    code = v4_code(prefix)
                    if (code < 0 or (code & 63) < block_bits
                            or (code >> 6) >> shift in blocks):
                        feed(element)  # not canonical IPv4, or a block with watched prefixes
                        peer_ip = _UNSET
                        continue
                    clear = prefix
                elif prefix != clear:
                    address, _, length_text = prefix.partition("/")
                    length = lengths.get(length_text)
                    if length is None or length > 32 or ":" in address:
                        feed(element)
                        peer_ip = _UNSET
                        continue
                    try:
                        packed = aton(address)
                    except (OSError, ValueError):  # ValueError: an embedded NUL
                        packed = b""
                    if (not packed or ntoa(packed) != address or length < block_bits
                            or from_bytes(packed, "big") >> shift in blocks):
                        feed(element)  # not canonical, or a block with watched prefixes
                        peer_ip = _UNSET
                        continue
                    clear = prefix
                as_path = element.as_path
                try:
                    state_origin = as_path and as_path[-1] in asn_states
                except TypeError:  # an unhashable hop: `feed` handles it
                    state_origin = True
                if state_origin:
                    feed(element)
                    peer_ip = _UNSET
                    continue
                if kind != "A":  # "B", a RIB entry
                    if tracker is not None:
                        if (not tracker.rib_run
                                or element.collector not in tracker.rib_collectors):
                            feed(element)  # a RIB run or a collector's RIB starts
                            peer_ip = _UNSET
                            continue
                        # VisibilityTracker.observe_version for a RIB entry of nothing watched
                        peer = (element.collector, element.peer_ip, element.peer_asn)
                        tracker.rib_peers.add(peer)
                        counts = rib_counts.get(peer)
                        if counts is None:
                            counts = rib_counts[peer] = [0, 0]
                        counts[0] += 1
                        if counts[0] > threshold:
                            full.add((peer, 4))
                        if element.time > tracker.rib_time:
                            tracker.rib_time = element.time
                    rib_entries += 1
                    continue
                if tracker is not None:
                    if peer_ip is _UNSET:  # first route, or `feed` ran: read the tracker
                        current = tracker.bucket
                        # a route at or after `bucket_end` ends the bucket (the tracker
                        # compares time // bucket_seconds with its bucket)
                        bucket_end = (None if current is None or tracker.rib_run
                                      else (current + 1) * bucket_seconds)
                    if bucket_end is None or element.time >= bucket_end:
                        feed(element)  # a bucket or a RIB run ends: the tracker decides
                        peer_ip = _UNSET
                        continue
                    # VisibilityTracker.observe_version for an IPv4 announcement of nothing
                    # watched within the current bucket: count the peer's distinct prefixes
                    if (element.peer_ip != peer_ip or element.peer_asn != peer_asn
                            or element.collector != collector):
                        peer_ip, peer_asn = element.peer_ip, element.peer_asn
                        collector = element.collector
                        peer = (collector, peer_ip, peer_asn)  # type: ignore[assignment]
                        if (peer, 4) in full:
                            seen = None
                        else:
                            sets = announced.get(peer)
                            if sets is None:
                                sets = announced[peer] = (set(), set())
                            seen = sets[0]
                    if seen is not None:
                        seen.add(prefix)
                        if len(seen) > threshold:
                            full.add(((collector, peer_ip, peer_asn), 4))  # type: ignore[arg-type]
                            seen.clear()
                            seen = None
                announcements += 1
        finally:
            if collector_paused:
                gc.enable()
            # `feed` counted its own elements; these are the ones handled here
            stats.elements += announcements + rib_entries
            stats.announcements += announcements
            stats.rib_entries += rib_entries
            self._last_prefix = None
        return count

    def _detect(self, element: Element, network: Network, watched_all: list[WatchedPrefix],
                origin: int | frozenset[int] | None, origin_states: list[str]) -> None:
        """The detectors on one route of `network` (the prefix `feed` last parsed).

        A RIB lists a prefix once per peer, and what the detectors conclude on a route of
        a given prefix depends on the route only through its origin and the hop next to it
        (`detect_hijack`), the leak its path shows (`detect_leak`) and its origin (RPKI):
        each finding is made once per prefix run and such key, then recorded for every
        route that has it, in the order the detectors run. A key that cannot be hashed (a
        list hop from a hand-made element) runs the detectors as they are."""
        stats = self.stats
        stats.matched += 1
        if origin is None:
            stats.no_origin += 1
            return
        run = self._run
        if run is None:
            # the most specific watched prefix per State
            matches: dict[str, WatchedPrefix] = {}
            for watched in watched_all:
                matches[watched.state] = watched
            states = self.watch.states
            run = self._run = _Run(matches, str(network), [
                (code, watched, states[code], str(watched.prefix))
                for code, watched in matches.items()])
        record = self.store.record
        as_path = element.as_path
        if run.pairs:
            hop = first_hop(as_path)
            leak = self.asrel.leak(as_path) if self.asrel is not None else None
            for code, watched, state, watched_text in run.pairs:
                try:
                    finding = run.hijack[code, origin, hop]
                except KeyError:
                    finding = run.hijack[code, origin, hop] = detect_hijack(
                        element, network, watched, state)
                except TypeError:  # an unhashable origin or hop
                    finding = detect_hijack(element, network, watched, state)
                if finding is not None:
                    record(finding, element)
                if leak is not None:
                    finding = run.leak.get((code, leak))
                    if finding is None:
                        finding = run.leak[code, leak] = leak_finding(leak, run.text, watched,
                                                                      watched_text)
                    record(finding, element)
        if self.vrps is not None:
            try:
                findings = run.rpki[origin]
            except KeyError:
                findings = run.rpki[origin] = self._rpki(element, network, origin,
                                                         run.matches, origin_states)
            except TypeError:
                findings = self._rpki(element, network, origin, run.matches, origin_states)
            for finding in findings:
                record(finding, element)

    def _rpki(self, element: Element, network: Network, origin: int | frozenset[int],
              matches: dict[str, WatchedPrefix], origin_states: list[str]) -> list[Finding]:
        validation = self.vrps.validate(network, origin)  # type: ignore[union-attr]
        if validation.state != "invalid":
            return []
        findings = []
        for code in dict.fromkeys([*matches, *origin_states]):
            finding = rpki_finding(validation, element, network, code, matches.get(code))
            if finding is not None:
                findings.append(finding)
        return findings

    def peer_down(self, collector: str, peer_ip: str, peer_asn: int) -> None:
        """A RIS_PEER_STATE "down": the peer's routes are gone."""
        if self.visibility is not None:
            self.visibility.peer_down((collector, peer_ip, peer_asn))

    def finish(self) -> list[Alert]:
        collector_paused = _pause_collector()
        try:
            if self.visibility is not None:
                self.visibility.finish()
            return self.store.alerts()
        finally:
            if collector_paused:
                gc.enable()


def _pause_collector() -> bool:
    """Pause the cyclic garbage collector; True when it ran (the caller restarts it).

    `Scanner.feed_all` and `finish` run without it: the scan makes no reference cycles
    (tests/observatory/routing/test_routing_scan_memo.py checks it on real files), and the
    collector's full passes over what lives to the end (alerts, visibility sets, the configuration's
    indexes, tens of thousands of containers) were a fifth of a RIB scan's CPU."""
    running = gc.isenabled()
    gc.disable()
    return running


@dataclass(slots=True)
class _Run:
    """`Scanner._detect`'s findings for the routes of one prefix, by what they depend on."""

    matches: dict[str, WatchedPrefix]  # State -> its most specific watched prefix
    text: str  # str(network)
    pairs: list[tuple[str, WatchedPrefix, StateWatch, str]]  # + str(watched.prefix)
    hijack: dict[tuple, Finding | None] = field(default_factory=dict)  # (State, origin, hop)
    leak: dict[tuple, Finding] = field(default_factory=dict)  # (State, Leak)
    rpki: dict[object, list[Finding]] = field(default_factory=dict)  # origin


def scan(elements: Iterable[Element], watch: WatchList, vrps: VRPSet | None = None,
         asrel: ASRelationships | None = None,
         options: ScanOptions | None = None) -> list[Alert]:
    """Run every detector over a stream of elements; returns the deduplicated alerts."""
    scanner = Scanner(watch, vrps, asrel, options or ScanOptions())
    scanner.feed_all(elements)
    return scanner.finish()
