"""Tags on every live routing event: ``roa``, ``relationship``, ``confidence``,
``confidence_level``. They tell a network engineer at a glance how much to trust an alert; the
rule behind ``confidence`` is in `confidence`'s docstring (copied into docs/routing-monitor.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..asrel import ASRelationships
from ..rpki import VRPSet
from ..scan import _network

if TYPE_CHECKING:  # pragma: no cover
    from .detector import LiveOptions

# Per alert type: how likely the alert is a real incident before any other evidence.
BASE = {
    "E|0": 0.5,  # someone else originates the whole prefix
    "S|0": 0.5,  # someone else originates a more-specific
    "Q|0": 0.5,  # a prefix that should not be routed at all shows up
    "rpki-invalid": 0.4,
    "visibility-loss": 0.5,
    "E|1": 0.3,  # first-hop anomaly: often an out-of-date neighbour list
    "S|1": 0.3,
    "route-leak": 0.3,  # as-rel inference errors make these noisy
    "S|-": 0.2,  # legitimate origin, longer than max_length: usually traffic engineering
}
# types whose offending AS is the announced origin: a ROA speaks about it directly
ORIGIN_TYPES = frozenset({"E|0", "S|0", "Q|0", "S|-"})
ROA_ADJUST = {"invalid": 0.25, "valid": -0.3}
RELATIONSHIP_ADJUST = {"sibling": -0.3, "customer": -0.2, "provider": -0.2, "peer": -0.1,
                       "none": 0.1}
# a relationship found with any legitimate origin, the closest kind first
RELATIONSHIP_ORDER = ("sibling", "customer", "provider", "peer")


def confidence(alert_type: str, roa: str, relationship: str, peers: int, collectors: int,
               options: LiveOptions) -> float:
    """How much to trust an alert, 0..1 (two decimals). The rule:

    1. start from the base of the type: E|0, S|0, Q|0 and visibility-loss 0.5;
       rpki-invalid 0.4; E|1, S|1 and route-leak 0.3; S|- 0.2;
    2. for E|0, S|0, Q|0 and S|- (the offending AS is the announced origin): ROA invalid
       +0.25; ROA valid -0.3 (the prefix holder's ROA authorises that origin: most likely the
       watch list is out of date). For the other types the ROA says nothing about the
       offending AS and changes nothing;
    3. except for route-leak and visibility-loss, the relationship of the offending AS to the
       legitimate origin(s): sibling -0.3, customer or provider -0.2, peer -0.1 (a business
       link suggests an arrangement: DDoS scrubbing, a provider announcing for a customer);
       none (as-rel loaded, no link at all) +0.1; same/unknown 0;
    4. spread: +0.1 when at least 2 x min_peers peers carry it (for visibility-loss: lost
       it); +0.05 per collector beyond min_collectors, at most +0.15;
    5. clamp to 0..1 and round to two decimals.

    Levels (`confidence_level`): low below 0.4, medium from 0.4, high from 0.7.
    """
    score = BASE.get(alert_type, 0.4)
    if alert_type in ORIGIN_TYPES:
        score += ROA_ADJUST.get(roa, 0.0)
    if alert_type not in ("route-leak", "visibility-loss"):
        score += RELATIONSHIP_ADJUST.get(relationship, 0.0)
    if peers >= 2 * max(options.min_peers, 1):
        score += 0.1
    score += min(max(collectors - max(options.min_collectors, 1), 0) * 0.05, 0.15)
    return round(min(max(score, 0.0), 1.0), 2)


def confidence_level(score: float) -> str:
    if score >= 0.7:
        return "high"
    if score >= 0.4:
        return "medium"
    return "low"


def roa_state(prefix: str, origin: int | frozenset[int] | None, vrps: VRPSet | None) -> str:
    """RFC 6811 state of the announced prefix with the route's origin; unknown without VRPs."""
    if vrps is None:
        return "unknown"
    if origin is None:
        return "not-found"
    return vrps.validate(_network(prefix), origin).state


def relationship(offending: int | None, legitimate: Iterable[int],
                 asrel: ASRelationships | None) -> str:
    """What the offending AS is to the legitimate origin(s): sibling, customer, provider or peer
    (the first found in that order over all origins); ``same`` when it is one of them; ``none``
    when as-rel is loaded and has no link; ``unknown`` without as-rel or offending AS."""
    if asrel is None or offending is None:
        return "unknown"
    origins = list(legitimate)
    if offending in origins:
        return "same"
    found = {asrel.relation(offending, origin) for origin in origins}
    for kind in RELATIONSHIP_ORDER:
        if kind in found:
            return kind
    return "none"


def routing_tags(alert_type: str, prefix: str, route_origin: int | frozenset[int] | None,
                 offending: int | None, legitimate: Iterable[int], vrps: VRPSet | None,
                 asrel: ASRelationships | None, peers: int, collectors: int,
                 options: LiveOptions) -> dict[str, Any]:
    """Tags of a routing alert. ``route_origin`` is the origin of the offending route (for a
    first-hop anomaly or a leak that is the legitimate origin, not the offending AS)."""
    roa = roa_state(prefix, route_origin, vrps)
    rel = relationship(offending, legitimate, asrel)
    score = confidence(alert_type, roa, rel, peers, collectors, options)
    return {"roa": roa, "relationship": rel, "confidence": score,
            "confidence_level": confidence_level(score)}


def visibility_tags(lost: int, collectors: int, options: LiveOptions) -> dict[str, Any]:
    """visibility-loss has no offending route: roa and relationship are ``n/a``."""
    score = confidence("visibility-loss", "n/a", "n/a", lost, collectors, options)
    return {"roa": "n/a", "relationship": "n/a", "confidence": score,
            "confidence_level": confidence_level(score)}
