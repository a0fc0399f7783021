"""Per-alert state of the live detector (detector.py), kept apart to keep modules small:
an open routing episode, the visibility of one watched prefix, and the JSON forms the
detector's snapshot is made of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..detectors import alert_key
from ..prefixes import MAX_LEN
from ..watchlist import WatchedPrefix, WatchList

Peer = tuple[str, str, int]  # (collector, peer address, peer ASN)


@dataclass
class Episode:
    key: str
    type: str
    state: str
    prefix: str
    watched_prefix: str | None
    offending_asn: int | None
    as_set: list[int] | None
    legitimate_origins: list[int]
    route_origin: int | list[int] | None  # origin of the first offending route (ROA tag)
    first_seen: float
    last_seen: float
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    carriers: set[Peer] = field(default_factory=set)
    seen: set[Peer] = field(default_factory=set)
    example_paths: list[str] = field(default_factory=list)
    samples: list[bytes] = field(default_factory=list)
    alert_id: str | None = None  # set when raised
    held_by: str | None = None  # the mute holding its "raised" event
    source: str = ""  # where the raising message came from
    observed_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["carriers"] = sorted(list(p) for p in self.carriers)
        data["seen"] = sorted(list(p) for p in self.seen)
        data["samples"] = [raw.hex() for raw in self.samples]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Episode:
        episode = cls(**{k: v for k, v in data.items()
                         if k not in ("carriers", "seen", "samples")})
        episode.carriers = {peer_of(p) for p in data["carriers"]}
        episode.seen = {peer_of(p) for p in data["seen"]}
        episode.samples = [bytes.fromhex(h) for h in data["samples"]]
        return episode


@dataclass
class Visibility:
    watched: WatchedPrefix
    baseline: set[Peer] = field(default_factory=set)
    routes: dict[Peer, set[str]] = field(default_factory=dict)  # routes to it or inside
    seeing: set[Peer] = field(default_factory=set)  # baseline peers with a route
    alert_id: str | None = None
    first_seen: float | None = None
    last_seen: float | None = None
    lost: set[Peer] = field(default_factory=set)  # peers that lost it during the episode
    held_by: str | None = None
    source: str = ""
    observed_at: float | None = None

    @property
    def key(self) -> str:
        return alert_key("visibility-loss", str(self.watched.prefix), None, self.watched.state)

    def to_dict(self, ref: Callable[[Peer], int]) -> dict[str, Any]:
        """JSON form; peers as indexes into the snapshot's shared peer table (``ref``): a
        full-feed collector has about a thousand peers, repeated for every watched prefix."""
        return {"state": self.watched.state, "prefix": str(self.watched.prefix),
                "baseline": [ref(p) for p in self.baseline],
                "routes": [[ref(p), list(r)] for p, r in self.routes.items()],
                "alert_id": self.alert_id, "first_seen": self.first_seen,
                "last_seen": self.last_seen, "lost": [ref(p) for p in self.lost],
                "held_by": self.held_by, "source": self.source,
                "observed_at": self.observed_at}

    @classmethod
    def from_dict(cls, entry: dict[str, Any], watched: WatchedPrefix,
                  table: list[Peer]) -> Visibility:
        """The inverse of `to_dict`, peers given back by their index in ``table``."""
        vis = cls(watched)
        vis.baseline = {table[i] for i in entry["baseline"]}
        vis.routes = {table[i]: set(prefixes) for i, prefixes in entry["routes"]}
        vis.seeing = {p for p in vis.baseline if vis.routes.get(p)}
        vis.lost = {table[i] for i in entry["lost"]}
        for name in ("alert_id", "first_seen", "last_seen", "held_by", "source",
                     "observed_at"):
            setattr(vis, name, entry[name])
        return vis


def peer_of(value: list | tuple) -> Peer:
    collector, address, asn = value
    if not isinstance(collector, str) or not isinstance(address, str) or \
            isinstance(asn, bool) or not isinstance(asn, int):
        raise ValueError(f"bad peer {value!r}")
    return (collector, address, asn)


def heads(watch: WatchList) -> tuple[set[str], set[str], bool]:
    """First IPv4 octets / first IPv6 groups (as text) the watched prefixes span; True when
    an IPv6 prefix is too short for the shortcut."""
    v4: set[str] = set()
    v6: set[str] = set()
    v6_all = False
    for watched in watch.prefixes():
        net = watched.prefix
        address = int(net.network_address)
        if net.version == 4:
            first = address >> 24
            span = 1 << max(0, 8 - net.prefixlen)
            v4.update(str(first + i) for i in range(span))
        elif net.prefixlen < 4:
            v6_all = True
        else:
            first = address >> (MAX_LEN[6] - 16)
            span = 1 << max(0, 16 - net.prefixlen)
            v6.update(format(first + i, "x") for i in range(span))
    if "0" in v6:
        v6.add("")  # "::/0", "::1:0:0:0/64": the compressed form has an empty first group
    return v4, v6, v6_all
