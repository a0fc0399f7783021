"""`routing scan` gives the same findings after the detector speed-ups (issue 17).

The expected outputs in fixtures/bgp/scan/expected were written by the scanner as it was
BEFORE the detector changes (commit d61b9d6), over the real MRT files with the bench's
configuration (fixtures/bgp/scan: ten States, 3,758 watched prefixes, 5,000 real VRPs, an
as-rel inferred from the files' own paths). Each holds every alert (`to_dict()`, the SHA-256
of its raw MRT samples and their sources) and the scan counters. Regenerate them only from a
tree whose detectors are known good:

    PYTHONPATH=src .venv/bin/python tests/test_routing_scan_equivalence.py --freeze
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import random
import sys
from pathlib import Path

import pytest

from sentinelle.observatory.routing import prefixes
from sentinelle.observatory.routing import run as routing_run
from sentinelle.observatory.routing.asrel import ASRelationships
from sentinelle.observatory.routing.elements import Element
from sentinelle.observatory.routing.prefixes import PrefixIndex
from sentinelle.observatory.routing.rpki import load_vrps
from sentinelle.observatory.routing.scan import (
    Scanner,
    ScanOptions,
    parse_prefix_fast,
    v4_prefix_code_py,
)
from sentinelle.observatory.routing.watchlist import load, loads

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "fixtures" / "bgp" / "scan"
EXPECTED = CONFIG / "expected"
FIXTURES = HERE / "fixtures" / "bgp"
SHARED = HERE.parents[0].parent / "shared" / "data" / "bgp"
MRT = SHARED / "mrt"
VRPS = FIXTURES / "rpki" / "rpki-validator_test_5000vrps.json"

RIB_OPTIONS = {"full_feed_v4": 5000}  # truncated RIBs: ~8,000 prefixes per peer
# name -> (files, ScanOptions overrides, big: over a few seconds -> marked slow)
CASES: dict[str, tuple[list[Path], dict, bool]] = {
    "updates-2015": ([MRT / "ripe-ncc-bgpdump/test_data/updates.et-header.2015.gz"], {}, True),
    "rib-2014": ([MRT / "pyasn/rib.20140523.0600_firstMB.bz2"], RIB_OPTIONS, True),
    "bview-2002": ([MRT / "ripe-ncc-bgpdump/test_data/bview.20020722.2337.gz"], RIB_OPTIONS,
                   True),
    "bview-2000-damaged": ([MRT / "bgpkit-parser/ripe/rrc00/2000.01/bview.20000111.0032.gz"],
                           RIB_OPTIONS, True),
    # a RIB then the updates that follow it: visibility starts from the RIB, per bucket
    "rrc15-updates": ([MRT / "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1600.gz",
                       MRT / "bgpkit-parser/ripe/rrc15/2010.02/updates.20100227.1610.gz"],
                      {"full_feed_v4": 50, "full_feed_v6": 5}, False),
    "rib-then-updates": ([MRT / "ripe-ncc-bgpdump/test_data/bview.20020722.2337.gz",
                          MRT / "ripe-ncc-bgpdump/test_data/updates.20020722.2238.gz"],
                         {"full_feed_v4": 5000, "visibility_threshold": 0.9}, True),
    "fixtures-mixed": ([FIXTURES / "mrt/bgpkit-parser/updates.20000325.0345.gz",
                        FIXTURES / "mrt/mrtparse-samples/quagga_rib",
                        FIXTURES / "mrt/mrtparse-samples/bird_bgp"],
                       {"full_feed_v4": 1, "full_feed_v6": 1}, False),
}


def run_scan(files: list[Path], overrides: dict, one_by_one: bool = False) -> dict:
    """Every file through one Scanner (as `routing scan --mrt A B` does), canonical output.
    `one_by_one` feeds the elements with `Scanner.feed` instead of `Scanner.feed_all`."""
    from sentinelle.observatory.routing.mrt import ReadStats, read_elements

    watch = load(CONFIG / "watch.yaml")
    vrps = load_vrps(VRPS)
    asrel = ASRelationships.load(CONFIG / "as-rel.txt.gz")
    scanner = Scanner(watch, vrps, asrel, ScanOptions(**overrides))
    for path in files:
        collector = routing_run._collector_from_path(path)
        elements = read_elements(str(path), collector=collector, stats=ReadStats())
        if one_by_one or not hasattr(scanner, "feed_all"):
            for element in elements:
                scanner.feed(element)
        else:
            scanner.feed_all(elements)
    alerts = scanner.finish()
    out = []
    for alert in alerts:
        entry = alert.to_dict()
        entry["samples_sha256"] = [hashlib.sha256(raw).hexdigest() for raw in alert.samples]
        entry["sample_sources"] = [list(s) for s in alert.sample_sources]
        out.append(entry)
    return {"alerts": out, "stats": scanner.stats.to_dict()}


def _expected(name: str) -> dict:
    with gzip.open(EXPECTED / f"{name}.json.gz", "rt", encoding="utf-8") as f:
        return json.load(f)


def _params():
    for name, (files, overrides, big) in CASES.items():
        marks = [pytest.mark.skipif(not all(p.exists() for p in files),
                                    reason="../shared/data absent")]
        if big:
            marks.append(pytest.mark.slow)
        yield pytest.param(name, files, overrides, id=name, marks=marks)


@pytest.mark.parametrize("reader", ["compiled", "python"])
@pytest.mark.parametrize(("name", "files", "overrides"), list(_params()))
def test_scan_findings_unchanged(name, files, overrides, reader, monkeypatch):
    """The same findings whether read_elements takes its compiled element path (the default
    where `_mrt_accel` is built) or the pure-Python decoders (SENTINELLE_MRT_ACCEL=0)."""
    pytest.importorskip("sentinelle.observatory.routing.mrt")
    from sentinelle.observatory.routing import mrt_accel

    if reader == "compiled" and not mrt_accel.available():
        pytest.skip("the compiled MRT reader is not built here")
    monkeypatch.setenv(mrt_accel.ENV, "1" if reader == "compiled" else "0")
    got = run_scan(files, overrides)
    want = _expected(name)
    assert got["stats"] == want["stats"]
    assert len(got["alerts"]) == len(want["alerts"])
    for mine, theirs in zip(got["alerts"], want["alerts"], strict=True):
        assert mine == theirs
    assert want["alerts"], "the configuration finds nothing here: the test would prove little"


@pytest.mark.parametrize("name", ["rrc15-updates", "fixtures-mixed"])
def test_scan_element_by_element_unchanged(name):
    """`Scanner.feed` (one call per element, what the live paths use) gives the same."""
    pytest.importorskip("sentinelle.observatory.routing.mrt")
    files, overrides, _ = CASES[name]
    if not all(p.exists() for p in files):
        pytest.skip("../shared/data absent")
    assert run_scan(files, overrides, one_by_one=True) == _expected(name)


def test_expected_outputs_cover_every_detector():
    """The frozen outputs exercise each alert type the scanner has, so a detector that stopped
    firing (or fired on new elements) cannot pass unnoticed."""
    seen: set[str] = set()
    for name in CASES:
        seen |= {a["type"] for a in _expected(name)["alerts"]}
    assert {"E|0", "S|0", "E|1", "S|1", "S|-", "rpki-invalid", "route-leak",
            "visibility-loss"} <= seen


# ----------------------------------------------------------------- the fast paths, old vs new

ODD_PREFIXES = ["", "/", "1.2.3.4", "1.2.3.4/", "010.0.0.0/8", "1.2.3/24", "0x1.2.3.4/8",
                "1.2.3.4/024", "1.2.3.4/+24", " 1.2.3.4/24", "1.2.3.4/24 ", "1.2.3.4/33",
                "1.2.3.4/255.255.0.0", "1.2.3.4/0.0.255.255", "256.1.1.1/8", "1.2.3.4\x00/8",
                "2001:DB8::/32", "2001:db8:0::/32", "::ffff:1.2.3.4/128", "::ffff:1.2.3.4/96",
                "fe80::1%eth0/64", "::/0", "0.0.0.0/0", "2001:db8::/129", "1.2.3.4/٣", "١.2.3.4/8",
                "190.6.65.1/24", "2001:db8:cc10::1/44", "1.2.3.4/32/1", "1.2.3.4 /8"]


def _reference(text: str):
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    return network.version, int(network.network_address), network.prefixlen


def test_parse_prefix_fast_agrees_with_ipaddress():
    rng = random.Random(17)
    texts = list(ODD_PREFIXES)
    for _ in range(3000):
        if rng.random() < 0.5:
            address = str(ipaddress.IPv4Address(rng.getrandbits(32)))
            length = rng.randint(0, 34)
        else:
            address = str(ipaddress.IPv6Address(rng.getrandbits(128) >> rng.randint(0, 128)))
            length = rng.randint(0, 130)
        texts.append(f"{address}/{length}")
        texts.append(f"{address.upper()}/{length:02d}")
    for text in texts:
        assert parse_prefix_fast(text) == _reference(text), text


@pytest.mark.parametrize("expansion", [prefixes.MAX_EXPANSION, 40])
def test_prefix_index_lookup_and_covering_agree_with_a_plain_scan(monkeypatch, expansion):
    """Blocks (and coarser blocks when short prefixes would need too many copies) give the
    covering prefixes of a plain scan over every entry, in the same order."""
    monkeypatch.setattr(prefixes, "MAX_EXPANSION", expansion)
    rng = random.Random(5)
    index: PrefixIndex[int] = PrefixIndex()
    stored = []
    for number in range(160):
        version = 4 if number % 4 else 6
        bits = 32 if version == 4 else 128
        length = rng.choice([0, 3, 8, 12, 15, 16, 17, 20, 24, 24, 32] if version == 4
                            else [16, 29, 32, 33, 48, 64, 128])
        base = rng.choice([0x0A000000, 0xBE064000, rng.getrandbits(32)]) if version == 4 \
            else rng.choice([0x20010DB8 << 96, rng.getrandbits(128)])
        network = ipaddress.ip_network((base, bits), strict=False).supernet(
            new_prefix=length)
        index.add(network, number)
        stored.append((network, number))
        if number % 40 == 0:  # queries between adds: the blocks are rebuilt after an add
            index.lookup(version, base, bits)
    queries = [ipaddress.ip_network((net.network_address + rng.randint(0, 300), plen),
                                    strict=False)
               for net, _ in stored for plen in (net.prefixlen, min(net.max_prefixlen,
                                                                    net.prefixlen + 5))]
    queries += [ipaddress.ip_network("10.0.0.0/14"), ipaddress.ip_network("0.0.0.0/0")]
    for query in queries:
        plain = sorted(((net.prefixlen, order) for order, (net, _) in enumerate(stored)
                        if net.version == query.version and query.subnet_of(net)))
        want = [stored[order][1] for _, order in plain]
        assert [value for _, value in index.covering(query)] == want, query
        assert index.lookup(query.version, int(query.network_address),
                            query.prefixlen) == want, query


def test_compiled_v4_prefix_parser_accepts_what_the_python_test_accepts():
    """feed_all's fast path reads prefix text with `_mrt_accel.v4_prefix_code` when it is
    built: the same texts accepted (with the same address and length) as its Python test."""
    from sentinelle.observatory.routing import mrt_accel

    if not mrt_accel.available():
        pytest.skip("the compiled MRT reader is not built here")
    code = mrt_accel._mrt_accel.v4_prefix_code
    rng = random.Random(11)
    texts = list(ODD_PREFIXES) + ["0.0.0.0/0", "255.255.255.255/32", "1.2.3.4/03",
                                  "1.2.3.256/8", "1.2.3.4.5/8", "1.2.3.4//8", "1.2.3.4/8\n",
                                  "1.2.3.4/-1", "1.2.3.4/100", "1.02.3.4/8", "1.2.3.4/٣"]
    for _ in range(4000):
        octets = [rng.choice([0, 1, 9, 10, 99, 100, 255, 256, rng.randint(0, 999)])
                  for _ in range(4)]
        text = ".".join(map(str, octets)) + f"/{rng.choice([0, 8, 16, 24, 32, 33, 99])}"
        if rng.random() < 0.3:
            i = rng.randrange(len(text))
            text = text[:i] + rng.choice("0./a: 5") + text[i + 1:]
        texts.append(text)
    accepted = 0
    for text in texts:
        assert code(text) == v4_prefix_code_py(text), text
        accepted += code(text) >= 0
    assert 500 < accepted < len(texts) - 500  # both outcomes, many times
    assert code("190.6.64.0/19") == (0xBE064000 << 6) | 19
    assert code(None) == code(b"1.2.3.4/8") == -1


@pytest.mark.parametrize("reader", ["compiled", "python"])
def test_feed_all_equals_feed_on_synthetic_routes(reader, monkeypatch):
    """RIB runs from two collectors, updates across buckets, peers reaching full feed,
    withdrawals, State origins, odd prefix texts (an empty one once took the fast path)."""
    watch = loads("states:\n  CU:\n    asns: [27725]\n    prefixes:\n"
                  "      - prefix: 190.6.64.0/19\n        max_length: 24\n"
                  "      - 2001:db8:cc00::/40\n  SY:\n    asns: [29256]\n"
                  "    prefixes: [5.0.0.0/16]\n", "w.yaml")
    rng = random.Random(3)
    elements = []
    t = 1_700_000_000
    for phase, kind in enumerate("BBAAAWBA"):
        collector = "rrc00" if phase % 2 else "rrc01"
        for _ in range(400):
            t += rng.choice([0, 0, 1, 2, 40])
            prefix = rng.choice(["190.6.64.0/19", "190.6.70.0/24", "5.0.1.0/24", "9.9.9.0/24",
                                 "10.0.0.0/8", "2001:db8:cc10::/44", "", "1.2.3/24",
                                 f"{rng.randint(11, 200)}.{rng.randint(0, 255)}.0.0/16",
                                 f"{rng.randint(11, 200)}.{rng.randint(0, 255)}.1.0/24"])
            origin = rng.choice([666, 27725, 29256, 3356, frozenset({1, 2})])
            peer = rng.choice([("192.0.2.1", 3356), ("192.0.2.2", 174), ("2001:db8::1", 6939)])
            path = rng.choice([(peer[1], 174, origin), (peer[1], origin), ()])
            elements.append(Element(kind, t, peer[0], peer[1], prefix, path, collector))
    options = {"full_feed_v4": 30, "full_feed_v6": 5, "visibility_bucket": 60}
    from sentinelle.observatory.routing import mrt_accel

    monkeypatch.setenv(mrt_accel.ENV, "1" if reader == "compiled" else "0")
    if reader == "compiled" and not mrt_accel.available():
        pytest.skip("the compiled MRT reader is not built here")

    def run(one_by_one: bool):
        scanner = Scanner(watch, load_vrps(VRPS), None, ScanOptions(**options))
        if one_by_one:
            for element in elements:
                scanner.feed(element)
        else:
            assert scanner.feed_all(iter(elements)) == len(elements)
        return [a.to_dict() for a in scanner.finish()], scanner.stats.to_dict()

    old, new = run(True), run(False)
    assert old == new
    assert old[1]["bad_prefix"] > 0 and old[1]["visibility_evaluations"] > 1
    assert {a["type"] for a in old[0]} >= {"E|0", "S|0", "rpki-invalid"}


def test_hand_made_path_with_a_list_hop_still_scans():
    """A hop given as a list (not hashable) is scanned as before: a list origin of an
    unwatched prefix is no State's, and a list hop inside the path skips the leak check's
    triples (the check is computed, not remembered)."""
    watch = loads("states:\n  CU:\n    asns: [27725]\n    prefixes: [190.6.64.0/19]\n")
    rels = ASRelationships.parse(["3356|174|-1", "174|27725|-1"])
    routes = [Element("A", 1_700_000_000, "192.0.2.1", 3356, "9.9.9.0/24",
                      (3356, 174, [666, 667]), "rrc00"),  # type: ignore[arg-type]
              Element("A", 1_700_000_000, "192.0.2.1", 3356, "190.6.64.0/19",
                      (3356, [174, 175], 27725), "rrc00")]  # type: ignore[arg-type]
    for one_by_one in (True, False):
        scanner = Scanner(watch, None, rels, ScanOptions(visibility=False))
        if one_by_one:
            for route in routes:
                scanner.feed(route)
        else:
            scanner.feed_all(routes)
        assert scanner.stats.matched == 1
        assert scanner.finish() == []


def _freeze() -> None:
    EXPECTED.mkdir(parents=True, exist_ok=True)
    for name, (files, overrides, _) in CASES.items():
        result = run_scan(files, overrides)
        data = json.dumps(result, sort_keys=True, indent=0).encode()
        with gzip.GzipFile(EXPECTED / f"{name}.json.gz", "wb", mtime=0) as f:
            f.write(data)
        types: dict[str, int] = {}
        for a in result["alerts"]:
            types[a["type"]] = types.get(a["type"], 0) + 1
        print(name, len(result["alerts"]), types)


if __name__ == "__main__":
    if sys.argv[1:] == ["--freeze"]:
        _freeze()
