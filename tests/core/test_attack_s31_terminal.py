"""Attack on core/terminal.py printable(), session 31: every code point of every Unicode
category, through the escaping `sentinelle files check` and `sentinelle import` print."""

from __future__ import annotations

import ast
import sys
import unicodedata

import pytest

from sentinelle.core.terminal import printable

# What a terminal acts on: C0, DEL and C1 controls; what reorders or hides a line: format
# characters (bidi overrides and isolates, zero-width joiners), line and paragraph separators.
ACTED_ON = ("Cc", "Cf", "Zl", "Zp")


def test_nothing_a_terminal_acts_on_is_left_in_any_category():
    left = [code for code in range(sys.maxunicode + 1)
            if unicodedata.category(chr(code)) in ACTED_ON and chr(code) in printable(chr(code))]
    assert left == []
    for code in [*range(0x20), 0x7F]:
        assert printable(chr(code)) == f"\\x{code:02x}"
    for code in range(0x80, 0xA0):       # C1 controls: \u, so that \x stays for raw bytes
        assert printable(chr(code)) == f"\\u{code:04x}"


@pytest.mark.parametrize("escape_backslash", [True, False])
def test_what_is_left_unescaped_is_printable_and_the_escapes_read_back(escape_backslash):
    # Every escape printable() writes is one Python reads back to the same character, so an
    # operator can copy it: past U+FFFF that needs \U and eight digits.
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF:
            continue
        shown = printable(char, escape_backslash=escape_backslash)
        if shown == char:
            assert unicodedata.category(char) not in (*ACTED_ON, "Cs")
        elif char != "\\":
            assert ast.literal_eval(f'"{shown}"') == char, (hex(code), shown)


def test_a_format_character_past_the_bmp_is_not_read_as_two_characters():
    assert printable("\U000e0001x") == "\\U000e0001x"
    assert printable("\U0001d173") == "\\U0001d173"


def test_a_raw_byte_and_the_c1_control_of_the_same_value_print_differently():
    raw = b"\x85".decode("utf-8", "surrogateescape")
    assert printable(raw) != printable("\x85")
