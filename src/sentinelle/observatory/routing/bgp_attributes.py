"""BGP path attributes and NLRI as the MRT reader decodes them (RFC 4271, 4760, 6793, 8092).

The second stage of the MRT reader (`mrt.py` is the public face): address and prefix texts
the way bgpdump prints them, the path attribute block (`parse_attrs` -> `Attrs`), AS paths
with the RFC 6793 AS4_PATH merge, communities and large communities. Identical attribute
blocks, AS paths and prefixes are decoded once, through small bounded caches keyed by their
raw bytes (RIB dumps repeat the same attribute sets for many prefixes).
"""

from __future__ import annotations

import struct
from socket import inet_ntoa
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .mrt_framing import ReadStats

__all__ = [
    "AS_CONFED_SEQUENCE", "AS_CONFED_SET", "AS_SEQUENCE", "AS_SET", "ATTR_CACHE_SIZE",
    "Attrs", "Damaged", "attr_caches", "cache_attrs", "cached_elsewhere", "fmt_ipv6",
    "nlri_prefixes", "padded", "parse_attrs", "prefix_text",
]

_U16 = struct.Struct(">H")
_U32 = struct.Struct(">I")
_u16 = _U16.unpack_from
_u32 = _U32.unpack_from

_ZEROS = bytes(32)


class Damaged(ValueError):
    """A length field of a record disagrees with the bytes around it: the record does not
    decode whole, and none of its routes may be shown (issue 20: a damaged length must never
    turn into an altered route)."""

_NO_IP = b"\xff\xff\xff\xff"  # bgpdump's INADDR_NONE: what it prints for a missing NEXT_HOP


# --------------------------------------------------------------------------- addresses

_fmt6_cache: dict[bytes, str] = {}


def fmt_ipv6(b: bytes) -> str:
    """IPv6 text the way bgpdump writes it: the longest run of zero groups (even a single
    one) becomes "::", IPv4-mapped and -compatible addresses end in dotted quad."""
    s = _fmt6_cache.get(b)
    if s is not None:
        return s
    if b[:10] == _ZEROS[:10] and (b[10:12] == b"\xff\xff" or (
            b[10:12] == b"\x00\x00" and _u32(b, 12)[0] > 1)):
        s = ("::ffff:" if b[10] else "::") + inet_ntoa(b[12:16])
    else:
        groups = struct.unpack(">8H", b)
        best_at, best_len, run_at, run_len = -1, 0, -1, 0
        for i, g in enumerate(groups):
            if g == 0:
                if run_len == 0:
                    run_at = i
                run_len += 1
                if run_len > best_len:
                    best_at, best_len = run_at, run_len
            else:
                run_len = 0
        hexes = [f"{g:x}" for g in groups]
        if best_len:
            s = (":".join(hexes[:best_at]) + "::" + ":".join(hexes[best_at + best_len:]))
        else:
            s = ":".join(hexes)
    if len(_fmt6_cache) > 20_000:
        _fmt6_cache.clear()
    _fmt6_cache[b] = s
    return s


def padded(data: bytes, off: int, end: int, n: int) -> bytes:
    """n bytes at off, zero-filled past end (bgpdump's stream reads behave this way)."""
    if off + n <= end:
        return data[off:off + n]
    return data[off:end] + _ZEROS[: n - max(0, end - off)] if off < end else _ZEROS[:n]


_pfx_caches: dict[int, dict[bytes, tuple[str, bool]]] = {1: {}, 2: {}}


def prefix_text(key: bytes, afi: int) -> tuple[str, bool]:
    """Text of a prefix from its NLRI encoding (length byte + address bytes), host bits
    cleared; the flag is False when the length is beyond the address family."""
    plen = key[0]
    addr = key[1:]
    if plen & 7 and addr:
        last = addr[-1] & (0xFF << (8 - (plen & 7))) & 0xFF
        if last != addr[-1]:
            addr = addr[:-1] + bytes((last,))
    if afi == 1:
        n = len(addr)
        if n != 4:
            addr = addr + _ZEROS[: 4 - n] if n < 4 else addr[:4]
        return f"{inet_ntoa(addr)}/{plen}", plen <= 32
    n = len(addr)
    if n != 16:
        addr = addr + _ZEROS[: 16 - n] if n < 16 else addr[:16]
    return f"{fmt_ipv6(addr)}/{plen}", plen <= 128


_PAD4 = (b"\0\0\0\0", b"\0\0\0", b"\0\0", b"\0", b"")
_SLASH = tuple(f"/{i}" for i in range(256))
_LOW_BITS = (0, 0x7F, 0x3F, 0x1F, 0x0F, 0x07, 0x03, 0x01)  # host bits of the last byte


def nlri_prefixes(data: bytes, off: int, end: int, afi: int, addpath: bool,
                  strict: bool = False) -> list:
    """NLRI list -> [(text, path_id or None, valid)]; a truncated last prefix is dropped, or
    with `strict` raises Damaged, as does a prefix longer than its family (the MRT decoders
    show a record's routes only when its NLRI fill their range exactly)."""
    out = []
    append = out.append
    if afi == 1 and not addpath:
        # The common case (IPv4, no ADD-PATH) in its own loop: fewer tests per prefix.
        while off < end:
            plen = data[off]
            nb = (plen + 7) >> 3
            nxt = off + 1 + nb
            if nxt > end:
                if strict:
                    raise Damaged(f"prefix length {plen} runs past its NLRI")
                break
            if nb <= 4 and not (plen & 7 and data[nxt - 1] & _LOW_BITS[plen & 7]):
                # no host bits (nearly all): no cache, updates rarely repeat a prefix
                append((inet_ntoa(data[off + 1:nxt] + _PAD4[nb]) + _SLASH[plen], None, True))
            else:
                hit = _cached_prefix(data[off:nxt], 1)
                if strict and not hit[1]:
                    raise Damaged(f"prefix length {plen} beyond its address family")
                append((hit[0], None, hit[1]))
            off = nxt
        return out
    path_id = None
    while off < end:
        if addpath:
            if off + 5 > end:
                if strict:
                    raise Damaged("path identifier runs past its NLRI")
                break
            path_id = _u32(data, off)[0]
            off += 4
        plen = data[off]
        nb = (plen + 7) >> 3
        nxt = off + 1 + nb
        if nxt > end:
            if strict:
                raise Damaged(f"prefix length {plen} runs past its NLRI")
            break
        if afi == 1 and nb <= 4 and not (plen & 7 and data[nxt - 1] & _LOW_BITS[plen & 7]):
            append((inet_ntoa(data[off + 1:nxt] + _PAD4[nb]) + _SLASH[plen], path_id, True))
        else:
            hit = _cached_prefix(data[off:nxt], afi)
            if strict and not hit[1]:
                raise Damaged(f"prefix length {plen} beyond its address family")
            append((hit[0], path_id, hit[1]))
        off = nxt
    return out


def _cached_prefix(key: bytes, afi: int) -> tuple[str, bool]:
    cache = _pfx_caches[afi]
    hit = cache.get(key)
    if hit is None:
        hit = prefix_text(key, afi)
        if len(cache) > 20000:
            cache.clear()
        cache[key] = hit
    return hit


# --------------------------------------------------------------------------- attributes

AS_SET, AS_SEQUENCE, AS_CONFED_SEQUENCE, AS_CONFED_SET = 1, 2, 3, 4
_SEG_START = {AS_SET: "{", AS_CONFED_SET: "[", AS_CONFED_SEQUENCE: "("}
_SEG_END = {AS_SET: "}", AS_CONFED_SET: "]", AS_CONFED_SEQUENCE: ")"}
_ASPATH_ERROR = "! Error !"
_structs: dict[tuple[int, int], struct.Struct] = {}


def _asns(data: bytes, off: int, n: int, size: int) -> tuple[int, ...]:
    """n big-endian unsigned integers of `size` (2 or 4) bytes at off."""
    s = _structs.get((n, size))
    if s is None:
        s = _structs[(n, size)] = struct.Struct(f">{n}{'I' if size == 4 else 'H'}")
    return s.unpack_from(data, off)


def _segments(data: bytes, asn_len: int) -> tuple[list | None, int]:
    """AS_PATH segments and bgpdump's hop count (an AS_SET counts 1), or (None, 0) where
    bgpdump reports "! Error !"."""
    end = len(data)
    if end >= 2 and data[0] == AS_SEQUENCE and 2 + data[1] * asn_len == end:
        return [(AS_SEQUENCE, _asns(data, 2, data[1], asn_len))], data[1]  # the usual case
    segs = []
    count = 0
    off = 0
    while off < end:
        if off + 2 > end:
            return None, 0
        t, n = data[off], data[off + 1]
        if t < 1 or t > 4 or off + 2 + n * asn_len > end:
            return None, 0
        segs.append((t, _asns(data, off + 2, n, asn_len)))
        count += 1 if t in (AS_SET, AS_CONFED_SET) else n
        off += 2 + n * asn_len
    return segs, count


def _count(segs: list) -> int:
    return sum(1 if t in (AS_SET, AS_CONFED_SET) else len(a) for t, a in segs)


def _path_text(segs: list | None) -> str:
    """bgpdump's AS path text: sequences space-separated, {a,b} sets, (..) [..] confeds."""
    if segs is None:
        return _ASPATH_ERROR
    if len(segs) == 1 and segs[0][0] == AS_SEQUENCE:
        return " ".join(map(str, segs[0][1]))
    parts = []
    prev = AS_SEQUENCE
    space = False
    for t, asns in segs:
        if prev != AS_SEQUENCE:
            parts.append(_SEG_END[prev])
        if space:
            parts.append(" ")
        if t != AS_SEQUENCE:
            parts.append(_SEG_START[t])
        space = False
        if asns:
            parts.append(("," if t in (AS_SET, AS_CONFED_SET) else " ").join(map(str, asns)))
            space = True
        prev = t
    if segs and prev != AS_SEQUENCE:
        parts.append(_SEG_END[prev])
    return "".join(parts)


def _path_tuple(segs: list | None) -> tuple:
    if not segs:
        return ()
    if len(segs) == 1 and segs[0][0] == AS_SEQUENCE:
        return segs[0][1]
    out: list = []
    for t, asns in segs:
        if t == AS_SEQUENCE:
            out.extend(asns)
        elif t == AS_SET:
            out.append(frozenset(asns))
    return tuple(out)


def _merge_as4(old: list, new: list) -> list:
    """RFC 6793 section 4.2.3 as bgpdump does it: keep the leading hops of AS_PATH that
    AS4_PATH does not cover (an AS_SET counts as one hop), then append AS4_PATH."""
    target = _count(old) - _count(new)
    merged: list = []
    have = 0
    for t, asns in old:
        if have >= target:
            break
        if t in (AS_SET, AS_CONFED_SET):
            merged.append((t, asns))
            have += 1
        else:
            take = asns
            have += len(asns)
            if have > target:
                take = asns[: len(asns) - (have - target)]
                have = target
            merged.append((t, take))
    return merged + new


def _community_text(v: int) -> str:
    if v == 0xFFFFFF01:
        return "no-export"
    if v == 0xFFFFFF02:
        return "no-advertise"
    if v == 0xFFFFFF03:
        return "local-AS"
    return f"{v >> 16}:{v & 0xFFFF}"


class Attrs:
    """Decoded path attributes of one UPDATE or RIB entry, shared by identical attribute
    blocks. The texts only the dump needs and the tuples only the elements need are made on
    first use."""

    # Class-level defaults (bgpdump's texts for missing attributes): an instance only
    # stores what its block sets, which keeps decoding a new block cheap.
    origin = "INCOMPLETE"
    nexthop = "255.255.255.255"
    local_pref = 0
    med = 0
    atomic = False
    aggregator = ""
    mp_reach: dict[tuple[int, int], tuple[str, str, list]] = {}  # replaced, never mutated
    mp_unreach: dict[tuple[int, int], list] = {}  # replaced, never mutated
    has_mp_reach = False
    has_mp_unreach = False
    mp6_nexthop: str | None = None
    damage: str | None = None  # why the block does not decode whole (see Damaged)
    _segs: list | None | bool = False  # False: no AS_PATH; None: undecodable
    _aspath: str | None = None
    _as_path: tuple | None = None
    _comms: tuple[int, ...] = ()
    _large: tuple[int, ...] = ()
    _communities: tuple[str, ...] | None = None
    _tails: dict[Any, str] | None = None

    @property
    def aspath(self) -> str:
        """AS path as bgpdump prints it ("" without AS_PATH, "! Error !" if undecodable)."""
        if self._aspath is None:
            self._aspath = "" if self._segs is False else _path_text(self._segs)  # type: ignore[arg-type]
        return self._aspath

    @property
    def as_path(self) -> tuple:
        if self._as_path is None:
            self._as_path = _path_tuple(self._segs or None)  # type: ignore[arg-type]
        return self._as_path

    @property
    def community_text(self) -> str:
        return " ".join(map(_community_text, self._comms))

    @property
    def communities(self) -> tuple[str, ...]:
        if self._communities is None:
            c = [f"{v >> 16}:{v & 0xFFFF}" for v in self._comms]
            lg = self._large
            c.extend(f"{lg[i]}:{lg[i + 1]}:{lg[i + 2]}" for i in range(0, len(lg) - 2, 3))
            self._communities = tuple(c)
        return self._communities

    def tail(self, nexthop: str, mode: int = 0) -> str:
        """The bgpdump -m fields after the prefix: path|origin|nh|lp|med|comms|AG|aggr|.

        mode 1: local pref and MED as signed 32-bit (bgpdump's %d for IPv4 MP_REACH routes);
        mode 2: deprecated BGP type, where bgpdump writes no "|" between MED and the
        communities."""
        key = nexthop if mode == 0 else (nexthop, mode)
        tails = self._tails
        if tails is None:
            tails = self._tails = {}
        s = tails.get(key)
        if s is None:
            lp, med = self.local_pref, self.med
            if mode == 1:
                lp = lp - (1 << 32) if lp >= 1 << 31 else lp
                med = med - (1 << 32) if med >= 1 << 31 else med
            ctext = self.community_text
            sep = "" if mode == 2 and ctext else "|"
            s = (f"{self.aspath}|{self.origin}|{nexthop}|{lp}|{med}{sep}{ctext}"
                 f"{'|' if ctext or mode != 2 else ''}"
                 f"{'AG' if self.atomic else 'NAG'}|{self.aggregator}|")
            tails[key] = s
        return s


_ORIGINS = ("IGP", "EGP")
# Caches keyed by the raw bytes: one dict per (AS size, ADD-PATH) so keys stay plain bytes.
attr_caches: dict[tuple[int, bool], dict[bytes, Attrs]] = {
    (2, False): {}, (2, True): {}, (4, False): {}, (4, True): {}}
_path_caches: dict[int, dict[bytes, tuple[list | None, int]]] = {2: {}, 4: {}}
ATTR_CACHE_SIZE = 5000


def _path_segments(blob: bytes, asn_len: int) -> tuple[list | None, int]:
    cache = _path_caches[asn_len]
    hit = cache.get(blob)
    if hit is None:
        hit = _segments(blob, asn_len)
        if len(cache) > 20000:
            cache.clear()
        cache[blob] = hit
    return hit


def parse_attrs(data: bytes, off: int, end: int, asn_len: int, addpath: bool,
                stats: ReadStats | None = None) -> Attrs:
    """Decode a path attribute block; identical blocks are decoded once (RIB dumps repeat
    the same attribute sets for many prefixes)."""
    blob = data[off:end]
    cache = attr_caches[(asn_len, addpath)]
    a = cache.get(blob)
    if a is None:
        a = cache_attrs(cache, blob, asn_len, addpath, stats)
    elif a.__class__ is not Attrs:
        a = cached_elsewhere(cache, blob, asn_len, addpath)
    return a


def cached_elsewhere(cache: dict[bytes, Attrs], blob: bytes, asn_len: int,
                     addpath: bool) -> Attrs:
    """A block the compiled reader (`_mrt_accel`) decoded and cached its way: decode it here
    and put it in the same place. The compiled reader only caches blocks that decode without
    a warning, and the cache keeps its size, so this is what a plain cache hit would give."""
    a = cache[blob] = _decode_attrs(blob, asn_len, addpath, None)
    return a


def cache_attrs(cache: dict[bytes, Attrs], blob: bytes, asn_len: int, addpath: bool,
                stats: ReadStats | None) -> Attrs:
    """Decode an attribute block the caller did not find in `cache` and remember it (the
    decoders look the cache up themselves: a hit then costs no call)."""
    a = _decode_attrs(blob, asn_len, addpath, stats)
    if len(cache) > ATTR_CACHE_SIZE:
        cache.clear()
    cache[blob] = a
    return a


# Attribute lengths RFC 4271/1997/6793/8092 fix: a block where one of these is otherwise had a
# length field damaged (the value lengths the dump would print are checked, not guessed).
_FIXED = {1: (1,), 3: (4,), 4: (4,), 5: (4,), 6: (0,), 7: (6, 8), 18: (8,)}
# RFC 4271 6.3: ORIGIN, AS_PATH, NEXT_HOP, LOCAL_PREF and ATOMIC_AGGREGATE are well-known
# (flags: transitive, not optional), every other attribute optional. Every attribute of the
# real RIS and RouteViews files follows this; bytes read as an attribute header after a
# damaged length mostly do not.
_WELL_KNOWN = frozenset((1, 2, 3, 5, 6))


def _decode_attrs(d: bytes, asn_len: int, addpath: bool, stats: ReadStats | None) -> Attrs:
    """The Attrs of a block; one that does not decode whole carries why in `damage` (it is
    cached like any other: the record decoders refuse it each time they meet it)."""
    a = Attrs()
    try:
        _walk_attrs(a, d, asn_len, addpath)
    except Damaged as exc:
        a.damage = str(exc)
    return a


def _walk_attrs(a: Attrs, d: bytes, asn_len: int, addpath: bool) -> None:
    off, end = 0, len(d)
    path_blob = None
    as4_blob = None
    agg = agg4 = None
    u32 = _u32
    fixed, well_known = _FIXED, _WELL_KNOWN
    while off < end:
        if off + 3 > end:
            raise Damaged(f"{end - off} bytes after the last attribute")
        flags, typ = d[off], d[off + 1]
        if flags & 0x10:
            if off + 4 > end:
                raise Damaged(f"{end - off} bytes after the last attribute")
            alen = _u16(d, off + 2)[0]
            off += 4
        else:
            alen = d[off + 2]
            off += 3
        vend = off + alen
        if vend > end:
            raise Damaged(f"attribute type {typ} truncated: {alen} bytes declared, "
                          f"{end - off} present")
        if flags & 0xC0 != 0x40 if typ in well_known else not flags & 0x80:
            raise Damaged(f"attribute type {typ} with flags {flags:#04x}")
        sizes = fixed.get(typ)
        if sizes is not None and alen not in sizes:
            raise Damaged(f"attribute type {typ} of {alen} bytes")
        if typ == 2:
            path_blob = d[off:vend]
        elif typ == 1:
            o = d[off] if alen else 0
            a.origin = _ORIGINS[o] if o < 2 else "INCOMPLETE"
        elif typ == 3:
            a.nexthop = inet_ntoa(d[off:vend] if alen == 4 else padded(d, off, vend, 4))
        elif typ == 4:
            a.med = u32(d, off)[0] if alen == 4 else u32(padded(d, off, vend, 4))[0]
        elif typ == 5:
            a.local_pref = u32(d, off)[0] if alen == 4 else u32(padded(d, off, vend, 4))[0]
        elif typ == 8:
            if alen & 3:
                raise Damaged(f"communities of {alen} bytes")
            a._comms = _asns(d, off, alen // 4, 4)
        elif typ == 6:
            a.atomic = True
        elif typ == 7:
            # read with the session's AS size even when the length says otherwise, as
            # bgpdump does (only the dump output shows the aggregator)
            raw = padded(d, off, vend, asn_len + 4)
            agg = (u32(raw)[0] if asn_len == 4 else _u16(raw)[0], raw[asn_len:])
        elif typ == 14:
            a.has_mp_reach = True
            _mp_reach(a, d, off, vend, addpath)
        elif typ == 15:
            a.has_mp_unreach = True
            if alen < 3:
                raise Damaged(f"MP_UNREACH_NLRI of {alen} bytes")
            afi, safi = _u16(d, off)[0], d[off + 2]
            if 1 <= afi <= 2 and 1 <= safi <= 3 and (afi, safi) not in a.mp_unreach:
                if not a.mp_unreach:
                    a.mp_unreach = {}
                a.mp_unreach[(afi, safi)] = nlri_prefixes(d, off + 3, vend, afi, addpath,
                                                          True)
        elif typ == 17:
            as4_blob = d[off:vend]
        elif typ == 18:
            raw = padded(d, off, vend, 8)
            agg4 = (u32(raw)[0], raw[4:])
        elif typ == 32:
            if alen % 12:
                raise Damaged(f"large communities of {alen} bytes")
            a._large = _asns(d, off, (alen // 12) * 3, 4)
        off = vend

    if path_blob is not None:
        segs, count = _path_segments(path_blob, asn_len)
        if segs is None:
            raise Damaged("AS_PATH segments do not fill the attribute")
        # RFC 6793 merge for 2-byte sessions, skipped (as bgpdump and the RFC do) when an
        # AGGREGATOR other than AS_TRANS comes with an AS4_AGGREGATOR.
        merge = asn_len == 2 and as4_blob is not None
        if asn_len == 2 and agg is not None and agg4 is not None:
            if agg[0] != 23456:
                merge = False
            else:
                agg = agg4
        if merge and segs is not None:
            new, new_count = _path_segments(as4_blob, 4)  # type: ignore[arg-type]
            if new is None:
                raise Damaged("AS4_PATH segments do not fill the attribute")
            if count >= new_count:
                segs = _merge_as4(segs, new) if new is not None else None
        a._segs = segs if path_blob else []
        if not path_blob:
            a._aspath = ""
    elif asn_len == 2 and agg is not None and agg4 is not None and agg[0] == 23456:
        agg = agg4
    if agg is not None and agg[1] != _NO_IP:
        a.aggregator = f"{agg[0]} {inet_ntoa(agg[1])}"
    return a


def _mp_reach(a: Attrs, d: bytes, off: int, end: int, addpath: bool) -> None:
    if off >= end:
        raise Damaged("empty MP_REACH_NLRI")
    if not a.mp_reach:
        a.mp_reach = {}  # the class-level default is shared
    if d[off] != 0:
        if off + 1 + d[off] != end:
            raise Damaged(f"MP_REACH_NLRI next hop of {d[off]} bytes in {end - off - 1}")
        # RFC 6396 4.3.4 abbreviated form in RIB entries: next hop length + next hop only
        if (2, 1) not in a.mp_reach:
            nh = fmt_ipv6(padded(d, off + 1, end, 16))
            a.mp_reach[(2, 1)] = (nh, nh, [])
            a.mp6_nexthop = nh
        return
    if off + 4 > end:
        raise Damaged(f"MP_REACH_NLRI of {end - off} bytes")
    afi, safi, nhlen = _u16(d, off)[0], d[off + 2], d[off + 3]
    if not (1 <= afi <= 2 and 1 <= safi <= 3) or (afi, safi) in a.mp_reach:
        return
    # RFC 4760/2545/5549: an IPv6 next hop is 16 or 32 bytes, an IPv4 route's 4 (or an IPv6
    # one), and the reserved byte after it (RFC 2858's SNPA count) is 0, as in every real file
    if nhlen not in ((4, 16, 32) if afi == 1 else (16, 32)):
        raise Damaged(f"MP_REACH_NLRI next hop of {nhlen} bytes")
    if off + 5 + nhlen > end or d[off + 4 + nhlen] != 0:
        raise Damaged("MP_REACH_NLRI reserved byte missing or not 0")
    p = off + 4
    if afi == 1:
        shown = inet_ntoa(padded(d, p, end, 4))
        # RFC 5549 IPv6 next hop for IPv4 routes: bgpdump shows its first 4 bytes
        nh = fmt_ipv6(padded(d, p, end, 16)) if nhlen >= 16 else shown
        p += nhlen if nhlen != 4 else 4
    else:
        shown = nh = fmt_ipv6(padded(d, p, end, 16))
        p += nhlen if nhlen not in (16, 32) else nhlen
    p += 1  # the reserved byte
    a.mp_reach[(afi, safi)] = (shown, nh, nlri_prefixes(d, p, end, afi, addpath, True))
    if (afi, safi) == (2, 1):
        a.mp6_nexthop = shown


