# The element path of _mrt_accel.pyx (included there): `ElementReader.record` turns the same
# records the `-m` renderer takes (BGP4MP(_ET) UPDATEs without ADD-PATH, TABLE_DUMP_V2
# RIB_IPV4/IPV6_UNICAST) into the `Element`s `mrt.read_elements` yields for them, and declines
# (None, nothing changed) exactly what the renderer declines, plus RIB records whose prefix is
# longer than its family (the Python decoder counts each of their entries as malformed).
# tests/observatory/routing/test_routing_accel.py compares it with the Python reader element by
# element.

import dataclasses

from cpython.ref cimport PyObject, Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeLatin1

from .elements import Element

cdef extern from "structmember.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    int T_OBJECT_EX

cdef extern from "Python.h":
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    object PyType_GenericAlloc(type t, Py_ssize_t nitems)

# Element's fields, in the order new_element takes them
_FIELDS = ("kind", "time", "peer_ip", "peer_asn", "prefix", "as_path", "collector", "raw",
           "source", "next_hop", "communities")
cdef type _Element = Element
cdef Py_ssize_t _OFF[11]
cdef bint _FAST_NEW = False


cdef inline void put_slot(char* base, int i, object value) noexcept:
    Py_INCREF(value)
    (<PyObject**>(base + _OFF[i]))[0] = <PyObject*>value


cdef object new_element(object kind, object ts, object peer_ip, object peer_as, object prefix,
                        object as_path, object coll, object raw, object source, object nh,
                        object comms):
    """Element(kind, ts, ...) without running the dataclass __init__ (a Python function, the
    larger part of the cost of an element): the slots are filled directly, as __init__ would
    fill them. Only used when _check_fast_new found Element as expected, else the call."""
    cdef object el
    cdef char* base
    if not _FAST_NEW:
        return _Element(kind, ts, peer_ip, peer_as, prefix, as_path, coll, raw, source, nh,
                        comms)
    el = PyType_GenericAlloc(_Element, 0)
    base = <char*><PyObject*>el
    put_slot(base, 0, kind)
    put_slot(base, 1, ts)
    put_slot(base, 2, peer_ip)
    put_slot(base, 3, peer_as)
    put_slot(base, 4, prefix)
    put_slot(base, 5, as_path)
    put_slot(base, 6, coll)
    put_slot(base, 7, raw)
    put_slot(base, 8, source)
    put_slot(base, 9, nh)
    put_slot(base, 10, comms)
    return el


cdef bint _check_fast_new() except -1:
    """Whether Element is still the plain slots dataclass new_element can fill: the same fields
    in the same order, each an object slot, no __post_init__, and an element made both ways
    equal. Anything else (a changed Element) keeps the ordinary call."""
    global _FAST_NEW
    cdef int i
    cdef tuple path, args
    _FAST_NEW = False
    if tuple(f.name for f in dataclasses.fields(Element)) != _FIELDS:
        return 0
    if hasattr(Element, "__post_init__") or Element.__new__ is not object.__new__:
        return 0
    for i in range(11):
        desc = Element.__dict__.get(_FIELDS[i])
        if type(desc).__name__ != "member_descriptor":
            return 0
        if (<PyMemberDescrObject*>desc).d_member.type != T_OBJECT_EX:
            return 0
        _OFF[i] = (<PyMemberDescrObject*>desc).d_member.offset
    path = tuple([64500, 64496])
    args = ("A", 1, "192.0.2.1", 64500, "198.51.100.0/24", path, "rrc00", b"raw",
            "f.gz", "192.0.2.2", ("64500:1",))
    _FAST_NEW = True
    fast = new_element(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7],
                       args[8], args[9], args[10])
    _FAST_NEW = fast == Element(*args) and repr(fast) == repr(Element(*args))
    return 0


_check_fast_new()


def fast_new() -> bool:
    """Whether elements are made by filling their slots (else by calling Element)."""
    return _FAST_NEW


cdef int count_record(object stats, int typ, int sub) except -1:
    """stats.record_types[(typ, sub)] += 1, as mrt_records.decode counts a record."""
    rt = stats.record_types
    key = (typ, sub)
    rt[key] = rt.get(key, 0) + 1
    return 0


cdef inline str ascii_text(const char* s, Py_ssize_t n):
    return PyUnicode_DecodeLatin1(s, n, NULL)


cdef inline Py_ssize_t u16_padded(const u8* d, Py_ssize_t p, Py_ssize_t mend) noexcept:
    """u16 at p, zero-filled past mend (what _update reads through padded())."""
    cdef Py_ssize_t hi = d[p] if p < mend else 0
    cdef Py_ssize_t lo = d[p + 1] if p + 1 < mend else 0
    return (hi << 8) | lo


cdef Py_ssize_t prefix_texts(list out, const u8* d, Py_ssize_t off, Py_ssize_t end, int afi,
                             object nh) except -1:
    """Append the texts of the valid prefixes of an NLRI range to out (as (text, nh) when nh
    is not None); returns how many were too long for their family (nlri_prefixes' valid
    flag); a truncated last prefix is dropped, as nlri_prefixes does."""
    cdef char text[64]
    cdef Py_ssize_t nxt, n, bad = 0
    cdef int limit = 32 if afi == 1 else 128
    while off < end:
        nxt = next_prefix(d, off, end)
        if nxt < 0:
            break
        if d[off] > limit:
            bad += 1
        else:
            n = fmt_prefix(text, afi, d + off + 1, <int>(nxt - off - 1), d[off])
            if nh is None:
                out.append(ascii_text(text, n))
            else:
                out.append((ascii_text(text, n), nh))
        off = nxt
    return bad


cdef int block_elements(_Block blk, const u8* d, Py_ssize_t end, int asn_len) except -1:
    """Make blk's element fields (Attrs.as_path, .communities, .nexthop, .mp6_nexthop and the
    MP routes); 0 (nothing made) when the walk declines the block, else 1."""
    cdef Walk w
    cdef Py_ssize_t i, k, p, n, o
    cdef int slot
    cdef u32 v
    cdef char text[64]
    if not walk_block(d, end, asn_len, &w):
        return 0
    path = []
    if w.has_path and w.path_len:
        k = d[w.path_off + 1]
        p = w.path_off + 2
        for i in range(k):
            if asn_len == 4:
                path.append(rd32(d + p))
            else:
                path.append((<u32>d[p] << 8) | d[p + 1])
            p += asn_len
    comms = []
    for i in range(w.comm_n):
        v = rd32(d + w.comm_off + 4 * i)
        comms.append(f"{v >> 16}:{v & 0xFFFF}")
    for i in range(w.large_n):
        o = w.large_off + 12 * i
        comms.append(f"{rd32(d + o)}:{rd32(d + o + 4)}:{rd32(d + o + 8)}")
    if w.has_nh:
        n = fmt_ipv4(text, w.nh)
        blk.nh0 = ascii_text(text, n)
    else:
        blk.nh0 = "255.255.255.255"
    if w.r_set[3]:
        n = fmt_ipv6(text, w.r_nh[3])
        blk.nh_rib = ascii_text(text, n)
    else:
        blk.nh_rib = blk.nh0
    blk.el_unreach = []
    blk.bad_unreach = 0
    for slot in range(6):
        if w.u_set[slot]:
            blk.bad_unreach += prefix_texts(blk.el_unreach, d, w.u_off[slot], w.u_end[slot],
                                            1 if slot < 3 else 2, None)
    blk.el_reach = []
    blk.bad_reach = 0
    for slot in range(6):
        if w.r_set[slot] and w.r_off[slot] < w.r_end[slot]:
            # _mp_reach: an IPv4 route's next hop is IPv6 when it is 16 bytes or more long
            if slot < 3 and w.r_nhlen[slot] < 16:
                n = fmt_ipv4(text, w.r_nh[slot])
            else:
                n = fmt_ipv6(text, w.r_nh[slot])
            blk.bad_reach += prefix_texts(blk.el_reach, d, w.r_off[slot], w.r_end[slot],
                                          1 if slot < 3 else 2, ascii_text(text, n))
    blk.reach_unknown = reach_unknown(&w)
    blk.comms = tuple(comms)
    blk.as_path = tuple(path)  # set last: as_path not None means the fields are made
    return 1


cdef _Block cached_block(bytes blob, dict cache, int asn_len):
    """The element fields of an attribute block, from the shared cache or decoded (and
    cached where the Python decoder would cache its Attrs); None: the Python decoder takes
    the record."""
    cdef _Block blk
    cdef const u8* d = <const u8*>PyBytes_AS_STRING(blob)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(blob)
    hit = cache.get(blob)
    if type(hit) is _Block:
        blk = <_Block>hit
        if blk.as_path is None:  # cached by the `-m` renderer: add the element fields
            block_elements(blk, d, n, asn_len)
        return blk
    blk = _Block()
    if not block_elements(blk, d, n, asn_len):
        return None
    if hit is None:
        if len(cache) > _CACHE_MAX:
            cache.clear()
        cache[blob] = blk
    return blk


cdef class ElementReader:
    """The elements of one file's BGP4MP(_ET) UPDATE and TABLE_DUMP_V2 RIB records."""

    cdef object ctx
    cdef object coll
    cdef object source
    cdef readonly long long fallbacks

    def __init__(self, ctx: object, collector: str, source: str) -> None:
        self.ctx = ctx  # mrt_records.Context: its peer table and stats
        self.coll = collector
        self.source = source
        self.fallbacks = 0

    def record(self, bytes raw, object ts, int typ, int sub) -> list | None:
        """The elements of one framed record (counted in stats.elements, and the routes
        dropped for a length beyond their family in stats.malformed_records), or None
        (nothing changed) when the Python decoder must take the record."""
        cdef const u8* d = <const u8*>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(raw)
        cdef Py_ssize_t p, at, size, q, mend, hsize, wlen, wend, alen, aend, nxt, start, o
        cdef Py_ssize_t n, bad = 0
        cdef int asn_len, afi, i, mtype
        cdef bint et = typ == ACCEL_BGP4MP_ET
        cdef char text[64]
        cdef _Block blk
        cdef list out
        if typ == ACCEL_TABLE_DUMP_V2:
            return self._rib(raw, d, end, ts, sub)
        if typ != ACCEL_BGP4MP and typ != ACCEL_BGP4MP_ET:
            return None
        if sub != 1 and sub != 4 and sub != 6 and sub != 7:
            return None
        # the framing checks of Renderer.record, in the same order
        asn_len = 4 if sub == 4 or sub == 7 else 2
        p = 16 if et else 12
        if et and end < 16:
            return None
        at = p + 2 * asn_len + 2
        if end < p + 2 * asn_len + 4 + 8 + 19:
            return None
        afi = (d[at] << 8) | d[at + 1]
        if afi == 1:
            hsize = 2 * asn_len + 4 + 8 + 19
        elif afi == 2:
            hsize = 2 * asn_len + 4 + 32 + 19
        else:
            return None
        if end < p + hsize:
            return None
        start = at + 2 + (8 if afi == 1 else 32)
        for i in range(16):
            if d[start + i] != 0xFF:
                return None
        size = (<Py_ssize_t>d[start + 16] << 8) | d[start + 17]
        mtype = d[start + 18]
        q = p + hsize
        stats = self.ctx.stats
        if mtype != 2:
            count_record(stats, typ, sub)
            return []
        # the lengths must agree with the bytes (else the Python decoder refuses the record):
        # the BGP length with the record's, withdrawn and attribute lengths inside the
        # message, the NLRI whole prefixes of at most 32 bits
        if size != end - q + 19 or size < 23:
            return None
        mend = end
        wlen = u16_padded(d, q, mend)
        wend = q + 2 + wlen
        if wend + 2 > mend:
            return None
        alen = u16_padded(d, wend, mend)
        aend = wend + 2 + alen
        if aend > mend:
            return None
        if not nlri_whole(d, q + 2, wend, 32) or not nlri_whole(d, aend, mend, 32):
            return None
        if wend + 2 < aend:
            blob = PyBytes_FromStringAndSize(<const char*>d + wend + 2, aend - wend - 2)
        else:
            blob = b""
        blk = cached_block(blob, _CACHE4 if asn_len == 4 else _CACHE2, asn_len)
        if blk is None:
            self.fallbacks += 1
            return None
        count_record(stats, typ, sub)
        start = p + 2 * asn_len + 4  # the peer address
        if afi == 1:
            n = fmt_ipv4(text, d + start)
        else:
            n = fmt_ipv6(text, d + start)
        peer_ip = ascii_text(text, n)
        peer_as = rd32(d + p) if asn_len == 4 else (<u32>d[p] << 8) | d[p + 1]
        coll, source = self.coll, self.source
        out = []
        # W: plain withdrawn NLRI, then MP_UNREACH; A: plain NLRI, then MP_REACH
        withdrawn = []
        bad += prefix_texts(withdrawn, d, q + 2, wend, 1, None)
        for prefix in withdrawn:
            out.append(new_element("W", ts, peer_ip, peer_as, prefix, (), coll, raw, source,
                                   "", ()))
        for prefix in blk.el_unreach:
            out.append(new_element("W", ts, peer_ip, peer_as, prefix, (), coll, raw, source,
                                   "", ()))
        announced = []
        bad += prefix_texts(announced, d, aend, mend, 1, None)
        as_path, comms, nh = blk.as_path, blk.comms, blk.nh0
        for prefix in announced:
            out.append(new_element("A", ts, peer_ip, peer_as, prefix, as_path, coll, raw,
                                   source, nh, comms))
        for prefix, nh in blk.el_reach:
            out.append(new_element("A", ts, peer_ip, peer_as, prefix, as_path, coll, raw,
                                   source, nh, comms))
        bad += blk.bad_unreach + blk.bad_reach
        if bad:
            stats.malformed_records += bad
        if out:
            stats.elements += len(out)
        return out

    cdef object _rib(self, bytes raw, const u8* d, Py_ssize_t end, object ts, int sub):
        """TABLE_DUMP_V2 RIB_IPV4_UNICAST (2) and RIB_IPV6_UNICAST (4): checked in a first
        pass, as Renderer._rib does (what it declines, this declines), then made."""
        cdef int afi, plen, nb
        cdef Py_ssize_t p, count, i, q, alen, index, n
        cdef char pfx[64]
        cdef _Block blk
        cdef list blocks, indexes, out
        if sub == 2:
            afi = 1
        elif sub == 4:
            afi = 2
        else:
            return None
        peers = self.ctx.peers
        if peers is None or end < 17:
            return None
        plen = d[16]
        if plen > (32 if afi == 1 else 128):
            return None  # every entry dropped and counted: the Python decoder does it
        nb = (plen + 7) >> 3
        if 17 + nb + 2 > end:
            return None
        n = fmt_prefix(pfx, afi, d + 17, nb, plen)
        p = 17 + nb
        count = (<Py_ssize_t>d[p] << 8) | d[p + 1]
        p += 2
        blocks = []
        indexes = []
        for i in range(count):
            if p + 8 > end:
                return None
            index = (<Py_ssize_t>d[p] << 8) | d[p + 1]
            alen = (<Py_ssize_t>d[p + 6] << 8) | d[p + 7]
            p += 8
            q = p + alen
            if q > end:
                return None
            if index >= len(peers):
                return None
            blk = cached_block(PyBytes_FromStringAndSize(<const char*>d + p, alen), _CACHE4,
                               4)
            if blk is None:
                self.fallbacks += 1
                return None
            if blk.reach_unknown:
                return None
            blocks.append(blk)
            indexes.append(index)
            p = q
        if p != end:
            return None
        stats = self.ctx.stats
        count_record(stats, ACCEL_TABLE_DUMP_V2, sub)
        prefix = ascii_text(pfx, n)
        coll, source = self.coll, self.source
        out = []
        for i in range(count):
            peer_ip, peer_as = peers[<Py_ssize_t>indexes[i]]
            blk = <_Block>blocks[i]
            out.append(new_element("B", ts, peer_ip or "", peer_as, prefix, blk.as_path, coll,
                                   raw, source, blk.nh_rib, blk.comms))
        if out:
            stats.elements += len(out)
        return out


# --------------------------------------------------------------------------- scanner helper

cdef extern from "Python.h":
    bint PyUnicode_CheckExact(object o)
    bint PyUnicode_IS_ASCII(object o)
    void* PyUnicode_DATA(object o)
    Py_ssize_t PyUnicode_GET_LENGTH(object o)


def v4_prefix_code(object prefix) -> int:
    """(address << 6) | length for an IPv4 prefix in the text inet_ntoa prints ("a.b.c.d/n":
    four decimal octets of at most 255 without leading zeros, a length of 0 to 32 without
    sign or leading zero), else -1: what Scanner.feed_all's fast path accepts with
    partition, inet_aton, inet_ntoa and int.from_bytes, in one call. Any other text (and
    anything not a str) is -1, and the scanner reads it the general way."""
    cdef const char* s
    cdef Py_ssize_t n, i = 0, start
    cdef int octet, parts = 0, length
    cdef unsigned long long addr = 0
    if not PyUnicode_CheckExact(prefix) or not PyUnicode_IS_ASCII(prefix):
        return -1
    s = <const char*>PyUnicode_DATA(prefix)
    n = PyUnicode_GET_LENGTH(prefix)
    while parts < 4:
        start = i
        octet = 0
        while i < n and 48 <= s[i] <= 57 and i - start < 3:
            octet = octet * 10 + s[i] - 48
            i += 1
        if i == start or octet > 255 or (i - start > 1 and s[start] == 48):
            return -1
        addr = (addr << 8) | <unsigned long long>octet
        parts += 1
        if i >= n or s[i] != (46 if parts < 4 else 47):  # "." between octets, then "/"
            return -1
        i += 1
    start = i
    length = 0
    while i < n and 48 <= s[i] <= 57 and i - start < 2:
        length = length * 10 + s[i] - 48
        i += 1
    if i != n or i == start or length > 32 or (i - start > 1 and s[start] == 48):
        return -1
    return <long long>((addr << 6) | <unsigned long long>length)
