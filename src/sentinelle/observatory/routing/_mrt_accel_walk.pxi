# The attribute-block walk of _mrt_accel.pyx (included there), shared by the `-m` renderer
# (decode_block) and the element builder (_mrt_accel_elements.pxi): one pass over the block
# that records where each attribute is, and the one place that decides which blocks the
# compiled path declines, so that both paths decline exactly the same ones.

cdef struct Walk:
    int origin
    bint atomic, has_agg, has_path, has_nh, has_reach, has_unreach
    u32 med, lp, agg_as
    u8 nh[4]
    u8 agg_ip[4]
    Py_ssize_t path_off, path_len, comm_off, comm_n, large_off, large_n
    # MP_(UN)REACH per (AFI, SAFI) slot (afi - 1) * 3 + safi - 1: NLRI range and next hop
    # (its first 16 bytes, zero-filled past the attribute, and its declared length)
    Py_ssize_t r_off[6]
    Py_ssize_t r_end[6]
    Py_ssize_t u_off[6]
    Py_ssize_t u_end[6]
    bint r_set[6]
    bint u_set[6]
    u8 r_nh[6][16]
    int r_nhlen[6]


cdef bint nlri_whole(const u8* d, Py_ssize_t off, Py_ssize_t end, int limit) noexcept:
    """Whether the NLRI range d[off:end] is whole prefixes of at most `limit` bits (what
    nlri_prefixes(..., strict=True) accepts without ADD-PATH)."""
    cdef Py_ssize_t nxt
    while off < end:
        if d[off] > limit:
            return False
        nxt = next_prefix(d, off, end)
        if nxt < 0:
            return False
        off = nxt
    return True


cdef inline bint fixed_length(int typ, Py_ssize_t alen) noexcept:
    """bgp_attributes._FIXED: the attribute lengths the RFCs fix, and communities' units."""
    if typ == 1:
        return alen == 1
    if typ == 3 or typ == 4 or typ == 5:
        return alen == 4
    if typ == 6:
        return alen == 0
    if typ == 7:
        return alen == 6 or alen == 8
    if typ == 18:
        return alen == 8
    if typ == 8:
        return alen % 4 == 0
    if typ == 32:
        return alen % 12 == 0
    return True


cdef bint walk_block(const u8* d, Py_ssize_t end, int asn_len, Walk* w) noexcept:
    """Walk the attribute block d[0:end] of a session with `asn_len`-byte AS numbers into w;
    False when the Python decoder must take it (see the module docstring)."""
    cdef Py_ssize_t off = 0, vend, alen, i, k, p
    cdef int flags, typ, afi, safi, nhlen, slot
    w.origin = 2
    w.atomic = w.has_agg = w.has_path = w.has_nh = w.has_reach = w.has_unreach = False
    w.med = w.lp = w.agg_as = 0
    w.path_off = w.path_len = w.comm_off = w.comm_n = w.large_off = w.large_n = 0
    for i in range(6):
        w.r_set[i] = False
        w.u_set[i] = False
    while off < end:
        if off + 3 > end:
            return False  # a cut attribute header: the Python decoder refuses the record
        flags = d[off]
        typ = d[off + 1]
        if flags & 0x10:
            if off + 4 > end:
                return False
            alen = (<Py_ssize_t>d[off + 2] << 8) | d[off + 3]
            off += 4
        else:
            alen = d[off + 2]
            off += 3
        vend = off + alen
        if vend > end:
            return False  # "attribute type N truncated": the Python decoder refuses it
        if not fixed_length(typ, alen):
            return False
        # bgp_attributes._WELL_KNOWN: flags transitive and not optional for these, optional
        # for every other attribute
        if typ == 1 or typ == 2 or typ == 3 or typ == 5 or typ == 6:
            if flags & 0xC0 != 0x40:
                return False
        elif not flags & 0x80:
            return False
        if typ == 2:
            w.has_path = True
            w.path_off = off
            w.path_len = alen
        elif typ == 1:
            w.origin = d[off] if alen else 0
            if w.origin > 2:
                w.origin = 2
        elif typ == 3:
            w.has_nh = True
            copy_padded(w.nh, d, off, vend, 4)
        elif typ == 4:
            w.med = rd32_padded(d, off, vend)
        elif typ == 5:
            w.lp = rd32_padded(d, off, vend)
        elif typ == 8:
            w.comm_off = off
            w.comm_n = alen // 4
        elif typ == 32:
            w.large_off = off
            w.large_n = alen // 12
        elif typ == 6:
            w.atomic = True
        elif typ == 7:
            w.has_agg = True
            if asn_len == 4:
                w.agg_as = rd32_padded(d, off, vend)
                copy_padded(w.agg_ip, d, off + 4, vend, 4)
            else:
                w.agg_as = (rd32_padded(d, off, vend) >> 16) & 0xFFFF
                copy_padded(w.agg_ip, d, off + 2, vend, 4)
        elif typ == 14:
            w.has_reach = True
            if off >= vend:
                return False
            elif d[off] != 0:
                # RFC 6396 4.3.4 abbreviated form: next hop length + IPv6 next hop only
                if off + 1 + d[off] != vend:
                    return False
                if not w.r_set[3]:
                    w.r_set[3] = True
                    copy_padded(w.r_nh[3], d, off + 1, vend, 16)
                    w.r_nhlen[3] = 16
                    w.r_off[3] = 0
                    w.r_end[3] = 0
            elif off + 4 > vend:
                return False
            else:
                afi = (d[off] << 8) | d[off + 1]
                safi = d[off + 2]
                nhlen = d[off + 3]
                if 1 <= afi <= 2 and 1 <= safi <= 3 and not w.r_set[(afi - 1) * 3 + safi - 1]:
                    # bgp_attributes._mp_reach: next hop lengths, the reserved byte 0
                    if not (nhlen == 16 or nhlen == 32 or (nhlen == 4 and afi == 1)):
                        return False
                    if off + 5 + nhlen > vend or d[off + 4 + nhlen] != 0:
                        return False
                    slot = (afi - 1) * 3 + safi - 1
                    w.r_set[slot] = True
                    p = off + 4
                    copy_padded(w.r_nh[slot], d, p, vend, 16)
                    w.r_nhlen[slot] = nhlen
                    p += nhlen + 1
                    if not nlri_whole(d, p, vend, 32 if afi == 1 else 128):
                        return False
                    w.r_off[slot] = p
                    w.r_end[slot] = vend
        elif typ == 15:
            w.has_unreach = True
            if alen < 3:
                return False
            afi = (d[off] << 8) | d[off + 1]
            safi = d[off + 2]
            if 1 <= afi <= 2 and 1 <= safi <= 3 and not w.u_set[(afi - 1) * 3 + safi - 1]:
                if not nlri_whole(d, off + 3, vend, 32 if afi == 1 else 128):
                    return False
                slot = (afi - 1) * 3 + safi - 1
                w.u_set[slot] = True
                w.u_off[slot] = off + 3
                w.u_end[slot] = vend
        elif typ == 17 or typ == 18:
            if asn_len == 2:
                return False  # the RFC 6793 merge: the Python decoder does it
        off = vend
    if w.has_path and w.path_len:
        if not (w.path_len >= 2 and d[w.path_off] == 2
                and 2 + d[w.path_off + 1] * asn_len == w.path_len):
            return False  # sets, confederations, several segments, damage: Python
    return True


cdef inline bint reach_unknown(Walk* w) noexcept:
    """An MP_REACH_NLRI was there but no (AFI, SAFI) of it was read (another family): in a
    TABLE_DUMP_V2 RIB entry that is damage (mrt_records._table_dump_v2 refuses it)."""
    cdef int slot
    if not w.has_reach:
        return False
    for slot in range(6):
        if w.r_set[slot]:
            return False
    return True
