"""Per-type MRT record decoders: TABLE_DUMP, TABLE_DUMP_V2, BGP4MP(_ET) and the old type 5.

The third stage of the MRT reader (`mrt.py` is the public face): `decode` turns one framed
record into rows (one per route announced, withdrawn or dumped, plus BGP state changes), in
the order and with the conventions of bgpdump (what it prints when an attribute is missing,
which records it drops) so that `bgpdump_format` can be checked line by line against it;
where bgpdump reads past an attribute or misparses, these decoders stay within the record.
Unlike bgpdump they give a record's rows only when it decodes whole (`Damaged`): every length
must agree with the bytes (the BGP length with the record's, the NLRI filling their range
with prefixes of their family), else the record is skipped and its byte range reported.
"""

from __future__ import annotations

import struct
from socket import inet_ntoa

from .bgp_attributes import (
    Attrs,
    Damaged,
    attr_caches,
    cache_attrs,
    cached_elsewhere,
    fmt_ipv6,
    nlri_prefixes,
    padded,
    parse_attrs,
    prefix_text,
)
from .mrt_framing import BGP, BGP4MP, BGP4MP_ET, TABLE_DUMP, TABLE_DUMP_V2, ReadStats

__all__ = ["Context", "Row", "decode"]

_u16 = struct.Struct(">H").unpack_from
_u32 = struct.Struct(">I").unpack_from
_U16x2 = struct.Struct(">HH")
_TD2_ENTRY = struct.Struct(">HIH")  # peer index, originated time, attribute length
_TD2_ENTRY_AP = struct.Struct(">HIIH")  # ... with the RFC 8050 path identifier

# --------------------------------------------------------------------------- records

# Row layouts produced by the decoders:
#   (kind "A"|"B"|"W", fmt, ts, time text, peer_ip|None, peer_as, prefix, path_id|None,
#    attrs|None, nexthop_shown, tail mode (Attrs.tail), valid, next_hop_for_element,
#    bgpdump_prints, line head "fmt|time|kind|peer|peer AS|" or None without a peer)
#   ("STATE", fmt, ts, time text, peer_ip, peer_as, old_state, new_state)
# The time text is what bgpdump prints: unix seconds, ".%06d" microseconds for BGP4MP_ET.
Row = tuple


class Context:
    """Per-file decoding state: the TABLE_DUMP_V2 peer table."""

    __slots__ = ("peers", "stats", "name", "missing_peers_warned", "heads", "heads_key")

    def __init__(self, stats: ReadStats, name: str) -> None:
        self.heads: dict[int, str | None] = {}
        self.heads_key: tuple[str, str] | None = None
        self.peers: list[tuple[str, int]] | None = None
        self.stats = stats
        self.name = name
        self.missing_peers_warned = False


def decode(raw: bytes, ts: int, typ: int, sub: int, ctx: Context) -> list[Row]:
    """Rows of one framed record (empty for records that carry no routes). A record that
    does not decode whole (a length field that disagrees with the bytes, a read past its
    end) gives no row at all: it is counted as malformed and its byte range reported."""
    stats = ctx.stats
    stats.record_types[(typ, sub)] += 1
    try:
        if typ == TABLE_DUMP_V2:
            return _table_dump_v2(raw, ts, sub, ctx)
        if typ in (BGP4MP, BGP4MP_ET):
            return _bgp4mp(raw, ts, typ, sub, ctx)
        if typ == TABLE_DUMP:
            return _table_dump(raw, ts, sub, ctx)
        if typ == BGP:
            return _mrtd_bgp(raw, ts, sub, ctx)
    except Damaged as exc:
        _skip(raw, typ, sub, ctx, str(exc))
        return []
    except Exception as exc:  # noqa: BLE001 - hostile input must never stop the reader
        _skip(raw, typ, sub, ctx, f"{type(exc).__name__}: {exc}")
        return []
    stats.unknown_types[typ] += 1
    return []


def _skip(raw: bytes, typ: int, sub: int, ctx: Context, why: str) -> None:
    stats = ctx.stats
    start = stats.offset
    stats.malformed_records += 1
    stats.skipped(start, start + len(raw))
    stats.warn(f"{ctx.name}: {typ}/{sub} record at offset {start} ({len(raw)} bytes, to "
               f"{start + len(raw)}) does not decode whole ({why}); skipped")


def _peer_table(raw: bytes, ctx: Context) -> None:
    p = 12 + 4
    name_len = _u16(raw, p)[0]
    p += 2 + name_len
    count = _u16(raw, p)[0]
    p += 2
    peers = []
    for _ in range(count):
        ptype = raw[p]
        p += 5  # type + BGP identifier
        if ptype & 1:
            ip = fmt_ipv6(raw[p:p + 16])
            p += 16
        else:
            ip = inet_ntoa(raw[p:p + 4])
            p += 4
        if ptype & 2:
            asn = _u32(raw, p)[0]
            p += 4
        else:
            asn = _u16(raw, p)[0]
            p += 2
        peers.append((ip, asn))
    if p != len(raw):
        raise Damaged(f"{count} peers end at byte {p} of {len(raw)}")
    ctx.peers = peers
    ctx.heads_key = None
    ctx.stats.peer_index_record = raw


_TD2_AFI = {2: 1, 3: 1, 4: 2, 5: 2, 8: 1, 9: 1, 10: 2, 11: 2}


def _table_dump_v2(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    if sub == 1:
        _peer_table(raw, ctx)
        return []
    stats = ctx.stats
    addpath = sub >= 8
    p = 16  # after the sequence number
    end = len(raw)
    if sub == 6 or sub == 12:
        afi, safi = _u16(raw, p)[0], raw[p + 2]
        p += 3
        if afi not in (1, 2) or safi not in (1, 2):
            stats.unsupported[f"13/{sub} afi {afi} safi {safi}"] += 1
            return []
        compat = False  # bgpdump does not decode RIB_GENERIC
    else:
        afi = _TD2_AFI.get(sub)
        if afi is None:
            stats.unsupported[f"13/{sub}"] += 1
            return []
        compat = sub in (2, 4, 8, 10)  # bgpdump skips the multicast RIBs
    nb = (raw[p] + 7) >> 3
    key = raw[p:p + 1 + nb]
    if len(key) != 1 + nb:
        raise Damaged("prefix runs past the record")
    prefix, valid = prefix_text(key, afi)
    if not valid:
        raise Damaged(f"prefix length {key[0]} beyond its address family")
    p += 1 + nb
    count = _u16(raw, p)[0]
    p += 2
    peers = ctx.peers
    npeers = len(peers) if peers is not None else 0
    fmt = "TABLE_DUMP2_AP" if addpath else "TABLE_DUMP2"
    entry = (_TD2_ENTRY_AP if addpath else _TD2_ENTRY).unpack_from
    head = 12 if addpath else 8
    cache = attr_caches[(4, addpath)]
    tt = str(ts)
    rows: list[Row] = []
    append = rows.append
    path_id = None
    unknown = False
    # the line start of each peer, reused while the dump time and format stay the same
    if ctx.heads_key != (tt, fmt):
        ctx.heads_key = (tt, fmt)
        ctx.heads = {}
    heads = ctx.heads
    for _ in range(count):
        if addpath:
            index, _orig, path_id, alen = entry(raw, p)
        else:
            index, _orig, alen = entry(raw, p)
        p += head
        q = p + alen
        if q > end:
            raise Damaged("RIB entry runs past the record")
        blob = raw[p:q]
        a = cache.get(blob)
        if a is None:
            a = cache_attrs(cache, blob, 4, addpath, stats)
        elif a.__class__ is not Attrs:
            a = cached_elsewhere(cache, blob, 4, addpath)
        if a.damage is not None:
            raise Damaged(a.damage)
        if a.has_mp_reach and not a.mp_reach:  # no AFI/SAFI of a RIB entry's family
            raise Damaged("MP_REACH_NLRI of another address family in a RIB entry")
        p = q
        if index < npeers:
            peer_ip, peer_as = peers[index]  # type: ignore[index]
        else:
            peer_ip, peer_as = None, 0
            unknown = True
            if not ctx.missing_peers_warned:
                ctx.missing_peers_warned = True
                stats.warn(f"{ctx.name}: RIB entries refer to peer {index} but no "
                           "PEER_INDEX_TABLE lists it (first in the record at offset "
                           f"{stats.offset}); their peer is unknown and the dump leaves them "
                           "out")
        nh = a.mp6_nexthop or a.nexthop
        line_head = heads.get(index)
        if line_head is None and peer_ip is not None:
            line_head = heads[index] = f"{fmt}|{tt}|B|{peer_ip}|{peer_as}|"
        append(("B", fmt, ts, tt, peer_ip, peer_as, prefix, path_id, a, nh, 0, valid, nh,
                compat, line_head))
    if p != end:
        raise Damaged(f"{end - p} bytes after the {count} RIB entries")
    if unknown:  # the dump cannot print these entries: their record's range is reported
        stats.skipped(stats.offset, stats.offset + end)
    return rows


def _table_dump(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    if sub in (1, 3):
        alen_ip, fmt_ip = 4, inet_ntoa
    elif sub in (2, 4):
        alen_ip, fmt_ip = 16, fmt_ipv6
    else:
        ctx.stats.unsupported[f"12/{sub}"] += 1
        return []
    asn_len = 4 if sub in (3, 4) else 2
    afi = 1 if alen_ip == 4 else 2
    end = len(raw)
    p = 16  # after view and sequence
    if end - p < 2 * alen_ip + 12 + asn_len:
        raise Damaged("no whole RIB entry in the record")
    rows = []
    first = True
    tt = str(ts)
    # Early RIS bviews pack many entries, without view/sequence, into one record.
    while end - p >= 2 * alen_ip + 12 + asn_len:
        pfx = raw[p:p + alen_ip]
        mask = raw[p + alen_ip]
        p += alen_ip + 6  # prefix, mask, status, originated time
        peer_ip = fmt_ip(raw[p:p + alen_ip])
        p += alen_ip
        peer_as = _u32(raw, p)[0] if asn_len == 4 else _u16(raw, p)[0]
        p += asn_len
        alen = _u16(raw, p)[0]
        p += 2
        if p + alen > end:
            raise Damaged("attributes run past the record")
        a = parse_attrs(raw, p, p + alen, asn_len, False, ctx.stats)
        if a.damage is not None:
            raise Damaged(a.damage)
        p += alen
        nbytes = min((mask + 7) >> 3, alen_ip)
        prefix, valid = prefix_text(bytes((mask,)) + pfx[:nbytes], afi)
        if not valid:
            raise Damaged(f"prefix length {mask} beyond its address family")
        nh = a.mp6_nexthop if a.mp6_nexthop is not None else a.nexthop
        rows.append(("B", "TABLE_DUMP", ts, tt, peer_ip, peer_as, prefix, None, a, nh, 0,
                     valid, nh, first, f"TABLE_DUMP|{tt}|B|{peer_ip}|{peer_as}|"))
        first = False
    if p != end:
        raise Damaged(f"{end - p} bytes after the RIB entries")
    return rows


_LOCAL = frozenset((6, 7, 10, 11))
_AS4 = frozenset((4, 5, 7, 9, 11))
_FORMATS = {
    (BGP4MP, False, False): "BGP4MP", (BGP4MP, False, True): "BGP4MP_AP",
    (BGP4MP, True, False): "BGP4MP_LOCAL", (BGP4MP, True, True): "BGP4MP_LOCAL_AP",
    (BGP4MP_ET, False, False): "BGP4MP_ET", (BGP4MP_ET, False, True): "BGP4MP_ET_AP",
    (BGP4MP_ET, True, False): "BGP4MP_ET_LOCAL", (BGP4MP_ET, True, True): "BGP4MP_ET_LOCAL_AP",
}
_MARKER = b"\xff" * 16

# The fast path of BGP4MP_MESSAGE*: the peer header (peer AS, local AS, interface, AFI, peer
# and local address) and the BGP header (marker, length, type) in one unpack, one Struct per
# (AS size, AFI). Update files are mostly small records, where the per-record calls were
# the cost; anything unusual (short record, other AFI, bad marker) takes the general path.
_MSG_HEADS = {
    (2, 1): struct.Struct(">HHHH4s4s16sHB"),
    (4, 1): struct.Struct(">IIHH4s4s16sHB"),
    (2, 2): struct.Struct(">HHHH16s16s16sHB"),
    (4, 2): struct.Struct(">IIHH16s16s16sHB"),
}
# (type, subtype) -> (format name, AS size, ADD-PATH, IPv4 and IPv6 message head Structs)
# for the message subtypes, so that a record costs one lookup instead of several tests.
_MESSAGES = {
    (typ, sub): (_FORMATS[(typ, sub in _LOCAL, sub >= 8)], 4 if sub in _AS4 else 2, sub >= 8,
                 _MSG_HEADS[(4 if sub in _AS4 else 2, 1)],
                 _MSG_HEADS[(4 if sub in _AS4 else 2, 2)])
    for typ in (BGP4MP, BGP4MP_ET) for sub in (1, 4, 6, 7, 8, 9, 10, 11)
}


def _bgp4mp(raw: bytes, ts: int, typ: int, sub: int, ctx: Context) -> list[Row]:
    if typ == BGP4MP_ET:
        usec = _u32(raw, 12)[0]
        p = 16
    else:
        usec = None
        p = 12
    msg = _MESSAGES.get((typ, sub))
    if msg is not None:
        fmt, asn_len, addpath, head4, head6 = msg
        end = len(raw)
        at = p + 2 * asn_len + 2  # where the AFI is
        if end >= p + head4.size and raw[at] == 0 and raw[at + 1] == 1:
            peer_as, _, _, _, ip, _, marker, size, mtype = head4.unpack_from(raw, p)
            if marker == _MARKER:
                if mtype != 2:
                    return []  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH: no routes
                q = p + head4.size
                _message_length(size, end - q + 19)
                return _update(raw, q, end, ts, usec, fmt, inet_ntoa(ip), peer_as,
                               asn_len, addpath, ctx)
        elif end >= p + head6.size and raw[at] == 0 and raw[at + 1] == 2:
            peer_as, _, _, _, ip, _, marker, size, mtype = head6.unpack_from(raw, p)
            if marker == _MARKER:
                if mtype != 2:
                    return []
                q = p + head6.size
                _message_length(size, end - q + 19)
                return _update(raw, q, end, ts, usec, fmt, fmt_ipv6(ip), peer_as,
                               asn_len, addpath, ctx)
        return _message(raw, ts, typ, sub, usec, p, ctx)
    asn_len = 4 if sub in _AS4 else 2
    if sub == 0 or sub == 5:
        return _state_change(raw, ts, typ, usec, p, asn_len, ctx)
    if sub == 2:
        return _bgp4mp_entry(raw, ts, usec, p, ctx)
    ctx.stats.unsupported[f"{typ}/{sub}"] += 1
    return []


def _message_length(size: int, have: int) -> None:
    """An UPDATE's BGP length must be the bytes the MRT record holds for it (and at least
    the 23 of an empty UPDATE): otherwise one of the two lengths is damaged."""
    if size != have or size < 23:
        raise Damaged(f"BGP message length {size}, {have} bytes in the record")


def _message(raw: bytes, ts: int, typ: int, sub: int, usec: int | None, p: int,
             ctx: Context) -> list[Row]:
    """BGP4MP_MESSAGE* the general way: short records, the Zebra OPENs without addresses,
    unknown AFIs and bad markers (with their warnings)."""
    end = len(raw)
    asn_len = 4 if sub in _AS4 else 2
    if asn_len == 4:
        peer_as = _u32(raw, p)[0]
        p += 8
    else:
        peer_as = _u16(raw, p)[0]
        p += 4
    ifindex, afi = _U16x2.unpack_from(raw, p)
    p += 4
    if afi == 1:
        peer_ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2:
        peer_ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    elif afi == 0xFFFF and ifindex == 0xFFFF:
        # Zebra wrote OPENs without interface and addresses: those 4 bytes were the marker
        peer_ip = "0.0.0.0"  # noqa: S104 - an address to print, nothing binds to it
        p -= 4
    else:
        raise Damaged(f"BGP4MP message with unsupported AFI {afi}")
    if raw[p:p + 16] != _MARKER:
        raise Damaged("BGP message with a bad marker")
    size = _u16(raw, p + 16)[0]
    p += 18
    if p >= end or raw[p] != 2:
        return []  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH: no routes
    _message_length(size, end - p + 18)
    p += 1
    local = sub in _LOCAL
    addpath = sub >= 8
    fmt = _FORMATS[(typ, local, addpath)]
    return _update(raw, p, end, ts, usec, fmt, peer_ip, peer_as, asn_len, addpath, ctx)


def _update(raw: bytes, p: int, mend: int, ts: int, usec: int | None, fmt: str, peer_ip: str,
            peer_as: int, asn_len: int, addpath: bool, ctx: Context) -> list[Row]:
    """The body of a BGP UPDATE (after the type byte) -> W rows then A rows, in bgpdump's
    order: plain NLRI, then MP_(UN)REACH IPv4 unicast/multicast/both, then IPv6."""
    # every length must land inside the message, and the NLRI fill theirs exactly: a record
    # where one does not gives no route (see Damaged)
    if p + 4 > mend:
        raise Damaged(f"UPDATE of {mend - p} bytes")
    wlen = _u16(raw, p)[0]
    p += 2
    wend = p + wlen
    if wend + 2 > mend:
        raise Damaged(f"withdrawn routes length {wlen} runs past the message")
    withdrawn = nlri_prefixes(raw, p, wend, 1, addpath, True) if wlen else ()
    p = wend
    alen = _u16(raw, p)[0]
    p += 2
    aend = p + alen
    if aend > mend:
        raise Damaged(f"path attributes length {alen} runs past the message")
    blob = raw[p:aend]
    cache = attr_caches[(asn_len, addpath)]
    a = cache.get(blob)
    if a is None:
        a = cache_attrs(cache, blob, asn_len, addpath, ctx.stats)
    elif a.__class__ is not Attrs:
        a = cached_elsewhere(cache, blob, asn_len, addpath)
    if a.damage is not None:
        raise Damaged(a.damage)
    p = aend
    announced = nlri_prefixes(raw, p, mend, 1, addpath, True) if p < mend else ()
    rows: list[Row] = []
    append = rows.append
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    if withdrawn or a.has_mp_unreach:
        head = f"{fmt}|{tt}|W|{peer_ip}|{peer_as}|"
        for pfx, pid, ok in withdrawn:
            append(("W", fmt, ts, tt, peer_ip, peer_as, pfx, pid, None, "", 0, ok, "", True,
                    head))
        # dict order is insertion order: sort to get bgpdump's (AFI, SAFI) order
        for _key, lst in sorted(a.mp_unreach.items()):
            for pfx, pid, ok in lst:
                append(("W", fmt, ts, tt, peer_ip, peer_as, pfx, pid, None, "", 0, ok, "",
                        True, head))
    if announced or a.has_mp_reach:
        head = f"{fmt}|{tt}|A|{peer_ip}|{peer_as}|"
        nh = a.nexthop
        mode = 2 if fmt == "BGP" else 0
        for pfx, pid, ok in announced:
            append(("A", fmt, ts, tt, peer_ip, peer_as, pfx, pid, a, nh, mode, ok, nh, True,
                    head))
        for key, (shown, nh, lst) in sorted(a.mp_reach.items()):
            mode = 1 if key[0] == 1 else 0
            for pfx, pid, ok in lst:
                append(("A", fmt, ts, tt, peer_ip, peer_as, pfx, pid, a, shown, mode, ok, nh,
                        True, head))
    return rows


def _bgp4mp_entry(raw: bytes, ts: int, usec: int | None, p: int, ctx: Context) -> list[Row]:
    """BGP4MP_ENTRY (subtype 2, from the MRT drafts; OpenBGPD writes its RIB this way): one
    route, with the peer header of BGP4MP_MESSAGE. bgpdump does not decode it."""
    peer_as = _u16(raw, p)[0]
    afi = _u16(raw, p + 6)[0]
    p += 8
    if afi == 1:
        peer_ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2:
        peer_ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    else:
        raise Damaged(f"BGP4MP_ENTRY with unsupported AFI {afi}")
    p += 8  # view, status, time of last change
    rafi, _safi, nhlen = _u16(raw, p)[0], raw[p + 2], raw[p + 3]
    p += 4
    if rafi == 1:
        nh = inet_ntoa(padded(raw, p, len(raw), 4))
    elif rafi == 2:
        nh = fmt_ipv6(padded(raw, p, len(raw), 16))
    else:
        ctx.stats.unsupported[f"16/2 afi {rafi}"] += 1
        return []
    p += nhlen
    nb = (raw[p] + 7) >> 3
    if p + 1 + nb > len(raw):
        raise Damaged("prefix runs past the record")
    prefix, valid = prefix_text(raw[p:p + 1 + nb], rafi)
    if not valid:
        raise Damaged(f"prefix length {raw[p]} beyond its address family")
    p += 1 + nb
    alen = _u16(raw, p)[0]
    p += 2
    if p + alen > len(raw):
        raise Damaged("attributes run past the record")
    a = parse_attrs(raw, p, p + alen, 2, False, ctx.stats)
    if a.damage is not None:
        raise Damaged(a.damage)
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    return [("B", "BGP4MP_ENTRY", ts, tt, peer_ip, peer_as, prefix, None, a, nh, 0, valid,
             nh, False, f"BGP4MP_ENTRY|{tt}|B|{peer_ip}|{peer_as}|")]


def _state_change(raw: bytes, ts: int, typ: int, usec: int | None, p: int, asn_len: int,
                  ctx: Context) -> list[Row]:
    body = len(raw) - p
    fmt = "BGP4MP" if typ == BGP4MP else "BGP4MP_ET"
    peer_as = _u32(raw, p)[0] if asn_len == 4 else _u16(raw, p)[0]
    p += 2 * asn_len
    if body == 8:
        # Zebra bug: state change without interface/AFI/addresses
        old, new = _U16x2.unpack(padded(raw, p, len(raw), 4))
        tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
        return [("STATE", fmt, ts, tt, "0.0.0.0", peer_as, old, new)]  # noqa: S104
    afi = _u16(raw, p + 2)[0]
    p += 4
    if afi == 1 and body in (20, 24):
        ip = inet_ntoa(raw[p:p + 4])
        p += 8
    elif afi == 2 and body in (44, 48):
        ip = fmt_ipv6(raw[p:p + 16])
        p += 32
    else:
        raise Damaged(f"state change with AFI {afi} and length {body}")
    old, new = _U16x2.unpack_from(raw, p)
    tt = str(ts) if usec is None else f"{ts}.{usec:06d}"
    return [("STATE", fmt, ts, tt, ip, peer_as, old, new)]


def _mrtd_bgp(raw: bytes, ts: int, sub: int, ctx: Context) -> list[Row]:
    """Deprecated type 5: UPDATE (1) and STATE_CHANGE (3) carry what bgpdump -m prints."""
    p = 12
    if sub == 3:
        peer_as = _u16(raw, p)[0]
        ip = inet_ntoa(raw[p + 2:p + 6])
        old, new = _U16x2.unpack(padded(raw, p + 6, len(raw), 4))
        return [("STATE", "BGP", ts, str(ts), ip, peer_as, old, new)]
    if sub != 1:
        return []  # OPEN, NOTIFY, KEEPALIVE, SYNC, PREF_UPDATE: no routes
    peer_as = _u16(raw, p)[0]
    peer_ip = inet_ntoa(raw[p + 2:p + 6])
    return _update(raw, p + 12, len(raw), ts, None, "BGP", peer_ip, peer_as, 2, False, ctx)


