"""What flows through the live monitor: items from the sources in, alert events out.

A source (ris-live, bmp, mrt-dir) puts ``SourceItem``s on one queue; the detector turns them into
``AlertEvent``s; the outbox stores each event once per destination under its idempotency key and
delivers it. The idempotency key depends only on the alert episode and the event kind, so an event
produced again after a restart (same alert, same kind) is recognised and neither stored nor
delivered twice; receivers get the key in every delivery and can drop a repeat themselves (the
one window where a repeat is possible: the process dies after a receiver accepted a delivery and
before the outbox recorded it).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..elements import Element

__all__ = ["EVENT_KINDS", "AlertEvent", "SourceItem", "iso"]

# raised/resolved: a routing alert episode starts or ends; feed-lost/feed-restored: a source went
# silent or came back; muted/unmuted: an operator muted alerts (recorded, delivered like others).
EVENT_KINDS = ("raised", "resolved", "feed-lost", "feed-restored", "muted", "unmuted")


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class SourceItem:
    """One thing a source saw. ``kind``:

    * ``element``: a route (``element`` set);
    * ``peer-down``: a BGP session behind the source went down (``peer`` = (collector, address,
      ASN)): the routes it carried are gone;
    * ``peer-up``: a BMP peer's session came up (``peer`` as for peer-down): the router
      re-sends the peer's table next, and a route it leaves out is gone;
    * ``end-of-rib``: that re-sent table is whole for one address family (``peer``; ``detail``
      "ipv4 unicast" or "ipv6 unicast");
    * ``alive``: a message that carries no route but proves the feed works (a RIS Live pong, a
      BMP statistics report or initiation, an MRT file that only had state changes);
    * ``status``: something worth a log line (connected, reconnecting...), ``detail`` says what.

    ``observed_at`` is the wall-clock time (time.time()) the message reached us: the detection
    delay is measured from it and from the BGP timestamp.
    """

    kind: str
    source: str  # the --source spec it came from, e.g. "bmp:127.0.0.1:11019"
    observed_at: float
    element: Element | None = None
    peer: tuple[str, str, int] | None = None
    detail: str = ""


@dataclass
class AlertEvent:
    """One event to deliver. ``alert_id`` names the episode and is stable across restarts: the
    alert key (sha256 of type|prefix|offending AS|State, 20 hex) and the BGP time the episode
    began, ``<key>@<first_seen>``; feed events use ``feed:<source>@<time lost>``."""

    event: str  # one of EVENT_KINDS
    alert_id: str
    type: str  # the routing alert type (E|0, S|0, ... visibility-loss) or "feed" or "mute"
    state: str = ""  # ISO 3166 alpha-2 of the State the alert is for; "" for feed events
    prefix: str = ""
    watched_prefix: str | None = None
    offending_asn: int | None = None
    as_set: list[int] | None = None
    legitimate_origins: list[int] = field(default_factory=list)
    first_seen: float | None = None  # BGP time of the first element of the episode
    last_seen: float | None = None
    resolved_at: float | None = None  # for "resolved" / "feed-restored"
    duration: float | None = None  # seconds from first_seen to resolved_at
    peers: int = 0  # distinct (collector, peer address, peer ASN) that saw it
    collectors: list[str] = field(default_factory=list)
    example_paths: list[str] = field(default_factory=list)
    # roa: valid | invalid | not-found | unknown (no VRPs loaded); relationship: what the
    # offending AS is to the legitimate origin (customer, provider, peer, sibling, none, unknown);
    # confidence: 0..1 and confidence_level: low | medium | high (rule in docs/routing-monitor.md)
    tags: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    muted_by: str | None = None  # the mute's id when a mute covers this alert: not delivered
    source: str = ""  # the source whose message raised or resolved it
    observed_at: float | None = None  # wall clock when that message reached us
    emitted_at: float | None = None  # wall clock when the detector produced the event
    # up to 5 raw records (MRT or BMP bytes) behind the alert, for the evidence bundle; not in
    # to_dict() (the outbox stores them apart, hex)
    samples: list[bytes] = field(default_factory=list, repr=False)

    @property
    def idempotency_key(self) -> str:
        return hashlib.sha256(f"{self.alert_id}|{self.event}".encode()).hexdigest()[:32]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("samples")
        data["idempotency_key"] = self.idempotency_key
        for name in ("first_seen", "last_seen", "resolved_at"):
            data[f"{name}_iso"] = iso(data[name])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], samples: list[bytes] | None = None) -> AlertEvent:
        names = set(cls.__dataclass_fields__) - {"samples"}
        event = cls(**{k: v for k, v in data.items() if k in names})
        event.samples = list(samples or [])
        return event
