"""The ``mrt-dir`` source's tailer (observatory/routing/live/mrt_dir.py), as the live monitor
runs it over a directory a collector writes into: the input is written as ``updates.mrt`` in
two appends (the first half, a poll, the rest, two polls: a compressed input is read once its
size is stable), and every item is consumed. The tailer never raises for a file's content
(framing damage skips the rest of the file, a body that does not decode is counted), so any
exception is a failure; so are a hang and a blown memory cap (a declared length of 4 GiB, a
compression bomb). The state must stay JSON-able.

Seeds: the plain and compressed MRT copies of the ``mrt`` target's corpus (``fuzz/corpus/mrt``)
and the fixtures as shipped."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from pathlib import Path

from fuzz.harness import Target
from sentinelle.observatory.routing.live.events import SourceItem
from sentinelle.observatory.routing.live.mrt_dir import MrtDirTailer

_DIR: Path | None = None  # one scratch directory per fuzzing child process


async def _consume(item: SourceItem) -> None:
    if item.kind == "element":
        assert item.element is not None


async def _scenario(directory: Path, data: bytes) -> None:
    path = directory / "updates.mrt"
    half = len(data) // 2
    path.write_bytes(data[:half])
    tailer = MrtDirTailer(directory, source=f"mrt-dir:{directory}")
    await tailer.poll(_consume)
    with path.open("ab") as fp:
        fp.write(data[half:])
    await tailer.poll(_consume)
    await tailer.poll(_consume)
    json.dumps(tailer.state)


def run(data: bytes) -> None:
    global _DIR
    if _DIR is None or not _DIR.is_dir():
        _DIR = Path(tempfile.mkdtemp(prefix="fuzz-mrt-dir-"))
    for child in _DIR.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()
    asyncio.run(_scenario(_DIR, data))


TARGET = Target(
    name="mrt_dir",
    seeds=("fuzz/corpus/mrt/*", "tests/fixtures/bgp/mrt/*/*[!t]"),
    run=run,
    refusals=(),
    kind="binary",
)
