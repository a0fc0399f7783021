"""Routing alerts and the per-announcement detectors.

Alert types (ARTEMIS notation ``Prefix|Path``, see Sermpezis et al., "ARTEMIS", IEEE/ACM ToN
2018, and the project's DOMAIN-NOTES):

* ``E|0`` exact-prefix hijack: a watched prefix announced by an AS not among its origins;
* ``S|0`` sub-prefix hijack: a more-specific of a watched prefix from an illegitimate origin;
* ``E|1`` / ``S|1`` first-hop anomaly: legitimate origin, but the AS next to it is not one of
  the State's allowed neighbours (a type-1 hijack forges the origin and shows itself here);
* ``S|-`` a more-specific longer than the watched ``max_length`` announced by a legitimate
  origin (ARTEMIS reports sub-prefixes with an unchanged path as ``S|-``: the origin may be
  forged, or the watch list is out of date);
* ``Q|0`` squatting: a watched prefix with ``origins: []`` (should not be routed at all) or a
  more-specific of it shows up;
* ``rpki-invalid``: RFC 6811 invalid, ``reason`` is ``invalid-asn``, ``invalid-length`` or
  ``as0``; checked for watched prefixes and for anything a State's ASN originates;
* ``route-leak``: a valley-free violation on the path of a watched prefix (needs as-rel);
* ``visibility-loss``: a watched prefix seen by fewer than the threshold share of full-feed
  peers (see scan.py).

Alerts are deduplicated over time: the same key (type, prefix, offending AS, State) seen again
within the window extends the current alert; after a longer gap a new episode starts, with id
``<key>-2``, ``<key>-3``... so ids stay unique and stable across runs over the same data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .asrel import ASRelationships, Leak, first_hop
from .elements import Element
from .prefixes import Network
from .rpki import Validation
from .watchlist import StateWatch, WatchedPrefix

ALERT_TYPES = ("E|0", "S|0", "E|1", "S|1", "S|-", "Q|0", "rpki-invalid", "route-leak",
               "visibility-loss")


def _path_text(path: tuple[int | frozenset[int], ...]) -> str:
    return " ".join(
        str(hop) if isinstance(hop, int) else "{" + ",".join(str(a) for a in sorted(hop)) + "}"
        for hop in path
    )


# Texts and keys made lately: a RIB repeats a peer's path for every prefix its origin
# announces, one route's findings (first hop, leak, RPKI) each want its example path, and
# most findings repeat a key. Plain dicts emptied when full, not lru_cache: that keeps a
# list per entry, tens of thousands of objects for the garbage collector to walk.
CACHE_SIZE = 1 << 16
_path_texts: dict[tuple, str] = {}
_alert_keys: dict[tuple, str] = {}


def path_text(path: tuple[int | frozenset[int], ...]) -> str:
    """An AS path as bgpdump prints it: "3356 1299 {64512,64513}"."""
    try:
        return _path_texts[path]
    except KeyError:
        pass
    except TypeError:  # a list hop (a hand-made element) cannot key the cache
        return _path_text(path)
    text = _path_text(path)
    if len(_path_texts) >= CACHE_SIZE:
        _path_texts.clear()
    _path_texts[path] = text
    return text


def iso(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def alert_key(alert_type: str, prefix: str, offending_asn: int | None, state: str) -> str:
    """Stable id: the same event in the same data always gets the same id."""
    args = (alert_type, prefix, offending_asn, state)
    key = _alert_keys.get(args)
    if key is None:
        text = f"{alert_type}|{prefix}|{'' if offending_asn is None else offending_asn}|{state}"
        key = hashlib.sha256(text.encode()).hexdigest()[:20]
        if len(_alert_keys) >= CACHE_SIZE:
            _alert_keys.clear()
        _alert_keys[args] = key
    return key


@dataclass(slots=True)
class Finding:
    """What one detector concluded about one announcement (or one visibility evaluation)."""

    type: str
    state: str
    prefix: str
    watched_prefix: str | None
    offending_asn: int | None
    legitimate_origins: frozenset[int] = frozenset()
    reason: str | None = None
    as_set: frozenset[int] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        offending = self.offending_asn
        if offending is None and self.as_set:
            # an AS_SET origin: key on its smallest member so the id stays stable
            offending = min(self.as_set)
        return alert_key(self.type, self.prefix, offending, self.state)


@dataclass
class Alert:
    """One alert episode. `to_dict()` (one line of alerts.jsonl) holds: id (key, or key-N for
    the N-th episode), key (sha256 of type|prefix|offending AS|State, 20 hex), type, state,
    prefix (as announced), watched_prefix (None for an RPKI alert on an unwatched prefix of a
    State ASN), offending_asn (None for AS_SET origins -> as_set, and for visibility-loss),
    legitimate_origins, reason (rpki: invalid-asn|invalid-length|as0; S|-: beyond-max-length),
    example_paths (<= 5, bgpdump style), first_seen/last_seen (unix) and *_iso (UTC), peers
    (distinct collector+peer count; for visibility-loss the full-feed peers that lost it),
    collectors (list) and collectors_count, elements (announcements merged), episode,
    samples (count of raw MRT records kept in `samples`), details (type-specific)."""

    id: str
    key: str
    type: str
    state: str
    prefix: str
    watched_prefix: str | None
    offending_asn: int | None
    legitimate_origins: list[int]
    first_seen: int
    last_seen: int
    reason: str | None = None
    as_set: list[int] | None = None
    example_paths: list[str] = field(default_factory=list)
    peer_set: set[tuple[str, str, int]] = field(default_factory=set)
    collector_set: set[str] = field(default_factory=set)
    elements: int = 0
    episode: int = 1
    details: dict[str, Any] = field(default_factory=dict)
    # raw MRT records (not in to_dict; the CLI writes them to records/<id>.mrt)
    samples: list[bytes] = field(default_factory=list)
    # (source file name, collector) of each sample, to find its PEER_INDEX_TABLE
    sample_sources: list[tuple[str, str]] = field(default_factory=list)

    @property
    def peers(self) -> int:
        return len(self.peer_set)

    @property
    def collectors(self) -> list[str]:
        return sorted(self.collector_set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.key,
            "type": self.type,
            "state": self.state,
            "prefix": self.prefix,
            "watched_prefix": self.watched_prefix,
            "offending_asn": self.offending_asn,
            "as_set": self.as_set,
            "legitimate_origins": self.legitimate_origins,
            "reason": self.reason,
            "example_paths": list(self.example_paths),
            "first_seen": self.first_seen,
            "first_seen_iso": iso(self.first_seen),
            "last_seen": self.last_seen,
            "last_seen_iso": iso(self.last_seen),
            "peers": self.peers,
            "collectors": self.collectors,
            "collectors_count": len(self.collector_set),
            "elements": self.elements,
            "episode": self.episode,
            "samples": len(self.samples),
            "details": self.details,
        }


class AlertStore:
    """Collects findings into alerts, merging those within `window` seconds of each other."""

    def __init__(self, window: int = 3600, max_examples: int = 5) -> None:
        self.window = window
        self.max_examples = max_examples
        self._episodes: dict[str, list[Alert]] = {}

    def _episode(self, finding: Finding, time: int) -> Alert:
        key = finding.key
        episodes = self._episodes.get(key)
        if episodes is None:
            episodes = self._episodes[key] = []
        window = self.window
        for alert in episodes:
            if alert.first_seen - window <= time <= alert.last_seen + window:
                if time < alert.first_seen:
                    alert.first_seen = time
                elif time > alert.last_seen:
                    alert.last_seen = time
                if finding.details:
                    alert.details.update(finding.details)
                return alert
        alert = Alert(
            id=key, key=key, type=finding.type, state=finding.state, prefix=finding.prefix,
            watched_prefix=finding.watched_prefix, offending_asn=finding.offending_asn,
            legitimate_origins=sorted(finding.legitimate_origins), first_seen=time,
            last_seen=time, reason=finding.reason,
            as_set=sorted(finding.as_set) if finding.as_set else None,
            details=dict(finding.details),
        )
        episodes.append(alert)
        return alert

    def record(self, finding: Finding, element: Element) -> Alert:
        alert = self._episode(finding, element.time)
        alert.elements += 1
        alert.peer_set.add((element.collector, element.peer_ip, element.peer_asn))
        if element.collector:
            alert.collector_set.add(element.collector)
        if len(alert.example_paths) < self.max_examples and element.as_path:
            text = path_text(element.as_path)
            if text not in alert.example_paths:
                alert.example_paths.append(text)
        if (element.raw and len(alert.samples) < self.max_examples
                and element.raw not in alert.samples):
            alert.samples.append(element.raw)
            alert.sample_sources.append((element.source, element.collector))
        return alert

    def record_event(self, finding: Finding, time: int,
                     peers: set[tuple[str, str, int]]) -> Alert:
        """A finding not tied to one element (visibility)."""
        alert = self._episode(finding, time)
        alert.elements += 1
        alert.peer_set |= peers
        alert.collector_set |= {peer[0] for peer in peers if peer[0]}
        return alert

    def __len__(self) -> int:
        return sum(len(episodes) for episodes in self._episodes.values())

    def alerts(self) -> list[Alert]:
        """Final alerts: episodes bridged by later data are merged, ids are numbered."""
        result: list[Alert] = []
        for key, episodes in self._episodes.items():
            episodes.sort(key=lambda a: a.first_seen)
            merged: list[Alert] = []
            for alert in episodes:
                if merged and alert.first_seen <= merged[-1].last_seen + self.window:
                    _merge(merged[-1], alert, self.max_examples)
                else:
                    merged.append(alert)
            for number, alert in enumerate(merged, 1):
                alert.episode = number
                alert.id = key if number == 1 else f"{key}-{number}"
            self._episodes[key] = merged
            result.extend(merged)
        result.sort(key=lambda a: (a.first_seen, a.type, a.prefix, a.id))
        return result


def _merge(into: Alert, other: Alert, max_examples: int) -> None:
    into.last_seen = max(into.last_seen, other.last_seen)
    into.first_seen = min(into.first_seen, other.first_seen)
    into.elements += other.elements
    into.peer_set |= other.peer_set
    into.collector_set |= other.collector_set
    for path in other.example_paths:
        if len(into.example_paths) < max_examples and path not in into.example_paths:
            into.example_paths.append(path)
    for raw, source in zip(other.samples, other.sample_sources, strict=True):
        if len(into.samples) < max_examples and raw not in into.samples:
            into.samples.append(raw)
            into.sample_sources.append(source)
    into.details.update(other.details)


# --------------------------------------------------------------------------- detectors


def detect_hijack(element: Element, network: Network, watched: WatchedPrefix,
                  state: StateWatch) -> Finding | None:
    """Origin, sub-prefix, squatting and first-hop checks for one watched prefix."""
    origin = element.origin()
    if origin is None:
        return None
    exact = network.prefixlen == watched.prefix.prefixlen
    scope = "E" if exact else "S"
    as_set = origin if isinstance(origin, frozenset) else None
    offending = origin if isinstance(origin, int) else None
    if watched.squat:
        return _hijack("Q|0", network, watched, state, offending_asn=offending, as_set=as_set)
    if isinstance(origin, int):
        legitimate = origin in watched.origins
    else:
        # an AS_SET that contains a legitimate origin is an aggregate by (or with) it
        legitimate = bool(origin & watched.origins)
    if not legitimate:
        return _hijack(f"{scope}|0", network, watched, state, offending_asn=offending,
                       as_set=as_set)
    if not exact and network.prefixlen > watched.max_length:
        return _hijack("S|-", network, watched, state, offending_asn=offending,
                       reason="beyond-max-length", details={"max_length": watched.max_length})
    allowed = state.allowed_neighbors(watched)
    if not allowed or not isinstance(origin, int):
        return None
    # None when the collector's peer is the origin: no first hop to check
    neighbor = first_hop(element.as_path)
    if not isinstance(neighbor, int):
        return None
    if neighbor in allowed or neighbor in state.asns or neighbor in watched.origins:
        return None
    return _hijack(f"{scope}|1", network, watched, state, offending_asn=neighbor,
                   details={"origin": origin, "allowed_neighbors": sorted(allowed)})


def _hijack(alert_type: str, network: Network, watched: WatchedPrefix, state: StateWatch,
            **fields: Any) -> Finding:
    # only for a finding: most routes checked are legitimate
    return Finding(alert_type, state=state.code, prefix=str(network),
                   watched_prefix=str(watched.prefix), legitimate_origins=watched.origins,
                   **fields)


def detect_leak(element: Element, network: Network, watched: WatchedPrefix,
                rels: ASRelationships) -> Finding | None:
    leak = rels.leak(element.as_path)
    if leak is None:
        return None
    return leak_finding(leak, str(network), watched, str(watched.prefix))


def leak_finding(leak: Leak, prefix: str, watched: WatchedPrefix,
                 watched_prefix: str) -> Finding:
    """The finding `detect_leak` makes of `leak` on the route of `prefix` (the network's
    text) through `watched` (whose text is `watched_prefix`): the scanner finds the leak once
    per route, has the texts of the prefix it is reading, and asks for this per State."""
    return Finding("route-leak", state=watched.state, prefix=prefix,
                   watched_prefix=watched_prefix, offending_asn=leak.leaker,
                   legitimate_origins=watched.origins,
                   details={"triple": list(leak.triple), "learned_from": leak.learned_from,
                            "sent_to": leak.sent_to, "description": leak.describe()})


def rpki_finding(validation: Validation, element: Element, network: Network, state: str,
                 watched: WatchedPrefix | None) -> Finding | None:
    if validation.state != "invalid":
        return None
    origin = element.origin()
    return Finding(
        "rpki-invalid", state=state, prefix=str(network),
        watched_prefix=str(watched.prefix) if watched else None,
        offending_asn=origin if isinstance(origin, int) else None,
        as_set=origin if isinstance(origin, frozenset) else None,
        legitimate_origins=frozenset(v.asn for v in validation.covering if v.asn),
        reason=validation.reason,
        details={"vrps": [v.to_dict() for v in validation.covering[:10]]},
    )
