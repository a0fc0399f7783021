# Helpers of _mrt_accel.pyx (included there): a growable byte buffer, the texts bgpdump
# prints for numbers, addresses, prefixes and attribute tails written straight into C
# buffers, and bounded big-endian reads.
# Callers size the buffers: an IPv6 text is at most 45 bytes, a prefix text at most 49.

# --------------------------------------------------------------------------- text buffer

cdef struct Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef int buf_reserve(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap
    cdef char* data
    if b.size + extra <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 1 << 16
    while cap < b.size + extra:
        cap *= 2
    data = <char*>PyMem_Realloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int put(Buf* b, const char* s, Py_ssize_t n) except -1:
    if b.size + n > b.cap:
        buf_reserve(b, n)
    memcpy(b.data + b.size, s, n)
    b.size += n
    return 0


cdef inline int putc(Buf* b, char c) except -1:
    if b.size + 1 > b.cap:
        buf_reserve(b, 1)
    b.data[b.size] = c
    b.size += 1
    return 0


cdef inline int put_bytes(Buf* b, bytes s) except -1:
    return put(b, PyBytes_AS_STRING(s), PyBytes_GET_SIZE(s))


cdef inline Py_ssize_t fmt_uint(char* out, unsigned long long v) noexcept:
    """Decimal digits of v at out (at most 20); returns how many."""
    cdef char tmp[24]
    cdef Py_ssize_t n = 0, i
    if v == 0:
        out[0] = 48
        return 1
    while v:
        tmp[n] = <char>(48 + v % 10)
        v //= 10
        n += 1
    for i in range(n):
        out[i] = tmp[n - 1 - i]
    return n


cdef inline int put_uint(Buf* b, unsigned long long v) except -1:
    cdef char tmp[24]
    return put(b, tmp, fmt_uint(tmp, v))


cdef inline int put_int(Buf* b, long long v) except -1:
    if v < 0:
        putc(b, 45)
        return put_uint(b, <unsigned long long>(-v))
    return put_uint(b, <unsigned long long>v)


cdef inline Py_ssize_t fmt_ipv4(char* out, const u8* a) noexcept:
    cdef Py_ssize_t n = 0
    cdef int i
    for i in range(4):
        if i:
            out[n] = 46
            n += 1
        n += fmt_uint(out + n, a[i])
    return n


cdef Py_ssize_t fmt_ipv6(char* out, const u8* b) noexcept:
    """IPv6 text as bgp_attributes.fmt_ipv6 writes it (bgpdump's): the first longest run of
    zero groups, even a single one, becomes "::"; IPv4-mapped and -compatible addresses end
    in a dotted quad."""
    cdef int i, g, best_at = -1, best_len = 0, run_at = -1, run_len = 0
    cdef unsigned int groups[8]
    cdef Py_ssize_t n = 0
    cdef bint zeros10 = True
    cdef u32 low
    for i in range(10):
        if b[i]:
            zeros10 = False
            break
    if zeros10:
        low = (<u32>b[12] << 24) | (<u32>b[13] << 16) | (<u32>b[14] << 8) | b[15]
        if b[10] == 0xFF and b[11] == 0xFF:
            memcpy(out, b"::ffff:", 7)
            return 7 + fmt_ipv4(out + 7, b + 12)
        if b[10] == 0 and b[11] == 0 and low > 1:
            out[0] = 58
            out[1] = 58
            return 2 + fmt_ipv4(out + 2, b + 12)
    for i in range(8):
        groups[i] = (<unsigned int>b[2 * i] << 8) | b[2 * i + 1]
        if groups[i] == 0:
            if run_len == 0:
                run_at = i
            run_len += 1
            if run_len > best_len:
                best_at = run_at
                best_len = run_len
        else:
            run_len = 0
    for i in range(8):
        if best_len and best_at <= i < best_at + best_len:
            if i == best_at:
                out[n] = 58
                out[n + 1] = 58
                n += 2
            continue
        if i and not (best_len and i == best_at + best_len):
            out[n] = 58
            n += 1
        g = groups[i]
        if g >= 0x1000:
            out[n] = _hex(g >> 12)
            n += 1
        if g >= 0x100:
            out[n] = _hex((g >> 8) & 15)
            n += 1
        if g >= 0x10:
            out[n] = _hex((g >> 4) & 15)
            n += 1
        out[n] = _hex(g & 15)
        n += 1
    return n


cdef inline char _hex(int v) noexcept:
    return <char>(48 + v if v < 10 else 87 + v)


cdef Py_ssize_t fmt_prefix(char* out, int afi, const u8* p, int nb, int plen) noexcept:
    """A prefix's text from its NLRI bytes (p: nb address bytes), host bits of the last byte
    cleared and the address zero-filled or cut to its family's size, as prefix_text does."""
    cdef u8 addr[16]
    cdef int size = 4 if afi == 1 else 16
    cdef int i, take = nb if nb < size else size
    cdef Py_ssize_t n
    for i in range(size):
        addr[i] = p[i] if i < take else 0
    if (plen & 7) and nb and nb <= size:
        addr[nb - 1] &= <u8>((0xFF << (8 - (plen & 7))) & 0xFF)
    n = fmt_ipv4(out, addr) if afi == 1 else fmt_ipv6(out, addr)
    out[n] = 47
    n += 1
    return n + fmt_uint(out + n, plen)


cdef inline Py_ssize_t next_prefix(const u8* d, Py_ssize_t off, Py_ssize_t end) noexcept:
    """End offset of the prefix at off, or -1 when it is truncated (nlri_prefixes drops it)."""
    cdef Py_ssize_t nxt = off + 1 + ((d[off] + 7) >> 3)
    return nxt if nxt <= end else -1


cdef list prefix_list(const u8* d, Py_ssize_t off, Py_ssize_t end, int afi, bytes suffix):
    """Texts (bytes) of the prefixes of an NLRI range, each followed by `suffix`."""
    cdef list out = []
    cdef char text[64]
    cdef Py_ssize_t nxt, n
    cdef Buf b
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        while off < end:
            nxt = next_prefix(d, off, end)
            if nxt < 0:
                break
            n = fmt_prefix(text, afi, d + off + 1, <int>(nxt - off - 1), d[off])
            b.size = 0
            put(&b, text, n)
            put_bytes(&b, suffix)
            out.append(PyBytes_FromStringAndSize(b.data, b.size))
            off = nxt
    finally:
        PyMem_Free(b.data)
    return out


# --------------------------------------------------------------------------- reads, tails

cdef inline u32 rd32(const u8* d) noexcept:
    return (<u32>d[0] << 24) | (<u32>d[1] << 16) | (<u32>d[2] << 8) | d[3]


cdef inline u32 rd32_padded(const u8* d, Py_ssize_t off, Py_ssize_t end) noexcept:
    """4 bytes at off, zero-filled past end (padded() in bgp_attributes)."""
    cdef u32 v = 0
    cdef int i
    for i in range(4):
        v = (v << 8) | (d[off + i] if off + i < end else 0)
    return v


cdef inline void copy_padded(u8* out, const u8* d, Py_ssize_t off, Py_ssize_t end,
                             int n) noexcept:
    cdef int i
    for i in range(n):
        out[i] = d[off + i] if off + i < end else 0


cdef bytes make_tail(bytes path_origin, const char* nh, Py_ssize_t nh_len, unsigned long lp,
                     unsigned long med, bint signed, bytes rest):
    """"|" + Attrs.tail(nh, mode 0 or 1): path|origin|nh|lp|med|comms|AG|aggr|."""
    cdef Buf b
    b.data = NULL
    b.size = 0
    b.cap = 0
    try:
        putc(&b, 124)
        put_bytes(&b, path_origin)
        put(&b, nh, nh_len)
        putc(&b, 124)
        if signed:
            put_int(&b, <int>(<u32>lp))
            putc(&b, 124)
            put_int(&b, <int>(<u32>med))
        else:
            put_uint(&b, lp)
            putc(&b, 124)
            put_uint(&b, med)
        putc(&b, 124)
        put_bytes(&b, rest)
        return PyBytes_FromStringAndSize(b.data, b.size)
    finally:
        PyMem_Free(b.data)
