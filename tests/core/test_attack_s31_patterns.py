"""Attack on the schema's NOT_BLANK_PATTERN and comma_list_pattern (core/api/schema.py),
session 31: linear on megabyte inputs, and saying exactly what DRF and the access index's `by`
parsing accept (the schema's 400s are the API's 400s)."""

from __future__ import annotations

import random
import re
import sys
import time

import pytest
from rest_framework import serializers

from sentinelle.core.api.schema import NOT_BLANK_PATTERN, comma_list_pattern
from sentinelle.observatory.access_index import DIMENSIONS

BY = comma_list_pattern(DIMENSIONS)
MB = 1_000_000
HOSTILE = {
    "spaces then NUL": " " * MB + "\x00", "mixed whitespace then NUL": " \t\u3000\u0085" * (MB // 4)
    + "\x00", "text then NUL": "a" * MB + "\x00", "commas then junk": "," * MB + "x",
    "space-comma pairs then junk": " ," * (MB // 2) + "x",
    "words and wide spaces then junk": ("month, \u3000") * (MB // 9) + "!",
    "word, long padding, comma": ("state" + " " * 50 + ",") * (MB // 56) + "x",
    "words without commas": "state " * (MB // 6) + "x",
}


@pytest.mark.parametrize("pattern", [NOT_BLANK_PATTERN, BY], ids=["not-blank", "by"])
@pytest.mark.parametrize("name", list(HOSTILE))
def test_the_patterns_answer_a_megabyte_in_linear_time(pattern, name):
    compiled = re.compile(pattern)
    started = time.perf_counter()
    compiled.search(HOSTILE[name])
    assert time.perf_counter() - started < 2.0


def test_not_blank_says_what_a_required_drf_text_field_accepts_for_every_character():
    field = serializers.CharField()
    compiled = re.compile(NOT_BLANK_PATTERN)
    disagree = []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        for text in (chr(code), f"  {chr(code)}\t", f"a{chr(code)}"):
            try:
                field.run_validation(text)
                accepted = True
            except serializers.ValidationError:
                accepted = False
            if accepted != bool(compiled.search(text)):
                disagree.append((hex(code), text))
    assert disagree == []


def _view_accepts(raw: str) -> bool:
    # observatory/api/views.py AccessIndexView: split on commas, strip, skip empty parts.
    wanted = [g.strip() for g in raw.split(",") if g.strip()]
    return "\x00" not in raw and all(g in DIMENSIONS for g in wanted)


def test_by_pattern_says_what_the_view_accepts():
    pieces = [*DIMENSIONS, ",", " ", "\u3000", "\u0085", "\t", "x", "State", "\x00", "months",
              "\u200b"]
    rng = random.Random(31)
    compiled = re.compile(BY)
    tried = 0
    for _ in range(20_000):
        raw = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        tried += 1
        assert bool(compiled.search(raw)) == _view_accepts(raw), repr(raw)
    assert tried == 20_000
