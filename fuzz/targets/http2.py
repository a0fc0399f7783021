"""The probe's HTTP/2 client (observatory/access/http2.py): the bytes a hostile server sends
after ALPN ``h2`` was agreed, fed to ``h2_exchange`` as the whole answer. It never raises: every
input ends as a response or a named failure in the exchange (``http2_*``, ``eof_error``), the
body at most the cap (64 KiB here), and the frame guard refuses an over-long frame before
anything is buffered.

Seeds in ``fuzz/corpus/http2/``: a server's answers recorded from the ``h2`` library (a page,
a page in several DATA frames with a trailer, a 403, a stream reset, a GOAWAY)."""

from __future__ import annotations

import asyncio

from fuzz.harness import Target
from sentinelle.observatory.access.http2 import h2_exchange
from sentinelle.observatory.access.http_client import Exchange

CAP = 64 * 1024
REQUEST = [(":method", "GET"), (":authority", "site.test"), (":scheme", "https"),
           (":path", "/"), ("accept-encoding", "gzip, deflate, br")]


class _Writer:
    def write(self, data: bytes) -> None:
        pass

    async def drain(self) -> None:
        pass


async def _exchange(data: bytes) -> Exchange:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await h2_exchange(reader, _Writer(), REQUEST, timeout=5, max_body=CAP,
                             result=Exchange())


def run(data: bytes) -> None:
    result = asyncio.run(_exchange(data))
    assert len(result.body) <= CAP
    assert result.failure is None or isinstance(result.failure, str)
    assert result.failure is not None or result.code, "no answer and no failure"


TARGET = Target(
    name="http2",
    seeds=(),
    run=run,
    refusals=(),
    kind="binary",
)
