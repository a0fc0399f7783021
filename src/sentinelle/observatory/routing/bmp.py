"""BMP v3 (RFC 7854) decoding: router monitoring messages -> route `Element`s and events.

A router exporting BMP connects to us and sends a stream of messages, each framed by a
6-byte common header (version 3, length, type). Route Monitoring messages carry a BGP UPDATE
received from (or, RFC 8671, sent to) one of the router's peers; they are decoded with the
MRT reader's attribute code (`bgp_attributes`) into the same `Element`s `mrt.read_elements`
yields, so the detectors see no difference. Peer Up / Peer Down and Initiation / Termination
become `BmpEvent`s; Statistics Reports and Route Mirroring are counted and skipped.

Unlike an MRT file (where damage is skipped and the reading goes on), a BMP stream that breaks
its framing cannot be resynchronised: every error is a `BmpError` naming the stream offset of
the message, and the listener closes that router's connection.

Two entry points: `BmpSession.decode(message, offset)` for one framed message (the listener
reads frames itself with `read_frame_async`), and `read_stream(fp)` for a recorded stream.
"""

from __future__ import annotations

import struct
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from socket import inet_ntoa
from typing import IO

from .bgp_attributes import fmt_ipv6, nlri_prefixes, parse_attrs
from .elements import Element

__all__ = [
    "COMMON_HEADER", "MAX_MESSAGE", "BmpError", "BmpEvent", "BmpSession", "BmpStats",
    "PEER_HEADER", "check_header", "read_stream", "router_name",
]

VERSION = 3
COMMON_HEADER = 6  # version (1), message length (4), message type (1)
PEER_HEADER = 42  # RFC 7854 section 4.2
# A Route Monitoring message is at most 6 + 42 + 65,535 (an RFC 8654 extended UPDATE); a
# Peer Up holds two OPENs (4,096 each unless extended) and a few TLVs. Anything longer is a
# broken or hostile stream, refused before a byte of it is buffered.
MAX_MESSAGE = 1 << 18

ROUTE_MONITORING, STATISTICS, PEER_DOWN, PEER_UP, INITIATION, TERMINATION, ROUTE_MIRRORING = (
    range(7))
TYPE_NAMES = ("route monitoring", "statistics report", "peer down", "peer up", "initiation",
              "termination", "route mirroring")

# per-peer header flags (RFC 7854 4.2, RFC 8671 for O)
FLAG_V = 0x80  # peer address is IPv6
FLAG_L = 0x40  # post-policy Adj-RIB-In
FLAG_A = 0x20  # legacy 2-byte AS_PATH in the UPDATE (else 4-byte)
FLAG_O = 0x10  # Adj-RIB-Out

_MARKER = b"\xff" * 16
_HEAD = struct.Struct(">BIB")
_PEER = struct.Struct(">BB8s16sI4sII")
_u16 = struct.Struct(">H").unpack_from
_TLV = struct.Struct(">HH")

PEER_DOWN_REASONS = {
    1: "local system closed, NOTIFICATION sent",
    2: "local system closed, no NOTIFICATION",
    3: "remote system closed, NOTIFICATION received",
    4: "remote system closed, no NOTIFICATION",
    5: "peer de-configured",
}
_INIT_TLVS = {0: "string", 1: "sysDescr", 2: "sysName"}
_TERM_REASONS = {0: "administratively closed", 1: "unspecified", 2: "out of resources",
                 3: "redundant connection", 4: "permanently administratively closed"}


class BmpError(ValueError):
    """A message that breaks the BMP framing or structure; `offset` is where it starts in
    the stream (bytes since the connection opened)."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"BMP message at offset {offset}: {message}")
        self.offset = offset


@dataclass(slots=True)
class BmpEvent:
    """Something other than a route: a router introducing itself or leaving, a BGP session
    of one of its peers coming up or going down."""

    kind: str  # "initiation", "termination", "peer_up", "peer_down", "end_of_rib"
    router: str  # the exporting router (its address, or its sysName once known)
    time: int  # unix seconds: the per-peer header's, or when we received it
    peer_ip: str = ""
    peer_asn: int = 0
    info: dict[str, str] = field(default_factory=dict)


@dataclass
class BmpStats:
    messages: Counter = field(default_factory=Counter)  # type name -> count
    elements: int = 0
    invalid_prefixes: int = 0  # prefix length beyond the family: dropped, as mrt.py does
    bytes: int = 0


def check_header(head: bytes, offset: int, max_message: int = MAX_MESSAGE) -> tuple[int, int]:
    """(total length, type) of a common header, or BmpError. Checked before the body is read,
    so a huge declared length never makes us buffer anything."""
    if len(head) < COMMON_HEADER:
        raise BmpError(f"truncated common header ({len(head)} of {COMMON_HEADER} bytes)",
                       offset)
    version, length, mtype = _HEAD.unpack_from(head)
    if version != VERSION:
        raise BmpError(f"version {version}, only BMP version {VERSION} is supported", offset)
    if length < COMMON_HEADER:
        raise BmpError(f"declared length {length} is shorter than the common header", offset)
    if length > max_message:
        raise BmpError(f"declared length {length} exceeds the maximum {max_message}", offset)
    if mtype >= len(TYPE_NAMES):
        raise BmpError(f"unknown message type {mtype}", offset)
    return length, mtype


@dataclass(slots=True)
class _Peer:
    """What one per-peer header says."""

    peer_type: int
    flags: int
    ip: str
    asn: int
    time: int


def _addpath_families(sent: bytes, received: bytes) -> frozenset[tuple[int, int]]:
    """(AFI, SAFI) where the peer's UPDATEs to the router carry ADD-PATH identifiers (RFC
    7911): the peer offered to send and the router to receive."""
    peer_send = {k for k, v in _addpath_caps(received).items() if v & 2}
    router_recv = {k for k, v in _addpath_caps(sent).items() if v & 1}
    return frozenset(peer_send & router_recv)


def _addpath_caps(open_msg: bytes) -> dict[tuple[int, int], int]:
    """ADD-PATH capability (69) of a BGP OPEN: (AFI, SAFI) -> send/receive bits. Malformed
    optional parameters end the scan (the capabilities only refine decoding)."""
    out: dict[tuple[int, int], int] = {}
    if len(open_msg) < 29:
        return out
    plen = open_msg[28]
    p, end = 29, min(len(open_msg), 29 + plen)
    while p + 2 <= end:
        ptype, pl = open_msg[p], open_msg[p + 1]
        q, pend = p + 2, min(end, p + 2 + pl)
        if ptype == 2:  # capabilities
            while q + 2 <= pend:
                code, cl = open_msg[q], open_msg[q + 1]
                v, vend = q + 2, min(pend, q + 2 + cl)
                if code == 69:
                    while v + 4 <= vend:
                        out[(_u16(open_msg, v)[0], open_msg[v + 2])] = open_msg[v + 3]
                        v += 4
                q = vend
        p = pend
    return out


MAX_ROUTER_NAME = 100


def router_name(sys_name: str) -> str:
    """The sysName as a collector name: printable characters only (no control, bidi or
    other format characters), no "<" or ">", at most MAX_ROUTER_NAME. It names the collector
    in every alert, mail, syslog line and platform event; the platform refuses an event
    holding markup, control characters or a name over 200 characters, so a router's odd
    sysName would otherwise get all its alerts rejected."""
    kept = "".join(c for c in sys_name if c.isprintable() and c not in "<>")
    return " ".join(kept.split())[:MAX_ROUTER_NAME]


class BmpSession:
    """Decoding state of one router's BMP stream: its name and which of its peers use
    ADD-PATH (learnt from their Peer Up). One per connection."""

    def __init__(self, router: str, stats: BmpStats | None = None) -> None:
        self.router = router
        self.stats = stats if stats is not None else BmpStats()
        # (peer address, distinguisher) -> ADD-PATH families; bounded by the router's peers,
        # and entries leave at Peer Down
        self._addpath: dict[tuple[str, bytes], frozenset[tuple[int, int]]] = {}

    # -- one message

    def decode(self, msg: bytes, offset: int = 0) -> tuple[list[Element], list[BmpEvent]]:
        """Elements and events of one whole message (common header included)."""
        length, mtype = check_header(msg, offset, max(len(msg), COMMON_HEADER))
        if length != len(msg):
            raise BmpError(f"declared length {length} but {len(msg)} bytes given", offset)
        self.stats.messages[TYPE_NAMES[mtype]] += 1
        self.stats.bytes += length
        if mtype in (INITIATION, TERMINATION):
            return [], [self._info(msg, mtype, offset)]
        peer, dist = self._peer(msg, offset)
        p = COMMON_HEADER + PEER_HEADER
        if mtype == ROUTE_MONITORING:
            elements = self._route_monitoring(msg, p, peer, dist, offset)
            family = None if elements else _end_of_rib(msg, p)
            if family is None:
                return elements, []
            return [], [BmpEvent("end_of_rib", self.router, peer.time, peer.ip, peer.asn,
                                 {"family": family})]
        if mtype == PEER_UP:
            return [], [self._peer_up(msg, p, peer, dist, offset)]
        if mtype == PEER_DOWN:
            self._addpath.pop((peer.ip, dist), None)
            reason = msg[p] if p < length else 0
            info = {"reason": PEER_DOWN_REASONS.get(reason, f"reason {reason}")}
            return [], [BmpEvent("peer_down", self.router, peer.time, peer.ip, peer.asn, info)]
        return [], []  # statistics report, route mirroring: counted above

    def _peer(self, msg: bytes, offset: int) -> tuple[_Peer, bytes]:
        if len(msg) < COMMON_HEADER + PEER_HEADER:
            raise BmpError(f"{len(msg)} bytes, too short for the per-peer header", offset)
        ptype, flags, dist, addr, asn, _bgp_id, sec, _usec = _PEER.unpack_from(
            msg, COMMON_HEADER)
        ip = fmt_ipv6(addr) if flags & FLAG_V else inet_ntoa(addr[12:])
        # Some routers leave the timestamp at 0 (RFC 7854 allows it for Peer Up replays):
        # the receiving time is then the best we have.
        return _Peer(ptype, flags, ip, asn, sec or int(time.time())), dist

    def _info(self, msg: bytes, mtype: int, offset: int) -> BmpEvent:
        info: dict[str, str] = {}
        p, end = COMMON_HEADER, len(msg)
        while p < end:
            if p + 4 > end:
                raise BmpError(f"truncated information TLV at byte {p}", offset)
            ttype, tlen = _TLV.unpack_from(msg, p)
            if p + 4 + tlen > end:
                raise BmpError(f"information TLV type {ttype} runs past the message", offset)
            value = msg[p + 4:p + 4 + tlen]
            if mtype == TERMINATION and ttype == 1 and tlen == 2:
                code = _u16(value)[0]
                info["reason"] = _TERM_REASONS.get(code, f"reason {code}")
            else:
                name = (_INIT_TLVS if mtype == INITIATION else {0: "string"}).get(
                    ttype, f"tlv{ttype}")
                text = value.decode("utf-8", "replace")[:1024]
                info[name] = f"{info[name]}\n{text}" if name in info else text
            p += 4 + tlen
        if mtype == INITIATION and (name := router_name(info.get("sysName", ""))):
            self.router = name
        kind = "initiation" if mtype == INITIATION else "termination"
        return BmpEvent(kind, self.router, int(time.time()), info=info)

    def _peer_up(self, msg: bytes, p: int, peer: _Peer, dist: bytes, offset: int) -> BmpEvent:
        end = len(msg)
        if p + 20 > end:
            raise BmpError("peer up shorter than its local address and ports", offset)
        local = msg[p:p + 16]
        local_ip = fmt_ipv6(local) if peer.flags & FLAG_V else inet_ntoa(local[12:])
        local_port, remote_port = _TLV.unpack_from(msg, p + 16)
        p += 20
        opens = []
        for which in ("sent", "received"):
            q = _bgp_message(msg, p, end, f"{which} OPEN", offset)
            if msg[p + 18] != 1:
                raise BmpError(f"{which} OPEN has BGP type {msg[p + 18]}", offset)
            opens.append(msg[p:q])
            p = q
        self._addpath[(peer.ip, dist)] = _addpath_families(opens[0], opens[1])
        info = {"local_ip": local_ip, "local_port": str(local_port),
                "remote_port": str(remote_port)}
        return BmpEvent("peer_up", self.router, peer.time, peer.ip, peer.asn, info)

    def _route_monitoring(self, msg: bytes, p: int, peer: _Peer, dist: bytes,
                          offset: int) -> list[Element]:
        end = _bgp_message(msg, p, len(msg), "UPDATE", offset)
        if msg[p + 18] != 2:
            raise BmpError(f"route monitoring carries BGP type {msg[p + 18]}, not UPDATE",
                           offset)
        p += 19
        if p + 2 > end:
            raise BmpError("UPDATE too short for its withdrawn routes length", offset)
        wlen = _u16(msg, p)[0]
        p += 2
        wend = p + wlen
        if wend + 2 > end:
            raise BmpError(f"UPDATE withdrawn routes ({wlen} bytes) run past the message",
                           offset)
        alen = _u16(msg, wend)[0]
        aend = wend + 2 + alen
        if aend > end:
            raise BmpError(f"UPDATE path attributes ({alen} bytes) run past the message",
                           offset)
        families = self._addpath.get((peer.ip, dist), frozenset())
        v4_addpath = (1, 1) in families
        asn_len = 2 if peer.flags & FLAG_A else 4
        # parse_attrs takes one ADD-PATH switch for both MP_REACH and MP_UNREACH: a peer
        # mixing ADD-PATH and plain families over MP attributes would be misread (rare).
        mp_addpath = any(f != (1, 1) for f in families)
        a = parse_attrs(msg, wend + 2, aend, asn_len, mp_addpath)
        rows: list[tuple[str, str, bool, str]] = []
        for pfx, _pid, ok in nlri_prefixes(msg, p, wend, 1, v4_addpath):
            rows.append(("W", pfx, ok, ""))
        for _key, lst in sorted(a.mp_unreach.items()):
            for pfx, _pid, ok in lst:
                rows.append(("W", pfx, ok, ""))
        for pfx, _pid, ok in nlri_prefixes(msg, aend, end, 1, v4_addpath):
            rows.append(("A", pfx, ok, a.nexthop))
        for _key, (_shown, nh, lst) in sorted(a.mp_reach.items()):
            for pfx, _pid, ok in lst:
                rows.append(("A", pfx, ok, nh))
        out = []
        source = f"bmp:{self.router}"
        for kind, pfx, ok, nh in rows:
            if not ok:
                self.stats.invalid_prefixes += 1
                continue
            if kind == "W":
                out.append(Element("W", peer.time, peer.ip, peer.asn, pfx, (), self.router,
                                   msg, source))
            else:
                out.append(Element("A", peer.time, peer.ip, peer.asn, pfx, a.as_path,
                                   self.router, msg, source, nh, a.communities))
        self.stats.elements += len(out)
        return out


def _end_of_rib(msg: bytes, p: int) -> str | None:
    """"ipv4 unicast" / "ipv6 unicast" when the (already checked) UPDATE at p is an End-of-RIB
    marker (RFC 4724 section 2: no NLRI and no withdrawals for IPv4 unicast; for another family
    an MP_UNREACH_NLRI attribute holding only the AFI/SAFI), else None. After a Peer Up the
    router has then sent the peer's whole table for that family."""
    end = p + _u16(msg, p + 16)[0]
    if end == p + 23:
        return "ipv4 unicast"  # withdrawn length 0, attributes length 0, no NLRI
    wlen, alen = _u16(msg, p + 19)[0], _u16(msg, p + 21)[0]
    q = p + 23
    if wlen or q + alen != end or alen < 3:
        return None
    flags, code = msg[q], msg[q + 1]
    head = 4 if flags & 0x10 else 3
    if alen < head + 3:
        return None
    size = _u16(msg, q + 2)[0] if head == 4 else msg[q + 2]
    if code != 15 or size != 3 or head + size != alen:
        return None
    afi, safi = _u16(msg, q + head)[0], msg[q + head + 2]
    return {(1, 1): "ipv4 unicast", (2, 1): "ipv6 unicast"}.get((afi, safi))


def _bgp_message(msg: bytes, p: int, end: int, what: str, offset: int) -> int:
    """End of the BGP message at p (marker, length, type), checked to fit in [p, end)."""
    if p + 19 > end:
        raise BmpError(f"{what}: BGP header truncated", offset)
    if msg[p:p + 16] != _MARKER:
        raise BmpError(f"{what}: bad BGP marker", offset)
    blen = _u16(msg, p + 16)[0]
    if blen < 19 or p + blen > end:
        raise BmpError(f"{what}: BGP length {blen} does not fit the message", offset)
    return p + blen


def read_stream(fp: IO[bytes], router: str = "recorded", *,
                max_message: int = MAX_MESSAGE, session: BmpSession | None = None,
                ) -> Iterator[Element | BmpEvent]:
    """Elements and events of a recorded BMP stream (a file or socket.makefile("rb")), in
    order. Reads one message at a time; the first malformed message raises BmpError."""
    session = session or BmpSession(router)
    offset = 0
    while True:
        head = fp.read(COMMON_HEADER)
        if not head:
            return
        length, _ = check_header(head, offset, max_message)
        body = fp.read(length - COMMON_HEADER)
        if len(body) != length - COMMON_HEADER:
            raise BmpError(f"truncated: {length} bytes declared, "
                           f"{COMMON_HEADER + len(body)} present", offset)
        elements, events = session.decode(head + body, offset)
        yield from elements
        yield from events
        offset += length
