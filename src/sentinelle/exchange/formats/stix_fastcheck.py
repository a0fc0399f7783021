"""A proof of validity for the common shape of a STIX 2.1 indicator, without the schema engine.

Feeds are hundreds of thousands of indicators that all look alike, and even the compiled
(fastjsonschema) check of the OASIS schema cost ~45 µs each (issue 17: half of the parse).
`indicator_valid` answers True only for an indicator it can prove the schema accepts (the
indicator schema, core.json, properties.json, with the schemas' own regular expressions, read
from the shipped files and applied with re.search as jsonschema does); for anything else,
including every invalid object, it answers False and the schema engine decides as before, so
rejections and their messages do not change. tests/test_stix_fastcheck.py checks it against
jsonschema on the fixtures and on mutations of every property.

Plain Python (no Django), like every parser.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from sentinelle.exchange.formats import stix_common as sc


@cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern, tuple[re.Pattern, ...]]:
    """identifier, timestamp, timestamp_millis and properties.json's three property-name
    patterns (…_bin, …_hex, the rest), taken from the schema files themselves."""
    registry, _by_type = sc._registry()
    base = sc._SCHEMA_BASE + "common/"
    identifier = registry.contents(base + "identifier.json")["pattern"]
    timestamp = registry.contents(base + "timestamp.json")["pattern"]
    created = registry.contents(base + "core.json")["properties"]["created"]["allOf"]
    millis = next(part["pattern"] for part in created if "pattern" in part)
    names = tuple(registry.contents(base + "properties.json")["patternProperties"])
    return (re.compile(identifier), re.compile(timestamp), re.compile(millis),
            tuple(re.compile(name) for name in names))


# Properties core.json or indicator.json define with a structure this check does not prove
# (objects, lists of objects) and the ones core.json forbids: left to the schema engine.
_DEFER = frozenset({"external_references", "granular_markings", "extensions",
                    "kill_chain_phases", "severity", "action", "username", "phone_numbers"})
_REQUIRED = ("type", "spec_version", "id", "created", "modified", "pattern", "pattern_type",
             "valid_from")
_STRINGS = frozenset({"name", "description", "pattern", "pattern_type", "pattern_version",
                      "lang"})
_STRING_LISTS = frozenset({"labels", "indicator_types"})


def indicator_valid(obj: dict[str, Any]) -> bool:
    """True only if the OASIS schema accepts this indicator; False means "ask the schema"."""
    identifier, timestamp, millis, names = _patterns()
    for key in _REQUIRED:
        if key not in obj:
            return False
    for key, value in obj.items():
        if value is None:
            return False   # no property of any type accepts null (properties.json)
        if key in _STRINGS:
            ok = isinstance(value, str)
        elif key == "type":
            ok = value == "indicator" and isinstance(value, str)
        elif key == "spec_version":
            ok = isinstance(value, str) and value in ("2.0", "2.1")
        elif key == "id":
            ok = isinstance(value, str) and value.startswith("indicator--") \
                and identifier.search(value) is not None
        elif key in ("created", "modified"):
            ok = isinstance(value, str) and timestamp.search(value) is not None \
                and millis.search(value) is not None
        elif key in ("valid_from", "valid_until"):
            ok = isinstance(value, str) and timestamp.search(value) is not None
        elif key in _STRING_LISTS:
            ok = isinstance(value, list) and bool(value) \
                and all(isinstance(item, str) for item in value)
        elif key == "object_marking_refs":
            ok = isinstance(value, list) and bool(value) and all(
                isinstance(item, str) and identifier.search(item) is not None
                for item in value)
        elif key == "created_by_ref":
            ok = isinstance(value, str) and identifier.search(value) is not None
        elif key == "revoked":
            ok = isinstance(value, bool)
        elif key == "confidence":
            ok = type(value) is int and 0 <= value <= 100
        else:   # a custom property: only properties.json's rules apply
            ok = _custom(key, value, names)
        if not ok:
            return False
    return True


def _custom(key: str, value: Any, names: tuple[re.Pattern, ...]) -> bool:
    binary, hexadecimal, other = names
    if key in _DEFER or binary.search(key) or hexadecimal.search(key):
        return False
    if other.search(key) is None:
        return False
    if isinstance(value, list):
        return bool(value)
    return isinstance(value, str | int | float | bool | dict)
