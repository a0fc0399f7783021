"""Issue 17 attack (E5): the compiled MRT reader (``_mrt_accel``) against the pure-Python path
on crafted BGP4MP(_ET) UPDATE records (length fields past the end, zero-length and
extended-length attributes, AS_PATH segment counts past the data, 2-byte paths in AS4 records,
MP_REACH/UNREACH with odd AFI/SAFI and next-hop lengths, prefixes longer than 32/128): the same
``-m`` text, line count and ReadStats (warnings in order), never a crash. The records run in a
subprocess so that a segfault fails the test instead of killing pytest. Also the scanner's
``parse_prefix_fast`` against ipaddress on hostile text."""

from __future__ import annotations

import io
import ipaddress
import os
import random
import struct
import subprocess  # noqa: S404 - runs this interpreter on this file
import sys

import pytest

from sentinelle.observatory.routing import bgp_attributes, mrt_accel
from sentinelle.observatory.routing.bgpdump_format import write_bgpdump
from sentinelle.observatory.routing.mrt import ReadStats
from sentinelle.observatory.routing.scan import parse_prefix_fast
from tests.paths import FIXTURES_DIR


def clear():
    for c in bgp_attributes.attr_caches.values():
        c.clear()


def run(data, accel, extended=True):
    os.environ[mrt_accel.ENV] = "1" if accel else "0"
    clear()
    out = io.StringIO()
    st = ReadStats()
    try:
        n = write_bgpdump(io.BytesIO(data), out, st, extended=extended)
        return out.getvalue(), n, st
    except Exception as e:
        return ("EXC", type(e).__name__, str(e))


def attr(flags, typ, value, ext=None, declared=None):
    ln = len(value) if declared is None else declared
    if ext is None:
        ext = ln > 255
    if ext:
        return bytes((flags | 0x10, typ)) + struct.pack(">H", ln & 0xFFFF) + value
    return bytes((flags & ~0x10 & 0xFF, typ, ln & 0xFF)) + value


def rec_et(body, asn4=True, ts=1445565678, mtype=17, afi=1):
    asn = struct.pack(">II", 64500, 64501) if asn4 else struct.pack(">HH", 64500, 64501)
    msg = b"\xff" * 16 + struct.pack(">HB", (19 + len(body)) & 0xFFFF, 2) + body
    if afi == 1:
        peer = asn + struct.pack(">HH", 0, 1) + bytes((192, 0, 2, 1)) + bytes((192, 0, 2, 2))
    else:
        peer = asn + struct.pack(">HH", 0, 2) + bytes(16) + bytes(16)
    r = struct.pack(">I", 509481) + peer + msg
    sub = 4 if asn4 else 1
    if mtype == 16:
        r = r[4:]
    return struct.pack(">IHHI", ts, mtype, sub, len(r)) + r


def update(attrs, nlri=b"\x18\xc6\x33\x64", withdrawn=b""):
    return (
        struct.pack(">H", len(withdrawn)) + withdrawn + struct.pack(">H", len(attrs)) + attrs + nlri
    )


def rnd_prefix(rng, v6=False):
    mx = 128 if v6 else 32
    ln = rng.choice([0, 1, 8, 24, mx, mx + 1, 255, rng.randrange(256)])
    nb = (ln + 7) // 8
    if rng.random() < 0.2:
        nb = rng.randrange(0, 20)
    return bytes((ln,)) + bytes(rng.randrange(256) for _ in range(nb))


def rnd_path(rng, four):
    out = b""
    for _ in range(rng.randint(0, 3)):
        t = rng.choice([1, 2, 3, 4, 0, 5, 255])
        cnt = rng.choice([0, 1, 2, 255, rng.randrange(256)])
        real = cnt if rng.random() < 0.7 else rng.randrange(0, 5)
        w = 4 if four else 2
        if rng.random() < 0.15:
            w = 6 - w
        asns = b"".join(
            rng.randrange(2 ** (8 * w)).to_bytes(w, "big") for _ in range(min(real, 300))
        )
        out += bytes((t, cnt)) + asns
    return out


def rnd_attrs(rng, four):
    parts = []
    kinds = [1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 18, 32, 0, 255, 99]
    for _ in range(rng.randint(0, 8)):
        k = rng.choice(kinds)
        flags = rng.choice([0x40, 0x80, 0xC0, 0xE0, 0x00, 0x50, 0xD0])
        if k == 1:
            v = bytes((rng.choice([0, 1, 2, 3, 255]),)) if rng.random() < 0.8 else b""
        elif k == 2:
            v = rnd_path(rng, four)
        elif k == 17:
            v = rnd_path(rng, True)
        elif k == 18:
            v = (
                struct.pack(">HH", rng.randrange(65536), 1) + bytes(4)
                if rng.random() < 0.5
                else bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 6, 8, 10])))
            )
        elif k == 3:
            v = bytes(rng.randrange(256) for _ in range(rng.choice([4, 0, 3, 16])))
        elif k in (4, 5):
            v = bytes(rng.randrange(256) for _ in range(rng.choice([4, 0, 3, 5])))
        elif k == 6:
            v = b"" if rng.random() < 0.8 else b"\x01"
        elif k == 7:
            v = bytes(rng.randrange(256) for _ in range(rng.choice([6, 8, 0, 7])))
        elif k in (8, 32, 16):
            v = bytes(rng.randrange(256) for _ in range(rng.choice([0, 4, 8, 12, 7, 13, 24])))
        elif k == 14:
            afi = rng.choice([1, 2, 3, 0, 25])
            safi = rng.choice([1, 2, 4, 128, 0])
            nhl = rng.choice([4, 16, 32, 0, 12, 24, 255])
            nh = bytes(rng.randrange(256) for _ in range(min(nhl, 40)))
            nl = b"".join(rnd_prefix(rng, afi == 2) for _ in range(rng.randint(0, 3)))
            v = struct.pack(">HBB", afi, safi, nhl) + nh + b"\x00" + nl
        elif k == 15:
            afi = rng.choice([1, 2, 3])
            safi = rng.choice([1, 2, 128])
            v = struct.pack(">HB", afi, safi) + b"".join(
                rnd_prefix(rng, afi == 2) for _ in range(rng.randint(0, 3))
            )
        else:
            v = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 10)))
        declared = None
        r = rng.random()
        if r < 0.1:
            declared = len(v) + rng.randint(1, 300)
        elif r < 0.15:
            declared = max(0, len(v) - rng.randint(1, 5))
        parts.append(attr(flags, k, v, ext=(rng.random() < 0.2) or None, declared=declared))
    return b"".join(parts)


def one(rng):
    four = rng.random() < 0.6
    a = rnd_attrs(rng, four)
    nlri = b"".join(rnd_prefix(rng) for _ in range(rng.randint(0, 3)))
    wd = b"".join(rnd_prefix(rng) for _ in range(rng.randint(0, 2))) if rng.random() < 0.3 else b""
    body = update(a, nlri, wd)
    if rng.random() < 0.1:  # bad attribute length field
        body = struct.pack(">H", len(wd)) + wd + struct.pack(">H", rng.randrange(65536)) + a + nlri
    return rec_et(body, asn4=four, mtype=rng.choice([17, 17, 16]), afi=rng.choice([1, 1, 2]))


def main(seed, n, extended=True):
    rng = random.Random(seed)
    bad = 0
    for i in range(n):
        data = b"".join(one(rng) for _ in range(rng.randint(1, 4)))
        f, s = run(data, True, extended), run(data, False, extended)
        if f != s:
            bad += 1
            if bad <= 3:
                print("DIFF", i, data.hex())
                print(" fast", f if f[0] == "EXC" else (f[0], f[1], f[2]))
                print(" slow", s if s[0] == "EXC" else (s[0], s[1], s[2]))
    print("seed", seed, "n", n, "diffs", bad)
    return bad


def peer_table(rng, n):
    peers = b""
    for i in range(n):
        t = rng.choice([0, 1, 2, 3])
        ip = bytes(16) if t & 1 else bytes((10, 0, 0, i % 256))
        asn = struct.pack(">I", 64500 + i) if t & 2 else struct.pack(">H", 64500 + i)
        peers += bytes((t,)) + bytes((1, 2, 3, 4)) + ip + asn
    name = b"view" if rng.random() < 0.5 else b""
    body = bytes((9, 9, 9, 9)) + struct.pack(">H", len(name)) + name + struct.pack(">H", n) + peers
    return struct.pack(">IHHI", 1445565678, 13, 1, len(body)) + body


def rib(rng, npeers):
    v6 = rng.random() < 0.4
    sub = 4 if v6 else 2
    if rng.random() < 0.05:
        sub = rng.choice([3, 5, 6, 7, 8, 9, 10])
    pfx = rnd_prefix(rng, v6)
    entries = b""
    count = rng.randint(0, 4)
    for _ in range(count):
        a = rnd_attrs(rng, True)
        if rng.random() < 0.3:  # TDv2 abbreviated MP_REACH: next-hop length + next hop
            nhl = rng.choice([4, 16, 32, 0, 5])
            a += attr(0x80, 14, bytes((nhl,)) + bytes(rng.randrange(256) for _ in range(nhl)))
        idx = rng.randrange(npeers + 2)
        declared = len(a) if rng.random() < 0.9 else rng.randrange(65536)
        entries += struct.pack(">HIH", idx, 1445565000, declared) + a
    cnt = count if rng.random() < 0.9 else rng.randrange(65536)
    body = struct.pack(">I", rng.randrange(100)) + pfx + struct.pack(">H", cnt) + entries
    return struct.pack(">IHHI", 1445565678, 13, sub, len(body)) + body


def main_rib(seed, n):
    rng = random.Random(seed)
    bad = 0
    for i in range(n):
        np_ = rng.randint(1, 4)
        data = peer_table(rng, np_) + b"".join(rib(rng, np_) for _ in range(rng.randint(1, 5)))
        if rng.random() < 0.1:
            data = data[: rng.randrange(len(data))]
        f, s = run(data, True), run(data, False)
        if f != s:
            bad += 1
            if bad <= 3:
                print("DIFF", i, data.hex())
                print(" fast", f if f[0] == "EXC" else (f[0], f[1], f[2]))
                print(" slow", s if s[0] == "EXC" else (s[0], s[1], s[2]))
    print("rib seed", seed, "n", n, "diffs", bad)
    return bad


def extreme() -> int:
    """Records at the size limits: extended-length attributes near 64 KiB (an AS_PATH of 63
    segments of 255 four-byte ASes, AS_SETs between them, 16,000 communities, large and
    extended communities), and an UPDATE of 1,800 /32 announcements."""

    def ext(flags: int, typ: int, value: bytes) -> bytes:
        return bytes((flags | 0x10, typ)) + struct.pack(">H", len(value)) + value

    origin, nexthop = attr(0x40, 1, b"\x00"), attr(0x40, 3, bytes((192, 0, 2, 1)))
    short = attr(0x40, 2, b"\x02\x01" + bytes(4))
    seg = b"\x02\xff" + b"".join(struct.pack(">I", 4294967295 - i) for i in range(255))
    seg_set = b"\x01\xff" + b"".join(struct.pack(">I", 4000000000 + i) for i in range(255))
    comms = b"".join(struct.pack(">I", 0xFFFF0000 + i) for i in range(16000))
    large = b"".join(struct.pack(">III", 4294967295, 4294967295 - i, i) for i in range(5300))
    nlri = b"".join(bytes((32,)) + struct.pack(">I", i) for i in range(1800))
    cases = [
        update(origin + ext(0x40, 2, seg * 63) + nexthop),
        update(origin + ext(0x40, 2, (seg + seg_set) * 31) + nexthop),
        update(origin + short + nexthop + ext(0xC0, 8, comms)),
        update(origin + short + nexthop + ext(0xC0, 32, large)),
        update(origin + short + nexthop + ext(0xC0, 16, bytes(range(256)) * 250)),
        update(origin + short + nexthop, nlri=nlri),
        update(
            origin + ext(0x40, 2, seg * 2) + nexthop + ext(0xC0, 8, comms[:800]),
            nlri=nlri[:400],
            withdrawn=nlri[400:800],
        ),
    ]
    bad = 0
    for body in cases:
        for asn4 in (True, False):
            data = rec_et(body, asn4=asn4)
            if run(data, True) != run(data, False):
                bad += 1
    print("extreme diffs", bad)
    return bad


@pytest.mark.skipif(not mrt_accel.available(), reason="the compiled MRT reader is not built")
@pytest.mark.parametrize(
    "seed,call",
    [
        (11, "main({seed}, 1500)"),
        (12, "main({seed}, 1500)"),
        (13, "main({seed}, 1500, False)"),
        (14, "main_rib({seed}, 1500)"),
        (15, "main_rib({seed}, 1500)"),
        (0, "extreme()"),
    ],
)
def test_crafted_records_same_output_in_a_subprocess(seed, call):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            "-c",
            "import sys; from tests.observatory.routing import test_attack_i17_mrt as m; "
            f"sys.exit(min(m.{call.format(seed=seed)}, 1))",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-3000:], done.stderr[-3000:])
    expected = "extreme diffs 0" if call == "extreme()" else f"seed {seed} n 1500 diffs 0"
    assert expected in done.stdout, done.stdout[-3000:]


def _reference(text: str):
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), network.prefixlen


HOSTILE_PREFIXES = [
    "1.2.3.4/33",
    "1.2.3.4/32",
    "01.2.3.4/8",
    "1.2.3.04/24",
    "1.2.3.4/08",
    "1.2.3.4/+8",
    "1.2.3.4/-1",
    " 1.2.3.4/24",
    "1.2.3.4/24 ",
    "1.2.3.4 /24",
    "1.2.3.4/ 24",
    "1.2.3/24",
    "1.2.3.4.5/24",
    "1.2.3.4\x00/24",
    "1.2.3.4/24\n",
    "\u0661.2.3.4/24",
    "1.2.3.4/\u0662\u0664",
    "1.2.3.4/２４",
    "2001:DB8::/32",
    "2001:db8::/32",
    "2001:db8::/129",
    "::ffff:1.2.3.4/128",
    "::FFFF:1.2.3.4/128",
    "::ffff:01.2.3.4/128",
    "::/0",
    "0.0.0.0/0",
    "2001:db8:0:0:0:0:0:1/128",
    "2001:0db8::1/128",
    "fe80::1%eth0/64",
    "1.2.3.4",
    "2001:db8::",
    "",
    "/",
    "/24",
    "1.2.3.4/",
    "::/",
    "1.2.3.4//24",
    "1.2.3.4/24/24",
    "255.255.255.255/32",
    "256.0.0.0/8",
    "1.2.3.4/0x10",
    "1.2.3.4/1_6",
    "0x01.2.3.4/8",
    "1e0.2.3.4/8",
]


def test_parse_prefix_fast_equals_ipaddress_on_hostile_text():
    rng = random.Random(17)
    texts = list(HOSTILE_PREFIXES)
    alphabet = "0123456789abcdefABCDEF:./ x\u0661%"
    for _ in range(5000):
        base = rng.choice(HOSTILE_PREFIXES) or "1.2.3.4/24"
        chars = list(base)
        for _ in range(rng.randint(1, 3)):
            i = rng.randrange(len(chars) + 1)
            if rng.random() < 0.5 and chars and i < len(chars):
                chars[i] = rng.choice(alphabet)
            else:
                chars.insert(i, rng.choice(alphabet))
        texts.append("".join(chars))
    for text in texts:
        assert parse_prefix_fast(text) == _reference(text), repr(text)


def test_scan_feed_all_equals_feed_on_hostile_routes():
    """The scanner's fast loop (feed_all) against feed() one by one, on prefixes in every
    spelling ipaddress accepts or refuses near watched space (host bits, leading zeros,
    uppercase IPv6, IPv4-mapped IPv6, lengths past the maximum, spaces), ASN-like text
    origins, AS sets, empty paths, peers that are IPv6, and kinds other than A/W/B."""

    from sentinelle.observatory.routing.asrel import ASRelationships
    from sentinelle.observatory.routing.elements import Element
    from sentinelle.observatory.routing.rpki import load_vrps
    from sentinelle.observatory.routing.scan import Scanner, ScanOptions
    from sentinelle.observatory.routing.watchlist import loads

    vrps = FIXTURES_DIR / "bgp" / "rpki" / "rpki-validator_test_5000vrps.json"
    watch = loads(
        "states:\n  CU:\n    asns: [27725]\n    prefixes:\n"
        "      - prefix: 190.6.64.0/19\n        max_length: 24\n"
        "      - 2001:db8:cc00::/40\n  SY:\n    asns: [29256]\n"
        "    prefixes: [5.0.0.0/16]\n",
        "w.yaml",
    )
    rels = ASRelationships.parse(["3356|174|-1", "174|27725|-1", "174|29256|0"])
    spellings = [
        "190.6.64.0/19",
        "190.6.64.1/19",
        "190.006.64.0/19",
        "190.6.64.0/019",
        "190.6.64.0/33",
        " 190.6.64.0/19",
        "190.6.64.0/19 ",
        "190.6.70.0/24",
        "190.6.70.0/25",
        "5.0.0.0/16",
        "5.0.0.0/8",
        "0.0.0.0/0",
        "::/0",
        "2001:DB8:CC10::/44",
        "2001:db8:cc10::/44",
        "2001:db8:cc10::1/44",
        "::ffff:190.6.64.0/115",
        "::ffff:5.0.1.0/120",
        "5.0.1.0/24",
        "5.0.1.0",
        "5.0.1.0/",
        "",
        "9.9.9.0/24",
        "190.6.64.0/19/19",
        "\u0661.0.0.0/8",
        "2001:db8:cc00::/129",
        "190.6.95.255/32",
        "190.6.96.0/24",
    ]
    rng = random.Random(17)
    elements = []
    t = 1_700_000_000
    for phase, kind in enumerate("BBAAWAXBA"):
        collector = "rrc00" if phase % 2 else "rrc01"
        for _ in range(300):
            t += rng.choice([0, 0, 1, 2, 40, 3600])
            prefix = rng.choice(spellings)
            origin = rng.choice([666, 27725, 29256, 3356, 0, 2**32 - 1, frozenset({1, 27725})])
            peer = rng.choice(
                [
                    ("192.0.2.1", 3356),
                    ("192.0.2.2", 174),
                    ("2001:db8::1", 6939),
                    ("192.0.2.3", 27725),
                ]
            )
            path = rng.choice(
                [
                    (peer[1], 174, origin),
                    (peer[1], origin),
                    (),
                    (origin,),
                    (peer[1], 174, 174, origin),
                ]
            )
            elements.append(Element(kind, t, peer[0], peer[1], prefix, path, collector))
    options = {"full_feed_v4": 30, "full_feed_v6": 5, "visibility_bucket": 60}

    def run(one_by_one: bool):
        scanner = Scanner(watch, load_vrps(vrps), rels, ScanOptions(**options))
        if one_by_one:
            for element in elements:
                scanner.feed(element)
        else:
            assert scanner.feed_all(iter(elements)) == len(elements)
        return [a.to_dict() for a in scanner.finish()], scanner.stats.to_dict()

    old, new = run(True), run(False)
    assert old == new
    assert old[1]["bad_prefix"] > 0 and len(old[0]) > 3
