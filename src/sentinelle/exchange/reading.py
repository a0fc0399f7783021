"""Open an input file as a stream of records, choosing or checking its format."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from sentinelle.exchange import formats
from sentinelle.exchange.records import FormatError

HEAD_BYTES = 64 * 1024


def open_records(stream: BinaryIO, fmt: str = "auto", name: str = "") -> tuple[str, Iterator]:
    """Return (format, records). The stream must be seekable (a file, a stored upload)."""
    head = stream.read(HEAD_BYTES)
    stream.seek(0)
    if not head:
        raise FormatError("the file is empty")
    looks_like = formats.detect(head, name)
    if fmt == "auto":
        if looks_like is None:
            known = ", ".join(formats.FORMAT_MODULES)
            raise FormatError(f"cannot tell the format of this file; give one of: {known}")
        fmt = looks_like
    try:
        module = formats.get(fmt)
    except KeyError as exc:
        raise FormatError(str(exc.args[0])) from None
    if not module.sniff(head, name):
        hint = f" It looks like {looks_like}." if looks_like else ""
        raise FormatError(f"this file is not {fmt}.{hint}")
    return fmt, module.parse(stream, name=name)
