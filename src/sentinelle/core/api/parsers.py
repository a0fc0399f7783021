"""The API's JSON parser: DRF's, with the limits a hostile body needs (issue 20).

DRF's own parser lets a 1,000-deep body through as a RecursionError, passes NaN, Infinity,
1e400 and lone surrogates on to the serializers (and so to the database: a 500), and reads
any length. Here every such body is a 400 (413 for the size) naming what is wrong."""

from __future__ import annotations

import json
import math
import re

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import exceptions, parsers

from sentinelle.core.api.errors import PayloadTooLarge

# Deeper than any document the API takes (a report is 3 levels, a STIX object a dozen).
MAX_DEPTH = 64
# Python's own limit for int(text) (sys.get_int_max_str_digits); longer is no count anyway.
MAX_INT_DIGITS = 4300
_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate_message() -> str:  # noqa: N802 - a constant, translated when it is raised
    # Translators: a "lone surrogate" is an escape such as \ud800 that no character follows.
    return _("a lone surrogate (half of a UTF-16 pair) is no Unicode character.")


def _int(text: str) -> int | float:
    # Too long for int(): infinity, which check() refuses naming its field, as it refuses
    # NaN and Infinity (no JSON numbers, which json.loads reads as floats: parse_constant).
    return int(text) if len(text) <= MAX_INT_DIGITS else math.inf


def _where(path: list) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "$"


def check(data: object) -> None:
    """Refuse nesting deeper than MAX_DEPTH, non-finite numbers and lone surrogates, naming
    the top-level field (a ValidationError, as a serializer's) with the exact path. Iterative:
    a deep body must not exhaust the stack here either."""
    stack: list[tuple[object, int, list]] = [(data, 1, [])]
    while stack:
        value, depth, path = stack.pop()
        problem = None
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise exceptions.ParseError(_("The JSON body is nested more than %(n)s levels "
                                              "deep.") % {"n": MAX_DEPTH})
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _SURROGATE.search(key):
                    problem = _surrogate_message()
                    break
                stack.append((item, depth + 1, [*path, key]))
        elif isinstance(value, float) and not math.isfinite(value):
            problem = _("the number is out of range.")
        elif isinstance(value, str) and _SURROGATE.search(value):
            problem = _surrogate_message()
        if problem is not None:
            field = str(path[0]) if path else "non_field_errors"
            raise exceptions.ValidationError({field: [f"{_where(path)}: {problem}"]})


class JSONParser(parsers.JSONParser):
    """application/json for every API view (settings.REST_FRAMEWORK)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(_("The body is larger than %(n)s bytes.") % {"n": limit})
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError(_("The body is not %(encoding)s text.") % {
                "encoding": encoding}) from None
        try:
            data = json.loads(text, parse_constant=float, parse_int=_int)
        except RecursionError:
            raise exceptions.ParseError(_("The JSON body is nested more than %(n)s levels "
                                          "deep.") % {"n": MAX_DEPTH}) from None
        except ValueError as exc:
            raise exceptions.ParseError(_("JSON parse error: %(reason)s") % {
                "reason": exc}) from None
        check(data)
        return data
