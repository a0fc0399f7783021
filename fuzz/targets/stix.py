"""STIX 2.1 bundles, as uploaded for import (exchange/formats/stix.py)."""

import json

from fuzz.harness import Target
from fuzz.targets._exchange import REFUSALS, run_format


def run(data: bytes) -> None:
    run_format("stix", data, "upload.json")


def _distinct(size: int) -> str:
    parts = [f"[url:value = 'http://h{n:x}.example/']" for n in range(size // 40)]
    return " OR ".join(parts)


# Patterns of 200k characters (the cap is 262,144; the last is over it) in the shapes that
# made reading quadratic or that a backtracking expression fears (issue 20): thousands of
# distinct values, words, paths and strings that never complete a comparison.
HOSTILE_PATTERNS = {
    "distinct-values": _distinct(200_000),
    "one-long-word": "a" * 200_000,
    "path-without-equals": "a:" + "b" * 200_000,
    "unterminated-string": "[a:b = '" + "c:d " * 50_000,
    "escapes-then-newline": ("[a:b = '" + "\\x" * 8 + "\\\n") * 7_000,
    "spaces-before-no-equals": ("a:b" + " " * 50) * 3_800,
    "comparisons-without-values": "a:b=" * 50_000,
    "brackets-and-quotes": "a:" + "['" * 100_000,
    "over-the-cap": "[ipv4-addr:value = '10.0.0.1'] OR " * 8_000,
}


def hostile_bundles() -> list[bytes]:
    """One indicator per hostile pattern, each in its own bundle."""
    return [json.dumps({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d",
                        "objects": [{
                            "type": "indicator", "spec_version": "2.1",
                            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
                            "name": name, "created": "2016-04-06T20:03:48.000Z",
                            "modified": "2016-04-06T20:03:48.000Z", "pattern": pattern,
                            "pattern_type": "stix", "valid_from": "2016-01-01T00:00:00Z"}]}
                       ).encode() for name, pattern in HOSTILE_PATTERNS.items()]


TARGET = Target(
    name="stix",
    seeds=("tests/fixtures/stix21/**/*.json",),
    run=run,
    refusals=REFUSALS,
    kind="json",
    generated=hostile_bundles,
)
