"""The unit every routing source is reduced to: one route seen by one peer at one time.

MRT files (`mrt.read_elements`) and RIS-Live frames (`rislive.read_rislive`) both yield
`Element`s, so the detectors never care where a route came from.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Element:
    kind: str  # "A" announce, "W" withdraw, "B" RIB entry (STATE changes are not elements)
    time: int  # unix seconds (RIS-Live float rounded down is fine)
    peer_ip: str
    peer_asn: int
    prefix: str  # normalised "190.6.64.0/19", "2001:db8::/32"
    # ints = AS_SEQUENCE hops, frozenset = AS_SET; confederation segments are left out
    # because they never name an origin or a transit outside the confederation.
    as_path: tuple[int | frozenset[int], ...] = ()
    collector: str = ""  # RIS collector (rrc00) if known, else the source file name
    raw: bytes = b""  # the whole MRT record (12-byte header + body); b"" for RIS-Live
    source: str = ""  # file name
    next_hop: str = ""
    # "65000:1" for RFC 1997 communities (numeric, even for the well-known ones) and
    # "65000:1:2" for RFC 8092 large communities.
    communities: tuple[str, ...] = ()

    def origin(self) -> int | frozenset[int] | None:
        """The last hop of the AS path (the originating AS, or an AS_SET), None if empty."""
        return self.as_path[-1] if self.as_path else None
