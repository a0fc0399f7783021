"""The probe's decoding of a server's answer (observatory/access/content.py and cookies.py): a
hostile server chooses the body bytes and labels them gzip, deflate, br or a stack of them; the
decoder must answer the body (at most the cap, 1 MiB here) or ``ContentDecodingError`` (the
named failure ``http_content_decoding_error``), whatever the bytes, within the memory cap. The
same bytes, split into lines, are Set-Cookie headers for the measurement's cookie jar, whose
Cookie header must stay one line.

Seeds in ``fuzz/corpus/content/``: a page gzipped, brotli'd, zlib- and raw-deflated, a gzip bomb
(10 MB of zeros), Set-Cookie lines."""

from __future__ import annotations

from urllib.parse import urlsplit

from fuzz.harness import Target
from sentinelle.observatory.access.content import decode_body
from sentinelle.observatory.access.cookies import CookieJar
from sentinelle.observatory.access.failures import ContentDecodingError

CAP = 1024 * 1024
CODINGS = ("gzip", "deflate", "br", "gzip, br", "x-gzip, deflate", "zstd")


def run(data: bytes) -> None:
    refused: ContentDecodingError | None = None
    decoded_any = False
    for coding in CODINGS:
        for complete in (True, False):
            try:
                decoded = decode_body(data, coding, CAP, complete=complete)
            except ContentDecodingError as exc:
                refused = refused or exc
                continue
            assert len(decoded.body) <= CAP, (coding, len(decoded.body))
            decoded_any = True
    jar = CookieJar()
    target = urlsplit("https://www.site.test/a/b")
    jar.store(target, [("Set-Cookie", line) for line in
                       data.decode("latin-1").splitlines()[:200]])
    header = jar.header(target)
    assert header is None or ("\r" not in header and "\n" not in header), header
    if refused is not None and not decoded_any:
        raise refused


TARGET = Target(
    name="content",
    seeds=(),
    run=run,
    refusals=(ContentDecodingError,),
    kind="binary",
)
