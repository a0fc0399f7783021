"""The visibility tracker of `routing scan`: which full-feed peers see each watched prefix.

The definition (IODA's, over a RIB and over update streams by 5-minute buckets) is in the
docstring of scan.py, whose `Scanner` feeds this tracker; it lives here to keep that module
short.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .detectors import AlertStore, Finding
from .elements import Element
from .prefixes import Network
from .watchlist import WatchedPrefix, WatchList

if TYPE_CHECKING:  # scan.py imports this module
    from .scan import ScanOptions, ScanStats

Peer = tuple[str, str, int]  # (collector, peer address, peer ASN)


class VisibilityTracker:
    def __init__(self, watch: WatchList, options: ScanOptions, store: AlertStore,
                 stats: ScanStats) -> None:
        self.watch = watch
        self.options = options
        self.store = store
        self.stats = stats
        self.watched = [w for w in watch.prefixes() if not w.squat]
        self.rib_counts: dict[Peer, list[int]] = {}
        self.announced: dict[Peer, tuple[set[str], set[str]]] = {}
        self.full: set[tuple[Peer, int]] = set()
        self.routes: dict[WatchedPrefix, dict[Peer, set[str]]] = {w: {} for w in self.watched}
        self.known: dict[WatchedPrefix, set[Peer]] = {w: set() for w in self.watched}
        # (w, routes[w], known[w]) in the order of `watched`, and by the identity of the
        # tracker's own WatchedPrefix objects (the ones the watch list's lookups return):
        # hashing one hashes its ipaddress network, a tenth of a matched route's cost. The
        # dict and set are changed in place, never replaced.
        self._entries = [(w, self.routes[w], self.known[w]) for w in self.watched]
        self._by_id = {id(entry[0]): entry for entry in self._entries}
        self.rib_run = False
        self.rib_time = 0
        self.rib_collectors: set[str] = set()
        self.rib_peers: set[Peer] = set()
        self.bucket: int | None = None
        self.dirty = False

    def _threshold(self, version: int) -> int:
        return self.options.full_feed_v4 if version == 4 else self.options.full_feed_v6

    def observe(self, element: Element, network: Network,
                watched: list[WatchedPrefix]) -> None:
        self.observe_version(element, network.version, watched)

    def _entry(self, w: WatchedPrefix) -> tuple[dict[Peer, set[str]], set[Peer]] | None:
        """(routes, known) of a watched prefix, None for one the tracker does not follow."""
        entry = self._by_id.get(id(w))
        if entry is not None and entry[0] is w:
            return entry[1], entry[2]
        routes = self.routes.get(w)  # an equal object from elsewhere: by value
        return None if routes is None else (routes, self.known[w])

    def observe_version(self, element: Element, version: int,
                        watched: list[WatchedPrefix]) -> None:
        """`observe` with the prefix's IP version instead of its network object."""
        peer = (element.collector, element.peer_ip, element.peer_asn)
        if element.kind == "B":
            if not self.rib_run:
                self.rib_run = True
                self.rib_collectors = set()
                self.rib_peers = set()
                self.rib_time = 0
            if element.collector not in self.rib_collectors:
                self._reset_collector(element.collector)
            self.rib_peers.add(peer)
            counts = self.rib_counts.get(peer)
            if counts is None:
                counts = self.rib_counts[peer] = [0, 0]
            v6 = version == 6
            counts[v6] += 1
            if counts[v6] > (self.options.full_feed_v6 if v6 else self.options.full_feed_v4):
                self.full.add((peer, version))
            if element.time > self.rib_time:
                self.rib_time = element.time
            by_id = self._by_id
            for w in watched:
                found = by_id.get(id(w))  # `_entry`, inline: the RIB's matched routes
                if found is not None and found[0] is w:
                    peer_routes = found[1]
                else:
                    entry = self._entry(w)
                    if entry is None:
                        continue
                    peer_routes = entry[0]
                routes = peer_routes.get(peer)
                if routes is None:
                    routes = peer_routes[peer] = set()
                routes.add(element.prefix)
            return
        if self.rib_run:
            self.end_rib()
        bucket = element.time // self.options.visibility_bucket
        if self.bucket is None:
            self.bucket = bucket
        elif bucket > self.bucket:
            if self.dirty:
                self.evaluate((self.bucket + 1) * self.options.visibility_bucket, "updates")
            self.bucket = bucket
        if element.kind == "A":
            if (peer, version) not in self.full:
                sets = self.announced.setdefault(peer, (set(), set()))
                seen = sets[version == 6]
                seen.add(element.prefix)
                if len(seen) > self._threshold(version):
                    self.full.add((peer, version))
                    seen.clear()  # no longer needed: the peer is full-feed for good
            for w in watched:
                entry = self._entry(w)
                if entry is not None:
                    entry[0].setdefault(peer, set()).add(element.prefix)
                    entry[1].add(peer)
                    self.dirty = True
        elif element.kind == "W":
            for w in watched:
                entry = self._entry(w)
                if entry is not None:
                    routes = entry[0].get(peer)
                    if routes is not None:
                        routes.discard(element.prefix)
                    entry[1].add(peer)
                    self.dirty = True

    def _reset_collector(self, collector: str) -> None:
        """A new RIB from a collector replaces what we knew about its peers."""
        self.rib_collectors.add(collector)
        for peer in [p for p in self.rib_counts if p[0] == collector]:
            del self.rib_counts[peer]
            self.full.discard((peer, 4))
            self.full.discard((peer, 6))
        for _, routes, known in self._entries:
            for peer in [p for p in routes if p[0] == collector]:
                del routes[peer]
            known.difference_update([p for p in known if p[0] == collector])

    def end_rib(self) -> None:
        self.rib_run = False
        for _, _, known in self._entries:
            known |= self.rib_peers
        self.evaluate(self.rib_time, "rib")

    def peer_down(self, peer: Peer) -> None:
        for _, routes, _ in self._entries:
            if peer in routes:
                routes[peer].clear()
                self.dirty = True

    def finish(self) -> None:
        if self.rib_run:
            self.end_rib()
        elif self.bucket is not None and self.dirty:
            self.evaluate((self.bucket + 1) * self.options.visibility_bucket, "updates")

    def evaluate(self, time: int, mode: str) -> None:
        self.dirty = False
        self.stats.visibility_evaluations += 1
        full_peers = {peer for peer, _ in self.full}
        self.stats.full_feed_peers = max(self.stats.full_feed_peers, len(full_peers))
        if not full_peers:
            note = ("visibility not evaluated: no full-feed peer (more than "
                    f"{self.options.full_feed_v4} IPv4 / {self.options.full_feed_v6} IPv6 "
                    "prefixes)")
            if note not in self.stats.notes:
                self.stats.notes.append(note)
            return
        # the full-feed peers of each version, intersected in C with each prefix's known peers
        full_by_version: dict[int, set[Peer]] = {4: set(), 6: set()}
        for peer, version in self.full:
            full_by_version[version].add(peer)
        for w, routes, known_by_any in self._entries:
            known = known_by_any & full_by_version[w.prefix.version]
            if not known:
                continue
            seeing = {p for p, prefixes in routes.items() if prefixes and p in known}
            share = len(seeing) / len(known)
            if share >= self.options.visibility_threshold:
                continue
            text = str(w.prefix)
            finding = Finding(
                "visibility-loss", state=w.state, prefix=text,
                watched_prefix=text, offending_asn=None, legitimate_origins=w.origins,
                details={"share": round(share, 4), "seen_by": len(seeing),
                         "full_feed_peers": len(known),
                         "threshold": self.options.visibility_threshold, "mode": mode,
                         "evaluated_at": time},
            )
            self.store.record_event(finding, time, known - seeing)
