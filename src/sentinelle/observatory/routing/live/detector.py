"""The live detector: routes in, alert episodes out ("raised" once, "resolved" once).

The batch detectors (detectors.py) judge each announcement; this module keeps, per alert key,
the peers *currently carrying* the offending route, as (peer, prefix) pairs. A peer stops
carrying it when it withdraws the prefix, announces the prefix again without the same finding
(a legitimate route replaced it), or its session goes down (a ``peer-down`` item).

* An episode is *raised* once at least ``min_peers`` distinct peers from at least
  ``min_collectors`` distinct collectors carry it at the same time (a lone peer's odd route is
  the commonest false alert); until then it is pending and emits nothing. The "raised" event
  gives the peers and collectors carrying it at that moment.
* When no peer carries it any more, a raised episode emits "resolved" (``resolved_at`` = BGP
  time of the element that ended it, or the wall-clock time of the peer-down; ``duration`` from
  ``first_seen``; ``peers`` = every peer that carried it during the episode); a pending one is
  dropped silently. A later finding starts a new episode: new ``alert_id`` ``<key>@<first_seen>``
  (``-2``, ``-3``... if it began in the same second as the last one).
* visibility-loss: per watched prefix, the *baseline* is the set of peers that have carried a
  route to it or inside it from a legitimate origin since start; a peer *sees* it while it still
  carries a route to it or inside it (any origin: a hijack that replaces the route is reported
  as the hijack, not a second time as a visibility loss). Judged with at least
  ``visibility_min_peers`` baseline peers: raised when the share of baseline peers that see it
  falls below ``visibility_threshold``, resolved when it is back at or above. A peer-down
  removes the peer from the baseline (a collector's session going down is not the prefix
  losing visibility).
* Peer Up (BMP; a router re-sends a peer's whole table after the monitor or the router
  restarted): a route withdrawn while the BMP session was down is not in that table, and no
  withdrawal ever comes for it. So a ``peer-up`` item marks every route held for that peer
  (offending routes and visibility) stale (live/resync.py); a route the peer sends again is
  fresh; what is still stale at the peer's ``end-of-rib`` item (per address family) or
  ``stale_after`` seconds after the Peer Up (checked in `tick`) is withdrawn then, which
  resolves alerts as a withdrawal does (``resolved_at`` = that moment). A hijack re-sent stays
  the same episode: no second "raised".
* Mutes: a raised event a mute covers carries ``muted_by`` and the episode is *held*; when the
  mute ends (expired, removed), `tick` emits the same "raised" event again (same alert_id,
  so the same idempotency key) with ``muted_by`` None. A "resolved" event is muted only when
  its "raised" was held and a mute still covers it: whoever was told "raised" is always told
  "resolved".

Speed: `feed` is on the hot path (a full RIS Live stream). An element whose prefix has no
offending route on record is first checked against the first octet (IPv4) or first 16-bit
group (IPv6) of the watched prefixes, and, when VRPs are loaded, its origin against the
States' ASNs: most of the Internet stops there, before any address parsing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from ..asrel import ASRelationships
from ..detectors import Finding, detect_hijack, detect_leak, path_text, rpki_finding
from ..elements import Element
from ..prefixes import covers
from ..rpki import VRPSet
from ..scan import _network
from ..watchlist import WatchedPrefix, WatchList
from .episodes import Episode, Peer, Visibility, heads, peer_of
from .events import AlertEvent, SourceItem
from .mutes import Mute, MuteStore
from .resync import Resync, Route
from .tags import routing_tags, visibility_tags

log = logging.getLogger(__name__)

SNAPSHOT_VERSION = 1
MAX_CLOSED = 10_000  # last alert id per key, to keep ids unique; oldest forgotten first


@dataclass
class LiveOptions:
    min_peers: int = 3  # BGPalerter's default thresholdMinPeers for hijacks
    min_collectors: int = 1  # a State's own BMP feed is one collector; raise it for RIS Live
    visibility_threshold: float = 0.5  # IODA: visible if seen by > 50 % of the peers
    visibility_min_peers: int | None = None  # baseline peers needed to judge; None -> min_peers
    max_examples: int = 5
    # after a BMP Peer Up, routes not re-sent by then are withdrawn (when no End-of-RIB came)
    stale_after: float = 120.0


class LiveDetector:
    def __init__(self, watch: WatchList, vrps: VRPSet | None = None,
                 asrel: ASRelationships | None = None, options: LiveOptions | None = None,
                 mutes: MuteStore | None = None) -> None:
        self.watch = watch
        self.vrps = vrps
        self.asrel = asrel
        self.options = options or LiveOptions()
        self.mutes = mutes
        self._vis_min = (self.options.visibility_min_peers
                         if self.options.visibility_min_peers is not None
                         else self.options.min_peers)
        self._v4_heads, self._v6_heads, self._v6_all = heads(watch)
        # only consulted with VRPs: an unwatched prefix matters when a State's ASN originates it
        self._state_asns: frozenset[int] = frozenset(
            asn for state in watch.states.values() for asn in state.asns)
        self._episodes: dict[str, Episode] = {}
        self._routes: dict[tuple[Peer, str], tuple[str, ...]] = {}  # offending routes -> keys
        self._route_prefixes: dict[str, int] = {}  # prefix -> number of offending routes
        self._vis: dict[WatchedPrefix, Visibility] = {
            w: Visibility(w) for w in watch.prefixes() if not w.squat}
        self._peer_vis: dict[tuple[str, str], set[WatchedPrefix]] = {}
        self._closed: dict[str, str] = {}
        self._resync = Resync()

    # ----------------------------------------------------------------- feeding

    def feed(self, item: SourceItem) -> list[AlertEvent]:
        """One source item (``element``, ``peer-down``, ``peer-up``, ``end-of-rib``; others
        are ignored)."""
        if item.kind == "element":
            element = item.element
            if element is None:
                return []
            prefix = element.prefix
            if prefix not in self._route_prefixes:
                colon = prefix.find(":")
                if colon < 0:
                    hit = prefix[:prefix.find(".")] in self._v4_heads
                else:
                    hit = self._v6_all or prefix[:colon].lstrip("0").lower() in self._v6_heads
                if not hit:
                    if self.vrps is None or element.kind == "W":
                        return []
                    path = element.as_path
                    if not path or path[-1] not in self._state_asns:
                        return []
            return self._element(element, item)
        if item.kind == "peer-down":
            return self._peer_down(item)
        if item.kind == "peer-up":
            return self._peer_up(item)
        if item.kind == "end-of-rib" and item.peer is not None:
            routes, source = self._resync.end_of_rib(
                (item.peer[0] or item.source, item.peer[1]), item.detail.split(" ")[0])
            return self._withdraw(routes, item.observed_at, source or item.source)
        return []

    def _element(self, element: Element, item: SourceItem) -> list[AlertEvent]:
        try:
            network = _network(element.prefix)
        except ValueError:
            return []
        peer = (element.collector or item.source, element.peer_ip, element.peer_asn)
        watched_all = self.watch.matches_all(network)
        announced = element.kind != "W"
        origin = element.origin() if announced else None
        findings: dict[str, Finding] = {}
        if origin is not None:
            for finding in self._findings(element, network, origin, watched_all):
                findings.setdefault(finding.key, finding)
        events: list[AlertEvent] = []
        route = (peer, element.prefix)
        if self._resync.peers:
            self._resync.fresh(peer, element.prefix)
        old = self._routes.get(route, ())
        for key in old:
            if key not in findings:
                events += self._drop(key, peer, element.time, item, element.raw)
        for key, finding in findings.items():
            events += self._carry(key, finding, peer, element, item, origin)
        self._set_route(route, tuple(findings))
        for watched in watched_all:
            vis = self._vis.get(watched)
            if vis is not None:
                events += self._observe(vis, peer, element, origin, item)
        return events

    def _findings(self, element: Element, network, origin, watched_all) -> list[Finding]:
        found: list[Finding] = []
        matches: dict[str, WatchedPrefix] = {}
        for watched in watched_all:  # least specific first: keep the most specific per State
            matches[watched.state] = watched
        for code, watched in matches.items():
            finding = detect_hijack(element, network, watched, self.watch.states[code])
            if finding is not None:
                found.append(finding)
            if self.asrel is not None:
                leak = detect_leak(element, network, watched, self.asrel)
                if leak is not None:
                    found.append(leak)
        if self.vrps is not None:
            validation = self.vrps.validate(network, origin)
            if validation.state == "invalid":
                origin_states = (self.watch.states_of_asn(origin) if isinstance(origin, int)
                                 else [])
                for code in dict.fromkeys([*matches, *origin_states]):
                    finding = rpki_finding(validation, element, network, code,
                                           matches.get(code))
                    if finding is not None:
                        found.append(finding)
        return found

    def _set_route(self, route: tuple[Peer, str], keys: tuple[str, ...]) -> None:
        had = route in self._routes
        prefix = route[1]
        if keys:
            self._routes[route] = keys
            if not had:
                self._route_prefixes[prefix] = self._route_prefixes.get(prefix, 0) + 1
        elif had:
            del self._routes[route]
            left = self._route_prefixes[prefix] - 1
            if left:
                self._route_prefixes[prefix] = left
            else:
                del self._route_prefixes[prefix]

    def _carry(self, key: str, finding: Finding, peer: Peer, element: Element,
               item: SourceItem, origin) -> list[AlertEvent]:
        episode = self._episodes.get(key)
        if episode is None:
            episode = self._episodes[key] = Episode(
                key=key, type=finding.type, state=finding.state, prefix=finding.prefix,
                watched_prefix=finding.watched_prefix, offending_asn=finding.offending_asn,
                as_set=sorted(finding.as_set) if finding.as_set else None,
                legitimate_origins=sorted(finding.legitimate_origins),
                route_origin=sorted(origin) if isinstance(origin, frozenset) else origin,
                first_seen=element.time, last_seen=element.time, reason=finding.reason,
                details=dict(finding.details))
        elif finding.details:
            episode.details.update(finding.details)
        episode.carriers.add(peer)
        episode.seen.add(peer)
        episode.last_seen = max(episode.last_seen, element.time)
        limit = self.options.max_examples
        if element.as_path and len(episode.example_paths) < limit:
            text = path_text(element.as_path)
            if text not in episode.example_paths:
                episode.example_paths.append(text)
        if element.raw and len(episode.samples) < limit and element.raw not in episode.samples:
            episode.samples.append(element.raw)
        if episode.alert_id is not None or len(episode.carriers) < self.options.min_peers:
            return []
        if len({p[0] for p in episode.carriers}) < self.options.min_collectors:
            return []
        episode.alert_id = self._new_id(key, episode.first_seen)
        episode.source, episode.observed_at = item.source, item.observed_at
        event = self._event(episode, "raised")
        mute = self._mute(episode.type, episode.prefix, item.observed_at)
        if mute is not None:
            event.muted_by = episode.held_by = mute.id
        return [event]

    def _drop(self, key: str, peer: Peer, at: float, item: SourceItem,
              raw: bytes = b"") -> list[AlertEvent]:
        episode = self._episodes.get(key)
        if episode is None:
            return []
        episode.carriers.discard(peer)
        if episode.carriers:
            return []
        del self._episodes[key]
        if episode.alert_id is None:
            return []  # pending: never reported, nothing to resolve
        self._remember(key, episode.alert_id)
        resolved = self._event(episode, "resolved", resolved_at=at, item=item)
        if raw and raw not in resolved.samples:
            resolved.samples = [*resolved.samples[:self.options.max_examples - 1], raw]
        return self._release_or_hold(episode, resolved, item.observed_at)

    def _release_or_hold(self, alert: Episode | Visibility, resolved: AlertEvent,
                         now: float) -> list[AlertEvent]:
        if alert.held_by is None:
            return [resolved]
        mute = self._mute(resolved.type, resolved.prefix, now)
        if mute is not None:
            resolved.muted_by = mute.id
            return [resolved]
        # the mute ended before tick() noticed: deliver the held "raised" first
        alert.held_by = None
        raised = (self._event(alert, "raised") if isinstance(alert, Episode)
                  else self._vis_event(alert, "raised"))
        return [raised, resolved]

    def _peer_down(self, item: SourceItem) -> list[AlertEvent]:
        if item.peer is None:
            return []
        collector, address = item.peer[0] or item.source, item.peer[1]
        at = item.observed_at
        events: list[AlertEvent] = []
        self._resync.drop((collector, address))
        # matched on (collector, address): a peer-state message may not know the peer's ASN
        for route in [r for r in self._routes if r[0][0] == collector and r[0][1] == address]:
            keys = self._routes[route]
            self._set_route(route, ())
            for key in keys:
                events += self._drop(key, route[0], at, item)
        for watched in self._peer_vis.pop((collector, address), set()):
            vis = self._vis[watched]
            gone = {p for p in (*vis.baseline, *vis.routes)
                    if p[0] == collector and p[1] == address}
            vis.baseline -= gone
            vis.seeing -= gone
            for p in gone:
                vis.routes.pop(p, None)
            events += self._judge(vis, at, item)
        return events

    def _peer_up(self, item: SourceItem) -> list[AlertEvent]:
        if item.peer is None:
            return []
        key = (item.peer[0] or item.source, item.peer[1])
        routes: set[Route] = {r for r in self._routes if (r[0][0], r[0][1]) == key}
        for watched in self._peer_vis.get(key, ()):
            for peer, prefixes in self._vis[watched].routes.items():
                if (peer[0], peer[1]) == key:
                    routes.update((peer, prefix) for prefix in prefixes)
        self._resync.start(key, routes, item.observed_at + self.options.stale_after,
                           item.source, now=item.observed_at)
        return []

    def _withdraw(self, routes: list[Route], at: float, source: str) -> list[AlertEvent]:
        """Stale routes gone: withdrawn at ``at`` as if the peer had said so."""
        item = SourceItem("end-of-rib", source, at)
        events: list[AlertEvent] = []
        for peer, prefix in routes:
            # a float time: resolved_at is the wall-clock moment, not a whole BGP second
            withdrawal = Element("W", at, peer[1], peer[2], prefix, (), peer[0])  # type: ignore[arg-type]
            events += self._element(withdrawal, item)
        return events

    # ----------------------------------------------------------------- visibility

    def _observe(self, vis: Visibility, peer: Peer, element: Element, origin,
                 item: SourceItem) -> list[AlertEvent]:
        routes = vis.routes.get(peer)
        if element.kind == "W":
            if routes is None or element.prefix not in routes:
                return []
            routes.discard(element.prefix)
            if routes:
                return []
            del vis.routes[peer]
            if peer not in vis.baseline:
                self._unindex(peer, vis.watched)
            if peer not in vis.seeing:
                return []
            vis.seeing.discard(peer)
            return self._judge(vis, element.time, item)
        if routes is None:
            routes = vis.routes[peer] = set()
            self._peer_vis.setdefault((peer[0], peer[1]), set()).add(vis.watched)
        routes.add(element.prefix)
        if peer not in vis.baseline:
            origins = vis.watched.origins
            if origin is None or not (origin in origins if isinstance(origin, int)
                                      else origin & origins):
                return []  # only a legitimate origin makes a peer part of the baseline
            vis.baseline.add(peer)
        if peer in vis.seeing:
            return []
        vis.seeing.add(peer)
        return self._judge(vis, element.time, item)

    def _unindex(self, peer: Peer, watched: WatchedPrefix) -> None:
        entry = self._peer_vis.get((peer[0], peer[1]))
        if entry is not None:
            entry.discard(watched)
            if not entry:
                del self._peer_vis[(peer[0], peer[1])]

    def _judge(self, vis: Visibility, at: float, item: SourceItem) -> list[AlertEvent]:
        if len(vis.baseline) < self._vis_min:
            return []  # too few peers to tell; a raised episode stays raised
        share = len(vis.seeing) / len(vis.baseline)
        threshold = self.options.visibility_threshold
        if vis.alert_id is None:
            if share >= threshold:
                return []
            vis.alert_id = self._new_id(vis.key, at)
            vis.first_seen = vis.last_seen = at
            vis.lost = vis.baseline - vis.seeing
            vis.source, vis.observed_at = item.source, item.observed_at
            event = self._vis_event(vis, "raised")
            mute = self._mute("visibility-loss", str(vis.watched.prefix), item.observed_at)
            if mute is not None:
                event.muted_by = vis.held_by = mute.id
            return [event]
        vis.last_seen = at
        vis.lost |= vis.baseline - vis.seeing
        if share < threshold:
            return []
        resolved = self._vis_event(vis, "resolved", resolved_at=at, item=item)
        self._remember(vis.key, vis.alert_id)
        events = self._release_or_hold(vis, resolved, item.observed_at)
        vis.alert_id = vis.first_seen = vis.last_seen = vis.held_by = None
        vis.lost = set()
        return events

    # ----------------------------------------------------------------- events

    def _new_id(self, key: str, first_seen: float) -> str:
        base = f"{key}@{int(first_seen)}"
        last = self._closed.get(key)
        if last is None or (last != base and not last.startswith(base + "-")):
            return base
        number = 2 if last == base else int(last.rsplit("-", 1)[1]) + 1
        return f"{base}-{number}"

    def _remember(self, key: str, alert_id: str) -> None:
        self._closed.pop(key, None)
        self._closed[key] = alert_id
        if len(self._closed) > MAX_CLOSED:
            del self._closed[next(iter(self._closed))]

    def _mute(self, alert_type: str, prefix: str, now: float) -> Mute | None:
        return self.mutes.matching(alert_type, prefix, now) if self.mutes is not None else None

    def _event(self, episode: Episode, kind: str, resolved_at: float | None = None,
               item: SourceItem | None = None) -> AlertEvent:
        peers = episode.carriers if kind == "raised" else episode.seen
        collectors = sorted({p[0] for p in peers})
        origin = episode.route_origin
        tags = routing_tags(episode.type, episode.prefix,
                            frozenset(origin) if isinstance(origin, list) else origin,
                            episode.offending_asn, episode.legitimate_origins, self.vrps,
                            self.asrel, len(peers), len(collectors), self.options)
        details = dict(episode.details)
        if episode.reason:
            details["reason"] = episode.reason
        details["carrying_peers"] = len(episode.carriers)
        return AlertEvent(
            event=kind, alert_id=episode.alert_id or "", type=episode.type, state=episode.state,
            prefix=episode.prefix, watched_prefix=episode.watched_prefix,
            offending_asn=episode.offending_asn, as_set=episode.as_set,
            legitimate_origins=list(episode.legitimate_origins),
            first_seen=episode.first_seen, last_seen=episode.last_seen,
            resolved_at=resolved_at,
            duration=None if resolved_at is None else resolved_at - episode.first_seen,
            peers=len(peers), collectors=collectors, example_paths=list(episode.example_paths),
            tags=tags, details=details, source=item.source if item else episode.source,
            observed_at=item.observed_at if item else episode.observed_at,
            emitted_at=time.time(), samples=list(episode.samples))

    def _vis_event(self, vis: Visibility, kind: str, resolved_at: float | None = None,
                   item: SourceItem | None = None) -> AlertEvent:
        lost = vis.baseline - vis.seeing if kind == "raised" else vis.lost
        collectors = sorted({p[0] for p in lost})
        baseline = len(vis.baseline)
        share = len(vis.seeing) / baseline if baseline else 0.0
        watched = vis.watched
        first = vis.first_seen
        return AlertEvent(
            event=kind, alert_id=vis.alert_id or "", type="visibility-loss",
            state=watched.state, prefix=str(watched.prefix), watched_prefix=str(watched.prefix),
            legitimate_origins=sorted(watched.origins), first_seen=first,
            last_seen=vis.last_seen, resolved_at=resolved_at,
            duration=None if resolved_at is None or first is None else resolved_at - first,
            peers=len(lost), collectors=collectors,
            tags=visibility_tags(len(lost), len(collectors), self.options),
            details={"share": round(share, 4), "seen_by": len(vis.seeing),
                     "baseline_peers": baseline,
                     "threshold": self.options.visibility_threshold},
            source=item.source if item else vis.source,
            observed_at=item.observed_at if item else vis.observed_at, emitted_at=time.time())

    def active(self) -> list[AlertEvent]:
        """The alerts raised and not resolved, as their "raised" events (muted_by set while
        a mute holds them)."""
        events = []
        for episode in self._episodes.values():
            if episode.alert_id is not None:
                event = self._event(episode, "raised")
                event.muted_by = episode.held_by
                events.append(event)
        for vis in self._vis.values():
            if vis.alert_id is not None:
                event = self._vis_event(vis, "raised")
                event.muted_by = vis.held_by
                events.append(event)
        return events

    # ----------------------------------------------------------------- mutes

    def tick(self, now: float) -> list[AlertEvent]:
        """Withdraw routes still stale ``stale_after`` s after their peer's Peer Up, report
        mute changes ("muted"/"unmuted") and deliver alerts whose mute ended."""
        events: list[AlertEvent] = []
        for routes, source in self._resync.due(now):
            events += self._withdraw(routes, now, source)
        if self.mutes is None:
            return events
        changes = self.mutes.poll(now)
        for event in changes:
            event.state = self._state_of(event.prefix)
        events += changes
        held: list[Episode | Visibility] = [
            *(e for e in self._episodes.values() if e.alert_id and e.held_by),
            *(v for v in self._vis.values() if v.alert_id and v.held_by)]
        for alert in held:
            if isinstance(alert, Episode):
                alert_type, prefix = alert.type, alert.prefix
            else:
                alert_type, prefix = "visibility-loss", str(alert.watched.prefix)
            mute = self.mutes.matching(alert_type, prefix, now)
            if mute is not None:
                alert.held_by = mute.id  # another mute still covers it: stays held
                continue
            alert.held_by = None
            events.append(self._event(alert, "raised") if isinstance(alert, Episode)
                          else self._vis_event(alert, "raised"))
        return events

    def _state_of(self, prefix: str) -> str:
        """The State a mute concerns: the only State of the watch list, or the only one with
        a watched prefix overlapping the mute's prefix; "" otherwise."""
        codes = set(self.watch.states)
        if prefix:
            try:
                net = _network(prefix)
            except ValueError:
                return ""
            codes = {w.state for w in self.watch.prefixes()
                     if covers(w.prefix, net) or covers(net, w.prefix)}
        return next(iter(codes)) if len(codes) == 1 else ""

    # ----------------------------------------------------------------- restart

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for a restart: open episodes, offending routes, visibility of the
        watched prefixes, the last alert ids and the mute log position; nothing about routes
        that touch no watched prefix and raise nothing."""
        table: dict[Peer, int] = {}

        def ref(peer: Peer) -> int:
            return table.setdefault(peer, len(table))

        routes = [[ref(peer), prefix, list(keys)] for (peer, prefix), keys in self._routes.items()]
        visibility = [v.to_dict(ref) for v in self._vis.values()
                      if v.baseline or v.routes or v.alert_id]
        stale = self._resync.to_list(ref)  # before "peers": it may add to the table
        return {
            "version": SNAPSHOT_VERSION,
            "peers": [list(peer) for peer in table],
            "episodes": [e.to_dict() for e in self._episodes.values()],
            "routes": routes,
            "visibility": visibility,
            "closed": dict(self._closed),
            "stale": stale,
            "mutes_position": self.mutes.position if self.mutes is not None else None,
            "mutes_head": self.mutes.head if self.mutes is not None else None,
            "mutes_ended": dict(self.mutes.ended) if self.mutes is not None else {},
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from `snapshot()`; ValueError (and nothing changed) if it is unusable.
        Visibility of prefixes no longer watched is dropped; ``{}`` restores nothing."""
        if data == {}:
            return
        if not isinstance(data, dict) or data.get("version") != SNAPSHOT_VERSION:
            raise ValueError("detector snapshot: unknown version "
                             f"{data.get('version') if isinstance(data, dict) else None!r}")
        try:
            episodes = {e.key: e for e in map(Episode.from_dict, data["episodes"])}
            table = [peer_of(p) for p in data["peers"]]
            routes = {}
            for index, prefix, keys in data["routes"]:
                kept = tuple(k for k in keys if k in episodes)
                if kept:
                    routes[(table[index], str(prefix))] = kept
            by_name = {(w.state, str(w.prefix)): w for w in self._vis}
            visibility: dict[WatchedPrefix, Visibility] = {}
            for entry in data["visibility"]:
                watched = by_name.get((entry["state"], entry["prefix"]))
                if watched is None:
                    log.info("snapshot: %s (%s) is no longer watched", entry["prefix"],
                             entry["state"])
                    continue
                visibility[watched] = Visibility.from_dict(entry, watched, table)
            closed = {str(k): str(v) for k, v in data["closed"].items()}
            position = data.get("mutes_position")
            head = data.get("mutes_head")
            ended = {str(k): float(v) for k, v in (data.get("mutes_ended") or {}).items()}
            resync = Resync.from_list(data.get("stale", []), table)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ValueError(f"detector snapshot: unusable ({exc})") from None
        self._episodes = episodes
        self._routes = {}
        self._route_prefixes = {}
        for route, keys in routes.items():
            self._set_route(route, keys)
        for watched, vis in visibility.items():
            self._vis[watched] = vis
        self._peer_vis = {}
        for watched, vis in self._vis.items():
            for peer in (*vis.baseline, *vis.routes):
                self._peer_vis.setdefault((peer[0], peer[1]), set()).add(watched)
        self._closed = closed
        self._resync = resync
        if self.mutes is not None and isinstance(position, int):
            self.mutes.resume(position, head if isinstance(head, str) else None, ended)
