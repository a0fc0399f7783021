"""BMP streams (observatory/routing/bmp.py), as the BMP listener decodes a router's
connection: every message framed, checked and decoded into elements and events. A malformed
message is refused with `BmpError` (the listener then closes the connection); any other
exception, a hang or a memory blow-up (a declared length of 4 GiB) is a failure.

Seeds in ``fuzz/corpus/bmp/``: a whole session with every message type, IPv4 and IPv6 routes
and an ADD-PATH peer, and a 2-byte AS route (written by
``python -m tests.observatory.routing.bmp_bytes``)."""

from __future__ import annotations

import io

from fuzz.harness import Target
from sentinelle.observatory.routing.bmp import BmpError, BmpSession, read_stream


def run(data: bytes) -> None:
    session = BmpSession("fuzz")
    for _item in read_stream(io.BytesIO(data), session=session):
        pass


TARGET = Target(
    name="bmp",
    seeds=(),
    run=run,
    refusals=(BmpError,),
    kind="binary",
)
