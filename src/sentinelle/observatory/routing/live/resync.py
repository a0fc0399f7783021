"""Routes of a BMP peer whose table is being re-sent (after a Peer Up), for detector.py.

When the monitor or a router restarts, the router reconnects, sends Peer Up for each peer and
then the peer's whole Adj-RIB-In again. A route withdrawn while the BMP session was down is
simply not in that table: no withdrawal ever comes for it. So a Peer Up marks every route the
detector holds for that peer *stale*; a route the peer announces (or withdraws) again is fresh;
what is still stale when the peer's End-of-RIB arrives (RFC 4724 marker, per address family),
or when the grace period is over, is withdrawn by the detector then.

Peers are (collector, address): a Peer Up may come from a router whose peer ASN changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .episodes import Peer

Route = tuple[Peer, str]  # (peer, prefix)


@dataclass
class Stale:
    deadline: float  # wall clock: withdraw what is left then, End-of-RIB or not
    source: str  # the source the Peer Up came from, named in the events it ends
    routes: set[Route] = field(default_factory=set)


def family_of(prefix: str) -> str:
    return "ipv6" if ":" in prefix else "ipv4"


class Resync:
    """The stale routes of the peers being re-sent, keyed by (collector, address)."""

    def __init__(self) -> None:
        self.peers: dict[tuple[str, str], Stale] = {}

    def start(self, key: tuple[str, str], routes: set[Route], deadline: float,
              source: str, now: float | None = None) -> None:
        """A Peer Up: ``routes`` (all the detector holds for the peer) are stale now. A peer
        with no routes on record has nothing to re-check. A Peer Up while a resync is
        under way (its deadline still ahead of ``now``) keeps that deadline: a router
        repeating Peer Up and never re-sending the table must not push the withdrawal of the
        stale routes back for ever. A deadline already past is one the monitor slept through
        (restarted meanwhile): the router re-sending now gets the full grace period."""
        current = self.peers.get(key)
        if current is not None and (now is None or current.deadline > now):
            deadline = min(deadline, current.deadline)
        if routes:
            self.peers[key] = Stale(deadline, source, set(routes))
        else:
            self.peers.pop(key, None)

    def fresh(self, peer: Peer, prefix: str) -> None:
        """The peer said something about ``prefix`` again: not stale any more."""
        stale = self.peers.get((peer[0], peer[1]))
        if stale is not None:
            stale.routes.discard((peer, prefix))
            if not stale.routes:
                del self.peers[(peer[0], peer[1])]

    def end_of_rib(self, key: tuple[str, str], family: str) -> tuple[list[Route], str]:
        """The stale routes of ``family`` ("ipv4"/"ipv6"; anything else: all) to withdraw
        now that the peer's End-of-RIB for it arrived, and the Peer Up's source."""
        stale = self.peers.get(key)
        if stale is None:
            return [], ""
        gone = sorted(r for r in stale.routes
                      if family not in ("ipv4", "ipv6") or family_of(r[1]) == family)
        stale.routes.difference_update(gone)
        if not stale.routes:
            del self.peers[key]
        return gone, stale.source

    def due(self, now: float) -> list[tuple[list[Route], str]]:
        """The stale routes of every peer whose grace period is over (those peers are done)."""
        out = []
        for key in [k for k, s in self.peers.items() if s.deadline <= now]:
            stale = self.peers.pop(key)
            out.append((sorted(stale.routes), stale.source))
        return out

    def drop(self, key: tuple[str, str]) -> None:
        """The peer went down: its routes are gone anyway."""
        self.peers.pop(key, None)

    def to_list(self, ref: Callable[[Peer], int]) -> list[list[Any]]:
        return [[collector, address, s.deadline, s.source,
                 [[ref(peer), prefix] for peer, prefix in sorted(s.routes)]]
                for (collector, address), s in self.peers.items()]

    @classmethod
    def from_list(cls, data: list, table: list[Peer]) -> Resync:
        """From `to_list`; ValueError/TypeError/IndexError on a damaged entry."""
        resync = cls()
        for collector, address, deadline, source, routes in data:
            if not isinstance(collector, str) or not isinstance(address, str) or \
                    not isinstance(source, str) or isinstance(deadline, bool) or \
                    not isinstance(deadline, (int, float)):
                raise ValueError("bad stale peer entry")
            stale = Stale(float(deadline), source,
                          {(table[i], str(prefix)) for i, prefix in routes})
            if stale.routes:
                resync.peers[(collector, address)] = stale
        return resync
