# cython: language_level=3, boundscheck=True, wraparound=False, initializedcheck=True
"""Compiled fast paths of `sentinelle routing dump` and of `read_elements` (`routing scan`)
for BGP4MP(_ET) UPDATE and TABLE_DUMP_V2 RIB records.

`ElementReader.record` (in _mrt_accel_elements.pxi) makes the `Element`s of the records
`Renderer` takes, declining the same ones (the attribute walk, _mrt_accel_walk.pxi, is shared).

`Renderer.record(raw, ts, typ, sub)` turns one framed BGP4MP or BGP4MP_ET MESSAGE record
(subtypes 1, 4, 6, 7: no ADD-PATH) straight into its `bgpdump -m` lines, appended to an
internal buffer (`take()` hands them over as one str, each line ending in a newline), and
returns the number of lines; it returns -1 *before changing anything* for every record it does
not handle the ordinary way, which the caller then gives to the pure-Python decoder
(`mrt_records.decode`): other types and subtypes, short or damaged headers, a bad marker,
messages whose length field points before the UPDATE body, an attribute that runs past its
block (the Python decoder warns about it), AS paths other than one AS_SEQUENCE, and AS4_PATH
or AS4_AGGREGATOR on 2-byte sessions. The Python reader is the definition of the output:
tests/observatory/routing/test_routing_accel.py compares both on every MRT file available and on
damaged copies.

Every read below is checked against the record's length or the attribute's end: the bytes
are hostile. Attribute blocks are cached in the Python reader's own caches
(`bgp_attributes.attr_caches`), keyed by their raw bytes, so that the cache fills and clears
exactly as it does without this module (which decides when a damaged block is warned about
again); an entry made here is a `_Block`, which the Python decoders recognise and decode again
their way (a clean block: no warning, no count).
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport memcpy

from .bgp_attributes import ATTR_CACHE_SIZE, attr_caches

ctypedef unsigned char u8
ctypedef unsigned int u32

cdef extern from *:
    """
    #define ACCEL_TABLE_DUMP_V2 13
    #define ACCEL_BGP4MP 16
    #define ACCEL_BGP4MP_ET 17
    """
    int ACCEL_TABLE_DUMP_V2
    int ACCEL_BGP4MP
    int ACCEL_BGP4MP_ET

cdef Py_ssize_t _CACHE_MAX = ATTR_CACHE_SIZE
cdef dict _CACHE2 = attr_caches[(2, False)]
cdef dict _CACHE4 = attr_caches[(4, False)]
cdef bytes _DIGITS = b"0123456789abcdef"


include "_mrt_accel_text.pxi"


# --------------------------------------------------------------------------- attributes

cdef class _Block:
    """One decoded attribute block, as this module needs it. For `-m` lines (decode_block):
    the tail of the plain NLRI's lines ("|path|origin|nh|lp|med|comms|AG|aggr|") and the
    MP_(UN)REACH routes already rendered ("prefix|tail" / "prefix"), in bgpdump's (AFI, SAFI)
    order. For elements (block_elements, made on first use): the AS path and communities
    tuples, the next hops and the MP_(UN)REACH routes (see _mrt_accel_elements.pxi)."""

    cdef readonly bytes tail0  # None: the `-m` fields are not made yet
    cdef readonly bytes tail_rib  # RIB entries show the MP_REACH IPv6 next hop if there is one
    cdef readonly list reach
    cdef readonly list unreach
    cdef readonly bint has_reach
    cdef readonly bint has_unreach
    cdef readonly bint reach_unknown  # MP_REACH of no AFI/SAFI read: damage in a RIB entry
    cdef readonly tuple as_path  # None: the element fields are not made yet
    cdef readonly tuple comms
    cdef readonly str nh0  # NEXT_HOP text (bgpdump's 255.255.255.255 without one)
    cdef readonly str nh_rib  # Attrs.mp6_nexthop or nh0
    cdef readonly list el_reach  # MP_REACH routes: (prefix text, next hop text), valid only
    cdef readonly list el_unreach  # MP_UNREACH prefix texts, valid only
    cdef readonly Py_ssize_t bad_reach  # MP routes whose length exceeds their family
    cdef readonly Py_ssize_t bad_unreach


include "_mrt_accel_walk.pxi"


cdef _Block decode_block(const u8* d, Py_ssize_t end, int asn_len, _Block blk=None):
    """The attribute block d[0:end] of a session with `asn_len`-byte AS numbers with its
    `-m` fields made (in `blk` when given), None when the Python decoder must take it."""
    cdef Walk w
    cdef Py_ssize_t i, k, p, n
    cdef int slot
    cdef u32 v
    cdef char text[64]
    cdef char nh_text[6][48]
    cdef Py_ssize_t nh_len[6]
    cdef Buf b
    if not walk_block(d, end, asn_len, &w):
        return None
    if blk is None:
        blk = _Block()
    blk.has_reach = w.has_reach
    blk.has_unreach = w.has_unreach
    blk.reach_unknown = reach_unknown(&w)
    for slot in range(6):
        if w.r_set[slot]:
            if slot < 3:
                nh_len[slot] = fmt_ipv4(nh_text[slot], w.r_nh[slot])
            else:
                nh_len[slot] = fmt_ipv6(nh_text[slot], w.r_nh[slot])
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        # "path|origin|"
        if w.has_path and w.path_len:
            k = d[w.path_off + 1]
            p = w.path_off + 2
            for i in range(k):
                if i:
                    putc(&b, 32)
                if asn_len == 4:
                    put_uint(&b, rd32(d + p))
                else:
                    put_uint(&b, (<u32>d[p] << 8) | d[p + 1])
                p += asn_len
        putc(&b, 124)
        if w.origin == 0:
            put(&b, b"IGP", 3)
        elif w.origin == 1:
            put(&b, b"EGP", 3)
        else:
            put(&b, b"INCOMPLETE", 10)
        putc(&b, 124)
        path_origin = PyBytes_FromStringAndSize(b.data, b.size)
        # "comms|AG|aggr|"
        b.size = 0
        for i in range(w.comm_n):
            if i:
                putc(&b, 32)
            v = rd32(d + w.comm_off + 4 * i)
            if v == 0xFFFFFF01:
                put(&b, b"no-export", 9)
            elif v == 0xFFFFFF02:
                put(&b, b"no-advertise", 12)
            elif v == 0xFFFFFF03:
                put(&b, b"local-AS", 8)
            else:
                put_uint(&b, v >> 16)
                putc(&b, 58)
                put_uint(&b, v & 0xFFFF)
        putc(&b, 124)
        if w.atomic:
            put(&b, b"AG|", 3)
        else:
            put(&b, b"NAG|", 4)
        if w.has_agg and not (w.agg_ip[0] == 0xFF and w.agg_ip[1] == 0xFF
                              and w.agg_ip[2] == 0xFF and w.agg_ip[3] == 0xFF):
            put_uint(&b, w.agg_as)
            putc(&b, 32)
            n = fmt_ipv4(text, w.agg_ip)
            put(&b, text, n)
        putc(&b, 124)
        rest = PyBytes_FromStringAndSize(b.data, b.size)
    finally:
        PyMem_Free(b.data)

    if w.has_nh:
        n = fmt_ipv4(text, w.nh)
    else:
        memcpy(text, b"255.255.255.255", 15)
        n = 15
    blk.tail0 = make_tail(path_origin, text, n, w.lp, w.med, False, rest)
    if w.r_set[3]:  # Attrs.mp6_nexthop
        blk.tail_rib = make_tail(path_origin, nh_text[3], nh_len[3], w.lp, w.med, False, rest)
    else:
        blk.tail_rib = blk.tail0
    blk.reach = []
    blk.unreach = []
    for slot in range(6):
        if w.u_set[slot]:
            blk.unreach.extend(prefix_list(d, w.u_off[slot], w.u_end[slot],
                                           1 if slot < 3 else 2, b""))
    for slot in range(6):
        if w.r_set[slot] and w.r_off[slot] < w.r_end[slot]:
            tail = make_tail(path_origin, nh_text[slot], nh_len[slot], w.lp, w.med, slot < 3,
                             rest)
            blk.reach.extend(prefix_list(d, w.r_off[slot], w.r_end[slot],
                                         1 if slot < 3 else 2, tail))
    return blk


# --------------------------------------------------------------------------- records

cdef class Renderer:
    """Renders the BGP4MP(_ET) UPDATE records of one file as `bgpdump -m` lines."""

    cdef Buf buf
    cdef object ctx
    cdef readonly long long fallbacks
    cdef object peers  # the Context's peer list the texts below were made from
    cdef list peer_texts  # per peer index: b"peer IP|peer AS|" (None until first used)

    def __cinit__(self) -> None:
        self.buf.data = NULL
        self.buf.size = 0
        self.buf.cap = 0

    def __init__(self, ctx: object) -> None:
        self.ctx = ctx  # mrt_records.Context: its stats may be swapped between calls
        self.fallbacks = 0

    def __dealloc__(self) -> None:
        PyMem_Free(self.buf.data)

    @property
    def size(self) -> int:
        return self.buf.size

    def take(self) -> str:
        """The lines rendered since the last take(), each ending in a newline."""
        text = PyUnicode_DecodeUTF8(self.buf.data, self.buf.size, NULL)
        self.buf.size = 0
        return text

    def text(self, lines: list) -> None:
        """Add lines rendered by the Python path (keeps the output in file order)."""
        data = ("\n".join(lines) + "\n").encode()
        put_bytes(&self.buf, data)

    def record(self, bytes raw, unsigned long long ts, int typ, int sub) -> int:
        """Lines of one framed record added to the buffer, or -1 (nothing changed) when the
        Python decoder must take the record."""
        cdef const u8* d = <const u8*>PyBytes_AS_STRING(raw)
        cdef Py_ssize_t end = PyBytes_GET_SIZE(raw)
        cdef Py_ssize_t p, at, size, q, mend, hsize, wlen, wend, alen, aend, nxt, start, o
        cdef int asn_len, afi, i, mtype
        cdef bint et = typ == ACCEL_BGP4MP_ET
        cdef u32 usec = 0, peer_as
        cdef char head[160]
        cdef Py_ssize_t hn, kind_at
        cdef char text[64]
        cdef Py_ssize_t n, count = 0
        cdef Buf* out = &self.buf
        cdef _Block blk
        cdef dict cache
        cdef bytes item
        if typ == ACCEL_TABLE_DUMP_V2:
            return self._rib(raw, d, end, ts, sub)
        if typ != ACCEL_BGP4MP and typ != ACCEL_BGP4MP_ET:
            return -1
        if sub != 1 and sub != 4 and sub != 6 and sub != 7:
            return -1  # state changes, ADD-PATH, BGP4MP_ENTRY...: Python
        asn_len = 4 if sub == 4 or sub == 7 else 2
        p = 16 if et else 12
        if et:
            if end < 16:
                return -1
            usec = rd32(d + 12)
        at = p + 2 * asn_len + 2  # the AFI
        if end < p + 2 * asn_len + 4 + 8 + 19:
            return -1
        afi = (d[at] << 8) | d[at + 1]
        if afi == 1:
            hsize = 2 * asn_len + 4 + 8 + 19
        elif afi == 2:
            hsize = 2 * asn_len + 4 + 32 + 19
        else:
            return -1
        if end < p + hsize:
            return -1
        start = at + 2 + (8 if afi == 1 else 32)  # the marker
        for i in range(16):
            if d[start + i] != 0xFF:
                return -1  # the Python decoder warns about it
        size = (<Py_ssize_t>d[start + 16] << 8) | d[start + 17]
        mtype = d[start + 18]
        q = p + hsize
        if mtype != 2:
            self._count(typ, sub)
            return 0  # OPEN, NOTIFICATION, KEEPALIVE, ROUTE-REFRESH: no routes
        # the lengths must agree with the bytes (else the Python decoder refuses the record):
        # the BGP length with the record's, withdrawn and attribute lengths inside the
        # message, the NLRI whole prefixes of at most 32 bits
        if size != end - q + 19 or size < 23:
            return -1
        mend = end
        wlen = self._u16(d, q, mend)
        wend = q + 2 + wlen
        if wend + 2 > mend:
            return -1
        alen = self._u16(d, wend, mend)
        aend = wend + 2 + alen
        if aend > mend:
            return -1
        if not nlri_whole(d, q + 2, wend, 32) or not nlri_whole(d, aend, mend, 32):
            return -1
        cache = _CACHE4 if asn_len == 4 else _CACHE2
        if wend + 2 < aend:
            blob = PyBytes_FromStringAndSize(<const char*>d + wend + 2, aend - wend - 2)
        else:
            blob = b""
        hit = cache.get(blob)
        if type(hit) is _Block:
            blk = <_Block>hit
            if blk.tail0 is None:  # cached by the element path: add the `-m` fields
                decode_block(<const u8*>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob),
                             asn_len, blk)
        else:
            blk = decode_block(<const u8*>PyBytes_AS_STRING(blob), PyBytes_GET_SIZE(blob),
                               asn_len)
            if blk is None:
                self.fallbacks += 1
                return -1
            if hit is None:
                if len(cache) > _CACHE_MAX:
                    cache.clear()
                cache[blob] = blk
        self._count(typ, sub)
        # the line head "fmt|time|W|peer|peer AS|"
        hn = 0
        if et:
            memcpy(head, b"BGP4MP_ET", 9)
            hn = 9
        else:
            memcpy(head, b"BGP4MP", 6)
            hn = 6
        if sub == 6 or sub == 7:
            memcpy(head + hn, b"_LOCAL", 6)
            hn += 6
        head[hn] = 124
        hn += 1
        hn += fmt_uint(head + hn, ts)
        if et:
            head[hn] = 46
            hn += 1
            n = fmt_uint(text, usec)
            for i in range(6 - n):
                head[hn] = 48
                hn += 1
            memcpy(head + hn, text, n)
            hn += n
        head[hn] = 124
        kind_at = hn + 1
        head[hn + 1] = 87
        head[hn + 2] = 124
        hn += 3
        start = p + 2 * asn_len + 4
        if asn_len == 4:
            peer_as = rd32(d + p)
        else:
            peer_as = (<u32>d[p] << 8) | d[p + 1]
        if afi == 1:
            hn += fmt_ipv4(head + hn, d + start)
        else:
            hn += fmt_ipv6(head + hn, d + start)
        head[hn] = 124
        hn += 1
        hn += fmt_uint(head + hn, peer_as)
        head[hn] = 124
        hn += 1
        # W lines: plain withdrawn NLRI, then MP_UNREACH
        o = q + 2
        while o < wend:
            nxt = next_prefix(d, o, wend)
            if nxt < 0:
                break
            put(out, head, hn)
            n = fmt_prefix(text, 1, d + o + 1, <int>(nxt - o - 1), d[o])
            put(out, text, n)
            putc(out, 10)
            count += 1
            o = nxt
        for item in blk.unreach:
            put(out, head, hn)
            put_bytes(out, item)
            putc(out, 10)
            count += 1
        # A lines: plain NLRI, then MP_REACH
        head[kind_at] = 65
        o = aend
        while o < mend:
            nxt = next_prefix(d, o, mend)
            if nxt < 0:
                break
            put(out, head, hn)
            n = fmt_prefix(text, 1, d + o + 1, <int>(nxt - o - 1), d[o])
            put(out, text, n)
            put_bytes(out, blk.tail0)
            putc(out, 10)
            count += 1
            o = nxt
        for item in blk.reach:
            put(out, head, hn)
            put_bytes(out, item)
            putc(out, 10)
            count += 1
        return count

    cdef Py_ssize_t _rib(self, bytes raw, const u8* d, Py_ssize_t end,
                         unsigned long long ts, int sub) except -2:
        """TABLE_DUMP_V2 RIB_IPV4_UNICAST (2) and RIB_IPV6_UNICAST (4): one line per entry.
        Checked in a first pass, written in a second: a record the Python decoder would refuse
        half-way (an entry past the end, a peer no PEER_INDEX_TABLE lists, an attribute block
        it must decode) is given to it whole, with the blocks cached so far where the Python
        decoder would have cached them too."""
        cdef int afi, plen, nb
        cdef Py_ssize_t p, count, i, q, alen, index, hn, n, pfx_n, start
        cdef char head[64]
        cdef char pfx[64]
        cdef Buf* out = &self.buf
        cdef _Block blk
        cdef dict cache = _CACHE4
        cdef list blocks, indexes
        cdef object peers
        if sub == 2:
            afi = 1
        elif sub == 4:
            afi = 2
        else:
            return -1  # PEER_INDEX_TABLE, multicast, RIB_GENERIC, ADD-PATH: Python
        peers = self.ctx.peers
        if peers is None:
            return -1
        if end < 17:
            return -1
        plen = d[16]
        if plen > (32 if afi == 1 else 128):
            return -1  # the Python decoder refuses the record
        nb = (plen + 7) >> 3
        if 17 + nb + 2 > end:
            return -1
        pfx_n = fmt_prefix(pfx, afi, d + 17, nb, plen)
        p = 17 + nb
        count = (<Py_ssize_t>d[p] << 8) | d[p + 1]
        p += 2
        blocks = []
        indexes = []
        start = p
        for i in range(count):
            if p + 8 > end:
                return -1
            index = (<Py_ssize_t>d[p] << 8) | d[p + 1]
            alen = (<Py_ssize_t>d[p + 6] << 8) | d[p + 7]
            p += 8
            q = p + alen
            if q > end:
                return -1
            if index >= len(peers):
                return -1  # the Python decoder warns once about unknown peers
            blob = PyBytes_FromStringAndSize(<const char*>d + p, alen)
            hit = cache.get(blob)
            if type(hit) is _Block:
                blk = <_Block>hit
                if blk.tail0 is None:  # cached by the element path
                    decode_block(<const u8*>PyBytes_AS_STRING(blob), alen, 4, blk)
            else:
                blk = decode_block(<const u8*>PyBytes_AS_STRING(blob), alen, 4)
                if blk is None:
                    self.fallbacks += 1
                    return -1
                if hit is None:
                    if len(cache) > _CACHE_MAX:
                        cache.clear()
                    cache[blob] = blk
            if blk.reach_unknown:
                return -1  # mrt_records._table_dump_v2 refuses the record
            blocks.append(blk)
            indexes.append(index)
            p = q
        if p != end:
            return -1  # bytes after the entries: the Python decoder refuses the record
        self._count(ACCEL_TABLE_DUMP_V2, sub)
        if peers is not self.peers:
            self.peers = peers
            self.peer_texts = [None] * len(peers)
        memcpy(head, b"TABLE_DUMP2|", 12)
        hn = 12
        hn += fmt_uint(head + hn, ts)
        memcpy(head + hn, b"|B|", 3)
        hn += 3
        for i in range(count):
            index = indexes[i]
            peer = self.peer_texts[index]
            if peer is None:
                ip, asn = peers[index]
                peer = self.peer_texts[index] = f"{ip}|{asn}|".encode()
            blk = <_Block>blocks[i]
            put(out, head, hn)
            put_bytes(out, peer)
            put(out, pfx, pfx_n)
            put_bytes(out, blk.tail_rib)
            putc(out, 10)
        return count

    cdef inline Py_ssize_t _u16(self, const u8* d, Py_ssize_t p, Py_ssize_t mend) noexcept:
        """u16 at p, zero-filled past mend (what _update reads through padded())."""
        cdef Py_ssize_t hi = d[p] if p < mend else 0
        cdef Py_ssize_t lo = d[p + 1] if p + 1 < mend else 0
        return (hi << 8) | lo

    cdef int _count(self, int typ, int sub) except -1:
        rt = self.ctx.stats.record_types
        key = (typ, sub)
        rt[key] = rt.get(key, 0) + 1
        return 0


include "_mrt_accel_elements.pxi"
