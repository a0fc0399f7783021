"""The indicator fast check (formats/stix_fastcheck.py) may only ever say "valid" for an object
the OASIS schema accepts, and schema_error must give exactly the verdict, path and reason it
gave before the fast check existed: on the fixtures and on mutations of every property."""

import json

import pytest

from sentinelle.exchange.formats import stix_common
from sentinelle.exchange.formats.stix_fastcheck import _patterns, indicator_valid
from tests.paths import FIXTURES_DIR

FIXTURES = FIXTURES_DIR / "stix21"
UUID = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"
BASE = {
    "type": "indicator", "spec_version": "2.1", "id": f"indicator--{UUID}",
    "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-02T10:11:12.345678Z",
    "name": "Botnet C2", "description": "seen in the wild",
    "pattern": "[ipv4-addr:value = '10.0.0.1']", "pattern_type": "stix",
    "pattern_version": "2.1", "valid_from": "2026-01-01T00:00:00Z",
    "valid_until": "2027-01-01T00:00:00.5Z", "labels": ["botnet"],
    "indicator_types": ["malicious-activity"], "lang": "en", "revoked": False,
    "confidence": 80, "created_by_ref": f"identity--{UUID}",
    "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
    "x_opencti_score": 50,
}
# Odd values tried in every property: other JSON types, empty containers, near-miss formats
# (a trailing newline, which `$` lets through in Python; non-ASCII digits, which `\d` takes;
# a uuid of version 6; upper-case hex).
ODD = [None, "", " ", [], [1], ["x"], ["x", 2], 0, 5, 101, -1, 5.0, 1.5, True, False, {},
       {"a": 1}, "yesterday", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000Z",
       "2026-01-01T00:00:00.000Z\n", "2026-13-01T00:00:00.000Z", "2026-01-01T00:00:00.00Z",
       "2026-01-01T24:00:00.000Z", "2026-01-01t00:00:00.000z",
       "2026-01-01T00:00:00.\u0661\u0662\u0663Z", "\u0662026-01-01T00:00:00.000Z",
       f"indicator--{UUID}", f"indicator--{UUID}\n", f"indicator--{UUID.upper()}",
       f"indicator--{UUID[:14]}6{UUID[15:]}", f"identity--{UUID}", f"Indicator--{UUID}",
       "indicator--nope", "indicator", "2.1", "2.0", "2.2",
       ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
       [f"identity--{UUID}\n"], ["marking-definition--nope"]]
CUSTOM_KEYS = ["x_custom", "x_foo_bin", "x_foo_hex", "ab", "Abc", "x-dash", "aid", "_x", "id2",
               "severity", "action", "username", "phone_numbers", "external_references",
               "kill_chain_phases", "granular_markings", "extensions", "x" * 251, "x\u00e9y"]


def reference(obj):
    """schema_error as it was before the fast check: fastjsonschema, then jsonschema."""
    stix_type = obj.get("type")
    if not isinstance(stix_type, str):
        return ".type", "'type' is missing"
    fast = stix_common._fast_validator(stix_type)
    if fast is not None:
        try:
            fast(obj)
            return None
        except Exception:  # noqa: BLE001 - any failure: jsonschema explains
            pass
    validator = stix_common._validator(stix_type) or stix_common._validator_core(stix_type)
    if validator is None:
        return None
    error = stix_common.best_match(validator.iter_errors(obj), key=stix_common._relevance)
    return None if error is None else (stix_common._path(error), stix_common._reason(error))


def fixture_indicators():
    for path in sorted(FIXTURES.rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        items = document.get("objects", []) if isinstance(document, dict) else document
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") == "indicator":
                yield item


def mutations():
    yield BASE
    for key in BASE:
        yield {k: v for k, v in BASE.items() if k != key}
        for value in ODD:
            yield {**BASE, key: value}
    for key in CUSTOM_KEYS:
        for value in ("text", 3, 2.5, True, {"a": 1}, {}, [], ["a"], None):
            yield {**BASE, key: value}


CASES = [*fixture_indicators(), *mutations()]


def test_patterns_are_the_schemas():
    identifier, timestamp, millis, names = _patterns()
    assert identifier.pattern.startswith("^[a-z][a-z0-9-]+[a-z0-9]--")
    assert timestamp.pattern.startswith("^[0-9]{4}-") and millis.pattern.endswith("Z$")
    assert [p.pattern[-5:] for p in names[:2]] == ["_bin$", "_hex$"]


def test_common_shapes_take_the_fast_path():
    fixtures = [obj for obj in fixture_indicators()
                if not {"external_references", "kill_chain_phases", "granular_markings"} & set(obj)]
    assert fixtures and all(indicator_valid(obj) for obj in fixtures)
    assert indicator_valid(BASE)
    minimal = {k: BASE[k] for k in ("type", "spec_version", "id", "created", "modified",
                                    "pattern", "pattern_type", "valid_from")}
    assert indicator_valid(minimal)


def test_fast_valid_only_when_the_schema_says_valid():
    validator = stix_common._validator("indicator")
    accepted = rejected = 0
    for obj in CASES:
        if indicator_valid(obj):
            accepted += 1
            assert validator.is_valid(obj), obj
        elif not validator.is_valid(obj):
            rejected += 1
    assert accepted > 100 and rejected > 300   # both sides are really exercised


@pytest.mark.parametrize("chunk", range(4))
def test_schema_error_unchanged(chunk):
    for obj in CASES[chunk::4]:
        assert stix_common.schema_error(obj) == reference(obj), obj
