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
import json
import sys
from pathlib import Path

import pytest

from sentinelle.observatory.routing import cli
from sentinelle.observatory.routing.asrel import ASRelationships
from sentinelle.observatory.routing.rpki import load_vrps
from sentinelle.observatory.routing.scan import Scanner, ScanOptions
from sentinelle.observatory.routing.watchlist import load

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
        collector = cli._collector_from_path(path)
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


@pytest.mark.parametrize(("name", "files", "overrides"), list(_params()))
def test_scan_findings_unchanged(name, files, overrides):
    pytest.importorskip("sentinelle.observatory.routing.mrt")
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
