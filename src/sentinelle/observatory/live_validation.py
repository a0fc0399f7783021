"""Checking an event a State's live monitor posts (INTERFACE.md, part B's `platform:`
destination): every field of ``AlertEvent.to_dict()`` by type and range, with each problem
named by its field, so a bad event is refused whole (HTTP 400) before anything is written.

Plain Python, no database. Fields the platform does not know (a later monitor's additions, the
``*_iso`` copies) are ignored rather than refused: the event is rebuilt from the known ones.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.utils.translation import gettext as _

from sentinelle.observatory.routing.live.events import EVENT_KINDS, AlertEvent
from sentinelle.observatory.routing.prefixes import parse_prefix

__all__ = ["MAX_EVENT_BYTES", "EventInvalid", "ROUTING_EVENTS", "clean_event", "parse_event"]

MAX_EVENT_BYTES = 64 * 1024   # an event is a few hundred bytes; details of a mute a few more
MAX_DEPTH = 8                 # tags/details nesting
MAX_LIST = 1000               # collectors, origins...
MAX_TIME = 2**33              # unix seconds, year 2242: a bound that refuses garbage, not dates
ROUTING_EVENTS = ("raised", "resolved")
# "<" and ">" have no place in a prefix, an alert id or a tag; refusing them keeps markup out
# of every page, mail and export that shows these values later, whatever its escaping.
# A lone surrogate (JSON "\ud800") is no character at all: it cannot be stored or hashed.
_BAD_TEXT = re.compile("[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_STATE = re.compile(r"^[A-Z]{2}$")

# field: (kind, maximum length of a text)
_TEXT = {"alert_id": 200, "type": 40, "prefix": 50, "watched_prefix": 50, "muted_by": 100,
         "source": 500, "idempotency_key": 64}
_TIMES = ("first_seen", "last_seen", "resolved_at", "duration", "observed_at", "emitted_at")


class EventInvalid(ValueError):
    """``errors`` maps each bad field to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def parse_event(text: str | bytes | None) -> dict[str, Any]:
    """The JSON object of the form field ``event``; EventInvalid naming ``event`` otherwise."""
    if text in (None, "", b""):
        raise EventInvalid({"event": [_("This field is required.")]})
    if len(text) > MAX_EVENT_BYTES:
        raise EventInvalid({"event": [_("The event is %(size)s bytes; the limit is "
                                        "%(limit)s bytes.") % {"size": len(text),
                                                               "limit": MAX_EVENT_BYTES}]})
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise EventInvalid({"event": [_("Not valid JSON: %(error)s") % {
            "error": str(exc)[:200]}]}) from None
    if not isinstance(data, dict):
        raise EventInvalid({"event": [_("Expected a JSON object.")]})
    return data


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (RFC 8259), and no time or count of an event can be one.
    raise ValueError(f"{name} is not a JSON number")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    # An int is checked against its bounds by the caller; math.isfinite would overflow on one
    # with thousands of digits.
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _text_problem(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return _("At most %(n)s characters.") % {"n": limit}
    if _BAD_TEXT.search(value):
        # the characters go in as a value: a literal "<" in a msgid reads as markup to the
        # catalogue checks (tests/project/test_languages.py)
        return _("Text may not contain the characters %(characters)s, control characters or "
                 "lone surrogates.") % {"characters": "< >"}
    return None


def _check_json(value: Any, path: str, errors: dict[str, list[str]], depth: int = 0) -> None:
    """Free-form tags/details: any JSON, but every string is plain text and nesting shallow."""
    if depth > MAX_DEPTH:
        errors.setdefault(path, []).append(_("Nested too deeply."))
    elif isinstance(value, str):
        problem = _text_problem(value, 2000)
        if problem:
            errors.setdefault(path, []).append(problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}"
            problem = _text_problem(str(key), 100)
            if problem:
                errors.setdefault(path, []).append(problem)
            else:
                _check_json(item, name, errors, depth + 1)
    elif isinstance(value, list):
        if len(value) > MAX_LIST:
            errors.setdefault(path, []).append(_("At most %(n)s items.") % {"n": MAX_LIST})
        for n, item in enumerate(value):
            _check_json(item, f"{path}.{n}", errors, depth + 1)
    elif isinstance(value, float) and not math.isfinite(value):
        errors.setdefault(path, []).append(_("Not a finite number."))


def clean_event(data: dict[str, Any]) -> AlertEvent:
    """The event, checked; EventInvalid naming every bad field."""
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    required = ["event", "alert_id", "type"]
    kind = data.get("event")
    if kind in ROUTING_EVENTS:
        required += ["state", "prefix", "first_seen"]
    if kind == "resolved":
        required.append("resolved_at")
    for name in required:
        if data.get(name) in (None, ""):
            bad(name, _("This field is required."))
    if kind is not None and kind not in EVENT_KINDS:
        bad("event", _("Expected one of: %(kinds)s.") % {"kinds": ", ".join(EVENT_KINDS)})
    for name, limit in _TEXT.items():
        value = data.get(name)
        if value is None or name in errors:
            continue
        if not isinstance(value, str):
            bad(name, _("Expected text."))
        elif problem := _text_problem(value, limit):
            bad(name, problem)
    state = data.get("state")
    if state not in (None, "") and not (isinstance(state, str) and _STATE.match(state)):
        bad("state", _("Expected an ISO 3166 alpha-2 code in capitals, such as “CU”."))
    for name in ("prefix", "watched_prefix"):
        value = data.get(name)
        if isinstance(value, str) and value and name not in errors:
            try:
                parse_prefix(value, strict=False)
            except ValueError:
                bad(name, _("“%(value)s” is not an IP prefix.") % {"value": value})
    asn = data.get("offending_asn")
    if asn is not None and not (_is_int(asn) and 0 <= asn < 2**32):
        bad("offending_asn", _("Expected an AS number (0 to 4294967295)."))
    for name in ("legitimate_origins", "as_set"):
        value = data.get(name)
        if value is None:
            continue
        if not (isinstance(value, list) and len(value) <= MAX_LIST
                and all(_is_int(a) and 0 <= a < 2**32 for a in value)):
            bad(name, _("Expected a list of AS numbers."))
    for name in _TIMES:
        value = data.get(name)
        if value is not None and not (_is_number(value) and 0 <= value < MAX_TIME):
            bad(name, _("Expected a number of seconds (Unix time)."))
    peers = data.get("peers", 0)
    if not (_is_int(peers) and 0 <= peers < 10**9):
        bad("peers", _("Expected a whole number, zero or more."))
    for name, limit in (("collectors", 200), ("example_paths", 2000)):
        value = data.get(name, [])
        if not (isinstance(value, list) and len(value) <= MAX_LIST
                and all(isinstance(v, str) for v in value)):
            bad(name, _("Expected a list of texts."))
            continue
        for item in value:
            if problem := _text_problem(item, limit):
                bad(name, problem)
                break
    for name in ("tags", "details"):
        value = data.get(name, {})
        if not isinstance(value, dict):
            bad(name, _("Expected a JSON object."))
        else:
            _check_json(value, name, errors)
    if errors:
        raise EventInvalid(errors)
    known = {k: v for k, v in data.items() if k in AlertEvent.__dataclass_fields__
             and k not in ("samples",) and v is not None}
    known["state"] = (state or "").upper()
    event = AlertEvent.from_dict(known)
    given = data.get("idempotency_key")
    if given and given != event.idempotency_key:
        raise EventInvalid({"idempotency_key": [_(
            "Does not match the event: expected %(key)s (the first 32 hexadecimal digits of "
            "the SHA-256 of “alert_id|event”).") % {
            "key": event.idempotency_key}]})
    return event
