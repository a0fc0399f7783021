"""MRT files (observatory/routing/mrt*.py, bgp_attributes.py), as ``routing dump`` and
``routing scan`` read them: every record rendered as ``bgpdump -m`` lines, and every element
the detectors would see. The reader never refuses a file (damage is counted in ReadStats), so
any exception at all is a failure; so are a hang and a blown memory cap (a compression bomb).

The compiled fast paths (``_mrt_accel``, when it is built) read the same bytes: the lines of
``routing dump`` and the elements of ``read_elements`` (``routing scan``), with their
ReadStats, must be those of the pure-Python reader, or the input is a failure
(``AssertionError``) saved as a regression seed like any other.

Seeds: the fixtures as shipped (gzip, bzip2, plain) and plain copies of them in
``fuzz/corpus/mrt/``, so byte mutations reach the framing and record decoders rather than
only the decompressor."""

from __future__ import annotations

import io

from fuzz.harness import Target
from sentinelle.observatory.routing import bgp_attributes, mrt_accel
from sentinelle.observatory.routing.bgpdump_format import _write_fast, write_bgpdump_py
from sentinelle.observatory.routing.mrt import ReadStats, read_elements
from sentinelle.observatory.routing.mrt_framing import open_input
from sentinelle.observatory.routing.mrt_records import Context


def _clear_caches() -> None:
    for cache in bgp_attributes.attr_caches.values():
        cache.clear()


def _compiled(data: bytes) -> tuple[str, int, ReadStats]:
    out, stats = io.StringIO(), ReadStats()
    fp, name, _close = open_input(io.BytesIO(data))
    ctx = Context(stats, name)
    n = _write_fast(mrt_accel._mrt_accel.Renderer(ctx), ctx, fp, out, True)  # type: ignore[union-attr]
    return out.getvalue(), n, stats


def run(data: bytes) -> None:
    _clear_caches()
    out, stats = io.StringIO(), ReadStats()
    n = write_bgpdump_py(io.BytesIO(data), out, stats, extended=True)
    _clear_caches()
    el_stats = ReadStats()
    elements = list(read_elements(io.BytesIO(data), stats=el_stats, compiled=False))
    if mrt_accel.available():
        _clear_caches()  # both runs from the same (empty) caches: the warnings depend on them
        fast = _compiled(data)
        if fast != (out.getvalue(), n, stats):
            raise AssertionError("the compiled MRT reader differs from the Python reader: "
                                 + ("lines" if fast[0] != out.getvalue() else "ReadStats"))
        _clear_caches()
        fast_stats = ReadStats()
        fast_elements = list(read_elements(io.BytesIO(data), stats=fast_stats, compiled=True))
        if (fast_elements, fast_stats) != (elements, el_stats):
            raise AssertionError("the compiled element path differs from the Python reader: "
                                 + ("elements" if fast_elements != elements else "ReadStats"))


TARGET = Target(
    name="mrt",
    seeds=("tests/fixtures/bgp/mrt/*/*[!t]",),
    run=run,
    refusals=(),
    kind="binary",
)
