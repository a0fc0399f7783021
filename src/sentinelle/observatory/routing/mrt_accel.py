"""Which MRT decoder `routing dump` and `read_elements` use: the compiled fast path or the
pure-Python reader.

`_mrt_accel` (Cython, built by setup.py when a C compiler is there) renders the ordinary
BGP4MP(_ET) UPDATE and TABLE_DUMP_V2 RIB records straight into `bgpdump -m` lines
(`renderer`), or into the `Element`s `mrt.read_elements` yields (`element_reader`, what
`routing scan` reads); every other record, and every
record it finds anything unusual in, goes to the pure-Python decoders (`mrt_records`), which
remain the definition of the output. Without the compiled module the Python reader is used
silently; `SENTINELLE_MRT_ACCEL=0` forces it (the tests and the benchmark compare both).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

try:
    from . import _mrt_accel
except ImportError:  # not built (no C compiler at install): the Python reader does it all
    _mrt_accel = None

__all__ = ["ENV", "available", "element_reader", "enabled", "renderer", "v4_prefix_code"]

ENV = "SENTINELLE_MRT_ACCEL"


def available() -> bool:
    """Whether the compiled module is importable."""
    return _mrt_accel is not None


def enabled() -> bool:
    """Whether the compiled path will be used: importable and not turned off by ENV."""
    return _mrt_accel is not None and os.environ.get(ENV, "1").strip().lower() not in (
        "0", "false", "no", "off")


def renderer(ctx: Any) -> Any | None:
    """A `_mrt_accel.Renderer` for one file's decoding Context, or None for the Python path."""
    return _mrt_accel.Renderer(ctx) if enabled() else None  # type: ignore[union-attr]


def element_reader(ctx: Any, collector: str, source: str, compiled: bool | None = None
                   ) -> Any | None:
    """A `_mrt_accel.ElementReader` for one file's decoding Context (its elements carry
    `collector` and `source`), or None for the Python path: as `enabled()` says, or as
    `compiled` says when given (the fuzz target compares both whatever the environment)."""
    if not (enabled() if compiled is None else compiled and available()):
        return None
    return _mrt_accel.ElementReader(ctx, collector, source)  # type: ignore[union-attr]


def v4_prefix_code() -> Callable[[object], int] | None:
    """`_mrt_accel.v4_prefix_code` (canonical IPv4 prefix text -> (address << 6) | length,
    else -1) for `Scanner.feed_all`, or None for its Python text parsing."""
    return _mrt_accel.v4_prefix_code if enabled() else None  # type: ignore[union-attr]
