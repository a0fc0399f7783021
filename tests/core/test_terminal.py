"""What a command prints of text anyone could choose (a file name, an imported file's words)
cannot drive the operator's terminal or forge a line of its report."""

from sentinelle.core.terminal import printable


def test_controls_line_breaks_and_bidi_overrides_are_shown_escaped():
    shown = printable("a\x1b[2J\nFORGED\r\u202eevil\u2028\x85")
    assert "\x1b" not in shown and "\n" not in shown and "\r" not in shown
    assert shown == "a\\x1b[2J\\x0aFORGED\\x0d\\u202eevil\\u2028\\u0085"


def test_bytes_that_are_not_utf8_show_as_their_value():
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")
    assert printable(name) == "caf\\xe9.txt"


def test_backslashes_are_doubled_unless_the_text_quotes_code():
    assert printable("\\x1b") == "\\\\x1b"          # a forged escape is told from a real one
    assert printable("\\d{2}", escape_backslash=False) == "\\d{2}"
    assert printable("\x1b", escape_backslash=False) == "\\x1b"


def test_ordinary_text_in_any_script_is_unchanged():
    text = "Rapport de l’État — تقرير — 报告 — отчёт, tab\tand all"
    assert printable(text) == text.replace("\t", "\\x09")
