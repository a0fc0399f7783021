"""Attack on `sentinelle import`'s terminal output (core/terminal.py printable()), session 31:
the rejections were escaped, but a file refused as a whole raised a CommandError quoting the
file (a CSV's unknown column, an IODEF root element), which Django prints raw to stderr: an
escape sequence in a header cell drove the operator's terminal."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize("cell", ["Title\x1b]0;owned\x07", "Ti\x1b[2Jtle", "a\u202eb",
                                  "x\r\nCommandError: forged"])
def test_a_refused_csv_header_is_shown_escaped(alice, tmp_path, cell):
    path = tmp_path / "reports.csv"
    quoted = '"' + cell.replace('"', '""') + '"'
    path.write_text(f"title,{quoted}\nA report,x\n", encoding="utf-8")
    with pytest.raises(CommandError) as refused:
        call_command("import", str(path), "--user", alice.username, "--format", "csv")
    message = str(refused.value)
    assert "unknown column" in message
    for acted_on in ("\x1b", "\x07", "\r", "\n", "\u202e"):
        assert acted_on not in message
