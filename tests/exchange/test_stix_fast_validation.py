"""The compiled schema check must agree with jsonschema on every example of the types it
handles, valid or not: it decides alone for valid objects."""

import json

import pytest

from sentinelle.exchange.formats import stix_common
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stix21"


def objects():
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        items = document.get("objects", []) if isinstance(document, dict) else document
        if isinstance(items, list):
            for item in items:
                if isinstance(item, dict) and isinstance(item.get("type"), str):
                    yield path.name, item


def broken_variants():
    good = {"type": "indicator", "spec_version": "2.1",
            "id": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "pattern": "[ipv4-addr:value = '1.2.3.4']", "pattern_type": "stix",
            "valid_from": "2026-01-01T00:00:00Z"}
    yield "good", good
    yield "bad date", {**good, "created": "yesterday"}
    yield "bad id", {**good, "id": "indicator--nope"}
    yield "no pattern", {k: v for k, v in good.items() if k != "pattern"}
    yield "wrong type", {**good, "valid_from": 12}


CASES = [(where, obj) for where, obj in [*objects(), *broken_variants()]
         if obj["type"] in stix_common.FAST_TYPES]


@pytest.mark.parametrize("where, obj", CASES, ids=[f"{w}-{i}" for i, (w, _o) in
                                                     enumerate(CASES)])
def test_fast_check_agrees_with_jsonschema(where, obj):
    fast = stix_common._fast_validator(obj["type"])
    slow = stix_common._validator(obj["type"])
    assert fast is not None and slow is not None
    try:
        fast(obj)
        fast_ok = True
    except Exception:
        fast_ok = False
    assert fast_ok == slow.is_valid(obj)
