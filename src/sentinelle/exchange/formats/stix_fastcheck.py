"""A proof of validity for the common shape of a STIX 2.1 indicator, without the schema engine.

Feeds are hundreds of thousands of indicators that all look alike, and even the compiled
(fastjsonschema) check of the OASIS schema cost ~45 µs each (issue 17: half of the parse).
`indicator_valid` answers True only for an indicator it can prove the schema accepts (the
indicator schema, core.json, properties.json, with the schemas' own regular expressions, read
from the shipped files and applied with re.search as jsonschema does); for anything else,
including every invalid object, it answers False and the schema engine decides as before, so
rejections and their messages do not change. tests/exchange/test_stix_fastcheck.py checks it against
jsonschema on the fixtures and on mutations of every property.

Plain Python (no Django), like every parser.
"""

from __future__ import annotations

import re
from collections.abc import Callable
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
_REQUIRED = frozenset({"type", "spec_version", "id", "created", "modified", "pattern",
                       "pattern_type", "valid_from"})
_STRINGS = frozenset({"name", "description", "pattern", "pattern_type", "pattern_version",
                      "lang"})
_STRING_LISTS = frozenset({"labels", "indicator_types"})


def indicator_valid(obj: dict[str, Any]) -> bool:
    """True only if the OASIS schema accepts this indicator; False means "ask the schema"."""
    checks = _checks()
    if not obj.keys() >= _REQUIRED:
        return False
    for key, value in obj.items():
        if value is None:
            return False   # no property of any type accepts null (properties.json)
        check = checks.get(key)
        if not (check(value) if check is not None else _custom(key, value, _patterns()[3])):
            return False
    return True


@cache
def _checks() -> dict[str, Callable[[Any], bool]]:
    """Property -> its check, one call per property instead of a chain of comparisons
    (issue 17: the chain was most of the check's time)."""
    identifier, timestamp, millis, _names = _patterns()
    id_search, ts_search, millis_search = identifier.search, timestamp.search, millis.search
    # The identifier's uuid part after the type this check requires: "indicator--" and it
    # match only what the identifier pattern matches (stricter is safe: False asks the
    # schema), without its backtracking over the type (a third of the check's time).
    _type, uuid_part = identifier.pattern.split("--", 1)
    own_id = re.compile("indicator--" + uuid_part).match
    known_refs: dict[str, bool] = {}   # marking ids seen: a feed repeats the same few

    def string(value: Any) -> bool:
        return isinstance(value, str)

    def string_list(value: Any) -> bool:
        return isinstance(value, list) and bool(value) \
            and all(isinstance(item, str) for item in value)

    def ref(item: Any) -> bool:
        if not isinstance(item, str):
            return False
        known = known_refs.get(item)
        if known is None:
            known = id_search(item) is not None
            if len(known_refs) < _MAX_KNOWN_REFS:
                known_refs[item] = known
        return known

    checks: dict[str, Callable[[Any], bool]] = dict.fromkeys(_STRINGS, string)
    checks.update(dict.fromkeys(_STRING_LISTS, string_list))
    checks.update({
        "type": lambda v: v == "indicator" and isinstance(v, str),
        "spec_version": lambda v: isinstance(v, str) and v in ("2.0", "2.1"),
        "id": lambda v: isinstance(v, str) and own_id(v) is not None,
        "created": lambda v: isinstance(v, str) and ts_search(v) is not None
        and millis_search(v) is not None,
        "valid_from": lambda v: isinstance(v, str) and ts_search(v) is not None,
        "object_marking_refs": lambda v: isinstance(v, list) and bool(v)
        and all(ref(item) for item in v),
        "created_by_ref": ref,
        "revoked": lambda v: isinstance(v, bool),
        "confidence": lambda v: type(v) is int and 0 <= v <= 100,
    })
    checks["modified"], checks["valid_until"] = checks["created"], checks["valid_from"]
    return checks


# The memo of marking ids stops growing here: a hostile feed of distinct ids costs a regular
# expression each, as before, and no memory.
_MAX_KNOWN_REFS = 1024


def _custom(key: str, value: Any, names: tuple[re.Pattern, ...]) -> bool:
    binary, hexadecimal, other = names
    if key in _DEFER or binary.search(key) or hexadecimal.search(key):
        return False
    if other.search(key) is None:
        return False
    if isinstance(value, list):
        return bool(value)
    return isinstance(value, str | int | float | bool | dict)
