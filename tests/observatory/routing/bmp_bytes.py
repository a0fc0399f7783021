"""BMP v3 (RFC 7854) messages built byte by byte, independent of the code under test.

Used by tests/observatory/routing/test_routing_bmp.py and to write the fuzz seeds in
fuzz/corpus/bmp/ (`python -m tests.observatory.routing.bmp_bytes fuzz/corpus/bmp`).
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from pathlib import Path

MARKER = b"\xff" * 16
RM, STATS, PEER_DOWN, PEER_UP, INIT, TERM, MIRROR = range(7)
FLAG_V, FLAG_L, FLAG_A = 0x80, 0x40, 0x20


def message(mtype: int, body: bytes, version: int = 3) -> bytes:
    return struct.pack(">BIB", version, 6 + len(body), mtype) + body


def peer_header(ip: str, asn: int, ts: int, flags: int = 0, peer_type: int = 0,
                distinguisher: bytes = bytes(8)) -> bytes:
    addr = ipaddress.ip_address(ip)
    if addr.version == 6:
        flags |= FLAG_V
        raw = addr.packed
    else:
        raw = bytes(12) + addr.packed
    return struct.pack(">BB8s16sI4sII", peer_type, flags, distinguisher, raw, asn,
                       ipaddress.IPv4Address("10.0.0.1").packed, ts, 123)


def bgp(mtype: int, body: bytes) -> bytes:
    return MARKER + struct.pack(">HB", 19 + len(body), mtype) + body


def attr(flags: int, code: int, value: bytes) -> bytes:
    if len(value) > 255:
        return struct.pack(">BBH", flags | 0x10, code, len(value)) + value
    return struct.pack(">BBB", flags, code, len(value)) + value


def as_path(asns: list[int], size: int = 4) -> bytes:
    return attr(0x40, 2, struct.pack(f">BB{len(asns)}{'I' if size == 4 else 'H'}", 2,
                                     len(asns), *asns))


def nlri(prefix: str, path_id: int | None = None) -> bytes:
    net = ipaddress.ip_network(prefix)
    nbytes = (net.prefixlen + 7) // 8
    out = bytes((net.prefixlen,)) + net.network_address.packed[:nbytes]
    return (struct.pack(">I", path_id) if path_id is not None else b"") + out


def update(withdrawn: bytes = b"", attrs: bytes = b"", announced: bytes = b"") -> bytes:
    return bgp(2, struct.pack(">H", len(withdrawn)) + withdrawn
               + struct.pack(">H", len(attrs)) + attrs + announced)


def ipv4_attrs(path: list[int], size: int = 4, next_hop: str = "192.0.2.1",
               communities: tuple[int, ...] = ()) -> bytes:
    out = attr(0x40, 1, b"\x00") + as_path(path, size)
    out += attr(0x40, 3, ipaddress.IPv4Address(next_hop).packed)
    if communities:
        out += attr(0xC0, 8, struct.pack(f">{len(communities)}I", *communities))
    return out


def mp_reach_v6(prefixes: list[str], next_hop: str = "2001:db8::1") -> bytes:
    body = struct.pack(">HBB", 2, 1, 16) + ipaddress.IPv6Address(next_hop).packed + b"\x00"
    return attr(0x80, 14, body + b"".join(nlri(p) for p in prefixes))


def mp_unreach_v6(prefixes: list[str]) -> bytes:
    return attr(0x80, 15, struct.pack(">HB", 2, 1) + b"".join(nlri(p) for p in prefixes))


def route_monitoring(peer: bytes, upd: bytes) -> bytes:
    return message(RM, peer + upd)


def bgp_open(asn: int, caps: bytes = b"") -> bytes:
    params = (bytes((2, len(caps))) + caps) if caps else b""
    return bgp(1, struct.pack(">BHH4sB", 4, 23456 if asn > 65535 else asn, 90,
                              ipaddress.IPv4Address("10.0.0.9").packed, len(params)) + params)


def addpath_cap(afi: int, safi: int, bits: int) -> bytes:
    return bytes((69, 4)) + struct.pack(">HBB", afi, safi, bits)


def peer_up(peer: bytes, sent_open: bytes, received_open: bytes,
            local_ip: str = "127.0.0.11") -> bytes:
    local = ipaddress.ip_address(local_ip)
    raw = local.packed if local.version == 6 else bytes(12) + local.packed
    return message(PEER_UP, peer + raw + struct.pack(">HH", 179, 40000) + sent_open
                   + received_open)


def peer_down(peer: bytes, reason: int = 4) -> bytes:
    return message(PEER_DOWN, peer + bytes((reason,)))


def tlv(code: int, value: bytes) -> bytes:
    return struct.pack(">HH", code, len(value)) + value


def initiation(sys_name: str = "edge1", descr: str = "test router") -> bytes:
    return message(INIT, tlv(1, descr.encode()) + tlv(2, sys_name.encode()))


def termination(reason: int = 0) -> bytes:
    return message(TERM, tlv(0, b"bye") + tlv(1, struct.pack(">H", reason)))


def statistics(peer: bytes) -> bytes:
    return message(STATS, peer + struct.pack(">I", 1) + tlv(0, struct.pack(">I", 7)))


def mirroring(peer: bytes) -> bytes:
    return message(MIRROR, peer + tlv(0, update()))


def sample_stream() -> bytes:
    """A whole session: every message type, IPv4 and IPv6 routes, an ADD-PATH peer."""
    p1 = peer_header("192.0.2.7", 65001, 1_700_000_000)
    p6 = peer_header("2001:db8::7", 4200000001, 1_700_000_001)
    ap = peer_header("192.0.2.8", 65002, 1_700_000_002)
    return b"".join((
        initiation(),
        peer_up(p1, bgp_open(65000), bgp_open(65001)),
        route_monitoring(p1, update(attrs=ipv4_attrs([65001, 4200000000],
                                                     communities=(65001 << 16 | 7,)),
                                    announced=nlri("198.18.0.0/16"))),
        route_monitoring(p6, update(attrs=attr(0x40, 1, b"\x00")
                                    + as_path([4200000001, 65003])
                                    + mp_reach_v6(["2001:db8:100::/48"]))),
        peer_up(ap, bgp_open(65000, addpath_cap(1, 1, 1)), bgp_open(65002, addpath_cap(1, 1, 2))),
        route_monitoring(ap, update(attrs=ipv4_attrs([65002]),
                                    announced=nlri("198.51.100.0/24", 1)
                                    + nlri("198.51.100.0/24", 2))),
        statistics(p1),
        mirroring(p1),
        route_monitoring(p1, update(withdrawn=nlri("198.18.0.0/16"))),
        route_monitoring(p6, update(attrs=mp_unreach_v6(["2001:db8:100::/48"]))),
        peer_down(p1),
        termination(),
    ))


def write_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "session.bmp").write_bytes(sample_stream())
    p2 = peer_header("192.0.2.9", 64512, 1_700_000_003, flags=FLAG_A)
    (directory / "as2.bmp").write_bytes(
        route_monitoring(p2, update(attrs=ipv4_attrs([64512, 23456], size=2),
                                    announced=nlri("203.0.113.0/24"))))


if __name__ == "__main__":
    write_corpus(Path(sys.argv[1]))
