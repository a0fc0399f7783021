"""Text printed to an operator's terminal by a command, made safe to print."""

from __future__ import annotations

import unicodedata

__all__ = ["printable"]


def printable(text: str, *, escape_backslash: bool = True) -> str:
    """`text` with what a terminal would act on escaped: a file name or an imported file's text
    is anyone's to choose (a newline would add a forged line to a report, a carriage return or
    an escape sequence draw over one, a right-to-left override reverse it). Backslashes are
    doubled so that an escape cannot be forged either (``escape_backslash=False`` where the text
    quotes code, such as an import's reasons quoting a regular expression, and reading it
    matters more); a byte that is not UTF-8 (a name os.listdir decoded with surrogateescape)
    shows as \\xNN."""
    out = []
    for char in text:
        code = ord(char)
        if char == "\\" and escape_backslash:
            out.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:   # a byte os.listdir could not decode (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            # Past U+FFFF, \U and eight digits, as Python writes it: "\ue0001" is U+E000, "1".
            # \xNN is kept for a byte that is not UTF-8 (above) and the C0 controls and DEL:
            # a C1 control (U+0080-U+009F) is a character, written \u0085, so that a file name
            # holding the byte 0x85 and one holding U+0085 do not look alike.
            out.append(f"\\x{code:02x}" if code < 0x80 else f"\\u{code:04x}" if code <= 0xFFFF
                       else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out)
