"""What the STIX parser, the STIX exporter and the TAXII server share: the TLP marking ids, the
OASIS schema validator, and the mapping between STIX patterns/SCOs and Sentinelle indicators.

Plain Python (no Django) so that it runs and fuzzes alone, like every parser.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource

# --- TLP -------------------------------------------------------------------------------------

# TLP 2.0 marking definitions as published by the OASIS CTI TC (cti-stix-common-objects,
# extension-definition-specifications/tlp-2.0): consumers recognise them by id, so the ids and
# "created" are fixed, never generated.
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
TLP2_IDS: dict[str, str] = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
# TLP 1.0 markings predefined by STIX 2.1 itself (section 7.2.1.4); WHITE is today's CLEAR.
TLP1_IDS: dict[str, str] = {
    "clear": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
    "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
    "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed",
}
TLP_BY_MARKING_ID: dict[str, str] = {
    **{v: k for k, v in TLP1_IDS.items()}, **{v: k for k, v in TLP2_IDS.items()}}
# The most restrictive marking wins when an object carries several.
TLP_ORDER = ("clear", "green", "amber", "amber+strict", "red")


def tlp2_marking(level: str) -> dict[str, Any]:
    """The official TLP 2.0 marking-definition object for a level, exactly as published."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[level],
        "created": TLP2_CREATED,
        "name": f"TLP:{level.upper()}",
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension",
                                           "tlp_2_0": level}},
    }


def tlp_of_marking(obj: dict[str, Any]) -> str | None:
    """The TLP a marking-definition object expresses, whatever its vintage, or None."""
    oid = obj.get("id")
    if isinstance(oid, str) and oid in TLP_BY_MARKING_ID:
        return TLP_BY_MARKING_ID[oid]
    # Every level below may be any JSON value in hostile input: read dicts as dicts only.
    extensions = obj.get("extensions")
    ext = extensions.get(TLP2_EXTENSION_ID) if isinstance(extensions, dict) else None
    level = str(ext.get("tlp_2_0", "")).lower() if isinstance(ext, dict) else ""
    if level in TLP_ORDER:
        return level
    if obj.get("definition_type") == "tlp":
        definition = obj.get("definition")
        level = str(definition.get("tlp", "") if isinstance(definition, dict) else "").lower()
        level = "clear" if level == "white" else level
        if level in TLP_ORDER:
            return level
    return None


def strictest(levels: list[str]) -> str | None:
    known = [lv for lv in levels if lv in TLP_ORDER]
    return max(known, key=TLP_ORDER.index) if known else None


# --- schemas ---------------------------------------------------------------------------------

_SCHEMA_BASE = "http://raw.githubusercontent.com/oasis-open/cti-stix2-json-schemas/stix2.1/schemas/"
_SCHEMA_DIRS = ("common", "sdos", "sros", "observables")
# Types whose schema lives in common/ rather than in a folder named after their kind.
_COMMON_TYPES = {"marking-definition", "language-content", "extension-definition", "bundle"}


@cache
def _registry() -> tuple[Registry, dict[str, str]]:
    """Every OASIS schema shipped in exchange/data/stix21, addressed by its own $id, so that
    their relative $refs resolve offline."""
    root = resources.files("sentinelle.exchange") / "data" / "stix21"
    resources_, by_type = [], {}
    for folder in _SCHEMA_DIRS:
        for entry in (root / folder).iterdir():
            if not entry.name.endswith(".json"):
                continue
            schema = json.loads(entry.read_text(encoding="utf-8"))
            resources_.append((schema["$id"], Resource.from_contents(schema)))
            stem = entry.name[:-5]
            if folder != "common" or stem in _COMMON_TYPES:
                by_type[stem] = schema["$id"]
    return Registry().with_resources(resources_), by_type


@cache
def _validator(stix_type: str) -> Draft202012Validator | None:
    registry, by_type = _registry()
    schema_id = by_type.get(stix_type)
    if schema_id is None:
        return None
    schema = registry.contents(schema_id)
    return Draft202012Validator(schema, registry=registry)


def known_type(stix_type: str) -> bool:
    return isinstance(stix_type, str) and stix_type in _registry()[1]


_SCO_SCHEMAS = {p.name[:-5] for p in (resources.files("sentinelle.exchange") / "data" / "stix21"
                                      / "observables").iterdir() if p.name.endswith(".json")}


def is_sco_type(stix_type: Any) -> bool:
    """Cyber-observables may omit spec_version in STIX 2.1; other objects may not."""
    return isinstance(stix_type, str) and stix_type in _SCO_SCHEMAS


def schema_error(obj: Any) -> tuple[str, str] | None:
    """(relative JSON path, reason) of the most relevant schema violation of one STIX object,
    or None when it is valid. Custom types (x-…) have no schema and only get the core checks."""
    if not isinstance(obj, dict):
        return "", "not a JSON object"
    stix_type = obj.get("type")
    if not isinstance(stix_type, str):
        return ".type", "'type' is missing"
    if stix_type == "indicator":
        pattern = obj.get("pattern")
        if isinstance(pattern, str) and len(pattern) > MAX_PATTERN_CHARS:
            return ".pattern", str(PatternTooLong(len(pattern)))
        # Most of a feed: proven valid without the schema engine, else checked as below.
        from sentinelle.exchange.formats.stix_fastcheck import indicator_valid

        if indicator_valid(obj):
            return None
    fast = _fast_validator(stix_type)
    if fast is not None:
        try:
            fast(obj)
            return None
        except fastjsonschema.JsonSchemaException:
            pass  # invalid: let jsonschema find the most telling error and its path
    validator = _validator(stix_type) or _validator_core(stix_type)
    if validator is None:
        return None
    error = best_match(validator.iter_errors(obj), key=_relevance)
    if error is None:
        return None
    return _path(error), _reason(error)


# The bulk of a feed. fastjsonschema does not implement every draft 2020-12 detail the other
# schemas use, so only these types, whose verdicts tests/exchange/test_stix_fast_validation.py
# checks against jsonschema, take the fast path.
FAST_TYPES = frozenset({"indicator", "relationship", "identity", "marking-definition"})


@cache
def _fast_validator(stix_type: str):
    """A compiled (fastjsonschema) check of the same schema: ~25 times faster for the valid
    objects that make up nearly all of a feed. None when the schema does not compile."""
    registry, by_type = _registry()
    schema_id = by_type.get(stix_type)
    if schema_id is None or stix_type not in FAST_TYPES:
        return None

    def load(uri: str) -> dict:
        return registry.contents(uri)

    try:
        return fastjsonschema.compile(registry.contents(schema_id),
                                      handlers={"http": load, "https": load})
    except (fastjsonschema.JsonSchemaDefinitionException, re.error):
        return None


@cache
def _validator_core(stix_type: str) -> Draft202012Validator | None:
    if not stix_type.startswith("x-"):
        return None
    registry, _by_type = _registry()
    return Draft202012Validator(registry.contents(_SCHEMA_BASE + "common/core.json"),
                                registry=registry)


def _relevance(error: ValidationError):
    # Prefer the deepest error: "payload_bin does not match" says more than "oneOf failed".
    return (-len(error.absolute_path), error.validator not in ("oneOf", "anyOf", "allOf"))


def _path(error: ValidationError) -> str:
    # Within a oneOf/allOf the deepest sub-error names the property that failed.
    while error.context:
        deeper = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deeper.absolute_path) <= len(error.absolute_path):
            break
        error = deeper
    parts = []
    for item in error.absolute_path:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}")
    return "".join(parts)


def _reason(error: ValidationError) -> str:
    message = error.message
    return message if len(message) <= 300 else message[:297] + "…"


# --- indicators ------------------------------------------------------------------------------

# One equality comparison of a STIX pattern: [object-type:path = 'value']. Only literal
# equality maps to a Sentinelle indicator; MATCHES, LIKE, ranges and the rest describe classes
# of values, which a type/value pair cannot hold.
# The look-behind starts a match only at the beginning of a word: without it a long word is
# retried from each of its letters, quadratic (65,000 letters took 20 s; fuzz corpus).
# Every quantifier is possessive (*+, ++): none can give back a character, so a failed attempt
# never backtracks, and the classes make that lossless (a path cannot end on a space or "=",
# a string body cannot stop just before a closing quote). Attempts start only at word
# beginnings and cannot overlap a failed string, so finditer reads each character a bounded
# number of times: linear (issue 20; tests/exchange/test_stix_pattern_linear.py).
_COMPARISON = re.compile(
    r"(?<![a-z0-9-])(?P<obj>[a-z0-9-]++):(?P<path>[A-Za-z0-9_.'*\[\]-]++)\s*+=\s*+"
    r"(?:'(?P<str>(?:[^'\\]|\\.)*+)'|(?P<int>\d++))")

# A pattern longer than this is refused, not read: no feed writes one (a thousand values ORed
# together are ~40,000 characters), and it bounds what one indicator may cost.
MAX_PATTERN_CHARS = 262_144


class PatternTooLong(ValueError):
    """A STIX pattern over MAX_PATTERN_CHARS characters."""

    def __init__(self, length: int) -> None:
        super().__init__(f"the pattern is {length:,} characters long; at most "
                         f"{MAX_PATTERN_CHARS:,} are read")

SHA256_KEYS = ("SHA-256", "SHA256", "sha256", "sha-256")


def _ip_kind(value: str, default: str) -> tuple[str, str]:
    if "/" in value:
        addr, bits = value.rsplit("/", 1)
        if (default == "ipv4" and bits == "32") or (default == "ipv6" and bits == "128"):
            return default, addr
        return "prefix", value
    return default, value


def map_comparison(obj: str, path: str, value: str) -> tuple[str, str] | None:
    """A pattern comparison as a Sentinelle (type, value), or None when it has no equivalent."""
    if obj == "ipv4-addr" and path == "value":
        return _ip_kind(value, "ipv4")
    if obj == "ipv6-addr" and path == "value":
        return _ip_kind(value, "ipv6")
    if obj == "domain-name" and path == "value":
        return "domain", value
    if obj == "url" and path == "value":
        return "url", value
    if obj == "email-addr" and path == "value":
        return "email", value
    if obj == "email-message" and path in ("from_ref.value", "sender_ref.value"):
        return "email", value
    if obj == "autonomous-system" and path == "number":
        # An ASN has at most 10 digits; 5,000 of them would not even convert to an int.
        return ("asn", f"AS{value}") if len(value) <= 10 else None
    if obj == "file" and path.replace("'", "") in {f"hashes.{k}" for k in SHA256_KEYS}:
        return "sha256", value.lower()
    if obj == "network-traffic" and path in ("dst_ref.value", "src_ref.value"):
        return _ip_kind(value, "ipv6" if ":" in value else "ipv4")
    return None


# The common pattern of a feed, one comparison of a `value` with a plain quoted string
# ("[ipv4-addr:value = '10.0.0.1']"): _COMPARISON finds exactly this one match in it, whose
# string needs no unescaping. pattern_indicators answers it without finditer (issue 17;
# tests/exchange/test_import_copy.py compares both on many patterns).
_PLAIN_VALUE = re.compile(r"\[([a-z0-9-]+):value = '([^'\\]*)'\]")


def pattern_indicators(pattern: str) -> list[tuple[str, str]]:
    """Every (type, value) a STIX pattern names by literal equality, in order, without repeats.
    Raises PatternTooLong over MAX_PATTERN_CHARS characters."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternTooLong(len(pattern))
    plain = _PLAIN_VALUE.fullmatch(pattern)
    if plain is not None:
        mapped = map_comparison(plain.group(1), "value", plain.group(2))
        return [mapped] if mapped is not None else []
    return _pattern_indicators(pattern)


def _pattern_indicators(pattern: str) -> list[tuple[str, str]]:
    # A dict keeps the first-seen order and answers "seen?" in O(1): a list's "in" made a
    # pattern of 9,000 distinct values cost 2 s (quadratic; issue 20).
    found: dict[tuple[str, str], None] = {}
    for match in _COMPARISON.finditer(pattern):
        raw = match.group("str")
        if raw is None:
            value = match.group("int")
        else:   # unescape only when there is something to unescape
            value = re.sub(r"\\(.)", r"\1", raw) if "\\" in raw else raw
        mapped = map_comparison(match.group("obj"), match.group("path"), value)
        if mapped is not None:
            found.setdefault(mapped)
    return list(found)


def sco_indicator(obj: dict[str, Any]) -> tuple[str, str] | None:
    """A cyber-observable object (SCO) as a Sentinelle (type, value), or None."""
    kind = obj.get("type")
    if kind in ("ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"):
        value = obj.get("value")
        return map_comparison(kind, "value", value) if isinstance(value, str) else None
    if kind == "autonomous-system" and isinstance(obj.get("number"), int):
        return "asn", f"AS{obj['number']}"
    if kind == "file":
        hashes = obj.get("hashes") or {}
        for key in SHA256_KEYS:
            if isinstance(hashes.get(key), str):
                return "sha256", hashes[key].lower()
    return None


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def indicator_pattern(kind: str, value: str) -> str:
    """The STIX pattern for one Sentinelle indicator (the inverse of pattern_indicators)."""
    if kind == "asn":
        return f"[autonomous-system:number = {int(value.upper().removeprefix('AS'))}]"
    if kind == "sha256":
        return f"[file:hashes.'SHA-256' = '{_quote(value)}']"
    if kind == "prefix":
        obj = "ipv6-addr" if ":" in value else "ipv4-addr"
        return f"[{obj}:value = '{_quote(value)}']"
    obj = {"ipv4": "ipv4-addr", "ipv6": "ipv6-addr", "domain": "domain-name", "url": "url",
           "email": "email-addr"}[kind]
    return f"[{obj}:value = '{_quote(value)}']"


# Namespace of the ids Sentinelle derives (indicators of a report, SCO-born indicators): the
# same input gives the same id on every instance, so re-importing merges instead of copying.
SENTINELLE_NS = uuid.UUID("8d3c1f0e-5b7a-4c52-9a0e-53e17e11e000")


def derived_id(stix_type: str, *parts: str) -> str:
    return f"{stix_type}--{uuid.uuid5(SENTINELLE_NS, '|'.join(parts))}"


def report_indicator_id(incident_stix_id: str, kind: str, value: str) -> str:
    return derived_id("indicator", incident_stix_id, kind, value)


def iter_refs(obj: dict[str, Any], *keys: str) -> Iterator[str]:
    for key in keys:
        value = obj.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))
