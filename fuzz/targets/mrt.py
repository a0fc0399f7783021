"""MRT files (observatory/routing/mrt*.py, bgp_attributes.py), as ``routing dump`` and
``routing scan`` read them: every record rendered as ``bgpdump -m`` lines, and every element
the detectors would see. The reader never refuses a file (damage is counted in ReadStats), so
any exception at all is a failure; so are a hang and a blown memory cap (a compression bomb).

Seeds: the fixtures as shipped (gzip, bzip2, plain) and plain copies of them in
``fuzz/corpus/mrt/``, so byte mutations reach the framing and record decoders rather than
only the decompressor."""

from __future__ import annotations

import io

from fuzz.harness import Target
from sentinelle.observatory.routing.bgpdump_format import write_bgpdump
from sentinelle.observatory.routing.mrt import ReadStats, read_elements


class _Discard:
    """An output that keeps nothing: the lines are rendered, not stored."""

    def write(self, text: str) -> int:
        return len(text)


def run(data: bytes) -> None:
    write_bgpdump(io.BytesIO(data), _Discard(), ReadStats(), extended=True)  # type: ignore[arg-type]
    for _element in read_elements(io.BytesIO(data), stats=ReadStats()):
        pass


TARGET = Target(
    name="mrt",
    seeds=("tests/fixtures/bgp/mrt/*/*[!t]",),
    run=run,
    refusals=(),
    kind="binary",
)
