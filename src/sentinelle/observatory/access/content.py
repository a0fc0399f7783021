"""Content-Encoding: the body as a browser would see it, decoded before it is judged.

The probe asks for ``gzip, deflate, br`` as browsers do (some CDNs answer a client that does
not differently), so the fingerprints and the verdict must see the decoded page. The decoded
size is held to ``max_body`` while decoding: a decompression bomb (10 MB of zeros in a few KB
of gzip) stops at the cap, never fills memory. A body that does not decode is a named failure
(``ContentDecodingError``), never an exception out of the measurement.

A body cut at ``max_body`` before decoding (``complete=False``) decodes as far as it goes: the
end of the compressed stream is missing, which is not the server's fault.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from .failures import ContentDecodingError

__all__ = ["ACCEPT_ENCODING", "Decoded", "codings", "decode_body"]

ACCEPT_ENCODING = "gzip, deflate, br"
_CHUNK = 64 * 1024
# More layers than a server would ever stack is a hostile answer, not a page.
MAX_CODINGS = 4


@dataclass
class Decoded:
    body: bytes
    truncated: bool            # the decoded body reached the cap
    codings: list[str]         # as applied by the server, in order (we undo them backwards)


def codings(header: str | None) -> list[str]:
    """The codings named by a Content-Encoding value, without ``identity``."""
    if not header:
        return []
    names = [part.strip().lower() for part in header.split(",")]
    return [name for name in names if name and name != "identity"]


def decode_body(data: bytes, header: str | None, cap: int, *, complete: bool = True) -> Decoded:
    """Undo the ``Content-Encoding`` ``header`` on ``data``, output held to ``cap`` bytes.
    Raises ContentDecodingError naming the coding and the problem."""
    applied = codings(header)
    if len(applied) > MAX_CODINGS:
        raise ContentDecodingError(f"{len(applied)} content codings stacked (at most "
                                   f"{MAX_CODINGS})")
    body, truncated = data, False
    for index, coding in enumerate(reversed(applied)):
        last = index == len(applied) - 1
        # Inner layers are cut at the cap too: the outer layer holds the rest.
        body, cut = _decode_one(coding, body, cap, complete=complete and not truncated)
        truncated = truncated or cut
        if cut and not last:
            complete = False
    return Decoded(body=body, truncated=truncated, codings=applied)


def _decode_one(coding: str, data: bytes, cap: int, *, complete: bool) -> tuple[bytes, bool]:
    if coding in ("gzip", "x-gzip"):
        return _zlib(coding, data, cap, 16 + zlib.MAX_WBITS, complete)
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped; some servers send raw deflate: take either, as browsers do.
        try:
            return _zlib(coding, data, cap, zlib.MAX_WBITS, complete)
        except ContentDecodingError:
            return _zlib(coding, data, cap, -zlib.MAX_WBITS, complete)
    if coding == "br":
        return _brotli(data, cap, complete)
    raise ContentDecodingError(f"unsupported content coding {coding[:40]!r}")


def _zlib(coding: str, data: bytes, cap: int, wbits: int, complete: bool) -> tuple[bytes, bool]:
    out: list[bytes] = []
    size = 0
    pending = data
    try:
        # Concatenated gzip members are legal (RFC 1952): decoded in turn, in a loop (a body of
        # thousands of tiny members must not become thousands of nested calls).
        while True:
            decoder = zlib.decompressobj(wbits)
            while pending:
                # max_length bounds each step's output: memory stays at the cap whatever the
                # ratio.
                chunk = decoder.decompress(pending, min(_CHUNK, cap - size + 1))
                pending = decoder.unconsumed_tail
                out.append(chunk)
                size += len(chunk)
                if size > cap:
                    return b"".join(out)[:cap], True
                if decoder.eof:
                    break
                if not chunk and not pending:
                    break
            if not (decoder.eof and decoder.unused_data and coding != "deflate"):
                break
            pending = decoder.unused_data
    except zlib.error as exc:
        raise ContentDecodingError(f"{coding}: {exc}") from None
    if complete and not decoder.eof:
        raise ContentDecodingError(f"{coding}: compressed stream ends early")
    return b"".join(out), False


def _brotli(data: bytes, cap: int, complete: bool) -> tuple[bytes, bool]:
    try:
        import brotli
    except ImportError:  # pragma: no cover - a dependency; named if a packager dropped it
        raise ContentDecodingError("br: the brotli library is not installed") from None
    decoder = brotli.Decompressor()
    out: list[bytes] = []
    size = 0
    try:
        chunk = decoder.process(data, output_buffer_limit=min(_CHUNK, cap + 1))
        while True:
            out.append(chunk)
            size += len(chunk)
            if size > cap:
                return b"".join(out)[:cap], True
            if decoder.is_finished() or decoder.can_accept_more_data():
                break
            chunk = decoder.process(b"", output_buffer_limit=min(_CHUNK, cap - size + 1))
    except brotli.error as exc:
        raise ContentDecodingError(f"br: {exc or 'corrupt stream'}") from None
    if complete and not decoder.is_finished():
        raise ContentDecodingError("br: compressed stream ends early")
    return b"".join(out), False
